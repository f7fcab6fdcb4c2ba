import type pg from 'pg';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Aggregator, type AggRecord } from './aggregator.js';
import { createAggMetrics } from './metrics.js';

/**
 * A PostgreSQL stand-in: every statement succeeds and matches as many rows as its arrays hold
 * (so the fenced-offset checks pass), and each COMMIT waits until the test lets it through.
 */
function fakePool() {
  const commits: Array<() => void> = [];
  let committed = 0;
  const query = async (text: string, params?: unknown[]) => {
    if (text === 'COMMIT') {
      await new Promise<void>((resolve) => commits.push(resolve));
      committed += 1;
    }
    return { rows: [], rowCount: Array.isArray(params?.[1]) ? params[1].length : 0 };
  };
  const pool = { query, connect: async () => ({ query, release: () => undefined }) } as unknown as pg.Pool;
  return {
    pool,
    /** COMMITs waiting to be let through. */
    waiting: () => commits.length,
    committed: () => committed,
    commitOne: () => (commits.shift() as () => void)(),
  };
}

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const pins = (from: number, n: number): AggRecord[] =>
  Array.from({ length: n }, (_, i) => ({ offset: from + i, timestampMs: T0 + from + i, value: Buffer.from(JSON.stringify({ unique_id: `u${from + i}`, category: 'art', poster_name: `p${i}`, follower_count: '1k' })), eventId: null }));

function aggregator(pool: pg.Pool) {
  return new Aggregator({
    pool,
    groupId: 'g',
    windowMs: 60_000,
    latenessMs: 10_000,
    idleTimeoutMs: 60_000,
    dedupeHorizonMs: 600_000,
    topics: new Map([['pins', 'pin']]),
    seek: () => undefined,
    partitionEnds: async (topics) => topics.map((topic) => ({ topic, partition: 0, low: 0, high: 100 })),
    pgRetryMs: 0,
    logger: createLogger('test', 'error'),
    metrics: createAggMetrics(new Registry()),
  });
}

/** Whether a promise settles within a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
  return done;
}

describe('Aggregator.flushIfFull', () => {
  it('starts a flush of a full delta without waiting for it, and holds the caller only while the previous flush is still being written', async () => {
    const pg = fakePool();
    const agg = aggregator(pg.pool);
    await agg.assign([{ topic: 'pins', partition: 0 }]);

    await agg.handleBatch('pins', 0, pins(0, 2));
    expect(await settles(agg.flushIfFull(3))).toBe(true); // not full: nothing to do
    expect(pg.waiting()).toBe(0);

    await agg.handleBatch('pins', 0, pins(2, 2));
    expect(await settles(agg.flushIfFull(3))).toBe(true); // full: the flush starts, the caller goes on
    await vi.waitFor(() => expect(pg.waiting()).toBe(1));
    expect(agg.pendingRecords).toBe(0); // consumption goes on into a fresh delta

    await agg.handleBatch('pins', 0, pins(4, 3));
    const held = agg.flushIfFull(3); // full again while the first flush is still being written
    expect(await settles(held)).toBe(false);
    expect(pg.waiting()).toBe(1);

    pg.commitOne();
    await held; // released once the first flush committed, having started the second
    expect(pg.committed()).toBe(1);
    await vi.waitFor(() => expect(pg.waiting()).toBe(1));
    expect(agg.pendingRecords).toBe(0);
    pg.commitOne();
    await vi.waitFor(() => expect(pg.committed()).toBe(2));
    // Nothing new, but windows are open: a flush still runs, for the watermark alone.
    const last = agg.flush();
    await vi.waitFor(() => expect(pg.waiting()).toBe(1));
    pg.commitOne();
    await last;
    expect(pg.committed()).toBe(3);
    expect(agg.failed).toBeUndefined();
  });
});
