import { RECORD_HEADERS, type RecordType } from '../lib/contracts.js';
import { DependencyError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import { createGroupConsumer, createKafka, ensureTopics } from '../lib/kafka.js';
import { createRegistry, serveMetrics } from '../lib/metrics.js';
import { createPgPool, redactPgUrl } from '../lib/pg.js';
import { Aggregator } from './aggregator.js';
import type { StreamAggOptions } from './command.js';
import { createAggMetrics } from './metrics.js';
import { loadMigrations, migrate } from './migrations.js';
import { ensureGroup } from './store.js';

export async function runStreamAgg(options: StreamAggOptions, { logger, shutdown, signal }: JobContext): Promise<void> {
  const pool = createPgPool(options, { max: 2 });
  // An idle client whose server went away emits 'error' on the pool; the next query reports it.
  pool.on('error', (error) => logger.warn('PostgreSQL connection lost', { error: error.message }));
  shutdown.onShutdown(async () => {
    await pool.end().catch(() => undefined);
  });
  try {
    await migrate(pool, await loadMigrations(), logger);
    await ensureGroup(pool, options.groupId, options.window);
  } catch (error) {
    if (error instanceof Error && 'code' in error && String((error as { code: unknown }).code).startsWith('PINPIPE_')) throw error;
    throw new DependencyError(`PostgreSQL at ${redactPgUrl(options.pgUrl)} is not usable: ${(error as Error).message}`, { cause: error });
  }

  const topics = new Map<string, RecordType>([
    [options.pinTopic, 'pin'],
    [options.geoTopic, 'geo'],
    [options.userTopic, 'user'],
  ]);
  const kafka = createKafka(options, logger);
  await ensureTopics(kafka, [...topics.keys()]);
  const registry = createRegistry('stream-agg');
  const metrics = createAggMetrics(registry);
  const consumer = createGroupConsumer(kafka, options.groupId, 2 * 1024 * 1024);
  // Where the partitions end: one with nothing left to read may turn idle.
  const admin = kafka.admin();
  await admin.connect();
  shutdown.onShutdown(async () => {
    await admin.disconnect().catch(() => undefined);
  });
  const partitionEnds = async (names: readonly string[]) =>
    (await Promise.all(names.map(async (topic) => (await admin.fetchTopicOffsets(topic)).map((p) => ({ topic, partition: p.partition, low: Number(p.low), high: Number(p.high) }))))).flat();
  const aggregator = new Aggregator({
    pool,
    groupId: options.groupId,
    windowMs: options.window,
    latenessMs: options.allowedLateness,
    idleTimeoutMs: options.idleTimeout,
    dedupeHorizonMs: options.dedupeHorizon,
    topics,
    partitionEnds,
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset: String(offset) }),
    pgRetryMs: options.pgRetryMs,
    logger,
    metrics,
  });

  let crashed: Error | undefined;
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    logger.info('joined group', { groupId: payload.groupId, assignment: payload.memberAssignment });
    const partitions = Object.entries(payload.memberAssignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    aggregator.assign(partitions).catch((error: unknown) => (crashed ??= error as Error));
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error('consumer crashed', { error: payload.error.message, restart: payload.restart });
    if (!payload.restart) crashed = payload.error;
  });

  const server = await serveMetrics(registry, options, logger, () => crashed === undefined && aggregator.failed === undefined);
  await consumer.connect();
  await consumer.subscribe({ topics: [...topics.keys()], fromBeginning: true });
  await consumer.run({
    // Offsets live in PostgreSQL with the windows; Kafka's group offsets are never committed or trusted.
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
      if (!isRunning() || isStale() || aggregator.failed) return;
      const records = batch.messages.map((m) => {
        const eventId = m.headers?.[RECORD_HEADERS.eventId];
        return { offset: Number(m.offset), timestampMs: Number(m.timestamp), value: m.value, eventId: eventId === undefined || Array.isArray(eventId) ? null : typeof eventId === 'string' ? Buffer.from(eventId) : eventId };
      });
      const consumed = await aggregator.handleBatch(batch.topic, batch.partition, records);
      if (consumed) {
        // Only moves kafkajs's fetch position (its next fetch starts after the last resolved
        // offset); nothing is committed to Kafka. After a seek the batch stays unresolved.
        resolveOffset(batch.lastOffset());
        metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
      }
      // Back-pressure: a large delta starts a flush; more is fetched while it is written, but not
      // past a second full delta, so memory stays bounded.
      await aggregator.flushIfFull(options.flushRecords);
      await heartbeat();
    },
  });

  const ticker = setInterval(() => {
    aggregator.flush().catch(() => undefined); // a fatal failure sets aggregator.failed, watched below
  }, options.flushIntervalMs);
  logger.info('stream-agg running', {
    topics: [...topics.keys()],
    groupId: options.groupId,
    windowMs: options.window,
    allowedLatenessMs: options.allowedLateness,
    idleTimeoutMs: options.idleTimeout,
    dedupeHorizonMs: options.dedupeHorizon,
    pg: redactPgUrl(options.pgUrl),
  });

  shutdown.onShutdown(async () => {
    server?.close();
  });
  shutdown.onShutdown(async () => {
    clearInterval(ticker);
    // Stop fetching, store what is aggregated, then leave the group.
    consumer.pause([...topics.keys()].map((topic) => ({ topic })));
    await aggregator.flush().catch((error: unknown) => logger.error('final flush failed; a restart re-reads from the stored offsets', { error: (error as Error).message }));
    await consumer.disconnect();
    if (aggregator.failed === undefined) logger.info('stream-agg stopped; windows and offsets flushed');
  });

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    const watch = setInterval(() => {
      if (crashed || aggregator.failed) {
        clearInterval(watch);
        resolve();
      }
    }, 200);
    watch.unref();
  });
  clearInterval(ticker);
  if (aggregator.failed) throw aggregator.failed;
  if (crashed) throw crashed;
}
