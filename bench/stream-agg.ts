/**
 * stream-agg on the local stack. Run: `npx tsx bench/stream-agg.ts [posts] [live-seconds] [late-posts]`
 * with the stack up, its settings exported and dist/ built (make bench does all three). Prints one
 * JSON object on stdout (progress and the old code's build on stderr).
 *
 * 1. Throughput over a pre-produced backlog of `posts` posts (3 records each), read several times
 *    from the same topics, each time by a consumer group of its own: by the code before commit
 *    2771d54 (its parent, checked out as a git worktree at /tmp/pinpipe-bench-before and built
 *    there), and by the code now (dist/), with the same flags (1 min windows, the default 10 s
 *    lateness). Events/s, the job's CPU per record, and what PostgreSQL spent meanwhile: the
 *    whole server's CPU (every client on it, so other work on the machine shows too) and that of
 *    the job's own backends (told apart by application_name), per record; for the code now also
 *    the size of its dedupe state (stream_agg_seen_keys) at the end. Before and now each read it
 *    PINPIPE_BENCH_ROUNDS times (default 3), alternating, and are compared by their medians.
 * 2. Lateness over a second backlog of `late-posts` posts (0 skips it), read by the code now: the
 *    records it counted late and as repeats against those the generator made so on purpose,
 *    computed while producing (see fillBacklog), record by record.
 * 3. Freshness with windows closing on a live stream, read by the code now, as a user sees it:
 *    the benchmark sends pin records stamped with the wall clock, polls PostgreSQL every 100 ms,
 *    and takes, for each send, the first poll at which its window's row counts that many posts
 *    (rows only grow, so this is when the send became visible, give or take the poll interval).
 *    Window closing is measured the same way: the first poll at which a window's rows are final,
 *    against window end + allowed lateness. Every partition moves on a live stream, so the
 *    group's watermark (the lowest over partitions) moves with the clock. The generator's
 *    verbatim repeats are dropped by the code now, so a send counts only its first copies.
 *
 * The benchmark uses topics and consumer groups of its own (bench-agg-*-<stamp>) and removes
 * both, and its groups' rows in the stream_agg_* tables, when it ends.
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import winston from 'winston';
import { parseEventTime, RECORD_HEADERS } from '../jobs/lib/contracts.js';
import { createKafka, ensureTopics } from '../jobs/lib/kafka.js';
import { createLogger } from '../jobs/lib/logger.js';
import { bundledDataFile } from '../jobs/lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { kafkaPartition } from '../jobs/ingest/producer.js';
import { windowStart } from '../jobs/stream-agg/aggregate.js';
import { startJob, type JobProcess } from '../jobs/test/process.js';
import { serviceEnv, serviceSettings } from '../jobs/test/services.js';
import { procCpuSeconds, procStatusKb } from './proc.js';
import { BackendCpu, buildAt, currentBuild, postgresCpuSeconds, postmasterPid, withApplicationName, type Build } from './stream-agg-support.js';

const posts = Number(process.argv[2] ?? 100_000);
const liveSeconds = Number(process.argv[3] ?? 40);
const latePosts = Number(process.argv[4] ?? 500_000);
/** The commit whose effect is measured: "before" is its parent. */
const CHANGE = '2771d54';
const BEFORE_DIR = '/tmp/pinpipe-bench-before';
const PARTITIONS = 3;
const BACKLOG_WINDOW_MS = 60_000;
const BACKLOG_LATENESS_MS = 10_000;
/**
 * The lateness the backlog benchmark ran with before the group watermark: with the per-process
 * watermark a short one made most of a backlog late (and skipped), so before and now are compared
 * at this one, where both aggregate every record; now also runs at the default lateness.
 */
const COMPARED_LATENESS_MS = 300_000;
/** A record is late on purpose when its time is more than this behind its partition's highest so far. */
const LATE_BEHIND_MS = 60_000;
const LIVE_POSTS_PER_SECOND = 1_000;
const LIVE_WINDOW_MS = 10_000;
const LIVE_LATENESS_MS = 2_000;
const settings = serviceSettings();
const logger = createLogger('bench', 'warn');
const kafka = createKafka(settings, logger);
const pool = new pg.Pool({ connectionString: settings.pgUrl, max: 2 });
const stamp = Date.now().toString(36);
/** Consumer groups this run used: their rows are deleted at the end. */
const groups: string[] = [];
/** Jobs this run started: any still running when it ends (a failed measurement) is killed. */
const jobs: JobProcess[] = [];
const progress = (text: string) => process.stderr.write(`== bench stream-agg: ${text}\n`);

interface Topics {
  pin: string;
  geo: string;
  user: string;
}

/**
 * Waits until Kafka answers (up to 3 min): other work on the same stack (an integration test of a
 * Kafka outage) may be restarting it. A restart in the middle of a measurement still fails it.
 */
async function waitForKafka(): Promise<void> {
  const quiet = createKafka(settings, winston.createLogger({ silent: true }));
  const deadline = Date.now() + 180_000;
  for (let said = false; ; ) {
    const admin = quiet.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      if (!said) progress(`Kafka at ${settings.kafkaBrokers.join(',')} does not answer; waiting for it`);
      said = true;
      await sleep(2_000);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

async function freshTopics(name: string): Promise<Topics> {
  await waitForKafka();
  const topics = { pin: `bench-agg-${name}-pin-${stamp}`, geo: `bench-agg-${name}-geo-${stamp}`, user: `bench-agg-${name}-user-${stamp}` };
  await ensureTopics(kafka, Object.values(topics), PARTITIONS);
  return topics;
}

function agg(build: Build, topics: Topics, groupId: string, extra: string[]): JobProcess {
  groups.push(groupId);
  // application_name tells the job's PostgreSQL backends apart from everyone else's.
  const env = { ...serviceEnv(), PINPIPE_PG_URL: withApplicationName(settings.pgUrl, groupId) };
  const job = startJob(
    ['stream-agg', '--pin-topic', topics.pin, '--geo-topic', topics.geo, '--user-topic', topics.user, '--group-id', groupId, '--metrics-port', '0', '--log-level', 'warn', ...extra],
    env,
    build.cli,
  );
  jobs.push(job);
  return job;
}

/** Whether a table exists (a database stream-agg never ran on has none; the old code has no V002 tables of its own). */
async function tableExists(table: string): Promise<boolean> {
  const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

async function countRows(table: string, groupId: string): Promise<number | null> {
  if (!(await tableExists(table))) return null;
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE group_id = $1`, [groupId]);
  return Number(rows[0]?.n ?? 0);
}

async function stored(groupId: string): Promise<number> {
  try {
    const { rows } = await pool.query<{ n: string | null }>('SELECT sum(next_offset) AS n FROM stream_agg_offsets WHERE group_id = $1', [groupId]);
    return Number(rows[0]?.n ?? 0);
  } catch (error) {
    // On a new database stream-agg creates its tables only once it starts: nothing stored yet.
    if ((error as { code?: string }).code === '42P01') return 0;
    throw error;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms) / 1000);
const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);
const share = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 1e6) / 1e6 : null);

/** A record the fill judged late, by the benchmark's rule or by stream-agg's, with why. */
interface JudgedLate {
  topic: string;
  partition: number;
  offset: number;
  ind: number;
  eventTime: number;
  /** Highest event time produced into the partition before this record. */
  partitionTimeBefore: number;
  behindMs: number;
  windowEnd: number;
  /** More than 60 s behind its partition: the benchmark's "late on purpose". */
  onPurpose: boolean;
  /** Its window's end + the lateness at or before its partition's time: stream-agg's rule. */
  byJobRule: boolean;
}

interface Fill {
  topics: Topics;
  records: number;
  posts: number;
  /** Posts the generator repeated verbatim (its duplicateRate). */
  repeatPosts: number;
  /** First copies whose geo time the generator moved back by 1-10 min (its lateRate). */
  shiftedPosts: number;
  lateOnPurpose: number;
  lateByJobRule: number;
  /** Records of verbatim repeats. */
  repeatsOnPurpose: number;
  /** "topic/partition/offset" → the records judged late either way. */
  late: Map<string, JudgedLate>;
  /** "topic/partition/offset" of the records of verbatim repeats. */
  repeats: Set<string>;
  /** Whether Kafka's partitions hold as many records as kafkaPartition said (the offsets above depend on it). */
  offsetsMatchKafka: boolean;
}

/**
 * Emulated posts with event times 1 ms apart (1,000 posts a second of event time), every record
 * stamped with its post's geo time, starting an hour ago: Kafka deletes records whose timestamps
 * are older than the retention, so an old fixed date would empty the backlog mid-run.
 *
 * While producing, every record is judged as the job will meet it: records are keyed by ind and
 * land in Kafka's default partition of the key, in order, so each record's partition and offset,
 * and the highest event time produced into its partition before it, are known here. A record is
 * late on purpose when it is more than 60 s behind that and its post is not a verbatim repeat of
 * an earlier one (a repeat is dropped as a repeat, not as late). stream-agg's own rule (window
 * end + lateness at or before its partition's time) is applied too, for comparison.
 */
async function fillBacklog(topics: Topics, count: number): Promise<Fill> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const pins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const rate = 1_000;
  const startTimeMs = Date.now() - 3_600_000;
  const generator = generatePosts(pins, { ...DEFAULT_GENERATOR_OPTIONS, rate, seed: 5, startTimeMs });
  const batch: Record<string, Array<{ key: string; value: string; timestamp: string; headers: Record<string, string> }>> = {};
  const fill: Fill = { topics, records: 0, posts: count, repeatPosts: 0, shiftedPosts: 0, lateOnPurpose: 0, lateByJobRule: 0, repeatsOnPurpose: 0, late: new Map(), repeats: new Set(), offsetsMatchKafka: false };
  const inds = new Set<number>();
  const partitionTime = new Map<string, number>();
  const nextOffset = new Map<string, number>();
  for (let n = 0; n < count; n += 1) {
    const post = generator.next().value as Post;
    const t = parseEventTime(post.geo.timestamp) as number;
    const key = String(post.geo.ind);
    const partition = kafkaPartition(Buffer.from(key), PARTITIONS);
    const repeat = inds.has(post.geo.ind);
    inds.add(post.geo.ind);
    if (repeat) fill.repeatPosts += 1;
    // An unshifted post is at most the 2 s jitter after its slot (times are whole seconds); a shifted one a minute or more before it.
    else if (t < startTimeMs + Math.floor((n * 1_000) / rate) - 30_000) fill.shiftedPosts += 1;
    const timestamp = String(t);
    for (const typed of postRecords(post)) {
      const topic = topics[typed.type];
      const tp = `${topic}/${partition}`;
      const offset = nextOffset.get(tp) ?? 0;
      nextOffset.set(tp, offset + 1);
      const before = partitionTime.get(tp) ?? Number.NEGATIVE_INFINITY;
      const now = Math.max(before, t);
      partitionTime.set(tp, now);
      if (repeat) {
        fill.repeats.add(`${tp}/${offset}`);
        fill.repeatsOnPurpose += 1;
      } else {
        const windowEnd = windowStart(t, BACKLOG_WINDOW_MS) + BACKLOG_WINDOW_MS;
        const onPurpose = before - t > LATE_BEHIND_MS;
        const byJobRule = windowEnd <= now - BACKLOG_LATENESS_MS;
        if (onPurpose) fill.lateOnPurpose += 1;
        if (byJobRule) fill.lateByJobRule += 1;
        if (onPurpose || byJobRule) {
          fill.late.set(`${tp}/${offset}`, { topic, partition, offset, ind: post.geo.ind, eventTime: t, partitionTimeBefore: before, behindMs: before - t, windowEnd, onPurpose, byJobRule });
        }
      }
      (batch[topic] ??= []).push({ key, value: JSON.stringify(typed.record), timestamp, headers: { [RECORD_HEADERS.ingestTime]: timestamp } });
      fill.records += 1;
    }
    if (n % 2_000 === 1_999 || n === count - 1) {
      await producer.sendBatch({ acks: -1, topicMessages: Object.entries(batch).map(([topic, messages]) => ({ topic, messages })) });
      for (const k of Object.keys(batch)) delete batch[k];
    }
  }
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  try {
    let match = true;
    for (const topic of Object.values(topics)) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (Number(p.high) - Number(p.low) !== (nextOffset.get(`${topic}/${p.partition}`) ?? 0) || Number(p.low) !== 0) match = false;
      }
    }
    fill.offsetsMatchKafka = match;
  } finally {
    await admin.disconnect();
  }
  return fill;
}

interface SeenKeysSize {
  rows: number;
  /** Bytes of this group's rows (pg_column_size, without index and page overhead). */
  groupRowBytes: number;
  /** pg_total_relation_size of the table (indexes and TOAST included, every group's rows). */
  tableTotalBytes: number;
  tableTotalBytesBefore: number;
  tableRowsAllGroups: number;
}

async function seenKeysSize(groupId: string, tableTotalBytesBefore: number): Promise<SeenKeysSize | null> {
  if (!(await tableExists('stream_agg_seen_keys'))) return null;
  const { rows } = await pool.query<{ rows: string; bytes: string | null; total: string; all: string }>(
    `SELECT (SELECT count(*) FROM stream_agg_seen_keys WHERE group_id = $1) AS rows,
            (SELECT sum(pg_column_size(s.*)) FROM stream_agg_seen_keys s WHERE group_id = $1) AS bytes,
            pg_total_relation_size('stream_agg_seen_keys') AS total,
            (SELECT count(*) FROM stream_agg_seen_keys) AS all`,
    [groupId],
  );
  const r = rows[0];
  return { rows: Number(r?.rows ?? 0), groupRowBytes: Number(r?.bytes ?? 0), tableTotalBytes: Number(r?.total ?? 0), tableTotalBytesBefore, tableRowsAllGroups: Number(r?.all ?? 0) };
}

async function tableBytes(table: string): Promise<number> {
  if (!(await tableExists(table))) return 0;
  const { rows } = await pool.query<{ n: string }>('SELECT pg_total_relation_size($1::regclass) AS n', [table]);
  return Number(rows[0]?.n ?? 0);
}

/** Reads a filled backlog with one build of stream-agg in a fresh group, until every record is stored. */
async function readBacklog(build: Build, fill: Fill, groupId: string, extra: string[], latenessMs = BACKLOG_LATENESS_MS) {
  const { records } = fill;
  const postmaster = await postmasterPid(pool);
  const seenBytesBefore = await tableBytes('stream_agg_seen_keys');
  const backends = new BackendCpu(pool, groupId);
  const pgAtStart = postgresCpuSeconds(postmaster);
  const job = agg(build, fill.topics, groupId, ['--window', `${BACKLOG_WINDOW_MS / 60_000}m`, '--allowed-lateness', `${latenessMs / 1000}s`, ...extra]);
  const started = performance.now();
  let firstAt: number | undefined;
  let firstDone = 0;
  let rss = 0;
  let rssLate = 0;
  let cpuAtFirst = 0;
  let cpuLast = 0;
  let exited: number | string | undefined;
  void job.exited.then((code) => (exited = code));
  for (;;) {
    await sleep(250);
    const pid = job.child.pid as number;
    rss = Math.max(rss, procStatusKb(pid, 'VmHWM'));
    await backends.sample();
    const done = await stored(groupId);
    if (done > 0 && firstAt === undefined) {
      firstAt = performance.now();
      firstDone = done;
      cpuAtFirst = procCpuSeconds(pid) * 1000;
    }
    if (done > records / 2) rssLate = Math.max(rssLate, procStatusKb(pid, 'VmRSS'));
    const cpu = procCpuSeconds(pid) * 1000;
    if (Number.isFinite(cpu)) cpuLast = cpu;
    if (done >= records) break;
    if (exited !== undefined) throw new Error(`stream-agg (${build.cli}) exited with ${exited} after ${done} of ${records} records:\n${job.logs().slice(-4_000)}`);
    if (performance.now() - started > 900_000) throw new Error(`stream-agg did not finish the backlog: ${done} of ${records}`);
  }
  const finished = performance.now();
  const pgAtEnd = postgresCpuSeconds(postmaster);
  const load = loadavg()[0] ?? 0;
  const late = (await countRows('stream_agg_late_events', groupId)) ?? 0;
  const repeats = await countRows('stream_agg_repeats', groupId);
  const seen = await seenKeysSize(groupId, seenBytesBefore);
  const code = await job.stop();
  const steady = (finished - (firstAt as number)) / 1000;
  const pgCpu = pgAtEnd - pgAtStart;
  return {
    code: `${build.commit.slice(0, 7)}${build.dirty.length > 0 ? ` + uncommitted changes to ${build.dirty.join(', ')}` : ''}`,
    cli: build.cli,
    groupId,
    flags: ['--window', `${BACKLOG_WINDOW_MS / 60_000}m`, '--allowed-lateness', `${latenessMs / 1000}s`, ...extra].join(' '),
    records,
    wallSeconds: Math.round((finished - started) / 100) / 10,
    eventsPerSecondIncludingStartup: Math.round(records / ((finished - started) / 1000)),
    eventsPerSecondSteady: steady > 0 ? Math.round((records - firstDone) / steady) : null,
    lateEventsRecorded: late,
    repeatsRecorded: repeats,
    peakRssMb: Math.round(rss / 1024),
    rssSecondHalfMaxMb: Math.round(rssLate / 1024),
    // CPU of the job process per record (the figure that tells on a busy machine), and the load then.
    jobCpuMicrosPerEvent: round((cpuLast * 1_000) / records),
    jobCpuMicrosPerEventSteady: round(((cpuLast - cpuAtFirst) * 1_000) / (records - firstDone)),
    postgres: {
      // From the job's start until every record was stored, whoever the server worked for.
      serverCpuSeconds: round(pgCpu, 2),
      serverCpuMicrosPerEvent: round((pgCpu * 1e6) / records),
      // The backends serving this job alone (application_name), sampled every 250 ms.
      jobBackendsCpuSeconds: round(backends.seconds, 2),
      jobBackendsCpuMicrosPerEvent: round((backends.seconds * 1e6) / records),
      jobBackends: backends.backends,
    },
    seenKeys: seen,
    loadAverage1m: Math.round(load * 100) / 100,
    exitCode: code,
  };
}

/** Middle value (the mean of the two middle ones for an even count); null when there is none. */
function median(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const mid = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? (known[mid] as number) : round(((known[mid - 1] as number) + (known[mid] as number)) / 2);
}

/**
 * One steady-part figure lasts about two seconds on this backlog and moves by a third from run to
 * run (flushes land in steps, sampled every 250 ms), so before and now are read ROUNDS times each,
 * alternating and in mirrored order (before-now, now-before, ...) so drift in the machine's load
 * falls on both alike, and compared by their medians.
 */
const ROUNDS = Number(process.env.PINPIPE_BENCH_ROUNDS ?? 3);

async function throughput(now: Build, before: Build) {
  const topics = await freshTopics('backlog');
  progress(`producing the backlog (${posts} posts)`);
  const fill = await fillBacklog(topics, posts);
  const olds: Awaited<ReturnType<typeof readBacklog>>[] = [];
  const curs: Awaited<ReturnType<typeof readBacklog>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['before', 'now'] as const) : (['now', 'before'] as const);
    for (const which of order) {
      const build = which === 'before' ? before : now;
      progress(`round ${round + 1} of ${ROUNDS}: reading it with the code ${which} (${build.commit.slice(0, 7)})`);
      const run = await readBacklog(build, fill, `bench-agg-backlog-${which}-${round}-${stamp}`, [], COMPARED_LATENESS_MS);
      (which === 'before' ? olds : curs).push(run);
    }
  }
  progress('reading it with the code now at the default lateness');
  const atDefault = await readBacklog(now, fill, `bench-agg-backlog-default-${stamp}`, []);
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? Math.round((a / b) * 100) / 100 : null);
  const medianOf = (runs: typeof olds, pick: (run: (typeof olds)[number]) => number | null) => median(runs.map(pick));
  const medians = (runs: typeof olds) => ({
    jobCpuMicrosPerEvent: medianOf(runs, (r) => r.jobCpuMicrosPerEvent),
    jobCpuMicrosPerEventSteady: medianOf(runs, (r) => r.jobCpuMicrosPerEventSteady),
    eventsPerSecondSteady: medianOf(runs, (r) => r.eventsPerSecondSteady),
    eventsPerSecondIncludingStartup: medianOf(runs, (r) => r.eventsPerSecondIncludingStartup),
    postgresServerCpuMicrosPerEvent: medianOf(runs, (r) => r.postgres.serverCpuMicrosPerEvent),
    postgresJobBackendsCpuMicrosPerEvent: medianOf(runs, (r) => r.postgres.jobBackendsCpuMicrosPerEvent),
  });
  const mOld = medians(olds);
  const mCur = medians(curs);
  const cpuRatio = ratio(mCur.jobCpuMicrosPerEvent, mOld.jobCpuMicrosPerEvent);
  const cpuRatioSteady = ratio(mCur.jobCpuMicrosPerEventSteady, mOld.jobCpuMicrosPerEventSteady);
  const perRun = (runs: typeof olds, pick: (run: (typeof olds)[number]) => number | null) => runs.map(pick);
  const { code: _code, cli: _cli, records: _records, ...nowFigures } = curs[curs.length - 1] as (typeof curs)[number];
  return {
    records: fill.records,
    window: `${BACKLOG_WINDOW_MS / 60_000}m`,
    allowedLateness: `${COMPARED_LATENESS_MS / 1000}s`,
    rounds: ROUNDS,
    // The last run of the code now (the fields other benchmarks read), then every run and the medians.
    ...nowFigures,
    code: (curs[0] as (typeof curs)[number]).code,
    lateOnPurpose: fill.lateOnPurpose,
    repeatsOnPurpose: fill.repeatsOnPurpose,
    before: olds[olds.length - 1],
    runs: {
      jobCpuMicrosPerEvent: { before: perRun(olds, (r) => r.jobCpuMicrosPerEvent), now: perRun(curs, (r) => r.jobCpuMicrosPerEvent) },
      jobCpuMicrosPerEventSteady: { before: perRun(olds, (r) => r.jobCpuMicrosPerEventSteady), now: perRun(curs, (r) => r.jobCpuMicrosPerEventSteady) },
      eventsPerSecondSteady: { before: perRun(olds, (r) => r.eventsPerSecondSteady), now: perRun(curs, (r) => r.eventsPerSecondSteady) },
      postgresServerCpuMicrosPerEvent: { before: perRun(olds, (r) => r.postgres.serverCpuMicrosPerEvent), now: perRun(curs, (r) => r.postgres.serverCpuMicrosPerEvent) },
    },
    medians: { before: mOld, now: mCur },
    nowAtDefaultLateness: atDefault,
    nowOverBefore: {
      jobCpuMicrosPerEvent: cpuRatio,
      jobCpuMicrosPerEventSteady: cpuRatioSteady,
      eventsPerSecondSteady: ratio(mCur.eventsPerSecondSteady, mOld.eventsPerSecondSteady),
      eventsPerSecondIncludingStartup: ratio(mCur.eventsPerSecondIncludingStartup, mOld.eventsPerSecondIncludingStartup),
      postgresServerCpuMicrosPerEvent: ratio(mCur.postgresServerCpuMicrosPerEvent, mOld.postgresServerCpuMicrosPerEvent),
      postgresServerCpuMicrosPerEventDifference: round((mCur.postgresServerCpuMicrosPerEvent ?? Number.NaN) - (mOld.postgresServerCpuMicrosPerEvent ?? Number.NaN)),
      postgresJobBackendsCpuMicrosPerEvent: ratio(mCur.postgresJobBackendsCpuMicrosPerEvent, mOld.postgresJobBackendsCpuMicrosPerEvent),
      postgresJobBackendsCpuMicrosPerEventDifference: round((mCur.postgresJobBackendsCpuMicrosPerEvent ?? Number.NaN) - (mOld.postgresJobBackendsCpuMicrosPerEvent ?? Number.NaN)),
      // The job's CPU per record over the medians of the rounds, start-up included: now at most 1.2 × before.
      atMost20PercentSlowerPerRecord: cpuRatio !== null && cpuRatio <= 1.2,
      atMost20PercentSlowerPerRecordSteady: cpuRatioSteady !== null && cpuRatioSteady <= 1.2,
    },
  };
}

/** Where the job's late events and repeats differ from the fill's judgement, record by record. */
async function compareLate(fill: Fill, groupId: string) {
  const { rows: lateRows } = await pool.query<{ topic: string; partition: number; kafka_offset: string; watermark_ms: string }>(
    `SELECT topic, partition, kafka_offset, (extract(epoch FROM watermark) * 1000)::bigint AS watermark_ms FROM stream_agg_late_events WHERE group_id = $1`,
    [groupId],
  );
  const counted = new Map(lateRows.map((r) => [`${r.topic}/${r.partition}/${r.kafka_offset}`, Number(r.watermark_ms)]));
  const describe = (j: JudgedLate) => ({
    topic: j.topic,
    partition: j.partition,
    offset: j.offset,
    ind: j.ind,
    eventTime: new Date(j.eventTime).toISOString(),
    behindPartitionSeconds: j.behindMs / 1000,
    windowEnd: new Date(j.windowEnd).toISOString(),
    windowEndPlusLatenessBehindPartitionSeconds: (j.partitionTimeBefore - (j.windowEnd + BACKLOG_LATENESS_MS)) / 1000,
    onPurpose: j.onPurpose,
    byJobRule: j.byJobRule,
  });
  const onPurposeNotCounted: JudgedLate[] = [];
  const byRuleNotCounted: JudgedLate[] = [];
  for (const [k, j] of fill.late) {
    if (counted.has(k)) continue;
    if (j.onPurpose) onPurposeNotCounted.push(j);
    if (j.byJobRule) byRuleNotCounted.push(j);
  }
  const countedNotOnPurpose: string[] = [];
  const countedNotByRule: string[] = [];
  for (const k of counted.keys()) {
    const j = fill.late.get(k);
    if (!j?.onPurpose) countedNotOnPurpose.push(k);
    if (!j?.byJobRule) countedNotByRule.push(k);
  }
  const { rows: repeatRows } = await pool.query<{ k: string; reason: string }>(
    `SELECT topic || '/' || partition || '/' || kafka_offset AS k, reason FROM stream_agg_repeats WHERE group_id = $1`,
    [groupId],
  );
  const repeatsCounted = new Set(repeatRows.map((r) => r.k));
  let repeatsMissed = 0;
  for (const k of fill.repeats) if (!repeatsCounted.has(k)) repeatsMissed += 1;
  let repeatsExtra = 0;
  for (const k of repeatsCounted) if (!fill.repeats.has(k)) repeatsExtra += 1;
  const examples = (list: readonly JudgedLate[]) => list.slice(0, 5).map(describe);
  const keyed = (list: readonly string[]) => list.slice(0, 5).map((k) => (fill.late.has(k) ? describe(fill.late.get(k) as JudgedLate) : { record: k, watermark: new Date(counted.get(k) as number).toISOString() }));
  return {
    lateCountedNotOnPurpose: { records: countedNotOnPurpose.length, examples: keyed(countedNotOnPurpose) },
    lateOnPurposeNotCounted: {
      records: onPurposeNotCounted.length,
      // More than 60 s behind, yet its window's end + lateness is not behind its partition's time.
      withinWindowLateness: onPurposeNotCounted.filter((j) => !j.byJobRule).length,
      examples: examples(onPurposeNotCounted),
    },
    lateCountedNotByJobRule: { records: countedNotByRule.length, examples: keyed(countedNotByRule) },
    lateByJobRuleNotCounted: { records: byRuleNotCounted.length, examples: examples(byRuleNotCounted) },
    repeatReasons: Object.fromEntries([...new Set(repeatRows.map((r) => r.reason))].map((reason) => [reason, repeatRows.filter((r) => r.reason === reason).length])),
    repeatsOnPurposeNotCounted: repeatsMissed,
    repeatsCountedNotOnPurpose: repeatsExtra,
  };
}

async function lateness(now: Build) {
  const topics = await freshTopics('late');
  progress(`producing the second backlog (${latePosts} posts)`);
  const fill = await fillBacklog(topics, latePosts);
  progress('reading it with the code now');
  const groupId = `bench-agg-late-${stamp}`;
  const run = await readBacklog(now, fill, groupId, []);
  const lateCounted = run.lateEventsRecorded;
  const differences = await compareLate(fill, groupId);
  return {
    records: fill.records,
    posts: fill.posts,
    window: `${BACKLOG_WINDOW_MS / 60_000}m`,
    allowedLateness: `${BACKLOG_LATENESS_MS / 1000}s`,
    lateCounted,
    lateOnPurpose: fill.lateOnPurpose,
    lateCountedShare: share(lateCounted, fill.records),
    lateOnPurposeShare: share(fill.lateOnPurpose, fill.records),
    // stream-agg's own rule applied while producing, and the posts the generator moved back by 1-10 min (× 3 records).
    lateByJobRule: fill.lateByJobRule,
    recordsShiftedByGenerator: fill.shiftedPosts * 3,
    repeatsCounted: run.repeatsRecorded,
    repeatsOnPurpose: fill.repeatsOnPurpose,
    targetMet: lateCounted === fill.lateOnPurpose,
    repeatsMatch: run.repeatsRecorded === fill.repeatsOnPurpose && differences.repeatsOnPurposeNotCounted === 0 && differences.repeatsCountedNotOnPurpose === 0,
    offsetsMatchKafka: fill.offsetsMatchKafka,
    differences,
    eventsPerSecondSteady: run.eventsPerSecondSteady,
    eventsPerSecondIncludingStartup: run.eventsPerSecondIncludingStartup,
    jobCpuMicrosPerEvent: run.jobCpuMicrosPerEvent,
    peakRssMb: run.peakRssMb,
    rssSecondHalfMaxMb: run.rssSecondHalfMaxMb,
    postgres: run.postgres,
    seenKeys: run.seenKeys,
    loadAverage1m: run.loadAverage1m,
    exitCode: run.exitCode,
  };
}

async function freshness(now: Build) {
  const topics = await freshTopics('live');
  const groupId = `bench-agg-live-${stamp}`;
  const job = agg(now, topics, groupId, ['--window', `${LIVE_WINDOW_MS}ms`, '--allowed-lateness', `${LIVE_LATENESS_MS}ms`]);
  // Let the member join before the clock starts.
  await sleep(8_000);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const pins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const generator = generatePosts(pins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 9, startTimeMs: Date.now() });
  /** Per send: wall time, window, posts sent into that window so far (inclusive), and how many. */
  const sends: Array<{ at: number; window: number; cumulative: number; n: number }> = [];
  const sentPerWindow = new Map<number, number>();
  const visibleAt = new Map<string, number>();
  const finalAt = new Map<number, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const { rows } = await pool.query<{ ms: string; posts: string; final: boolean }>(
        `SELECT (extract(epoch FROM window_start) * 1000)::bigint AS ms, sum(posts) AS posts, bool_and(final) AS final
           FROM stream_agg_pin_window WHERE group_id = $1 GROUP BY window_start`,
        [groupId],
      );
      const now = Date.now();
      for (const r of rows) {
        const ws = Number(r.ms);
        for (const s of sends) {
          if (s.window === ws && !visibleAt.has(`${s.at}/${s.cumulative}`) && Number(r.posts) >= s.cumulative) visibleAt.set(`${s.at}/${s.cumulative}`, now);
        }
        if (r.final && !finalAt.has(ws)) finalAt.set(ws, now);
      }
      await sleep(100);
    }
  })();
  const endAt = Date.now() + liveSeconds * 1_000;
  const tick = 100;
  /** unique_id → UTC day of its first copy, as stream-agg's dedupe keys pins. */
  const firstCopyDay = new Map<string, number>();
  let postsSent = 0;
  let repeatPostsSent = 0;
  while (Date.now() < endAt) {
    const at = Date.now();
    const messages: Record<string, Array<{ key: string; value: string; timestamp: string }>> = { [topics.pin]: [], [topics.geo]: [], [topics.user]: [] };
    const perTick = (LIVE_POSTS_PER_SECOND * tick) / 1_000;
    // Only first copies count: stream-agg drops the generator's verbatim repeats (the same
    // unique_id on the same UTC day within the dedupe horizon), so a window's row never reaches
    // the posts sent when repeats are counted in (the last send of each window would look never seen).
    let n = 0;
    for (let i = 0; i < perTick; i += 1) {
      const post = generator.next().value as Post;
      const day = Math.floor(at / 86_400_000);
      if (firstCopyDay.get(post.pin.unique_id) === day) repeatPostsSent += 1;
      else {
        firstCopyDay.set(post.pin.unique_id, day);
        n += 1;
      }
      for (const typed of postRecords(post)) messages[topics[typed.type]]?.push({ key: String(post.geo.ind), value: JSON.stringify(typed.record), timestamp: String(at) });
    }
    await producer.sendBatch({ acks: -1, topicMessages: Object.entries(messages).map(([topic, m]) => ({ topic, messages: m })) });
    postsSent += perTick;
    const window = Math.floor(at / LIVE_WINDOW_MS) * LIVE_WINDOW_MS;
    const cumulative = (sentPerWindow.get(window) ?? 0) + n;
    sentPerWindow.set(window, cumulative);
    if (n > 0) sends.push({ at, window, cumulative, n });
    await sleep(Math.max(0, at + tick - Date.now()));
  }
  await sleep(LIVE_WINDOW_MS + LIVE_LATENESS_MS + 5_000);
  polling = false;
  await poller;
  await producer.disconnect();
  await job.stop();

  const eventDelays: number[] = [];
  let unseen = 0;
  for (const s of sends) {
    const seen = visibleAt.get(`${s.at}/${s.cumulative}`);
    if (seen === undefined) unseen += s.n;
    else for (let i = 0; i < s.n; i += 1) eventDelays.push(seen - s.at);
    // (events: first copies of pins whose row became visible; neverSeen: those that never did)
  }
  eventDelays.sort((a, b) => a - b);
  // Windows wholly inside the live run whose end + lateness passed while records still flowed.
  const firstWindow = Math.floor((sends[0]?.at ?? 0) / LIVE_WINDOW_MS) * LIVE_WINDOW_MS + LIVE_WINDOW_MS;
  const closeDelays: number[] = [];
  for (const [ws, at] of finalAt) {
    if (ws >= firstWindow && ws + LIVE_WINDOW_MS + LIVE_LATENESS_MS < endAt) closeDelays.push(at - (ws + LIVE_WINDOW_MS + LIVE_LATENESS_MS));
  }
  closeDelays.sort((a, b) => a - b);
  const closeP99 = percentile(closeDelays, 99);
  return {
    postsPerSecond: LIVE_POSTS_PER_SECOND,
    eventsPerSecond: LIVE_POSTS_PER_SECOND * 3,
    seconds: liveSeconds,
    postsSent,
    // The generator's verbatim repeats, dropped by stream-agg: not waited for below.
    repeatPostsSent,
    window: `${LIVE_WINDOW_MS / 1000}s`,
    allowedLateness: `${LIVE_LATENESS_MS / 1000}s`,
    eventToRowVisibleSeconds: { p50: seconds(percentile(eventDelays, 50)), p99: seconds(percentile(eventDelays, 99)), max: seconds(eventDelays.at(-1) ?? null), events: eventDelays.length, neverSeen: unseen },
    windowFinalAfterEndPlusLatenessSeconds: { p50: seconds(percentile(closeDelays, 50)), p99: seconds(closeP99), windows: closeDelays.length },
    targetMet: closeP99 !== null && closeP99 <= 2_000,
  };
}

/** Every table stream-agg keys by group, children before stream_agg_groups. */
const GROUP_TABLES = [
  'stream_agg_pin_followers',
  'stream_agg_pin_posters',
  'stream_agg_pin_window',
  'stream_agg_geo_window',
  'stream_agg_user_window',
  'stream_agg_late_events',
  'stream_agg_repeats',
  'stream_agg_seen_keys',
  'stream_agg_offsets',
  'stream_agg_groups',
];

/** Removes this run's topics and its groups' rows, so nothing of it stays in Kafka or PostgreSQL. */
async function cleanUp(): Promise<void> {
  for (const job of jobs) {
    if (job.child.exitCode === null && job.child.signalCode === null) {
      job.child.kill('SIGKILL');
      await job.exited;
    }
  }
  const failures: string[] = [];
  if (groups.length > 0) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const table of GROUP_TABLES) {
        const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
        if (rows[0]?.t) await client.query(`DELETE FROM ${table} WHERE group_id = ANY($1::text[])`, [groups]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      failures.push(`PostgreSQL rows of ${groups.join(', ')}: ${(error as Error).message}`);
    } finally {
      client.release();
    }
  }
  try {
    await waitForKafka();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith('bench-agg-') && t.includes(stamp));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await admin.disconnect();
    }
  } catch (error) {
    failures.push(`topics bench-agg-*-${stamp}: ${(error as Error).message}`);
  }
  if (failures.length > 0) throw new Error(failures.join('; '));
}

try {
  // Built first, so compiling does not overlap a measurement.
  const before = buildAt(`${CHANGE}^`, BEFORE_DIR);
  const now = currentBuild();
  const backlog = await throughput(now, before);
  const late = latePosts > 0 ? await lateness(now) : null;
  progress(`live stream for ${liveSeconds} s`);
  const live = liveSeconds > 0 ? await freshness(now) : null;
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'stream-agg',
        posts,
        code: { before: `${before.commit.slice(0, 7)} (${CHANGE}^, ${BEFORE_DIR})`, now: backlog.code },
        backlog,
        lateness: late,
        live,
        target: {
          eventsPerSecond: 50_000,
          freshnessP99: 'window end + allowed lateness + 2 s',
          jobCpuPerRecord: 'at most 1.2 × before',
          late: 'records counted late = records late on purpose',
        },
        throughputTargetMet: (backlog.eventsPerSecondSteady ?? backlog.eventsPerSecondIncludingStartup) >= 50_000,
        cpuPerRecordTargetMet: backlog.nowOverBefore.atMost20PercentSlowerPerRecord,
        lateTargetMet: late?.targetMet ?? null,
        command: `npx tsx bench/stream-agg.ts ${posts} ${liveSeconds} ${latePosts}`,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await cleanUp().catch((error: unknown) => {
    progress(`clean-up failed: ${(error as Error).message}`);
    process.exitCode = 1;
  });
  await pool.end();
}
