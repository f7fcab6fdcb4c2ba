import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, type PinRecord } from '../lib/contracts.js';
import { bundledDataFile } from '../lib/paths.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { runCli } from '../test/cli.js';
import { listKeys, waitFor } from '../test/lake.js';
import { startJob } from '../test/process.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../emulate/generator.js';
import { privateBucket, serviceEnv, serviceSettings } from '../test/services.js';
import { COLUMN_TYPES, lakeTables } from '../lib/curated.js';
import type { QualityReport } from './report.js';
import { readParquet } from '../test/parquet.js';
import { lakeLine, putObjects, toRawObjects, type RawObject } from '../test/raw-lake.js';

const settings = serviceSettings();
const s3 = createS3Client(settings);
const bucket = privateBucket('pinpipe-it-daily');
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: bucket };
// Far-apart days of their own, so these tests never meet other data in the lake.
const DAY_OK = '2031-01-01';
const DAY_BAD = '2031-01-02';
const DAY_MISSING = '2031-01-03';
const DAY_STOPPED = '2031-01-04';
const DAYS = [DAY_OK, DAY_BAD, DAY_MISSING, DAY_STOPPED];
const REAL_PINS = readFileSync(bundledDataFile('pinterest_pin_sample.ndjson'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as PinRecord);
const COUNTRIES = ['Brazil', 'France', 'India', 'Japan', 'Spain'];

let work: string;

async function getBytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function dayKeys(date: string): Promise<string[]> {
  const all = await Promise.all([
    ...Object.values(TOPICS).map((t) => listKeys(s3, bucket, `raw/${t}/dt=${date}/`)),
    listKeys(s3, bucket, 'curated/').then((keys) => keys.filter((k) => k.includes(`/dt=${date}/`))),
    listKeys(s3, bucket, `reports/quality/dt=${date}/`),
  ]);
  return all.flat();
}

async function cleanDay(date: string): Promise<void> {
  const keys = await dayKeys(date);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
  }
}

/** The 200 real pins, each with a generated geo and user row, spread over two partitions and two hours. */
function realDay(date: string): RawObject[] {
  const t0 = Date.parse(`${date}T00:00:00Z`);
  const objects: RawObject[] = [];
  for (const [hour, pins] of [REAL_PINS.slice(0, 100), REAL_PINS.slice(100)].entries()) {
    const timeMs = t0 + hour * 3_600_000;
    const geo = pins.map((p, i) => ({
      ind: p.index,
      timestamp: new Date(timeMs + i * 1000).toISOString().slice(0, 19).replace('T', ' '),
      latitude: 10 + (p.index % 50),
      longitude: -20 + (p.index % 90),
      country: COUNTRIES[p.index % COUNTRIES.length],
    }));
    const users = pins.map((p) => ({ ind: p.index, first_name: `First${p.index}`, last_name: `Last${p.index}`, age: 18 + (p.index % 50), date_joined: `201${5 + (p.index % 3)}-06-01 12:00:00` }));
    const offset = hour * 100;
    objects.push(
      { type: 'pin', partition: hour, startOffset: offset, timeMs, lines: pins.map((p, i) => lakeLine('pin', p, hour, offset + i, timeMs)) },
      { type: 'geo', partition: hour, startOffset: offset, timeMs, lines: geo.map((g, i) => lakeLine('geo', g, hour, offset + i, timeMs)) },
      { type: 'user', partition: hour, startOffset: offset, timeMs, lines: users.map((u, i) => lakeLine('user', u, hour, offset + i, timeMs)) },
    );
  }
  // A resent copy of the first pin, later in the log, and one line that is not JSON at all.
  const late = t0 + 2 * 3_600_000;
  objects.push({ type: 'pin', partition: 0, startOffset: 500, timeMs: late, lines: [lakeLine('pin', { ...REAL_PINS[0], title: 'resent' }, 0, 500, late), '{"truncated":'] });
  return objects;
}

beforeAll(async () => {
  await ensureBucket(s3, bucket);
  work = await mkdtemp(join(tmpdir(), 'pinpipe-daily-it-'));
  for (const d of DAYS) await cleanDay(d);
});

afterAll(async () => {
  for (const d of DAYS) await cleanDay(d);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  s3.destroy();
});

async function report(date: string): Promise<QualityReport> {
  return JSON.parse((await getBytes(`reports/quality/dt=${date}/report.json`)).toString('utf8')) as QualityReport;
}

describe('daily-transform against real S3', () => {
  it('cleans the 200 real pins into curated Parquet, metrics and a passing report; a rerun gives identical bytes', async () => {
    await putObjects(s3, bucket, realDay(DAY_OK));
    const first = await runCli(['daily-transform', '--date', DAY_OK], env, 120_000);
    expect(first.stderr).toMatch(/daily-transform finished/);
    expect(first.code).toBe(0);

    const tables = lakeTables();
    const keys = tables.map(({ table }) => `curated/${table}/dt=${DAY_OK}/part-0.parquet`);
    const curated = (await listKeys(s3, bucket, 'curated/')).filter((k) => k.includes(`/dt=${DAY_OK}/`));
    expect(curated.sort()).toEqual([...keys].sort());
    // Every file has exactly the contract's columns, in its order, with its types: what the lake's Trino tables declare.
    for (const [i, { table, columns }] of tables.entries()) {
      const file = join(work, `contract-${table}.parquet`);
      await writeFile(file, await getBytes(keys[i] as string));
      const described = await readParquet(file, 'SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM t)');
      expect(described.map((c) => [c.column_name, c.column_type]), table).toEqual(columns.map(([name, type]) => [name, COLUMN_TYPES[type].duckdb]));
    }

    const r = await report(DAY_OK);
    expect(r).toMatchObject({ date: DAY_OK, passed: true, failures: [], thresholds: { max_rejected_pct: 5 } });
    expect(r.input.lines).toEqual({ pin: 202, geo: 200, user: 200 });
    expect(r.rejected).toMatchObject({ total: 1, by_reason: { 'invalid JSON': 1 } });
    expect(r.tables.pins).toEqual({ rows_in: 201, rows_out: 200, duplicates_dropped: 1 });
    expect(r.tables.posts?.rows_out).toBe(200);
    expect(r.placeholders_replaced.follower_count).toBe(REAL_PINS.filter((p) => p.follower_count === 'User Info Error').length);

    // The first real pin, cleaned (the resent copy lost: it came later in the log).
    const path = join(work, 'pins.parquet');
    await writeFile(path, await getBytes(keys[0] as string));
    const pin46 = (await readParquet(path, 'SELECT * FROM t WHERE ind = 46'))[0];
    expect(pin46).toEqual({
      ind: 46,
      unique_id: '19234073-8905-4885-b0d5-98e0b84cbf27',
      title: '10 Watercolor Hacks For Beginners | Tips and Tricks to Making Watercolor Painting Easier',
      description: 'Mountain monologue watercolor',
      poster_name: null,
      follower_count: 27_000,
      tag_list: [
        'Arte Inspo',
        'Kunst Inspo',
        'Watercolor Artists',
        'Watercolor Ideas',
        'Simple Watercolor',
        'Tattoo Watercolor',
        'Watercolor Techniques',
        'Watercolor Animals',
        'Watercolor Illustration',
      ],
      media_type: 'image',
      story_format: false,
      image_src: 'https://i.pinimg.com/originals/fd/54/89/fd548935dcb13545120a2115baaa41d9.jpg',
      downloaded: true,
      save_location: '/data/art',
      category: 'art',
      posted_at: expect.stringMatching(new RegExp(`^${DAY_OK}T`)),
    });

    // Real pins with every placeholder, story format, "1M" and a plain video, cleaned by hand.
    const tricky = await readParquet(path, 'SELECT ind, title, description, follower_count, tag_list, media_type, story_format, image_src, downloaded, save_location FROM t WHERE ind IN (1341, 223, 159, 1313) ORDER BY ind');
    expect(tricky).toEqual([
      { ind: 159, title: "Valentine's Day Bee Directed Drawing {Art Project}", description: expect.stringMatching(/^This bee directed drawing/), follower_count: 1_000_000, tag_list: expect.arrayContaining(['Grade 1 Art']), media_type: 'image', story_format: false, image_src: 'https://i.pinimg.com/originals/49/ff/2e/49ff2e83c0cefdd37213f6084c6f0566.jpg', downloaded: true, save_location: '/data/art' },
      { ind: 223, title: 'Easy Gouache painting', description: null, follower_count: 29_000, tag_list: expect.arrayContaining(['Gouache Painting']), media_type: 'video', story_format: true, image_src: 'https://i.pinimg.com/videos/thumbnails/originals/17/49/16/1749164b93866d4eac32a52a3ccfd40a.0000001.jpg', downloaded: true, save_location: '/data/art' },
      { ind: 1313, title: 'Liquid Lash Extensions Mascara', description: expect.stringMatching(/^Instantly create/), follower_count: 43_000, tag_list: null, media_type: 'video', story_format: false, image_src: 'https://i.pinimg.com/videos/thumbnails/originals/69/84/e2/6984e20f3e262098fa9c0614c3453254.0000001.jpg', downloaded: true, save_location: '/data/beauty' },
      { ind: 1341, title: null, description: null, follower_count: null, tag_list: null, media_type: 'video', story_format: true, image_src: null, downloaded: false, save_location: '/data/beauty' },
    ]);

    const before = await Promise.all(keys.map(getBytes));
    // A stale file from some other writer must be gone after the rerun.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `curated/pins/dt=${DAY_OK}/part-1.parquet`, Body: 'stale' }));
    const second = await runCli(['daily-transform', '--date', DAY_OK], env, 120_000);
    expect(second.code).toBe(0);
    const after = await Promise.all(keys.map(getBytes));
    for (const [i, key] of keys.entries()) expect(after[i]?.equals(before[i] as Buffer), key).toBe(true);
    expect(await listKeys(s3, bucket, `curated/pins/dt=${DAY_OK}/`)).toEqual([keys[0]]);
  });

  it('fails a day over --max-rejected-pct: report with passed=false, exit 1, curated data untouched', async () => {
    const t = Date.parse(`${DAY_BAD}T05:00:00Z`);
    const good = REAL_PINS.slice(0, 10);
    await putObjects(s3, bucket, [
      { type: 'pin', partition: 0, startOffset: 0, timeMs: t, lines: [...good.map((p, i) => lakeLine('pin', p, 0, i, t)), 'garbage', 'more garbage'] },
      { type: 'geo', partition: 0, startOffset: 0, timeMs: t, lines: good.map((p, i) => lakeLine('geo', { ind: p.index, timestamp: '2031-01-02 05:00:00', latitude: 1, longitude: 2, country: 'Spain' }, 0, i, t)) },
      { type: 'user', partition: 0, startOffset: 0, timeMs: t, lines: good.map((p, i) => lakeLine('user', { ind: p.index, first_name: 'A', last_name: 'B', age: 30, date_joined: '2016-01-01 00:00:00' }, 0, i, t)) },
    ]);
    const { code, stderr } = await runCli(['daily-transform', '--date', DAY_BAD, '--max-rejected-pct', '5'], env, 120_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/data quality of 2031-01-02 failed: 2 of 32 raw lines \(6.25%\) were rejected, more than --max-rejected-pct 5%/);
    expect(stderr).toMatch(/PINPIPE_QUALITY_FAILED/);
    const r = await report(DAY_BAD);
    expect(r.passed).toBe(false);
    expect(r.rejected.samples.map((s) => s.line).sort()).toEqual(['garbage', 'more garbage']);
    expect((await listKeys(s3, bucket, 'curated/')).filter((k) => k.includes(`/dt=${DAY_BAD}/`))).toEqual([]);

    // A looser threshold lets the same day through.
    expect((await runCli(['daily-transform', '--date', DAY_BAD, '--max-rejected-pct', '10'], env, 120_000)).code).toBe(0);
    expect((await report(DAY_BAD)).passed).toBe(true);
  });

  it('refuses a day without raw data with a clear error, unless --allow-empty', async () => {
    const { code, stderr } = await runCli(['daily-transform', '--date', DAY_MISSING], env);
    expect(code).toBe(1);
    expect(stderr).toMatch(/no raw data for 2031-01-03: nothing under s3:\/\/\S+\/raw\/pinterest.pin.v1\/dt=2031-01-03\//);
    expect(stderr).toMatch(/PINPIPE_INPUT_NOT_FOUND/);

    const empty = await runCli(['daily-transform', '--date', DAY_MISSING, '--allow-empty'], env, 120_000);
    expect(empty.code).toBe(0);
    const r = await report(DAY_MISSING);
    expect(r).toMatchObject({ passed: true, rejected_pct: 0 });
    expect(r.tables.posts?.rows_out).toBe(0);
  });

  it('stops on SIGTERM during the transform with exit 143, replacing nothing', async () => {
    const t0 = Date.parse(`${DAY_STOPPED}T00:00:00Z`);
    const generator = generatePosts(REAL_PINS, { ...DEFAULT_GENERATOR_OPTIONS, seed: 4, startTimeMs: t0 });
    const records = Array.from({ length: 40_000 }, () => postRecords(generator.next().value as Post)).flat();
    await putObjects(s3, bucket, toRawObjects(records, t0, 3, 20_000));
    const job = startJob(['daily-transform', '--date', DAY_STOPPED], env);
    expect(await waitFor(async () => job.logs().includes('"step":"stage pin"'), 60_000, 20)).toBe(true);
    expect(await job.stop('SIGTERM')).toBe(143);
    expect(job.logs()).toMatch(/PINPIPE_INTERRUPTED/);
    expect((await listKeys(s3, bucket, 'curated/')).filter((k) => k.includes(`/dt=${DAY_STOPPED}/`))).toEqual([]);
    expect(await listKeys(s3, bucket, `reports/quality/dt=${DAY_STOPPED}/`)).toEqual([]);
  });
});
