import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
// As in production: kafka.ts loads the fast decoder before kafkajs.
import './kafka.js';
import { fastRecordsDecoded, fastRecordsInstalled, recordDecoders } from './kafkajs-records.js';

const require = createRequire(import.meta.url);
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const Decoder = require('kafkajs/src/protocol/decoder.js');
const Long = require('kafkajs/src/utils/long.js');

interface RecordInput {
  offsetDelta: number;
  timestampDelta: number | bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}

function encoder(record: RecordInput): unknown {
  return Record({ ...record, timestampDelta: Long.fromValue(record.timestampDelta) });
}

function encode(record: RecordInput): Buffer {
  return (encoder(record) as { buffer: Buffer }).buffer;
}

/** Decodes one encoded record (after its length) and says where the decoder stopped. */
function decode(decoder: (d: unknown, context: unknown) => unknown, bytes: Buffer, context: unknown): { message: unknown; end: number } {
  const d = new Decoder(bytes);
  d.readVarInt();
  const message = decoder(d, context);
  return { message, end: d.offset as number };
}

/** Deep equality that also sees own properties named like Object.prototype's (a "__proto__" header). */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b) && JSON.stringify(a) === JSON.stringify(b);
}

describe('fast kafkajs record decoder', () => {
  it('is what kafkajs decodes fetched batches with', async () => {
    expect(fastRecordsInstalled).toBe(true);
    const before = fastRecordsDecoded;
    const encoded = await RecordBatch({
      firstOffset: Long.fromValue(41),
      firstTimestamp: 1_767_225_600_000,
      maxTimestamp: 1_767_225_600_002,
      lastOffsetDelta: 1,
      records: [encoder({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('a'), value: Buffer.from('{}') }), encoder({ offsetDelta: 1, timestampDelta: 2, key: null, value: null })],
    });
    const decoded = await RecordBatchDecoder(new Decoder(encoded.buffer));
    expect(fastRecordsDecoded - before).toBe(2);
    expect(decoded.records.map((r: { offset: string; timestamp: string }) => [r.offset, r.timestamp])).toEqual([
      ['41', '1767225600000'],
      ['42', '1767225600002'],
    ]);
  });

  it('gives the same messages as kafkajs for every kind of record and batch', () => {
    const decoders = recordDecoders();
    expect(decoders).toBeDefined();
    const { original, fast } = decoders as NonNullable<typeof decoders>;
    const records: RecordInput[] = [
      { offsetDelta: 0, timestampDelta: 0, key: null, value: null },
      { offsetDelta: 7, timestampDelta: 1234, key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: { 'pinpipe-event-id': Buffer.from('e1'), 'pinpipe-ingest-time': Buffer.from('1') } },
      { offsetDelta: 2, timestampDelta: -5, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: {} },
      // Repeated headers, and names that Object.prototype also has.
      { offsetDelta: 3, timestampDelta: 1, key: null, value: Buffer.from('x'), headers: { h: [Buffer.from('1'), Buffer.from('2'), Buffer.from('3')], toString: Buffer.from('t') } },
      { offsetDelta: 4, timestampDelta: 1, key: null, value: Buffer.from('x'), headers: JSON.parse('{"__proto__":"p","b":"q"}') as Record<string, Buffer> },
      // More names than the decoder remembers, names that share a length, and non-ASCII ones.
      {
        offsetDelta: 8,
        timestampDelta: 3,
        key: null,
        value: null,
        headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${String(i).padStart(2, '0')}-é`, Buffer.from(String(i))])),
      },
      { offsetDelta: 9, timestampDelta: 3, key: null, value: null, headers: { ab: Buffer.from('1'), ac: Buffer.from('2'), 'h07-é': Buffer.from('3'), 'h07-e': Buffer.from('4') } },
      // Deltas of 7 bytes and beyond, either sign: the longest take kafkajs's own path.
      { offsetDelta: 2 ** 30, timestampDelta: 2 ** 47 - 1, key: null, value: null },
      { offsetDelta: 5, timestampDelta: -(2 ** 47), key: null, value: null },
      { offsetDelta: 6, timestampDelta: 2 ** 48, key: null, value: null },
      { offsetDelta: 6, timestampDelta: -(2n ** 62n), key: null, value: null },
    ];
    const contexts = [
      { firstOffset: '0', firstTimestamp: '1767225600000', magicByte: 2, isControlBatch: false, timestampType: 0, maxTimestamp: '1767225609000' },
      { firstOffset: '9007199254740990', firstTimestamp: '-1', magicByte: 2, isControlBatch: true, timestampType: 0, maxTimestamp: '-1' },
      { firstOffset: '9223372036854775000', firstTimestamp: '9007199254740991', magicByte: 2, timestampType: 1, maxTimestamp: '1767225609000' },
      { firstOffset: '12', firstTimestamp: '1767225600000', magicByte: 2, timestampType: 1, maxTimestamp: undefined },
    ];
    let compared = 0;
    for (const context of contexts) {
      for (const record of records) {
        const bytes = encode(record);
        const expected = decode(original as never, bytes, context);
        const actual = decode(fast as never, bytes, context);
        expect(same(actual, expected), `${JSON.stringify(context)} ${JSON.stringify(expected)}`).toBe(true);
        compared += 1;
      }
    }
    expect(compared).toBe(records.length * contexts.length);
  });
});
