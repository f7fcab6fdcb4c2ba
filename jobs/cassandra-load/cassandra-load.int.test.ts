import { DeleteBucketCommand, DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { runCli } from '../test/cli.js';
import { listKeys } from '../test/lake.js';
import { privateBucket, serviceEnv, serviceSettings, uniqueName } from '../test/services.js';
import { lakeLine, putObjects } from '../test/raw-lake.js';
import { LOAD_TARGETS } from './targets.js';

const settings = serviceSettings();
const s3 = createS3Client(settings);
const bucket = privateBucket('pinpipe-it-load');
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: bucket };
const keyspace = uniqueName('pinpipe_it_load').toLowerCase();
// Days of their own, far from any other test's.
const DAY = '2031-01-11';
const DAY_NO_REPORT = '2031-01-12';
const DAY_FAILED = '2031-01-13';
const DAY_NO_CURATED = '2031-01-14';
const DAYS = [DAY, DAY_NO_REPORT, DAY_FAILED, DAY_NO_CURATED];
const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });

async function cleanDay(date: string): Promise<void> {
  const keys = [
    ...(await listKeys(s3, bucket, 'raw/')).filter((k) => k.includes(`/dt=${date}/`)),
    ...(await listKeys(s3, bucket, 'curated/')).filter((k) => k.includes(`/dt=${date}/`)),
    ...(await listKeys(s3, bucket, `reports/quality/dt=${date}/`)),
  ];
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
}

const CATEGORIES = ['art', 'travel', 'vehicles'];

beforeAll(async () => {
  await ensureBucket(s3, bucket);
  await session.connect();
  for (const d of DAYS) await cleanDay(d);
  const t = Date.parse(`${DAY}T03:00:00Z`);
  const n = 60;
  const pins = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    unique_id: `load-${i + 1}`,
    title: `Pin ${i + 1}`,
    description: 'd',
    poster_name: `Poster ${i % 7}`,
    follower_count: `${i + 1}k`,
    tag_list: 'x,y',
    is_image_or_video: i % 10 === 0 ? 'multi-video(story page format)' : 'image',
    image_src: 'Image src error.',
    downloaded: 1,
    save_location: 'Local save in /data/x',
    category: CATEGORIES[i % 3],
  }));
  await putObjects(s3, bucket, [
    { type: 'pin', partition: 0, startOffset: 0, timeMs: t, lines: pins.map((p, i) => lakeLine('pin', p, 0, i, t)) },
    {
      type: 'geo',
      partition: 0,
      startOffset: 0,
      timeMs: t,
      lines: pins.map((p, i) => lakeLine('geo', { ind: p.index, timestamp: '2031-01-11 03:00:00', latitude: 1.5, longitude: 2.5, country: i % 2 ? 'Spain' : 'Japan' }, 0, i, t)),
    },
    {
      type: 'user',
      partition: 0,
      startOffset: 0,
      timeMs: t,
      // Every fifth post has no user row, so pins_by_id holds some pins without user columns.
      lines: pins.filter((_, i) => i % 5 !== 4).map((p, i) => lakeLine('user', { ind: p.index, first_name: 'F', last_name: `L${p.index}`, age: 20 + (p.index % 40), date_joined: '2016-02-03 04:05:06' }, 0, i, t)),
    },
  ]);
  const transform = await runCli(['daily-transform', '--date', DAY], env, 120_000);
  expect(transform.code, transform.stderr).toBe(0);
});

afterAll(async () => {
  await session.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await session.shutdown();
  for (const d of DAYS) await cleanDay(d);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  s3.destroy();
});

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of LOAD_TARGETS) out[t.table] = Number((await session.execute(`SELECT count(*) FROM ${keyspace}.${t.table}`)).rows[0]?.count);
  return out;
}

function load(date: string, extra: string[] = []) {
  return runCli(['cassandra-load', '--date', date, '--cassandra-keyspace', keyspace, ...extra], env, 120_000);
}

describe('cassandra-load against real S3 and Cassandra', () => {
  it('creates the schema, loads pins and metrics, and gives the same rows when run twice', async () => {
    const first = await load(DAY, ['--replication', '{"class":"NetworkTopologyStrategy","datacenter1":1}']);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout.trim()) as { rows: Record<string, number>; errors: Record<string, number> };
    expect(summary.rows.pins_by_id).toBe(60);
    expect(summary.rows.pins_by_category_day).toBe(60);
    expect(Object.values(summary.errors).every((e) => e === 0)).toBe(true);

    const ks = await session.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace]);
    expect(ks.rows[0]?.replication).toMatchObject({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '1' });
    const migrations = await session.execute(`SELECT version, file FROM ${keyspace}.schema_migrations`);
    expect(migrations.rows.map((r) => [r.version, r.file])).toEqual([[1, 'V001__pins_and_metrics.cql']]);

    const firstCounts = await counts();
    expect(firstCounts.pins_by_id).toBe(60);
    expect(firstCounts.metrics_popular_category_by_country).toBe(2);

    const pin = (await session.execute(`SELECT * FROM ${keyspace}.pins_by_id WHERE unique_id = 'load-1'`)).rows[0];
    expect(pin).toMatchObject({ ind: cassandra.types.Long.fromNumber(1), follower_count: cassandra.types.Long.fromNumber(1000), media_type: 'video', story_format: true, image_src: null, save_location: '/data/x', country: 'Japan', user_name: 'F L1', tag_list: ['x', 'y'] });
    expect(pin?.dt.toString()).toBe(DAY);
    expect(pin).toMatchObject({ latitude: 1.5, longitude: 2.5, age: 21, event_time: new Date('2031-01-11T03:00:00Z'), date_joined: new Date('2016-02-03T04:05:06Z') });
    const byCategory = await session.execute(`SELECT unique_id FROM ${keyspace}.pins_by_category_day WHERE category = 'art' AND day = '${DAY}'`);
    expect(byCategory.rows.length).toBe(20);
    const noUser = (await session.execute(`SELECT user_name, country FROM ${keyspace}.pins_by_id WHERE unique_id = 'load-5'`)).rows[0];
    expect(noUser).toMatchObject({ user_name: null, country: null });

    const second = await load(DAY);
    expect(second.code, second.stderr).toBe(0);
    expect(await counts()).toEqual(firstCounts);
  });

  it('refuses a day without a quality report', async () => {
    const { code, stderr } = await load(DAY_NO_REPORT);
    expect(code).toBe(1);
    expect(stderr).toMatch(/no quality report for 2031-01-12 .*run pinpipe daily-transform --date 2031-01-12 first/);
    expect(stderr).toMatch(/PINPIPE_INPUT_NOT_FOUND/);
  });

  it('refuses a day whose quality report failed', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `reports/quality/dt=${DAY_FAILED}/report.json`, Body: JSON.stringify({ date: DAY_FAILED, passed: false, failures: ['too many rejected lines'] }) }),
    );
    const { code, stderr } = await load(DAY_FAILED);
    expect(code).toBe(1);
    expect(stderr).toMatch(/the quality report of 2031-01-13 did not pass: too many rejected lines; refusing to load/);
    expect(stderr).toMatch(/PINPIPE_QUALITY_FAILED/);
  });

  it('refuses a day whose curated data is missing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `reports/quality/dt=${DAY_NO_CURATED}/report.json`, Body: JSON.stringify({ date: DAY_NO_CURATED, passed: true, failures: [] }) }));
    const { code, stderr } = await load(DAY_NO_CURATED);
    expect(code).toBe(1);
    expect(stderr).toMatch(/curated data of 2031-01-14 is missing: s3:\/\/\S+\/curated\/pins\/dt=2031-01-14\/part-0.parquet/);
  });
});
