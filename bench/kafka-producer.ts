/**
 * Kafka's own ProducerPerformance, from the same jars as the broker, on records the size of
 * pinpipe's average raw record and with the producer settings ingest uses (acks=all, idempotent):
 * the ceiling ingest is compared with. Run: `npx tsx bench/kafka-producer.ts [records] [bytes]`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createKafka, ensureTopics } from '../jobs/lib/kafka.js';
import { createLogger } from '../jobs/lib/logger.js';
import { serviceSettings } from '../jobs/test/services.js';

const run = promisify(execFile);
const records = Number(process.argv[2] ?? 500_000);
const recordBytes = Number(process.argv[3] ?? 300);
const settings = serviceSettings();
const kafka = createKafka(settings, createLogger('bench', 'warn'));
const topic = `bench-producer-perf-${Date.now().toString(36)}`;
await ensureTopics(kafka, [topic], 3);

const { stdout } = await run(
  'stack/stack.sh',
  [
    'kafka-run',
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(recordBytes),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${settings.kafkaBrokers.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
    'linger.ms=2',
  ],
  { maxBuffer: 16 * 1024 * 1024 },
);
// Last line: "500000 records sent, 123456.7 records/sec (35.3 MB/sec), 12.3 ms avg latency, ..."
const summary = stdout.trim().split('\n').pop() ?? '';
const perSecond = Number(/records sent, ([\d.]+) records\/sec/.exec(summary)?.[1]);
const p50 = Number(/([\d.]+) ms 50th/.exec(summary)?.[1]);
const p99 = Number(/([\d.]+) ms 99th/.exec(summary)?.[1]);
process.stdout.write(`${JSON.stringify({ benchmark: 'kafka-producer-performance', records, recordBytes, eventsPerSecond: Math.round(perSecond), latencyMs: { p50, p99 }, summary }, null, 2)}\n`);
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
