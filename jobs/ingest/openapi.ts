import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { EVENT_ID_PATTERN, GeoRecordSchema, PinRecordSchema, RECORD_TYPES, TOPICS, UserRecordSchema, type RecordType } from '../lib/contracts.js';
import { ERROR_CODES } from '../lib/errors.js';
import { projectRoot } from '../lib/paths.js';

/** A TypeBox schema as plain JSON Schema for components (no $id: components are named by key). */
function plain(schema: TSchema): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  delete copy.$id;
  return copy;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });

function errorResponse(description: string, codes: string[], retryAfter = false) {
  return {
    description: `${description} Codes: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
    ...(retryAfter ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } } } : {}),
    content: json(ref('Error')),
  };
}

const commonErrors = {
  '401': {
    ...errorResponse('No `Authorization: Bearer <key>` header, or a malformed one.', ['PINPIPE_UNAUTHORIZED']),
    headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer realm="pinpipe"' } },
  },
  '403': errorResponse('The bearer token is not a configured API key.', ['PINPIPE_FORBIDDEN']),
  '413': errorResponse('The body is larger than --max-body-bytes (or the record larger than --max-record-bytes).', ['PINPIPE_BODY_TOO_LARGE', 'PINPIPE_RECORD_TOO_LARGE']),
  '415': errorResponse('Unsupported Content-Type, or a charset other than UTF-8.', ['PINPIPE_UNSUPPORTED_MEDIA_TYPE']),
  '503': errorResponse(
    'Not stored: Kafka is unreachable, the queue is full, or ingest is stopping. Retry after Retry-After; nothing in this request was acknowledged.',
    ['PINPIPE_DEPENDENCY_UNAVAILABLE', 'PINPIPE_OVERLOADED', 'PINPIPE_INTERRUPTED'],
    true,
  ),
};

function singleRoute(type: (typeof RECORD_TYPES)[number], schemaName: string, path: string, topics: { readonly [K in RecordType]: string }) {
  return {
    post: {
      operationId: path === '/pin/' ? 'postPinLegacy' : `post${type[0]?.toUpperCase()}${type.slice(1)}`,
      summary: path === '/pin/' ? 'One raw pin record (the seed projects\' posting scripts use this path)' : `One raw ${type} record`,
      description: `Validates the record against its contract and stores it in Kafka topic \`${topics[type]}\` (key: ${type === 'pin' ? 'index' : 'ind'}). The answer comes once all in-sync replicas have it.`,
      tags: ['records'],
      parameters: [
        {
          name: 'Pinpipe-Event-Id',
          in: 'header',
          required: false,
          description:
            'The client\'s own id for this record, kept when it retries. Stored as the record\'s pinpipe-event-id; downstream jobs count a repeated id once, so any answer but a 2xx can be retried safely. Without it ingest makes a UUID.',
          schema: { type: 'string', pattern: EVENT_ID_PATTERN },
        },
      ],
      requestBody: { required: true, content: json(ref(schemaName)) },
      responses: {
        '200': { description: 'Stored in Kafka.', content: json(ref('StoredRecord')) },
        '400': errorResponse('Not valid UTF-8, not JSON, or not matching the contract; details name each field and reason.', ['PINPIPE_INPUT_INVALID']),
        ...commonErrors,
      },
    },
  };
}

/** OpenAPI 3.1 (JSON Schema 2020-12 dialect, so the TypeBox contracts go in unchanged). */
export function buildOpenApi(version: string, topics: { readonly [K in RecordType]: string } = TOPICS): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'pinpipe ingest',
      version,
      description:
        'Takes raw pin, geo and user records over HTTP into Kafka. A 2xx answer means Kafka stored the records (acks from all in-sync replicas); anything else means they were not acknowledged and may be sent again.',
    },
    security: [{ bearerAuth: [] }],
    tags: [{ name: 'records' }, { name: 'operations' }],
    paths: {
      '/v1/pin': singleRoute('pin', 'PinRecord', '/v1/pin', topics),
      '/v1/geo': singleRoute('geo', 'GeoRecord', '/v1/geo', topics),
      '/v1/user': singleRoute('user', 'UserRecord', '/v1/user', topics),
      '/pin/': singleRoute('pin', 'PinRecord', '/pin/', topics),
      '/v1/events': {
        post: {
          operationId: 'postEvents',
          summary: 'An NDJSON batch of typed records',
          description:
            'Each line is `{"type":"pin|geo|user","record":{...}}`, optionally with `"eventId"`: the client\'s own id for the record, kept when it retries, stored as its pinpipe-event-id (downstream jobs count a repeated id once, so a batch that got anything but a 2xx can be sent again whole). Without one ingest makes a UUID. Valid lines are stored, invalid ones listed in `rejected` with their 1-based line number; blank lines are skipped. 200 when at least one line was stored (or the body held no records), 400 when every line was rejected.',
          tags: ['records'],
          requestBody: {
            required: true,
            content: {
              'application/x-ndjson': { schema: { type: 'string', description: 'Lines of TypedRecord JSON' } },
              'application/json': { schema: { type: 'string', description: 'Lines of TypedRecord JSON' } },
              'text/plain': { schema: { type: 'string', description: 'Lines of TypedRecord JSON' } },
            },
          },
          responses: {
            '200': { description: 'The valid lines are stored in Kafka.', content: json(ref('BatchResult')) },
            '400': {
              description: 'Every line was rejected (code `PINPIPE_INPUT_INVALID`): the batch result plus statusCode, code, error and message.',
              content: json({ allOf: [ref('BatchResult'), ref('Error')] }),
            },
            ...commonErrors,
          },
        },
      },
      '/healthz': { get: { operationId: 'healthz', summary: 'The process is alive', tags: ['operations'], security: [], responses: { '200': { description: 'Alive' } } } },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Kafka is reachable (recent produce or metadata probe) and ingest is not stopping',
          tags: ['operations'],
          security: [],
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready', content: json(ref('Error')) } },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics (pinpipe_ingest_*)',
          tags: ['operations'],
          security: [],
          responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', tags: ['operations'], security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key from --api-keys / --api-keys-file, as `Authorization: Bearer <key>`.' },
      },
      schemas: {
        PinRecord: plain(PinRecordSchema),
        GeoRecord: plain(GeoRecordSchema),
        UserRecord: plain(UserRecordSchema),
        TypedRecord: {
          description: 'One line of an NDJSON batch',
          oneOf: RECORD_TYPES.map((type) => ({
            type: 'object',
            required: ['type', 'record'],
            properties: {
              type: { const: type },
              record: ref(`${type[0]?.toUpperCase()}${type.slice(1)}Record`),
              eventId: { type: 'string', pattern: EVENT_ID_PATTERN, description: 'The client\'s own id for this record, kept across its retries' },
            },
          })),
        },
        StoredRecord: {
          type: 'object',
          required: ['eventId', 'topic', 'partition', 'offset'],
          properties: {
            eventId: { type: 'string', pattern: EVENT_ID_PATTERN, description: 'The client\'s event id, or a UUID ingest made; also the pinpipe-event-id header of the Kafka record' },
            topic: { type: 'string' },
            partition: { type: 'integer' },
            offset: { type: 'string', pattern: '^[0-9]+$', description: 'Kafka offset, a decimal string (64-bit)' },
          },
        },
        RejectedLine: {
          type: 'object',
          required: ['line', 'field', 'reason', 'code'],
          properties: {
            line: { type: 'integer', minimum: 1 },
            field: { type: 'string', description: 'Dotted path such as record.ind; empty for the whole line' },
            reason: { type: 'string', examples: ['is required', 'not valid JSON', 'not valid UTF-8'] },
            code: { enum: ['PINPIPE_INPUT_INVALID', 'PINPIPE_RECORD_TOO_LARGE'] },
            details: { type: 'array', items: ref('ErrorDetail'), description: 'Further problems of the same line' },
          },
        },
        BatchResult: {
          type: 'object',
          required: ['accepted', 'rejected', 'records'],
          properties: {
            accepted: { type: 'integer', description: 'Lines stored in Kafka' },
            rejected: { type: 'array', items: ref('RejectedLine') },
            records: { type: 'array', items: { allOf: [{ type: 'object', required: ['line'], properties: { line: { type: 'integer' } } }, ref('StoredRecord')] } },
          },
        },
        ErrorDetail: { type: 'object', required: ['field', 'reason'], properties: { field: { type: 'string' }, reason: { type: 'string' } } },
        Error: {
          type: 'object',
          required: ['statusCode', 'code', 'error', 'message'],
          properties: {
            statusCode: { type: 'integer' },
            code: { enum: Object.keys(ERROR_CODES) },
            error: { type: 'string' },
            message: { type: 'string' },
            details: { type: 'array', items: ref('ErrorDetail') },
          },
        },
      },
    },
  };
}

/** package.json's version, which the document states. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The document ingest serves at /openapi.json; docs/reference/http-api.md is rendered from it with the contract's topics. */
export function ingestOpenApi(topics: { readonly [K in RecordType]: string } = TOPICS): Record<string, unknown> {
  return buildOpenApi(packageVersion(), topics);
}
