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
import { expectedMetrics, postRows } from '../test/expected-metrics.js';
import { readParquet } from '../test/parquet.js';
import { toRawObjects, writeLocalObjects } from '../test/raw-lake.js';
import { transformDay } from './transform.js';

/**
 * The metric tables against the same metrics computed in plain TypeScript (jobs/test/
 * expected-metrics.ts), from the generated records, over a two-day history (day 2 repeats a
 * post of day 1, which counts once).
 */

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
