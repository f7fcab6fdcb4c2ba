import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../lib/contracts.js';
import { openDuckDb, type DuckDb } from '../lib/duckdb.js';
import { readParquet } from '../test/parquet.js';
import { lakeLine, writeLocalObjects, type RawObject } from '../test/raw-lake.js';
import { curatedViewSql, stageSql, stageTableSql } from './sql.js';
import { transformDay } from './transform.js';
import type { TransformOutput } from './types.js';

const DATE = '2031-01-05';
const T = Date.UTC(2031, 0, 5, 1);

function pin(index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index,
    unique_id: `u-${String(index).padStart(2, '0')}`,
    title: `Title ${index}`,
    description: `Description ${index}`,
    poster_name: `Poster ${index}`,
    follower_count: '10',
    tag_list: 'a,b',
    is_image_or_video: 'image',
    image_src: `https://i.example/${index}.jpg`,
    downloaded: 1,
    save_location: 'Local save in /data/art',
    category: 'art',
    ...overrides,
  };
}

const geo = (ind: number, timestamp: string, latitude: number, longitude: number, country: string) => ({ ind, timestamp, latitude, longitude, country });
const user = (ind: number, first_name: string, last_name: string, age: number, date_joined: string) => ({ ind, first_name, last_name, age, date_joined });

/** Lines at consecutive offsets from `start` in one partition. */
function object(type: RawObject['type'], partition: number, start: number, records: Array<unknown | string>): RawObject {
  return {
    type,
    partition,
    startOffset: start,
    timeMs: T,
    lines: records.map((r, i) => (typeof r === 'string' ? r : lakeLine(type, r, partition, start + i, T))),
  };
}

const OBJECTS: RawObject[] = [
  object('pin', 0, 0, [
    pin(1, {
      title: 'No Title Data Available',
      description: 'No description available Story format',
      poster_name: 'User Info Error',
      follower_count: 'User Info Error',
      tag_list: 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e',
      image_src: 'Image src error.',
      is_image_or_video: 'multi-video(story page format)',
      downloaded: 0,
      save_location: 'Local save in /data/travel',
      category: 'travel',
    }),
    pin(2, { title: 'Untitled', description: 'Untitled', follower_count: '13k', tag_list: 'Art, Watercolor ,Ideas', is_image_or_video: 'video' }),
    pin(3, { description: 'No description available', follower_count: '1.5k', tag_list: 'single' }),
    pin(4, { follower_count: '1M', save_location: '/already/clean' }),
    pin(5, { follower_count: '850' }),
    pin(6, { follower_count: 42 }),
    pin(7, { follower_count: '1.2M' }),
    pin(8, { follower_count: '2B' }),
    pin(9, { follower_count: 'lots' }),
  ]),
  object('pin', 0, 10, [
    // A later copy of u-03: dropped, the copy at offset 2 wins.
    pin(3, { title: 'Later copy of 3' }),
    'this is not json',
    '[1,2,3]',
    `{"topic":"${TOPICS.pin}","partition":0,"offset":13,"record":"oops"}`,
    pin(20, { index: 'abc' }),
    pin(21, { unique_id: '' }),
  ]),
  object('pin', 1, 0, [
    // Same unique_id as the pin at (partition 0, offset 1): the lower (partition, offset) wins.
    pin(2, { title: 'Copy of 2 in partition 1' }),
    `{"topic":"${TOPICS.pin}","record":${JSON.stringify(pin(30))}}`,
  ]),
  object('geo', 0, 0, [
    geo(1, '2031-01-05 01:00:00', 40.5, -3.7, 'Spain'),
    geo(2, '2031-01-05T02:00:00Z', 48.85, 2.35, 'France'),
    geo(3, '2031-01-05 05:00:00+02:00', 52.52, 13.4, 'Germany'),
    geo(4, '2031-01-05 04:00:00', 40.4, -3.6, 'Spain'),
    geo(5, '2031-01-05 05:00:00', 48.8, 2.3, 'France'),
    geo(6, '2031-01-05 06:00:00', 41.9, 12.5, 'Italy'),
    geo(7, '2031-01-05 07:00:00', 41.8, 12.4, 'Italy'),
    geo(8, '2031-01-05 08:00:00', 38.7, -9.1, 'Portugal'),
    geo(9, '2031-01-05 09:00:00', 38.8, -9.2, 'Portugal'),
    geo(10, '2031-02-30 00:00:00', 10, 10, 'Nowhere'),
    geo(11, '2031-01-05 10:00:00', 123, 10, 'Nowhere'),
    geo(1, '2031-01-05 23:00:00', 0, 0, 'Duplicate'),
  ]),
  object('user', 0, 0, [
    user(1, 'Ada', 'Lovelace', 20, '2015-03-01 10:00:00'),
    user(2, 'Alan', 'Turing', 24, '2016-04-02 11:00:00'),
    user(3, 'Grace', 'Hopper', 30, '2016-05-03 12:00:00'),
    user(4, '', 'Solo', 36, '2017-06-04 13:00:00'),
    user(5, 'Edsger', 'Dijkstra', 50, '2015-07-05 14:00:00'),
    user(6, 'Barbara', 'Liskov', 51, '2017-08-06 15:00:00'),
    user(7, 'Donald', 'Knuth', 17, '2016-09-07 16:00:00'),
    user(8, 'Frances', 'Allen', 25, '2015-10-08 17:00:00'),
    user(9, 'John', 'Backus', 35, '2017-11-09 18:00:00'),
    user(12, 'Late', 'Joiner', 40, 'yesterday'),
  ]),
];

const base = { tag_list: ['a', 'b'], media_type: 'image', story_format: false, downloaded: true, save_location: '/data/art', category: 'art' };
const cleanPin = (n: number, overrides: Record<string, unknown>) => ({
  ind: n,
  unique_id: `u-0${n}`,
  title: `Title ${n}`,
  description: `Description ${n}`,
  poster_name: `Poster ${n}`,
  image_src: `https://i.example/${n}.jpg`,
  ...base,
  ...overrides,
});

/** The cleaned pins, written out by hand. */
const EXPECTED_PINS = [
  {
    ind: 1,
    unique_id: 'u-01',
    title: null,
    description: null,
    poster_name: null,
    follower_count: null,
    tag_list: null,
    media_type: 'video',
    story_format: true,
    image_src: null,
    downloaded: false,
    save_location: '/data/travel',
    category: 'travel',
  },
  cleanPin(2, { title: null, description: null, follower_count: 13_000, tag_list: ['Art', 'Watercolor', 'Ideas'], media_type: 'video' }),
  cleanPin(3, { description: null, follower_count: 1_500, tag_list: ['single'] }),
  cleanPin(4, { follower_count: 1_000_000, save_location: '/already/clean' }),
  cleanPin(5, { follower_count: 850 }),
  cleanPin(6, { follower_count: 42 }),
  cleanPin(7, { follower_count: 1_200_000 }),
  cleanPin(8, { follower_count: 2_000_000_000 }),
  cleanPin(9, { follower_count: null }),
];

let work: string;
let db: DuckDb;
let output: TransformOutput;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pinpipe-transform-test-'));
  const rawFiles = await writeLocalObjects(join(work, 'lake'), OBJECTS);
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2, spillDir: work });
  output = await transformDay(db, { date: DATE, rawFiles, pastPostFiles: [], outDir: work });
});

afterAll(async () => {
  db?.close();
  await rm(work, { recursive: true, force: true });
});

describe('transformDay cleaning rules', () => {
  it('reads well-formed lines the same way fast and line by line', async () => {
    const files = await writeLocalObjects(join(work, 'modes'), OBJECTS.filter((o) => o.type !== 'pin'));
    for (const type of ['geo', 'user'] as const) {
      await db.connection.run(`CREATE OR REPLACE TABLE fast AS ${stageSql(type, files[type], 'fast')}`);
      await db.connection.run(`CREATE OR REPLACE TABLE robust AS ${stageSql(type, files[type], 'robust')}`);
      const differ = await db.connection.runAndReadAll(
        'SELECT count(*) FROM ((SELECT * EXCLUDE (rejected_line) FROM fast EXCEPT ALL SELECT * EXCLUDE (rejected_line) FROM robust) UNION ALL (SELECT * EXCLUDE (rejected_line) FROM robust EXCEPT ALL SELECT * EXCLUDE (rejected_line) FROM fast))',
      );
      expect(Number(differ.getRows()[0]?.[0])).toBe(0);
      expect(Number((await db.connection.runAndReadAll('SELECT count(*) FROM fast')).getRows()[0]?.[0])).toBe(type === 'geo' ? 12 : 10);
    }
  });

  it('cleans every placeholder and follower-count form into the hand-written rows, each with the Kafka time it was posted at', async () => {
    expect(await readParquet(output.files.pins as string)).toEqual(EXPECTED_PINS.map((pin) => ({ ...pin, posted_at: new Date(T).toISOString() })));
  });

  it('types geo rows: UTC timestamps (zones applied), coordinates, the lowest offset winning a duplicate', async () => {
    const rows = await readParquet(output.files.geo as string, 'SELECT * FROM t WHERE ind <= 3');
    expect(rows).toEqual([
      { ind: 1, event_time: '2031-01-05T01:00:00.000Z', latitude: 40.5, longitude: -3.7, coordinates: [40.5, -3.7], country: 'Spain' },
      { ind: 2, event_time: '2031-01-05T02:00:00.000Z', latitude: 48.85, longitude: 2.35, coordinates: [48.85, 2.35], country: 'France' },
      { ind: 3, event_time: '2031-01-05T03:00:00.000Z', latitude: 52.52, longitude: 13.4, coordinates: [52.52, 13.4], country: 'Germany' },
    ]);
    expect((await readParquet(output.files.geo as string)).map((r) => r.ind)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('joins first and last name into user_name and types date_joined', async () => {
    const rows = await readParquet(output.files.users as string, 'SELECT * FROM t WHERE ind IN (1, 4)');
    expect(rows).toEqual([
      { ind: 1, user_name: 'Ada Lovelace', age: 20, date_joined: '2015-03-01T10:00:00.000Z' },
      { ind: 4, user_name: 'Solo', age: 36, date_joined: '2017-06-04T13:00:00.000Z' },
    ]);
  });

  it('joins pin, geo and user on ind into posts', async () => {
    const posts = await readParquet(output.files.posts as string);
    expect(posts.map((p) => p.ind)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(posts[0]).toMatchObject({ unique_id: 'u-01', country: 'Spain', user_name: 'Ada Lovelace', story_format: true, dt: '2031-01-05T00:00:00.000Z' });
  });

  it('reports malformed lines with reasons instead of failing', () => {
    const { rejected, input } = output.stats;
    expect(input.lines).toEqual({ pin: 17, geo: 12, user: 10 });
    expect(rejected.by_reason).toEqual({
      'geo: latitude or longitude is missing or out of range': 1,
      'geo: timestamp is missing or not a real time': 1,
      'invalid JSON': 1,
      'lake line without partition or offset': 1,
      'no record object': 1,
      'not a JSON object': 1,
      'pin: index is missing or not a non-negative integer': 1,
      'pin: unique_id is missing': 1,
      'user: date_joined is missing or not a real time': 1,
    });
    expect(rejected.total).toBe(9);
    // Malformed lines stop DuckDB's NDJSON reader: the pin topic was read line by line instead.
    expect(input.read_mode).toEqual({ pin: 'robust', geo: 'fast', user: 'fast' });
    expect(rejected.by_type).toEqual({ pin: 6, geo: 2, user: 1 });
    expect(rejected.samples).toContainEqual(expect.objectContaining({ type: 'pin', reason: 'invalid JSON', line: 'this is not json', offset: null }));
    expect(rejected.samples).toContainEqual(expect.objectContaining({ type: 'pin', reason: 'pin: index is missing or not a non-negative integer', offset: 14 }));
  });

  it('counts placeholders, duplicates and unreadable values', () => {
    const { stats } = output;
    expect(stats.placeholders_replaced).toEqual({ title: 2, description: 3, poster_name: 1, follower_count: 1, tag_list: 1, image_src: 1 });
    expect(stats.invalid_values_nulled).toEqual({ follower_count: 1, is_image_or_video: 0, age: 0 });
    expect(stats.tables).toEqual({
      pins: { rows_in: 11, rows_out: 9, duplicates_dropped: 2 },
      geo: { rows_in: 10, rows_out: 9, duplicates_dropped: 1 },
      users: { rows_in: 9, rows_out: 9, duplicates_dropped: 0 },
      posts: { rows_in: 9, rows_out: 9, duplicates_dropped: 0 },
    });
    expect(stats.joins).toEqual({ pins_without_geo: 0, pins_without_user: 0 });
  });
});

describe('transformDay file order', () => {
  it('writes pins and posts sorted by (ind, unique_id) and geo and users by ind, whatever the lake order', async () => {
    // Keys deliberately out of order against the offsets, several pins per ind, spread over many
    // objects and two partitions so that both threads read; a pin without geo stays out of posts.
    const count = 6000;
    const ind = (n: number): number => (n * 7919) % 1500;
    const pinObjects: RawObject[] = [];
    const geoObjects: RawObject[] = [];
    const userObjects: RawObject[] = [];
    for (let partition = 0; partition < 2; partition++) {
      for (let start = 0; start < count / 2; start += 500) {
        const numbers = Array.from({ length: 500 }, (_, i) => partition * (count / 2) + start + i);
        pinObjects.push(object('pin', partition, start, numbers.map((n) => pin(ind(n), { unique_id: `id-${(n * 104729) % 999983}` }))));
      }
    }
    const inds = [...new Set(Array.from({ length: count }, (_, n) => ind(n)))].filter((i) => i !== 42);
    geoObjects.push(object('geo', 0, 0, inds.map((i) => geo(i, '2031-01-05 03:00:00', 1, 2, `C${i % 5}`))));
    userObjects.push(object('user', 0, 0, inds.map((i) => user(i, 'A', 'B', 30, '2020-01-01 00:00:00'))));
    const dir = await mkdtemp(join(tmpdir(), 'pinpipe-transform-order-'));
    try {
      const rawFiles = await writeLocalObjects(join(dir, 'lake'), [...pinObjects, ...geoObjects, ...userObjects]);
      const out = await transformDay(db, { date: DATE, rawFiles, pastPostFiles: [], outDir: dir });
      const byIndThenId = (a: Record<string, unknown>, b: Record<string, unknown>): number =>
        (a.ind as number) - (b.ind as number) || (String(a.unique_id) < String(b.unique_id) ? -1 : String(a.unique_id) > String(b.unique_id) ? 1 : 0);
      const pins = await readParquet(out.files.pins as string, 'SELECT ind, unique_id FROM t');
      expect(pins).toHaveLength(count);
      expect(pins).toEqual([...pins].sort(byIndThenId));
      const posts = await readParquet(out.files.posts as string, 'SELECT ind, unique_id FROM t');
      expect(posts.length).toBe(count - pins.filter((p) => p.ind === 42).length);
      expect(posts).toEqual([...posts].sort(byIndThenId));
      expect(posts.some((p) => p.ind === 42)).toBe(false);
      const geoInds = (await readParquet(out.files.geo as string, 'SELECT ind FROM t')).map((r) => r.ind as number);
      expect(geoInds).toEqual([...geoInds].sort((a, b) => a - b));
      expect(out.stats.joins.pins_without_geo).toBe(pins.filter((p) => p.ind === 42).length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('transformDay joins', () => {
  it('hashes geo and users, never the pins, when it joins them to the pin stage', async () => {
    // DuckDB hashes the side it estimates smaller and estimates raw files poorly: a few pin lines
    // beside thousands of geo and user rows are where it would flip the joins onto the pins.
    const inds = Array.from({ length: 5000 }, (_, i) => i);
    const dir = await mkdtemp(join(tmpdir(), 'pinpipe-transform-join-'));
    const own = await openDuckDb({ memoryLimit: '256MB', threads: 2, spillDir: dir });
    try {
      const rawFiles = await writeLocalObjects(join(dir, 'lake'), [
        object('pin', 0, 0, [pin(1), pin(2)]),
        object('geo', 0, 0, inds.map((i) => geo(i, '2031-01-05 03:00:00', 1, 2, 'C'))),
        object('user', 0, 0, inds.map((i) => user(i, 'A', 'B', 30, '2020-01-01 00:00:00'))),
      ]);
      for (const [type, table] of [['geo', 'geo'], ['user', 'users']] as const) {
        await own.connection.run(`CREATE TABLE stage_${type} AS ${stageTableSql(type, rawFiles[type], 'fast')}`);
        await own.connection.run(`CREATE VIEW ${table} AS ${curatedViewSql(table, DATE)}`);
      }
      const plan = (await own.connection.runAndReadAll(`EXPLAIN ${stageTableSql('pin', rawFiles.pin, 'fast')}`)).getRows().map((r) => String(r[1])).join('\n');
      expect([...plan.matchAll(/Join Type: (\w+)/g)].map((m) => m[1])).toEqual(['LEFT', 'LEFT']);
    } finally {
      own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('transformDay under a memory limit smaller than the day', () => {
  it('spills to disk and writes the same files as with room to spare', async () => {
    // 300,000 posts (900,000 lines): more than a 320 MB limit holds without spilling (the first
    // run shows it), while a Parquet row group (122,880 rows, buffered whole by the writer) fits.
    const count = 300_000;
    const perObject = 50_000;
    const objects: RawObject[] = [];
    for (let start = 0; start < count; start += perObject) {
      const numbers = Array.from({ length: perObject }, (_, i) => start + i);
      objects.push(object('pin', 0, start, numbers.map((n) => pin(n, { unique_id: `many-${n}` }))));
      objects.push(object('geo', 0, start, numbers.map((n) => geo(n, '2031-01-05 03:00:00', 1, 2, 'C'))));
      objects.push(object('user', 0, start, numbers.map((n) => user(n, 'A', 'B', 30, '2020-01-01 00:00:00'))));
    }
    const dir = await mkdtemp(join(tmpdir(), 'pinpipe-transform-spill-'));
    const steps: string[] = [];
    const run = async (name: string, memoryLimit: string, spill: boolean): Promise<TransformOutput> => {
      const out = join(dir, name);
      await mkdir(join(out, 'spill'), { recursive: true });
      const bounded = await openDuckDb({ memoryLimit, threads: 2, spillDir: join(out, 'spill') });
      try {
        if (!spill) await bounded.connection.run("SET temp_directory = ''");
        return await transformDay(bounded, { date: DATE, rawFiles, pastPostFiles: [], outDir: out, onStep: (step) => steps.push(`${name}: ${step}`) });
      } finally {
        bounded.close();
      }
    };
    const rawFiles = await writeLocalObjects(join(dir, 'lake'), objects);
    try {
      // Without a place to spill, this day does not fit in the limit...
      await expect(run('no-spill', '320MB', false)).rejects.toThrow(/^Out of Memory Error/);
      // Running out while the lines are read is not a malformed line: no second read line by line.
      await expect(run('no-spill-staging', '96MB', false)).rejects.toThrow(/^Out of Memory Error/);
      expect(steps.filter((step) => step.startsWith('no-spill-staging: stage')).length).toBeGreaterThan(0);
      expect(steps.filter((step) => step.includes('line by line'))).toEqual([]);
      // ...with one it goes through, and spilling changes nothing in the output.
      const spilled = await run('spilled', '320MB', true);
      const roomy = await run('roomy', '2GB', true);
      expect(spilled.stats.tables.pins?.rows_out).toBe(count);
      expect(spilled.stats.tables.posts?.rows_out).toBe(count);
      for (const table of ['pins', 'posts', 'geo', 'users'] as const) {
        expect((await readFile(spilled.files[table] as string)).equals(await readFile(roomy.files[table] as string)), table).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
