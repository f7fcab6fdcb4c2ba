import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquet } from './test/parquet.js';
import { createKafka } from './lib/kafka.js';
import { curatedPartitionPrefix } from './lib/lake.js';
import { createLogger } from './lib/logger.js';
import { createS3Client, ensureBucket } from './lib/s3.js';
import { TrinoClient } from './lib/trino.js';
import { dropLakeSchema } from './lake-tables/run.js';
import { runCli } from './test/cli.js';
import { listKeys, readObjectLines, waitFor, type LakeLine } from './test/lake.js';
import { startJob, type JobProcess } from './test/process.js';
import { privateBucket, privateTopics, serviceEnv, serviceSettings, topicEnv, uniqueName } from './test/services.js';

/**
 * The live windows and the next morning's batch agree: emulate → ingest → Kafka, then s3-sink →
 * lake → daily-transform on one side and stream-agg → PostgreSQL on the other, every part real.
 * For each day, the final windows per category plus the late records stream-agg recorded equal
 * the curated pins per category, exactly; the same for geo events per country. This is the
 * contract `pinpipe reconcile` checks every day, and the test then runs it through Trino.
 */
const settings = { ...serviceSettings(), s3Bucket: privateBucket('it-agree') };
const s3 = createS3Client(settings);
const TOPICS = privateTopics('it-agree');
const GROUP = uniqueName('it-agree-agg');
const LAKE_SCHEMA = uniqueName('it_agree').toLowerCase();
const env = { ...serviceEnv(), ...topicEnv(TOPICS), PINPIPE_S3_BUCKET: settings.s3Bucket, PINPIPE_LAKE_SCHEMA: LAKE_SCHEMA, PINPIPE_STREAM_GROUP_ID: GROUP };
const trino = new TrinoClient(settings);
const PORT = 18_089;
const URL = `http://127.0.0.1:${PORT}`;
/** An ingest that gives up on Kafka after one second: a stalled broker makes it answer 503 for records Kafka then stores. */
const IMPATIENT_PORT = 18_090;
const IMPATIENT_URL = `http://127.0.0.1:${IMPATIENT_PORT}`;
const KEY = 'agreement-test-key';
const LATENESS_MS = 10_000;
const running: JobProcess[] = [];
let pool: pg.Pool;

function start(args: string[]): JobProcess {
  const job = startJob(args, env);
  running.push(job);
  return job;
}

beforeAll(async () => {
  await ensureBucket(s3, settings.s3Bucket);
  pool = new pg.Pool({ connectionString: settings.pgUrl, max: 2 });
  start(['ingest', '--port', String(PORT), '--api-keys', KEY]);
  start(['ingest', '--port', String(IMPATIENT_PORT), '--api-keys', KEY, '--produce-timeout-ms', '1000']);
  for (const url of [URL, IMPATIENT_URL]) expect(await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 60_000, 300)).toBe(true);
  start(['s3-sink', '--topics', Object.values(TOPICS).join(','), '--group-id', `${GROUP}-sink`, '--metrics-port', '0', '--flush-idle-ms', '1000']);
  start(['stream-agg', '--group-id', GROUP, '--metrics-port', '0', '--window', '1m', '--allowed-lateness', `${LATENESS_MS}ms`, '--idle-timeout', '3s', '--flush-interval-ms', '250']);
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await dropLakeSchema(trino, { catalog: 'lake', schema: LAKE_SCHEMA });
  await pool.end();
  s3.destroy();
});

async function kafkaRecords(): Promise<number> {
  const admin = createKafka(settings, createLogger('test', 'error')).admin();
  await admin.connect();
  try {
    let total = 0;
    for (const topic of Object.values(TOPICS)) for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high);
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function lakeLines(): Promise<LakeLine[]> {
  const keys = (await Promise.all(Object.values(TOPICS).map((t) => listKeys(s3, settings.s3Bucket, `raw/${t}/`)))).flat();
  return (await Promise.all(keys.map((key) => readObjectLines(s3, settings.s3Bucket, key)))).flat();
}

async function stored(): Promise<number> {
  const { rows } = await pool.query<{ n: string | null }>('SELECT sum(next_offset) AS n FROM stream_agg_offsets WHERE group_id = $1', [GROUP]);
  return Number(rows[0]?.n ?? 0);
}

async function watermark(): Promise<number> {
  const { rows } = await pool.query<{ ms: string | null }>('SELECT (extract(epoch FROM watermark) * 1000)::bigint AS ms FROM stream_agg_groups WHERE group_id = $1', [GROUP]);
  return Number(rows[0]?.ms ?? Number.NaN);
}

/** "day|key" → count, from rows of [day, key, n]. */
function tally(rows: ReadonlyArray<{ day: string; key: string; n: number | string }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(`${r.day}|${r.key}`, (out.get(`${r.day}|${r.key}`) ?? 0) + Number(r.n));
  return out;
}

const sorted = (m: Map<string, number>) => [...m.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1));

/** A curated table's rows of one day, grouped in DuckDB. */
async function curated(table: 'pins' | 'posts' | 'geo', day: string, column: string, dir: string): Promise<Array<{ day: string; key: string; n: number }>> {
  const out: Array<{ day: string; key: string; n: number }> = [];
  for (const key of await listKeys(s3, settings.s3Bucket, curatedPartitionPrefix(table, day))) {
    if (!key.endsWith('.parquet')) continue;
    const body = await s3.send(new GetObjectCommand({ Bucket: settings.s3Bucket, Key: key }));
    const file = join(dir, key.replace(/[^\w.-]/g, '_'));
    await writeFile(file, await (body.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    for (const r of await readParquet(file, `SELECT ${column} AS key, count(*) AS n FROM t GROUP BY 1`)) out.push({ day, key: String(r.key), n: Number(r.n) });
  }
  return out;
}

describe('stream windows against the daily batch', () => {
  it('per day, final windows plus recorded late events equal the curated pins per category and geo per country, with repeats and client retries counted once', async () => {
    const firstInd = 7_000_000_000 + (Date.now() % 1_000_000) * 1_000;
    const posts = 3_000;
    // Repeats, out-of-order and late geo events (1-10 minutes behind), 2% each.
    const emulated = await runCli(
      ['emulate', '--count', String(posts), '--rate', '300', '--seed', '17', '--first-ind', String(firstInd), '--duplicate-rate', '0.02', '--late-rate', '0.02', '--start-time', 'now', '--ingest-url', URL, '--api-key', KEY, '--batch-size', '200'],
      env,
      120_000,
    );
    expect(emulated.code, emulated.stderr).toBe(0);

    const now = new Date().toISOString().replace('T', ' ').slice(0, 19);
    /** Five posts as batch lines with the client's own event ids. */
    const batch = (tag: string, firstOfBatch: number) =>
      `${Array.from({ length: 5 }, (_, i) => {
        const ind = firstOfBatch + i;
        return [
          { type: 'pin', eventId: `${tag}-${ind}-pin`, record: { index: ind, unique_id: `${tag}-${ind}`, title: 't', description: 'd', poster_name: 'Ada', follower_count: '1k', tag_list: 'x', is_image_or_video: 'image', image_src: 's', downloaded: 1, save_location: 'Local save in /x', category: 'art' } },
          { type: 'geo', eventId: `${tag}-${ind}-geo`, record: { ind, timestamp: now, latitude: 1, longitude: 2, country: 'Chile' } },
          { type: 'user', eventId: `${tag}-${ind}-user`, record: { ind, first_name: 'Ada', last_name: 'L', age: 30, date_joined: '2016-01-02 03:04:05' } },
        ];
      })
        .flat()
        .map((l) => JSON.stringify(l))
        .join('\n')}\n`;
    const postBatch = (url: string, body: string) =>
      fetch(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' }, body, signal: AbortSignal.timeout(30_000) });

    // A client that got no answer sends its batch again, with the same event ids.
    const retried = batch('retry', firstInd + posts + 10);
    for (let attempt = 0; attempt < 2; attempt += 1) expect((await postBatch(URL, retried)).status).toBe(200);

    // A produce that times out: Kafka stalls (SIGSTOP), ingest answers 503 after its one-second
    // bound, Kafka then stores the records it had received, and the client sends the batch again.
    const kafkaPid = Number(/kafka +up \(pid (\d+)/.exec(execFileSync('stack/stack.sh', ['status', 'kafka'], { encoding: 'utf8' }))?.[1]);
    expect(kafkaPid).toBeGreaterThan(0);
    const timedOut = batch('timeout', firstInd + posts + 20);
    process.kill(kafkaPid, 'SIGSTOP');
    let first: number;
    try {
      first = (await postBatch(IMPATIENT_URL, timedOut)).status;
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      process.kill(kafkaPid, 'SIGCONT');
    }
    expect(first).toBe(503);
    expect(await waitFor(async () => (await postBatch(IMPATIENT_URL, timedOut).catch(() => undefined))?.status === 200, 60_000, 1_000)).toBe(true);

    // Everything counted, then one geo event five minutes ahead: once every other partition is
    // idle, the watermark passes the end of every window the emulation filled.
    expect(await waitFor(async () => (await stored()) === (await kafkaRecords()), 120_000, 500)).toBe(true);
    const closingTime = Date.now() + 5 * 60_000;
    const closing = { type: 'geo', record: { ind: firstInd + posts + 100, timestamp: new Date(closingTime).toISOString().replace('T', ' ').slice(0, 19), latitude: 0, longitude: 0, country: 'Closing' } };
    expect((await fetch(`${URL}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(closing)}\n` })).status).toBe(200);
    const total = await kafkaRecords();
    // The retried batch twice; the timed-out one once or twice, as Kafka took it before it stalled.
    expect(total).toBeGreaterThanOrEqual(posts * 3 + 30 + 15 + 1);
    expect(await waitFor(async () => (await stored()) === total && (await watermark()) >= Math.floor(closingTime / 1000) * 1000 - LATENESS_MS, 60_000, 500)).toBe(true);
    expect(await waitFor(async () => (await lakeLines()).length === total, 120_000, 1_000)).toBe(true);
    const lake = await lakeLines();
    // The lake keeps both copies of the retried batch, with the same event ids.
    expect(lake.filter((l) => String(l.event_id).startsWith('retry-')).length).toBe(30);
    const timedOutCopies = lake.filter((l) => String(l.event_id).startsWith('timeout-')).length;
    expect(timedOutCopies).toBeGreaterThanOrEqual(15);

    const days = [...new Set(lake.map((l) => new Date(l.timestamp as number).toISOString().slice(0, 10)))].sort();
    const dir = await mkdtemp(join(tmpdir(), 'pinpipe-agree-'));
    const batchPins: Array<{ day: string; key: string; n: number }> = [];
    const batchPosts: Array<{ day: string; key: string; n: number }> = [];
    const batchGeo: Array<{ day: string; key: string; n: number }> = [];
    try {
      for (const day of days) {
        const run = await runCli(['daily-transform', '--date', day, '--allow-empty'], env, 180_000);
        expect(run.code, run.stderr).toBe(0);
        batchPins.push(...(await curated('pins', day, 'category', dir)));
        batchPosts.push(...(await curated('posts', day, 'category', dir)));
        batchGeo.push(...(await curated('geo', day, 'country', dir)));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const utcDay = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
    const streamPins = await pool.query(`SELECT ${utcDay('window_start')} AS day, category AS key, sum(posts) AS n FROM stream_agg_pin_window WHERE group_id = $1 AND final GROUP BY 1, 2`, [GROUP]);
    const streamGeo = await pool.query(`SELECT ${utcDay('window_start')} AS day, country AS key, sum(events) AS n FROM stream_agg_geo_window WHERE group_id = $1 AND final GROUP BY 1, 2`, [GROUP]);
    const late = await pool.query(
      `SELECT ${utcDay('event_time')} AS day, topic, coalesce(value::json->>'category', value::json->>'country') AS key, count(*) AS n FROM stream_agg_late_events WHERE group_id = $1 GROUP BY 1, 2, 3`,
      [GROUP],
    );
    const repeats = await pool.query<{ reason: string; n: number }>('SELECT reason, count(*)::int AS n FROM stream_agg_repeats WHERE group_id = $1 GROUP BY 1 ORDER BY 1', [GROUP]);

    const lateGeo = late.rows.filter((r) => r.topic === TOPICS.geo);
    expect(late.rows.filter((r) => r.topic !== TOPICS.geo)).toEqual([]); // pins and users carry ingest time: never late
    expect(lateGeo.length).toBeGreaterThan(0);
    // Pins: the day's final windows are every curated pin of the day.
    expect(sorted(tally(streamPins.rows))).toEqual(sorted(tally(batchPins)));
    // Geo: final windows plus the late events are every curated geo event; the closing one's window is still open.
    const batchGeoCounted = batchGeo.filter((r) => r.key !== 'Closing');
    expect(sorted(tally([...streamGeo.rows, ...lateGeo]))).toEqual(sorted(tally(batchGeoCounted)));
    // A post is a pin with its geo and user of the same day: the same counts unless a late geo event fell on the day before.
    if (days.length === 1) expect(sorted(tally(batchPosts))).toEqual(sorted(tally(batchPins)));
    // The retried batch was counted once: its second copy is a retry (same event ids); the emulator's repeats are repeats.
    expect(repeats.rows.find((r) => r.reason === 'retry')?.n).toBe(30 - 15 + (timedOutCopies - 15));
    expect(repeats.rows.find((r) => r.reason === 'repeat')?.n).toBeGreaterThan(0);
    expect(sorted(tally(batchPins)).reduce((sum, [, n]) => sum + n, 0)).toBe(new Set(lake.filter((l) => l.topic === TOPICS.pin).map((l) => l.record.unique_id)).size);

    // pinpipe reconcile, the same comparison window by window through Trino: every difference is a late record.
    expect((await runCli(['lake-tables'], env, 120_000)).code).toBe(0);
    const reconcile = (day: string, extra: Record<string, string> = {}) => runCli(['reconcile', '--date', day], { ...env, ...extra }, 120_000);
    const report = async (day: string) => {
      const got = await s3.send(new GetObjectCommand({ Bucket: settings.s3Bucket, Key: `reports/reconcile/dt=${day}/reconcile.json` }));
      return JSON.parse(await (got.Body as { transformToString(): Promise<string> }).transformToString()) as {
        passed: boolean;
        complete: boolean;
        compared_until: string;
        totals: { batch: number; stream: number; late: number; unexplained: number };
        windows: unknown[];
        keys: Array<{ kind: string; key: string; late: number }>;
        repeats: Array<{ reason: string; n: number }>;
      };
    };
    let lateReconciled = 0;
    for (const day of days) {
      const run = await reconcile(day);
      expect(run.code, run.stderr).toBe(0);
      const r = await report(day);
      expect(r).toMatchObject({ passed: true, windows: [] });
      // The day was compared up to the group's watermark; complete once that is past the day.
      const mark = new Date(await watermark()).toISOString();
      expect(r.compared_until).toBe(`${mark.slice(0, 10)} ${mark.slice(11, 23)}`);
      expect(r.complete).toBe(day < mark.slice(0, 10));
      expect(r.totals.unexplained).toBe(0);
      expect(r.totals.batch).toBe(r.totals.stream + r.totals.late);
      lateReconciled += r.totals.late;
      const counted = batchPins.filter((b) => b.day === day).reduce((sum, b) => sum + b.n, 0) + batchGeoCounted.filter((b) => b.day === day).reduce((sum, b) => sum + b.n, 0);
      expect(r.totals.batch).toBe(counted);
    }
    expect(lateReconciled).toBe(lateGeo.reduce((sum, l) => sum + Number(l.n), 0));

    // History plus today: the days both sides hold come from the lake alone, with the batch's counts.
    const viewRows = await trino.query<{ day: string; key: string; n: number; source: string }>(
      `SELECT CAST(dt AS varchar) AS day, category AS key, posts AS n, source FROM lake."${LAKE_SCHEMA}".posts_per_category_day WHERE dt IN (${days.map((d) => `DATE '${d}'`).join(', ')})`,
    );
    expect(new Set(viewRows.map((r) => r.source))).toEqual(new Set(['lake']));
    expect(sorted(tally(viewRows))).toEqual(sorted(tally(batchPins)));

    // One stream window altered: reconcile fails, naming its category and window.
    const { rows: [altered] } = await pool.query<{ category: string; day: string; at: string }>(
      `UPDATE stream_agg_pin_window SET posts = posts + 1 WHERE (group_id, window_start, category) = (
         SELECT group_id, window_start, category FROM stream_agg_pin_window WHERE group_id = $1 AND final ORDER BY window_start, category LIMIT 1)
       RETURNING category, ${utcDay('window_start')} AS day, to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at`,
      [GROUP],
    );
    const failed = await reconcile(altered?.day as string);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('PINPIPE_RECONCILE_FAILED');
    expect(failed.stderr).toContain(`category \\"${altered?.category}\\": 1 records the late ones do not explain, over 1 window(s): window ${altered?.at}`);
    expect((await report(altered?.day as string)).passed).toBe(false);
    // Within --max-unexplained it passes.
    expect((await runCli(['reconcile', '--date', altered?.day as string, '--max-unexplained', '1'], env, 120_000)).code).toBe(0);

    const neverLoaded = await reconcile('2031-06-01');
    expect(neverLoaded.code).toBe(1);
    expect(neverLoaded.stderr).toContain('PINPIPE_INPUT_NOT_FOUND');
    // A stream schema stream-agg never wrote to: nothing to compare, not an internal error.
    const noStream = await reconcile(days[0] as string, { PINPIPE_STREAM_SCHEMA: `never_written_${process.pid}` });
    expect(noStream.code).toBe(1);
    expect(noStream.stderr).toContain('PINPIPE_INPUT_NOT_FOUND');
    expect(noStream.stderr).toContain(`stream-agg has never written to stream.never_written_${process.pid}`);
    const noStreamAllowed = await reconcile(days[0] as string, { PINPIPE_STREAM_SCHEMA: `never_written_${process.pid}`, PINPIPE_REQUIRE_STREAM: 'false' });
    expect(noStreamAllowed.code, noStreamAllowed.stderr).toBe(0);
    expect(noStreamAllowed.stderr).toContain('not reconciled');
    const trinoDown = await reconcile(days[0] as string, { PINPIPE_TRINO_URL: 'http://127.0.0.1:1' });
    expect(trinoDown.code).toBe(1);
    expect(trinoDown.stderr).toContain('PINPIPE_DEPENDENCY_UNAVAILABLE');
    expect(trinoDown.stderr).toContain('Trino at http://127.0.0.1:1 did not answer');
  }, 600_000);
});
