/**
 * daily-transform and cassandra-load on one big day of the local stack, beside DuckDB's bare
 * read-and-write of the same raw objects. Run: `npx tsx bench/daily.ts [posts] [--skip-load] [--spark]`
 * with the stack up and its settings exported (`eval "$(stack/stack.sh env)"`) and the CLI
 * built (`make build`). Writes its own day (2030-06-15) and removes it afterwards, raw and
 * curated, so the history the metrics read stays as it was. Prints one JSON object.
 *
 * `--spark` (bench/run.d/50-spark-daily.sh) also runs, right after pinpipe's own step and on the
 * same S3 objects, the seed projects' tool: bench/spark/daily_clean.py (PySpark local mode, the
 * same cleaning, reading the raw objects through s3a) and bench/spark/cassandra_load.py
 * (the spark-cassandra-connector writing the rows cassandra-load writes, from the same curated
 * files, into a second keyspace with the same schema). Needs bench/spark/setup.sh done.
 * `--spark-load-only` runs the second comparison alone.
 *
 * To iterate on cassandra-load alone: `--keep-day` leaves the day's raw and curated objects in
 * the lake afterwards, and a later `--load-only` skips generating and transforming and loads the
 * day that is there (then cleans it up unless `--keep-day` again); `--reuse-lake` transforms the
 * raw objects such a run left instead of generating them again. `--memory-limit 2GB` sets
 * DuckDB's memory_limit for the transform and the bare read-and-write (default 2GB, the job's own). Arguments after `--` go to
 * cassandra-load (e.g. `-- --concurrency 64`). The load reports its own CPU time and, when the
 * local stack's Cassandra pid is found (PINPIPE_STACK_DIR), Cassandra's, per row.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { TOPICS, type RecordType } from '../jobs/lib/contracts.js';
import { rawObjectKey } from '../jobs/lib/lake.js';
import { bundledDataFile } from '../jobs/lib/paths.js';
import { createS3Client, ensureBucket } from '../jobs/lib/s3.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { openDuckDb } from '../jobs/lib/duckdb.js';
import { stageObjects } from '../jobs/lib/stage.js';
import { CLI } from '../jobs/test/cli.js';
import { listKeys } from '../jobs/test/lake.js';
import { serviceEnv, serviceSettings } from '../jobs/test/services.js';
import { procCpuSeconds, procStatusKb, stackPid } from './proc.js';
import { runSpark, sparkResult } from './spark/run-spark.js';

const allArgs = process.argv.slice(2);
const dashDash = allArgs.indexOf('--');
const args = dashDash < 0 ? allArgs : allArgs.slice(0, dashDash);
const loadArgs = dashDash < 0 ? [] : allArgs.slice(dashDash + 1);
const keepDay = args.includes('--keep-day');
const reuseLake = args.includes('--reuse-lake');
const memoryArg = args.indexOf('--memory-limit');
const loadOnly = args.includes('--load-only');
const posts = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--memory-limit') ?? 1_000_000);
const skipLoad = args.includes('--skip-load');
const sparkLoadOnly = args.includes('--spark-load-only');
const withSpark = args.includes('--spark') || sparkLoadOnly;
const DATE = '2030-06-15';
const DAY_MS = Date.parse(`${DATE}T00:00:00Z`);
const PARTITIONS = 3;
const OBJECT_RECORDS = 50_000;
/** DuckDB's memory_limit for the transform and for the bare read-and-write alike. */
const MEMORY_LIMIT = memoryArg >= 0 ? (args[memoryArg + 1] as string) : '2GB';
const THREADS = 2;
const settings = serviceSettings();
const bucket = settings.s3Bucket;
const s3 = createS3Client(settings);
const keyspace = `pinpipe_bench_${Date.now().toString(36)}`;
const sparkKeyspace = `${keyspace}_spark`;
/** Where bench/spark/daily_clean.py writes its Parquet (removed afterwards). */
const SPARK_OUT_PREFIX = 'bench-spark';
const env = serviceEnv();

async function dayKeys(): Promise<string[]> {
  const prefixes = [...Object.values(TOPICS).map((t) => `raw/${t}/dt=${DATE}/`), `reports/quality/dt=${DATE}/`];
  const keys = (await Promise.all(prefixes.map((p) => listKeys(s3, bucket, p)))).flat();
  return [...keys, ...(await listKeys(s3, bucket, 'curated/')).filter((k) => k.includes(`/dt=${DATE}/`)), ...(await listKeys(s3, bucket, `${SPARK_OUT_PREFIX}/`))];
}

async function cleanDay(): Promise<void> {
  const keys = await dayKeys();
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
  }
}

/** Generated posts straight into raw lake objects, as s3-sink would cut them: per partition, per hour, 50k records. */
async function fillLake(): Promise<{ lines: number; objects: number; gzBytes: number; seconds: number }> {
  const started = Date.now();
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  // Spread the posts over 23 hours of the day.
  const rate = posts / (23 * 3600);
  const generator = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 2030, startTimeMs: DAY_MS, rate, lateRate: 0 });
  const buffers = new Map<string, { type: RecordType; partition: number; start: number; hourMs: number; lines: string[] }>();
  const offsets = new Map<string, number>();
  const uploads: Array<Promise<unknown>> = [];
  let objects = 0;
  let gzBytes = 0;
  let lines = 0;
  const flush = async (id: string): Promise<void> => {
    const b = buffers.get(id);
    if (!b || b.lines.length === 0) return;
    buffers.delete(id);
    const body = gzipSync(`${b.lines.join('\n')}\n`, { level: 1 });
    gzBytes += body.length;
    objects += 1;
    const key = rawObjectKey({ topic: TOPICS[b.type], partition: b.partition, startOffset: b.start, recordTimeMs: b.hourMs });
    uploads.push(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
    if (uploads.length >= 4) await Promise.all(uploads.splice(0));
  };
  for (let n = 0; n < posts; n += 1) {
    const post = generator.next().value as Post;
    const timeMs = Math.min(DAY_MS + Math.floor((n * 1000) / rate), DAY_MS + 86_399_999);
    const hourMs = timeMs - (timeMs % 3_600_000);
    for (const typed of postRecords(post)) {
      const partition = n % PARTITIONS;
      const id = `${typed.type}/${partition}`;
      const offset = offsets.get(id) ?? 0;
      offsets.set(id, offset + 1);
      let b = buffers.get(id);
      if (b && (b.hourMs !== hourMs || b.lines.length >= OBJECT_RECORDS)) {
        await flush(id);
        b = undefined;
      }
      if (!b) {
        b = { type: typed.type, partition, start: offset, hourMs, lines: [] };
        buffers.set(id, b);
      }
      b.lines.push(
        `{"topic":"${TOPICS[typed.type]}","partition":${partition},"offset":${offset},"timestamp":${timeMs},"ingest_time":${timeMs},"event_id":null,"key":"${post.pin.index}","record":${JSON.stringify(typed.record)}}`,
      );
      lines += 1;
    }
  }
  for (const id of [...buffers.keys()]) await flush(id);
  await Promise.all(uploads);
  return { lines, objects, gzBytes, seconds: (Date.now() - started) / 1000 };
}

/** Runs the CLI, sampling the child's peak RSS (VmHWM) until it exits. */
function runTimed(cliArgs: string[]): Promise<{ code: number | null; seconds: number; peakRssMb: number; cpuSeconds: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...cliArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    let cpuSeconds = 0;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const sample = setInterval(() => {
      peakKb = Math.max(peakKb, procStatusKb(child.pid as number, 'VmHWM'));
      cpuSeconds = Math.max(cpuSeconds, procCpuSeconds(child.pid) || 0);
    }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, seconds: (Date.now() - started) / 1000, peakRssMb: Math.round(peakKb / 1024), cpuSeconds, stdout, stderr });
    });
  });
}

/** A second keyspace with cassandra-load's own schema files, for the connector to write into. */
async function createSparkKeyspace(): Promise<void> {
  const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });
  try {
    await session.execute(`CREATE KEYSPACE IF NOT EXISTS ${sparkKeyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    const dir = join('jobs', 'cassandra-load', 'schema');
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cql')).sort()) {
      const text = (await readFile(join(dir, file), 'utf8')).replace(/--.*$/gm, '');
      for (const statement of text.split(';').map((t) => t.trim()).filter(Boolean)) {
        await session.execute(statement.replace(/CREATE TABLE IF NOT EXISTS (\w+)/, `CREATE TABLE IF NOT EXISTS ${sparkKeyspace}.$1`));
      }
    }
  } finally {
    await session.shutdown();
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** DuckDB's bare read-and-write: stage the same objects, read gz NDJSON, write one Parquet file per topic. */
async function bareDuckDb(): Promise<{ seconds: number; stageSeconds: number }> {
  const work = await mkdtemp(join(tmpdir(), 'pinpipe-bench-bare-'));
  try {
    const started = Date.now();
    const dirs: string[] = [];
    for (const topic of Object.values(TOPICS)) {
      const keys = await listKeys(s3, bucket, `raw/${topic}/dt=${DATE}/`);
      const dir = join(work, topic);
      await stageObjects(s3, bucket, keys, dir);
      dirs.push(dir);
    }
    const stageSeconds = (Date.now() - started) / 1000;
    const db = await openDuckDb({ memoryLimit: MEMORY_LIMIT, threads: THREADS, spillDir: work });
    try {
      for (const dir of dirs) {
        const files = (await readdir(dir)).map((f) => `'${join(dir, f)}'`);
        await db.connection.run(
          `COPY (SELECT * FROM read_json([${files.join(', ')}], format = 'newline_delimited', compression = 'gzip')) TO '${dir}.parquet' (FORMAT parquet, COMPRESSION zstd)`,
        );
      }
    } finally {
      db.close();
    }
    return { seconds: (Date.now() - started) / 1000, stageSeconds };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await ensureBucket(s3, bucket);
  const reusing = reuseLake && (await listKeys(s3, bucket, `raw/${TOPICS.pin}/dt=${DATE}/`)).length > 0;
  if (!loadOnly && !reusing) await cleanDay();
  const result: Record<string, unknown> = { posts, date: DATE, memoryLimit: MEMORY_LIMIT, threads: THREADS };
  if (withSpark || loadOnly) {
    result.command = `npx tsx bench/daily.ts ${args.join(' ')}`;
    result.loadAverageAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  }
  try {
    if (!loadOnly) {
      // --reuse-lake: the day a --keep-day run left (same posts count assumed), to iterate quickly.
      const lake = reusing ? { lines: 3 * posts, reused: true } : await fillLake();
      result.lake = lake;
      process.stderr.write(`lake filled: ${JSON.stringify(lake)}\n`);

      const bare = await bareDuckDb();
      result.duckdbBareReadWrite = { seconds: bare.seconds, stagingSeconds: bare.stageSeconds, linesPerSecond: Math.round(lake.lines / bare.seconds) };
      process.stderr.write(`bare DuckDB: ${JSON.stringify(result.duckdbBareReadWrite)}\n`);

      const transform = await runTimed(['daily-transform', '--date', DATE, '--memory-limit', MEMORY_LIMIT, '--threads', String(THREADS)]);
      if (transform.code !== 0) throw new Error(`daily-transform exited ${transform.code}: ${transform.stderr.slice(-2000)}`);
      const finished = transform.stderr.split('\n').find((l) => l.includes('daily-transform finished'));
      result.transform = {
        seconds: transform.seconds,
        linesPerSecond: Math.round(lake.lines / transform.seconds),
        postsPerSecond: Math.round(posts / transform.seconds),
        peakRssMb: transform.peakRssMb,
        ratioToBareDuckDb: Math.round((transform.seconds / bare.seconds) * 100) / 100,
        steps: Object.fromEntries(
          transform.stderr
            .split('\n')
            .filter((l) => l.includes('"transform step"'))
            .map((l) => JSON.parse(l) as { step: string; elapsedSeconds: number })
            .map((l) => [l.step, l.elapsedSeconds]),
        ),
        summary: finished ? JSON.parse(finished) : undefined,
      };
      process.stderr.write(`transform: ${JSON.stringify(result.transform)}\n`);

      if (withSpark && !sparkLoadOnly) {
        // The same raw objects, read by PySpark through s3a; its Parquet goes under bench-spark/.
        const run = await runSpark('daily_clean.py', [DATE, `s3a://${bucket}/${SPARK_OUT_PREFIX}`], env);
        const spark = sparkResult<{ seconds: number; steps: Record<string, number>; rows: Record<string, number>; lines: Record<string, number> }>(run, 'daily_clean.py');
        const pinpipeRows = (finished ? (JSON.parse(finished) as { rows: Record<string, number> }).rows : {}) as Record<string, number>;
        const mismatched = Object.keys(spark.rows).filter((t) => spark.rows[t] !== pinpipeRows[t]);
        result.sparkTransform = {
          seconds: run.seconds,
          secondsAfterSessionStart: round2(spark.seconds - (spark.steps.session ?? 0)),
          linesPerSecond: Math.round(lake.lines / run.seconds),
          postsPerSecond: Math.round(posts / run.seconds),
          peakRssMb: run.peakRssMb,
          steps: spark.steps,
          rows: spark.rows,
          linesRead: spark.lines,
        };
        result.transformComparison = {
          pinpipe_seconds: transform.seconds,
          spark_seconds: run.seconds,
          ratio: round2(run.seconds / transform.seconds),
          pinpipe_peak_rss_mb: transform.peakRssMb,
          spark_peak_rss_mb: run.peakRssMb,
          pinpipe_lines_per_s: Math.round(lake.lines / transform.seconds),
          spark_lines_per_s: Math.round(lake.lines / run.seconds),
          rows_pinpipe: pinpipeRows,
          rows_spark: spark.rows,
          rows_match: mismatched.length === 0,
          ...(mismatched.length > 0 ? { rows_mismatched: mismatched } : {}),
          target: 'ratio >= 10 (pinpipe at least 10x faster)',
        };
        process.stderr.write(`spark transform: ${JSON.stringify(result.transformComparison)}\n`);
      }
    }

    if (!skipLoad) {
      const cassandraPid = stackPid('cassandra');
      const cassandraCpuBefore = cassandraPid ? procCpuSeconds(cassandraPid) : 0;
      const loadAverage = loadavg()[0] as number;
      const load = await runTimed(['cassandra-load', '--date', DATE, '--cassandra-keyspace', keyspace, ...loadArgs]);
      const cassandraCpu = cassandraPid ? procCpuSeconds(cassandraPid) - cassandraCpuBefore : undefined;
      if (load.code !== 0) throw new Error(`cassandra-load exited ${load.code}: ${load.stderr.slice(-2000)}`);
      const summary = JSON.parse(load.stdout.trim()) as { rows: Record<string, number>; tableSeconds: Record<string, number> };
      const rows = Object.values(summary.rows).reduce((a, b) => a + b, 0);
      const perRowUs = (cpu: number): number => Math.round((cpu * 1e6) / rows);
      result.load = {
        seconds: load.seconds,
        rows,
        rowsPerSecond: Math.round(rows / load.seconds),
        peakRssMb: load.peakRssMb,
        perTable: summary.rows,
        tableSeconds: summary.tableSeconds,
        ...(loadArgs.length > 0 ? { args: loadArgs } : {}),
        loaderCpuSeconds: round2(load.cpuSeconds),
        loaderCpuUsPerRow: perRowUs(load.cpuSeconds),
        ...(cassandraCpu === undefined ? {} : { cassandraCpuSeconds: round2(cassandraCpu), cassandraCpuUsPerRow: perRowUs(cassandraCpu) }),
        loadAverageAtStart: round2(loadAverage),
        loadAverageAtEnd: round2(loadavg()[0] as number),
      };
      process.stderr.write(`load: ${JSON.stringify(result.load)}\n`);

      if (withSpark) {
        await createSparkKeyspace();
        const run = await runSpark('cassandra_load.py', [DATE, sparkKeyspace], env);
        const spark = sparkResult<{ seconds: number; loadSeconds: number; rows: number; perTable: Record<string, number>; steps: Record<string, number> }>(run, 'cassandra_load.py');
        const mismatched = Object.keys(spark.perTable).filter((t) => spark.perTable[t] !== summary.rows[t]);
        result.sparkLoad = {
          seconds: run.seconds,
          secondsAfterSessionStart: spark.loadSeconds,
          rows: spark.rows,
          rowsPerSecond: Math.round(spark.rows / run.seconds),
          rowsPerSecondAfterSessionStart: Math.round(spark.rows / spark.loadSeconds),
          peakRssMb: run.peakRssMb,
          perTable: spark.perTable,
          steps: spark.steps,
        };
        result.loadComparison = {
          pinpipe_rows_per_s: Math.round(rows / load.seconds),
          spark_rows_per_s: Math.round(spark.rows / run.seconds),
          ratio: round2(rows / load.seconds / (spark.rows / run.seconds)),
          pinpipe_seconds: load.seconds,
          spark_seconds: run.seconds,
          rows_pinpipe: rows,
          rows_spark: spark.rows,
          rows_match: mismatched.length === 0,
          ...(mismatched.length > 0 ? { rows_mismatched: mismatched } : {}),
          target: 'pinpipe >= 20,000 rows/s and ratio >= 1',
        };
        process.stderr.write(`spark load: ${JSON.stringify(result.loadComparison)}\n`);
      }
    }
  } finally {
    if (!skipLoad) {
      const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });
      await session.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      if (withSpark) await session.execute(`DROP KEYSPACE IF EXISTS ${sparkKeyspace}`).catch(() => undefined);
      await session.shutdown();
    }
    if (!keepDay) await cleanDay();
    s3.destroy();
  }
  if (withSpark) result.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

await main();
