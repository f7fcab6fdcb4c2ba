import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords, type Post } from '../emulate/generator.js';
import { loadSeedPins } from '../emulate/seed-pins.js';
import { METRIC_NAMES } from '../lib/curated.js';
import { bundledDataFile } from '../lib/paths.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { TrinoClient } from '../lib/trino.js';
import { analyticsQueries as queriesOf } from '../test/analytics-sql.js';
import { runCli } from '../test/cli.js';
import { expectedMetrics, postRows } from '../test/expected-metrics.js';
import { listKeys } from '../test/lake.js';
import { putObjects, toRawObjects } from '../test/raw-lake.js';
import { dropLakeSchema } from './run.js';
import { privateBucket, serviceEnv, serviceSettings, uniqueName } from '../test/services.js';

/**
 * sql/analytics.sql, the eight metric questions as Trino SQL, over two days the jobs wrote
 * (day 2 repeats a post of day 1): each question's answer from Cassandra's metric table equals
 * its answer computed from the lake's posts, and both equal the metric computed here in plain
 * TypeScript from the generated posts.
 */
const settings = { ...serviceSettings(), s3Bucket: privateBucket('it-analytics') };
const s3 = createS3Client(settings);
const trino = new TrinoClient(settings);
const SCHEMA = uniqueName('it_analytics').toLowerCase();
const KEYSPACE = uniqueName('pinpipe_it_analytics').toLowerCase();
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: settings.s3Bucket, PINPIPE_CASSANDRA_KEYSPACE: KEYSPACE, PINPIPE_LAKE_SCHEMA: SCHEMA };
const DAY_1 = '2031-03-07';
const DAY_2 = '2031-03-08';

const analyticsQueries = (day: string) => queriesOf({ keyspace: KEYSPACE, lakeSchema: SCHEMA, day });

/** The metrics as of each day: day 1 alone, and days 1 and 2 (day 2 repeats a post of day 1). */
const expected: Record<string, Record<string, unknown[]>> = {};
const session = new cassandra.Client({ contactPoints: settings.cassandraContactPoints, localDataCenter: settings.cassandraLocalDc });

beforeAll(async () => {
  await ensureBucket(s3, settings.s3Bucket);
  await session.connect();
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const take = (seed: number, firstInd: number, startTimeMs: number, n: number): Post[] => {
    const out: Post[] = [];
    for (const post of generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed, firstInd, startTimeMs, duplicateRate: 0.05, lateRate: 0 })) {
      out.push(post);
      if (out.length === n) break;
    }
    return out;
  };
  const day1 = take(21, 1, Date.parse(`${DAY_1}T01:00:00Z`), 150);
  const day2 = [day1[0] as Post, ...take(22, 5_000, Date.parse(`${DAY_2}T01:00:00Z`), 150)];
  const rows = [...postRows(day1, DAY_1), ...postRows(day2, DAY_2)].filter((r, i, all) => all.findIndex((o) => o.uniqueId === r.uniqueId) === i);
  expected[DAY_2] = expectedMetrics(rows);
  expected[DAY_1] = expectedMetrics(postRows(day1, DAY_1));
  await putObjects(s3, settings.s3Bucket, [
    ...toRawObjects(day1.flatMap(postRecords), Date.parse(`${DAY_1}T12:00:00Z`), 2, 100),
    ...toRawObjects(day2.flatMap(postRecords), Date.parse(`${DAY_2}T12:00:00Z`), 2, 100).map((o) => ({ ...o, startOffset: o.startOffset + 1_000 })),
  ]);
  for (const day of [DAY_1, DAY_2]) {
    for (const job of ['daily-transform', 'cassandra-load']) {
      const run = await runCli([job, '--date', day], env, 120_000);
      expect(run.code, `${job} ${day}: ${run.stderr}`).toBe(0);
    }
  }
  const declared = await runCli(['lake-tables'], env, 120_000);
  expect(declared.code, declared.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await dropLakeSchema(trino, { catalog: 'lake', schema: SCHEMA });
  await session.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`).catch(() => undefined);
  await session.shutdown();
  const keys = await listKeys(s3, settings.s3Bucket, '');
  for (let i = 0; i < keys.length; i += 1000) await s3.send(new DeleteObjectsCommand({ Bucket: settings.s3Bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
  s3.destroy();
});

describe('the analytics queries through Trino', () => {
  it('sql/analytics.sql asks each of the eight metric questions of both Cassandra and the lake', () => {
    const queries = analyticsQueries(DAY_2);
    expect([...queries.keys()].sort()).toEqual([...METRIC_NAMES].sort());
    for (const [metric, { cassandra: fromCassandra, lake }] of queries) {
      expect(fromCassandra, metric).toMatch(/^SELECT /);
      expect(lake, metric).toMatch(/^SELECT /);
    }
  });

  it.each(METRIC_NAMES.flatMap((metric) => [DAY_1, DAY_2].map((day) => [metric, day] as const)))(
    "%s as of %s: Cassandra's answer = the lake's answer = the metric computed independently",
    async (metric, day) => {
      const { cassandra: fromCassandra, lake } = analyticsQueries(day).get(metric) ?? {};
      const expectedRows = expected[day]?.[metric];
      expect(expectedRows?.length).toBeGreaterThan(0);
      expect(await trino.query(fromCassandra as string)).toEqual(expectedRows);
      expect(await trino.query(lake as string)).toEqual(expectedRows);
    },
  );
});
