import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { RECORD_HEADERS } from '../lib/contracts.js';
import { createLogger } from '../lib/logger.js';
import { parseObjectKey } from '../lib/lake.js';
import { ndjsonGzip, toLakeLine } from './format.js';
import { PartitionWriter } from './partition-writer.js';
import { EMPTY_POSITION, type LakePosition } from './position.js';
import { allOrFirstError } from '../lib/settle.js';
import { Sink, type SinkOptions } from './sink.js';
import type { FlushLimits, ObjectStore, SinkRecord } from './types.js';

/** An object store with S3's conditional-put semantics, in memory. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, { body: Buffer; endOffset: number }>();
  readonly positions = new Map<string, { position: LakePosition; version: string }>();
  conflicts = 0;
  private versions = 0;
  async readPosition(topic: string, partition: number) {
    const stored = this.positions.get(`${topic}/${partition}`);
    // A copy, as a GET gives: the writer must not share the stored one.
    return stored ? { position: structuredClone(stored.position), version: stored.version } : { position: EMPTY_POSITION, version: undefined };
  }
  async writePosition(topic: string, partition: number, position: LakePosition, version: string | undefined) {
    const id = `${topic}/${partition}`;
    if (this.positions.get(id)?.version !== version) return undefined;
    this.versions += 1;
    this.positions.set(id, { position: structuredClone(position), version: `v${this.versions}` });
    return `v${this.versions}`;
  }
  async putIfAbsent(key: string, body: Buffer, endOffset: number) {
    const existing = this.objects.get(key);
    if (existing) {
      this.conflicts += 1;
      return { created: false as const, endOffset: existing.endOffset };
    }
    this.objects.set(key, { body, endOffset });
    return { created: true as const };
  }
  /** Offsets of every lake line in raw objects, with repeats. */
  rawOffsets(): number[] {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith('raw/'))
      .flatMap(([, o]) =>
        gunzipSync(o.body)
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { offset: number }).offset),
      );
  }
  lines(key: string): Array<Record<string, unknown>> {
    return gunzipSync(this.objects.get(key)?.body ?? Buffer.alloc(0))
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const LIMITS: FlushLimits = { maxRecords: 1000, maxBytes: 1 << 30, idleMs: 5_000, maxAgeMs: 60_000, maxOpenHours: 3 };

function record(offset: number, timestampMs = T0 + offset * 1000, value: Buffer | null = Buffer.from(JSON.stringify({ ind: offset, country: 'X' }))): SinkRecord {
  return {
    topic: 'pinterest.geo.v1',
    partition: 2,
    offset,
    timestampMs,
    key: String(offset),
    value,
    headers: { [RECORD_HEADERS.eventId]: `e${offset}`, [RECORD_HEADERS.ingestTime]: String(T0 + 5) },
  };
}

function setup(limits: Partial<FlushLimits> = {}, store = new MemoryStore()) {
  let clock = T0;
  const commits: number[] = [];
  const writer = new PartitionWriter('pinpipe.geo.v1'.replace('pinpipe', 'pinterest'), 2, {
    store,
    format: ndjsonGzip(1),
    commit: async (_t, _p, offset) => {
      commits.push(offset);
    },
    limits: { ...LIMITS, ...limits },
    now: () => clock,
  });
  return { writer, store, commits, advance: (ms: number) => (clock += ms) };
}

describe('lake lines', () => {
  it('carry lineage beside the raw record bytes, untouched', () => {
    const raw = '{"ind":7,"country":"Côte d\'Ivoire","latitude":1.50}';
    const decoded = toLakeLine(record(7, T0, Buffer.from(raw)));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.line).toBe(
      `{"topic":"pinterest.geo.v1","partition":2,"offset":7,"timestamp":${T0},"ingest_time":${T0 + 5},"event_id":"e7","key":"7","record":${raw}}`,
    );
    expect(JSON.parse(decoded.line).record).toEqual(JSON.parse(raw));
  });

  it('parse a value that ingest did not stamp, and put a multi-line one on one line', () => {
    const unstamped = { ...record(3, T0, Buffer.from('  {"ind":3}  ')), headers: {} };
    expect(toLakeLine(unstamped)).toEqual({
      ok: true,
      line: `{"topic":"pinterest.geo.v1","partition":2,"offset":3,"timestamp":${T0},"ingest_time":null,"event_id":null,"key":"3","record":{"ind":3}}`,
    });
    const pretty = toLakeLine(record(4, T0, Buffer.from('{\n  "ind": 4,\n  "name": "é"\n}')));
    expect(pretty.ok && pretty.line.endsWith(`"event_id":"e4","key":"4","record":{"ind":4,"name":"é"}}`)).toBe(true);
    expect(toLakeLine({ ...record(5, T0, Buffer.from('{"ind":5}')), key: 'k"\u2028', headers: {} })).toMatchObject({ line: expect.stringContaining(`"key":${JSON.stringify('k"\u2028')},`) });
  });

  it('are the same bytes whether key and headers come as bytes or as text, tricky ones included', () => {
    // The lineage as JSON.stringify writes it: what the byte-level writer must reproduce exactly.
    const reference = (r: SinkRecord, raw: string) => {
      const text = (v: string | Buffer | undefined | null) => (v === undefined || v === null ? v : String(v));
      const eventId = text(r.headers[RECORD_HEADERS.eventId]);
      const ingestTime = Number(text(r.headers[RECORD_HEADERS.ingestTime]));
      const key = text(r.key);
      return (
        `{"topic":${JSON.stringify(r.topic)},"partition":${r.partition},"offset":${r.offset},"timestamp":${r.timestampMs},` +
        `"ingest_time":${Number.isFinite(ingestTime) ? ingestTime : 'null'},"event_id":${eventId === undefined ? 'null' : JSON.stringify(eventId)},` +
        `"key":${key === null || key === undefined ? 'null' : JSON.stringify(key)},"record":${raw}}`
      );
    };
    const raw = '{"ind":1}';
    const keys = [null, '', '0', '123', 'k"q', 'back\\slash', 'tab\t', 'é', '\u2028', '~ !#'];
    const eventIds = [undefined, '', 'e1', 'pin#1', 'quote"', 'ctrl\u0001', 'ü-ß', '\x7f'];
    const ingestTimes = [undefined, '', '0', '007', '1767225600123', '9999999999999999', '12345678901234567890', '-5', '1.5', ' 42 ', 'abc', '1e3'];
    const numbers = [0, 7, 99_999_999, 100_000_000, 1_767_225_600_123, Number.MAX_SAFE_INTEGER, -1, 1e21];
    let checked = 0;
    for (const key of keys)
      for (const eventId of eventIds)
        for (const ingestTime of ingestTimes) {
          const n = numbers[checked % numbers.length] as number;
          const asText: SinkRecord = { ...record(n, n, Buffer.from(raw)), key, headers: { [RECORD_HEADERS.eventId]: eventId, [RECORD_HEADERS.ingestTime]: ingestTime } };
          const asBytes: SinkRecord = {
            ...asText,
            key: key === null ? null : Buffer.from(key),
            headers: { [RECORD_HEADERS.eventId]: eventId === undefined ? undefined : Buffer.from(eventId), [RECORD_HEADERS.ingestTime]: ingestTime === undefined ? undefined : Buffer.from(ingestTime) },
          };
          const expected = reference(asText, raw);
          expect(toLakeLine(asText)).toEqual({ ok: true, line: expected });
          expect(toLakeLine(asBytes)).toEqual({ ok: true, line: expected });
          checked += 1;
        }
    expect(checked).toBe(keys.length * eventIds.length * ingestTimes.length);
  });

  it('refuse what is not a UTF-8 JSON object, with the reason', () => {
    expect(toLakeLine(record(1, T0, Buffer.from([0xff, 0xfe])))).toEqual({ ok: false, reason: 'value is not valid UTF-8' });
    expect(toLakeLine(record(1, T0, Buffer.from('{oops')))).toEqual({ ok: false, reason: 'value is not valid JSON' });
    expect(toLakeLine(record(1, T0, Buffer.from('[1]')))).toEqual({ ok: false, reason: 'value is not a JSON object' });
    expect(toLakeLine(record(1, T0, null))).toEqual({ ok: false, reason: 'empty value' });
  });
});

describe('partition writer', () => {
  it('rotates on record count, names objects by start offset, and commits after each', async () => {
    const { writer, store, commits } = setup({ maxRecords: 2 });
    for (let o = 0; o < 5; o += 1) await writer.add(record(o));
    // Rotations write in the background; settle waits for the one in flight.
    await writer.settle();
    expect([...store.objects.keys()]).toEqual([
      'raw/pinterest.geo.v1/dt=2026-03-01/hour=10/pinterest.geo.v1+2+00000000000000000000.ndjson.gz',
      'raw/pinterest.geo.v1/dt=2026-03-01/hour=10/pinterest.geo.v1+2+00000000000000000002.ndjson.gz',
    ]);
    expect(commits).toEqual([2, 4]);
    expect(writer.bufferedRecords).toBe(1);
  });

  it('rotates when the record hour changes, bucketing by record time', async () => {
    const { writer, store, commits } = setup();
    await writer.add(record(10, T0 + HOUR - 1));
    await writer.add(record(11, T0 + HOUR));
    await writer.add(record(12, T0 + HOUR + 5));
    await writer.flush('shutdown');
    expect([...store.objects.keys()].map((k) => parseObjectKey(k)).map((k) => `${k?.hour}:${k?.startOffset}`)).toEqual(['10:10', '11:11']);
    expect(commits).toEqual([11, 13]);
  });

  it('flushes after the idle period and after the maximum age, by the injected clock', async () => {
    const { writer, advance } = setup({ idleMs: 5_000, maxAgeMs: 8_000 });
    await writer.add(record(0));
    advance(4_999);
    expect(writer.isDue()).toBe(false);
    advance(1);
    expect(writer.isDue()).toBe(true);
    await writer.rotateDue();
    await writer.settle();
    expect(writer.bufferedRecords).toBe(0);
    const aging = setup({ idleMs: 5_000, maxAgeMs: 8_000 });
    for (let i = 0; i < 5; i += 1) {
      await aging.writer.add(record(i));
      aging.advance(2_000);
    }
    expect(aging.writer.isDue()).toBe(true);
  });

  it('writes a dead-letter object per undecodable record and leaves it out of the raw object', async () => {
    const { writer, store, commits } = setup();
    await writer.add(record(0, T0, Buffer.from('not json')));
    await writer.add(record(1));
    await writer.flush('shutdown');
    const keys = [...store.objects.keys()];
    expect(keys).toContain('dlq/pinterest.geo.v1/dt=2026-03-01/hour=10/pinterest.geo.v1+2+00000000000000000000.ndjson.gz');
    const raw = keys.find((k) => k.startsWith('raw/')) as string;
    expect(parseObjectKey(raw)?.startOffset).toBe(1n);
    const dead = store.lines(keys.find((k) => k.startsWith('dlq/')) as string)[0];
    expect(dead).toMatchObject({ offset: 0, reason: 'value is not valid JSON', value_base64: Buffer.from('not json').toString('base64') });
    expect(commits).toEqual([2]);
  });

  it('reads where the lake ends on open: goes back to a record it holds, skips what it covers, continues after it', async () => {
    const store = new MemoryStore();
    const first = setup({}, store);
    for (let o = 0; o < 8; o += 1) await first.writer.add(record(o));
    await first.writer.flush('idle'); // object [0..7], then "crashed" before the commit reached Kafka

    const second = setup({ maxRecords: 3 }, store);
    // Its group's committed offset is 2: the lake says to read from 7, its last record, to check it.
    expect(await second.writer.open(2)).toBe(7);
    for (let o = 7; o < 10; o += 1) await second.writer.add(record(o));
    await second.writer.flush('shutdown');
    expect(second.commits).toEqual([10]);
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('without open, still leaves out what the lake holds when it writes', async () => {
    const store = new MemoryStore();
    const first = setup({}, store);
    for (let o = 0; o < 8; o += 1) await first.writer.add(record(o));
    await first.writer.flush('idle');

    const second = setup({ maxRecords: 3 }, store);
    for (let o = 0; o < 10; o += 1) await second.writer.add(record(o));
    await second.writer.flush('shutdown');
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(second.commits.at(-1)).toBe(10);
  });

  it('keeps what follows a shorter existing object and lands it next', async () => {
    const store = new MemoryStore();
    const first = setup({}, store);
    await first.writer.add(record(0));
    await first.writer.add(record(1));
    await first.writer.flush('idle'); // object [0..1]

    const second = setup({}, store);
    for (let o = 0; o < 4; o += 1) await second.writer.add(record(o));
    await second.writer.flush('shutdown'); // conflicts at 0, then writes 2..3 as the next object
    expect(second.commits).toEqual([4]);
    expect([...store.objects.keys()].map((k) => Number(parseObjectKey(k)?.startOffset))).toEqual([0, 2]);
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it('keeps consuming while a rotation is written, and retries a failed write before anything newer', async () => {
    class FlakyStore extends MemoryStore {
      failures = 1;
      override async putIfAbsent(key: string, body: Buffer, endOffset: number) {
        if (this.failures > 0) {
          this.failures -= 1;
          throw new Error('S3 unavailable');
        }
        return super.putIfAbsent(key, body, endOffset);
      }
    }
    const store = new FlakyStore();
    const { writer, commits } = setup({ maxRecords: 2 }, store);
    await writer.add(record(0));
    await writer.add(record(1)); // rotation [0..1] starts in the background, and fails
    expect(writer.bufferedRecords).toBe(2);
    await writer.add(record(2)); // buffered beside the failed write
    await expect(writer.add(record(3))).rejects.toThrow('S3 unavailable'); // next rotation meets the failure
    expect(commits).toEqual([]);
    expect(writer.bufferedRecords).toBe(4);
    await writer.add(record(3)); // a redelivery of what is already buffered is ignored
    await writer.flush('idle'); // the failed write is retried first, then [2..3]
    expect(commits).toEqual([2, 4]);
    expect(store.rawOffsets()).toEqual([0, 1, 2, 3]);
    expect(writer.bufferedRecords).toBe(0);
  });

  it('writes the same bytes under the same name for the same records', async () => {
    const a = setup({ maxRecords: 4 });
    const b = setup({ maxRecords: 4 });
    for (let o = 0; o < 8; o += 1) {
      await a.writer.add(record(o));
      await b.writer.add(record(o));
    }
    // A rotation only starts its write; both writers' last objects land in the background.
    await Promise.all([a.writer.settle(), b.writer.settle()]);
    expect(a.store.objects.size).toBe(2);
    expect([...a.store.objects.entries()].map(([k, v]) => [k, v.body.toString('hex')])).toEqual(
      [...b.store.objects.entries()].map(([k, v]) => [k, v.body.toString('hex')]),
    );
  });

  it('lands every offset exactly once across crashes at random points, late records and random flush timing', async () => {
    const rng = xoroshiro128plus(20261122);
    let conflicts = 0;
    let moves = 0;
    for (let trial = 0; trial < 300; trial += 1) {
      /** The process may die after an object is stored but before the position is, or before the commit. */
      class CrashingStore extends MemoryStore {
        armed = false;
        override async writePosition(topic: string, partition: number, position: LakePosition, version: string | undefined) {
          if (this.armed && uniformInt(rng, 0, 7) === 0) throw new Error('crash before the position');
          return super.writePosition(topic, partition, position, version);
        }
      }
      const store = new CrashingStore();
      const total = uniformInt(rng, 1, 120);
      // Records spread over a few hours, some minutes late (an hour back), a few undecodable.
      const log = Array.from({ length: total }, (_, o) =>
        record(o, T0 + Math.floor((o * HOUR) / 40) - (uniformInt(rng, 0, 9) === 0 ? HOUR / 2 : 0), uniformInt(rng, 0, 19) === 0 ? Buffer.from('garbage') : undefined),
      );
      let committed = 0;
      for (let run = 0; ; run += 1) {
        const last = run >= 8;
        store.armed = !last;
        let clock = T0;
        const commits: number[] = [];
        const writer = new PartitionWriter('pinterest.geo.v1', 2, {
          store,
          format: ndjsonGzip(1),
          limits: { ...LIMITS, maxRecords: uniformInt(rng, 1, 30), maxOpenHours: uniformInt(rng, 1, 3) },
          now: () => clock,
          commit: async (_t, _p, offset) => {
            if (!last && uniformInt(rng, 0, 5) === 0) throw new Error('crash before commit');
            commits.push(offset);
          },
        });
        // The consumer starts at the committed offset; the lake may send it elsewhere.
        const moveTo = await writer.open(committed);
        if (moveTo !== undefined) moves += 1;
        const from = moveTo ?? committed;
        const crashAt = last ? total : uniformInt(rng, from, total);
        try {
          for (let o = from; o < crashAt; o += 1) {
            await writer.add(log[o] as SinkRecord);
            clock += 1;
            if (uniformInt(rng, 0, 9) === 0) await writer.flush('idle');
          }
          if (last) await writer.flush('shutdown');
        } catch (error) {
          if (!/^crash/.test((error as Error).message)) throw error;
        }
        // A crash loses the buffers; only commits and the lake survive.
        committed = Math.max(committed, ...commits);
        if (last) break;
      }
      conflicts += store.conflicts;
      const expected = log.filter((r) => toLakeLine(r).ok).map((r) => r.offset);
      expect(store.rawOffsets().sort((a, b) => a - b), `trial ${trial}`).toEqual(expected);
    }
    // The trials must really exercise restarts that meet objects a crashed run left behind, and
    // restarts the lake moved.
    expect(conflicts).toBeGreaterThan(20);
    expect(moves).toBeGreaterThan(100);
  });
});

describe('the lake as the truth about a partition', () => {
  /** A writer for a group whose consumer starts at `start`, following the lake where it sends it; reads up to `end`. */
  async function land(store: MemoryStore, log: readonly SinkRecord[], start: number, end: number, limits: Partial<FlushLimits> = {}) {
    const { writer, commits } = setup({ maxRecords: 700, ...limits }, store);
    const from = (await writer.open(start, log.length)) ?? start;
    for (let o = from; o < end; o += 1) await writer.add(log[o] as SinkRecord);
    await writer.flush('shutdown');
    return commits;
  }

  it('another group starting ahead, then the first one resuming behind it: every record once, nothing lost', async () => {
    const store = new MemoryStore();
    const log = Array.from({ length: 15_000 }, (_, o) => record(o, T0 + o * 100));
    await land(store, log, 0, 5_000); // group A lands 5,000 and stops
    await land(store, log, 10_000, 15_000); // group B, positioned at the latest offsets, lands the next 5,000
    await land(store, log, 5_000, 15_000); // group A resumes from its committed offset
    const offsets = store.rawOffsets();
    expect(offsets).toHaveLength(15_000);
    expect(new Set(offsets).size).toBe(15_000);
    expect(store.positions.get('pinterest.geo.v1/2')?.position.ranges.map((r) => [r.from, r.to])).toEqual([[0, 15_000]]);
  });

  it('an offset reset into the middle of an object, and a new group from the earliest offset, write nothing again', async () => {
    const store = new MemoryStore();
    const log = Array.from({ length: 3_000 }, (_, o) => record(o, T0 + o * 100));
    await land(store, log, 0, 2_000);
    const objects = store.objects.size;
    expect(await land(store, log, 1_234, 2_000)).toEqual([]);
    // Retention removed offsets below 500; a group without offsets starts at the earliest.
    await land(store, log, 500, 3_000);
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual(Array.from({ length: 3_000 }, (_, o) => o));
    expect(store.objects.size).toBe(objects + 2);
  });

  it('refuses a re-created topic: Kafka ends below what the lake holds, or holds another record where the lake has one', async () => {
    const store = new MemoryStore();
    const log = Array.from({ length: 100 }, (_, o) => record(o));
    await land(store, log, 0, 100);
    const before = structuredClone([...store.objects.keys(), store.positions.get('pinterest.geo.v1/2')]);

    const shorter = setup({}, store).writer;
    await expect(shorter.open(0, 40)).rejects.toThrow(/pinterest\.geo\.v1 partition 2 ends at offset 40 in Kafka, but the lake already holds its offsets up to 99: the topic was deleted and re-created/);
    await expect(shorter.open(0, 40)).rejects.toMatchObject({ code: 'PINPIPE_LAKE_CONFLICT' });

    // Re-created and already past the old end: the record at the lake's last known offset differs.
    const longer = setup({}, store).writer;
    const moveTo = (await longer.open(100, 500)) as number;
    expect(moveTo).toBe(99);
    const other = { ...record(99, T0 + 7 * HOUR), headers: { [RECORD_HEADERS.eventId]: 'another' } };
    expect(() => longer.add(other)).toThrow(/holds another record at offset 99 than the lake does .*the topic was deleted and re-created/);
    expect(structuredClone([...store.objects.keys(), store.positions.get('pinterest.geo.v1/2')])).toEqual(before);
  });

  it('keeps one bucket per hour: late records join their own hour instead of cutting objects short', async () => {
    const rng = xoroshiro128plus(20261202);
    const count = (late: boolean) => {
      const store = new MemoryStore();
      // 30,000 records at 1,000/s from the top of an hour; 0.5% of them minutes late.
      const log = Array.from({ length: 30_000 }, (_, o) => record(o, T0 + o - (late && uniformInt(rng, 0, 199) === 0 ? uniformInt(rng, 60_000, 300_000) : 0)));
      return land(store, log, 0, 30_000, { maxRecords: 500 }).then(() => ({ objects: store.objects.size, offsets: store.rawOffsets() }));
    };
    const onTime = await count(false);
    const withLate = await count(true);
    expect(withLate.offsets.sort((a, b) => a - b)).toEqual(Array.from({ length: 30_000 }, (_, o) => o));
    expect(onTime.objects).toBe(60);
    expect(Math.abs(withLate.objects - onTime.objects) / onTime.objects).toBeLessThanOrEqual(0.1);
  });

  it('commits the lowest offset an open bucket still holds, and flushes the earliest hour beyond the bound', async () => {
    const { writer, store, commits } = setup({ maxRecords: 3, maxOpenHours: 2 });
    await writer.add(record(0, T0 + HOUR)); // hour 11
    await writer.add(record(1, T0)); // hour 10, late
    for (let o = 2; o < 5; o += 1) await writer.add(record(o, T0 + HOUR));
    await writer.settle();
    // Hour 11 [0, 2, 3] is written; offset 1 is still held by hour 10, so only offset 0 and below is committed.
    expect(commits).toEqual([1]);
    await writer.add(record(5, T0 + 2 * HOUR)); // hour 12: a third hour, so hour 10 (the earliest) is flushed first
    await writer.settle();
    expect([...store.objects.keys()].map((k) => `${parseObjectKey(k)?.hour}:${parseObjectKey(k)?.startOffset}`)).toEqual(['11:0', '10:1']);
    expect(commits).toEqual([1, 4]);
  });
});

/** A sink over `store` with the test defaults (gzip level 1, no commits, no memory pressure, quiet logs); `options` override them. */
function testSink(store: ObjectStore, options: Partial<SinkOptions> = {}): Sink {
  return new Sink({ store, format: ndjsonGzip(1), commit: async () => undefined, limits: LIMITS, maxBufferBytes: 1 << 30, logger: createLogger('test', 'error'), ...options });
}

describe('sink', () => {
  it('flushes the largest buffers when memory passes the ceiling', async () => {
    const store = new MemoryStore();
    const commits: string[] = [];
    const sink = testSink(store, {
      commit: async (t, p, o) => {
        commits.push(`${p}:${o}`);
      },
      maxBufferBytes: 1024 * 1024,
    });
    const big = Buffer.from(JSON.stringify({ ind: 1, pad: 'x'.repeat(10_000) }));
    await sink.handleBatch(Array.from({ length: 120 }, (_, o) => ({ ...record(o, T0, big), partition: 0 })));
    expect(sink.bufferedBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(commits.length).toBeGreaterThan(0);
    await sink.flushAll();
    expect(sink.bufferedBytes).toBe(0);
    expect(store.rawOffsets()).toHaveLength(120);
  });

  it('waits for every flush before reporting the first failure', async () => {
    const finished: string[] = [];
    const later = (name: string, ms: number, fail = false) =>
      new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          finished.push(name);
          if (fail) reject(new Error(name));
          else resolve();
        }, ms),
      );
    await expect(allOrFirstError([later('slow', 30), later('fails', 1, true), later('fails too', 10, true)])).rejects.toThrow('fails');
    expect(finished).toEqual(['fails', 'fails too', 'slow']);
    await expect(allOrFirstError([later('a', 1), later('b', 2)])).resolves.toBeUndefined();
  });

  it('forgets uncommitted buffers on reset, and the redelivery lands once', async () => {
    const store = new MemoryStore();
    const sink = testSink(store);
    await sink.handleBatch([record(0), record(1)]);
    await sink.reset();
    await sink.handleBatch([record(0), record(1), record(2)]);
    await sink.flushAll();
    expect(store.rawOffsets()).toEqual([0, 1, 2]);
  });
});

/** An object store whose puts wait for `open()`, to hold the lane while batches queue up. */
class GatedStore extends MemoryStore {
  private readonly gate: Promise<void>;
  readonly open: () => void;
  constructor() {
    super();
    let open: () => void = () => undefined;
    this.gate = new Promise((resolve) => (open = resolve));
    this.open = open;
  }
  override async putIfAbsent(key: string, body: Buffer, endOffset: number) {
    await this.gate;
    return super.putIfAbsent(key, body, endOffset);
  }
}

function batchOf(partition: number, from: number, to: number): { topic: string; partition: number; firstOffset: number; bytes: number; records: () => SinkRecord[] } {
  const records = Array.from({ length: to - from }, (_, i) => ({ ...record(from + i), partition }));
  return { topic: 'pinterest.geo.v1', partition, firstOffset: from, bytes: records.reduce((sum, r) => sum + (r.value?.length ?? 0), 0), records: () => records };
}

const settled = (promise: Promise<unknown>) => Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 20))]);

describe('fetch-ahead lane', () => {
  it('keeps what waits for the lane within its bounds, and makes the consumer wait beyond them', async () => {
    const store = new GatedStore();
    const repositioned: number[] = [];
    const sink = testSink(store, {
      limits: { ...LIMITS, maxRecords: 10 },
      queue: { maxBatches: 3, maxBytes: 1 << 30 },
      reposition: (_t, _p, offset) => repositioned.push(offset),
    });
    // The first rotation's write hangs, so the second rotation holds the lane.
    const waits: boolean[] = [];
    let most = 0;
    const consumer = (async () => {
      for (let from = 0; from < 100; from += 10) {
        const room = sink.enqueue(batchOf(0, from, from + 10));
        most = Math.max(most, sink.queued.batches);
        waits.push(!(await settled(room)));
        await room;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Two batches went through (the second waits on the first write), three wait: the bound.
    expect(sink.queued.batches).toBe(4);
    expect(await settled(consumer)).toBe(false);
    store.open();
    await consumer;
    await sink.flushAll();
    expect(most).toBe(4);
    expect(waits.filter(Boolean).length).toBeGreaterThan(0);
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, o) => o));
    expect(repositioned).toEqual([]);
    expect(sink.queued).toEqual({ batches: 0, bytes: 0 });
  });

  it('bounds the queued bytes as well', async () => {
    const store = new GatedStore();
    const sink = testSink(store, {
      limits: { ...LIMITS, maxRecords: 10 },
      queue: { maxBatches: 1000, maxBytes: batchOf(0, 0, 10).bytes + batchOf(0, 10, 20).bytes },
      reposition: () => undefined,
    });
    const rooms = [];
    for (let from = 0; from < 60; from += 10) rooms.push(sink.enqueue(batchOf(0, from, from + 10)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Room comes back only as the lane gets through batches: it is stuck behind the gated write.
    expect(await Promise.all(rooms.map(settled))).toEqual([true, true, false, false, false, false]);
    store.open();
    await Promise.all(rooms);
    await sink.flushAll();
    expect(store.rawOffsets()).toHaveLength(60);
  });

  it('discards batches queued before a rebalance; each partition lands once from where the lake ends', async () => {
    const store = new GatedStore();
    const commits = new Map<number, number>();
    const moves: number[] = [];
    const sink = testSink(store, {
      commit: async (_t, p, o) => {
        commits.set(p, o);
      },
      limits: { ...LIMITS, maxRecords: 10 },
      reposition: (_t, _p, offset) => moves.push(offset),
    });
    // Partition 0: a rotation is being written (gated), the next one holds the lane.
    const rooms = [sink.enqueue(batchOf(0, 0, 10)), sink.enqueue(batchOf(0, 10, 20)), sink.enqueue(batchOf(0, 20, 25))];
    // Partition 1 was fetched by the old generation and goes to another member in the rebalance;
    // processed, it would rotate and write an object.
    rooms.push(sink.enqueue(batchOf(1, 0, 12)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reset = sink.reset();
    // The new generation reads partition 0 again from its committed offset (none yet: 0).
    rooms.push(sink.enqueue(batchOf(0, 0, 25)));
    store.open();
    await Promise.all(rooms);
    await reset;
    await sink.flushAll();
    // The old generation landed 0..9 (and maybe 10..19, its write still finishing) before the new
    // one reached the partition: it was moved to the lake's last record, and reads on from there.
    expect(moves).toHaveLength(1);
    expect([9, 19]).toContain(moves[0]);
    await sink.enqueue(batchOf(0, moves[0] as number, 25));
    await sink.flushAll();
    const keys = [...store.objects.keys()];
    expect(keys.filter((k) => k.includes('+1+'))).toEqual([]);
    expect(store.rawOffsets().sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, o) => o));
    expect(commits.get(0)).toBe(25);
    expect(commits.has(1)).toBe(false);
  });

  it('moves a partition back to the end of the lake after a failed write: no gap, no duplicate', async () => {
    const rng = xoroshiro128plus(20261130);
    let repositionings = 0;
    for (let trial = 0; trial < 150; trial += 1) {
      class FlakyStore extends MemoryStore {
        failing = false;
        override async putIfAbsent(key: string, body: Buffer, endOffset: number) {
          await new Promise((resolve) => setImmediate(resolve));
          if (this.failing && uniformInt(rng, 0, 2) === 0) throw new Error('S3 unavailable');
          return super.putIfAbsent(key, body, endOffset);
        }
      }
      const store = new FlakyStore();
      store.failing = true;
      const partitions = [0, 1];
      const total = uniformInt(rng, 1, 150);
      // Records spread over a few hours, a few undecodable, as a partition really looks.
      const logs = partitions.map((partition) =>
        Array.from({ length: total }, (_, o) => ({
          ...record(o, T0 + Math.floor((o * HOUR) / 50), uniformInt(rng, 0, 19) === 0 ? Buffer.from('garbage') : undefined),
          partition,
        })),
      );
      // The consumer's positions: fetch-ahead moves them past what the lane has processed.
      const position = [0, 0];
      const forward: number[] = [];
      const sink = testSink(store, {
        limits: { ...LIMITS, maxRecords: uniformInt(rng, 1, 30) },
        // Sometimes small enough that memory flushes of other partitions fail too.
        maxBufferBytes: uniformInt(rng, 0, 1) === 0 ? 2_000 : 1 << 30,
        logger: createLogger('test', 'error'),
        queue: { maxBatches: uniformInt(rng, 1, 5), maxBytes: 1 << 30 },
        reposition: (_t, partition, offset) => {
          repositionings += 1;
          if (offset > (position[partition] as number)) forward.push(offset);
          position[partition] = offset;
        },
      });
      for (let round = 0; ; round += 1) {
        if (round === 200) store.failing = false;
        const open = partitions.filter((p) => (position[p] as number) < total);
        if (open.length === 0) {
          // Let the lane finish; a late failure may move a partition back.
          await sink.tick();
          if (partitions.every((p) => (position[p] as number) >= total)) break;
          continue;
        }
        const p = open[uniformInt(rng, 0, open.length - 1)] as number;
        const from = position[p] as number;
        const to = Math.min(total, from + uniformInt(rng, 1, 12));
        const log = logs[p] as SinkRecord[];
        position[p] = to;
        await sink.enqueue({ topic: 'pinterest.geo.v1', partition: p, firstOffset: from, bytes: 100 * (to - from), records: () => log.slice(from, to) });
      }
      store.failing = false;
      await sink.flushAll();
      // Moving a partition forward would skip what the consumer never handed over.
      expect(forward).toEqual([]);
      for (const p of partitions) {
        const expected = (logs[p] as SinkRecord[]).filter((r) => toLakeLine(r).ok).map((r) => r.offset);
        const landed = [...store.objects.entries()]
          .filter(([key]) => key.startsWith('raw/') && key.includes(`+${p}+`))
          .flatMap(([key]) => store.lines(key).map((l) => l.offset as number));
        expect(landed.sort((a, b) => a - b), `trial ${trial} partition ${p}`).toEqual(expected);
      }
    }
    // The trials must really exercise failed writes after their batches were handed over.
    expect(repositionings).toBeGreaterThan(100);
  });
});
