import type pg from 'pg';
import type { RecordType } from '../lib/contracts.js';
import { DependencyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { Delta, eventIdHash, extract, isClosed, isLate, SeenKeys, StreamTime, windowStart } from './aggregate.js';
import type { AggMetrics } from './metrics.js';
import { FencedError, flush, groupWatermark, loadSeenKeys, openWindows, registerPartitions, type PartitionEnds, type PositionUpdate } from './store.js';

/** A consumed Kafka record, independent of the client library. */
export interface AggRecord {
  offset: number;
  timestampMs: number;
  value: Buffer | null;
  /** The record's pinpipe-event-id header, as bytes: decoded only when a repeat is recorded. */
  eventId: Uint8Array | null;
}

export interface AggregatorOptions {
  pool: pg.Pool;
  groupId: string;
  windowMs: number;
  latenessMs: number;
  /** A caught-up partition with no new record for this long stops holding the group's watermark back. */
  idleTimeoutMs: number;
  /** How far back in a partition's stream time a repeated record key is still recognised. */
  dedupeHorizonMs: number;
  /** topic → record type. */
  topics: ReadonlyMap<string, RecordType>;
  /** Moves the consumer's fetch position (consumer.seek). */
  seek: (topic: string, partition: number, offset: number) => void;
  /** Where every partition of these topics starts and ends in Kafka now. */
  partitionEnds: (topics: readonly string[]) => Promise<PartitionEnds[]>;
  pgRetryMs: number;
  logger: Logger;
  metrics: AggMetrics;
  now?: () => number;
}

interface Position {
  topic: string;
  partition: number;
  /** next_offset as stored in PostgreSQL (null: no row yet). */
  stored: number | null;
  /** Next offset to aggregate; everything before it is in the delta or stored. */
  next: number | null;
  /** Whether this process already sought the consumer forward to `stored`. */
  sought: boolean;
  /** Seeks back to `next` in a row without a batch starting there. */
  seeks: number;
  /** First copies of record keys within the dedupe horizon. */
  seen: SeenKeys;
}

/** Seeks back in a row before a gap is accepted as records Kafka no longer has. */
const MAX_SEEKS = 20;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * The stateful core: positions per partition, the watermark, and the delta since the last flush.
 * Batches, timed flushes and rebalances pass through one lane, one at a time, so a flush always
 * sees a delta that matches the offsets it stores.
 */
export class Aggregator {
  private lane: Promise<unknown> = Promise.resolve();
  private delta = new Delta();
  private readonly positions = new Map<string, Position>();
  private readonly streamTime = new StreamTime();
  /** The group's watermark as this member last saw it stored: windows ending at or before it are final. */
  private watermark = Number.NEGATIVE_INFINITY;
  private readonly open = new Set<number>();
  private readonly now: () => number;
  private windowsLoaded = false;
  /** Set when the job cannot go on; run.ts exits with it. */
  failed: Error | undefined;

  constructor(private readonly options: AggregatorOptions) {
    this.now = options.now ?? Date.now;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  get pendingRecords(): number {
    return this.delta.records;
  }

  /**
   * After a (re)assignment: forget everything not stored, register the partitions now owned (so
   * each holds the group's watermark back until it is read), load their stored positions, stream
   * times and dedupe state, so the consumer seeks to where PostgreSQL says and every record is
   * judged as an uninterrupted run judged it.
   */
  assign(partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<void> {
    return this.serial(async () => {
      const dropped = this.reset();
      if (dropped > 0) this.options.logger.info('rebalance: dropped records not yet flushed; they will be read again', { records: dropped });
      await this.withRetry('load positions', async () => this.load(partitions));
    });
  }

  private async load(partitions: ReadonlyArray<{ topic: string; partition: number }>): Promise<void> {
    const { pool, groupId, dedupeHorizonMs } = this.options;
    const stored = await registerPartitions(pool, groupId, partitions);
    for (const { topic, partition } of partitions) {
      const s = stored.get(key(topic, partition));
      const next = s?.nextOffset ?? null;
      this.positions.set(key(topic, partition), { topic, partition, stored: next, next, sought: false, seeks: 0, seen: new SeenKeys(dedupeHorizonMs) });
      this.streamTime.set(topic, partition, s?.maxEventTime);
    }
    const since = partitions.map(({ topic, partition }) => ({ topic, partition, since: (this.streamTime.maxOf(topic, partition) ?? Number.NEGATIVE_INFINITY) - dedupeHorizonMs }));
    for (const { topic, partition, key: k, copy } of await loadSeenKeys(pool, groupId, since)) this.positions.get(key(topic, partition))?.seen.restore(k, copy);
    this.watermark = Math.max(this.watermark, await groupWatermark(pool, groupId));
    if (!this.windowsLoaded) {
      for (const ws of await openWindows(pool, groupId)) this.open.add(ws);
      this.windowsLoaded = true;
    }
    this.updateGauges();
  }

  /** Aggregates a fetched batch of one partition (offset order). Returns false if the consumer was sought instead. */
  handleBatch(topic: string, partition: number, records: readonly AggRecord[]): Promise<boolean> {
    return this.serial(async () => {
      if (this.failed || records.length === 0) return true;
      let pos = this.positions.get(key(topic, partition));
      if (!pos) {
        // A batch that raced the assignment event: load this partition alone.
        await this.withRetry('load positions', async () => this.load([{ topic, partition }]));
        pos = this.positions.get(key(topic, partition)) as Position;
      }
      const first = (records[0] as AggRecord).offset;
      if (pos.next !== null && first > pos.next) {
        // Kafka's position is ahead of what PostgreSQL holds (no Kafka commit is trusted, and a
        // batch fetched before a seek can still arrive): go back, never skip. Only when repeated
        // seeks keep landing past it are the records in between truly gone (retention, or
        // transaction markers), and that is logged loudly.
        if (pos.seeks < MAX_SEEKS) {
          pos.seeks += 1;
          this.options.logger.info('seeking to the offset stored in PostgreSQL', { topic, partition, offset: pos.next, fetched: first });
          this.options.seek(topic, partition, pos.next);
          return false;
        }
        this.options.logger.error('offset gap: records between the stored offset and the first fetched are not in Kafka', { topic, partition, from: pos.next, to: first });
      } else if (pos.next !== null && first < pos.next && !pos.sought && pos.next - first > records.length) {
        // Far behind (the group has no Kafka commits): jump instead of reading and skipping.
        pos.sought = true;
        this.options.seek(topic, partition, pos.next);
        return false;
      }
      pos.seeks = 0;
      pos.sought = true;
      const type = this.options.topics.get(topic) as RecordType;
      const { metrics, windowMs, latenessMs } = this.options;
      const groupWatermark = this.watermark;
      const { seen } = pos;
      // The partition's stream time as StreamTime.observe would move it record by record, in a local.
      let partitionMax = this.streamTime.maxOf(topic, partition) ?? Number.NEGATIVE_INFINITY;
      let observed = false;
      let counted = 0;
      let repeated = 0;
      let retried = 0;
      let late = 0;
      let lastOpened = Number.NaN;
      try {
        for (const r of records) {
          if (pos.next !== null && r.offset < pos.next) continue; // already stored
          pos.next = r.offset + 1;
          this.delta.records += 1;
          const t = r.timestampMs;
          observed = true;
          if (t > partitionMax) partitionMax = t;
          const ws = windowStart(t, windowMs);
          const e = extract(type, r.value);
          if (e.type === 'invalid') {
            // The raw lake keeps the record (s3-sink's dead-letter prefix); here it is counted, never silently dropped.
            metrics.invalid.inc({ topic, reason: e.reason });
            continue;
          }
          // Repeats first, late second: a late record's later copy is a repeat, so the late
          // events hold each record once, as the batch does.
          const idHash = r.eventId === null ? null : eventIdHash(r.eventId);
          const recordKey = e.key ?? (r.eventId === null ? null : `event-id:${Buffer.from(r.eventId).toString()}`);
          if (recordKey !== null) {
            const first = seen.check(recordKey, t, partitionMax, r.offset, idHash);
            if (first !== undefined) {
              const reason = first.eventIdHash !== null && first.eventIdHash === idHash ? 'retry' : 'repeat';
              const eventId = r.eventId === null ? null : Buffer.from(r.eventId).toString();
              this.delta.repeats.push({ topic, partition, offset: r.offset, eventTime: t, windowStart: ws, key: recordKey, eventId, firstOffset: first.offset, reason });
              if (reason === 'retry') retried += 1;
              else repeated += 1;
              continue;
            }
          }
          if (isLate(ws, windowMs, partitionMax, latenessMs, groupWatermark)) {
            this.delta.late.push({
              topic,
              partition,
              offset: r.offset,
              eventTime: t,
              windowStart: ws,
              watermark: Math.max(partitionMax - latenessMs, groupWatermark),
              value: r.value === null ? null : r.value.toString('utf8'),
            });
            late += 1;
            continue;
          }
          switch (e.type) {
            case 'pin':
              this.delta.addPin(ws, t, e);
              break;
            case 'geo':
              this.delta.addCount('geo', ws, t, e.country);
              break;
            case 'user':
              this.delta.addCount('user', ws, t, e.ageGroup);
              break;
          }
          if (ws !== lastOpened) {
            this.open.add(ws);
            lastOpened = ws;
          }
          counted += 1;
        }
      } finally {
        if (observed && partitionMax !== Number.NEGATIVE_INFINITY) {
          this.streamTime.set(topic, partition, partitionMax);
          seen.prune(partitionMax);
        }
      }
      if (counted > 0) metrics.records.inc({ topic }, counted);
      if (late > 0) metrics.late.inc({ topic }, late);
      if (repeated > 0) metrics.repeats.inc({ topic, reason: 'repeat' }, repeated);
      if (retried > 0) metrics.repeats.inc({ topic, reason: 'retry' }, retried);
      return true;
    });
  }

  /**
   * Writes the delta, the offsets and the finalisations in one transaction, retrying PostgreSQL
   * failures up to --pg-retry-ms. The delta is swapped out at the start, so consumption goes on
   * into a fresh one while the transaction runs; flushes themselves run one after another, so
   * each starts from the offsets the previous one stored.
   */
  flush(): Promise<void> {
    this.flushesQueued += 1;
    const run = this.flushLane.then(() => this.flushOnce()).finally(() => (this.flushesQueued -= 1));
    this.flushLane = run.catch(() => undefined);
    return run;
  }

  /**
   * Back-pressure after a batch: once `limit` records arrived since the last flush, a flush starts
   * and consumption goes on into a fresh delta while it is written. Only when the previous flush
   * is still being written is the caller held until it is done, so at most one delta is in
   * flight and one filling: memory stays bounded, and PostgreSQL's work overlaps the decoding.
   */
  async flushIfFull(limit: number): Promise<void> {
    if (this.delta.records < limit) return;
    if (this.flushesQueued > 0) await this.flushLane;
    // A queued flush may have taken the delta meanwhile.
    if (this.delta.records >= limit) this.flush().catch(() => undefined); // a fatal failure sets this.failed
  }

  private flushLane: Promise<unknown> = Promise.resolve();
  /** Flushes asked for and not yet done (queued or being written). */
  private flushesQueued = 0;
  /** Bumped whenever positions are reloaded, so a flush in flight does not overwrite them. */
  private generation = 0;

  private async flushOnce(): Promise<void> {
    // The snapshot is taken in the batch lane: a delta and the offsets that match it exactly.
    const snap = await this.serial(async () => {
      // With nothing new, a flush still runs while windows are open: partitions turning idle move
      // the group's watermark on with the clock alone.
      if (this.failed || (this.delta.empty && this.open.size === 0)) return undefined;
      const delta = this.delta;
      this.delta = new Delta();
      const updates: PositionUpdate[] = [];
      for (const p of this.positions.values()) {
        const chunk = p.seen.takeUnsaved(p.topic, p.partition);
        if (chunk !== undefined) delta.seen.push(chunk);
        if (p.next === null || p.next === p.stored) continue;
        updates.push({
          topic: p.topic,
          partition: p.partition,
          from: p.stored,
          to: p.next,
          maxEventTime: this.streamTime.maxOf(p.topic, p.partition),
        });
      }
      return { delta, updates, generation: this.generation };
    });
    if (!snap) return;
    const { delta, updates } = snap;
    const { groupId, windowMs, latenessMs, idleTimeoutMs, dedupeHorizonMs } = this.options;
    const started = this.now();
    const ends = await this.options.partitionEnds([...this.options.topics.keys()]).catch((error: unknown) => {
      // Without Kafka's ends no partition is judged caught up anew; the flush itself goes on.
      this.options.logger.warn('could not read where the partitions end in Kafka; idle partitions are judged at the next flush', { error: (error as Error).message });
      return [];
    });
    let finalized: number[];
    let wm: number;
    try {
      ({ finalized, watermark: wm } = await this.withRetry('flush', async () => {
        const client = await this.options.pool.connect();
        let broken: Error | undefined;
        try {
          return await flush(client, { groupId, windowMs, latenessMs, idleTimeoutMs, dedupeHorizonMs, delta, positions: updates, ends, topics: [...this.options.topics.keys()] });
        } catch (error) {
          // A connection that failed mid-transaction is not handed out again.
          if (!(error instanceof FencedError)) broken = error as Error;
          throw error;
        } finally {
          client.release(broken);
        }
      }));
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
      // Nothing of this flush was written, and what arrived since builds on it: start over from
      // what PostgreSQL holds (the consumer is sought back to the stored offsets).
      this.options.metrics.flushFailures.inc({ kind: 'fenced' });
      this.options.logger.warn('flush fenced: the stored offsets or the group watermark moved; reloading positions and re-reading', { reason: error.message });
      await this.serial(async () => {
        const owned = [...this.positions.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
        this.reset();
        await this.withRetry('load positions', async () => this.load(owned));
      });
      return;
    }
    const committed = this.now();
    if (wm > this.watermark) this.watermark = wm;
    if (snap.generation === this.generation) {
      for (const u of updates) {
        const p = this.positions.get(key(u.topic, u.partition));
        if (p) p.stored = u.to;
      }
    }
    const { metrics } = this.options;
    metrics.flushSeconds.observe((committed - started) / 1000);
    for (const newest of delta.newestByWindow().values()) metrics.freshness.observe(Math.max(0, committed - newest) / 1000);
    if (finalized.length > 0) metrics.finalized.inc(finalized.length);
    for (const ws of this.open) if (isClosed(ws, windowMs, this.watermark)) this.open.delete(ws);
    this.updateGauges();
  }

  /** Forgets everything not stored in PostgreSQL. */
  private reset(): number {
    const dropped = this.delta.records;
    this.delta = new Delta();
    this.positions.clear();
    this.streamTime.forget();
    this.generation += 1;
    return dropped;
  }

  private updateGauges(): void {
    const wm = this.watermark;
    if (Number.isFinite(wm)) this.options.metrics.watermarkLag.set((this.now() - wm) / 1000);
    this.options.metrics.openWindows.set(this.open.size);
  }

  /**
   * Retries PostgreSQL failures with backoff until --pg-retry-ms has passed, then gives up with a
   * DependencyError (the job exits 1; a restart resumes from the stored offsets). A fenced flush
   * is not a failure to retry: it goes back to the caller.
   */
  private async withRetry<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = this.now();
    let delay = 250;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof FencedError) throw error;
        const elapsed = this.now() - started;
        this.options.metrics.flushFailures.inc({ kind: 'error' });
        if (elapsed >= this.options.pgRetryMs) {
          const failure = new DependencyError(`PostgreSQL ${what} failed for ${Math.round(elapsed / 1000)} s (${attempt} attempts, --pg-retry-ms ${this.options.pgRetryMs}); nothing after the last committed flush is lost, restart to resume`, {
            cause: error,
          });
          this.failed = failure;
          throw failure;
        }
        this.options.logger.warn(`PostgreSQL ${what} failed; retrying`, { attempt, error: (error as Error).message, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }
}
