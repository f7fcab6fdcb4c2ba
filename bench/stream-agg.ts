/**
 * stream-agg on the local stack: sustained events/s over a pre-produced backlog, then freshness
 * with windows closing on a live stream. Run: `npx tsx bench/stream-agg.ts [posts] [live-seconds]`
 * with the stack up and its settings exported (make bench does both). Prints one JSON object.
 *
 * Freshness is measured from outside, as a user sees it: the benchmark sends pin records stamped
 * with the wall clock, polls PostgreSQL every 100 ms, and takes, for each send, the first poll at
 * which its window's row counts that many posts (rows only grow, so this is when the send became
 * visible, give or take the poll interval). Window closing is measured the same way: the first
 * poll at which a window's rows are final, against window end + allowed lateness.
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { parseEventTime, RECORD_HEADERS } from '../jobs/lib/contracts.js';
import { createKafka, ensureTopics } from '../jobs/lib/kafka.js';
import { createLogger } from '../jobs/lib/logger.js';
import { bundledDataFile } from '../jobs/lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { startJob } from '../jobs/test/process.js';
import { procCpuSeconds, procStatusKb } from './proc.js';
import { serviceEnv, serviceSettings } from '../jobs/test/services.js';

const posts = Number(process.argv[2] ?? 100_000);
const liveSeconds = Number(process.argv[3] ?? 40);
const LIVE_POSTS_PER_SECOND = 1_000;
const LIVE_WINDOW_MS = 10_000;
const LIVE_LATENESS_MS = 2_000;
const settings = serviceSettings();
const logger = createLogger('bench', 'warn');
const kafka = createKafka(settings, logger);
const pool = new pg.Pool({ connectionString: settings.pgUrl, max: 2 });
const stamp = Date.now().toString(36);

interface Topics {
  pin: string;
  geo: string;
  user: string;
}

async function freshTopics(name: string): Promise<Topics> {
  const topics = { pin: `bench-agg-${name}-pin-${stamp}`, geo: `bench-agg-${name}-geo-${stamp}`, user: `bench-agg-${name}-user-${stamp}` };
  await ensureTopics(kafka, Object.values(topics), 3);
  return topics;
}

function agg(topics: Topics, groupId: string, extra: string[]) {
  return startJob(
    ['stream-agg', '--pin-topic', topics.pin, '--geo-topic', topics.geo, '--user-topic', topics.user, '--group-id', groupId, '--metrics-port', '0', '--log-level', 'warn', ...extra],
    serviceEnv(),
  );
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

/**
 * Emulated posts with event times 1 ms apart (1,000 posts a second of event time), every record
 * stamped with its post's time, starting an hour ago: Kafka deletes records whose timestamps are
 * older than the retention, so an old fixed date would empty the backlog mid-run.
 */
async function fillBacklog(topics: Topics): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const pins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const generator = generatePosts(pins, { ...DEFAULT_GENERATOR_OPTIONS, rate: 1_000, seed: 5, startTimeMs: Date.now() - 3_600_000 });
  const batch: Record<string, Array<{ key: string; value: string; timestamp: string; headers: Record<string, string> }>> = {};
  let records = 0;
  for (let n = 0; n < posts; n += 1) {
    const post = generator.next().value as Parameters<typeof postRecords>[0];
    const timestamp = String(parseEventTime(post.geo.timestamp));
    for (const typed of postRecords(post)) {
      (batch[topics[typed.type]] ??= []).push({ key: String(post.geo.ind), value: JSON.stringify(typed.record), timestamp, headers: { [RECORD_HEADERS.ingestTime]: timestamp } });
      records += 1;
    }
    if (n % 2_000 === 1_999 || n === posts - 1) {
      await producer.sendBatch({ acks: -1, topicMessages: Object.entries(batch).map(([topic, messages]) => ({ topic, messages })) });
      for (const k of Object.keys(batch)) delete batch[k];
    }
  }
  await producer.disconnect();
  return records;
}

async function throughput() {
  const topics = await freshTopics('backlog');
  const records = await fillBacklog(topics);
  const groupId = `bench-agg-backlog-${stamp}`;
  // Lateness 5 min: read from scratch, the topics' partitions are minutes of event time apart, and
  // with the per-job watermark (highest time seen) a short lateness would make much of it late.
  const job = agg(topics, groupId, ['--window', '1m', '--allowed-lateness', '5m']);
  const started = performance.now();
  let firstAt: number | undefined;
  let firstDone = 0;
  let rss = 0;
  let rssLate = 0;
  let cpuAtFirst = 0;
  let cpuLast = 0;
  for (;;) {
    await sleep(250);
    const pid = job.child.pid as number;
    rss = Math.max(rss, procStatusKb(pid, 'VmHWM'));
    const done = await stored(groupId);
    if (done > 0 && firstAt === undefined) {
      firstAt = performance.now();
      firstDone = done;
      cpuAtFirst = procCpuSeconds(pid) * 1000;
    }
    if (done > records / 2) rssLate = Math.max(rssLate, procStatusKb(pid, 'VmRSS'));
    cpuLast = procCpuSeconds(pid) * 1000;
    if (done >= records) break;
    if (performance.now() - started > 900_000) throw new Error(`stream-agg did not finish the backlog: ${done} of ${records}`);
  }
  const finished = performance.now();
  const { rows } = await pool.query<{ late: string }>('SELECT count(*) AS late FROM stream_agg_late_events WHERE group_id = $1', [groupId]);
  await job.stop();
  const steady = (finished - (firstAt as number)) / 1000;
  return {
    records,
    window: '1m',
    allowedLateness: '5m',
    wallSeconds: Math.round((finished - started) / 100) / 10,
    eventsPerSecondIncludingStartup: Math.round(records / ((finished - started) / 1000)),
    eventsPerSecondSteady: steady > 0 ? Math.round((records - firstDone) / steady) : null,
    lateEventsRecorded: Number(rows[0]?.late ?? 0),
    peakRssMb: Math.round(rss / 1024),
    rssSecondHalfMaxMb: Math.round(rssLate / 1024),
    // CPU of the job process per record (the figure that tells on a busy machine), and the load then.
    jobCpuMicrosPerEvent: Math.round((cpuLast * 10_000) / records) / 10,
    jobCpuMicrosPerEventSteady: Math.round(((cpuLast - cpuAtFirst) * 10_000) / (records - firstDone)) / 10,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

async function freshness() {
  const topics = await freshTopics('live');
  const groupId = `bench-agg-live-${stamp}`;
  const job = agg(topics, groupId, ['--window', `${LIVE_WINDOW_MS}ms`, '--allowed-lateness', `${LIVE_LATENESS_MS}ms`]);
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
  while (Date.now() < endAt) {
    const at = Date.now();
    const messages: Record<string, Array<{ key: string; value: string; timestamp: string }>> = { [topics.pin]: [], [topics.geo]: [], [topics.user]: [] };
    const n = (LIVE_POSTS_PER_SECOND * tick) / 1_000;
    for (let i = 0; i < n; i += 1) {
      const post = generator.next().value as Parameters<typeof postRecords>[0];
      for (const typed of postRecords(post)) messages[topics[typed.type]]?.push({ key: String(post.geo.ind), value: JSON.stringify(typed.record), timestamp: String(at) });
    }
    await producer.sendBatch({ acks: -1, topicMessages: Object.entries(messages).map(([topic, m]) => ({ topic, messages: m })) });
    const window = Math.floor(at / LIVE_WINDOW_MS) * LIVE_WINDOW_MS;
    const cumulative = (sentPerWindow.get(window) ?? 0) + n;
    sentPerWindow.set(window, cumulative);
    sends.push({ at, window, cumulative, n });
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
    window: `${LIVE_WINDOW_MS / 1000}s`,
    allowedLateness: `${LIVE_LATENESS_MS / 1000}s`,
    eventToRowVisibleSeconds: { p50: seconds(percentile(eventDelays, 50)), p99: seconds(percentile(eventDelays, 99)), max: seconds(eventDelays.at(-1) ?? null), events: eventDelays.length, neverSeen: unseen },
    windowFinalAfterEndPlusLatenessSeconds: { p50: seconds(percentile(closeDelays, 50)), p99: seconds(closeP99), windows: closeDelays.length },
    targetMet: closeP99 !== null && closeP99 <= 2_000,
  };
}

const backlog = await throughput();
const live = await freshness();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'stream-agg',
      posts,
      backlog,
      live,
      target: { eventsPerSecond: 50_000, freshnessP99: 'window end + allowed lateness + 2 s' },
      throughputTargetMet: (backlog.eventsPerSecondSteady ?? backlog.eventsPerSecondIncludingStartup) >= 50_000,
    },
    null,
    2,
  )}\n`,
);
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith('bench-agg-') && t.includes(stamp)) });
await admin.disconnect();
await pool.end();
