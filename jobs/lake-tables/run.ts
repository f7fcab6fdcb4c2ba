import type { JobContext } from '../lib/job.js';
import { TrinoClient } from '../lib/trino.js';
import type { LakeTablesOptions } from './command.js';
import { fingerprintComment, ident, lakeTableDefinitions, literal, syncPartitionsSql, type LakeTarget } from './ddl.js';

export interface LakeTablesResult {
  created: string[];
  replaced: string[];
  unchanged: string[];
  /** Days registered per table after the sync. */
  partitions: Record<string, number>;
}

/**
 * Declares (or re-declares, when the contract or the bucket changed) each curated table, then
 * syncs its partitions with the days present in the bucket: a new day appears, a deleted one goes.
 */
export async function declareLakeTables(trino: TrinoClient, target: LakeTarget): Promise<LakeTablesResult> {
  const result: LakeTablesResult = { created: [], replaced: [], unchanged: [], partitions: {} };
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
  return result;
}

export async function runLakeTables(options: LakeTablesOptions, ctx: JobContext): Promise<void> {
  const target = { catalog: options.lakeCatalog, schema: options.lakeSchema, bucket: options.s3Bucket };
  const result = await declareLakeTables(new TrinoClient(options), target);
  ctx.logger.info(`lake tables declared in ${target.catalog}.${target.schema}`, { trino: options.trinoUrl, ...result });
}
