import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { createRegistry } from '../lib/metrics.js';
import { MicroBatcher } from './batcher.js';
import { createIngestMetrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import type { KafkaState } from './producer.js';
import { buildServer } from './server.js';
import type { KafkaMessage, PartitionOffset } from './types.js';

/** One base offset per topic-partition of a request, as the broker answers. */
function answer(messages: KafkaMessage[], base: () => bigint): PartitionOffset[] {
  const seen = new Set<string>();
  const offsets: PartitionOffset[] = [];
  for (const { topic, partition } of messages) {
    if (seen.has(`${topic}|${partition}`)) continue;
    seen.add(`${topic}|${partition}`);
    offsets.push({ topic, partition, baseOffset: base() });
  }
  return offsets;
}

const KEY = 'unit-test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };
const JSON_TYPE = { 'content-type': 'application/json' };
const NDJSON_TYPE = { 'content-type': 'application/x-ndjson' };
const geo = { ind: 3, timestamp: '2020-08-28 03:52:47', latitude: 1, longitude: 2, country: 'Peru' };

const kafka: KafkaState & { up: boolean } = {
  up: true,
  ready() {
    return this.up;
  },
  reason() {
    return this.up ? 'Kafka reachable' : 'Kafka not reachable: connect ECONNREFUSED';
  },
  partitionFor: (_topic, key) => Number(Buffer.from(key).toString()) % 3,
};
let offset = 0;
const batcher = new MicroBatcher({
  send: async (messages) => answer(messages, () => BigInt((offset += 100))),
  maxQueuedRecords: 10,
  maxBatchRecords: 100,
  maxPartitionBytes: 1_000_000,
  maxBatchBytes: 10_000_000,
  lingerMs: 0,
});
const registry = createRegistry('ingest-unit');
const app = buildServer({
  kafka,
  batcher,
  metrics: createIngestMetrics(registry),
  registry,
  logger: createLogger('ingest-unit', 'error'),
  openapi: buildOpenApi('test'),
  apiKeys: [KEY],
  maxBodyBytes: 10_000,
  maxRecordBytes: 1_000,
});

beforeAll(() => app.ready());
afterAll(() => app.close());

const post = (url: string, payload: string | Buffer, headers: Record<string, string> = { ...AUTH, ...JSON_TYPE }) => app.inject({ method: 'POST', url, payload, headers });

describe('ingest HTTP API (Kafka faked)', () => {
  it('stores a single record and answers where', async () => {
    for (const url of ['/v1/geo', '/v1/geo/']) {
      const res = await post(url, JSON.stringify(geo));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ eventId: expect.any(String), topic: 'pinterest.geo.v1', partition: 0, offset: expect.stringMatching(/^\d+$/) });
    }
  });

  it('keeps the client\'s event id (header of a single record, field of a batch line), and refuses a malformed one naming it', async () => {
    const single = await post('/v1/geo', JSON.stringify(geo), { ...AUTH, ...JSON_TYPE, 'pinpipe-event-id': 'client-42:a.b_c' });
    expect(single.statusCode).toBe(200);
    expect(single.json()).toMatchObject({ eventId: 'client-42:a.b_c' });
    const bad = await post('/v1/geo', JSON.stringify(geo), { ...AUTH, ...JSON_TYPE, 'pinpipe-event-id': 'has space' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'PINPIPE_INPUT_INVALID', details: [{ field: 'pinpipe-event-id', reason: expect.stringMatching(/^must be 1 to 128 letters/) }] });

    const batch = [
      JSON.stringify({ type: 'geo', record: geo, eventId: 'retry-safe-1' }),
      JSON.stringify({ type: 'geo', record: geo }),
      JSON.stringify({ type: 'geo', record: geo, eventId: 'x'.repeat(129) }),
    ].join('\n');
    const res = await post('/v1/events', batch, { ...AUTH, ...NDJSON_TYPE });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { records: Array<{ line: number; eventId: string }>; rejected: unknown[] };
    expect(body.records.map((r) => r.line)).toEqual([1, 2]);
    expect(body.records[0]?.eventId).toBe('retry-safe-1');
    expect(body.records[1]?.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.rejected).toEqual([{ line: 3, field: 'eventId', reason: expect.stringMatching(/^must be 1 to 128/), code: 'PINPIPE_INPUT_INVALID' }]);
  });

  it('takes a pin on the seed projects\' POST /pin/ path', async () => {
    const pin = { index: 1, unique_id: 'u', title: 't', description: 'd', follower_count: '1k', tag_list: '', is_image_or_video: 'image', image_src: '', downloaded: 1, save_location: '', category: 'art' };
    const res = await post('/pin/', JSON.stringify(pin));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ topic: 'pinterest.pin.v1' });
  });

  it('answers errors fastify-style with a pinpipe code', async () => {
    const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, string]> = [
      ['invalid record', await post('/v1/geo', JSON.stringify({ ...geo, ind: -1 })), 400, 'PINPIPE_INPUT_INVALID'],
      ['no token', await post('/v1/geo', JSON.stringify(geo), JSON_TYPE), 401, 'PINPIPE_UNAUTHORIZED'],
      ['malformed token', await post('/v1/geo', JSON.stringify(geo), { ...JSON_TYPE, authorization: 'Basic abc' }), 401, 'PINPIPE_UNAUTHORIZED'],
      ['wrong token', await post('/v1/geo', JSON.stringify(geo), { ...JSON_TYPE, authorization: 'Bearer wrong-key-0123456789' }), 403, 'PINPIPE_FORBIDDEN'],
      ['unknown route', await post('/v1/board', '{}'), 404, 'PINPIPE_ROUTE_NOT_FOUND'],
      ['wrong method', await app.inject({ method: 'GET', url: '/v1/events' }), 405, 'PINPIPE_METHOD_NOT_ALLOWED'],
      ['body too large', await post('/v1/events', 'x'.repeat(10_001), { ...AUTH, ...NDJSON_TYPE }), 413, 'PINPIPE_BODY_TOO_LARGE'],
      ['record too large', await post('/v1/geo', JSON.stringify({ ...geo, country: 'x'.repeat(1_000) })), 413, 'PINPIPE_RECORD_TOO_LARGE'],
      ['ndjson to a single route', await post('/v1/geo', JSON.stringify(geo), { ...AUTH, ...NDJSON_TYPE }), 415, 'PINPIPE_UNSUPPORTED_MEDIA_TYPE'],
      ['xml', await post('/v1/events', '<a/>', { ...AUTH, 'content-type': 'application/xml' }), 415, 'PINPIPE_UNSUPPORTED_MEDIA_TYPE'],
      ['latin-1', await post('/v1/geo', JSON.stringify(geo), { ...AUTH, 'content-type': 'application/json; charset=iso-8859-1' }), 415, 'PINPIPE_UNSUPPORTED_MEDIA_TYPE'],
      ['gzip', await post('/v1/geo', JSON.stringify(geo), { ...AUTH, ...JSON_TYPE, 'content-encoding': 'gzip' }), 415, 'PINPIPE_UNSUPPORTED_MEDIA_TYPE'],
      ['too many records for the queue', await post('/v1/events', `${JSON.stringify({ type: 'geo', record: geo })}\n`.repeat(11), { ...AUTH, ...NDJSON_TYPE }), 413, 'PINPIPE_BODY_TOO_LARGE'],
    ];
    for (const [name, res, status, code] of cases) {
      expect(res.statusCode, name).toBe(status);
      expect(res.json(), name).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
    }
    expect(cases[1]?.[1].headers['www-authenticate']).toBe('Bearer realm="pinpipe"');
    expect(cases[2]?.[1].headers['www-authenticate']).toBe('Bearer realm="pinpipe", error="invalid_request"');
    expect(cases[5]?.[1].headers.allow).toBe('POST');
    expect(cases[0]?.[1].json().details).toEqual([{ field: 'ind', reason: 'must be >= 0' }]);
  });

  it('accepts charset=utf-8 and the batch media types', async () => {
    expect((await post('/v1/geo', JSON.stringify(geo), { ...AUTH, 'content-type': 'application/json; charset=UTF-8' })).statusCode).toBe(200);
    for (const type of ['application/x-ndjson', 'application/json', 'text/plain; charset=utf-8']) {
      const res = await post('/v1/events', `${JSON.stringify({ type: 'geo', record: geo })}\n`, { ...AUTH, 'content-type': type });
      expect(res.statusCode, type).toBe(200);
    }
  });

  it('answers a batch with accepted, rejected and records; 400 when every line is rejected', async () => {
    const ok = JSON.stringify({ type: 'geo', record: geo });
    const res = await post('/v1/events', `${ok}\n{"type":"geo"}\n\n${ok}\n`, { ...AUTH, ...NDJSON_TYPE });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accepted: 2,
      rejected: [{ line: 2, field: 'record', reason: 'is required', code: 'PINPIPE_INPUT_INVALID' }],
      records: [{ line: 1 }, { line: 4 }],
    });
    const bad = await post('/v1/events', 'nope\n{"type":"board","record":{}}\n', { ...AUTH, ...NDJSON_TYPE });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ statusCode: 400, code: 'PINPIPE_INPUT_INVALID', accepted: 0, records: [], rejected: [{ line: 1, reason: 'not valid JSON' }, { line: 2, field: 'type' }] });
    const empty = await post('/v1/events', '', { ...AUTH, ...NDJSON_TYPE });
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual({ accepted: 0, rejected: [], records: [] });
  });

  it('answers 503 with Retry-After while Kafka is unreachable, and /readyz says so', async () => {
    kafka.up = false;
    try {
      const res = await post('/v1/geo', JSON.stringify(geo));
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json()).toMatchObject({ code: 'PINPIPE_DEPENDENCY_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') });
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      // An invalid record is still told so: 400 is final, 503 is not.
      expect((await post('/v1/geo', '{')).statusCode).toBe(400);
    } finally {
      kafka.up = true;
    }
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', kafka: 'Kafka reachable' });
  });

  it('answers 503 PINPIPE_OVERLOADED with Retry-After when the queue is full, and 503 PINPIPE_INTERRUPTED when stopping', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new MicroBatcher({
      send: async (messages) => {
        await gate;
        return answer(messages, () => 0n);
      },
      maxQueuedRecords: 2,
      maxBatchRecords: 100,
      maxPartitionBytes: 1_000_000,
      maxBatchBytes: 10_000_000,
      lingerMs: 0,
    });
    const state = { closing: false };
    const small = buildServer({ kafka, batcher: slow, metrics: createIngestMetrics(createRegistry('ingest-unit-2')), registry, logger: createLogger('ingest-unit', 'error'), openapi: {}, apiKeys: undefined, maxBodyBytes: 10_000, maxRecordBytes: 1_000, state });
    const held = [0, 1].map(() => small.inject({ method: 'POST', url: '/v1/geo', payload: JSON.stringify(geo), headers: JSON_TYPE }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const full = await small.inject({ method: 'POST', url: '/v1/geo', payload: JSON.stringify(geo), headers: JSON_TYPE });
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBe('1');
    expect(full.json()).toMatchObject({ code: 'PINPIPE_OVERLOADED' });
    release();
    expect((await Promise.all(held)).map((r) => r.statusCode)).toEqual([200, 200]);
    state.closing = true;
    const stopping = await small.inject({ method: 'POST', url: '/v1/geo', payload: JSON.stringify(geo), headers: JSON_TYPE });
    expect(stopping.statusCode).toBe(503);
    expect(stopping.json()).toMatchObject({ code: 'PINPIPE_INTERRUPTED' });
    expect(stopping.headers.connection).toBe('close');
    expect((await small.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await small.close();
  });

  it('serves health, metrics and the OpenAPI document without a key', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    for (const name of ['http_requests_total', 'records_accepted_total', 'records_rejected_total', 'produce_duration_seconds', 'queue_records']) {
      expect(metrics).toContain(`pinpipe_ingest_${name}`);
    }
    expect(metrics).toMatch(/pinpipe_ingest_http_requests_total\{route="\/v1\/geo",method="POST",status="200",job="ingest-unit"\} \d+/);
    expect(metrics).toMatch(/pinpipe_ingest_records_rejected_total\{reason="contract",job="ingest-unit"\} \d+/);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/pin', '/v1/geo', '/v1/user', '/v1/events', '/pin/']));
    expect(doc.components.schemas.GeoRecord.required).toEqual(['ind', 'timestamp', 'latitude', 'longitude', 'country']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
