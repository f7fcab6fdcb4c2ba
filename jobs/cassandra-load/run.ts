import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import type { CassandraOptions } from '../lib/config.js';
import { DependencyError, InterruptedError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import type { Logger } from '../lib/logger.js';
import { pushBatchMetrics } from '../lib/metrics.js';
import { createS3Client } from '../lib/s3.js';
import { openDuckDb } from '../lib/duckdb.js';
import { curatedObjectKey } from '../lib/curated.js';
import { quote } from '../lib/duckdb.js';
import { stageObjects } from '../lib/stage.js';
import type { CassandraLoadOptions } from './command.js';
import { loadMigrations, migrate } from './migrations.js';
import { parseReplication, replicationCql } from './options.js';
import { RowBatcher, estimateBytes } from './batches.js';
import { BoundedWriter, withRetry } from './retry.js';
import { jsonRows, paramConverter, partitionKeyOf, replicaSetName, singleReplicaSet, type JsonRows } from './rows.js';
import { checkDayReady } from './source.js';
import { batchLimitsFor, readBatchThresholds } from './thresholds.js';
import { LOAD_TARGETS, SOURCE_TABLES, type LoadTarget } from './targets.js';

type DuckDbConnection = Awaited<ReturnType<typeof openDuckDb>>['connection'];

export interface LoadSummary {
  date: string;
  keyspace: string;
  rows: Record<string, number>;
  errors: Record<string, number>;
  /** Seconds spent on each table, and on checks, staging and schema before the first. */
  tableSeconds: Record<string, number>;
  retries: number;
  seconds: number;
}

function client(options: CassandraOptions, keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    contactPoints: options.cassandraContactPoints,
    localDataCenter: options.cassandraLocalDc,
    ...(keyspace ? { keyspace } : {}),
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
    // BIGINT values come from DuckDB as decimal text (JSON rows) or JavaScript bigint; the
    // driver's bigint encoder takes both, without loss.
    encoding: { useBigIntAsLong: true },
  });
}

/** Creates the keyspace with the configured replication if it does not exist yet. */
export async function ensureKeyspace(options: CassandraOptions, replication: string, logger: Logger): Promise<void> {
  const admin = client(options);
  try {
    await admin.connect();
    await admin.execute(`CREATE KEYSPACE IF NOT EXISTS ${options.cassandraKeyspace} WITH replication = ${replicationCql(parseReplication(replication))}`);
    logger.debug('keyspace ready', { keyspace: options.cassandraKeyspace });
  } catch (error) {
    throw new DependencyError(`could not create Cassandra keyspace ${options.cassandraKeyspace}`, { cause: error });
  } finally {
    await admin.shutdown();
  }
}

/**
 * The rows of a query as arrays in its column order (the statement's parameters as they are),
 * chunk by chunk: as one JSON text per row when every column's type allows, else value by value.
 */
async function* readRows(connection: DuckDbConnection, select: string, json: JsonRows | undefined): AsyncGenerator<unknown[][]> {
  if (!json) {
    yield* (await connection.stream(select)).yieldRowsJs();
    return;
  }
  for await (const rows of (await connection.stream(json.sql)).yieldRowsJs()) yield rows.map((row) => json.fromJson(row[0] as string));
}

/** The batch group of a row (see LoadTarget.batching), or undefined when rows go one by one. */
function groupingOf(session: cassandra.Client, keyspace: string, columns: string[], target: LoadTarget): ((row: unknown[]) => string) | undefined {
  const batching = target.batching;
  if (!batching) return undefined;
  if (batching.by === 'partition') return partitionKeyOf(columns, batching.columns);
  const key = columns.indexOf(batching.textKey);
  if (key < 0) throw new Error(`${target.table}: the query has no column ${batching.textKey}`);
  const metadata = session.metadata;
  const only = singleReplicaSet([...metadata.getTokenRanges()].map((range) => metadata.getReplicas(keyspace, range)));
  if (only !== undefined) return () => only;
  // The driver hands out one cached replica array per token range: name each array once.
  const names = new WeakMap<object, string>();
  return (row) => {
    const replicas = session.getReplicas(keyspace, Buffer.from(String(row[key]), 'utf8'));
    let name = names.get(replicas);
    if (name === undefined) {
      name = replicaSetName(replicas);
      names.set(replicas, name);
    }
    return name;
  };
}

export async function runCassandraLoad(options: CassandraLoadOptions, { logger, signal }: JobContext): Promise<void> {
  const { date, s3Bucket: bucket, cassandraKeyspace: keyspace } = options;
  const started = Date.now();
  const s3 = createS3Client(options);
  const root = options.tempDir ?? tmpdir();
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, `pinpipe-load-${date}-`));
  let db: Awaited<ReturnType<typeof openDuckDb>> | undefined;
  let session: cassandra.Client | undefined;
  try {
    await checkDayReady(s3, bucket, date, SOURCE_TABLES);
    const staged = await stageObjects(
      s3,
      bucket,
      SOURCE_TABLES.map((t) => curatedObjectKey(t, date)),
      join(work, 'curated'),
      4,
      signal,
    );
    await mkdir(join(work, 'spill'), { recursive: true });
    db = await openDuckDb({ memoryLimit: '512MB', threads: 2, spillDir: join(work, 'spill') });
    for (const [i, table] of SOURCE_TABLES.entries()) {
      // staged[i] is the copy of SOURCE_TABLES[i].
      await db.connection.run(`CREATE VIEW ${table} AS SELECT * FROM read_parquet(${quote(staged[i] as string)})`);
    }

    await ensureKeyspace(options, options.replication, logger);
    session = client(options, keyspace);
    await session.connect();
    await migrate(session, await loadMigrations(), logger);
    const { thresholds, fromCluster } = await readBatchThresholds(session);
    const limits = batchLimitsFor(thresholds, options);
    logger.info('batch limits', { thresholds, fromCluster, partition: limits.partition, replicas: limits.replicas });

    const summary: LoadSummary = { date, keyspace, rows: {}, errors: {}, tableSeconds: { setup: Math.round((Date.now() - started) / 100) / 10 }, retries: 0, seconds: 0 };
    const retry = { maxRetries: options.maxRetries, baseMs: options.retryBaseMs, onRetry: () => (summary.retries += 1) };
    for (const target of LOAD_TARGETS) {
      if (signal.aborted) throw new InterruptedError(`cassandra-load stopped by signal while loading ${target.table}; rerunning the day is safe`);
      const s = session;
      const tableStarted = Date.now();
      if (target.replaceDayPartition) {
        await withRetry(() => s.execute(`DELETE FROM ${target.table} WHERE dt = ?`, [cassandra.types.LocalDate.fromString(date)], { prepare: true, isIdempotent: true }), retry);
      }
      const select = target.select(date);
      const shape = await db.connection.run(`SELECT * FROM (${select}) LIMIT 0`);
      const columns = shape.columnNames();
      const json = jsonRows(select, columns, shape.columnTypes().map(String));
      const insert = `INSERT INTO ${target.table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
      const writer = new BoundedWriter(options.concurrency, retry);
      const writeOptions = { prepare: true, isIdempotent: true } as const;
      const batcher = new RowBatcher<unknown[]>(target.batching?.by === 'replicas' ? limits.replicas : limits.partition);
      const send = (batch: unknown[][]): Promise<void> =>
        batch.length === 1
          ? writer.submit(1, () => s.execute(insert, batch[0], writeOptions))
          : writer.submit(batch.length, () => s.batch(batch.map((params) => ({ query: insert, params })), { ...writeOptions, logged: false }));
      const toParams = paramConverter(columns, target.dateColumns);
      const groupOf = groupingOf(s, keyspace, columns, target);
      for await (const rows of readRows(db.connection, select, json)) {
        for (const row of rows) {
          const params = toParams(row);
          if (!groupOf) {
            await send([params]);
            continue;
          }
          for (const batch of batcher.add(groupOf(params), params, estimateBytes(params))) await send(batch);
        }
      }
      for (const batch of batcher.finish()) await send(batch);
      await writer.drain();
      const { written, failed, firstError } = writer;
      summary.rows[target.table] = written;
      summary.errors[target.table] = failed;
      summary.tableSeconds[target.table] = Math.round((Date.now() - tableStarted) / 100) / 10;
      if (failed > 0) logger.error('rows not written', { table: target.table, failed, error: (firstError as Error).message });
      logger.info('table loaded', { table: target.table, rows: written, failed });
    }
    summary.seconds = Math.round((Date.now() - started) / 100) / 10;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    const failed = Object.values(summary.errors).reduce((a, b) => a + b, 0);
    logger.info('cassandra-load finished', { ...summary });
    await pushBatchMetrics(options.pushgatewayUrl, { job: 'cassandra-load', seconds: summary.seconds, rows: summary.rows, succeeded: failed === 0, day: date }, logger);
    if (failed > 0) throw new DependencyError(`${failed} rows of ${date} could not be written to Cassandra after retries; rerunning the day is safe`);
  } finally {
    db?.close();
    await session?.shutdown();
    s3.destroy();
    await rm(work, { recursive: true, force: true });
  }
}
