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
let cachedHead = Buffer.alloc(0);

const TIMESTAMP = Buffer.from(',"timestamp":');
const INGEST_TIME = Buffer.from(',"ingest_time":');
const EVENT_ID = Buffer.from(',"event_id":');
const KEY = Buffer.from(',"key":');
const RECORD = Buffer.from(',"record":');
const NULL = Buffer.from('null');

/** A header or key as text, as String() gives it (a repeated header's values joined by commas). */
export function asText(value: string | Buffer | Array<string | Buffer>): string {
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** True when these bytes, put between quotes, are already their JSON string: printable ASCII, no quote or backslash. */
function isPlainJsonText(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i] as number;
    if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c) return false;
  }
  return true;
}

/** True when these bytes are the decimal digits of a safe integer written as String(Number(text)) would write it. */
function isPlainInteger(bytes: Buffer): boolean {
  if (bytes.length === 0 || bytes.length > 15 || (bytes[0] === 0x30 && bytes.length > 1)) return false;
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i] as number;
    if (b < 0x30 || b > 0x39) return false;
  }
  return true;
}

/**
 * A JSON string (or null) as bytes to copy: the text's own bytes between quotes when they need no
 * escaping (the usual case: no string is made), else JSON.stringify of the text.
 */
function jsonText(value: string | Buffer | null | undefined): Buffer | string {
  if (value === undefined || value === null) return NULL;
  if (Buffer.isBuffer(value) && isPlainJsonText(value)) return value;
  return JSON.stringify(asText(value));
}

/** A JSON number (or null) from a header holding one in decimal. */
function jsonNumber(value: string | Buffer | undefined): Buffer | string {
  if (value === undefined) return NULL;
  if (Buffer.isBuffer(value) && isPlainInteger(value)) return value;
  const n = Number(asText(value));
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Room a piece takes: UTF-8 needs at most 3 bytes per UTF-16 unit. */
function room(piece: Buffer | string): number {
  return typeof piece === 'string' ? 3 * piece.length : piece.length;
}

/** Writes a piece from jsonText: bytes between quotes, or a finished JSON text. */
function writeJsonText(out: LineBuffer, piece: Buffer | string): void {
  if (typeof piece === 'string') out.writeString(piece);
  else if (piece === NULL) out.writeBytes(NULL);
  else {
    out.writeByte(0x22);
    out.writeBytes(piece);
    out.writeByte(0x22);
  }
}

function writeInteger(out: LineBuffer, n: number): void {
  if (n >= 0 && Number.isSafeInteger(n)) out.writeDigits(n);
  else out.writeString(String(n));
}

/**
 * Appends one lake line and its newline: lineage beside the raw record. This runs once per record
 * on the sink's hot path, hence the lineage written as bytes piece by piece (header and key bytes
 * copied as they came when they need no escaping) and the record's bytes copied as they are.
 */
export function appendLakeLine(out: LineBuffer, record: SinkRecord, body: Buffer | string): void {
  if (record.topic !== cachedTopic || record.partition !== cachedPartition) {
    cachedHead = Buffer.from(`{"topic":${JSON.stringify(record.topic)},"partition":${record.partition},"offset":`);
    cachedTopic = record.topic;
    cachedPartition = record.partition;
  }
  const eventId = jsonText(record.headers[RECORD_HEADERS.eventId]);
  const ingestTime = jsonNumber(record.headers[RECORD_HEADERS.ingestTime]);
  const key = jsonText(record.key);
  // Offsets and timestamps take at most 24 bytes; quotes, the closing brace and the newline 6.
  out.reserve(cachedHead.length + 48 + 64 + room(ingestTime) + room(eventId) + room(key) + room(body) + 6);
  out.writeBytes(cachedHead);
  writeInteger(out, record.offset);
  out.writeBytes(TIMESTAMP);
  writeInteger(out, record.timestampMs);
  out.writeBytes(INGEST_TIME);
  if (typeof ingestTime === 'string') out.writeString(ingestTime);
  else out.writeBytes(ingestTime);
  out.writeBytes(EVENT_ID);
  writeJsonText(out, eventId);
  out.writeBytes(KEY);
  writeJsonText(out, key);
  out.writeBytes(RECORD);
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
    key: record.key === null ? null : asText(record.key),
    reason,
    value_base64: record.value?.toString('base64') ?? null,
    headers: Object.fromEntries(Object.entries(record.headers).map(([name, value]) => [name, value === undefined ? undefined : asText(value)])),
  });
}
