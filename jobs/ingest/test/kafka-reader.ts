import type { IHeaders, Kafka } from 'kafkajs';
import { RECORD_HEADERS } from '../../lib/contracts.js';
import { uniqueName, type TopicMap } from '../../test/services.js';

export type Offsets = Map<string, bigint>; // "topic|partition" → offset

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: string;
  timestamp: string;
  headers: Record<string, string>;
}

/** The end (next) offset of every partition of ingest's topics. */
export async function endOffsets(kafka: Kafka, topics: TopicMap): Promise<Offsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets: Offsets = new Map();
    for (const topic of Object.values(topics)) {
      for (const p of await admin.fetchTopicOffsets(topic)) offsets.set(`${topic}|${p.partition}`, BigInt(p.high));
    }
    return offsets;
  } finally {
    await admin.disconnect();
  }
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String).join(',') : String(v)]));
}

/**
 * Reads every record between two offset snapshots with a fresh consumer group and returns those
 * whose event id is wanted, all occurrences (so duplicates show). Bounded in time.
 */
export async function readBetween(kafka: Kafka, topics: TopicMap, from: Offsets, to: Offsets, wanted: ReadonlySet<string>, timeoutMs = 60_000): Promise<Map<string, ConsumedRecord[]>> {
  const found = new Map<string, ConsumedRecord[]>();
  const remaining = new Set([...to].filter(([key, end]) => end > (from.get(key) ?? 0n)).map(([key]) => key));
  if (remaining.size === 0) return found;
  const consumer = kafka.consumer({ groupId: uniqueName('pinpipe-ingest-it'), allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    // From the beginning, not the latest offset: the seeks below are lost when the consumer
    // crashes and restarts (a coordinator still loading after a Kafka restart), and reading a
    // record twice is harmless, since each offset is taken once.
    await consumer.subscribe({ topics: Object.values(topics), fromBeginning: true });
    const taken = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read timed out; partitions not read to the end: ${[...remaining].join(', ')}`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const key = `${topic}|${partition}`;
            const end = to.get(key) ?? 0n;
            const offset = BigInt(message.offset);
            if (offset >= end || offset < (from.get(key) ?? 0n) || taken.has(`${key}|${offset}`)) return;
            taken.add(`${key}|${offset}`);
            const headers = headerText(message.headers);
            const eventId = headers[RECORD_HEADERS.eventId];
            if (eventId !== undefined && wanted.has(eventId)) {
              const list = found.get(eventId) ?? [];
              list.push({ topic, partition, offset: message.offset, key: String(message.key), value: String(message.value), timestamp: message.timestamp, headers });
              found.set(eventId, list);
            }
            if (offset + 1n >= end) {
              remaining.delete(key);
              if (remaining.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            }
          },
        })
        .catch(reject);
      for (const [key, offset] of from) {
        const [topic = '', partition = '0'] = key.split('|');
        consumer.seek({ topic, partition: Number(partition), offset: offset.toString() });
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
}
