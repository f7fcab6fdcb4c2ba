import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TypedRecord } from '../lib/contracts.js';
import { ConfigError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { HttpOutput } from './outputs.js';

const logger = createLogger('test', 'error');
const geo = (ind: number): TypedRecord => ({ type: 'geo', record: { ind, timestamp: '2020-08-28 03:52:47', latitude: 1, longitude: 2, country: 'X' } });

interface Seen {
  body: string;
  auth: string | undefined;
  path: string | undefined;
}

let server: Server | undefined;

/** A peer that answers each request with the next scripted response. */
async function peer(responses: Array<{ status: number; body?: unknown; headers?: Record<string, string> }>): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ body, auth: req.headers.authorization, path: req.url });
      const next = responses[Math.min(seen.length - 1, responses.length - 1)] as (typeof responses)[number];
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(JSON.stringify(next.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running) await new Promise((resolve) => running.close(resolve));
});

describe('posting to ingest', () => {
  it('sends NDJSON batches of the configured size with the bearer token', async () => {
    const { url, seen } = await peer([{ status: 200, body: { accepted: 2 } }]);
    const out = new HttpOutput({ url, apiKey: 'k1', batchSize: 2, retryDeadlineMs: 60_000, logger, signal: new AbortController().signal });
    await out.write([geo(1), geo(2), geo(3)]);
    await out.close();
    expect(seen.map((s) => s.body.trim().split('\n').length)).toEqual([2, 1]);
    expect(seen[0]).toMatchObject({ auth: 'Bearer k1', path: '/v1/events' });
    const line = JSON.parse(seen[1]?.body.split('\n')[0] ?? '') as { eventId: string };
    expect(line).toEqual({ ...geo(3), eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // One id per record.
    const ids = seen.flatMap((s) => s.body.trim().split('\n').map((l) => (JSON.parse(l) as { eventId: string }).eventId));
    expect(new Set(ids).size).toBe(3);
  });

  it('waits as Retry-After says when ingest answers 503, then delivers the same batch', async () => {
    const { url, seen } = await peer([{ status: 503, headers: { 'retry-after': '0' } }, { status: 200 }]);
    const out = new HttpOutput({ url, batchSize: 1, retryDeadlineMs: 60_000, logger, signal: new AbortController().signal });
    await out.write([geo(1)]);
    await out.close();
    expect(seen).toHaveLength(2);
    // The same bytes, event ids included: ingest's downstream counts the retried records once.
    expect(seen[1]?.body).toBe(seen[0]?.body);
    expect(out.retried).toBe(1);
  });

  it('counts the lines ingest rejected', async () => {
    const { url } = await peer([{ status: 200, body: { accepted: 1, rejected: [{ line: 2, field: 'record.ind', reason: 'is required' }] } }]);
    const out = new HttpOutput({ url, batchSize: 10, retryDeadlineMs: 60_000, logger, signal: new AbortController().signal });
    await out.write([geo(1), geo(2)]);
    await out.close();
    expect(out.rejected).toBe(1);
  });

  it('stops with a configuration error on 401', async () => {
    const { url } = await peer([{ status: 401, body: { code: 'PINPIPE_AUTH_MISSING' } }]);
    const out = new HttpOutput({ url, batchSize: 1, retryDeadlineMs: 60_000, logger, signal: new AbortController().signal });
    await expect(out.write([geo(1)])).rejects.toThrow(ConfigError);
  });

  it('keeps retrying through an outage longer than ten attempts, until ingest answers', async () => {
    const outage = Array.from({ length: 14 }, () => ({ status: 503, headers: { 'retry-after': '0' } }));
    const { url, seen } = await peer([...outage, { status: 200 }]);
    const out = new HttpOutput({ url, batchSize: 2, retryDeadlineMs: 60_000, logger, signal: new AbortController().signal });
    await out.write([geo(1), geo(2)]);
    await out.close();
    expect(seen).toHaveLength(15);
    expect(new Set(seen.map((s) => s.body)).size).toBe(1);
    expect(out.retried).toBe(2);
  });

  it('gives up once the retry deadline has passed while ingest stays busy', async () => {
    const { url, seen } = await peer([{ status: 503, headers: { 'retry-after': '1' } }]);
    const out = new HttpOutput({ url, batchSize: 1, retryDeadlineMs: 2_500, logger, signal: new AbortController().signal });
    await expect(out.write([geo(1)])).rejects.toThrow(/stayed busy \(503\) for longer than --retry-deadline \(3 s, 3 attempts\); 1 records of this batch were not delivered/);
    expect(seen).toHaveLength(3);
  });

  it('gives up with a dependency error when nothing listens past the deadline', async () => {
    const out = new HttpOutput({ url: 'http://127.0.0.1:9', batchSize: 1, retryDeadlineMs: 500, logger, signal: new AbortController().signal });
    await expect(out.write([geo(1)])).rejects.toThrow(/ingest at .* could not be reached .* for longer than --retry-deadline/);
  });
});
