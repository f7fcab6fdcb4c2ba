import { execFileSync } from 'node:child_process';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka, Producer } from 'kafkajs';
import { RECORD_HEADERS } from '../lib/contracts.js';
import { createKafka, ensureTopics } from '../lib/kafka.js';
import { parseObjectKey, sinkPositionKey } from '../lib/lake.js';
import { createLogger } from '../lib/logger.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { listKeys, readLake, waitFor, type LakeLine } from '../test/lake.js';
import { startJob, type JobProcess } from '../test/process.js';
import { privateBucket, serviceEnv, serviceSettings, uniqueName } from '../test/services.js';

// A bucket of this file's own: the user's lake never sees a test's objects.
const settings = { ...serviceSettings(), s3Bucket: privateBucket('it-s3-sink') };
const env = { ...serviceEnv(), PINPIPE_S3_BUCKET: settings.s3Bucket };
const logger = createLogger('test', 'error');
const s3 = createS3Client(settings);
let kafka: Kafka;
let producer: Producer;
const running: JobProcess[] = [];

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1, 10, 30, 0);

beforeAll(async () => {
  await ensureBucket(s3, settings.s3Bucket);
  kafka = createKafka(settings, logger);
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await producer.disconnect();
  s3.destroy();
});

/** A private topic set per test, so tests never see each other's records. */
async function freshTopics(n = 2): Promise<string[]> {
  const topics = Array.from({ length: n }, (_, i) => `${uniqueName('it-sink')}-${i}`.replace(/_/g, '-'));
  await ensureTopics(kafka, topics, 3);
  return topics;
}

function sink(topics: string[], extra: string[] = [], groupId = `g-${topics[0]}`): JobProcess {
  const job = startJob(['s3-sink', '--topics', topics.join(','), '--group-id', groupId, '--metrics-port', '0', '--flush-idle-ms', '500', ...extra], env);
  running.push(job);
  return job;
}

/** Produces `count` records per topic, event ids "<topic>#<n>", timestamps spread over two hours. */
async function produce(topics: string[], count: number, from = 0): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const topic of topics) {
    for (let start = from; start < from + count; start += 500) {
      const messages = Array.from({ length: Math.min(500, from + count - start) }, (_, i) => {
        const n = start + i;
        const eventId = `${topic}#${n}`;
        ids.add(eventId);
        return {
          key: String(n),
          value: JSON.stringify({ ind: n, note: 'x' }),
          timestamp: String(T0 + Math.floor((n * HOUR) / 1000)),
          headers: { [RECORD_HEADERS.eventId]: eventId, [RECORD_HEADERS.ingestTime]: String(T0) },
        };
      });
      await producer.send({ topic, acks: -1, messages });
    }
  }
  return ids;
}

/** Sets a group's committed offsets of every partition of `topic` (the group must have no member). */
async function setGroupOffsets(groupId: string, topic: string, at: 'latest' | number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: at === 'latest' ? p.high : String(at) })) });
  } finally {
    await admin.disconnect();
  }
}

/** Lands what the topic holds with one group and stops it once the lake has `expected` distinct records. */
async function landWith(groupId: string, topics: string[], expected: number): Promise<void> {
  const job = sink(topics, ['--flush-records', '700'], groupId);
  expect(await waitFor(async () => new Set((await lakeLines(topics)).map((l) => l.event_id)).size >= expected, 60_000, 300), job.logs()).toBe(true);
  expect(await job.stop()).toBe(0);
}

/** The stored position object of a partition, as text. */
async function positionText(topic: string, partition: number): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: settings.s3Bucket, Key: sinkPositionKey(topic, partition) }));
  return (await got.Body?.transformToString('utf8')) ?? '';
}

async function lakeLines(topics: string[]): Promise<LakeLine[]> {
  return (await Promise.all(topics.map((t) => readLake(s3, settings.s3Bucket, `raw/${t}/`)))).flat();
}

function expectExactlyOnce(lines: LakeLine[], ids: Set<string>): void {
  const seen = lines.map((l) => l.event_id as string);
  const duplicates = seen.filter((id, i) => seen.indexOf(id) !== i);
  expect(duplicates).toEqual([]);
  expect(new Set(seen)).toEqual(ids);
  const coordinates = lines.map((l) => `${l.topic}/${l.partition}/${l.offset}`);
  expect(new Set(coordinates).size).toBe(coordinates.length);
}

describe('s3-sink against real Kafka and S3', () => {
  it('lands every record exactly once, bucketed by record hour, named by start offset', async () => {
    const topics = await freshTopics();
    const ids = await produce(topics, 2_000);
    const job = sink(topics);
    expect(await waitFor(async () => (await lakeLines(topics)).length >= ids.size, 60_000, 500)).toBe(true);
    const lines = await lakeLines(topics);
    expectExactlyOnce(lines, ids);

    for (const line of lines) {
      const key = parseObjectKey((line as LakeLine & { objectKey: string }).objectKey);
      expect(key?.topic).toBe(line.topic);
      expect(key?.partition).toBe(line.partition);
      expect(new Date(line.timestamp).toISOString().slice(11, 13)).toBe(key?.hour);
      expect(Number(key?.startOffset)).toBeLessThanOrEqual(line.offset);
      expect(line.record).toEqual({ ind: Number(line.key), note: 'x' });
      expect(line.ingest_time).toBe(T0);
    }
    const hours = new Set(lines.map((l) => (l as LakeLine & { objectKey: string }).objectKey.split('/')[3]));
    expect(hours).toEqual(new Set(['hour=10', 'hour=11', 'hour=12']));

    // Committed offsets reach the end of each partition: everything is acknowledged as landed.
    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: `g-${topics[0]}`, topics });
    const ends = await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
    await admin.disconnect();
    expect(committed.flatMap((t) => t.partitions.map((p) => Number(p.offset))).reduce((a, b) => a + b, 0)).toBe(
      ends.flat().reduce((sum, p) => sum + Number(p.high), 0),
    );
    expect(await job.stop()).toBe(0);
  });

  it('stays exactly once through kill -9 mid-stream and a restart', async () => {
    const topics = await freshTopics();
    const first = sink(topics, ['--flush-records', '300']);
    const producing = produce(topics, 6_000);
    // Kill once some objects are stored but the stream is still going.
    expect(await waitFor(async () => (await lakeLines(topics)).length > 1_000, 60_000, 200)).toBe(true);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const ids = await producing;
    const more = await produce(topics, 1_000, 6_000);
    for (const id of more) ids.add(id);

    const second = sink(topics, ['--flush-records', '300']);
    expect(await waitFor(async () => new Set((await lakeLines(topics)).map((l) => l.event_id)).size >= ids.size, 90_000, 500)).toBe(true);
    // Give a duplicate, if the sink wrote one, the time to appear.
    await new Promise((r) => setTimeout(r, 2_000));
    expectExactlyOnce(await lakeLines(topics), ids);
    expect(await second.stop()).toBe(0);
  });

  it('stays exactly once when a second member joins mid-stream and the partitions are rebalanced', async () => {
    const topics = await freshTopics();
    const first = sink(topics, ['--flush-records', '300']);
    const producing = produce(topics, 6_000);
    expect(await waitFor(async () => (await lakeLines(topics)).length > 1_000, 60_000, 200)).toBe(true);
    // The first member has batches fetched ahead when the group rebalances under it.
    const second = sink(topics, ['--flush-records', '300']);
    expect(await waitFor(async () => second.logs().includes('joined group') && first.logs().split('joined group').length > 2, 60_000, 200)).toBe(true);
    const ids = await producing;
    for (const id of await produce(topics, 2_000, 6_000)) ids.add(id);
    expect(await waitFor(async () => new Set((await lakeLines(topics)).map((l) => l.event_id)).size >= ids.size, 90_000, 500)).toBe(true);
    // Give a duplicate, if the sink wrote one, the time to appear.
    await new Promise((r) => setTimeout(r, 2_000));
    expectExactlyOnce(await lakeLines(topics), ids);
    expect(await second.stop()).toBe(0);
    expect(await first.stop()).toBe(0);
  }, 240_000);

  it('stays exactly once when S3 fails under batches already fetched ahead, reading again from where the lake ends', async () => {
    const topics = await freshTopics();
    const job = sink(topics, ['--flush-records', '200']);
    const ids = await produce(topics, 1_000);
    expect(await waitFor(async () => (await lakeLines(topics)).length >= ids.size, 60_000, 300)).toBe(true);
    execFileSync('stack/stack.sh', ['down', 's3'], { stdio: 'ignore' });
    try {
      // Rotations now fail while the consumer has already moved past their records.
      for (const id of await produce(topics, 3_000, 1_000)) ids.add(id);
      expect(await waitFor(async () => job.logs().includes('reading the partition again'), 60_000, 300)).toBe(true);
    } finally {
      execFileSync('stack/stack.sh', ['up', 's3'], { stdio: 'ignore' });
    }
    expect(await waitFor(async () => new Set((await lakeLines(topics)).map((l) => l.event_id)).size >= ids.size, 120_000, 500)).toBe(true);
    // Give a duplicate, if the sink wrote one, the time to appear.
    await new Promise((r) => setTimeout(r, 2_000));
    expectExactlyOnce(await lakeLines(topics), ids);
    expect(job.child.exitCode).toBeNull();
    expect(await job.stop()).toBe(0);
  }, 240_000);

  it('stays exactly once across groups: one positioned at the latest offsets, an offset reset into an object, a group without offsets after retention', async () => {
    const topics = await freshTopics(1);
    const [topic] = topics as [string];
    const ids = await produce(topics, 5_000);
    await landWith('group-a', topics, 5_000); // group A lands 5,000 and stops
    for (const id of await produce(topics, 5_000, 5_000)) ids.add(id);
    // Group B starts at the latest offsets: it lands only what comes after.
    await setGroupOffsets('group-b', topic, 'latest');
    const later = await produce(topics, 5_000, 10_000);
    const groupB = sink(topics, ['--flush-records', '700'], 'group-b');
    expect(await waitFor(async () => (await lakeLines(topics)).length >= 10_000, 60_000, 300)).toBe(true);
    expect(await groupB.stop()).toBe(0);
    for (const id of later) ids.add(id);
    // Group A resumes behind B's objects, fills the gap and meets them without writing them again.
    await landWith('group-a', topics, 15_000);
    expectExactlyOnce(await lakeLines(topics), ids);

    // Group A reset into the middle of its first objects: nothing is written again.
    const objects = (await listKeys(s3, settings.s3Bucket, `raw/${topic}/`)).length;
    await setGroupOffsets('group-a', topic, 234);
    const reset = sink(topics, ['--flush-records', '700'], 'group-a');
    expect(await waitFor(async () => reset.logs().includes('joined group'), 30_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(await reset.stop()).toBe(0);
    expect((await listKeys(s3, settings.s3Bucket, `raw/${topic}/`)).length).toBe(objects);

    // Retention removes the first records; a group whose offsets expired starts at the earliest left.
    const admin = kafka.admin();
    await admin.connect();
    // kafkajs's deleteTopicRecords needs the topic's metadata loaded first.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [0, 1, 2].map((partition) => ({ partition, offset: '300' })) });
    await admin.disconnect();
    for (const id of await produce(topics, 1_000, 15_000)) ids.add(id);
    await landWith('group-c', topics, 16_000);
    expectExactlyOnce(await lakeLines(topics), ids);
  }, 240_000);

  it('refuses a topic deleted and re-created under the same name, changing nothing in the lake', async () => {
    const topics = await freshTopics(1);
    const [topic] = topics as [string];
    await produce(topics, 1_500);
    await landWith(`g-${topic}`, topics, 1_500);
    const lakeBefore = await listKeys(s3, settings.s3Bucket, '');
    const positions = await Promise.all([0, 1, 2].map((p) => positionText(topic, p)));
    expect(positions.every((text) => text.includes('"ranges"'))).toBe(true);

    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
    // The broker finishes deleting in the background: create until it accepts the name again.
    expect(await waitFor(async () => admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }).catch(() => false), 60_000, 500)).toBe(true);
    await admin.disconnect();
    await produce(topics, 90);

    const job = sink(topics);
    const exit = await Promise.race([job.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(exit, job.logs()).toBe(1);
    expect(job.logs()).toMatch(new RegExp(`topic ${topic} partition \\d ends at offset \\d+ in Kafka, but the lake already holds its offsets up to \\d+: the topic was deleted and re-created`));
    expect(job.logs()).toMatch(/PINPIPE_LAKE_CONFLICT/);
    expect(await listKeys(s3, settings.s3Bucket, '')).toEqual(lakeBefore);
    expect(await Promise.all([0, 1, 2].map((p) => positionText(topic, p)))).toEqual(positions);
  }, 180_000);

  it('keeps late records in their own hour: 30,000 records with 0.5% minutes late land in about as many objects as without', async () => {
    const counts: number[] = [];
    for (const lateShare of [0, 0.005]) {
      const topics = await freshTopics(1);
      const [topic] = topics as [string];
      // 1,000 records a second from the top of an hour; a late one is 1 to 5 minutes behind.
      const top = Date.UTC(2026, 2, 1, 11, 0, 0);
      for (let start = 0; start < 30_000; start += 1_000) {
        const messages = Array.from({ length: 1_000 }, (_, i) => {
          const n = start + i;
          const late = (n * 7919) % 1_000 < lateShare * 1_000;
          return { key: String(n), value: JSON.stringify({ ind: n }), timestamp: String(top + n - (late ? 60_000 + ((n * 31) % 240_000) : 0)), headers: { [RECORD_HEADERS.eventId]: `${topic}#${n}` } };
        });
        await producer.send({ topic, acks: -1, messages });
      }
      await landWith(`g-${topic}`, topics, 30_000);
      expectExactlyOnce(await lakeLines(topics), new Set(Array.from({ length: 30_000 }, (_, n) => `${topic}#${n}`)));
      counts.push((await listKeys(s3, settings.s3Bucket, `raw/${topic}/`)).length);
    }
    const [onTime, withLate] = counts as [number, number];
    // landWith rotates every 700 records: about 43 objects, enough for 10% to mean something.
    expect(onTime).toBeGreaterThanOrEqual(40);
    expect(Math.abs(withLate - onTime) / onTime, `objects: ${onTime} on time, ${withLate} with late records`).toBeLessThanOrEqual(0.1);
  }, 180_000);

  it('stays exactly once through kill -9 at random points with two hour buckets open, writing the same object names as a run without kills', async () => {
    const topics = await freshTopics(1);
    const [topic] = topics as [string];
    const ids = new Set<string>();
    // Two hours of records, 3% of them 40 minutes late: two buckets open per partition most of the time.
    const top = Date.UTC(2026, 2, 1, 11, 0, 0);
    for (let start = 0; start < 9_000; start += 1_000) {
      const messages = Array.from({ length: 1_000 }, (_, i) => {
        const n = start + i;
        ids.add(`${topic}#${n}`);
        const late = (n * 7919) % 100 < 3;
        return { key: String(n), value: JSON.stringify({ ind: n }), timestamp: String(top + n * 800 - (late ? 2_400_000 : 0)), headers: { [RECORD_HEADERS.eventId]: `${topic}#${n}` } };
      });
      await producer.send({ topic, acks: -1, messages });
    }
    const flags = ['--flush-records', '250', '--flush-idle-ms', '5000'];
    // The reference: one run, no kill, into a bucket of its own.
    const referenceBucket = privateBucket('it-s3-sink-ref');
    await ensureBucket(s3, referenceBucket);
    const reference = startJob(['s3-sink', '--topics', topic, '--group-id', `ref-${topic}`, '--metrics-port', '0', ...flags], { ...env, PINPIPE_S3_BUCKET: referenceBucket });
    running.push(reference);
    const referenceLines = () => readLake(s3, referenceBucket, `raw/${topic}/`);
    expect(await waitFor(async () => (await referenceLines()).length >= ids.size, 90_000, 500)).toBe(true);
    expect(await reference.stop()).toBe(0);

    const rng = xoroshiro128plus(Date.now() % 1_000_000);
    for (let kill = 0; kill < 3; kill += 1) {
      const job = sink(topics, flags);
      const at = uniformInt(rng, 500, 8_000);
      await waitFor(async () => (await lakeLines(topics)).length >= at, 60_000, 100);
      job.child.kill('SIGKILL');
      await job.exited;
    }
    const last = sink(topics, flags);
    expect(await waitFor(async () => new Set((await lakeLines(topics)).map((l) => l.event_id)).size >= ids.size, 90_000, 500)).toBe(true);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await last.stop()).toBe(0);
    expectExactlyOnce(await lakeLines(topics), ids);
    const names = (bucket: string) => listKeys(s3, bucket, `raw/${topic}/`);
    expect(await names(settings.s3Bucket)).toEqual(await names(referenceBucket));
  }, 300_000);

  it('routes undecodable records to dlq/ with the reason, and keeps going', async () => {
    const [topic] = (await freshTopics(1)) as [string];
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: '1', value: '{"ind":1}', partition: 0 },
        { key: '2', value: Buffer.from([0xc3, 0x28]), partition: 0 },
        { key: '3', value: 'not json', partition: 0 },
        { key: '4', value: '{"ind":4}', partition: 0 },
      ],
    });
    const job = sink([topic]);
    expect(await waitFor(async () => (await readLake(s3, settings.s3Bucket, `dlq/${topic}/`)).length === 2 && (await lakeLines([topic])).length === 2, 60_000)).toBe(true);
    const dead = (await readLake(s3, settings.s3Bucket, `dlq/${topic}/`)) as unknown as Array<{ offset: number; reason: string; value_base64: string }>;
    expect(dead.map((d) => [d.offset, d.reason]).sort()).toEqual([
      [1, 'value is not valid UTF-8'],
      [2, 'value is not valid JSON'],
    ]);
    expect(Buffer.from(dead.find((d) => d.offset === 2)?.value_base64 ?? '', 'base64').toString()).toBe('not json');
    expect((await lakeLines([topic])).map((l) => l.offset).sort()).toEqual([0, 3]);
    expect(await job.stop()).toBe(0);
  });

  it('lands what it buffered on SIGTERM and exits 0', async () => {
    const topics = await freshTopics(1);
    // Idle and age flushes far away: only the shutdown can land these records.
    const job = sink(topics, ['--flush-idle-ms', '600000', '--flush-max-age-ms', '600000']);
    const ids = await produce(topics, 300);
    await waitFor(async () => job.logs().includes('joined group'), 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await lakeLines(topics)).toEqual([]);
    expect(await job.stop('SIGTERM')).toBe(0);
    expect(job.logs()).toMatch(/buffers flushed/);
    expectExactlyOnce(await lakeLines(topics), ids);
  });

  it('serves Prometheus metrics with objects, records and lag', async () => {
    const topics = await freshTopics(1);
    await produce(topics, 100);
    const job = startJob(['s3-sink', '--topics', topics.join(','), '--group-id', `g-${topics[0]}`, '--metrics-port', '19101', '--flush-idle-ms', '300'], env);
    running.push(job);
    expect(await waitFor(async () => (await lakeLines(topics)).length === 100, 60_000)).toBe(true);
    const text = await (await fetch('http://127.0.0.1:19101/metrics')).text();
    expect(text).toMatch(new RegExp(`pinpipe_s3_sink_records_total\\{topic="${topics[0]}",job="s3-sink"\\} 100`));
    expect(text).toMatch(/pinpipe_s3_sink_consumer_lag\{/);
    expect(text).toMatch(/pinpipe_s3_sink_flush_seconds_count/);
    expect((await fetch('http://127.0.0.1:19101/healthz')).status).toBe(200);
    expect(await job.stop()).toBe(0);
  });
});
