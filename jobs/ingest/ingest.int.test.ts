import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventTime, RECORD_HEADERS, type TypedRecord } from '../lib/contracts.js';
import { createKafka } from '../lib/kafka.js';
import { createLogger } from '../lib/logger.js';
import { bundledDataFile } from '../lib/paths.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../emulate/generator.js';
import { loadSeedPins } from '../emulate/seed-pins.js';
import { privateTopics, serviceEnv, serviceSettings, topicEnv } from '../test/services.js';
import { startIngest, type IngestProcess } from './test/ingest-process.js';
import { endOffsets, readBetween } from './test/kafka-reader.js';

const KEY = `it-key-${process.pid}-0123456789abcdef`;
const AUTH = { authorization: `Bearer ${KEY}` };
const kafka = createKafka(serviceSettings(), createLogger('ingest-it', 'error'));
// Topics of this file's own: the default ones belong to the user's stack.
const topics = privateTopics('it-ingest');
const env = { ...serviceEnv(), ...topicEnv(topics) };

let ingest: IngestProcess;

beforeAll(async () => {
  ingest = await startIngest(['--api-keys', KEY, '--max-body-bytes', String(1024 * 1024)], env);
});

afterAll(async () => {
  await ingest?.stop();
});

interface Stored {
  eventId: string;
  topic: string;
  partition: number;
  offset: string;
}

async function samplePosts(count: number, firstInd: number): Promise<TypedRecord[]> {
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const records: TypedRecord[] = [];
  const posts = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 11, startTimeMs: Date.UTC(2026, 0, 1), firstInd, duplicateRate: 0 });
  for (const post of posts) {
    records.push(...postRecords(post));
    if (records.length >= count * 3) break;
  }
  return records;
}

function post(path: string, body: string | Uint8Array, headers: Record<string, string>, url = ingest.url): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
}

describe('pinpipe ingest against the real Kafka', () => {
  it('stores single records and a batch exactly where its responses say, keyed by ind, with event time and headers', async () => {
    const firstInd = 1_000_000 + (Date.now() % 1_000_000) * 10;
    const records = await samplePosts(120, firstInd);
    const [pin, geo, user, pin2] = records as [TypedRecord, TypedRecord, TypedRecord, TypedRecord];
    const batch = records.slice(4);
    const sent = new Map<string, TypedRecord>();
    const reported: Stored[] = [];
    const before = await endOffsets(kafka, topics);

    for (const [path, typed] of [
      ['/v1/pin', pin],
      ['/v1/geo', geo],
      ['/v1/user', user],
      ['/pin/', pin2],
    ] as const) {
      const res = await post(path, JSON.stringify(typed.record), { ...AUTH, 'content-type': 'application/json' });
      expect(res.status, path).toBe(200);
      const stored = (await res.json()) as Stored;
      expect(stored).toEqual({ eventId: expect.any(String), topic: topics[typed.type], partition: expect.any(Number), offset: expect.stringMatching(/^\d+$/) });
      sent.set(stored.eventId, typed);
      reported.push(stored);
    }

    // Two concurrent batches, so they share micro-batches inside ingest.
    const halves = [batch.slice(0, 180), batch.slice(180)];
    const answers = await Promise.all(
      halves.map(async (lines) => {
        const res = await post('/v1/events', `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`, { ...AUTH, 'content-type': 'application/x-ndjson' });
        expect(res.status).toBe(200);
        return (await res.json()) as { accepted: number; rejected: unknown[]; records: Array<Stored & { line: number }> };
      }),
    );
    answers.forEach((answer, h) => {
      const lines = halves[h] as TypedRecord[];
      expect(answer.accepted).toBe(lines.length);
      expect(answer.rejected).toEqual([]);
      expect(answer.records.map((r) => r.line)).toEqual(lines.map((_, i) => i + 1));
      for (const r of answer.records) {
        sent.set(r.eventId, lines[r.line - 1] as TypedRecord);
        reported.push({ eventId: r.eventId, topic: r.topic, partition: r.partition, offset: r.offset });
      }
    });
    expect(new Set(reported.map((r) => `${r.topic}|${r.partition}|${r.offset}`)).size).toBe(reported.length);

    const after = await endOffsets(kafka, topics);
    const found = await readBetween(kafka, topics, before, after, new Set(sent.keys()));
    for (const r of reported) {
      const copies = found.get(r.eventId) ?? [];
      expect(copies, r.eventId).toHaveLength(1);
      const [consumed] = copies;
      const typed = sent.get(r.eventId) as TypedRecord;
      expect({ topic: consumed?.topic, partition: consumed?.partition, offset: consumed?.offset }).toEqual({ topic: r.topic, partition: r.partition, offset: r.offset });
      expect(consumed?.key).toBe(String(typed.type === 'pin' ? typed.record.index : typed.record.ind));
      expect(JSON.parse(consumed?.value ?? '')).toEqual(typed.record);
      expect(consumed?.headers[RECORD_HEADERS.recordType]).toBe(typed.type);
      const ingestTime = Number(consumed?.headers[RECORD_HEADERS.ingestTime]);
      expect(Math.abs(ingestTime - Date.now())).toBeLessThan(5 * 60_000);
      const expectedTimestamp = typed.type === 'geo' ? parseEventTime(typed.record.timestamp) : ingestTime;
      expect(Number(consumed?.timestamp)).toBe(expectedTimestamp);
    }
  });

  it('answers a corpus of bad inputs with the right status, code and reason, and keeps serving', async () => {
    const [pin, geo] = (await samplePosts(1, 5)) as [TypedRecord, TypedRecord];
    const json = { ...AUTH, 'content-type': 'application/json' };
    const ndjson = { ...AUTH, 'content-type': 'application/x-ndjson' };
    const g = geo.record as Record<string, unknown>;
    const without = (field: string) => Object.fromEntries(Object.entries(g).filter(([k]) => k !== field));
    const cases: Array<{ name: string; path: string; body: string | Uint8Array; headers: Record<string, string>; status: number; code: string; details?: unknown; rejected?: unknown }> = [
      { name: 'malformed JSON', path: '/v1/geo', body: '{"ind": 1,', headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: '', reason: 'not valid JSON' }] },
      { name: 'wrong type', path: '/v1/geo', body: JSON.stringify({ ...g, latitude: '12.5' }), headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: 'latitude', reason: 'must be a number' }] },
      { name: 'missing field', path: '/v1/geo', body: JSON.stringify(without('ind')), headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: 'ind', reason: 'is required' }] },
      { name: 'not an object', path: '/v1/pin', body: '[1,2]', headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: '', reason: 'must be a JSON object' }] },
      { name: 'empty body', path: '/v1/pin', body: '', headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: '', reason: 'is empty' }] },
      { name: 'non-UTF-8 bytes', path: '/v1/geo', body: Buffer.concat([Buffer.from('{"country":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), headers: json, status: 400, code: 'PINPIPE_INPUT_INVALID', details: [{ field: '', reason: 'not valid UTF-8' }] },
      { name: 'huge body', path: '/v1/events', body: 'x'.repeat(1024 * 1024 + 1), headers: ndjson, status: 413, code: 'PINPIPE_BODY_TOO_LARGE' },
      { name: 'unknown record type as a route', path: '/v1/board', body: JSON.stringify(g), headers: json, status: 404, code: 'PINPIPE_ROUTE_NOT_FOUND' },
      { name: 'wrong content type', path: '/v1/geo', body: JSON.stringify(g), headers: { ...AUTH, 'content-type': 'text/csv' }, status: 415, code: 'PINPIPE_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'no content type', path: '/v1/geo', body: JSON.stringify(g), headers: AUTH, status: 415, code: 'PINPIPE_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'no token', path: '/v1/geo', body: JSON.stringify(g), headers: { 'content-type': 'application/json' }, status: 401, code: 'PINPIPE_UNAUTHORIZED' },
      { name: 'wrong token', path: '/v1/geo', body: JSON.stringify(g), headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-key-0123456789' }, status: 403, code: 'PINPIPE_FORBIDDEN' },
      {
        name: 'batch with only bad lines',
        path: '/v1/events',
        body: Buffer.concat([
          Buffer.from(`${JSON.stringify({ type: 'board', record: g })}\n{oops\n\n`),
          Buffer.from([0xff, 0xfe, 0x0a]),
          Buffer.from(`${JSON.stringify({ type: 'geo', record: without('country') })}\n`),
        ]),
        headers: ndjson,
        status: 400,
        code: 'PINPIPE_INPUT_INVALID',
        rejected: [
          { line: 1, field: 'type', reason: 'must be one of "pin", "geo", "user"', code: 'PINPIPE_INPUT_INVALID' },
          { line: 2, field: '', reason: 'not valid JSON', code: 'PINPIPE_INPUT_INVALID' },
          { line: 4, field: '', reason: 'not valid UTF-8', code: 'PINPIPE_INPUT_INVALID' },
          { line: 5, field: 'record.country', reason: 'is required', code: 'PINPIPE_INPUT_INVALID' },
        ],
      },
    ];
    for (const c of cases) {
      const res = await post(c.path, c.body, c.headers);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, c.name).toBe(c.status);
      expect(body, c.name).toMatchObject({ statusCode: c.status, code: c.code, error: expect.any(String), message: expect.any(String) });
      if (c.details) expect(body.details, c.name).toEqual(c.details);
      if (c.rejected) expect(body.rejected, c.name).toEqual(c.rejected);
      if (c.status === 401) expect(res.headers.get('www-authenticate'), c.name).toMatch(/^Bearer/);
    }

    // A mixed batch: the good line is stored, the bad ones listed.
    const mixed = [JSON.stringify({ type: 'geo', record: { ...g, ind: 'x' } }), JSON.stringify(pin), '{"type":"user"}'].join('\n');
    const res = await post('/v1/events', mixed, ndjson);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      accepted: 1,
      rejected: [
        { line: 1, field: 'record.ind', reason: 'must be an integer', code: 'PINPIPE_INPUT_INVALID' },
        { line: 3, field: 'record', reason: 'is required', code: 'PINPIPE_INPUT_INVALID' },
      ],
      records: [{ line: 2, topic: topics.pin }],
    });

    // Still up, and still taking valid records.
    expect(ingest.child.exitCode).toBeNull();
    expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    const ok = await post('/v1/geo', JSON.stringify(g), json);
    expect(ok.status).toBe(200);

    const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
    expect(metrics).toMatch(/pinpipe_ingest_records_rejected_total\{reason="invalid_utf8",job="ingest"\} [1-9]/);
    expect(metrics).toMatch(/pinpipe_ingest_http_requests_total\{route="\/v1\/geo",method="POST",status="403",job="ingest"\} [1-9]/);
  });

  it('starts without Kafka: alive, not ready, 503 with Retry-After at once, and stops cleanly', async () => {
    const dead = await startIngest(['--auth-disabled', '--kafka-brokers', '127.0.0.1:1'], {}, { waitForReady: false });
    try {
      expect((await fetch(`${dead.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${dead.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ code: 'PINPIPE_DEPENDENCY_UNAVAILABLE', message: expect.stringMatching(/^Kafka not reachable/) });
      const started = Date.now();
      const res = await post('/v1/events', JSON.stringify({ type: 'geo', record: { ind: 1, timestamp: '2020-01-01 00:00:00', latitude: 0, longitude: 0, country: 'X' } }), { 'content-type': 'application/x-ndjson' }, dead.url);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(dead.child.exitCode).toBeNull();
    } finally {
      expect(await dead.stop()).toBe(0);
    }
  });

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    const other = await startIngest(['--auth-disabled'], env);
    expect(await other.stop()).toBe(0);
    expect(other.logs()).toMatch(/"message":"authentication is disabled/);
    expect(other.logs()).toMatch(/"message":"flushed to Kafka"/);
  });
});
