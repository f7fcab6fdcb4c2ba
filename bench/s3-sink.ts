/**
 * s3-sink throughput and memory on the local stack, beside Kafka's own ConsumerPerformance on
 * the same records, twice: records on time, and the same records with 0.5% of them minutes late
 * (the objects per hour show whether late data splits objects). Run:
 * `npx tsx bench/s3-sink.ts [posts] [sink flags]` with the stack up and its settings exported
 * (make bench does both). Prints one JSON object.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { deleteKeys } from '../jobs/daily-transform/publish.js';
import { createS3Client, ensureBucket } from '../jobs/lib/s3.js';
import { listKeys } from '../jobs/test/lake.js';
import { RECORD_HEADERS } from '../jobs/lib/contracts.js';
import { createKafka, ensureTopics } from '../jobs/lib/kafka.js';
import { createLogger } from '../jobs/lib/logger.js';
import { bundledDataFile } from '../jobs/lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { startJob } from '../jobs/test/process.js';
import { procCpuSeconds, procStatusKb } from './proc.js';
import { privateBucket, serviceEnv, serviceSettings } from '../jobs/test/services.js';

const run = promisify(execFile);
const posts = Number(process.argv[2] ?? 200_000);
/**
 * Extra s3-sink flags to compare settings, e.g. "--max-buffer-bytes 33554432". By default a short
 * idle flush, so the last partial objects do not wait out the 10 s default at the end of the run.
 */
const sinkArgs = (process.argv[3] ?? '--flush-idle-ms 1000').split(' ').filter(Boolean);
// A bucket of the benchmark's own, removed at the end: the user's lake never holds its objects.
const settings = { ...serviceSettings(), s3Bucket: privateBucket('bench-s3-sink') };
const sinkEnv = { ...serviceEnv(), PINPIPE_S3_BUCKET: settings.s3Bucket };
const logger = createLogger('bench', 'warn');
const kafka = createKafka(settings, logger);
const stamp = Date.now().toString(36);
/** Records carry event times from the top of an hour, about 1,000/s per topic, as a live stream's would. */
const FIRST_EVENT_MS = Date.UTC(2026, 0, 1, 10, 0, 0);
const LATE_SHARE = 0.005;
const RECORD_SPACING_MS = 3;

function peakRssMb(pid: number): number {
  return Math.round(procStatusKb(pid, 'VmHWM') / 1024);
}

/** A deterministic stream of numbers in [0, 1), so both runs see the same late records. */
function* uniform(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    yield x / 2 ** 31;
  }
}

async function fill(topics: string[], lateShare: number): Promise<{ records: number; bytes: number; late: number }> {
  await ensureTopics(kafka, topics, 3);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const pins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const generator = generatePosts(pins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 1, startTimeMs: Date.UTC(2026, 0, 1) });
  let records = 0;
  let bytes = 0;
  let late = 0;
  const random = uniform(7);
  const batch: Record<string, Array<{ key: string; value: string; timestamp: string; headers: Record<string, string> }>> = {};
  const flush = async () => {
    await producer.sendBatch({ acks: -1, topicMessages: Object.entries(batch).map(([topic, messages]) => ({ topic, messages })) });
    for (const key of Object.keys(batch)) delete batch[key];
  };
  for (let n = 0; n < posts; n += 1) {
    const post = generator.next().value as Parameters<typeof postRecords>[0];
    for (const typed of postRecords(post)) {
      const topic = topics[['pin', 'geo', 'user'].indexOf(typed.type)] as string;
      const value = JSON.stringify(typed.record);
      // A late record arrives 2 to 10 minutes after its event time.
      const lateBy = (random.next().value as number) < lateShare ? 120_000 + Math.floor((random.next().value as number) * 480_000) : 0;
      if (lateBy > 0) late += 1;
      const timestamp = String(FIRST_EVENT_MS + n * RECORD_SPACING_MS - lateBy);
      (batch[topic] ??= []).push({ key: String(n), value, timestamp, headers: { [RECORD_HEADERS.eventId]: `${topic}#${n}`, [RECORD_HEADERS.ingestTime]: String(Date.now()) } });
      records += 1;
      bytes += value.length;
    }
    if (n % 2_000 === 1_999) await flush();
  }
  await flush();
  await producer.disconnect();
  return { records, bytes, late };
}

async function committedTotal(groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId, topics });
    return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

async function sinkRun(topics: string[], records: number) {
  const groupId = `${topics[0]}-group`;
  const job = startJob(['s3-sink', '--topics', topics.join(','), '--group-id', groupId, '--metrics-port', '0', '--log-level', 'warn', ...sinkArgs], sinkEnv);
  const started = performance.now();
  let firstCommitAt: number | undefined;
  let firstCommitted = 0;
  let firstCommitCpu = 0;
  let rss = 0;
  const pid = job.child.pid as number;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    rss = Math.max(rss, peakRssMb(pid));
    const done = await committedTotal(groupId, topics);
    if (done > 0 && firstCommitAt === undefined) {
      firstCommitAt = performance.now();
      firstCommitted = done;
      firstCommitCpu = procCpuSeconds(pid);
    }
    if (done >= records) break;
    if (performance.now() - started > 600_000) throw new Error(`sink did not finish: ${done} of ${records}`);
  }
  const finished = performance.now();
  const cpu = procCpuSeconds(pid);
  const load1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  rss = Math.max(rss, peakRssMb(pid));
  await job.stop();
  const steadySeconds = (finished - (firstCommitAt as number)) / 1000;
  return {
    wallSeconds: Math.round((finished - started) / 100) / 10,
    eventsPerSecondIncludingStartup: Math.round(records / ((finished - started) / 1000)),
    eventsPerSecondSteady: steadySeconds > 0 ? Math.round((records - firstCommitted) / steadySeconds) : null,
    peakRssMb: rss,
    // CPU of the sink process (all threads: main, gzip pool, GC) per event: the figure that stays
    // comparable when other work shares the cores; the steady one leaves out start-up.
    cpuMicrosPerEvent: Math.round((cpu / records) * 1e7) / 10,
    cpuMicrosPerEventSteady: records > firstCommitted ? Math.round(((cpu - firstCommitCpu) / (records - firstCommitted)) * 1e7) / 10 : null,
    loadAverage1m: load1m,
  };
}

/** Raw objects per record hour, over the topics. */
async function objectsPerHour(topics: string[]): Promise<{ objects: number; hours: number; perHour: number }> {
  const s3 = createS3Client(settings);
  const keys = (await Promise.all(topics.map((topic) => listKeys(s3, settings.s3Bucket, `raw/${topic}/`)))).flat();
  s3.destroy();
  const hours = new Set(keys.map((key) => key.split('/').slice(0, 4).join('/')));
  return { objects: keys.length, hours: hours.size, perHour: Math.round((keys.length / Math.max(1, hours.size)) * 10) / 10 };
}

/** Kafka's ConsumerPerformance over the same topics, one after another (it takes one topic). */
async function consumerPerformance(topics: string[], records: number) {
  let seconds = 0;
  let mb = 0;
  let consumed = 0;
  for (const topic of topics) {
    const { stdout } = await run('stack/stack.sh', [
      'kafka-run',
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      settings.kafkaBrokers.join(','),
      '--topic',
      topic,
      '--messages',
      String(Math.ceil(records / topics.length)),
      '--group',
      `bench-perf-${topic}`,
      '--timeout',
      '60000',
    ]);
    // A header, then: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
    const fields = (stdout.trim().split('\n').pop() ?? '').split(',').map((f) => f.trim());
    const topicMb = Number(fields[2]);
    const topicMessages = Number(fields[4]);
    mb += topicMb;
    consumed += topicMessages;
    seconds += topicMb / Number(fields[3]);
  }
  return { records: consumed, eventsPerSecond: Math.round(consumed / seconds), mbPerSecond: Math.round((mb / seconds) * 10) / 10 };
}

const lake = createS3Client(settings);
await ensureBucket(lake, settings.s3Bucket);
const onTimeTopics = ['pin', 'geo', 'user'].map((t) => `bench-sink-${t}-${stamp}`);
const lateTopics = ['pin', 'geo', 'user'].map((t) => `bench-sink-late-${t}-${stamp}`);
const filled = await fill(onTimeTopics, 0);
const sink = { ...(await sinkRun(onTimeTopics, filled.records)), ...(await objectsPerHour(onTimeTopics)) };
const kafkaConsumer = await consumerPerformance(onTimeTopics, filled.records);
const filledLate = await fill(lateTopics, LATE_SHARE);
const sinkLate = { ...(await sinkRun(lateTopics, filledLate.records)), ...(await objectsPerHour(lateTopics)), lateRecords: filledLate.late };
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 's3-sink',
      posts,
      sinkArgs,
      records: filled.records,
      averageRecordBytes: Math.round(filled.bytes / filled.records),
      sink,
      sinkWithLateRecords: sinkLate,
      kafkaConsumerPerformance: kafkaConsumer,
      ratioToKafkaConsumer: Math.round((sink.eventsPerSecondSteady ?? sink.eventsPerSecondIncludingStartup) / kafkaConsumer.eventsPerSecond * 100) / 100,
      target: { eventsPerSecond: 100_000 },
    },
    null,
    2,
  )}\n`,
);
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [...onTimeTopics, ...lateTopics] });
await deleteKeys(lake, settings.s3Bucket, await listKeys(lake, settings.s3Bucket, ''));
await lake.send(new DeleteBucketCommand({ Bucket: settings.s3Bucket }));
lake.destroy();
await admin.disconnect();
