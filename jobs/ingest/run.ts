import { setFlagsFromString } from 'node:v8';
import { topicsOf } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import { createKafka } from '../lib/kafka.js';
import { createRegistry } from '../lib/metrics.js';
import { loadApiKeys } from './auth.js';
import { MicroBatcher } from './batcher.js';
import { kafkaLogger } from './kafka-log.js';
import { createIngestMetrics } from './metrics.js';
import { ingestOpenApi } from './openapi.js';
import type { IngestOptions } from './options.js';
import { KafkaGateway } from './producer.js';
import { ProducerSession } from './producer-session.js';
import { buildServer } from './server.js';

/**
 * V8 lets the heap grow up to about four times what survived the last full collection before it
 * collects again. Ingest's requests are short-lived but outlive a young-generation collection
 * while they wait for Kafka, so that garbage lands in the old generation and peak RSS swung
 * between 210 and 280 MB in the benchmark. Growing by at most a factor of two keeps it near
 * 170-200 MB, for a few percent more CPU in the garbage collector.
 */
const HEAP_GROWING_PERCENT = 100;

/** Kafka refuses a record batch (one topic-partition of a request) over message.max.bytes, 1 MiB by default. */
const PARTITION_BATCH_BYTES = 1_000_000;
/** Well under the broker's socket.request.max.bytes (100 MiB). */
const REQUEST_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Serves until SIGTERM/SIGINT. Shutdown order (hooks run last-registered first): stop taking
 * requests and let in-flight ones finish (they wait for their records' produce), flush what is
 * still queued, then disconnect from Kafka.
 */
export async function runIngest(options: IngestOptions, { logger, shutdown, signal }: JobContext): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const apiKeys = await loadApiKeys(options);
  if (apiKeys === undefined) logger.warn('authentication is disabled (--auth-disabled): anyone who reaches the port can write to Kafka');

  const topics = topicsOf(options);
  const registry = createRegistry('ingest');
  const metrics = createIngestMetrics(registry);
  const kafka = createKafka(options, kafkaLogger(logger));
  const gateway = new KafkaGateway(kafka, {
    producer: new ProducerSession({ clientId: options.kafkaClientId, brokers: options.kafkaBrokers, requestTimeoutMs: options.produceTimeoutMs }),
    topics: Object.values(topics),
    partitions: options.kafkaPartitions,
    produceTimeoutMs: options.produceTimeoutMs,
    logger,
    onReachable: (reachable) => metrics.kafkaReachable.set(reachable ? 1 : 0),
  });
  metrics.kafkaReachable.set(0);
  const batcher = new MicroBatcher({
    send: (messages) => gateway.send(messages),
    maxQueuedRecords: options.maxQueuedRecords,
    maxBatchRecords: options.maxBatchRecords,
    maxPartitionBytes: Math.max(PARTITION_BATCH_BYTES, options.maxRecordBytes),
    maxBatchBytes: REQUEST_BATCH_BYTES,
    lingerMs: options.lingerMs,
    onBatch: ({ records, seconds, ok }) => {
      metrics.produceSeconds.observe({ outcome: ok ? 'stored' : 'failed' }, seconds);
      metrics.batchRecords.observe(records);
    },
    onDepth: (depth) => metrics.queueDepth.set(depth),
  });
  const state = { closing: false };
  const app = buildServer({
    kafka: gateway,
    batcher,
    metrics,
    registry,
    logger,
    openapi: ingestOpenApi(topics),
    apiKeys,
    maxBodyBytes: options.maxBodyBytes,
    maxRecordBytes: options.maxRecordBytes,
    topics,
    state,
  });

  shutdown.onShutdown(() => gateway.close());
  shutdown.onShutdown(async () => {
    await batcher.close();
    logger.info('flushed to Kafka');
  });
  shutdown.onShutdown(async () => {
    state.closing = true;
    await app.close();
  });

  gateway.start();
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new ConfigError(`--port / PINPIPE_PORT, --host / PINPIPE_HOST: cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`);
    }
    throw error;
  }
  const bound = app.server.address();
  logger.info('ingest listening', {
    address: typeof bound === 'object' && bound !== null ? `${bound.address}:${bound.port}` : String(bound),
    auth: apiKeys === undefined ? 'disabled' : `${apiKeys.length} API key(s)`,
    kafkaBrokers: options.kafkaBrokers,
    maxBodyBytes: options.maxBodyBytes,
    maxQueuedRecords: options.maxQueuedRecords,
  });

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
