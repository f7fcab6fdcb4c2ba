import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { RECORD_HEADERS } from '../lib/contracts.js';
import { RAW_EXTENSION } from '../lib/lake.js';
import type { SinkRecord } from './types.js';

const gzipAsync = promisify(gzip);

/**
 * The object format: gzip NDJSON. Behind this small interface so Parquet can follow later.
 * zlib writes no timestamp into the gzip header, so the same lines always give the same bytes.
 */
export interface ObjectFormat {
  readonly extension: string;
  encode(lines: readonly string[]): Promise<Buffer>;
}

export function ndjsonGzip(level: number): ObjectFormat {
  return {
    extension: RAW_EXTENSION,
    encode: (lines) => gzipAsync(lines.length === 0 ? '' : `${lines.join('\n')}\n`, { level }),
  };
}

export type Decoded = { ok: true; line: string } | { ok: false; reason: string };

/**
 * One lake line: lineage beside the raw record, whose bytes are copied verbatim from Kafka
 * (after checking they are a UTF-8 JSON object), so the lake holds exactly what was accepted.
 * This runs once per record on the sink's hot path, hence the hand-built lineage prefix.
 */
export function toLakeLine(record: SinkRecord): Decoded {
  const value = record.value;
  if (value === null || value.length === 0) return { ok: false, reason: 'empty value' };
  if (!isUtf8(value)) return { ok: false, reason: 'value is not valid UTF-8' };
  let text = value.toString('utf8');
  const eventId = record.headers[RECORD_HEADERS.eventId];
  if (eventId !== undefined && text.charCodeAt(0) === 0x7b && text.charCodeAt(text.length - 1) === 0x7d && text.indexOf('\n') === -1 && text.indexOf('\r') === -1) {
    // ingest stamped this record after validating it against its contract and serialising it
    // itself: a single-line JSON object. Parsing it again would only cost the hot path.
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'value is not valid JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'value is not a JSON object' };
    // Newlines inside the raw JSON are only whitespace but would break NDJSON: the one change made.
    text = text.indexOf('\n') === -1 && text.indexOf('\r') === -1 ? text.trim() : JSON.stringify(parsed);
  }
  const ingestTime = Number(record.headers[RECORD_HEADERS.ingestTime]);
  return {
    ok: true,
    line:
      `{"topic":${JSON.stringify(record.topic)},"partition":${record.partition},"offset":${record.offset},"timestamp":${record.timestampMs},` +
      `"ingest_time":${Number.isFinite(ingestTime) ? ingestTime : 'null'},"event_id":${eventId === undefined ? 'null' : JSON.stringify(eventId)},` +
      `"key":${record.key === null ? 'null' : JSON.stringify(record.key)},"record":${text}}`,
  };
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
