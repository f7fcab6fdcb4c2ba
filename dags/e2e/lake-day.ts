/**
 * Helper of the Airflow end-to-end test (dags/scripts/e2e.sh), run with tsx from the repo root:
 *
 *   tsx dags/e2e/lake-day.ts seed  <D> [posts]   put emulated raw objects for day D (and a few
 *                                                for D+1, so D is "closed") into the S3 lake
 *   tsx dags/e2e/lake-day.ts count <D>           print {"pins": n, "users_joined": m, "lake_posts": p}:
 *                                                the Cassandra rows cassandra-load wrote for D, and
 *                                                D's posts as Trino's lake catalog answers them
 *   tsx dags/e2e/lake-day.ts loaded <D>          the same, and exit 1 naming what is missing unless
 *                                                cassandra-load wrote pins and metrics and Trino's
 *                                                lake catalog answers D's posts: the check after a run
 *   tsx dags/e2e/lake-day.ts clean <D>           remove the test's own bucket, keyspace and lake
 *                                                schema, with everything in them; print what was removed
 *
 * Connection settings come from the PINPIPE_* variables of `stack/stack.sh env`; e2e.sh points
 * PINPIPE_S3_BUCKET, PINPIPE_CASSANDRA_KEYSPACE and PINPIPE_LAKE_SCHEMA at a bucket, keyspace and
 * Trino schema of the run's own.
 */
import { readFileSync } from 'node:fs';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { createCassandraClient } from '../../jobs/lib/cassandra.js';
import type { PinRecord, TypedRecord } from '../../jobs/lib/contracts.js';
import { deleteKeys } from '../../jobs/daily-transform/publish.js';
import { listKeys } from '../../jobs/lib/stage.js';
import { TrinoClient } from '../../jobs/lib/trino.js';
import { dropLakeSchema } from '../../jobs/lake-tables/run.js';
import { bundledDataFile } from '../../jobs/lib/paths.js';
import { createS3Client, ensureBucket } from '../../jobs/lib/s3.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../../jobs/emulate/generator.js';
import { putObjects, toRawObjects } from '../../jobs/test/raw-lake.js';
import { serviceSettings } from '../../jobs/test/services.js';

const DAY_MS = 86_400_000;
const lakeSchema = process.env.PINPIPE_LAKE_SCHEMA ?? 'curated';

/** D's posts through Trino's lake catalog; 0 while the run's schema has no posts table yet. */
async function lakePosts(date: string): Promise<number> {
  const trino = new TrinoClient(serviceSettings());
  const tables = await trino.query(`SELECT table_name FROM lake.information_schema.tables WHERE table_schema = '${lakeSchema}' AND table_name = 'posts'`);
  if (tables.length === 0) return 0;
  const [row] = await trino.query<{ n: number }>(`SELECT count(*) AS n FROM lake."${lakeSchema}".posts WHERE dt = DATE '${date}'`);
  return Number(row?.n ?? 0);
}

function recordsOf(startTimeMs: number, count: number, seed: number): TypedRecord[] {
  const pins = readFileSync(bundledDataFile('pinterest_pin_sample.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as PinRecord);
  const out: TypedRecord[] = [];
  // Rate 1/s from 10:00 keeps every event time inside day D.
  const posts = generatePosts(pins, { ...DEFAULT_GENERATOR_OPTIONS, rate: 1, lateRate: 0, seed, startTimeMs });
  for (const post of posts) {
    out.push(...postRecords(post));
    if (out.length >= count * 3) break;
  }
  return out;
}

async function seed(date: string, posts: number): Promise<void> {
  const settings = serviceSettings();
  const s3 = createS3Client(settings);
  await ensureBucket(s3, settings.s3Bucket);
  const t0 = Date.parse(`${date}T00:00:00Z`);
  const day = toRawObjects(recordsOf(t0 + 10 * 3_600_000, posts, 7), t0 + 10 * 3_600_000, 2, 200);
  const next = toRawObjects(recordsOf(t0 + DAY_MS, 5, 8), t0 + DAY_MS, 1, 200).map((o) => ({ ...o, startOffset: o.startOffset + 1_000_000 }));
  await putObjects(s3, settings.s3Bucket, [...day, ...next]);
  s3.destroy();
  process.stdout.write(`${JSON.stringify({ date, objects: day.length, nextDayObjects: next.length })}\n`);
}

interface DayCounts {
  pins: number;
  users_joined: number;
  lake_posts: number;
}

async function count(date: string): Promise<DayCounts> {
  const settings = serviceSettings();
  const client = createCassandraClient(settings);
  try {
    const ks = settings.cassandraKeyspace;
    const exists = await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [ks, 'pins_by_id']);
    if (exists.rowLength === 0) return { pins: 0, users_joined: 0, lake_posts: await lakePosts(date) };
    const pins = await client.execute(`SELECT count(*) AS n FROM ${ks}.pins_by_id WHERE dt = ? ALLOW FILTERING`, [date], { prepare: true });
    const joined = await client.execute(`SELECT count(*) AS n FROM ${ks}.metrics_users_joined_per_year WHERE dt = ?`, [date], { prepare: true });
    return { pins: Number(pins.first().get('n')), users_joined: Number(joined.first().get('n')), lake_posts: await lakePosts(date) };
  } finally {
    await client.shutdown();
  }
}

/** What a successful run of day D leaves behind, or the first thing missing. */
function missingAfterRun(date: string, counts: DayCounts): string | undefined {
  if (counts.pins === 0 || counts.users_joined === 0) return `cassandra-load wrote no rows for ${date}`;
  if (counts.lake_posts === 0) return `Trino's lake catalog answers no posts of ${date} after lake-tables`;
  return undefined;
}

/**
 * Removes what the test made: its own bucket (every object in it, then the bucket) and its own
 * keyspace. Refuses the defaults, so it can never empty the user's lake or tables.
 */
async function clean(date: string): Promise<void> {
  const settings = serviceSettings();
  if (settings.s3Bucket === 'pinpipe' || settings.cassandraKeyspace === 'pinpipe' || lakeSchema === 'curated') {
    throw new Error(`refusing to clean the default bucket, keyspace or lake schema (${settings.s3Bucket}, ${settings.cassandraKeyspace}, ${lakeSchema}): the end-to-end test runs on its own`);
  }
  // The Trino tables first: they are external, so dropping them leaves the files to the bucket's removal below.
  await dropLakeSchema(new TrinoClient(settings), { catalog: 'lake', schema: lakeSchema });
  const s3 = createS3Client(settings);
  const client = createCassandraClient(settings);
  try {
    const keys = await listKeys(s3, settings.s3Bucket, '');
    await deleteKeys(s3, settings.s3Bucket, keys);
    await s3.send(new DeleteBucketCommand({ Bucket: settings.s3Bucket }));
    await client.execute(`DROP KEYSPACE IF EXISTS ${settings.cassandraKeyspace}`);
    process.stdout.write(`${JSON.stringify({ date, bucket: settings.s3Bucket, objects: keys.length, keyspace: settings.cassandraKeyspace, lakeSchema })}\n`);
  } finally {
    s3.destroy();
    await client.shutdown();
  }
}

const [command, date, extra] = process.argv.slice(2);
if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
  process.stderr.write('usage: lake-day.ts seed|count|loaded|clean YYYY-MM-DD [posts]\n');
  process.exit(2);
}
if (command === 'seed') await seed(date, Number(extra ?? 300));
else if (command === 'count') process.stdout.write(`${JSON.stringify(await count(date))}\n`);
else if (command === 'loaded') {
  const counts = await count(date);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  const missing = missingAfterRun(date, counts);
  if (missing !== undefined) {
    process.stderr.write(`${missing}\n`);
    process.exit(1);
  }
} else if (command === 'clean') await clean(date);
else {
  process.stderr.write(`unknown command ${command}\n`);
  process.exit(2);
}
