import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lakeTables } from '../lib/curated.js';
import { createKafka, ensureTopics } from '../lib/kafka.js';
import { createLogger } from '../lib/logger.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { TrinoClient } from '../lib/trino.js';
import { runCli } from '../test/cli.js';
import { listKeys, waitFor } from '../test/lake.js';
import { startJob, type JobProcess } from '../test/process.js';
import { lakeLine, putObjects, type RawObject } from '../test/raw-lake.js';
import { dropLakeSchema } from './run.js';
import { privateBucket, privateTopics, serviceEnv, serviceSettings, topicEnv, uniqueName } from '../test/services.js';

/**
 * Trino over what the jobs wrote: daily-transform's curated day (catalog lake, declared by
 * lake-tables), cassandra-load's tables (catalog cassandra) and stream-agg's windows (catalog
 * stream). Every fixture is the test's own: bucket, lake schema, keyspace, topics and group.
 */
const settings = { ...serviceSettings(), s3Bucket: privateBucket('it-trino') };
const s3 = createS3Client(settings);
const trino = new TrinoClient(settings);
const SCHEMA = uniqueName('it_trino').toLowerCase();
const KEYSPACE = uniqueName('pinpipe_it_trino').toLowerCase();
const TOPICS = privateTopics('it-trino');
const GROUP = uniqueName('it-trino-agg');
// The raw lake is the bucket's own, under the default topics' names; the stream reads topics of its own.
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: settings.s3Bucket, PINPIPE_CASSANDRA_KEYSPACE: KEYSPACE, PINPIPE_LAKE_SCHEMA: SCHEMA, PINPIPE_STREAM_GROUP_ID: GROUP };
// Days of their own, far from any other test's.
const DAY = '2031-02-11';
const DAY_REPUBLISHED = '2031-02-12';
const DAY_NEVER_LOADED = '2031-02-19';
const CATEGORIES = ['art', 'travel', 'vehicles', 'food'];
const COUNTRIES = ['Chile', 'Japan', 'Spain'];
const POSTS = 60;
const running: JobProcess[] = [];
/** The UTC days of the pins' Kafka times (two hours ago): the stream's days. */
let streamDays: string[] = [];
const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });

const lake = (table: string) => `lake."${SCHEMA}"."${table}"`;

/** n posts of a day: pin, geo and user lines of the raw lake, inds from `first`. */
function rawDay(day: string, first: number, n: number): RawObject[] {
  const t = Date.parse(`${day}T03:00:00Z`);
  const inds = Array.from({ length: n }, (_, i) => first + i);
  const pin = (ind: number) => ({
    index: ind,
    unique_id: `trino-${day}-${ind}`,
    title: `Pin ${ind}`,
    description: 'd',
    poster_name: `Poster ${ind % 5}`,
    follower_count: `${ind % 9}k`,
    tag_list: 'x,y',
    is_image_or_video: 'image',
    image_src: 's',
    downloaded: 1,
    save_location: 'Local save in /data/x',
    category: CATEGORIES[ind % CATEGORIES.length],
  });
  return [
    { type: 'pin', partition: 0, startOffset: 0, timeMs: t, lines: inds.map((ind, i) => lakeLine('pin', pin(ind), 0, i, t)) },
    { type: 'geo', partition: 0, startOffset: 0, timeMs: t, lines: inds.map((ind, i) => lakeLine('geo', { ind, timestamp: `${day} 03:00:00`, latitude: 1.5, longitude: 2.5, country: COUNTRIES[ind % COUNTRIES.length] }, 0, i, t)) },
    { type: 'user', partition: 0, startOffset: 0, timeMs: t, lines: inds.map((ind, i) => lakeLine('user', { ind, first_name: 'F', last_name: `L${ind}`, age: 18 + (ind % 50), date_joined: '2016-02-03 04:05:06' }, 0, i, t)) },
  ];
}

/** What the test made: posts per category of inds [first, first + n). */
function expectedPerCategory(first: number, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let ind = first; ind < first + n; ind++) {
    const category = CATEGORIES[ind % CATEGORIES.length] as string;
    out[category] = (out[category] ?? 0) + 1;
  }
  return out;
}

const asRecord = (rows: Array<{ k: string; n: number }>) => Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));

async function deleteKeys(prefix: string): Promise<void> {
  const keys = await listKeys(s3, settings.s3Bucket, prefix);
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: settings.s3Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
}

async function transform(day: string): Promise<void> {
  const run = await runCli(['daily-transform', '--date', day], env, 120_000);
  expect(run.code, run.stderr).toBe(0);
}

async function lakeTablesRun(extraEnv: Record<string, string> = {}) {
  return runCli(['lake-tables'], { ...env, ...extraEnv }, 120_000);
}

beforeAll(async () => {
  await ensureBucket(s3, settings.s3Bucket);
  await session.connect();
  await putObjects(s3, settings.s3Bucket, rawDay(DAY, 1, POSTS));
  await transform(DAY);
  const load = await runCli(['cassandra-load', '--date', DAY], env, 120_000);
  expect(load.code, load.stderr).toBe(0);
  const declared = await lakeTablesRun();
  expect(declared.code, declared.stderr).toBe(0);

  // The same pins through Kafka to stream-agg: one partition each, the pins' Kafka time two hours
  // ago (Kafka refuses times far ahead, so not DAY), then one geo event a day ahead, which moves
  // the group watermark past every pin window once the pin partition is idle.
  const kafka = createKafka(settings, createLogger('test', 'error'));
  await ensureTopics(kafka, Object.values(TOPICS), 1);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const [pins] = rawDay(DAY, 1, POSTS);
    const t = Date.now() - 2 * 3_600_000;
    streamDays = [...new Set([t, t + POSTS * 1000].map((ms) => new Date(ms).toISOString().slice(0, 10)))];
    await producer.send({ topic: TOPICS.pin, acks: -1, messages: (pins?.lines ?? []).map((line, i) => ({ value: JSON.stringify(JSON.parse(line).record), timestamp: String(t + i * 1000) })) });
    const dayAhead = new Date(Date.now() + 86_400_000).toISOString().replace('T', ' ').slice(0, 19);
    await producer.send({ topic: TOPICS.geo, acks: -1, messages: [{ value: JSON.stringify({ ind: 999_999, timestamp: dayAhead, latitude: 0, longitude: 0, country: 'Closing' }) }] });
  } finally {
    await producer.disconnect();
  }
  running.push(startJob(['stream-agg', '--group-id', GROUP, '--metrics-port', '0', '--window', '1m', '--allowed-lateness', '10s', '--idle-timeout', '2s', '--flush-interval-ms', '250'], { ...env, ...topicEnv(TOPICS) }));
}, 300_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await dropLakeSchema(trino, { catalog: 'lake', schema: SCHEMA });
  await session.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`).catch(() => undefined);
  await session.shutdown();
  await deleteKeys('');
  s3.destroy();
});

describe('Trino over the stores the jobs wrote', () => {
  it('lake: the curated day as daily-transform wrote it, every table declared from the contract', async () => {
    const perCategory = await trino.query<{ k: string; n: number }>(`SELECT category AS k, count(*) AS n FROM ${lake('posts')} WHERE dt = DATE '${DAY}' GROUP BY 1`);
    expect(asRecord(perCategory)).toEqual(expectedPerCategory(1, POSTS));
    const [pin] = await trino.query(`SELECT ind, unique_id, follower_count, tag_list, story_format, downloaded, save_location, dt FROM ${lake('pins')} WHERE ind = 7`);
    expect(pin).toEqual({ ind: 7, unique_id: `trino-${DAY}-7`, follower_count: 7000, tag_list: ['x', 'y'], story_format: false, downloaded: true, save_location: '/data/x', dt: DAY });
    const [geo] = await trino.query(`SELECT event_time, coordinates, country FROM ${lake('geo')} WHERE ind = 7`);
    expect(geo).toEqual({ event_time: `${DAY} 03:00:00.000`, coordinates: [1.5, 2.5], country: COUNTRIES[7 % COUNTRIES.length] });
    // Every table of the contract answers, each with the day as its one partition.
    for (const { table } of lakeTables()) {
      const rows = await trino.query<{ dt: string; n: number }>(`SELECT CAST(dt AS varchar) AS dt, count(*) AS n FROM ${lake(table)} GROUP BY 1`);
      expect(rows.map((r) => r.dt), table).toEqual([DAY]);
      expect(rows[0]?.n, table).toBeGreaterThan(0);
    }
  });

  it('cassandra: pins_by_category_day and a metric table loaded by cassandra-load, equal to the lake', async () => {
    const fromCassandra = await trino.query<{ k: string; n: number }>(`SELECT category AS k, count(*) AS n FROM cassandra."${KEYSPACE}".pins_by_category_day WHERE day = DATE '${DAY}' GROUP BY 1`);
    expect(asRecord(fromCassandra)).toEqual(expectedPerCategory(1, POSTS));
    const metric = (catalog: string) =>
      trino.query(`SELECT country, category, category_count FROM ${catalog}.metrics_popular_category_by_country WHERE dt = DATE '${DAY}' ORDER BY country`);
    const inCassandra = await metric(`cassandra."${KEYSPACE}"`);
    expect(inCassandra.length).toBe(COUNTRIES.length);
    expect(inCassandra).toEqual(await metric(`lake."${SCHEMA}"`));
  });

  it("stream: stream-agg's final windows per category, equal to the lake's pins of the day", async () => {
    const windows = () =>
      trino.query<{ k: string; n: number }>(`SELECT category AS k, sum(posts) AS n FROM stream.public.stream_agg_pin_window WHERE group_id = '${GROUP}' AND final GROUP BY 1`);
    expect(await waitFor(async () => Object.values(asRecord(await windows())).reduce((a, b) => a + b, 0) === POSTS, 60_000, 500)).toBe(true);
    const fromLake = await trino.query<{ k: string; n: number }>(`SELECT category AS k, count(*) AS n FROM ${lake('pins')} WHERE dt = DATE '${DAY}' GROUP BY 1`);
    expect(asRecord(await windows())).toEqual(asRecord(fromLake));
  });

  it('history plus today: a day in the lake from the lake, a later day from the stream, no day from both', async () => {
    const perDay = await trino.query<{ dt: string; source: string; n: number }>(
      `SELECT CAST(dt AS varchar) AS dt, source, sum(posts) AS n FROM ${lake('posts_per_category_day')} GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(perDay.filter((r) => r.source === 'lake')).toEqual([{ dt: DAY, source: 'lake', n: POSTS }]);
    expect(perDay.filter((r) => r.source === 'stream').map((r) => r.dt)).toEqual(streamDays);
    expect(perDay.filter((r) => r.source === 'stream').reduce((sum, r) => sum + Number(r.n), 0)).toBe(POSTS);
    const byCategory = await trino.query<{ k: string; n: number }>(`SELECT category AS k, posts AS n FROM ${lake('posts_per_category_day')} WHERE dt = DATE '${DAY}'`);
    expect(asRecord(byCategory)).toEqual(expectedPerCategory(1, POSTS));
    // Geo: the lake's day per country; the stream's one event a day ahead, from the stream.
    const countries = await trino.query<{ k: string; n: number }>(`SELECT country AS k, events AS n FROM ${lake('events_per_country_day')} WHERE source = 'lake'`);
    expect(Object.values(asRecord(countries)).reduce((a, b) => a + b, 0)).toBe(POSTS);
    expect(await trino.query(`SELECT country, events, source FROM ${lake('events_per_country_day')} WHERE source = 'stream'`)).toEqual([{ country: 'Closing', events: 1, source: 'stream' }]);
    const ages = await trino.query<{ n: number }>(`SELECT sum(events) AS n FROM ${lake('events_per_age_group_day')} WHERE dt = DATE '${DAY}' AND source = 'lake'`);
    expect(Number(ages[0]?.n)).toBe(POSTS);
  });

  it('a stream schema stream-agg never wrote to: the views show the lake\'s days only, with a warning, until a run finds the windows', async () => {
    try {
      const run = await lakeTablesRun({ PINPIPE_STREAM_SCHEMA: `never_written_${process.pid}` });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain('has no stream-agg windows yet: posts_per_category_day, events_per_country_day, events_per_age_group_day show the lake');
      const perSource = await trino.query(`SELECT source, sum(posts) AS n FROM ${lake('posts_per_category_day')} GROUP BY 1`);
      expect(perSource).toEqual([{ source: 'lake', n: POSTS }]);
    } finally {
      const restored = await lakeTablesRun();
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).not.toContain('no stream-agg windows yet');
    }
    const sources = await trino.query<{ source: string }>(`SELECT DISTINCT source FROM ${lake('posts_per_category_day')} ORDER BY 1`);
    expect(sources.map((r) => r.source)).toEqual(['lake', 'stream']);
  });

  it('a republished day shows exactly its new rows; a day whose files are gone has no partition after lake-tables', async () => {
    const count = async () => Number((await trino.query<{ n: number }>(`SELECT count(*) AS n FROM ${lake('posts')} WHERE dt = DATE '${DAY_REPUBLISHED}'`))[0]?.n);
    await putObjects(s3, settings.s3Bucket, rawDay(DAY_REPUBLISHED, 1_000, 30));
    await transform(DAY_REPUBLISHED);
    expect((await lakeTablesRun()).code).toBe(0);
    expect(await count()).toBe(30);

    // Republished with fewer rows: the partition stays, its file is replaced.
    await deleteKeys(`raw/`).then(() => putObjects(s3, settings.s3Bucket, [...rawDay(DAY, 1, POSTS), ...rawDay(DAY_REPUBLISHED, 1_000, 20)]));
    await transform(DAY_REPUBLISHED);
    expect(await count()).toBe(20);
    const ids = await trino.query<{ id: string }>(`SELECT unique_id AS id FROM ${lake('pins')} WHERE dt = DATE '${DAY_REPUBLISHED}' ORDER BY ind`);
    expect(ids.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => `trino-${DAY_REPUBLISHED}-${1_000 + i}`));

    // The day's files deleted: the sync drops its partitions, and the day answers no rows.
    for (const { table } of lakeTables()) await deleteKeys(`curated/${table}/dt=${DAY_REPUBLISHED}/`);
    const synced = await lakeTablesRun();
    expect(synced.code, synced.stderr).toBe(0);
    expect(await count()).toBe(0);
    const partitions = await trino.query<{ dt: string }>(`SELECT CAST(dt AS varchar) AS dt FROM lake."${SCHEMA}"."posts$partitions"`);
    expect(partitions.map((p) => p.dt)).toEqual([DAY]);
  });

  it('a day never loaded answers no rows, not an error; lake-tables --date fails for it, naming the day', async () => {
    expect(await trino.query(`SELECT * FROM ${lake('posts')} WHERE dt = DATE '${DAY_NEVER_LOADED}'`)).toEqual([]);
    expect((await runCli(['lake-tables', '--date', DAY], env, 120_000)).code).toBe(0);
    const missing = await runCli(['lake-tables', '--date', DAY_NEVER_LOADED], env, 120_000);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('PINPIPE_INPUT_NOT_FOUND');
    expect(missing.stderr).toContain(`day ${DAY_NEVER_LOADED} is not in the lake: no partition dt=${DAY_NEVER_LOADED} of pins, geo, users, posts`);
    expect((await runCli(['lake-tables', '--date', '2031-02-30'], env, 30_000)).code).toBe(2);
  });

  it('lake-tables re-declares a table declared from another contract, and leaves the others', async () => {
    await trino.query(`DROP TABLE ${lake('users')}`);
    await trino.query(`CREATE TABLE ${lake('users')} (ind bigint, dt date) COMMENT 'pinpipe curated contract 0000000000000000' WITH (external_location = 's3://${settings.s3Bucket}/curated/users/', format = 'PARQUET', partitioned_by = ARRAY['dt'])`);
    const run = await lakeTablesRun();
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stderr.split('\n').find((l) => l.includes('lake tables declared')) as string) as { replaced: string[]; unchanged: string[]; created: string[] };
    expect(summary.replaced).toEqual(['users']);
    expect(summary.created).toEqual([]);
    expect(summary.unchanged).toHaveLength(lakeTables().length - 1);
    const [user] = await trino.query(`SELECT user_name, age FROM ${lake('users')} WHERE ind = 7`);
    expect(user).toEqual({ user_name: 'F L7', age: 25 });
  });

  it('Trino down: exit 1 with PINPIPE_DEPENDENCY_UNAVAILABLE naming the URL', async () => {
    const run = await lakeTablesRun({ PINPIPE_TRINO_URL: 'http://127.0.0.1:1' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PINPIPE_DEPENDENCY_UNAVAILABLE');
    expect(run.stderr).toContain('Trino at http://127.0.0.1:1 did not answer');
  });
});
