import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypedRecord } from '../lib/contracts.js';
import { bundledDataFile } from '../lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../emulate/generator.js';
import { loadSeedPins } from '../emulate/seed-pins.js';
import { openDuckDb } from '../lib/duckdb.js';
import { METRIC_NAMES, metricTable } from '../lib/curated.js';
import { METRICS } from './metrics-sql.js';
import { readParquet } from '../test/parquet.js';
import { toRawObjects, writeLocalObjects } from '../test/raw-lake.js';
import { transformDay } from './transform.js';

/**
 * The metric tables against the same metrics computed here in plain TypeScript, from the
 * generated records, over a two-day history (day 2 repeats a post of day 1, which counts once).
 */

interface Row {
  uniqueId: string;
  day: string;
  category: string;
  country: string;
  posterName: string | null;
  followers: number | null;
  eventYear: number;
  age: number;
  joinYear: number;
}

function followers(value: string | number): number | null {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)([kMB]?)$/.exec(value);
  if (!m) return null;
  const scale = { '': 1, k: 1e3, M: 1e6, B: 1e9 }[m[2] as '' | 'k' | 'M' | 'B'];
  return Math.round(Number(m[1]) * scale);
}

function ageGroup(age: number): string {
  if (age < 18) return 'under 18';
  if (age <= 24) return '18-24';
  if (age <= 35) return '25-35';
  if (age <= 50) return '36-50';
  return '50+';
}

function postRows(posts: Post[], day: string): Row[] {
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const { pin, geo, user } of posts) {
    if (seen.has(pin.unique_id)) continue;
    seen.add(pin.unique_id);
    rows.push({
      uniqueId: pin.unique_id,
      day,
      category: pin.category,
      country: geo.country,
      posterName: pin.poster_name === 'User Info Error' || pin.poster_name === undefined ? null : pin.poster_name,
      followers: followers(pin.follower_count),
      eventYear: Number(geo.timestamp.slice(0, 4)),
      age: user.age,
      joinYear: Number(user.date_joined.slice(0, 4)),
    });
  }
  return rows;
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

function countBy<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return groups;
}

function topCategory(rows: Row[], group: (r: Row) => string, name: string) {
  return [...countBy(rows, group).entries()]
    .map(([g, members]) => {
      const counts = [...countBy(members, (r) => r.category).entries()].map(([c, m]) => ({ c, n: m.length }));
      counts.sort((a, b) => b.n - a.n || cmp(a.c, b.c));
      return { [name]: g, category: counts[0]?.c, category_count: counts[0]?.n };
    })
    .sort((a, b) => cmp(a[name] as string, b[name] as string));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function medians(rows: Row[], keys: Array<[string, (r: Row) => string | number]>) {
  const withCount = rows.filter((r) => r.followers !== null);
  return [...countBy(withCount, (r) => JSON.stringify(keys.map(([, k]) => k(r)))).entries()]
    .map(([k, members]): Record<string, string | number> => {
      const values = JSON.parse(k) as Array<string | number>;
      return {
        ...Object.fromEntries(keys.map(([name], i) => [name, values[i]])),
        median_follower_count: median(members.map((m) => m.followers as number)),
        post_count: members.length,
      };
    })
    .sort((a, b) => keys.reduce((acc, [name]) => acc || cmp(a[name] as string | number, b[name] as string | number), 0));
}

function expectedMetrics(rows: Row[]): Record<string, unknown[]> {
  return {
    popular_category_by_country: topCategory(rows, (r) => r.country, 'country'),
    posts_per_category_year: [...countBy(rows, (r) => `${r.eventYear}|${r.category}`).entries()]
      .map(([k, m]) => ({ post_year: Number(k.split('|')[0]), category: k.split('|')[1], category_count: m.length }))
      .sort((a, b) => a.post_year - b.post_year || cmp(a.category as string, b.category as string)),
    most_followed_by_country: [...countBy(rows.filter((r) => r.posterName !== null && r.followers !== null), (r) => r.country).entries()]
      .map(([country, members]) => {
        const best = [...members].sort((a, b) => (b.followers as number) - (a.followers as number) || cmp(a.posterName as string, b.posterName as string))[0] as Row;
        return { country, poster_name: best.posterName, follower_count: best.followers };
      })
      .sort((a, b) => cmp(a.country, b.country)),
    popular_category_by_age_group: topCategory(rows, (r) => ageGroup(r.age), 'age_group'),
    median_followers_by_age_group: medians(rows, [['age_group', (r) => ageGroup(r.age)]]),
    median_followers_by_join_year: medians(rows, [['join_year', (r) => r.joinYear]]),
    median_followers_by_age_group_join_year: medians(rows, [
      ['age_group', (r) => ageGroup(r.age)],
      ['join_year', (r) => r.joinYear],
    ]),
    users_joined_per_year: [...countBy(rows, (r) => String(r.joinYear)).entries()]
      .map(([y, m]) => ({ join_year: Number(y), users_joined: m.length }))
      .sort((a, b) => a.join_year - b.join_year),
  };
}

let work: string;
let actual: Record<string, unknown[]>;
let expected: Record<string, unknown[]>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pinpipe-metrics-test-'));
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const take = (seed: number, firstInd: number, startTimeMs: number, n: number): Post[] => {
    const out: Post[] = [];
    for (const post of generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed, firstInd, startTimeMs, duplicateRate: 0.05 })) {
      out.push(post);
      if (out.length === n) break;
    }
    return out;
  };
  const day1 = take(11, 1, Date.UTC(2031, 0, 7), 120);
  // Day 2 repeats day 1's first post: the history counts it once, on day 1.
  const day2 = [day1[0] as Post, ...take(12, 5_000, Date.UTC(2032, 0, 8), 120)];
  expected = expectedMetrics([...postRows(day1, '2031-01-07'), ...postRows(day2, '2032-01-08')].filter((r, i, all) => all.findIndex((o) => o.uniqueId === r.uniqueId) === i));

  const db = await openDuckDb({ memoryLimit: '256MB', threads: 2, spillDir: work });
  const records = (posts: Post[]): TypedRecord[] => posts.flatMap(postRecords);
  try {
    await mkdir(join(work, 'd1'));
    await mkdir(join(work, 'd2'));
    const first = await transformDay(db, {
      date: '2031-01-07',
      rawFiles: await writeLocalObjects(join(work, 'lake1'), toRawObjects(records(day1), Date.UTC(2031, 0, 7), 2, 100)),
      pastPostFiles: [],
      outDir: join(work, 'd1'),
    });
    const second = await transformDay(db, {
      date: '2032-01-08',
      rawFiles: await writeLocalObjects(join(work, 'lake2'), toRawObjects(records(day2), Date.UTC(2032, 0, 8), 3, 100)),
      pastPostFiles: [first.files.posts as string],
      outDir: join(work, 'd2'),
    });
    actual = {};
    for (const m of METRICS) actual[m.name] = await readParquet(second.files[metricTable(m.name)] as string);
  } finally {
    db.close();
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('metric tables over the curated history', () => {
  it.each(METRICS.map((m) => m.name))('%s matches an independent computation', (name) => {
    expect(actual[name]?.length).toBeGreaterThan(0);
    expect(actual[name]).toEqual(expected[name]);
  });

  it('computes each metric table of the curated contract once, and no other', () => {
    expect(METRICS.map((m) => m.name).sort()).toEqual([...METRIC_NAMES].sort());
  });

  it('covers both days of history', () => {
    expect((actual.posts_per_category_year as Array<{ post_year: number }>).map((r) => r.post_year)).toContain(2031);
    expect((actual.posts_per_category_year as Array<{ post_year: number }>).map((r) => r.post_year)).toContain(2032);
  });
});
