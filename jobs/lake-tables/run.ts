import { CURATED_TABLE_NAMES } from '../lib/curated.js';
import { PinpipeError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import type { LakeTablesOptions } from './command.js';
import { ident, isMissingObject, literal, tablesWithoutDay, TrinoClient } from '../lib/trino.js';
import { fingerprintComment, lakeTableDefinitions, lakeViewDefinitions, STREAM_WINDOW_TABLES, syncPartitionsSql, type LakeTarget, type StreamTarget } from './ddl.js';

export interface LakeTablesResult {
  created: string[];
  replaced: string[];
  unchanged: string[];
  /** Days registered per table after the sync. */
  partitions: Record<string, number>;
  views: string[];
  /** Views declared with the lake's side only: their stream-agg table does not exist yet. */
  viewsWithoutStream: string[];
}

/**
 * Declares (or re-declares, when the contract or the bucket changed) each curated table, then
 * syncs its partitions with the days present in the bucket: a new day appears, a deleted one
 * goes. Then the views over them, replaced every time (a view holds no data).
 */
export async function declareLakeTables(trino: TrinoClient, target: LakeTarget, stream: StreamTarget): Promise<LakeTablesResult> {
  const result: LakeTablesResult = { created: [], replaced: [], unchanged: [], partitions: {}, views: [], viewsWithoutStream: [] };
  await trino.query(`CREATE SCHEMA IF NOT EXISTS ${ident(target.catalog)}.${ident(target.schema)}`);
  const existing = new Map(
    (
      await trino.query<{ table_name: string; comment: string | null }>(
        `SELECT table_name, comment FROM system.metadata.table_comments WHERE catalog_name = ${literal(target.catalog)} AND schema_name = ${literal(target.schema)}`,
      )
    ).map((r) => [r.table_name, r.comment]),
  );
  for (const definition of lakeTableDefinitions(target)) {
    if (!existing.has(definition.table)) {
      await trino.query(definition.create);
      result.created.push(definition.table);
    } else if (existing.get(definition.table) !== fingerprintComment(definition.fingerprint)) {
      // External tables: dropping one forgets its definition and partitions, never its files.
      await trino.query(`DROP TABLE ${definition.name}`);
      await trino.query(definition.create);
      result.replaced.push(definition.table);
    } else {
      result.unchanged.push(definition.table);
    }
    await trino.query(syncPartitionsSql(target, definition.table));
    const [count] = await trino.query<{ n: number }>(`SELECT count(*) AS n FROM ${ident(target.catalog)}.${ident(target.schema)}.${ident(`${definition.table}$partitions`)}`);
    result.partitions[definition.table] = count?.n ?? 0;
  }
  const streamTables = await existingStreamTables(trino, stream);
  for (const view of lakeViewDefinitions(target, stream, streamTables)) {
    await trino.query(view.create);
    result.views.push(view.view);
    if (view.streamSide === false) result.viewsWithoutStream.push(view.view);
  }
  return result;
}

/** Which of stream-agg's window tables exist in the stream catalog's schema (none when the catalog or schema is missing). */
async function existingStreamTables(trino: TrinoClient, stream: StreamTarget): Promise<Set<string>> {
  try {
    const rows = await trino.query<{ table_name: string }>(
      `SELECT table_name FROM ${ident(stream.catalog)}.information_schema.tables WHERE table_schema = ${literal(stream.schema)} AND table_name IN (${STREAM_WINDOW_TABLES.map(literal).join(', ')})`,
    );
    return new Set(rows.map((r) => r.table_name));
  } catch (error) {
    if (isMissingObject(error)) return new Set();
    throw error;
  }
}

/** Drops every view and table of the schema, then the schema: the tables' files stay (they are external). */
export async function dropLakeSchema(trino: TrinoClient, target: Pick<LakeTarget, 'catalog' | 'schema'>): Promise<void> {
  const schema = `${ident(target.catalog)}.${ident(target.schema)}`;
  const objects = await trino.query<{ name: string; kind: string }>(
    `SELECT table_name AS name, table_type AS kind FROM ${ident(target.catalog)}.information_schema.tables WHERE table_schema = ${literal(target.schema)} ORDER BY table_type DESC`,
  );
  // Views first (ORDER BY puts VIEW before BASE TABLE): they read the tables.
  for (const { name, kind } of objects) await trino.query(`DROP ${kind === 'VIEW' ? 'VIEW' : 'TABLE'} IF EXISTS ${schema}.${ident(name)}`);
  await trino.query(`DROP SCHEMA IF EXISTS ${schema}`);
}

export async function runLakeTables(options: LakeTablesOptions, ctx: JobContext): Promise<void> {
  const target = { catalog: options.lakeCatalog, schema: options.lakeSchema, bucket: options.s3Bucket };
  const trino = new TrinoClient(options);
  const result = await declareLakeTables(trino, target, { catalog: options.streamCatalog, schema: options.streamSchema, groupId: options.streamGroupId });
  ctx.logger.info(`lake tables declared in ${target.catalog}.${target.schema}`, { trino: options.trinoUrl, ...result });
  if (result.viewsWithoutStream.length > 0) {
    ctx.logger.warn(`${options.streamCatalog}.${options.streamSchema} has no stream-agg windows yet: ${result.viewsWithoutStream.join(', ')} show the lake's days only until lake-tables runs again after stream-agg has started`, {
      views: result.viewsWithoutStream,
    });
  }
  if (options.date !== undefined) await requireDay(trino, target, options.date);
}

/** Day D is a partition of every curated table, i.e. daily-transform published it. */
async function requireDay(trino: TrinoClient, target: LakeTarget, date: string): Promise<void> {
  const missing = await tablesWithoutDay(trino, target.catalog, target.schema, CURATED_TABLE_NAMES, date);
  if (missing.length > 0) {
    throw new PinpipeError('PINPIPE_INPUT_NOT_FOUND', `day ${date} is not in the lake: no partition dt=${date} of ${missing.join(', ')} under s3://${target.bucket}/curated/ (has daily-transform published it?)`);
  }
}
