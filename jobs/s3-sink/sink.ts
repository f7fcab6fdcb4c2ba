import type { Logger } from '../lib/logger.js';
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
}

/**
 * One writer per topic-partition, and a single lane through which batches, timed flushes and
 * rebalances pass one at a time, so a rotation never races the records it is rotating. The
 * writes themselves run in the background, one per partition at a time (see PartitionWriter).
 */
export class Sink {
  private readonly writers = new Map<string, PartitionWriter>();
  private lane: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: SinkOptions) {
    this.now = options.now ?? Date.now;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private writerFor(topic: string, partition: number): PartitionWriter {
    const id = `${topic}/${partition}`;
    let writer = this.writers.get(id);
    if (!writer) {
      writer = new PartitionWriter(topic, partition, { ...this.options, now: this.now, onFlushed: (outcome) => this.observe(topic, outcome) });
      this.writers.set(id, writer);
    }
    return writer;
  }

  /** Adds a fetched batch (records of one topic-partition, in offset order). */
  handleBatch(records: readonly SinkRecord[]): Promise<void> {
    return this.serial(async () => {
      let writer: PartitionWriter | undefined;
      for (const record of records) {
        if (writer?.topic !== record.topic || writer.partition !== record.partition) writer = this.writerFor(record.topic, record.partition);
        const rotating = writer.add(record);
        if (rotating) await rotating;
      }
      await this.relieveMemory();
    });
  }

  /** Flushes partitions that have been idle or open too long. Called on a timer. */
  tick(): Promise<void> {
    return this.serial(async () => {
      for (const writer of this.writers.values()) {
        const reason = writer.due();
        if (reason) await writer.rotate(reason);
      }
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

  private async relieveMemory(): Promise<void> {
    let total = this.bufferedBytes;
    if (total > this.options.maxBufferBytes) {
      const largestFirst = [...this.writers.values()].sort((a, b) => b.bufferedBytes - a.bufferedBytes);
      const chosen: PartitionWriter[] = [];
      for (const writer of largestFirst) {
        if (total <= this.options.maxBufferBytes / 2) break;
        total -= writer.bufferedBytes;
        chosen.push(writer);
      }
      // Written side by side (gzip on the thread pool, puts in parallel): waiting for them one
      // after another left consumption idle for the sum of their times.
      await allOrFirstError(chosen.map((writer) => writer.flush('memory')));
    }
    this.options.metrics?.bufferedBytes.set(this.bufferedBytes);
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
    }
    if (outcome.conflict) this.options.logger.info('object already in the lake; continuing after it', { topic, nextOffset: outcome.nextOffset });
  }
}

/**
 * Waits for every promise, then rejects with the first failure if any. Unlike Promise.all it
 * never returns while a flush still runs, so the lane stays the only thing touching a writer.
 */
export async function allOrFirstError(work: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
