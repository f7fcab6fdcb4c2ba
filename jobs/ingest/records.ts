import { randomUUID } from 'node:crypto';
import { joinKeyOf, parseEventTime, RECORD_HEADERS, type RecordType, type TypedRecord } from '../lib/contracts.js';
import type { OutgoingRecord } from './types.js';

/**
 * Kafka 4 refuses a record whose timestamp is more than log.message.timestamp.after.max.ms
 * (1 hour by default) ahead of the broker's clock, failing the whole produce request. An event
 * time further ahead than this is not used as the Kafka timestamp: the record gets its ingest
 * time instead (the event time stays in the record itself).
 */
export const MAX_FUTURE_EVENT_MS = 50 * 60_000;

/** Record framing, the three headers (names and values) and the key's length prefix, generously. */
const RECORD_OVERHEAD_BYTES = 160;

/** Header names, encoded once: every record carries the same three. */
const HEADER_NAMES = {
  eventId: Buffer.from(RECORD_HEADERS.eventId),
  ingestTime: Buffer.from(RECORD_HEADERS.ingestTime),
  recordType: Buffer.from(RECORD_HEADERS.recordType),
};
const TYPE_VALUES = new Map<string, Buffer>();

function typeValue(type: string): Buffer {
  let value = TYPE_VALUES.get(type);
  if (value === undefined) {
    value = Buffer.from(type);
    TYPE_VALUES.set(type, value);
  }
  return value;
}

export interface PrepareContext {
  /** Ingest time, epoch ms. */
  now: number;
  /** `now` as header bytes, when the caller prepares many records with one context. */
  nowBytes?: Buffer;
  partitionFor(topic: string, key: Uint8Array): number | undefined;
  maxRecordBytes: number;
  /** The topic of each record type (TOPICS unless configured otherwise). */
  topics: { readonly [K in RecordType]: string };
}

export type Prepared = { ok: true; record: OutgoingRecord } | { ok: false; bytes: number } | { ok: false; noMetadata: true } | { ok: false; tooDeep: true };

/** JSON.parse takes any depth, JSON.stringify recurses: a record nested this deep cannot be re-serialized. */
export const TOO_DEEP = 'is nested too deeply';

/** The Kafka timestamp: the event's own time (geo `timestamp`) when it has one, else the ingest time. */
export function recordTimestamp(typed: TypedRecord, now: number): number {
  if (typed.type !== 'geo') return now;
  const eventTime = parseEventTime(typed.record.timestamp);
  return eventTime === undefined || eventTime > now + MAX_FUTURE_EVENT_MS ? now : eventTime;
}

/** Turns a validated record into its Kafka message: serialized once, keyed by ind, headers set; the event id is the client's when it gave one. */
export function prepareRecord(typed: TypedRecord, context: PrepareContext, clientEventId?: string): Prepared {
  const topic = context.topics[typed.type];
  const key = String(joinKeyOf(typed));
  let value: string;
  try {
    value = JSON.stringify(typed.record);
  } catch (error) {
    if (error instanceof RangeError) return { ok: false, tooDeep: true };
    throw error;
  }
  const valueBytes = Buffer.from(value);
  const bytes = valueBytes.length + key.length + RECORD_OVERHEAD_BYTES;
  if (bytes > context.maxRecordBytes) return { ok: false, bytes };
  const keyBytes = Buffer.from(key);
  const partition = context.partitionFor(topic, keyBytes);
  if (partition === undefined) return { ok: false, noMetadata: true };
  const eventId = clientEventId ?? randomUUID();
  const headers = new Map<Buffer, Buffer>();
  headers.set(HEADER_NAMES.eventId, Buffer.from(eventId));
  headers.set(HEADER_NAMES.ingestTime, context.nowBytes ?? Buffer.from(String(context.now)));
  headers.set(HEADER_NAMES.recordType, typeValue(typed.type));
  return {
    ok: true,
    record: {
      type: typed.type,
      topic,
      partition,
      eventId,
      bytes,
      message: { topic, partition, key: keyBytes, value: valueBytes, timestamp: BigInt(recordTimestamp(typed, context.now)), headers },
    },
  };
}
