import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TOPICS, type RecordType, type TypedRecord } from '../lib/contracts.js';
import { rawObjectKey } from '../lib/lake.js';

/** One raw lake object: lines as the s3-sink writes them, for one topic-partition from startOffset. */
export interface RawObject {
  type: RecordType;
  partition: number;
  startOffset: number;
  /** Record time (ms) picking dt/hour. */
  timeMs: number;
  lines: string[];
}

/** A lake line around a raw record, as s3-sink's toLakeLine writes it. */
export function lakeLine(type: RecordType, record: unknown, partition: number, offset: number, timeMs: number): string {
  const key = (record as { index?: number; ind?: number }).index ?? (record as { ind?: number }).ind ?? null;
  return JSON.stringify({ topic: TOPICS[type], partition, offset, timestamp: timeMs, ingest_time: timeMs, event_id: `${type}-${partition}-${offset}`, key: key === null ? null : String(key), record });
}

/**
 * Typed records (emulate's output) into raw objects: round-robin over `partitions`, offsets in
 * order per partition, `perObject` lines per object.
 */
export function toRawObjects(records: Iterable<TypedRecord>, timeMs: number, partitions = 2, perObject = 500): RawObject[] {
  const buffers = new Map<string, { type: RecordType; partition: number; lines: string[] }>();
  const next = new Map<RecordType, number>();
  for (const typed of records) {
    const n = next.get(typed.type) ?? 0;
    next.set(typed.type, n + 1);
    const partition = n % partitions;
    const id = `${typed.type}/${partition}`;
    const buffer = buffers.get(id) ?? { type: typed.type, partition, lines: [] };
    buffers.set(id, buffer);
    buffer.lines.push(lakeLine(typed.type, typed.record, partition, buffer.lines.length, timeMs));
  }
  const objects: RawObject[] = [];
  for (const { type, partition, lines } of buffers.values()) {
    for (let start = 0; start < lines.length; start += perObject) {
      objects.push({ type, partition, startOffset: start, timeMs, lines: lines.slice(start, start + perObject) });
    }
  }
  return objects;
}

export function objectKey(o: RawObject): string {
  return rawObjectKey({ topic: TOPICS[o.type], partition: o.partition, startOffset: o.startOffset, recordTimeMs: o.timeMs });
}

export function objectBytes(o: RawObject): Buffer {
  return gzipSync(o.lines.length === 0 ? '' : `${o.lines.join('\n')}\n`, { level: 1 });
}

/** Writes objects under dir in the lake layout; returns the local paths per type. */
export async function writeLocalObjects(dir: string, objects: readonly RawObject[]): Promise<Record<RecordType, string[]>> {
  const files: Record<RecordType, string[]> = { pin: [], geo: [], user: [] };
  for (const o of objects) {
    const path = join(dir, objectKey(o));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, objectBytes(o));
    files[o.type].push(path);
  }
  return files;
}

export async function putObjects(s3: S3Client, bucket: string, objects: readonly RawObject[], concurrency = 4): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects.length) {
      const o = objects[next++] as RawObject;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(o), Body: objectBytes(o) }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, worker));
}
