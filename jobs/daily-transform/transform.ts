import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { PLACEHOLDERS, RECORD_TYPES, type RecordType } from '../lib/contracts.js';
import { allOrFirstError } from '../lib/settle.js';
import { createTableSql, rows, run, scalar, type DuckDb } from '../lib/duckdb.js';
import { METRIC_TABLES, metricTable, type CuratedTable } from '../lib/curated.js';
import { historySql, METRICS } from './metrics-sql.js';
import { copyToParquetSql, curatedSelect, curatedViewSql, DEDUPE, markDuplicatesSql, stageTableSql, TABLE_OF, type ReadMode } from './sql.js';
import type { RejectedSample, TableStats, TransformOutput, TransformStats } from './types.js';

/** DuckDB errors of the fast reader that the line-by-line reader cannot mend. */
const NOT_ABOUT_THE_LINES = /^(Out of Memory Error|INTERRUPT Error|IO Error)/;

/** How many rejected lines the report quotes. */
export const REJECTED_SAMPLE_SIZE = 20;

export interface TransformInput {
  date: string;
  /**
   * Local gzip NDJSON files per record type, staged from raw/<topic>/dt=D/. A promise lets a
   * topic be cleaned while the next one is still downloading.
   */
  rawFiles: Record<RecordType, readonly string[] | Promise<readonly string[]>>;
  /** Local copies of curated/posts/dt=X/ for the days X before D, for the metrics. */
  pastPostFiles: readonly string[] | Promise<readonly string[]>;
  /** Where the Parquet files are written. */
  outDir: string;
  /** Called as each step starts, for logs. */
  onStep?: (step: string) => void;
}

function byType<T>(make: (type: RecordType) => T): Record<RecordType, T> {
  return Object.fromEntries(RECORD_TYPES.map((t) => [t, make(t)])) as Record<RecordType, T>;
}

/**
 * The order topics are staged in: geo and users first, because the pin stage joins their
 * deduplicated rows. Staging downloads them in this order too.
 */
export const STAGE_ORDER: readonly RecordType[] = ['geo', 'user', 'pin'];

/**
 * Cleans one day with DuckDB: stage (reject or clean, sort; pins joined to geo and users) →
 * flag duplicates → curated Parquet, then the metric tables over the history. Local files in,
 * local files out: staging from and publishing to S3 are the caller's business, so this runs
 * the same in tests.
 */
export async function transformDay(duckDb: DuckDb, input: TransformInput): Promise<TransformOutput> {
  const db = duckDb.connection;
  const step = input.onStep ?? (() => undefined);
  const readMode = byType((): ReadMode => 'fast');
  const fastReadError: Partial<Record<RecordType, string>> = {};
  const objects = byType(() => 0);
  const files: Record<string, string> = {};
  const write = async (connection: DuckDBConnection, table: CuratedTable): Promise<void> => {
    step(`write ${table}`);
    files[table] = join(input.outDir, `${table}.parquet`);
    await run(connection, copyToParquetSql(curatedSelect(table), files[table]));
  };

  // Two lanes on two connections: the main one stages and writes pins and posts (the wide
  // files); the side one writes geo and users as soon as they are final, then the metrics. Each
  // file's bytes depend only on its query; the lanes fill the gaps a single query leaves.
  const side = await duckDb.connect();
  let sideLane: Promise<void> = Promise.resolve();
  const onSide = (task: () => Promise<void>): void => {
    sideLane = sideLane.then(task);
    sideLane.catch(() => undefined);
  };
  const metricRows: Record<string, number> = {};
  let pastPostFiles: readonly string[] = [];
  const metrics = async (): Promise<void> => {
    pastPostFiles = await input.pastPostFiles;
    step('metrics');
    await run(side, createTableSql('history', historySql(pastPostFiles)));
    for (const metric of METRICS) {
      const table = metricTable(metric.name);
      await run(side, createTableSql(table, metric.sql));
      files[table] = join(input.outDir, `${table}.parquet`);
      // In the contract's column order, whatever order the metric's query gives.
      const columns = METRIC_TABLES[metric.name].map(([name]) => name).join(', ');
      await run(side, copyToParquetSql(`SELECT ${columns} FROM ${table}`, files[table]));
      metricRows[metric.name] = await scalar(side, `SELECT count(*) FROM ${table}`);
    }
  };

  const mainLane = (async () => {
    for (const type of STAGE_ORDER) {
      await stage(type);
      step(`flag duplicates ${type}`);
      await run(db, markDuplicatesSql(type));
      const table = TABLE_OF[type];
      await run(db, `CREATE OR REPLACE VIEW ${table} AS ${curatedViewSql(table, input.date)}`);
      if (type !== 'pin') onSide(() => write(side, table));
    }
    await run(db, `CREATE OR REPLACE VIEW posts AS ${curatedViewSql('posts', input.date)}`);
    onSide(metrics);
    await write(db, 'pins');
    await write(db, 'posts');
  })();
  // Settle both before going on: a failed lane must not leave the other one still running. Once
  // the main lane has settled nothing more joins the side lane.
  await mainLane.catch(() => undefined);
  await allOrFirstError([mainLane, sideLane]);

  const staged = await measureStages(db);
  const stats = await measure(db, { objects, historyDays: pastPostFiles.length + 1 }, staged, metricRows);
  stats.input.read_mode = readMode;
  if (Object.keys(fastReadError).length > 0) stats.input.fast_read_error = fastReadError;
  return { files, stats };

  async function stage(type: RecordType): Promise<void> {
    let paths = await input.rawFiles[type];
    objects[type] = paths.length;
    if (paths.length === 0) {
      // The readers need a file; an empty one gives an empty stage table with the right columns.
      const empty = join(input.outDir, `empty-${type}.ndjson.gz`);
      await writeFile(empty, gzipSync(''));
      paths = [empty];
    }
    step(`stage ${type}`);
    try {
      await run(db, createTableSql(`stage_${type}`, stageTableSql(type, paths, 'fast')));
    } catch (error) {
      // Running out of memory, an interrupt or a failing disk is not about the lines: reading
      // them again line by line would only fail slower, and report a wrong read mode.
      if (NOT_ABOUT_THE_LINES.test((error as Error).message)) throw error;
      // A line that is not a JSON object of the lake's shape: read this topic line by line
      // instead, so such lines are rejected with a reason and the rest goes through.
      fastReadError[type] = (error as Error).message.split('\n')[0];
      readMode[type] = 'robust';
      step(`stage ${type} line by line`);
      await run(db, createTableSql(`stage_${type}`, stageTableSql(type, paths, 'robust')));
    }
  }
}

type StageStats = Pick<TransformStats, 'rejected' | 'placeholders_replaced' | 'invalid_values_nulled'> & {
  lines: Record<RecordType, number>;
  rowsIn: Record<'pins' | 'geo' | 'users', number>;
};

/** What the report takes from the stage tables: lines in, rejections, placeholders, rows in. */
async function measureStages(db: DuckDBConnection): Promise<StageStats> {
  const lines = byType(() => 0);
  const rejectedByType = byType(() => 0);
  for (const type of RECORD_TYPES) {
    lines[type] = await scalar(db, `SELECT count(*) FROM stage_${type}`);
    rejectedByType[type] = await scalar(db, `SELECT count(*) FROM stage_${type} WHERE reject_reason IS NOT NULL`);
  }
  const rejectedUnion = RECORD_TYPES.map(
    (t) => `SELECT '${t}' AS type, object_name, source_offset, reject_reason, rejected_line FROM stage_${t} WHERE reject_reason IS NOT NULL`,
  ).join(' UNION ALL ');
  const byReason: Record<string, number> = {};
  for (const r of await rows<{ reject_reason: string; n: number }>(db, `SELECT reject_reason, count(*)::INTEGER AS n FROM (${rejectedUnion}) GROUP BY ALL ORDER BY reject_reason`)) {
    byReason[r.reject_reason] = r.n;
  }
  const samples = (
    await rows<{ type: RecordType; object_name: string; source_offset: string | null; reject_reason: string; rejected_line: string }>(
      db,
      `SELECT * FROM (${rejectedUnion}) ORDER BY type, object_name, source_offset NULLS LAST, rejected_line LIMIT ${REJECTED_SAMPLE_SIZE}`,
    )
  ).map(
    (r): RejectedSample => ({ type: r.type, object: r.object_name, offset: r.source_offset === null ? null : Number(r.source_offset), reason: r.reject_reason, line: r.rejected_line }),
  );

  // Every line is either rejected or accepted: what goes into a table is what was not rejected.
  const rowsIn = { pins: 0, geo: 0, users: 0 };
  for (const table of ['pins', 'geo', 'users'] as const) {
    const stage = DEDUPE[table].stage;
    rowsIn[table] = lines[stage] - rejectedByType[stage];
  }

  const fields = Object.keys(PLACEHOLDERS);
  const counted = (
    await rows<Record<string, number>>(
      db,
      `SELECT ${fields.map((f) => `count(*) FILTER (WHERE ph_${f})::INTEGER AS ${f}`).join(', ')},
         count(*) FILTER (WHERE bad_follower_count)::INTEGER AS follower_count_unreadable,
         count(*) FILTER (WHERE bad_media_type)::INTEGER AS is_image_or_video_unknown
       FROM stage_pin WHERE reject_reason IS NULL`,
    )
  )[0] as Record<string, number>;
  const badAge = await scalar(db, 'SELECT count(*) FROM stage_user WHERE reject_reason IS NULL AND bad_age');
  return {
    lines,
    rowsIn,
    rejected: { total: Object.values(rejectedByType).reduce((a, b) => a + b, 0), by_type: rejectedByType, by_reason: byReason, samples },
    placeholders_replaced: Object.fromEntries(fields.map((f) => [f, counted[f] ?? 0])),
    invalid_values_nulled: {
      follower_count: counted.follower_count_unreadable ?? 0,
      is_image_or_video: counted.is_image_or_video_unknown ?? 0,
      age: badAge,
    },
  };
}

async function measure(
  db: DuckDBConnection,
  input: { objects: Record<RecordType, number>; historyDays: number },
  staged: StageStats,
  metricRows: Record<string, number>,
): Promise<TransformStats> {
  // One scan of the pins answers their count, the posts' and the pins without geo or user.
  type PinCounts = { rows: number; posts: number; without_geo: number; without_user: number };
  const [pins] = (await rows<PinCounts>(
    db,
    `SELECT count(*)::INTEGER AS rows, count(*) FILTER (WHERE has_geo AND has_user)::INTEGER AS posts,
       count(*) FILTER (WHERE NOT has_geo)::INTEGER AS without_geo, count(*) FILTER (WHERE NOT has_user)::INTEGER AS without_user
     FROM pins`,
  )) as [PinCounts];
  const tables: Record<string, TableStats> = {};
  for (const table of ['pins', 'geo', 'users'] as const) {
    const rowsOut = table === 'pins' ? pins.rows : await scalar(db, `SELECT count(*) FROM ${table}`);
    tables[table] = { rows_in: staged.rowsIn[table], rows_out: rowsOut, duplicates_dropped: staged.rowsIn[table] - rowsOut };
  }
  tables.posts = { rows_in: pins.posts, rows_out: pins.posts, duplicates_dropped: 0 };

  return {
    input: { objects: input.objects, lines: staged.lines, read_mode: byType((): ReadMode => 'fast') },
    rejected: staged.rejected,
    tables,
    joins: {
      pins_without_geo: pins.without_geo,
      pins_without_user: pins.without_user,
    },
    placeholders_replaced: staged.placeholders_replaced,
    invalid_values_nulled: staged.invalid_values_nulled,
    metrics: {
      history_days: input.historyDays,
      history_posts: await scalar(db, 'SELECT count(*) FROM history'),
      rows: metricRows,
    },
  };
}
