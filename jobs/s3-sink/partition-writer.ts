import { gzipSync } from 'node:zlib';
import { dlqObjectKey, rawObjectKey } from '../lib/lake.js';
import type { ObjectFormat } from './format.js';
import { appendLakeLine, isRejection, lakeRecordBody, toDeadLetterLine } from './format.js';
import { LineBuffer } from './line-buffer.js';
import type { CommitFn, FlushLimits, FlushReason, ObjectStore, SinkRecord } from './types.js';

interface DeadLetter {
  offset: number;
  timestampMs: number;
  line: string;
}

/**
 * Records gathered for one object: the lake lines of the decodable ones as bytes, each line's
 * offset and start, and the dead letters. No object per record, so a full buffer costs the
 * garbage collector nearly nothing.
 */
class Gathered {
  readonly lines = new LineBuffer();
  /** Offsets of the lines, ascending. */
  readonly offsets: number[] = [];
  /** Where each line starts in `lines`. */
  readonly starts: number[] = [];
  /** Record time of the first line: every line of a buffer has the same record hour. */
  firstTimestampMs = 0;
  readonly dead: DeadLetter[] = [];
  /** The highest offset held, line or dead letter; -1 when empty. */
  lastOffset = -1;

  get records(): number {
    return this.offsets.length + this.dead.length;
  }

  /** The lowest offset held, line or dead letter; undefined when empty. */
  get firstOffset(): number | undefined {
    const line = this.offsets[0];
    const dead = this.dead[0]?.offset;
    if (line === undefined) return dead;
    return dead === undefined || line < dead ? line : dead;
  }

  add(record: SinkRecord, body: Buffer | string): void {
    if (this.offsets.length === 0) this.firstTimestampMs = record.timestampMs;
    this.offsets.push(record.offset);
    this.starts.push(this.lines.length);
    appendLakeLine(this.lines, record, body);
    this.lastOffset = record.offset;
  }

  addDead(record: SinkRecord, reason: string): void {
    this.dead.push({ offset: record.offset, timestampMs: record.timestampMs, line: toDeadLetterLine(record, reason) });
    this.lastOffset = record.offset;
  }

  /** Index of the first line after `offset` (offsets.length when none). */
  firstAfter(offset: number): number {
    let low = 0;
    let high = this.offsets.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.offsets[mid] as number) > offset) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  /** A copy holding only what follows `offset`. */
  after(offset: number): Gathered {
    const rest = new Gathered();
    const from = this.firstAfter(offset);
    if (from < this.offsets.length) {
      const base = this.starts[from] as number;
      for (const view of this.lines.views(base)) {
        rest.lines.reserve(view.length);
        rest.lines.writeBytes(view);
      }
      for (let i = from; i < this.offsets.length; i += 1) {
        rest.offsets.push(this.offsets[i] as number);
        rest.starts.push((this.starts[i] as number) - base);
      }
      rest.firstTimestampMs = this.firstTimestampMs;
    }
    for (const d of this.dead) if (d.offset > offset) rest.dead.push(d);
    rest.lastOffset = this.lastOffset > offset ? this.lastOffset : -1;
    return rest;
  }
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
  gathered: Gathered;
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
  private gathered = new Gathered();
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
    return this.gathered.lines.length + (this.pending?.bytes ?? 0);
  }

  get bufferedRecords(): number {
    return this.gathered.records + (this.pending?.gathered.records ?? 0);
  }

  /**
   * The first offset not known to be in the lake (undefined before any record): everything below
   * it is stored, and it starts an object boundary, so reading the partition again from here
   * rebuilds the same objects. Where the consumer goes back to when this writer is abandoned.
   */
  get resumeOffset(): number | undefined {
    return this.pending?.gathered.firstOffset ?? this.gathered.firstOffset ?? this.nextOffset;
  }

  /**
   * Adds a record, rotating first when it starts a new hour and after when a size limit is hit.
   * Returns a promise only when it rotates (the hot path allocates none). Rejects when the
   * previous write of this partition failed again; the record is then kept.
   */
  add(record: SinkRecord): Promise<void> | undefined {
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return undefined;
    const body = lakeRecordBody(record);
    if (isRejection(body)) {
      this.touch();
      this.gathered.addDead(record, body.reason);
      this.nextOffset = record.offset + 1;
      return this.rotateIfFull();
    }
    const bucket = bucketOf(record.timestampMs);
    if (this.bucket !== undefined && bucket !== this.bucket) return this.addAfterHour(record, body, bucket);
    this.append(record, body, bucket);
    return this.rotateIfFull();
  }

  private async addAfterHour(record: SinkRecord, body: Buffer | string, bucket: number): Promise<void> {
    await this.rotate('hour');
    // The previous write may have learnt that this record is already in the lake.
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return;
    this.append(record, body, bucket);
    await this.rotateIfFull();
  }

  private append(record: SinkRecord, body: Buffer | string, bucket: number): void {
    this.bucket ??= bucket;
    this.touch();
    this.gathered.add(record, body);
    this.nextOffset = record.offset + 1;
  }

  private rotateIfFull(): Promise<void> | undefined {
    const { maxRecords, maxBytes } = this.deps.limits;
    const reason: FlushReason | undefined = this.gathered.offsets.length >= maxRecords ? 'records' : this.gathered.lines.length >= maxBytes ? 'bytes' : undefined;
    return reason ? this.rotate(reason) : undefined;
  }

  private touch(): void {
    const now = this.deps.now();
    if (this.gathered.records === 0) this.openedAt = now;
    this.lastAppendAt = now;
  }

  /** The time-based reason to flush now, if any. */
  due(): FlushReason | undefined {
    if (this.gathered.records === 0) return undefined;
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
    if (this.gathered.records === 0) return;
    const pending: PendingFlush = { gathered: this.gathered, reason, bytes: this.gathered.lines.length, run: undefined };
    this.gathered = new Gathered();
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
    const run = this.write(pending.gathered, pending.reason).then(
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

  /** Writes the lines as one raw object (plus a dead-letter object per undecodable record) and commits. */
  private async write(gathered: Gathered, reason: FlushReason): Promise<FlushOutcome> {
    const started = performance.now();
    let end = gathered.lastOffset;
    let conflict = false;
    let objects = 0;
    let bytes = 0;

    for (const entry of gathered.dead) {
      // One object per dead letter, named by its own offset: rewriting it is harmless.
      const body = gzipSync(`${entry.line}\n`);
      const key = dlqObjectKey({ topic: this.topic, partition: this.partition, startOffset: entry.offset, recordTimeMs: entry.timestampMs });
      await this.deps.store.putIfAbsent(key, body, entry.offset, 1);
      objects += 1;
      bytes += body.length;
    }

    // The lines become one object; when a crashed run or a zombie already wrote an object of
    // that name, the stored one wins and what follows its end goes into the next object.
    const { offsets, starts } = gathered;
    let from = 0;
    let records = 0;
    while (from < offsets.length) {
      const lastGood = offsets[offsets.length - 1] as number;
      const body = await this.deps.format.encode(gathered.lines.views(starts[from]));
      const key = rawObjectKey({ topic: this.topic, partition: this.partition, startOffset: offsets[from] as number, recordTimeMs: gathered.firstTimestampMs });
      const result = await this.deps.store.putIfAbsent(key, body, end, offsets.length - from);
      if (result.created) {
        objects += 1;
        bytes += body.length;
        records += offsets.length - from;
        break;
      }
      conflict = true;
      if (result.endOffset >= lastGood) {
        end = Math.max(end, result.endOffset);
        break;
      }
      from = gathered.firstAfter(result.endOffset);
    }

    const nextOffset = end + 1;
    await this.deps.commit(this.topic, this.partition, nextOffset);
    return {
      reason,
      nextOffset,
      conflict,
      objects,
      records,
      deadLetters: gathered.dead.length,
      bytes,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** After a write: the lake holds every offset up to `end`; a conflict may reach into the buffer. */
  private learn(end: number, conflict: boolean): void {
    if (conflict && this.gathered.records > 0 && Math.min(this.gathered.offsets[0] ?? Infinity, this.gathered.dead[0]?.offset ?? Infinity) <= end) this.trimThrough(end);
    if (this.nextOffset === undefined || this.nextOffset < end + 1) this.nextOffset = end + 1;
  }

  /** Drops what the lake now holds; anything after `end` starts the next object. */
  private trimThrough(end: number): void {
    this.gathered = this.gathered.after(end);
    this.bucket = this.gathered.offsets.length > 0 ? bucketOf(this.gathered.firstTimestampMs) : undefined;
    if (this.nextOffset === undefined || this.nextOffset < end + 1) this.nextOffset = end + 1;
    if (this.gathered.records > 0) {
      const now = this.deps.now();
      this.openedAt = now;
      this.lastAppendAt = now;
    }
  }
}

const HOUR_MS = 3_600_000;

/** The record's hour since the epoch: cheap to compare per record, same identity as dt/hour. */
function bucketOf(timestampMs: number): number {
  return Math.floor(timestampMs / HOUR_MS);
}
