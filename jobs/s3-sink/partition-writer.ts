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
 */
export class PartitionWriter {
  private entries: Entry[] = [];
  private bytes = 0;
  private goodRecords = 0;
  private bucket: number | undefined;
  private openedAt = 0;
  private lastAppendAt = 0;
  /** Offsets below this are already buffered or in the lake: redeliveries are ignored. */
  private nextOffset: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: PartitionWriterDeps,
  ) {}

  get bufferedBytes(): number {
    return this.bytes;
  }

  get bufferedRecords(): number {
    return this.entries.length;
  }

  /** Adds a record, flushing first when it starts a new hour and after when a size limit is hit. */
  async add(record: SinkRecord): Promise<FlushOutcome[]> {
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return [];
    const outcomes: FlushOutcome[] = [];
    const decoded = toLakeLine(record);
    if (decoded.ok) {
      const bucket = bucketOf(record.timestampMs);
      if (this.bucket !== undefined && bucket !== this.bucket) {
        const outcome = await this.flush('hour');
        if (outcome) outcomes.push(outcome);
        // The flush may have learnt that this record is already in the lake.
        if (this.nextOffset !== undefined && record.offset < this.nextOffset) return outcomes;
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
    if (reason) {
      const outcome = await this.flush(reason);
      if (outcome) outcomes.push(outcome);
    }
    return outcomes;
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

  /** Writes the buffer as one raw object (plus a dead-letter object per undecodable record) and commits. */
  async flush(reason: FlushReason): Promise<FlushOutcome | undefined> {
    if (this.entries.length === 0) return undefined;
    const started = performance.now();
    const last = this.entries[this.entries.length - 1] as Entry;
    let end = last.offset;
    let conflict = false;
    let objects = 0;
    let bytes = 0;

    const dead = this.entries.filter((e) => e.deadLetter !== undefined);
    for (const entry of dead) {
      // One object per dead letter, named by its own offset: rewriting it is harmless.
      const body = gzipSync(`${entry.deadLetter}\n`);
      const key = dlqObjectKey({ topic: this.topic, partition: this.partition, startOffset: entry.offset, recordTimeMs: entry.timestampMs });
      await this.deps.store.putIfAbsent(key, body, entry.offset, 1);
      objects += 1;
      bytes += body.length;
    }

    const good = this.entries.filter((e) => e.line !== undefined);
    const first = good[0];
    if (first) {
      const body = await this.deps.format.encode(good.map((e) => e.line as string));
      const key = rawObjectKey({ topic: this.topic, partition: this.partition, startOffset: first.offset, recordTimeMs: first.timestampMs });
      const result = await this.deps.store.putIfAbsent(key, body, end, good.length);
      if (!result.created) {
        conflict = true;
        end = result.endOffset;
      } else {
        objects += 1;
        bytes += body.length;
      }
    }

    const nextOffset = end + 1;
    await this.deps.commit(this.topic, this.partition, nextOffset);
    const written = this.entries.filter((e) => e.offset <= end);
    this.trimThrough(end);
    return {
      reason,
      nextOffset,
      conflict,
      objects,
      records: conflict ? 0 : written.filter((e) => e.line !== undefined).length,
      deadLetters: written.length - written.filter((e) => e.line !== undefined).length,
      bytes,
      seconds: (performance.now() - started) / 1000,
    };
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
