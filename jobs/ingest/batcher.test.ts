import { describe, expect, it } from 'vitest';
import { BatcherClosedError, MicroBatcher, QueueFullError, type BatcherOptions, type SendBatch } from './batcher.js';
import type { KafkaMessage, OutgoingRecord, PartitionOffset, StoredRecord } from './types.js';

let nextId = 0;
function record(topic: string, partition: number, bytes = 100): OutgoingRecord {
  const eventId = `e${(nextId += 1)}`;
  const id = Buffer.from(eventId);
  return { type: 'geo', topic, partition, eventId, bytes, message: { topic, partition, key: id, value: id, timestamp: 0n, headers: new Map([[Buffer.from('pinpipe-event-id'), id]]) } };
}

/**
 * A fake broker that appends each produce request's records to per-partition logs the way Kafka
 * does (one base offset per topic-partition, records in request order) and answers only the base
 * offsets, so the batcher has to work out every record's offset itself.
 */
class FakeBroker {
  readonly logs = new Map<string, string[]>();
  readonly requests: KafkaMessage[][] = [];
  failNext = 0;
  gate: Promise<void> | undefined;

  readonly send: SendBatch = async (messages) => {
    if (this.gate) await this.gate;
    await Promise.resolve();
    this.requests.push(messages);
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('broker down');
    }
    const byPartition = new Map<string, string[]>();
    for (const m of messages) {
      const key = `${m.topic}|${String(m.partition)}`;
      byPartition.set(key, [...(byPartition.get(key) ?? []), m.value.toString()]);
    }
    const metadata: PartitionOffset[] = [];
    for (const [key, ids] of byPartition) {
      const [topic = '', partition] = key.split('|');
      const log = this.logs.get(key) ?? [];
      this.logs.set(key, log);
      metadata.push({ topic, partition: Number(partition), baseOffset: BigInt(log.length) });
      log.push(...ids);
    }
    return metadata.reverse(); // the order of the answer must not matter
  };

  /** The event id Kafka holds at a record's reported coordinates. */
  at(stored: StoredRecord): string | undefined {
    return this.logs.get(`${stored.topic}|${stored.partition}`)?.[Number(stored.offset)];
  }
}

function batcher(broker: FakeBroker, options: Partial<BatcherOptions> = {}): MicroBatcher {
  return new MicroBatcher({ send: broker.send, maxQueuedRecords: 10_000, maxBatchRecords: 1_000, maxPartitionBytes: 1_000_000, maxBatchBytes: 16_000_000, lingerMs: 1, ...options });
}

describe('MicroBatcher', () => {
  it('reports for every record exactly the partition and offset the broker stored it at', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker, { maxBatchRecords: 7 });
    // Concurrent requests mixing topics and partitions, so records of one topic-partition interleave across requests.
    const topics = ['pinterest.pin.v1', 'pinterest.geo.v1', 'pinterest.user.v1'];
    const requests = Array.from({ length: 20 }, (_, r) => Array.from({ length: 1 + (r % 6) }, (_, i) => record(topics[(r + i) % 3] as string, (r * 7 + i) % 3)));
    const results = await Promise.all(requests.map((records) => b.submit(records)));
    for (const [r, records] of requests.entries()) {
      const stored = results[r] as StoredRecord[];
      expect(stored.map((s) => s.eventId)).toEqual(records.map((x) => x.eventId));
      for (const [i, s] of stored.entries()) {
        expect(s.topic).toBe(records[i]?.topic);
        expect(s.partition).toBe(records[i]?.partition);
        expect(broker.at(s)).toBe(s.eventId);
      }
    }
    // Micro-batched: fewer produce requests than HTTP requests, none above the limit.
    expect(broker.requests.length).toBeLessThan(requests.length);
    for (const request of broker.requests) expect(request.length).toBeLessThanOrEqual(7);
    expect(b.depth).toBe(0);
  });

  it('splits a large request across produce requests by record count and per-partition bytes, in order', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker, { maxBatchRecords: 4, maxPartitionBytes: 250 });
    const records = Array.from({ length: 10 }, () => record('t', 0, 100));
    const stored = await b.submit(records);
    expect(broker.requests.map((r) => r.length)).toEqual([2, 2, 2, 2, 2]); // 2 × 100 bytes fit in 250
    expect(stored.map((s) => s.offset)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(broker.logs.get('t|0')).toEqual(records.map((r) => r.eventId));
  });

  it('sends one record larger than the per-partition limit on its own rather than never', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker, { maxPartitionBytes: 100 });
    const stored = await b.submit([record('t', 0, 500), record('t', 0, 500), record('t', 1, 50)]);
    expect(stored.map((s) => broker.at(s) === s.eventId)).toEqual([true, true, true]);
    expect(broker.requests).toHaveLength(2);
  });

  it('fails every request in a failed batch, drops their waiting records, and goes on with the next', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker, { maxBatchRecords: 3 });
    let release!: () => void;
    broker.gate = new Promise((resolve) => (release = resolve));
    const first = b.submit([record('t', 0), record('t', 1), record('t', 2), record('t', 0), record('t', 1)]); // 3 in the first batch, 2 waiting
    const second = b.submit([record('t', 2)]);
    broker.failNext = 1;
    release();
    broker.gate = undefined;
    await expect(first).rejects.toThrow('broker down');
    // The second request's record was not in the failed batch: it is sent next, alone.
    const [stored] = await second;
    expect(broker.at(stored as StoredRecord)).toBe(stored?.eventId);
    expect(broker.requests.map((r) => r.length)).toEqual([3, 1]);
    expect(b.depth).toBe(0);
  });

  it('refuses records beyond --max-queued-records, counting those in flight', async () => {
    const broker = new FakeBroker();
    let release!: () => void;
    broker.gate = new Promise((resolve) => (release = resolve));
    const b = batcher(broker, { maxQueuedRecords: 5, lingerMs: 0 });
    const held = b.submit([record('t', 0), record('t', 0), record('t', 0)]);
    await new Promise((r) => setTimeout(r, 5)); // in flight now
    const more = b.submit([record('t', 0), record('t', 0)]);
    expect(b.depth).toBe(5);
    await expect(b.submit([record('t', 0)])).rejects.toBeInstanceOf(QueueFullError);
    release();
    await Promise.all([held, more]);
    expect(b.depth).toBe(0);
    await expect(b.submit([record('t', 0)])).resolves.toHaveLength(1);
  });

  it('waits up to lingerMs when idle, so concurrent requests share a produce request', async () => {
    const broker = new FakeBroker();
    const pending: Array<() => void> = [];
    const timers = { setTimeout: (cb: () => void) => pending.push(cb), clearTimeout: () => undefined, now: () => 0 };
    const b = batcher(broker, { lingerMs: 5, timers });
    const a = b.submit([record('t', 0)]);
    const c = b.submit([record('t', 1)]);
    await Promise.resolve();
    expect(broker.requests).toHaveLength(0);
    expect(pending).toHaveLength(1);
    pending[0]?.();
    await Promise.all([a, c]);
    expect(broker.requests).toHaveLength(1);
  });

  it('flushes what is queued on close, then refuses new records', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker, { lingerMs: 60_000 });
    const queued = b.submit([record('t', 0), record('t', 1)]);
    await b.close();
    await expect(queued).resolves.toHaveLength(2);
    await expect(b.submit([record('t', 0)])).rejects.toBeInstanceOf(BatcherClosedError);
  });

  it('sends the records of concurrent requests in queue order, each as prepared', async () => {
    const broker = new FakeBroker();
    const b = batcher(broker);
    const first = [record('a', 0), record('b', 0)];
    const second = [record('a', 1), record('b', 1), record('a', 0)];
    await Promise.all([b.submit(first), b.submit(second)]);
    expect(broker.requests).toHaveLength(1);
    const sent = broker.requests[0] ?? [];
    expect(sent).toHaveLength(5);
    [...first, ...second].forEach((r, i) => expect(sent[i]).toBe(r.message));
  });
});
