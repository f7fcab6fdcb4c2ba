import { gzipSync } from 'node:zlib';
import { RECORD_HEADERS } from '../lib/contracts.js';
import { DependencyError, LakeConflictError } from '../lib/errors.js';
import { dlqObjectKey, rawObjectKey } from '../lib/lake.js';
import type { ObjectFormat } from './format.js';
import { appendLakeLine, asText, isRejection, lakeRecordBody, toDeadLetterLine } from './format.js';
import { LineBuffer } from './line-buffer.js';
import { EMPTY_POSITION, highestLanded, hourOf, isLanded, mergePositions, unlandedRuns, type Fingerprint, type LakePosition, type LandedHour } from './position.js';
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
  /** The first and the last line's record, to recognise them in Kafka again. */
  first: Fingerprint | undefined;
  last: Fingerprint | undefined;
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
    this.last = fingerprintOf(record);
    if (this.offsets.length === 0) this.first = this.last;
    this.offsets.push(record.offset);
    this.starts.push(this.lines.length);
    appendLakeLine(this.lines, record, body);
    this.lastOffset = record.offset;
  }

  addDead(record: SinkRecord, reason: string): void {
    this.dead.push({ offset: record.offset, timestampMs: record.timestampMs, line: toDeadLetterLine(record, reason) });
    this.lastOffset = record.offset;
  }
}


function fingerprintOf(record: SinkRecord): Fingerprint {
  const eventId = record.headers[RECORD_HEADERS.eventId];
  return { offset: record.offset, timestampMs: record.timestampMs, eventId: eventId === undefined ? null : asText(eventId) };
}

/** The open buffer of one record hour of a partition. */
interface Bucket {
  hour: number;
  gathered: Gathered;
  openedAt: number;
  lastAppendAt: number;
}

export interface FlushOutcome {
  reason: FlushReason;
  /** First offset not yet known to be in the lake after this flush: what is committed. */
  nextOffset: number;
  /** True when an object of that name already existed (a restart or another consumer wrote it). */
  conflict: boolean;
  objects: number;
  records: number;
  /** Records of the flushed bucket another writer had already put in the lake. */
  alreadyLanded: number;
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

/** A bucket handed over to be written: in flight, or failed and waiting to be retried. */
interface PendingFlush {
  bucket: Bucket;
  reason: FlushReason;
  bytes: number;
  run: Promise<void> | undefined;
}

/** Compare-and-swap attempts on the position object before a write counts as failed. */
const POSITION_ATTEMPTS = 8;

/**
 * Buffers one topic-partition and turns it into lake objects, Kafka Connect style: one open
 * buffer per record hour (a late record joins the buffer of its own hour instead of cutting the
 * current one short), each rotated on record count, bytes, idleness and age, and at most
 * `maxOpenHours` of them (opening one more flushes the one of the earliest hour). An object is
 * named from its first record's offset and hour; offsets are committed only after the object and
 * the partition's position are stored.
 *
 * Exactly-once rests on the lake, not on Kafka's committed offsets:
 * - The partition's position object (position.ts) says which offsets the lake holds: ranges with
 *   every record landed, and per hour the objects reaching past them. A writer reads it when it
 *   starts (open) and again before every object, leaves out every record it names, whatever the
 *   names of the objects holding them, and adds what it wrote by compare-and-swap. So another
 *   group, an offset reset, expired offsets or a zombie never make two objects overlap.
 * - Names depend only on the data: an hour's next object starts at that hour's first record the
 *   lake does not hold. A crash between storing an object and the position leaves an object the
 *   position does not name yet; whoever writes next builds the same name, finds it (If-None-Match),
 *   takes its end offset as the truth and goes on after it. An object is never replaced.
 *
 * A rotation hands the bucket to a background write so consumption goes on while it is encoded,
 * stored and committed. At most one such write per partition exists at a time, and the next
 * rotation waits for it. A write that fails stays pending with its records and is retried before
 * anything newer is written.
 */
export class PartitionWriter {
  /** Open buckets by hour, in the order they were opened. */
  private readonly buckets = new Map<number, Bucket>();
  /** Offsets below this have been seen: redeliveries are ignored. */
  private nextOffset: number | undefined;
  /** The first offset this writer read: from here to the lowest offset still held, all is landed. */
  private stretchStart: number | undefined;
  private position: LakePosition = EMPTY_POSITION;
  private version: string | undefined;
  /** highestLanded(position): a record above it is new, without a search. */
  private highest = -1;
  private opened = false;
  /** A record the lake holds that Kafka should still have at its offset (checked once, on open). */
  private expected: Fingerprint | undefined;
  /** The latest landed record this writer knows, for the position's range. */
  private landedFingerprint: Fingerprint | undefined;
  private pending: PendingFlush | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: PartitionWriterDeps,
  ) {}

  /** Bytes held in memory: the open buckets and a pending write. */
  get bufferedBytes(): number {
    let bytes = this.pending?.bytes ?? 0;
    for (const bucket of this.buckets.values()) bytes += bucket.gathered.lines.length;
    return bytes;
  }

  get bufferedRecords(): number {
    let records = this.pending?.bucket.gathered.records ?? 0;
    for (const bucket of this.buckets.values()) records += bucket.gathered.records;
    return records;
  }

  /** The lowest offset held by an open bucket, or the next to read: everything this writer read below it is landed. */
  private landedEnd(): number | undefined {
    let end = this.nextOffset;
    for (const bucket of this.buckets.values()) {
      const first = bucket.gathered.firstOffset;
      if (first !== undefined && (end === undefined || first < end)) end = first;
    }
    return end;
  }

  /**
   * The first offset not known to be in the lake (undefined before any record): where the
   * consumer goes back to when this writer is abandoned. What lies above it and is landed is
   * skipped again by whoever reads it next.
   */
  get resumeOffset(): number | undefined {
    const pending = this.pending?.bucket.gathered.firstOffset;
    const end = this.landedEnd();
    if (pending === undefined) return end;
    return end === undefined ? pending : Math.min(pending, end);
  }

  private adopt(position: LakePosition, version: string | undefined): void {
    this.position = position;
    this.version = version;
    this.highest = highestLanded(position);
  }

  /**
   * Reads the partition's position before the first record. Returns the offset the consumer
   * should read from instead of `firstOffset` when the lake already holds what lies there: the end
   * of the landed range `firstOffset` falls in or ends at, or rather a record of it the lake knows,
   * read again to check Kafka still has that record there. Refuses a partition whose records the
   * lake holds beyond Kafka's end (the topic was re-created).
   */
  async open(firstOffset: number, highWatermark?: number): Promise<number | undefined> {
    if (this.opened) return undefined;
    const { position, version } = await this.deps.store.readPosition(this.topic, this.partition);
    this.adopt(position, version);
    const lakeEnd = this.highest + 1;
    if (highWatermark !== undefined && highWatermark < lakeEnd) {
      throw new LakeConflictError(
        `topic ${this.topic} partition ${this.partition} ends at offset ${highWatermark} in Kafka, but the lake already holds its offsets up to ${lakeEnd - 1}: ` +
          'the topic was deleted and re-created (or its records removed). s3-sink will not mix the new records with the old ones; ' +
          'move the old objects and state/s3-sink/ of this topic aside, or give the new topic another name',
      );
    }
    this.opened = true;
    const range = position.ranges.find((r) => r.from <= firstOffset && firstOffset <= r.to);
    if (!range) return undefined;
    this.expected = range.last;
    const target = range.last?.offset ?? range.to;
    return target === firstOffset ? undefined : target;
  }

  /** The record Kafka has where the lake holds a known one must be that one, or the topic is not the one the lake holds. */
  private check(record: SinkRecord): void {
    const expected = this.expected as Fingerprint;
    if (record.offset < expected.offset) return;
    this.expected = undefined;
    if (record.offset > expected.offset) return; // gone from Kafka (retention): nothing to compare
    const found = fingerprintOf(record);
    if (found.timestampMs !== expected.timestampMs || found.eventId !== expected.eventId) {
      throw new LakeConflictError(
        `topic ${this.topic} partition ${this.partition} holds another record at offset ${record.offset} than the lake does ` +
          `(timestamp ${found.timestampMs} and event id ${String(found.eventId)} in Kafka, ${expected.timestampMs} and ${String(expected.eventId)} in the lake): ` +
          'the topic was deleted and re-created. s3-sink will not mix the new records with the old ones; ' +
          'move the old objects and state/s3-sink/ of this topic aside, or give the new topic another name',
      );
    }
  }

  /**
   * Adds a record to the bucket of its hour, rotating after when a size limit is hit, and first
   * when its hour would open one bucket too many. Returns a promise only when it rotates (the hot
   * path allocates none). Rejects when the previous write of this partition failed again; the
   * record is then kept.
   */
  add(record: SinkRecord): Promise<void> | undefined {
    if (this.expected !== undefined) this.check(record);
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return undefined;
    this.stretchStart ??= record.offset;
    const hour = hourOf(record.timestampMs);
    if (record.offset <= this.highest && isLanded(this.position, record.offset, hour)) {
      this.nextOffset = record.offset + 1;
      return undefined;
    }
    let bucket = this.buckets.get(hour);
    if (!bucket) {
      if (this.buckets.size >= this.deps.limits.maxOpenHours) return this.addAfterEvicting(record, hour);
      bucket = this.openBucket(hour);
    }
    this.append(bucket, record);
    return this.rotateIfFull(bucket);
  }

  private openBucket(hour: number): Bucket {
    const now = this.deps.now();
    const bucket: Bucket = { hour, gathered: new Gathered(), openedAt: now, lastAppendAt: now };
    this.buckets.set(hour, bucket);
    return bucket;
  }

  private append(bucket: Bucket, record: SinkRecord): void {
    bucket.lastAppendAt = this.deps.now();
    this.nextOffset = record.offset + 1;
    const body = lakeRecordBody(record);
    if (isRejection(body)) bucket.gathered.addDead(record, body.reason);
    else bucket.gathered.add(record, body);
  }

  private async addAfterEvicting(record: SinkRecord, hour: number): Promise<void> {
    let earliest: number | undefined;
    for (const h of this.buckets.keys()) if (earliest === undefined || h < earliest) earliest = h;
    await this.rotate(earliest as number, 'hour');
    // That write read the position again, which may name this record.
    if (record.offset <= this.highest && isLanded(this.position, record.offset, hour)) {
      this.nextOffset = record.offset + 1;
      return;
    }
    const bucket = this.buckets.get(hour) ?? this.openBucket(hour);
    this.append(bucket, record);
    await this.rotateIfFull(bucket);
  }

  private rotateIfFull(bucket: Bucket): Promise<void> | undefined {
    const { maxRecords, maxBytes } = this.deps.limits;
    const { gathered } = bucket;
    const reason: FlushReason | undefined = gathered.offsets.length >= maxRecords ? 'records' : gathered.lines.length >= maxBytes ? 'bytes' : undefined;
    return reason ? this.rotate(bucket.hour, reason) : undefined;
  }

  /** Why a bucket should be written now by the clock, if it should. */
  private dueReason(bucket: Bucket, now: number): FlushReason | undefined {
    if (now - bucket.lastAppendAt >= this.deps.limits.idleMs) return 'idle';
    if (now - bucket.openedAt >= this.deps.limits.maxAgeMs) return 'age';
    return undefined;
  }

  /** Rotates the buckets idle or open too long. */
  async rotateDue(): Promise<void> {
    const now = this.deps.now();
    for (const bucket of [...this.buckets.values()]) {
      const reason = this.dueReason(bucket, now);
      if (reason) await this.rotate(bucket.hour, reason);
    }
  }

  /** True when some bucket is idle or open too long. */
  isDue(): boolean {
    const now = this.deps.now();
    for (const bucket of this.buckets.values()) if (this.dueReason(bucket, now)) return true;
    return false;
  }

  /**
   * Hands one hour's bucket to a background write, after the previous write of this partition
   * has landed (or been retried). Resolves once the new write has started.
   */
  async rotate(hour: number, reason: FlushReason): Promise<void> {
    await this.settle();
    const bucket = this.buckets.get(hour);
    if (!bucket) return;
    this.buckets.delete(hour);
    if (bucket.gathered.records === 0) return;
    const pending: PendingFlush = { bucket, reason, bytes: bucket.gathered.lines.length, run: undefined };
    this.pending = pending;
    pending.run = this.startWrite(pending);
  }

  /** Bytes of the largest open bucket. */
  get largestBucketBytes(): number {
    let largest = 0;
    for (const bucket of this.buckets.values()) largest = Math.max(largest, bucket.gathered.lines.length);
    return largest;
  }

  /** Writes the largest bucket (memory pressure) and waits until it and any earlier write are in the lake. */
  async flushLargest(reason: FlushReason): Promise<void> {
    await this.settle();
    let largest: Bucket | undefined;
    for (const bucket of this.buckets.values()) if (!largest || bucket.gathered.lines.length > largest.gathered.lines.length) largest = bucket;
    if (largest) await this.rotate(largest.hour, reason);
    await this.settle();
  }

  /** Writes every bucket and waits until all are in the lake and committed. */
  async flush(reason: FlushReason): Promise<void> {
    await this.settle();
    for (const hour of [...this.buckets.keys()]) await this.rotate(hour, reason);
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
    const run = this.write(pending.bucket, pending.reason).then(
      (outcome) => {
        if (this.pending === pending) this.pending = undefined;
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

  private async refreshPosition(): Promise<void> {
    const { position, version } = await this.deps.store.readPosition(this.topic, this.partition);
    this.adopt(mergePositions(this.position, position), version);
  }

  /**
   * Writes one hour's lines as objects (one per run the lake does not hold yet, usually one),
   * a dead-letter object per undecodable record, then the position, then commits.
   */
  private async write(bucket: Bucket, reason: FlushReason): Promise<FlushOutcome> {
    const started = performance.now();
    const { hour, gathered } = bucket;
    let conflict = false;
    let objects = 0;
    let bytes = 0;
    let records = 0;
    let deadLetters = 0;
    const written: LandedHour[] = [];

    // Another writer may have landed some of these records since this writer last looked.
    await this.refreshPosition();

    for (const entry of gathered.dead) {
      if (isLanded(this.position, entry.offset, hour)) continue;
      // One object per dead letter, named by its own offset: rewriting it is harmless.
      const body = gzipSync(`${entry.line}\n`);
      const key = dlqObjectKey({ topic: this.topic, partition: this.partition, startOffset: entry.offset, recordTimeMs: entry.timestampMs });
      await this.deps.store.putIfAbsent(key, body, entry.offset, 1);
      written.push({ hour, from: entry.offset, through: entry.offset });
      objects += 1;
      deadLetters += 1;
      bytes += body.length;
    }

    const { offsets, starts } = gathered;
    const unlanded = unlandedRuns(this.position, hour, offsets).reduce((sum, [from, to]) => sum + to - from, 0);
    for (;;) {
      const runs = unlandedRuns(mergePositions(this.position, { ranges: [], hours: written }), hour, offsets);
      const run = runs[0];
      if (!run) break;
      const [from, to] = run;
      const firstOffset = offsets[from] as number;
      const lastOffset = offsets[to - 1] as number;
      const body = await this.deps.format.encode(gathered.lines.views(starts[from] as number, to < starts.length ? (starts[to] as number) : undefined));
      const key = rawObjectKey({ topic: this.topic, partition: this.partition, startOffset: firstOffset, recordTimeMs: hour * 3_600_000 });
      const result = await this.deps.store.putIfAbsent(key, body, lastOffset, to - from);
      if (result.created) {
        written.push({ hour, from: firstOffset, through: lastOffset });
        objects += 1;
        bytes += body.length;
        records += to - from;
      } else {
        // A crashed run or a zombie wrote this name first: its end offset is the truth.
        conflict = true;
        written.push({ hour, from: firstOffset, through: result.endOffset });
      }
    }

    for (const candidate of [gathered.first, gathered.last]) {
      if (candidate && (this.landedFingerprint === undefined || candidate.offset > this.landedFingerprint.offset)) this.landedFingerprint = candidate;
    }
    const end = this.landedEnd() as number;
    const last = this.landedFingerprint && this.landedFingerprint.offset < end ? this.landedFingerprint : undefined;
    const range = { from: this.stretchStart as number, to: end, ...(last ? { last } : {}) };
    await this.storePosition({ ranges: [range], hours: written });
    await this.deps.commit(this.topic, this.partition, end);
    return {
      reason,
      nextOffset: end,
      conflict,
      objects,
      records,
      alreadyLanded: offsets.length - unlanded,
      deadLetters,
      bytes,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Adds facts to the stored position: compare-and-swap, merging with whatever another writer added meanwhile. */
  private async storePosition(facts: LakePosition): Promise<void> {
    for (let attempt = 0; attempt < POSITION_ATTEMPTS; attempt += 1) {
      const merged = mergePositions(this.position, facts);
      const version = await this.deps.store.writePosition(this.topic, this.partition, merged, this.version);
      if (version !== undefined) {
        this.adopt(merged, version);
        return;
      }
      await this.refreshPosition();
    }
    throw new DependencyError(`the position of ${this.topic} partition ${this.partition} kept changing under this writer (${POSITION_ATTEMPTS} attempts)`);
  }
}
