import type { LakePosition } from './position.js';

/** A Kafka record as the sink sees it, independent of the client library. */
export interface SinkRecord {
  topic: string;
  partition: number;
  offset: number;
  /** The record's own timestamp (epoch ms): what decides its hour bucket, never the wall clock. */
  timestampMs: number;
  /** As the client gave it: bytes are decoded as UTF-8 only where a line needs them as text. */
  key: string | Buffer | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer | undefined>;
}

export interface FlushLimits {
  /** Records per object before it is rotated. */
  maxRecords: number;
  /** Uncompressed bytes per object before it is rotated. */
  maxBytes: number;
  /** Flush an hour bucket that has received nothing for this long. */
  idleMs: number;
  /** Flush an hour bucket whose open object is this old, so a steady trickle still lands. */
  maxAgeMs: number;
  /** Hour buckets open at once per partition; opening one more flushes the one of the earliest hour. */
  maxOpenHours: number;
}

export type FlushReason = 'records' | 'bytes' | 'hour' | 'idle' | 'age' | 'memory' | 'shutdown';

/** Where the sink puts objects; S3 in production, in memory in unit tests. */
export interface ObjectStore {
  /**
   * Writes an object only if no object has that key yet. When one exists, returns the end offset
   * recorded on it: the first writer of a name wins, so a zombie or a restart can never replace
   * an object with a shorter one.
   */
  putIfAbsent(key: string, body: Buffer, endOffset: number, records: number): Promise<{ created: true } | { created: false; endOffset: number }>;
  /** What the lake holds of a partition, and the stored version (undefined when none is stored yet). */
  readPosition(topic: string, partition: number): Promise<{ position: LakePosition; version: string | undefined }>;
  /**
   * Compare-and-swap: stores the position only if the stored version is still `version` (none
   * stored, for undefined). Returns the new version, or undefined when another writer got there first.
   */
  writePosition(topic: string, partition: number, position: LakePosition, version: string | undefined): Promise<string | undefined>;
}

/** Commits "everything before `offset` is in the lake" for one topic-partition. */
export type CommitFn = (topic: string, partition: number, offset: number) => Promise<void>;
