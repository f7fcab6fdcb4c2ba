import { gzipSync } from 'node:zlib';
import { dlqObjectKey, rawObjectKey } from '../lib/lake.js';
import type { ObjectFormat } from './format.js';
import { toDeadLetterLine, toLakeLine } from './format.js';
import type { CommitFn, FlushLimits, FlushReason, ObjectStore, SinkRecord } from './types.js';

interface Entry {
  offset: number;
  timestampMs: number;
  /** The lake line, or undefined for a dead letter. */
  line?: string;
  deadLetter?: string;
}

export interface FlushOutcome {
  reason: FlushReason;
  /** First offset not yet in the lake after this flush: committed, and where consumption goes on. */
  nextOffset: number;
  /** True when an object of that name already existed (a restart or another consumer wrote it). */
  conflict: boolean;
  objects: number;
  records: number;
  deadLetters: number;
  bytes: number;
  /** Wall time the flush took, for the latency histogram. */
  seconds: number;
}

export interface PartitionWriterDeps {
  store: ObjectStore;
  format: ObjectFormat;
  commit: CommitFn;
  limits: FlushLimits;
  now: () => number;
  /** Told about every completed flush (metrics, logs). */
  onFlushed?: (outcome: FlushOutcome) => void;
}

/** A buffer handed over to be written: in flight, or failed and waiting to be retried. */
interface PendingFlush {
  entries: Entry[];
  reason: FlushReason;
  bytes: number;
  run: Promise<void> | undefined;
}

/**
 * Buffers one topic-partition and turns it into lake objects, Kafka Connect style: rotation on
 * record count, bytes, a change of record-time hour, idleness and age; the object is named from
 * its first record's offset; offsets are committed only after the object is stored.
 *
 * Exactly-once rests on two rules. Names depend only on the data (first offset, its record hour).
 * And an object is never replaced: if its name exists, the stored object's end offset is taken as
 * the truth, the buffer is trimmed to what follows it, and consumption continues from there. So
 * whatever the flush timing of a crashed run, a rebalanced zombie or this run, every offset lands
 * in exactly one object.
 *
 * A rotation hands the buffer to a background write so consumption goes on while it is encoded,
 * stored and committed. At most one such write per partition exists at a time, and the next
 * rotation waits for it, so objects and commits stay in offset order. A write that fails stays
 * pending with its records and is retried before anything newer is written.
 */
export class PartitionWriter {
  private entries: Entry[] = [];
  private bytes = 0;
  private goodRecords = 0;
  private bucket: number | undefined;
  private openedAt = 0;
  private lastAppendAt = 0;
  /** Offsets below this are already buffered, pending or in the lake: redeliveries are ignored. */
  private nextOffset: number | undefined;
  private pending: PendingFlush | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: PartitionWriterDeps,
  ) {}

  /** Bytes held in memory: the open buffer and a pending write. */
  get bufferedBytes(): number {
    return this.bytes + (this.pending?.bytes ?? 0);
  }

  get bufferedRecords(): number {
    return this.entries.length + (this.pending?.entries.length ?? 0);
  }

  /**
   * Adds a record, rotating first when it starts a new hour and after when a size limit is hit.
   * Rejects when the previous write of this partition failed again; the record is then kept.
   */
  async add(record: SinkRecord): Promise<void> {
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return;
    const decoded = toLakeLine(record);
    if (decoded.ok) {
      const bucket = bucketOf(record.timestampMs);
      if (this.bucket !== undefined && bucket !== this.bucket) {
        await this.rotate('hour');
        // The previous write may have learnt that this record is already in the lake.
        if (this.nextOffset !== undefined && record.offset < this.nextOffset) return;
      }
      this.bucket ??= bucket;
      this.goodRecords += 1;
      this.bytes += decoded.line.length + 1;
      this.push({ offset: record.offset, timestampMs: record.timestampMs, line: decoded.line });
    } else {
      this.push({ offset: record.offset, timestampMs: record.timestampMs, deadLetter: toDeadLetterLine(record, decoded.reason) });
    }
    this.nextOffset = record.offset + 1;
    const { maxRecords, maxBytes } = this.deps.limits;
    const reason: FlushReason | undefined = this.goodRecords >= maxRecords ? 'records' : this.bytes >= maxBytes ? 'bytes' : undefined;
    if (reason) await this.rotate(reason);
  }

  private push(entry: Entry): void {
    if (this.entries.length === 0) this.openedAt = this.deps.now();
    this.lastAppendAt = this.deps.now();
    this.entries.push(entry);
  }

  /** The time-based reason to flush now, if any. */
  due(): FlushReason | undefined {
    if (this.entries.length === 0) return undefined;
    const now = this.deps.now();
    if (now - this.lastAppendAt >= this.deps.limits.idleMs) return 'idle';
    if (now - this.openedAt >= this.deps.limits.maxAgeMs) return 'age';
    return undefined;
  }

  /**
   * Hands the buffer to a background write, after the previous write of this partition has
   * landed (or been retried). Resolves once the new write has started.
   */
  async rotate(reason: FlushReason): Promise<void> {
    await this.settle();
    if (this.entries.length === 0) return;
    const pending: PendingFlush = { entries: this.entries, reason, bytes: this.bytes, run: undefined };
    this.entries = [];
    this.bytes = 0;
    this.goodRecords = 0;
    this.bucket = undefined;
    this.pending = pending;
    pending.run = this.startWrite(pending);
  }

  /** Writes the buffer and waits until it and any earlier write are in the lake and committed. */
  async flush(reason: FlushReason): Promise<void> {
    await this.rotate(reason);
    await this.settle();
  }

  /** Waits for the pending write, retrying it first if it had failed; rejects if it fails. */
  async settle(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    pending.run ??= this.startWrite(pending);
    await pending.run;
  }

  private startWrite(pending: PendingFlush): Promise<void> {
    const run = this.write(pending.entries, pending.reason).then(
      (outcome) => {
        if (this.pending === pending) this.pending = undefined;
        this.learn(outcome.nextOffset - 1, outcome.conflict);
        this.deps.onFlushed?.(outcome);
      },
      (error: unknown) => {
        // Kept, with its records, for the next settle to retry.
        pending.run = undefined;
        throw error;
      },
    );
    // Whoever settles sees the failure; an unobserved one must not crash the process.
    run.catch(() => undefined);
    return run;
  }

  /** Writes entries as one raw object (plus a dead-letter object per undecodable record) and commits. */
  private async write(entries: Entry[], reason: FlushReason): Promise<FlushOutcome> {
    const started = performance.now();
    const last = entries[entries.length - 1] as Entry;
    let end = last.offset;
    let conflict = false;
    let objects = 0;
    let bytes = 0;

    const dead = entries.filter((e) => e.deadLetter !== undefined);
    for (const entry of dead) {
      // One object per dead letter, named by its own offset: rewriting it is harmless.
      const body = gzipSync(`${entry.deadLetter}\n`);
      const key = dlqObjectKey({ topic: this.topic, partition: this.partition, startOffset: entry.offset, recordTimeMs: entry.timestampMs });
      await this.deps.store.putIfAbsent(key, body, entry.offset, 1);
      objects += 1;
      bytes += body.length;
    }

    // Good records become one object; when a crashed run or a zombie already wrote an object of
    // that name, the stored one wins and what follows its end goes into the next object.
    let good = entries.filter((e) => e.line !== undefined);
    let records = 0;
    while (good.length > 0) {
      const first = good[0] as Entry;
      const lastGood = good[good.length - 1] as Entry;
      const body = await this.deps.format.encode(good.map((e) => e.line as string));
      const key = rawObjectKey({ topic: this.topic, partition: this.partition, startOffset: first.offset, recordTimeMs: first.timestampMs });
      const result = await this.deps.store.putIfAbsent(key, body, end, good.length);
      if (result.created) {
        objects += 1;
        bytes += body.length;
        records += good.length;
        break;
      }
      conflict = true;
      if (result.endOffset >= lastGood.offset) {
        end = Math.max(end, result.endOffset);
        break;
      }
      good = good.filter((e) => e.offset > result.endOffset);
    }

    const nextOffset = end + 1;
    await this.deps.commit(this.topic, this.partition, nextOffset);
    return {
      reason,
      nextOffset,
      conflict,
      objects,
      records,
      deadLetters: dead.length,
      bytes,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** After a write: the lake holds every offset up to `end`; a conflict may reach into the buffer. */
  private learn(end: number, conflict: boolean): void {
    if (conflict && this.entries.some((e) => e.offset <= end)) this.trimThrough(end);
    if (this.nextOffset === undefined || this.nextOffset < end + 1) this.nextOffset = end + 1;
  }

  /** Drops what the lake now holds; anything after `end` starts the next object. */
  private trimThrough(end: number): void {
    const rest = this.entries.filter((e) => e.offset > end);
    this.entries = [];
    this.bytes = 0;
    this.goodRecords = 0;
    this.bucket = undefined;
    if (this.nextOffset === undefined || this.nextOffset < end + 1) this.nextOffset = end + 1;
    for (const entry of rest) {
      if (entry.line !== undefined) {
        this.bucket ??= bucketOf(entry.timestampMs);
        this.goodRecords += 1;
        this.bytes += entry.line.length + 1;
      }
      this.push(entry);
    }
  }
}

const HOUR_MS = 3_600_000;

/** The record's hour since the epoch: cheap to compare per record, same identity as dt/hour. */
function bucketOf(timestampMs: number): number {
  return Math.floor(timestampMs / HOUR_MS);
}
