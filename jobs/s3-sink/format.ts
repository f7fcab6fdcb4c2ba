import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { RECORD_HEADERS } from '../lib/contracts.js';
import { RAW_EXTENSION } from '../lib/lake.js';
import { LineBuffer } from './line-buffer.js';
import type { SinkRecord } from './types.js';

const gzipAsync = promisify(gzip);

/**
 * The object format: gzip NDJSON. Behind this small interface so Parquet can follow later.
 * zlib writes no timestamp into the gzip header, so the same lines always give the same bytes.
 */
export interface ObjectFormat {
  readonly extension: string;
  /** Encodes lake lines, each ending in a newline, given as consecutive pieces of bytes. */
  encode(lines: readonly Buffer[]): Promise<Buffer>;
}

/** gzip runs on libuv's thread pool, off the thread that consumes and builds lines. */
export function ndjsonGzip(level: number): ObjectFormat {
  return {
    extension: RAW_EXTENSION,
    // Output in 1 MiB pieces: zlib's default 16 KiB pieces cost a trip back to JavaScript each.
    encode: (lines) => gzipAsync(lines.length === 1 ? (lines[0] as Buffer) : Buffer.concat(lines), { level, chunkSize: 1024 * 1024 }),
  };
}

export type Decoded = { ok: true; line: string } | { ok: false; reason: string };

/** Why a record cannot be a lake line; it goes to the dead-letter prefix instead. */
export interface Rejection {
  reason: string;
}

/**
 * What goes after `"record":` in a record's lake line: the value's own bytes when they can be
 * copied verbatim (the usual case, and no copy or string is made here), the JSON text when it had
 * to be parsed, or why the record is refused. The lake holds exactly what was accepted: the raw
 * record is copied from Kafka after checking it is a UTF-8 JSON object.
 */
export function lakeRecordBody(record: SinkRecord): Buffer | string | Rejection {
  const value = record.value;
  if (value === null || value.length === 0) return { reason: 'empty value' };
  if (!isUtf8(value)) return { reason: 'value is not valid UTF-8' };
  // ingest stamps a record after validating it against its contract and serialising it itself: a
  // single-line JSON object. Parsing it again would only cost the hot path.
  if (record.headers[RECORD_HEADERS.eventId] !== undefined && value[0] === 0x7b && value[value.length - 1] === 0x7d && value.indexOf(0x0a) === -1 && value.indexOf(0x0d) === -1) {
    return value;
  }
  const text = value.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { reason: 'value is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { reason: 'value is not a JSON object' };
  // Newlines inside the raw JSON are only whitespace but would break NDJSON: the one change made.
  return text.indexOf('\n') === -1 && text.indexOf('\r') === -1 ? text.trim() : JSON.stringify(parsed);
}

export function isRejection(body: Buffer | string | Rejection): body is Rejection {
  return typeof body !== 'string' && !Buffer.isBuffer(body);
}

/** The lineage up to the offset depends only on topic and partition: built once per partition. */
let cachedTopic: string | undefined;
let cachedPartition = -1;
let cachedHead = '';

/**
 * Appends one lake line and its newline: lineage beside the raw record. This runs once per record
 * on the sink's hot path, hence the hand-built lineage and the bytes copied as they are.
 */
export function appendLakeLine(out: LineBuffer, record: SinkRecord, body: Buffer | string): void {
  if (record.topic !== cachedTopic || record.partition !== cachedPartition) {
    cachedHead = `{"topic":${JSON.stringify(record.topic)},"partition":${record.partition},"offset":`;
    cachedTopic = record.topic;
    cachedPartition = record.partition;
  }
  const eventId = record.headers[RECORD_HEADERS.eventId];
  const ingestTime = Number(record.headers[RECORD_HEADERS.ingestTime]);
  const lineage =
    `${cachedHead}${record.offset},"timestamp":${record.timestampMs},"ingest_time":${Number.isFinite(ingestTime) ? ingestTime : 'null'},` +
    `"event_id":${eventId === undefined ? 'null' : JSON.stringify(eventId)},"key":${record.key === null ? 'null' : JSON.stringify(record.key)},"record":`;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; the closing brace and the newline 2 more.
  out.reserve(3 * lineage.length + (typeof body === 'string' ? 3 * body.length : body.length) + 2);
  out.writeString(lineage);
  if (typeof body === 'string') out.writeString(body);
  else out.writeBytes(body);
  out.writeByte(0x7d);
  out.writeByte(0x0a);
}

/** One lake line as a string (without its newline), or why the record is refused. */
export function toLakeLine(record: SinkRecord): Decoded {
  const body = lakeRecordBody(record);
  if (isRejection(body)) return { ok: false, reason: body.reason };
  const out = new LineBuffer();
  appendLakeLine(out, record, body);
  const bytes = Buffer.concat(out.views());
  return { ok: true, line: bytes.toString('utf8', 0, bytes.length - 1) };
}

/** A dead-letter line: lineage, the reason, and the undecodable value in base64. */
export function toDeadLetterLine(record: SinkRecord, reason: string): string {
  return JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestampMs,
    key: record.key,
    reason,
    value_base64: record.value?.toString('base64') ?? null,
    headers: record.headers,
  });
}
