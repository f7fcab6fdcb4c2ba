import type { EachBatchPayload, IHeaders } from 'kafkajs';
import { RECORD_HEADERS } from '../lib/contracts.js';
import type { JobContext } from '../lib/job.js';
import { createGroupConsumer, createKafka, ensureTopics } from '../lib/kafka.js';
import { fastRecordsInstalled } from '../lib/kafkajs-records.js';
import { createRegistry, serveMetrics } from '../lib/metrics.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import type { S3SinkOptions } from './command.js';
import { ndjsonGzip } from './format.js';
import { createSinkMetrics } from './metrics.js';
import { Sink } from './sink.js';
import { S3ObjectStore } from './store.js';
import type { SinkRecord } from './types.js';

/** How often idle and age rotation is checked. */
const TICK_MS = 1_000;
/** The consumer's heartbeat interval (createGroupConsumer). */
const HEARTBEAT_MS = 3_000;

/** A header as the sink keeps it: its bytes (or text), a repeated one's values joined as String() joins them. */
function header(headers: IHeaders | undefined, name: string): string | Buffer | undefined {
  const value = headers?.[name];
  return value === undefined || typeof value === 'string' || Buffer.isBuffer(value) ? value : String(value);
}

function toSinkRecords({ batch }: Pick<EachBatchPayload, 'batch'>): SinkRecord[] {
  const { topic, partition } = batch;
  return batch.messages.map((m) => ({
    topic,
    partition,
    offset: Number(m.offset),
    timestampMs: Number(m.timestamp),
    // Bytes as fetched: a lake line copies them when they need no escaping, with no string made.
    key: m.key,
    value: m.value,
    // Only the headers the lake keeps; the dead-letter copy keeps these too.
    headers: { [RECORD_HEADERS.eventId]: header(m.headers, RECORD_HEADERS.eventId), [RECORD_HEADERS.ingestTime]: header(m.headers, RECORD_HEADERS.ingestTime) },
  }));
}

/** Waits for `work`, heartbeating meanwhile so a long wait for the lane keeps the group membership. */
async function untilDone(work: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
  let done = false;
  void work.then(() => (done = true));
  await heartbeat();
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, HEARTBEAT_MS)))]);
    clearTimeout(timer);
    if (!done) await heartbeat();
  }
}

export async function runS3Sink(options: S3SinkOptions, { logger, shutdown, signal }: JobContext): Promise<void> {
  const s3 = createS3Client(options);
  await ensureBucket(s3, options.s3Bucket);
  const kafka = createKafka(options, logger);
  await ensureTopics(kafka, options.topics);

  const registry = createRegistry('s3-sink');
  const metrics = createSinkMetrics(registry);
  let crashed: Error | undefined;
  const consumer = createGroupConsumer(kafka, options.groupId, 4 * 1024 * 1024);
  const sink = new Sink({
    store: new S3ObjectStore(s3, options.s3Bucket),
    format: ndjsonGzip(options.gzipLevel),
    limits: { maxRecords: options.flushRecords, maxBytes: options.flushBytes, idleMs: options.flushIdleMs, maxAgeMs: options.flushMaxAgeMs, maxOpenHours: options.maxOpenHours },
    maxBufferBytes: options.maxBufferBytes,
    logger,
    metrics,
    queue: { maxBatches: 64, maxBytes: options.fetchAheadBytes },
    reposition: (topic, partition, offset) => {
      try {
        consumer.seek({ topic, partition, offset: String(offset) });
      } catch (error) {
        // Going on would skip what was dropped; a restart reads again from the committed offsets.
        crashed = error as Error;
      }
    },
    onFatal: (error) => {
      crashed ??= error;
    },
    commit: async (topic, partition, offset) => {
      try {
        await consumer.commitOffsets([{ topic, partition, offset: String(offset) }]);
      } catch (error) {
        // The objects are stored: whoever reads this partition next finds them and commits past them.
        logger.warn('offset commit failed; the lake already holds the records', { topic, partition, offset, error: (error as Error).message });
      }
    },
  });

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    logger.info('joined group', { groupId: payload.groupId, assignment: payload.memberAssignment });
    void sink.reset();
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error('consumer crashed', { error: payload.error.message, restart: payload.restart });
    if (!payload.restart) crashed = payload.error;
  });

  const server = await serveMetrics(registry, options, logger, () => crashed === undefined);
  await consumer.connect();
  await consumer.subscribe({ topics: options.topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const { batch } = payload;
      // Fetched before the sink moved this partition back (reposition): read again from there.
      if (payload.isStale()) return;
      let bytes = 0;
      for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      // The lane processes the batch while kafkajs fetches the next one; the position moves on
      // now, but only a stored object commits offsets (see Sink.enqueue).
      const queued = sink.enqueue({ topic: batch.topic, partition: batch.partition, firstOffset: Number(batch.firstOffset()), highWatermark: Number(batch.highWatermark), bytes, records: () => toSinkRecords(payload) });
      payload.resolveOffset(batch.lastOffset());
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
      await untilDone(queued, () => payload.heartbeat());
    },
  });

  const ticker = setInterval(() => {
    sink.tick().catch((error: unknown) => logger.error('timed flush failed', { error: (error as Error).message }));
  }, TICK_MS);
  logger.info('s3-sink running', { topics: options.topics, groupId: options.groupId, bucket: options.s3Bucket, fastRecordDecoder: fastRecordsInstalled });

  shutdown.onShutdown(async () => {
    server?.close();
    s3.destroy();
  });
  shutdown.onShutdown(async () => {
    clearInterval(ticker);
    // Pause fetching, land what is buffered while the group membership still holds (commits
    // need it), then leave the group.
    consumer.pause(options.topics.map((topic) => ({ topic })));
    await sink.flushAll('shutdown');
    await consumer.disconnect();
    logger.info('s3-sink stopped; buffers flushed');
  });

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    const watch = setInterval(() => {
      if (crashed) {
        clearInterval(watch);
        resolve();
      }
    }, 500);
    watch.unref();
  });
  if (crashed) throw crashed;
}
