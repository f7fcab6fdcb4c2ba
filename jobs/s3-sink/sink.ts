import { LakeConflictError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { allOrFirstError } from '../lib/settle.js';
import type { ObjectFormat } from './format.js';
import type { SinkMetrics } from './metrics.js';
import { PartitionWriter, type FlushOutcome } from './partition-writer.js';
import type { CommitFn, FlushLimits, FlushReason, ObjectStore, SinkRecord } from './types.js';

export interface SinkOptions {
  store: ObjectStore;
  format: ObjectFormat;
  commit: CommitFn;
  limits: FlushLimits;
  /** Ceiling on bytes buffered across all partitions; above it the largest buffers flush. */
  maxBufferBytes: number;
  logger: Logger;
  metrics?: SinkMetrics;
  now?: () => number;
  /** Bounds on fetched batches waiting for the lane (see enqueue). */
  queue?: QueueBounds;
  /**
   * Moves the consumer of a partition to `offset` for its next fetch. Called when a batch that
   * was already handed over could not be processed; required by enqueue.
   */
  reposition?: (topic: string, partition: number, offset: number) => void;
  /** Told when the lake and Kafka disagree about a partition (a re-created topic): the sink cannot go on with it. */
  onFatal?: (error: LakeConflictError) => void;
}

export interface QueueBounds {
  /** Batches waiting or in process. */
  maxBatches: number;
  /** Their bytes (keys and values as fetched). */
  maxBytes: number;
}

/** A fetched batch of one topic-partition, handed to the lane by enqueue. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  /** Offset of its first record: where the consumer was positioned when it fetched it. */
  firstOffset: number;
  /** The partition's high watermark when it was fetched. */
  highWatermark?: number;
  /** What it holds in memory, for the queue bounds. */
  bytes: number;
  /** Its records in offset order, decoded when the lane reaches the batch. */
  records: () => Iterable<SinkRecord>;
}

const DEFAULT_QUEUE: QueueBounds = { maxBatches: 64, maxBytes: 16 * 1024 * 1024 };

/**
 * One writer per topic-partition, and a single lane through which batches, timed flushes and
 * rebalances pass one at a time, so a rotation never races the records it is rotating. The
 * writes themselves run in the background, one per partition at a time (see PartitionWriter).
 */
export class Sink {
  private readonly writers = new Map<string, PartitionWriter>();
  private lane: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly bounds: QueueBounds;
  /** Batches enqueued and not yet done, and their bytes. */
  private queuedBatches = 0;
  private queuedBytes = 0;
  private readonly waiting: Array<() => void> = [];
  /** Counts resets: a batch enqueued before the last reset belongs to an older group generation. */
  private generation = 0;
  /** Counts repositionings per partition: a batch enqueued before the last one was read from the abandoned position. */
  private readonly epochs = new Map<string, number>();
  /** Partitions the lake and Kafka disagree about: nothing more of them is processed. */
  private readonly refused = new Set<string>();

  constructor(private readonly options: SinkOptions) {
    this.now = options.now ?? Date.now;
    this.bounds = options.queue ?? DEFAULT_QUEUE;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private writerFor(topic: string, partition: number): PartitionWriter {
    const id = partitionId(topic, partition);
    let writer = this.writers.get(id);
    if (!writer) {
      writer = new PartitionWriter(topic, partition, { ...this.options, now: this.now, onFlushed: (outcome) => this.observe(topic, outcome) });
      this.writers.set(id, writer);
    }
    return writer;
  }

  /** Adds a fetched batch (records of one topic-partition, in offset order) and waits for it. */
  handleBatch(records: readonly SinkRecord[]): Promise<void> {
    return this.serial(async () => {
      // Each partition's position is read once, at its first record (open is a no-op after).
      const firsts = new Map<string, SinkRecord>();
      for (const record of records) if (!firsts.has(partitionId(record.topic, record.partition))) firsts.set(partitionId(record.topic, record.partition), record);
      for (const record of firsts.values()) await this.writerFor(record.topic, record.partition).open(record.offset);
      await this.add(records);
      const failed = await this.relieveMemory();
      if (failed[0]) throw failed[0].error;
    });
  }

  /**
   * Fetch-ahead: queues a fetched batch for the lane and resolves as soon as the queue is within
   * its bounds, so the consumer fetches the next batch while this one is processed. The caller
   * has moved its position past the batch; the lake still decides what is committed.
   *
   * When a batch cannot be processed (a write that failed again), records after it may already be
   * queued or fetched. The partition's writer is then dropped with its buffer, batches of the
   * partition still queued are discarded, and the consumer is moved back to where the lake ends
   * (resumeOffset), so nothing is skipped and what is read again lands in the objects it did before.
   * After a reset (rebalance), batches queued from the previous generation are discarded.
   */
  enqueue(batch: FetchedBatch): Promise<void> {
    const reposition = this.options.reposition;
    if (!reposition) throw new Error('Sink.enqueue needs the reposition option');
    const id = partitionId(batch.topic, batch.partition);
    const generation = this.generation;
    const epoch = this.epochs.get(id) ?? 0;
    this.queuedBatches += 1;
    this.queuedBytes += batch.bytes;
    void this.serial(async () => {
      try {
        // Let the consumer write its next fetch request before this batch takes the thread.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (generation !== this.generation || epoch !== (this.epochs.get(id) ?? 0) || this.refused.has(id)) return;
        try {
          const moveTo = await this.writerFor(batch.topic, batch.partition).open(batch.firstOffset, batch.highWatermark);
          if (moveTo !== undefined) {
            // The lake holds what lies here: read on from where it ends (checking a record it holds).
            this.epochs.set(id, epoch + 1);
            reposition(batch.topic, batch.partition, moveTo);
            return;
          }
          await this.add(batch.records());
        } catch (error) {
          if (error instanceof LakeConflictError) {
            this.refuse(id, error);
            return;
          }
          // Without a writer nothing of the partition is held since the last reset or abandon, so
          // this batch starts where the consumer was positioned.
          const writer = this.writers.get(id);
          this.abandon(batch.topic, batch.partition, writer, writer?.resumeOffset ?? batch.firstOffset, error, reposition);
        }
        for (const { writer, error } of await this.relieveMemory()) this.abandon(writer.topic, writer.partition, writer, writer.resumeOffset, error, reposition);
      } catch (error) {
        this.options.logger.error('fetched batch could not be processed', { topic: batch.topic, partition: batch.partition, error: (error as Error).message });
      } finally {
        this.queuedBatches -= 1;
        this.queuedBytes -= batch.bytes;
        this.wake();
      }
    });
    return this.hasRoom() ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  private refuse(id: string, error: LakeConflictError): void {
    const writer = this.writers.get(id);
    this.writers.delete(id);
    this.refused.add(id);
    this.options.logger.error('partition refused: the lake and Kafka disagree', { topic: writer?.topic, partition: writer?.partition, error: error.message });
    this.options.onFatal?.(error);
  }

  /** Batches and bytes enqueued and not yet processed (or discarded). */
  get queued(): { batches: number; bytes: number } {
    return { batches: this.queuedBatches, bytes: this.queuedBytes };
  }

  private hasRoom(): boolean {
    return this.queuedBatches <= this.bounds.maxBatches && this.queuedBytes <= this.bounds.maxBytes;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.hasRoom()) (this.waiting.shift() as () => void)();
  }

  /**
   * Gives up a partition whose batch could not be processed after it was handed over (a write
   * that failed again): its writer goes with its buffer, its queued batches are discarded, and
   * the consumer reads it again from `offset`, where the lake ends. A failed write has settled, so
   * no write of the writer is left running.
   */
  private abandon(
    topic: string,
    partition: number,
    writer: PartitionWriter | undefined,
    offset: number | undefined,
    error: unknown,
    reposition: NonNullable<SinkOptions['reposition']>,
  ): void {
    const id = partitionId(topic, partition);
    if (writer && this.writers.get(id) === writer) this.writers.delete(id);
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
    this.options.metrics?.bufferedBytes.set(this.bufferedBytes);
    this.options.logger.warn('batch not processed; reading the partition again from where the lake ends', {
      topic,
      partition,
      offset,
      droppedRecords: writer?.bufferedRecords ?? 0,
      error: (error as Error).message,
    });
    // A writer knows its offset once a record reached it; a batch always knows its first.
    if (offset !== undefined) reposition(topic, partition, offset);
  }

  private async add(records: Iterable<SinkRecord>): Promise<void> {
    let writer: PartitionWriter | undefined;
    for (const record of records) {
      if (writer?.topic !== record.topic || writer.partition !== record.partition) writer = this.writerFor(record.topic, record.partition);
      const rotating = writer.add(record);
      if (rotating) await rotating;
    }
  }

  /** Flushes partitions that have been idle or open too long. Called on a timer. */
  tick(): Promise<void> {
    return this.serial(async () => {
      for (const writer of this.writers.values()) if (writer.isDue()) await writer.rotateDue();
    });
  }

  /** Lands everything buffered (graceful shutdown). */
  flushAll(reason: FlushReason = 'shutdown'): Promise<void> {
    return this.serial(async () => {
      await allOrFirstError([...this.writers.values()].map((writer) => writer.flush(reason)));
    });
  }

  /**
   * Forgets every buffer. After a rebalance the consumer restarts each partition from its
   * committed offset, so what was buffered will be delivered again to whoever owns it. A write
   * still in flight finishes as a zombie would: first writer of a name wins, so nothing doubles.
   */
  reset(): Promise<void> {
    // Batches already queued were fetched by the previous generation: they are discarded.
    this.generation += 1;
    return this.serial(async () => {
      const dropped = [...this.writers.values()].reduce((sum, w) => sum + w.bufferedRecords, 0);
      this.writers.clear();
      this.options.metrics?.bufferedBytes.set(0);
      if (dropped > 0) this.options.logger.info('rebalance: dropped uncommitted buffers, they will be re-read', { records: dropped });
    });
  }

  get bufferedBytes(): number {
    let total = 0;
    for (const writer of this.writers.values()) total += writer.bufferedBytes;
    return total;
  }

  /** Flushes the largest buckets when all buffers together pass the ceiling; returns the writers that failed. */
  private async relieveMemory(): Promise<Array<{ writer: PartitionWriter; error: unknown }>> {
    let total = this.bufferedBytes;
    const failed: Array<{ writer: PartitionWriter; error: unknown }> = [];
    if (total > this.options.maxBufferBytes) {
      // The largest hour bucket of each writer, largest first: a small bucket of late records
      // is left open to gather more, rather than landed as one more small object.
      const largestFirst = [...this.writers.values()].sort((a, b) => b.largestBucketBytes - a.largestBucketBytes);
      const chosen: PartitionWriter[] = [];
      for (const writer of largestFirst) {
        if (total <= this.options.maxBufferBytes / 2) break;
        total -= writer.largestBucketBytes;
        chosen.push(writer);
      }
      // Written side by side (gzip on the thread pool, puts in parallel): waiting for them one
      // after another left consumption idle for the sum of their times. Every flush is waited
      // for, so the lane stays the only thing touching a writer.
      const results = await Promise.allSettled(chosen.map((writer) => writer.flushLargest('memory')));
      results.forEach((result, i) => {
        if (result.status === 'rejected') failed.push({ writer: chosen[i] as PartitionWriter, error: result.reason });
      });
    }
    this.options.metrics?.bufferedBytes.set(this.bufferedBytes);
    return failed;
  }

  private observe(topic: string, outcome: FlushOutcome): void {
    const m = this.options.metrics;
    if (m) {
      m.flushes.inc({ topic, reason: outcome.reason });
      m.flushSeconds.observe(outcome.seconds);
      m.objects.inc({ topic }, outcome.objects);
      m.records.inc({ topic }, outcome.records);
      m.bytes.inc({ topic }, outcome.bytes);
      if (outcome.deadLetters > 0) m.deadLetters.inc({ topic }, outcome.deadLetters);
      if (outcome.conflict) m.conflicts.inc({ topic });
      if (outcome.alreadyLanded > 0) m.alreadyLanded.inc({ topic }, outcome.alreadyLanded);
    }
    if (outcome.conflict) this.options.logger.info('object already in the lake; continuing after it', { topic, nextOffset: outcome.nextOffset });
  }
}

function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
