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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One lake line: lineage beside the raw record, whose bytes are copied verbatim from Kafka
 * (after checking they are a JSON object), so the lake holds exactly what was accepted.
 */
export function toLakeLine(record: SinkRecord): Decoded {
  if (record.value === null || record.value.length === 0) return { ok: false, reason: 'empty value' };
  let text: string;
  try {
    text = utf8.decode(record.value);
  } catch {
    return { ok: false, reason: 'value is not valid UTF-8' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'value is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'value is not a JSON object' };
  const ingestTime = Number(record.headers[RECORD_HEADERS.ingestTime]);
  const lineage = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestampMs,
    ingest_time: Number.isFinite(ingestTime) ? ingestTime : null,
    event_id: record.headers[RECORD_HEADERS.eventId] ?? null,
    key: record.key,
  };
  // Splice rather than re-serialise, so the record's bytes stay untouched; newlines inside the
  // raw JSON are only whitespace and would break NDJSON, so they are the one thing removed.
  const raw = /[\r\n]/.test(text) ? JSON.stringify(parsed) : text.trim();
  return { ok: true, line: `${JSON.stringify(lineage).slice(0, -1)},"record":${raw}}` };
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
