import { createRequire } from 'node:module';

/**
 * A faster decoder for the records of a fetched batch, put in place of kafkajs's own.
 *
 * kafkajs 2.2.4 (its last release) decodes each record's offset and timestamp by parsing the
 * batch's base offset and base timestamp from decimal strings into BigInt-backed Longs, adding the
 * record's delta and printing the sum back to a string, and merges headers by spreading a new
 * object per header. For a sink reading 100,000 records a second that was about a sixth of its
 * main thread. This decoder gives the same message objects, doing the arithmetic in plain numbers
 * while every value is a safe integer and falling back to kafkajs's own code otherwise.
 *
 * kafkajs's batch decoder takes the record decoder through require when it is loaded, which
 * happens lazily, with the first fetch's response decoder; this module must run before that
 * (jobs/lib/kafka.ts imports it first). It replaces the decoder only for the exact kafkajs version
 * it was written against and only if the batch decoder is not loaded yet; otherwise kafkajs's own
 * stays in use (s3-sink logs which one at start).
 */

const require = createRequire(import.meta.url);

/** The one kafkajs release whose internals pinpipe replaces in places (this decoder, kafkajs-timers.ts). */
const PATCHED_KAFKAJS_VERSION = '2.2.4';

/** Whether the installed kafkajs is that release. */
export function isPatchedKafkajs(): boolean {
  return (require('kafkajs/package.json') as { version: string }).version === PATCHED_KAFKAJS_VERSION;
}
const RECORD_DECODER = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js';
const BATCH_DECODER = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';

interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): LongLike;
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
  readVarIntArray<T>(reader: (decoder: KafkaDecoder) => T): T[];
}

interface LongLike {
  add(other: LongLike | number): LongLike;
  toString(): string;
}

interface LongClass {
  fromValue(value: string | number | LongLike): LongLike;
}

interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

type Headers = Record<string, unknown>;
type RecordDecoder = (decoder: KafkaDecoder, batchContext?: BatchContext) => Record<string, unknown>;

const LOG_APPEND_TIME = 1;

/** A batch's base offset or timestamp as a number when it is a safe integer, remembered: one batch, many records. */
class SafeNumber {
  private text: string | undefined;
  private value: number | undefined;

  of(text: string | undefined): number | undefined {
    if (text !== this.text) {
      const n = Number(text);
      this.text = text;
      this.value = text !== undefined && text.length > 0 && Number.isSafeInteger(n) ? n : undefined;
    }
    return this.value;
  }
}
const baseOffset = new SafeNumber();
const baseTimestamp = new SafeNumber();

/**
 * Reads a zig-zag varlong as a number when it has at most 7 bytes (|value| < 2^48), without
 * moving the decoder; undefined when it is longer.
 */
function peekVarLong(buffer: Buffer, start: number): { value: number; end: number } | undefined {
  let unsigned = 0;
  let scale = 1;
  for (let at = start; at < start + 7; at += 1) {
    const byte = buffer[at] as number;
    unsigned += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value: unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2, end: at + 1 };
    scale *= 128;
  }
  return undefined;
}

/** `base + delta` in decimal, as Long.fromValue(base).add(delta).toString() gives it. */
function addDecimal(Long: LongClass, bases: SafeNumber, base: string | undefined, delta: number | LongLike): string {
  if (typeof delta === 'number') {
    const n = bases.of(base);
    if (n !== undefined && Number.isSafeInteger(n + delta)) return String(n + delta);
  }
  return Long.fromValue(base as string)
    .add(delta)
    .toString();
}

/**
 * Header names seen so far with their text: every record of a topic carries the same few names, so
 * decoding each one into a new string is wasted. Bounded, so odd names cannot grow it.
 */
const headerNames: Array<{ bytes: Buffer; text: string }> = [];
const MAX_HEADER_NAMES = 16;

/** Reads a header name (a zig-zag varint length, then UTF-8 bytes) as readVarIntString does. */
function readHeaderName(decoder: KafkaDecoder): string | null {
  const length = decoder.readVarInt();
  if (length === -1) return null;
  const { buffer, offset } = decoder;
  decoder.offset = offset + length;
  search: for (const known of headerNames) {
    if (known.bytes.length !== length) continue;
    for (let i = 0; i < length; i += 1) if (known.bytes[i] !== buffer[offset + i]) continue search;
    return known.text;
  }
  const bytes = buffer.subarray(offset, offset + length);
  const text = bytes.toString('utf8');
  if (headerNames.length < MAX_HEADER_NAMES && bytes.length === length) headerNames.push({ bytes: Buffer.from(bytes), text });
  return text;
}

/** kafkajs's header merge: a repeated key's values become an array, in order. */
function mergeHeaders(pairs: Array<{ key: string; value: unknown }>): Headers {
  return pairs.reduce<Headers>(
    (obj, { key, value }) => ({
      ...obj,
      [key]: obj[key] === undefined ? value : Array.isArray(obj[key]) ? (obj[key] as unknown[]).concat([value]) : [obj[key], value],
    }),
    {},
  );
}

/** Records decoded by the fast decoder, to tell that kafkajs really uses it. */
export let fastRecordsDecoded = 0;

function createFastDecoder(Long: LongClass, headerDecoder: (decoder: KafkaDecoder) => { key: string; value: unknown }): RecordDecoder {
  return (decoder, batchContext = {}) => {
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    fastRecordsDecoded += 1;
    const attributes = decoder.readInt8();

    let timestampDelta: number | LongLike;
    const peeked = peekVarLong(decoder.buffer, decoder.offset);
    if (peeked) {
      timestampDelta = peeked.value;
      decoder.offset = peeked.end;
    } else {
      timestampDelta = decoder.readVarLong();
    }
    const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : addDecimal(Long, baseTimestamp, firstTimestamp, timestampDelta);

    const offsetDelta = decoder.readVarInt();
    const offset = addDecimal(Long, baseOffset, firstOffset, offsetDelta);

    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();

    const headersStart = decoder.offset;
    const count = decoder.readVarInt();
    let headers: Headers = {};
    for (let i = 0; i < count; i += 1) {
      const header = { key: readHeaderName(decoder) as string, value: decoder.readVarIntBytes() };
      if (header.key === '__proto__') {
        // An object literal makes that an own property; assignment would not. kafkajs's own way.
        decoder.offset = headersStart;
        headers = mergeHeaders(decoder.readVarIntArray(headerDecoder));
        break;
      }
      const previous = headers[header.key];
      headers[header.key] = previous === undefined ? header.value : Array.isArray(previous) ? previous.concat([header.value]) : [previous, header.value];
    }

    return {
      magicByte,
      attributes,
      timestamp,
      offset,
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext,
    };
  };
}

export interface RecordDecoders {
  original: RecordDecoder;
  fast: RecordDecoder;
}

let decoders: RecordDecoders | undefined;

/** Both decoders (tests compare them), or undefined for another kafkajs version. */
export function recordDecoders(): RecordDecoders | undefined {
  if (!isPatchedKafkajs()) return undefined;
  decoders ??= {
    original: require(RECORD_DECODER) as RecordDecoder,
    fast: createFastDecoder(require('kafkajs/src/utils/long.js') as LongClass, require('kafkajs/src/protocol/recordBatch/header/v0/decoder.js')),
  };
  return decoders;
}

/** Whether kafkajs decodes records with the fast decoder. */
export let fastRecordsInstalled = false;

function install(): void {
  // Too late once kafkajs's batch decoder holds its own reference.
  if (require.cache[require.resolve(BATCH_DECODER)] !== undefined) return;
  const both = recordDecoders();
  const entry = require.cache[require.resolve(RECORD_DECODER)];
  if (!both || !entry) return;
  entry.exports = both.fast;
  fastRecordsInstalled = true;
}

install();
