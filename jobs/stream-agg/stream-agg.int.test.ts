import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka, Producer } from 'kafkajs';
import pg from 'pg';
import { parseEventTime, RECORD_HEADERS, type RecordType } from '../lib/contracts.js';
import { createKafka, ensureTopics } from '../lib/kafka.js';
import { bundledDataFile } from '../lib/paths.js';
import { generatePosts, postRecords, DEFAULT_GENERATOR_OPTIONS } from '../emulate/generator.js';
import { loadSeedPins } from '../emulate/seed-pins.js';
import { createLogger } from '../lib/logger.js';
import { waitFor } from '../test/lake.js';
import { loadMigrations, migrate } from './migrations.js';
import { startJob, type JobProcess } from '../test/process.js';
import { serviceEnv, serviceSettings, uniqueName } from '../test/services.js';

const settings = serviceSettings();
const logger = createLogger('test', 'error');
let kafka: Kafka;
let producer: Producer;
let pool: pg.Pool;
const running: JobProcess[] = [];

const SEC = 1_000;
/**
 * An hour boundary in the recent past: Kafka deletes records whose timestamps are older than the
 * topic's retention (7 days by default), so fixed dates would vanish in the middle of a test.
 */
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

beforeAll(async () => {
  kafka = createKafka(settings, logger);
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  pool = new pg.Pool({ connectionString: settings.pgUrl, max: 2 });
  pool.on('error', () => undefined); // the PostgreSQL restart test breaks idle connections on purpose
  // The tests read the tables before the job may have created them.
  await migrate(pool, await loadMigrations(), logger);
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await producer.disconnect();
  await pool.end();
});

interface Topics {
  pin: string;
  geo: string;
  user: string;
}

async function freshTopics(): Promise<Topics> {
  const base = uniqueName('it-agg').replace(/_/g, '-');
  const topics = { pin: `${base}-pin`, geo: `${base}-geo`, user: `${base}-user` };
  await ensureTopics(kafka, Object.values(topics), 3);
  return topics;
}

function agg(topics: Topics, group: string, extra: string[] = []): JobProcess {
  const job = startJob(
    ['stream-agg', '--pin-topic', topics.pin, '--geo-topic', topics.geo, '--user-topic', topics.user, '--group-id', group, '--metrics-port', '0', '--flush-interval-ms', '200', ...extra],
    serviceEnv(),
  );
  running.push(job);
  return job;
}

/** Every record made here is a different one (its own unique_id or ind), unless a test repeats it on purpose. */
let nextKey = 1;
const pin = (category: string, poster: string | undefined, followers: string, media: string) =>
  JSON.stringify({
    index: nextKey,
    unique_id: `u${nextKey++}`,
    title: 't',
    description: 'd',
    ...(poster === undefined ? {} : { poster_name: poster }),
    follower_count: followers,
    tag_list: 'x',
    is_image_or_video: media,
    image_src: 's',
    downloaded: 1,
    save_location: 'Local save in /data/x',
    category,
  });
const geo = (country: string) => JSON.stringify({ ind: nextKey++, timestamp: '2026-03-01 10:00:00', latitude: 0, longitude: 0, country });
const user = (age: number) => JSON.stringify({ ind: nextKey++, first_name: 'a', last_name: 'b', age, date_joined: '2020-01-01 00:00:00' });

async function send(topic: string, messages: Array<[number, string, number?]>): Promise<void> {
  await producer.send({ topic, acks: -1, messages: messages.map(([at, value, partition]) => ({ value, timestamp: String(at), partition: partition ?? 0 })) });
}

/** Records of a group reflected in PostgreSQL (sum of stored next offsets over its partitions). */
async function storedRecords(group: string): Promise<number> {
  const { rows } = await pool.query<{ n: string | null }>('SELECT sum(next_offset) AS n FROM stream_agg_offsets WHERE group_id = $1', [group]);
  return Number(rows[0]?.n ?? 0);
}

async function topicRecords(topics: Topics): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    for (const t of Object.values(topics)) for (const p of await admin.fetchTopicOffsets(t)) total += Number(p.high);
    return total;
  } finally {
    await admin.disconnect();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The group's watermark as stored (epoch ms), or null before there is one. */
async function groupWatermark(group: string): Promise<number | null> {
  const { rows } = await pool.query<{ ms: string | null }>('SELECT (extract(epoch FROM watermark) * 1000)::bigint AS ms FROM stream_agg_groups WHERE group_id = $1', [group]);
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}

const CATEGORIES = ['art', 'beauty', 'diy', 'food', 'travel'];
const FOLLOWERS = ['13k', '1M', '850', 'User Info Error', '2k', '1.5k', '7'];
const MEDIA = ['image', 'video', 'multi-video(story page format)'];

/** Event time of post n: 20 ms apart, so 5,000 posts span ten 10-second windows. */
const postTime = (n: number) => T0 + n * 20;

/** Posts n in [from, from + count): a pin, a geo and a user record each, keyed by n like ingest does. */
async function producePosts(topics: Topics, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 250) {
    const ns = Array.from({ length: Math.min(250, from + count - start) }, (_, i) => start + i);
    const message = (n: number, value: string) => ({ key: String(n), value, timestamp: String(postTime(n)) });
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        { topic: topics.pin, messages: ns.map((n) => message(n, pin(CATEGORIES[n % 5] as string, `P${n % 37}`, FOLLOWERS[n % 7] as string, MEDIA[n % 3] as string))) },
        { topic: topics.geo, messages: ns.map((n) => message(n, geo(`C${n % 11}`))) },
        { topic: topics.user, messages: ns.map((n) => message(n, user(15 + (n % 60)))) },
      ],
    });
  }
}

/** [window start, category, posts] that posts [from, from + count) must give with 10 s windows, sorted like pinRows. */
async function expectedPins(from: number, count: number): Promise<Array<[string, string, number]>> {
  const counts = new Map<string, number>();
  for (let n = from; n < from + count; n += 1) {
    const k = `${iso(Math.floor(postTime(n) / 10_000) * 10_000)}|${CATEGORIES[n % 5] as string}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => [...(k.split('|') as [string, string]), n]);
}

type Row = Record<string, unknown>;

async function pinRows(group: string): Promise<Row[]> {
  const { rows } = await pool.query<Row>(
    `SELECT window_start, window_end, category, posts::int, distinct_posters::int, follower_n::int, avg_follower_count, median_follower_count, image_posts::int, video_posts::int, image_share, video_share, final
       FROM stream_agg_pin_window WHERE group_id = $1 ORDER BY window_start, category`,
    [group],
  );
  return rows.map((r) => ({ ...r, window_start: (r.window_start as Date).toISOString(), window_end: (r.window_end as Date).toISOString() }));
}

async function countRows(table: 'geo' | 'user', group: string) {
  const column = table === 'geo' ? 'country' : 'age_group';
  const { rows } = await pool.query(`SELECT window_start, ${column} AS key, events::int, final FROM stream_agg_${table}_window WHERE group_id = $1 ORDER BY window_start, ${column}`, [group]);
  return rows.map((r: Row) => [(r.window_start as Date).toISOString(), r.key, r.events, r.final]);
}

describe('stream-agg against real Kafka and PostgreSQL', () => {
  it('turns a known input into exactly the expected window rows, final once the watermark passes', async () => {
    const topics = await freshTopics();
    const group = uniqueName('g-agg-known');
    await send(topics.pin, [
      [T0 + 1 * SEC, pin('art', 'Ann', '13k', 'image')],
      [T0 + 2 * SEC, pin('art', 'Ann', '1M', 'video')],
      [T0 + 3 * SEC, pin('art', 'Bob', 'User Info Error', 'multi-video(story page format)')],
      [T0 + 4 * SEC, pin('art', 'User Info Error', '2k', 'image')],
      [T0 + 5 * SEC, pin('food', 'Cid', '850', 'image')],
      [T0 + 6 * SEC, pin('food', undefined, '1.5k', 'image')],
      [T0 + 61 * SEC, pin('art', 'Dan', '1k', 'image')],
      [T0 + 62 * SEC, pin('art', 'Eve', '3k', 'image'), 1],
    ]);
    await send(topics.geo, [
      [T0 + 1 * SEC, geo('Chile')],
      [T0 + 2 * SEC, geo('Chile'), 1],
      [T0 + 3 * SEC, geo('Peru'), 2],
      [T0 + 65 * SEC, geo('Peru')],
      [T0 + 66 * SEC, '{"country": 7}'], // invalid: counted in a metric, not in a window
    ]);
    await send(topics.user, [
      [T0 + 1 * SEC, user(20)],
      [T0 + 2 * SEC, user(30)],
      [T0 + 3 * SEC, user(17)],
      [T0 + 4 * SEC, user(60)],
      [T0 + 5 * SEC, user(200)],
      [T0 + 70 * SEC, user(40)],
    ]);
    // Lateness 30 s: once every partition is idle (read to its end, nothing new for 2 s), the
    // watermark is the highest event time (10:01:10) minus 30 s, so no record is late and no window final...
    const job = agg(topics, group, ['--window', '1m', '--allowed-lateness', '30s', '--idle-timeout', '2s']);
    const total = await topicRecords(topics);
    expect(await waitFor(async () => (await storedRecords(group)) === total, 60_000)).toBe(true);
    expect(await waitFor(async () => (await groupWatermark(group)) === T0 + 40 * SEC, 30_000)).toBe(true);
    const early = await pinRows(group);
    expect(early.map((r) => [r.window_start, r.category, r.posts, r.final])).toEqual([
      [iso(T0), 'art', 4, false],
      [iso(T0), 'food', 2, false],
      [iso(T0 + 60 * SEC), 'art', 2, false],
    ]);
    // ...until a record at 10:03:20 moves the watermark to 10:02:50, past the end of both windows.
    await send(topics.geo, [[T0 + 200 * SEC, geo('Peru')]]);
    expect(await waitFor(async () => (await storedRecords(group)) === total + 1, 30_000)).toBe(true);
    expect(await waitFor(async () => (await groupWatermark(group)) === T0 + 170 * SEC, 30_000)).toBe(true);

    const w0 = iso(T0);
    const w0end = iso(T0 + 60 * SEC);
    const w1 = iso(T0 + 60 * SEC);
    const w1end = iso(T0 + 120 * SEC);
    expect(await pinRows(group)).toEqual([
      // art: Ann twice, Bob, a placeholder poster (not a poster); followers 13k, 1M, 2k (Bob's is unknown).
      { window_start: w0, window_end: w0end, category: 'art', posts: 4, distinct_posters: 2, follower_n: 3, avg_follower_count: 1_015_000 / 3, median_follower_count: 13_000, image_posts: 2, video_posts: 2, image_share: 0.5, video_share: 0.5, final: true },
      // food: one poster (the second has none); median of 850 and 1500.
      { window_start: w0, window_end: w0end, category: 'food', posts: 2, distinct_posters: 1, follower_n: 2, avg_follower_count: 1_175, median_follower_count: 1_175, image_posts: 2, video_posts: 0, image_share: 1, video_share: 0, final: true },
      { window_start: w1, window_end: w1end, category: 'art', posts: 2, distinct_posters: 2, follower_n: 2, avg_follower_count: 2_000, median_follower_count: 2_000, image_posts: 2, video_posts: 0, image_share: 1, video_share: 0, final: true },
    ]);
    expect(await countRows('geo', group)).toEqual([
      [w0, 'Chile', 2, true],
      [w0, 'Peru', 1, true],
      [w1, 'Peru', 1, true],
      [iso(T0 + 180 * SEC), 'Peru', 1, false],
    ]);
    expect(await countRows('user', group)).toEqual([
      [w0, '18-24', 1, true],
      [w0, '25-35', 1, true],
      [w0, '50+', 1, true],
      [w0, 'under 18', 1, true],
      [w0, 'unknown', 1, true],
      [w1, '36-50', 1, true],
    ]);
    // Their median/distinct state is gone once final; the open window keeps nothing for pins.
    const state = await pool.query('SELECT count(*)::int AS n FROM stream_agg_pin_followers WHERE group_id = $1', [group]);
    expect(state.rows[0].n).toBe(0);
    expect(await job.stop()).toBe(0);
    expect(job.logs()).toMatch(/windows and offsets flushed/);
  });

  it('counts out-of-order records within the lateness and records later ones in the late-events table and metric', async () => {
    const topics = await freshTopics();
    const group = uniqueName('g-agg-late');
    // One partition: the order below is the order the job sees.
    await send(topics.pin, [
      [T0 + 30 * SEC, pin('art', 'A', '1k', 'image')], // window 10:00
      [T0 + 10 * SEC, pin('art', 'B', '2k', 'image')], // out of order, within lateness: counted
      [T0 + 75 * SEC, pin('art', 'C', '3k', 'image')], // watermark 10:01:05 closes 10:00
      [T0 + 20 * SEC, pin('art', 'D', '4k', 'image')], // late
      [T0 + 59 * SEC, pin('art', 'E', '5k', 'image')], // late (its window is final)
      [T0 + 61 * SEC, pin('art', 'F', '6k', 'image')], // out of order but window 10:01 still open: counted
    ]);
    const job = startJob(
      ['stream-agg', '--pin-topic', topics.pin, '--geo-topic', topics.geo, '--user-topic', topics.user, '--group-id', group, '--metrics-port', '19102', '--window', '60s', '--allowed-lateness', '10s', '--idle-timeout', '1s'],
      serviceEnv(),
    );
    running.push(job);
    expect(await waitFor(async () => (await storedRecords(group)) === 6, 60_000)).toBe(true);
    // The empty partitions turn idle after 1 s; then the watermark is 10:01:15 - 10 s.
    expect(await waitFor(async () => (await groupWatermark(group)) === T0 + 65 * SEC, 30_000)).toBe(true);
    expect((await pinRows(group)).map((r) => [r.window_start, r.posts, r.distinct_posters, r.median_follower_count, r.final])).toEqual([
      [iso(T0), 2, 2, 1_500, true],
      [iso(T0 + 60 * SEC), 2, 2, 4_500, false],
    ]);
    const late = await pool.query(
      'SELECT topic, partition, kafka_offset::int, event_time, window_start, watermark, value FROM stream_agg_late_events WHERE group_id = $1 ORDER BY kafka_offset',
      [group],
    );
    expect(late.rows.map((r: Record<string, unknown>) => [r.topic, r.partition, r.kafka_offset, (r.event_time as Date).toISOString(), (r.window_start as Date).toISOString(), (r.watermark as Date).toISOString()])).toEqual([
      [topics.pin, 0, 3, iso(T0 + 20 * SEC), iso(T0), iso(T0 + 65 * SEC)],
      [topics.pin, 0, 4, iso(T0 + 59 * SEC), iso(T0), iso(T0 + 65 * SEC)],
    ]);
    expect(JSON.parse(late.rows[0].value as string)).toMatchObject({ poster_name: 'D' });
    const text = await (await fetch('http://127.0.0.1:19102/metrics')).text();
    expect(text).toMatch(new RegExp(`pinpipe_stream_agg_late_events_total\\{topic="${topics.pin}",job="stream-agg"\\} 2`));
    expect(text).toMatch(new RegExp(`pinpipe_stream_agg_records_total\\{topic="${topics.pin}",job="stream-agg"\\} 4`));
    expect(text).toMatch(/pinpipe_stream_agg_windows_finalized_total\{job="stream-agg"\} 1/);
    expect(text).toMatch(/pinpipe_stream_agg_open_windows\{job="stream-agg"\} 1/);
    expect(text).toMatch(/pinpipe_stream_agg_consumer_lag\{topic=/);
    expect(text).toMatch(/pinpipe_stream_agg_flush_seconds_count\{job="stream-agg"\} [1-9]/);
    expect(text).toMatch(/pinpipe_stream_agg_freshness_seconds_count\{job="stream-agg"\} [1-9]/);
    expect(text).toMatch(/pinpipe_stream_agg_watermark_lag_seconds\{job="stream-agg"\} \d/);
    expect(await job.stop()).toBe(0);
  });
  it('gives the same final rows after kill -9 mid-stream and a restart as an uninterrupted run', async () => {
    const topics = await freshTopics();
    const steady = uniqueName('g-agg-steady');
    const crashy = uniqueName('g-agg-crash');
    // Lateness beyond the whole span: however the partitions interleave, no record is late, so
    // both runs must agree exactly. Many small flushes, so the kill lands between two of them.
    const args = ['--window', '10s', '--allowed-lateness', '10m', '--idle-timeout', '2s', '--flush-records', '300', '--flush-interval-ms', '100'];
    const uninterrupted = agg(topics, steady, args);
    const first = agg(topics, crashy, args);
    const producing = producePosts(topics, 0, 4_000);
    expect(await waitFor(async () => (await storedRecords(crashy)) > 2_000, 60_000, 100)).toBe(true);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await producing;
    await producePosts(topics, 4_000, 1_000);
    const restarted = agg(topics, crashy, args);
    const total = await topicRecords(topics);
    expect(total).toBe(15_000);
    // The restarted member joins once the killed one's session (30 s) has expired.
    expect(await waitFor(async () => (await storedRecords(steady)) === total && (await storedRecords(crashy)) === total, 150_000)).toBe(true);
    // A record an hour later closes every window, once the other partitions are idle.
    await send(topics.geo, [[T0 + 3_600 * SEC, geo('Peru')]]);
    expect(await waitFor(async () => (await storedRecords(steady)) === total + 1 && (await storedRecords(crashy)) === total + 1, 30_000)).toBe(true);
    const closed = T0 + 3_600 * SEC - 600 * SEC;
    expect(await waitFor(async () => (await groupWatermark(steady)) === closed && (await groupWatermark(crashy)) === closed, 30_000)).toBe(true);

    const steadyPins = await pinRows(steady);
    expect(steadyPins.length).toBeGreaterThan(40);
    expect(steadyPins.every((r) => r.final === true)).toBe(true);
    expect(await pinRows(crashy)).toEqual(steadyPins);
    expect(await countRows('geo', crashy)).toEqual(await countRows('geo', steady));
    expect(await countRows('user', crashy)).toEqual(await countRows('user', steady));
    expect(steadyPins.reduce((sum, r) => sum + (r.posts as number), 0)).toBe(5_000);
    expect(await expectedPins(0, 5_000)).toEqual(steadyPins.map((r) => [r.window_start, r.category, r.posts]));
    const late = await pool.query('SELECT count(*)::int AS n FROM stream_agg_late_events WHERE group_id = ANY($1)', [[steady, crashy]]);
    expect(late.rows[0].n).toBe(0);
    expect(await uninterrupted.stop()).toBe(0);
    expect(await restarted.stop()).toBe(0);
  }, 300_000);

  it('exits non-zero with a clear error when PostgreSQL stays down, and resumes exactly once when restarted', async () => {
    const topics = await freshTopics();
    const group = uniqueName('g-agg-pgdown');
    const args = ['--window', '10s', '--allowed-lateness', '10m', '--idle-timeout', '2s', '--pg-retry-ms', '3000'];
    const first = agg(topics, group, args);
    await producePosts(topics, 0, 300);
    expect(await waitFor(async () => (await storedRecords(group)) === 900, 60_000)).toBe(true);
    execFileSync('stack/stack.sh', ['down', 'postgres'], { stdio: 'ignore' });
    try {
      await producePosts(topics, 300, 300);
      const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
      expect(code).toBe(1);
      expect(first.logs()).toMatch(/PostgreSQL flush failed for \d+ s .*restart to resume.*PINPIPE_DEPENDENCY_UNAVAILABLE/);
    } finally {
      execFileSync('stack/stack.sh', ['up', 'postgres'], { stdio: 'ignore' });
    }
    const second = agg(topics, group, args);
    await producePosts(topics, 600, 100);
    // Only once everything is in: a record an hour later, read earlier, would make the rest late.
    expect(await waitFor(async () => (await storedRecords(group)) === 2_100, 90_000)).toBe(true);
    await send(topics.geo, [[T0 + 3_600 * SEC, geo('Peru')]]);
    expect(await waitFor(async () => (await storedRecords(group)) === 2_101, 60_000)).toBe(true);
    expect(await waitFor(async () => (await groupWatermark(group)) === T0 + 3_000 * SEC, 30_000)).toBe(true);
    const pins = await pinRows(group);
    expect(pins.every((r) => r.final === true)).toBe(true);
    expect(pins.map((r) => [r.window_start, r.category, r.posts])).toEqual(await expectedPins(0, 700));
    const users = await countRows('user', group);
    expect(users.reduce((sum, r) => sum + (r[2] as number), 0)).toBe(700);
    expect(await second.stop()).toBe(0);
  }, 240_000);

  it('finalises the windows of a group with empty partitions once they are idle, and not before', async () => {
    const topics = await freshTopics();
    const group = uniqueName('g-agg-idle');
    // Pins in two partitions of one topic; the third partition and the other topics stay empty.
    await send(topics.pin, [
      [T0 + 1 * SEC, pin('art', 'A', '1k', 'image'), 0],
      [T0 + 2 * SEC, pin('art', 'B', '1k', 'image'), 1],
      [T0 + 25 * SEC, pin('food', 'C', '1k', 'image'), 0],
      [T0 + 26 * SEC, pin('food', 'D', '1k', 'image'), 1],
    ]);
    const started = Date.now();
    const job = agg(topics, group, ['--window', '10s', '--allowed-lateness', '5s', '--idle-timeout', '8s']);
    expect(await waitFor(async () => (await storedRecords(group)) === 4, 60_000)).toBe(true);
    const storedAt = Date.now();
    // The empty partitions hold the watermark back for the idle timeout (counted from their registration)...
    const early = await groupWatermark(group);
    // ...then every partition is idle, and the watermark is the last record's time minus the lateness.
    expect(await waitFor(async () => (await groupWatermark(group)) === T0 + 21 * SEC, 8_000 + 5_000 + 15_000, 200)).toBe(true);
    // (Unless the machine took most of the idle timeout to start the job and read four records.)
    if (storedAt - started < 6_000) expect(early).toBeNull();
    expect((await pinRows(group)).map((r) => [r.window_start, r.category, r.posts, r.final])).toEqual([
      [iso(T0), 'art', 2, true],
      [iso(T0 + 20 * SEC), 'food', 2, false],
    ]);
    expect(await job.stop()).toBe(0);
  });

  describe('the same answer whatever the read order, the members and their crashes', () => {
    interface BacklogRecord {
      type: RecordType;
      partition: number;
      timestamp: number;
      key: string;
      value: string;
      eventId: string;
    }

    const WINDOW = ['--window', '10s', '--allowed-lateness', '10s', '--flush-interval-ms', '200', '--flush-records', '500'];
    /** Longer than any pause below (a member joining, a partition held back), far shorter than the test. */
    const IDLE = ['--idle-timeout', '15s'];
    const POSTS = 2_400;

    /**
     * Emulated posts, 20 a second of event time, with the emulator's verbatim repeats and late geo
     * events (2% each). The records of partition p (ind mod 3) are p × 3 minutes later in event
     * time: read from scratch, the partitions are minutes apart, which a watermark over the
     * partitions one process happens to read turns into records late by chance.
     */
    async function buildBacklog(): Promise<{ records: BacklogRecord[]; lateOnPurpose: Set<string> }> {
      const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
      const posts = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 29, rate: 20, startTimeMs: T0, duplicateRate: 0.02, lateRate: 0.02 });
      const records: BacklogRecord[] = [];
      const lateOnPurpose = new Set<string>();
      const firstSeen = new Set<number>();
      for (let i = 0; i < POSTS; i += 1) {
        const post = posts.next().value as Parameters<typeof postRecords>[0];
        const ind = post.geo.ind;
        const partition = ind % 3;
        const shift = partition * 180_000;
        const slot = T0 + i * 50;
        const geoTime = parseEventTime(post.geo.timestamp) as number;
        if (!firstSeen.has(ind) && geoTime < slot - 30_000) lateOnPurpose.add(String(ind));
        firstSeen.add(ind);
        for (const typed of postRecords(post)) {
          const timestamp = (typed.type === 'geo' ? geoTime : slot) + shift;
          records.push({ type: typed.type, partition, timestamp, key: String(ind), value: JSON.stringify(typed.record), eventId: `e-${i}-${typed.type}` });
        }
      }
      return { records, lateOnPurpose };
    }

    async function produce(topics: Topics, records: readonly BacklogRecord[]): Promise<void> {
      for (let from = 0; from < records.length; from += 500) {
        const chunk = records.slice(from, from + 500);
        await producer.sendBatch({
          acks: -1,
          topicMessages: (['pin', 'geo', 'user'] as const).map((type) => ({
            topic: topics[type],
            messages: chunk
              .filter((r) => r.type === type)
              .map((r) => ({ key: r.key, value: r.value, partition: r.partition, timestamp: String(r.timestamp), headers: { [RECORD_HEADERS.eventId]: r.eventId } })),
          })),
        });
      }
    }

    /** The final rows of a group, and what it recorded as late (type and ind) and as repeats. */
    async function outcome(group: string) {
      const pins = (await pinRows(group)).filter((r) => r.final === true);
      const geo = (await countRows('geo', group)).filter((r) => r[3] === true);
      const users = (await countRows('user', group)).filter((r) => r[3] === true);
      const late = await pool.query<{ topic: string; value: string }>('SELECT topic, value FROM stream_agg_late_events WHERE group_id = $1', [group]);
      const repeats = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM stream_agg_repeats WHERE group_id = $1', [group]);
      return {
        pins,
        geo,
        users,
        late: late.rows.map((r) => `${r.topic.split('-').at(-1) as string}:${String((JSON.parse(r.value) as { ind?: number; index?: number }).ind ?? (JSON.parse(r.value) as { index?: number }).index)}`).sort(),
        repeats: repeats.rows[0]?.n,
      };
    }

    /** Waits until a group has counted every record and, every partition idle, made final all it can. */
    async function settled(group: string, records: number, lastWatermark: number): Promise<void> {
      expect(await waitFor(async () => (await storedRecords(group)) === records, 150_000, 250)).toBe(true);
      expect(await waitFor(async () => (await groupWatermark(group)) === lastWatermark, 60_000, 250)).toBe(true);
    }

    const stopAll = async (jobs: JobProcess[]) => {
      for (const job of jobs) expect(await job.stop()).toBe(0);
    };

    it('gives identical final windows read by one member, by three started at different times, with one killed -9 and restarted, and with one partition held back; only the emulator\'s late records are late', async () => {
      const { records, lateOnPurpose } = await buildBacklog();
      const last = Math.max(...records.map((r) => r.timestamp)) - 10 * SEC;
      const thirds = [records.slice(0, records.length / 3), records.slice(records.length / 3, (2 * records.length) / 3), records.slice((2 * records.length) / 3)] as const;
      const groups = { one: uniqueName('g-agg-one'), three: uniqueName('g-agg-three'), killed: uniqueName('g-agg-killed'), held: uniqueName('g-agg-held') };
      const storedAtLeast = (group: string, n: number) => waitFor(async () => (await storedRecords(group)) >= n, 90_000, 100);

      const one = async () => {
        const topics = await freshTopics();
        await produce(topics, records);
        const job = agg(topics, groups.one, [...WINDOW, ...IDLE]);
        await settled(groups.one, records.length, last);
        await stopAll([job]);
      };
      const three = async () => {
        const topics = await freshTopics();
        await produce(topics, thirds[0]);
        const a = agg(topics, groups.three, [...WINDOW, ...IDLE]);
        expect(await storedAtLeast(groups.three, thirds[0].length)).toBe(true);
        const b = agg(topics, groups.three, [...WINDOW, ...IDLE]);
        await produce(topics, thirds[1]);
        expect(await storedAtLeast(groups.three, 2 * thirds[0].length)).toBe(true);
        const c = agg(topics, groups.three, [...WINDOW, ...IDLE]);
        await produce(topics, thirds[2]);
        await settled(groups.three, records.length, last);
        await stopAll([a, b, c]);
      };
      const killed = async () => {
        const topics = await freshTopics();
        const a = agg(topics, groups.killed, [...WINDOW, ...IDLE]);
        const b = agg(topics, groups.killed, [...WINDOW, ...IDLE]);
        await produce(topics, thirds[0]);
        expect(await storedAtLeast(groups.killed, thirds[0].length)).toBe(true);
        await produce(topics, thirds[1]);
        a.child.kill('SIGKILL');
        expect(await a.exited).toBe('SIGKILL');
        await produce(topics, thirds[2]);
        // The restarted member gets partitions once the killed one's session (30 s) expired.
        const restarted = agg(topics, groups.killed, [...WINDOW, ...IDLE]);
        await settled(groups.killed, records.length, last);
        await stopAll([b, restarted]);
      };
      const held = async () => {
        const topics = await freshTopics();
        const isHeld = (r: BacklogRecord, i: number) => r.partition === 2 && i >= records.length / 4;
        const early = records.filter((r, i) => !isHeld(r, i));
        await produce(topics, early);
        const job = agg(topics, groups.held, [...WINDOW, ...IDLE]);
        expect(await storedAtLeast(groups.held, early.length)).toBe(true);
        // Held back: every other partition is read to its end while partition 2 waits.
        await new Promise((r) => setTimeout(r, 4_000));
        await produce(topics, records.filter(isHeld));
        await settled(groups.held, records.length, last);
        await stopAll([job]);
      };
      await Promise.all([one(), three(), killed(), held()]);

      const reference = await outcome(groups.one);
      expect(reference.pins.length).toBeGreaterThan(100);
      // Every post once: 2% of the posts were repeats of earlier ones, dropped by their keys.
      const distinctPosts = new Set(records.filter((r) => r.type === 'pin').map((r) => r.key)).size;
      // The last windows stay open (the watermark is the highest time minus the lateness), so all rows count here.
      const counted = (await pinRows(groups.one)).reduce((sum, r) => sum + (r.posts as number), 0);
      expect(counted + reference.late.filter((l) => l.startsWith('pin:')).length).toBe(distinctPosts);
      expect(reference.repeats).toBe(3 * (POSTS - distinctPosts));
      // Late: only geo events the emulator made late on purpose, and most of them.
      expect(reference.late.length).toBeGreaterThan(0.8 * lateOnPurpose.size);
      for (const l of reference.late) {
        expect(l).toMatch(/^geo:/);
        expect(lateOnPurpose.has(l.slice('geo:'.length))).toBe(true);
      }
      for (const group of [groups.three, groups.killed, groups.held]) expect(await outcome(group)).toEqual(reference);
    }, 420_000);
  });
});
