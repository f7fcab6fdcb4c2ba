import type { RecordType } from '../lib/contracts.js';

/** One Kafka record as the producer sends it: bytes ready for the wire, partition chosen. */
export interface KafkaMessage {
  topic: string;
  partition: number;
  key: Buffer;
  value: Buffer;
  /** Epoch ms. */
  timestamp: bigint;
  headers: Map<Buffer, Buffer>;
}

/** The broker's answer for one topic-partition of a produce request: where its first record went. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  baseOffset: bigint;
}

/** A validated record, ready for Kafka: the message is built once and sent as is. */
export interface OutgoingRecord {
  type: RecordType;
  topic: string;
  /** Chosen by ingest (same hash as Kafka's default partitioner), so offsets can be mapped back. */
  partition: number;
  eventId: string;
  /** Estimated encoded size in a Kafka record batch: value, key, headers and framing. */
  bytes: number;
  message: KafkaMessage;
}

/** Where Kafka stored one record: what ingest reports back to the client. */
export interface StoredRecord {
  eventId: string;
  topic: string;
  partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: string;
}

/** One refused line of an NDJSON batch. */
export interface RejectedLine {
  line: number;
  field: string;
  reason: string;
  code: 'PINPIPE_INPUT_INVALID' | 'PINPIPE_RECORD_TOO_LARGE';
  /** Further problems of the same line, when there is more than one. */
  details?: Array<{ field: string; reason: string }>;
}

/** Label values of pinpipe_ingest_records_rejected_total. */
/** Why ingest refused a record at the door: the `reason` label of pinpipe_ingest_records_rejected_total. */
export const REJECT_REASONS = ['invalid_json', 'invalid_utf8', 'contract', 'too_large'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
