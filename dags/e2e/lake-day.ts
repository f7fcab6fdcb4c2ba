/**
 * Helper of the Airflow end-to-end test (dags/scripts/e2e.sh), run with tsx from the repo root:
 *
 *   tsx dags/e2e/lake-day.ts seed  <D> [posts]   put emulated raw objects for day D (and a few
 *                                                for D+1, so D is "closed") into the S3 lake
 *   tsx dags/e2e/lake-day.ts count <D>           print {"pins": n, "users_joined": m}: the
 *                                                Cassandra rows cassandra-load wrote for D
 *   tsx dags/e2e/lake-day.ts clean <D>           remove what the test left of D: its raw objects
 *                                                (and D+1's), curated partitions, quality report
 *                                                and Cassandra rows; print what was removed
 *
 * Connection settings come from the PINPIPE_* variables of `stack/stack.sh env`.
 */
import { readFileSync } from 'node:fs';
import { createCassandraClient } from '../../jobs/lib/cassandra.js';
import { TOPICS, type PinRecord, type TypedRecord } from '../../jobs/lib/contracts.js';
import { LAKE_PREFIXES, qualityReportKey, rawDayPrefix } from '../../jobs/lib/lake.js';
import { metricTable, METRICS } from '../../jobs/daily-transform/metrics-sql.js';
import { deleteKeys } from '../../jobs/daily-transform/publish.js';
import { listKeys } from '../../jobs/daily-transform/stage.js';
import { bundledDataFile } from '../../jobs/lib/paths.js';
import { createS3Client, ensureBucket } from '../../jobs/lib/s3.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../../jobs/emulate/generator.js';
import { putObjects, toRawObjects } from '../../jobs/daily-transform/test/raw-lake.js';
import { serviceSettings } from '../../jobs/test/services.js';

const DAY_MS = 86_400_000;

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

async function count(date: string): Promise<void> {
  const settings = serviceSettings();
  const client = createCassandraClient(settings);
  try {
    const ks = settings.cassandraKeyspace;
    const exists = await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [ks, 'pins_by_id']);
    if (exists.rowLength === 0) {
      process.stdout.write(`${JSON.stringify({ pins: 0, users_joined: 0 })}\n`);
      return;
    }
    const pins = await client.execute(`SELECT count(*) AS n FROM ${ks}.pins_by_id WHERE dt = ? ALLOW FILTERING`, [date], { prepare: true });
    const joined = await client.execute(`SELECT count(*) AS n FROM ${ks}.metrics_users_joined_per_year WHERE dt = ?`, [date], { prepare: true });
    process.stdout.write(`${JSON.stringify({ pins: Number(pins.first().get('n')), users_joined: Number(joined.first().get('n')) })}\n`);
  } finally {
    await client.shutdown();
  }
}

/** Removes day D of the test from the lake and from Cassandra, so runs do not pile up days. */
async function clean(date: string): Promise<void> {
  const settings = serviceSettings();
  const s3 = createS3Client(settings);
  const client = createCassandraClient(settings);
  try {
    const next = new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
    const prefixes = [
      ...Object.values(TOPICS).flatMap((topic) => [rawDayPrefix(topic, date), rawDayPrefix(topic, next)]),
      `${LAKE_PREFIXES.curated}/`,
      qualityReportKey(date),
    ];
    const keys: string[] = [];
    for (const prefix of prefixes) {
      const found = await listKeys(s3, settings.s3Bucket, prefix);
      keys.push(...(prefix.startsWith(`${LAKE_PREFIXES.curated}/`) && prefix.endsWith('/') ? found.filter((k) => k.includes(`/dt=${date}/`)) : found));
    }
    await deleteKeys(s3, settings.s3Bucket, keys);

    const ks = settings.cassandraKeyspace;
    const pins = await client.execute(`SELECT unique_id, category FROM ${ks}.pins_by_id WHERE dt = ? ALLOW FILTERING`, [date], { prepare: true, fetchSize: 10_000 });
    const categories = new Set<string>();
    for (const row of pins.rows) {
      await client.execute(`DELETE FROM ${ks}.pins_by_id WHERE unique_id = ?`, [row.get('unique_id')], { prepare: true });
      if (row.get('category') !== null) categories.add(row.get('category') as string);
    }
    for (const category of categories) await client.execute(`DELETE FROM ${ks}.pins_by_category_day WHERE category = ? AND day = ?`, [category, date], { prepare: true });
    for (const metric of METRICS) await client.execute(`DELETE FROM ${ks}.${metricTable(metric.name)} WHERE dt = ?`, [date], { prepare: true });
    process.stdout.write(`${JSON.stringify({ date, objects: keys.length, pins: pins.rowLength, categories: categories.size })}\n`);
  } finally {
    s3.destroy();
    await client.shutdown();
  }
}

const [command, date, extra] = process.argv.slice(2);
if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
  process.stderr.write('usage: lake-day.ts seed|count|clean YYYY-MM-DD [posts]\n');
  process.exit(2);
}
if (command === 'seed') await seed(date, Number(extra ?? 300));
else if (command === 'count') await count(date);
else if (command === 'clean') await clean(date);
else {
  process.stderr.write(`unknown command ${command}\n`);
  process.exit(2);
}
