import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../lib/kafka.js';
import { createLogger } from '../lib/logger.js';
import { projectRoot } from '../lib/paths.js';
import { privateTopics, serviceEnv, serviceSettings, topicEnv } from '../test/services.js';
import { startIngest, type IngestProcess } from './test/ingest-process.js';
import { endOffsets, readBetween } from './test/kafka-reader.js';

const run = promisify(execFile);
const STACK = join(projectRoot(), 'stack', 'stack.sh');
const KEY = `it-key-${process.pid}-kafka-down-0123456789`;
/** A request that takes longer than this counts as a hang: the test fails. */
const REQUEST_BOUND_MS = 15_000;

const kafka = createKafka(serviceSettings(), createLogger('ingest-it', 'error'));
// Topics of this file's own: the default ones belong to the user's stack.
const topics = privateTopics('it-ingest');
const env = { ...serviceEnv(), ...topicEnv(topics) };
let ingest: IngestProcess | undefined;
let kafkaStopped = false;

async function stack(action: 'up' | 'down'): Promise<void> {
  // Bringing Kafka back matters more than anything else here: try a few times.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await run('bash', [STACK, action, 'kafka'], { timeout: 180_000 });
      break;
    } catch (error) {
      if (action === 'down' || attempt >= 3) throw error;
      await sleep(3_000);
    }
  }
  kafkaStopped = action === 'down';
}

afterAll(async () => {
  // Other tests and engineers need Kafka: always bring it back.
  if (kafkaStopped) await stack('up');
  await ingest?.stop();
});

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - started;
}

async function readyz(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  return res?.status ?? 0;
}

interface Ack {
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
}

describe('pinpipe ingest while Kafka goes away and comes back', () => {
  it('answers 503 with Retry-After (no hang, no crash), turns unready, recovers, and every acknowledged record is in Kafka exactly once', { timeout: 300_000 }, async () => {
    ingest = await startIngest(['--api-keys', KEY], env);
    const { url } = ingest;
    const before = await endOffsets(kafka, topics);

    const acked = new Map<string, Ack>();
    const refusals: Array<{ status: number; retryAfter: string | null; code: unknown; ms: number }> = [];
    const failures: string[] = [];
    let stopClient = false;
    let ind = 5_000_000 + (Date.now() % 1_000_000) * 10;
    const client = (async () => {
      while (!stopClient) {
        const lines = Array.from({ length: 20 }, () => {
          ind += 1;
          return JSON.stringify({ type: 'geo', record: { ind, timestamp: '2026-01-01 00:00:00', latitude: 10, longitude: 20, country: 'Chile' } });
        });
        const started = Date.now();
        try {
          const res = await fetch(`${url}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
            body: lines.join('\n'),
            signal: AbortSignal.timeout(REQUEST_BOUND_MS),
          });
          const body = (await res.json()) as { records?: Ack[]; code?: unknown };
          if (res.ok) {
            expect(body.records).toHaveLength(20);
            for (const r of body.records ?? []) acked.set(r.eventId, { eventId: r.eventId, topic: r.topic, partition: r.partition, offset: r.offset });
          } else {
            refusals.push({ status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code, ms: Date.now() - started });
            await sleep(200);
          }
        } catch (error) {
          failures.push(`${(error as Error).name}: ${(error as Error).message} after ${Date.now() - started} ms`);
          await sleep(200);
        }
        await sleep(20);
      }
    })();

    try {
      await waitFor('acknowledged records before the outage', () => acked.size >= 100, 30_000);
      const ackedBefore = acked.size;

      await stack('down');
      await waitFor('a 503 while Kafka is down', () => refusals.length > 0, 30_000);
      await waitFor('/readyz answering 503', async () => (await readyz(url)) === 503, 30_000);
      await sleep(2_000); // keep posting into the outage for a while
      const ackedDuring = acked.size;

      await stack('up');
      const recoveredMs = await waitFor('/readyz answering 200 again', async () => (await readyz(url)) === 200, 90_000);
      await waitFor('acknowledged records after the outage', () => acked.size >= ackedDuring + 100, 60_000);
      stopClient = true;
      await client;

      expect(failures, 'requests that failed or hung instead of answering').toEqual([]);
      expect(refusals.length).toBeGreaterThan(0);
      for (const r of refusals) {
        expect(r).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });
        expect(['PINPIPE_DEPENDENCY_UNAVAILABLE', 'PINPIPE_OVERLOADED']).toContain(r.code);
        expect(r.ms).toBeLessThan(REQUEST_BOUND_MS);
      }
      expect(ingest.child.exitCode, 'ingest must not exit while Kafka is down').toBeNull();
      expect(ackedBefore).toBeGreaterThan(0);
      expect(recoveredMs).toBeLessThan(90_000);

      // Nothing acknowledged is missing, nothing is there twice, and it is where ingest said.
      const after = await endOffsets(kafka, topics);
      const found = await readBetween(kafka, topics, before, after, new Set(acked.keys()), 90_000);
      const missing = [...acked.keys()].filter((id) => !found.has(id));
      const doubled = [...found].filter(([, copies]) => copies.length > 1).map(([id]) => id);
      expect(missing, 'acknowledged but not in Kafka').toEqual([]);
      expect(doubled, 'in Kafka more than once').toEqual([]);
      for (const [id, ack] of acked) {
        const [copy] = found.get(id) ?? [];
        expect({ topic: copy?.topic, partition: copy?.partition, offset: copy?.offset }).toEqual({ topic: ack.topic, partition: ack.partition, offset: ack.offset });
      }
    } finally {
      stopClient = true;
      await client;
      if (kafkaStopped) await stack('up');
    }
  });
});
