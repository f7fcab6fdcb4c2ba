/**
 * Trino on the local stack. Run: `npx tsx bench/trino.ts [posts-per-day] [days]` with the stack up,
 * its settings exported and dist/ built (make bench does all three). Prints one JSON object.
 *
 * 1. The eight analytics questions of sql/analytics.sql asked of Cassandra through Trino for one
 *    day, 50 runs each after 10 warm-up rounds of all eight: p50 and p99 per query, and of `SELECT 1` (the
 *    floor of any statement through the same client). The metric tables are cassandra-load's,
 *    loaded from a day daily-transform cleaned (3,000 emulated posts) in the bench's own bucket
 *    and keyspace.
 * 2. One aggregate over `days` days of curated posts (`posts-per-day` rows each, 1,000,000 by
 *    default, so 30,000,000): Trino over the lake (the Hive catalog, files on MinIO) against DuckDB
 *    reading the same Parquet files from local disk, in the same run, best and median of 3 each.
 *    Trino's own best on this machine is measured beside them: the same files through the stack's
 *    local_files catalog (Hive connector over the local disk, no S3 in the way).
 *    The posts are synthetic rows of the curated contract's columns, written by DuckDB.
 * 3. Trino's time to ready (stop, start, first answer) with a warm cache, and its peak RSS.
 *
 * Everything it writes is its own (bucket pinpipe-bench-trino-*, keyspace, lake schema, a folder
 * under PINPIPE_TRINO_LOCAL_FILES) and removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DeleteBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { syncPartitionsSql, tableDefinition } from '../jobs/lake-tables/ddl.js';
import { dropLakeSchema } from '../jobs/lake-tables/run.js';
import { COLUMN_TYPES, CURATED_TABLES, curatedObjectKey } from '../jobs/lib/curated.js';
import { openDuckDb, quote } from '../jobs/lib/duckdb.js';
import { bundledDataFile, projectRoot } from '../jobs/lib/paths.js';
import { createS3Client, ensureBucket } from '../jobs/lib/s3.js';
import { deleteKeys } from '../jobs/daily-transform/publish.js';
import { listKeys } from '../jobs/lib/stage.js';
import { TrinoClient } from '../jobs/lib/trino.js';
import { BasicAuth, Trino } from 'trino-client';
import { analyticsQueries } from '../jobs/test/analytics-sql.js';
import { runCli } from '../jobs/test/cli.js';
import { putObjects, toRawObjects } from '../jobs/test/raw-lake.js';
import { serviceEnv, serviceSettings } from '../jobs/test/services.js';
import { procStatusKb, stackPid } from './proc.js';

const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
const postsPerDay = Number(process.argv[2] ?? 1_000_000);
const days = Number(process.argv[3] ?? 30);
const RUNS = 50;
const WARMUP = 10;
const stamp = Date.now().toString(36);
const settings = { ...serviceSettings(), s3Bucket: `pinpipe-bench-trino-${stamp}` };
const s3 = createS3Client(settings);
const trino = new TrinoClient(settings);
const KEYSPACE = `pinpipe_bench_trino_${stamp}`;
const SCHEMA = `bench_trino_${stamp}`;
// The stack's local_files catalog reads this folder (stack/trino/catalog/local_files.properties.in).
const LOCAL_FILES = process.env.PINPIPE_TRINO_LOCAL_FILES ?? '';
const localRoot = join(LOCAL_FILES, stamp);
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: settings.s3Bucket, PINPIPE_CASSANDRA_KEYSPACE: KEYSPACE, PINPIPE_LAKE_SCHEMA: SCHEMA };
const METRIC_DAY = '2031-04-01';
const FIRST_DAY = Date.parse('2031-05-01T00:00:00Z');
const progress = (text: string) => process.stderr.write(`== bench trino: ${text}\n`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await work();
  return [performance.now() - t0, out];
}

async function analytics() {
  progress('a day of 3,000 posts through daily-transform and cassandra-load');
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const posts: Post[] = [];
  for (const post of generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 5, startTimeMs: Date.parse(`${METRIC_DAY}T01:00:00Z`) })) {
    posts.push(post);
    if (posts.length === 3_000) break;
  }
  await putObjects(s3, settings.s3Bucket, toRawObjects(posts.flatMap(postRecords), Date.parse(`${METRIC_DAY}T12:00:00Z`), 3, 1000));
  for (const job of ['daily-transform', 'cassandra-load']) {
    const run = await runCli([job, '--date', METRIC_DAY], env, 300_000);
    if (run.code !== 0) throw new Error(`${job} exited ${run.code}: ${run.stderr.slice(-2000)}`);
  }
  const out: Record<string, { p50Ms: number; p99Ms: number; maxMs: number; rows: number }> = {};
  const queries = analyticsQueries({ keyspace: KEYSPACE, lakeSchema: SCHEMA, day: METRIC_DAY });
  // Every query WARMUP times before any is timed: a Trino or Cassandra started moments before
  // (make bench right after make up) is still compiling the paths the first ones take.
  progress(`warm-up: each query ${WARMUP} times`);
  for (let i = 0; i < WARMUP; i++) for (const [, { cassandra: sql = '' }] of queries) await trino.query(sql);
  for (const [metric, { cassandra: sql = '' }] of queries) {
    progress(`${metric}: ${RUNS} runs`);
    let rows = 0;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const [ms, result] = await timed(() => trino.query(sql));
      times.push(ms);
      rows = result.length;
    }
    times.sort((a, b) => a - b);
    out[metric] = { p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), maxMs: round(times[times.length - 1] as number), rows };
  }
  const worstP99 = Math.max(...Object.values(out).map((q) => q.p99Ms));
  // Trino's own floor on this machine: a statement that reads nothing, through the same client.
  const floor: number[] = [];
  for (let i = 0; i < WARMUP; i++) await trino.query('SELECT 1');
  for (let i = 0; i < RUNS; i++) floor.push((await timed(() => trino.query('SELECT 1')))[0]);
  floor.sort((a, b) => a - b);
  return {
    runs: RUNS,
    warmup: WARMUP,
    queries: out,
    worstP99Ms: worstP99,
    targetMet: worstP99 <= 300,
    selectOneFloor: { p50Ms: round(percentile(floor, 50)), p99Ms: round(percentile(floor, 99)) },
  };
}

/** Synthetic curated posts: every contract column, values of realistic cardinality, one file per day. */
function syntheticPostsSql(day: string, rows: number, seed: number): string {
  const values: Record<string, string> = {
    ind: `i + ${seed} * ${rows}`,
    unique_id: `'u-' || (i + ${seed} * ${rows})`,
    title: `'title ' || (i % 5000)`,
    description: `'description ' || (i % 2000)`,
    poster_name: `'poster ' || (hash(i) % 20000)`,
    follower_count: `(hash(i + 1) % 1000000)::BIGINT`,
    tag_list: `['tag' || (i % 50), 'tag' || (i % 7)]`,
    media_type: `CASE WHEN i % 10 = 0 THEN 'video' ELSE 'image' END`,
    story_format: `i % 17 = 0`,
    image_src: `'https://i.example/' || (i % 100000) || '.jpg'`,
    downloaded: `i % 13 <> 0`,
    save_location: `'/data/' || (i % 12)`,
    category: `(['art', 'beauty', 'christmas', 'diy-and-crafts', 'education', 'event-planning', 'finance', 'home-decor', 'mens-fashion', 'quotes', 'tattoos', 'travel', 'vehicles'])[((hash(i + 2) % 13) + 1)::BIGINT]`,
    posted_at: `TIMESTAMP '${day} 00:00:00' + to_milliseconds((i * 86400000 // ${rows})::BIGINT)`,
    event_time: `TIMESTAMP '${day} 00:00:00' + to_milliseconds((i * 86400000 // ${rows})::BIGINT)`,
    latitude: `((hash(i + 3) % 18000) / 100.0 - 90)::DOUBLE`,
    longitude: `((hash(i + 4) % 36000) / 100.0 - 180)::DOUBLE`,
    coordinates: `[((hash(i + 3) % 18000) / 100.0 - 90)::DOUBLE, ((hash(i + 4) % 36000) / 100.0 - 180)::DOUBLE]`,
    country: `'country ' || (hash(i + 5) % 200)`,
    user_name: `'user ' || (hash(i + 6) % 50000)`,
    age: `(18 + hash(i + 7) % 60)::INTEGER`,
    date_joined: `TIMESTAMP '2015-01-01 00:00:00' + to_days((hash(i + 8) % 2500)::INTEGER)`,
    dt: `DATE '${day}'`,
  };
  const columns = CURATED_TABLES.posts.columns.map(([name, type]) => `CAST(${values[name]} AS ${COLUMN_TYPES[type].duckdb}) AS ${name}`);
  return `SELECT ${columns.join(', ')} FROM range(${rows}) t(i)`;
}

const FIRST_DATE = new Date(FIRST_DAY).toISOString().slice(0, 10);
/** Over the synthetic days only: the bench bucket also holds the analytics part's curated day. */
const AGGREGATE_LAKE = (from: string) =>
  `SELECT category, count(*) AS posts, count(DISTINCT dt) AS days, avg(follower_count) AS avg_followers, max(posted_at) AS last FROM ${from} WHERE dt >= DATE '${FIRST_DATE}' GROUP BY category ORDER BY category`;
/** One column read: the scan cost alone, on both engines. */
const ONE_COLUMN = (from: string) => `SELECT sum(follower_count) AS s FROM ${from} WHERE dt >= DATE '${FIRST_DATE}'`;

/** A statement through Trino's own client, with the CPU time Trino reports for it. */
async function trinoWithStats(sql: string): Promise<{ ms: number; cpuMs: number; rows: unknown[][] }> {
  const client = Trino.create({ server: settings.trinoUrl, source: 'pinpipe-bench', auth: new BasicAuth(settings.trinoUser) });
  const t0 = performance.now();
  const rows: unknown[][] = [];
  let cpuMs = 0;
  for await (const page of await client.query(sql)) {
    if (page.error) throw new Error(page.error.message);
    rows.push(...(page.data ?? []));
    cpuMs = page.stats?.cpuTimeMillis ?? cpuMs;
  }
  return { ms: performance.now() - t0, cpuMs, rows };
}

async function aggregate() {
  const dir = await mkdtemp(join(tmpdir(), 'pinpipe-bench-trino-'));
  const db = await openDuckDb({ memoryLimit: '2GB', threads: 2, spillDir: dir });
  try {
    const files: string[] = [];
    let bytes = 0;
    for (let d = 0; d < days; d++) {
      const day = new Date(FIRST_DAY + d * 86_400_000).toISOString().slice(0, 10);
      const file = join(localRoot, curatedObjectKey('posts', day));
      await mkdir(dirname(file), { recursive: true });
      progress(`posts of ${day}: ${postsPerDay} rows`);
      await db.connection.run(`COPY (${syntheticPostsSql(day, postsPerDay, d)}) TO ${quote(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
      await s3.send(new PutObjectCommand({ Bucket: settings.s3Bucket, Key: curatedObjectKey('posts', day), Body: createReadStream(file), ContentLength: statSync(file).size }));
      bytes += statSync(file).size;
      files.push(file);
    }
    progress('lake-tables over the bench bucket');
    const declared = await runCli(['lake-tables'], env, 300_000);
    if (declared.code !== 0) throw new Error(`lake-tables exited ${declared.code}: ${declared.stderr.slice(-2000)}`);
    const localTarget = { catalog: 'local_files', schema: SCHEMA, bucket: '', locationRoot: `local:///${stamp}/` };
    const localTable = tableDefinition(localTarget, 'posts', CURATED_TABLES.posts.columns);
    await trino.query(`CREATE SCHEMA IF NOT EXISTS local_files."${SCHEMA}"`);
    await trino.query(localTable.create);
    await trino.query(syncPartitionsSql(localTarget, 'posts'));
    const lakePosts = `lake."${SCHEMA}".posts`;
    const localFilesPosts = `local_files."${SCHEMA}".posts`;
    const localPosts = `read_parquet([${files.map(quote).join(', ')}])`;
    const counts = (rows: unknown[][]) => JSON.stringify(rows.map((r) => r.slice(0, 3).map((v) => (typeof v === 'bigint' || typeof v === 'number' ? Number(v) : String(v)))));
    const compare = async (name: string, query: (from: string) => string) => {
      const trinoRuns: Array<{ ms: number; cpuMs: number }> = [];
      const trinoLocalRuns: Array<{ ms: number; cpuMs: number }> = [];
      const duckRuns: number[] = [];
      let trinoRows: unknown[][] = [];
      let duckRows: unknown[][] = [];
      for (let i = 0; i < 3; i++) {
        progress(`${name} over ${days * postsPerDay} posts, round ${i + 1} of 3`);
        const t = await trinoWithStats(query(lakePosts));
        trinoRuns.push(t);
        trinoRows = t.rows;
        const l = await trinoWithStats(query(localFilesPosts));
        trinoLocalRuns.push(l);
        if (counts(l.rows) !== counts(t.rows)) throw new Error(`${name}: Trino over local files answered ${counts(l.rows)}, over the lake ${counts(t.rows)}`);
        const [u, reader] = await timed(() => db.connection.runAndReadAll(query(localPosts)));
        duckRuns.push(u);
        duckRows = reader.getRows();
      }
      trinoRuns.sort((a, b) => a.ms - b.ms);
      trinoLocalRuns.sort((a, b) => a.ms - b.ms);
      duckRuns.sort((a, b) => a - b);
      return {
        query: query('<posts>'),
        trinoSeconds: { best: round((trinoRuns[0]?.ms ?? 0) / 1000, 2), median: round((trinoRuns[1]?.ms ?? 0) / 1000, 2), cpuSecondsOfBest: round((trinoRuns[0]?.cpuMs ?? 0) / 1000, 2) },
        trinoLocalFilesSeconds: { best: round((trinoLocalRuns[0]?.ms ?? 0) / 1000, 2), median: round((trinoLocalRuns[1]?.ms ?? 0) / 1000, 2), cpuSecondsOfBest: round((trinoLocalRuns[0]?.cpuMs ?? 0) / 1000, 2) },
        duckdbSeconds: { best: round((duckRuns[0] as number) / 1000, 2), median: round((duckRuns[1] as number) / 1000, 2) },
        trinoOverDuckdb: round((trinoRuns[0]?.ms ?? 0) / (duckRuns[0] as number), 2),
        trinoLocalFilesOverDuckdb: round((trinoLocalRuns[0]?.ms ?? 0) / (duckRuns[0] as number), 2),
        sameResult: counts(trinoRows) === counts(duckRows),
      };
    };
    const aggregateRun = await compare('aggregate', AGGREGATE_LAKE);
    const oneColumn = await compare('one column', ONE_COLUMN);
    return {
      days,
      postsPerDay,
      rows: days * postsPerDay,
      parquetMb: round(bytes / 1e6),
      duckdbReads: 'the same Parquet files from local disk (Trino reads them from MinIO on loopback, on the same 2 cores, and from the same local files through its local_files catalog)',
      aggregate: aggregateRun,
      oneColumnScan: oneColumn,
      trinoOverDuckdb: aggregateRun.trinoOverDuckdb,
      trinoLocalFilesOverDuckdb: aggregateRun.trinoLocalFilesOverDuckdb,
      targetMet: aggregateRun.trinoOverDuckdb <= 3,
    };
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Stops and starts the local Trino: how long until it answers a query, with the cache warm. */
async function timeToReady() {
  const stack = join(projectRoot(), 'stack', 'stack.sh');
  const peakBefore = procStatusKb(stackPid('trino') ?? -1, 'VmHWM');
  spawnSync(stack, ['down', 'trino'], { stdio: 'ignore' });
  const t0 = performance.now();
  const up = spawnSync(stack, ['up', 'trino'], { encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`stack.sh up trino failed: ${up.stderr}`);
  const readyMs = performance.now() - t0;
  const [firstQueryMs] = await timed(() => trino.query('SELECT count(*) FROM system.runtime.nodes'));
  return { readySeconds: round(readyMs / 1000), firstQueryMs: round(firstQueryMs), peakRssMbDuringBench: round(peakBefore / 1024), heap: '-Xmx2G (stack/trino/jvm.config)' };
}

async function cleanUp() {
  await dropLakeSchema(trino, { catalog: 'lake', schema: SCHEMA }).catch((e: unknown) => progress(`clean-up of the lake schema: ${(e as Error).message}`));
  await dropLakeSchema(trino, { catalog: 'local_files', schema: SCHEMA }).catch((e: unknown) => progress(`clean-up of the local_files schema: ${(e as Error).message}`));
  if (LOCAL_FILES !== '') await rm(localRoot, { recursive: true, force: true });
  const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });
  await session.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`).catch(() => undefined);
  await session.shutdown();
  await deleteKeys(s3, settings.s3Bucket, await listKeys(s3, settings.s3Bucket, '')).catch(() => undefined);
  await s3.send(new DeleteBucketCommand({ Bucket: settings.s3Bucket })).catch(() => undefined);
}

if (days > 0 && LOCAL_FILES === '') throw new Error('PINPIPE_TRINO_LOCAL_FILES is not set: run with the settings of stack/stack.sh env');
try {
  await ensureBucket(s3, settings.s3Bucket);
  const queries = await analytics();
  const scan = days > 0 ? await aggregate() : null;
  await cleanUp();
  const ready = await timeToReady();
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'trino',
        trinoVersion: '476',
        analyticsFromCassandra: queries,
        aggregateOverPosts: scan,
        trino: ready,
        target: { analyticsP99Ms: 300, trinoOverDuckdb: 3 },
        // Other work on the same two cores moves every figure here; say how much there was.
        loadAverage: { atStart: loadAtStart, atEnd: loadavg().map((x) => round(x, 2)) },
        command: `npx tsx bench/trino.ts ${postsPerDay} ${days}`,
      },
      null,
      2,
    )}\n`,
  );
} catch (error) {
  await cleanUp();
  throw error;
} finally {
  s3.destroy();
}
