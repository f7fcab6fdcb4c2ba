import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADERS, TOPICS, type TypedRecord } from '../lib/contracts.js';
import { kafkaPartition } from './producer.js';
import { MAX_FUTURE_EVENT_MS, prepareRecord, recordTimestamp } from './records.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const geo = { ind: 42, timestamp: '2020-08-28 03:52:47', latitude: 1, longitude: 2, country: 'Peru' };
const user = { ind: 42, first_name: 'A', last_name: 'B', age: 20, date_joined: '2016-01-01 00:00:00' };
const context = { now: NOW, partitionFor: (_topic: string, key: Uint8Array) => Number(Buffer.from(key).toString()) % 3, maxRecordBytes: 1_000_000, topics: TOPICS };

describe('prepareRecord', () => {
  it('keys by ind, serializes the record once, sets the headers and the partition', () => {
    const prepared = prepareRecord({ type: 'geo', record: geo }, context);
    if (!prepared.ok) throw new Error('expected ok');
    const { record } = prepared;
    expect(record).toMatchObject({ type: 'geo', topic: 'pinterest.geo.v1', partition: 0 });
    const { message } = record;
    expect({ topic: message.topic, partition: message.partition, key: message.key.toString(), value: message.value.toString(), timestamp: message.timestamp }).toEqual({
      topic: 'pinterest.geo.v1',
      partition: 0,
      key: '42',
      value: JSON.stringify(geo),
      timestamp: BigInt(Date.UTC(2020, 7, 28, 3, 52, 47)),
    });
    expect(new Map([...message.headers].map(([k, v]) => [k.toString(), v.toString()]))).toEqual(
      new Map([
        [RECORD_HEADERS.eventId, record.eventId],
        [RECORD_HEADERS.ingestTime, String(NOW)],
        [RECORD_HEADERS.recordType, 'geo'],
      ]),
    );
    // The value's size counts in bytes, not characters.
    const wide = prepareRecord({ type: 'geo', record: { ...geo, country: 'Perú' } }, context);
    expect(wide.ok && wide.record.bytes - record.bytes).toBe(1); // ú is two bytes, u one
    expect(record.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('stores the client\'s event id in the header when it gave one, and to the configured topic', () => {
    const prepared = prepareRecord({ type: 'geo', record: geo }, { ...context, topics: { ...TOPICS, geo: 'staging.geo' } }, 'client-7');
    if (!prepared.ok) throw new Error('expected ok');
    expect(prepared.record).toMatchObject({ eventId: 'client-7', topic: 'staging.geo' });
    const headers = new Map([...prepared.record.message.headers].map(([k, v]) => [k.toString(), v.toString()]));
    expect(headers.get(RECORD_HEADERS.eventId)).toBe('client-7');
  });

  it('keys pins by index', () => {
    const pin = { index: 7, unique_id: 'u', title: 't', description: 'd', follower_count: '1k', tag_list: '', is_image_or_video: 'image', image_src: '', downloaded: 1, save_location: '', category: 'art' };
    const prepared = prepareRecord({ type: 'pin', record: pin } as TypedRecord, context);
    expect(prepared.ok && prepared.record.message.key.toString()).toBe('7');
  });

  it('refuses a record larger than --max-record-bytes and waits for metadata', () => {
    expect(prepareRecord({ type: 'geo', record: { ...geo, country: 'x'.repeat(2_000) } }, { ...context, maxRecordBytes: 1_500 })).toMatchObject({ ok: false, bytes: expect.any(Number) });
    expect(prepareRecord({ type: 'geo', record: geo }, { ...context, partitionFor: () => undefined })).toEqual({ ok: false, noMetadata: true });
  });

  it('refuses a record nested too deeply to serialize again, instead of failing the request', () => {
    const deep = JSON.parse(`{"ind":1,"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`) as Record<string, unknown>;
    const record = { ...geo, ...deep };
    // Node.js 26's JSON.stringify no longer recurses, so there such a record serializes like any other.
    let serializes = true;
    try {
      JSON.stringify(record);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      serializes = false;
    }
    const prepared = prepareRecord({ type: 'geo', record } as TypedRecord, context);
    if (serializes) expect(prepared).toMatchObject({ ok: true, record: { bytes: expect.any(Number) } });
    else expect(prepared).toEqual({ ok: false, tooDeep: true });
  });
});

describe('recordTimestamp', () => {
  it('is the geo event time, else the ingest time', () => {
    expect(recordTimestamp({ type: 'geo', record: geo }, NOW)).toBe(Date.UTC(2020, 7, 28, 3, 52, 47));
    expect(recordTimestamp({ type: 'geo', record: { ...geo, timestamp: '2020-08-28T05:52:47+02:00' } }, NOW)).toBe(Date.UTC(2020, 7, 28, 3, 52, 47));
    expect(recordTimestamp({ type: 'user', record: user }, NOW)).toBe(NOW);
  });

  it('falls back to the ingest time for an event time Kafka would refuse (too far ahead)', () => {
    const soon = new Date(NOW + MAX_FUTURE_EVENT_MS - 60_000).toISOString();
    const late = new Date(NOW + MAX_FUTURE_EVENT_MS + 60_000).toISOString();
    expect(recordTimestamp({ type: 'geo', record: { ...geo, timestamp: soon } }, NOW)).toBe(Date.parse(soon));
    expect(recordTimestamp({ type: 'geo', record: { ...geo, timestamp: late } }, NOW)).toBe(NOW);
  });
});

describe('partitioning', () => {
  const metadata = (n: number) => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] })) as PartitionMetadata[];

  it('is Kafka\'s Java murmur2 partitioner, so Java producers agree on where an ind goes', () => {
    const keys = ['1', '2', '3', '42', '1000', '123456789'];
    // Expected values computed independently from org.apache.kafka.common.utils.Utils.murmur2.
    expect(keys.map((key) => kafkaPartition(Buffer.from(key), 3))).toEqual([0, 2, 2, 1, 1, 0]);
    expect(keys.map((key) => kafkaPartition(Buffer.from(key), 10))).toEqual([9, 8, 3, 2, 6, 6]);
  });

  it('agrees with kafkajs\'s DefaultPartitioner on keys of every length, multi-byte ones too', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (let i = 0; i < 2_000; i += 1) {
      const key = i % 7 === 0 ? `ü${'é'.repeat(i % 5)}${i}` : String(i * 7_919 + (i % 13) * 1_000_003);
      for (const n of [1, 3, 7, 64]) {
        expect(kafkaPartition(Buffer.from(key), n), `${key} over ${n}`).toBe(partitioner({ topic: 't', partitionMetadata: metadata(n), message: { key, value: null } }));
      }
    }
  });
});
