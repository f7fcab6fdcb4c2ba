/**
 * Spark Structured Streaming on stream-agg's aggregation (bench/spark/stream_agg.py), over a
 * backlog produced beforehand. Run: `npx tsx bench/spark/stream.ts [posts]` with the stack up and
 * its settings exported, after bench/spark/setup.sh (bench/run.d/60-spark-stream.sh does both).
 *
 * Produces `posts` generated posts (pin, geo and user records: 3 × posts events) as ingest writes
 * them: JSON record values, key = ind, Kafka timestamp = the post's event time (spread over the
 * last minutes at 500 posts/s of event time), to three fresh topics of 3 partitions each; then
 * runs the three Spark queries until they have consumed everything and reports events/s from
 * the queries' start to the last one caught up. If bench/results/stream-agg.json (pinpipe
 * stream-agg's own bench) exists, its events/s is put beside Spark's with the ratio. The topics
 * and the PostgreSQL tables are removed afterwards. Prints one JSON object.
 * PINPIPE_BENCH_SPARK_STREAM_TOPICS=pin,geo,user consumes those existing topics instead (all they
 * hold, from the earliest offset), e.g. the very topics stream-agg's own bench consumed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type RecordType } from '../../jobs/lib/contracts.js';
import { createKafka, ensureTopics } from '../../jobs/lib/kafka.js';
import { createLogger } from '../../jobs/lib/logger.js';
import { bundledDataFile } from '../../jobs/lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../../jobs/emulate/generator.js';
import { loadSeedPins } from '../../jobs/emulate/seed-pins.js';
import { serviceEnv, serviceSettings } from '../../jobs/test/services.js';
import { runSpark, sparkResult } from './run-spark.js';

const posts = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const EVENT_RATE = 500; // posts per second of event time
const PARTITIONS = 3;
const CHUNK = 1_000; // posts per send: under the broker's 1 MB batch limit per partition
const settings = serviceSettings();
const env = serviceEnv();
const id = Date.now().toString(36);
/** PINPIPE_BENCH_SPARK_STREAM_TOPICS=pin,geo,user: consume these existing topics (say the ones stream-agg's bench filled) instead of producing. */
const givenTopics = process.env.PINPIPE_BENCH_SPARK_STREAM_TOPICS?.split(',').map((t) => t.trim());
if (givenTopics && givenTopics.length !== 3) throw new Error('PINPIPE_BENCH_SPARK_STREAM_TOPICS: give three topics, pin,geo,user');
const topics: Record<RecordType, string> = givenTopics
  ? { pin: givenTopics[0] as string, geo: givenTopics[1] as string, user: givenTopics[2] as string }
  : { pin: `bench-spark-${id}.pin`, geo: `bench-spark-${id}.geo`, user: `bench-spark-${id}.user` };
const tablePrefix = `bench_spark_${id}`;
const kafka = createKafka(settings, createLogger('bench', 'warn'));

/** The backlog, produced with kafkajs (acks=all) as fast as it goes. */
async function produce(): Promise<{ events: number; perTopic: Record<RecordType, number>; seconds: number }> {
  const started = Date.now();
  await ensureTopics(kafka, Object.values(topics), PARTITIONS);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const startMs = Date.now() - Math.ceil(posts / EVENT_RATE) * 1000 - 60_000;
  const generator = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 5, startTimeMs: startMs, rate: EVENT_RATE, lateRate: 0 });
  const perTopic: Record<RecordType, number> = { pin: 0, geo: 0, user: 0 };
  let batch: Record<RecordType, Array<{ key: string; value: string; timestamp: string }>> = { pin: [], geo: [], user: [] };
  const inFlight: Array<Promise<unknown>> = [];
  const send = async (): Promise<void> => {
    const topicMessages = (Object.keys(batch) as RecordType[]).map((t) => ({ topic: topics[t], messages: batch[t] }));
    batch = { pin: [], geo: [], user: [] };
    inFlight.push(producer.sendBatch({ topicMessages, acks: -1 }));
    if (inFlight.length >= 8) await Promise.all(inFlight.splice(0));
  };
  try {
    for (let n = 0; n < posts; n += 1) {
      const post = generator.next().value as Post;
      const timestamp = String(Math.min(Date.parse(`${post.geo.timestamp.replace(' ', 'T')}Z`), Date.now()));
      for (const typed of postRecords(post)) {
        batch[typed.type].push({ key: String(post.pin.index), value: JSON.stringify(typed.record), timestamp });
        perTopic[typed.type] += 1;
      }
      if (batch.pin.length >= CHUNK) await send();
    }
    if (batch.pin.length > 0) await send();
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  return { events: perTopic.pin + perTopic.geo + perTopic.user, perTopic, seconds: (Date.now() - started) / 1000 };
}

/** The records the given topics hold now (high minus low watermark over their partitions). */
async function existingBacklog(): Promise<{ events: number; perTopic: Record<RecordType, number>; seconds: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const perTopic: Record<RecordType, number> = { pin: 0, geo: 0, user: 0 };
    for (const type of Object.keys(topics) as RecordType[]) {
      for (const p of await admin.fetchTopicOffsets(topics[type])) perTopic[type] += Number(p.high) - Number(p.low);
    }
    return { events: perTopic.pin + perTopic.geo + perTopic.user, perTopic, seconds: 0 };
  } finally {
    await admin.disconnect();
  }
}

/** pinpipe stream-agg's sustained backlog throughput from its own bench (bench/stream-agg.ts), if that ran first. */
function streamAggEventsPerSecond(): { value: number; field: string } | undefined {
  const file = join('bench', 'results', 'stream-agg.json');
  if (!existsSync(file)) return undefined;
  const result = JSON.parse(readFileSync(file, 'utf8')) as { backlog?: { eventsPerSecondSteady?: number | null; eventsPerSecondIncludingStartup?: number } };
  const steady = result.backlog?.eventsPerSecondSteady;
  if (typeof steady === 'number') return { value: steady, field: 'backlog.eventsPerSecondSteady' };
  const overall = result.backlog?.eventsPerSecondIncludingStartup;
  return typeof overall === 'number' ? { value: overall, field: 'backlog.eventsPerSecondIncludingStartup' } : undefined;
}

async function main(): Promise<void> {
  const checkpoints = await mkdtemp(join(tmpdir(), 'pinpipe-bench-spark-stream-'));
  const db = new pg.Client({ connectionString: settings.pgUrl });
  await db.connect();
  const tables = ['category', 'country', 'age_group'].map((t) => `${tablePrefix}_${t}`);
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    const backlog = givenTopics ? await existingBacklog() : await produce();
    process.stderr.write(`backlog produced: ${JSON.stringify(backlog)}\n`);
    const run = await runSpark(
      'stream_agg.py',
      [topics.pin, topics.geo, topics.user, String(backlog.perTopic.pin), String(backlog.perTopic.geo), String(backlog.perTopic.user), tablePrefix, checkpoints],
      env,
    );
    const spark = sparkResult<{ events: number; seconds: number; events_per_s: number } & Record<string, unknown>>(run, 'stream_agg.py');
    const rowsWritten: Record<string, number> = {};
    for (const table of tables) {
      const got = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      rowsWritten[table.slice(tablePrefix.length + 1)] = Number(got.rows[0]?.n ?? 0);
    }
    const pinpipe = streamAggEventsPerSecond();
    const result = {
      posts: givenTopics ? null : posts,
      topics: givenTopics ? topics : 'produced by this bench, removed afterwards',
      events: backlog.events,
      spark_events_per_s: spark.events_per_s,
      spark_seconds: spark.seconds,
      spark_process_seconds: run.seconds,
      spark_peak_rss_mb: run.peakRssMb,
      ...(pinpipe
        ? { pinpipe_events_per_s: pinpipe.value, pinpipe_field: `bench/results/stream-agg.json ${pinpipe.field}`, ratio: Math.round((pinpipe.value / spark.events_per_s) * 100) / 100 }
        : { pinpipe_events_per_s: null, ratio: null, note: 'bench/results/stream-agg.json not found (stream-agg bench not run before this one): Spark figure alone' }),
      spark,
      window_rows_appended: rowsWritten,
      backlog,
      config: 'local[2], 2g driver, 4 shuffle partitions, maxOffsetsPerTrigger 100000 per query, default trigger, update mode, foreachBatch JDBC append',
      command: `npx tsx bench/spark/stream.ts ${posts}`,
      load_average_at_start: loadAtStart,
      load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const table of tables) await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.end();
    const admin = kafka.admin();
    await admin.connect();
    if (!givenTopics) await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
    await rm(checkpoints, { recursive: true, force: true });
  }
}

await main();
