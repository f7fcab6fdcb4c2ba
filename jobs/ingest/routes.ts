import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { eventIdProblem, RECORD_HEADERS, RECORD_TYPES, type RecordType } from '../lib/contracts.js';
import { ApiError, RETRY_AFTER_SECONDS, retryLater } from './api-error.js';
import type { MicroBatcher } from './batcher.js';
import { requireMediaType } from './hooks.js';
import { countAccepted, countRejected, type IngestMetrics } from './metrics.js';
import { parseBatch, parseSingle } from './parse.js';
import { batchAnswer } from './response.js';
import type { KafkaState } from './producer.js';
import { prepareRecord, TOO_DEEP, type PrepareContext } from './records.js';
import type { OutgoingRecord, RejectedLine, StoredRecord } from './types.js';

const JSON_UTF8 = 'application/json; charset=utf-8';

export const SINGLE_MEDIA_TYPES = ['application/json'] as const;
export const BATCH_MEDIA_TYPES = ['application/x-ndjson', 'application/json', 'text/plain'] as const;

/** Every route ingest serves, by path: the not-found handler answers 405 for a known path. */
export const ROUTES: Record<string, string[]> = {
  '/v1/pin': ['POST'],
  '/v1/geo': ['POST'],
  '/v1/user': ['POST'],
  '/v1/events': ['POST'],
  '/pin': ['POST'],
  '/healthz': ['GET', 'HEAD'],
  '/readyz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
  '/openapi.json': ['GET', 'HEAD'],
};

export interface RecordRouteDeps {
  kafka: KafkaState;
  batcher: Pick<MicroBatcher, 'submit' | 'capacity'>;
  metrics: IngestMetrics;
  maxRecordBytes: number;
  /** The topic of each record type. */
  topics: { readonly [K in RecordType]: string };
  /** Authentication, when enabled; runs before the media type check and before the body is read. */
  auth?: onRequestHookHandler;
  now?: () => number;
}

function typeCounts(records: readonly OutgoingRecord[]): Partial<Record<RecordType, number>> {
  const counts: Partial<Record<RecordType, number>> = {};
  for (const r of records) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

function kafkaUnavailable(kafka: KafkaState): ApiError {
  return retryLater('PINPIPE_DEPENDENCY_UNAVAILABLE', `${kafka.reason()}; nothing was stored, retry later`, RETRY_AFTER_SECONDS.kafkaDown);
}

function tooLarge(bytes: number, max: number): string {
  return `is ${bytes} bytes, more than --max-record-bytes (${max})`;
}

/** The header a single-record request carries the client's event id in: the Kafka header's name (Node.js gives header names in lower case). */
export const EVENT_ID_HEADER = RECORD_HEADERS.eventId;

export function registerRecordRoutes(app: FastifyInstance, deps: RecordRouteDeps): void {
  const { kafka, batcher, metrics, maxRecordBytes, topics } = deps;
  const now = deps.now ?? Date.now;
  const partitionFor = (topic: string, key: Uint8Array): number | undefined => kafka.partitionFor(topic, key);
  const context = (): PrepareContext => {
    const t = now();
    return { now: t, nowBytes: Buffer.from(String(t)), partitionFor, maxRecordBytes, topics };
  };

  /** Hands records to the micro-batcher; resolves once Kafka stored all of them. */
  async function store(records: OutgoingRecord[]): Promise<StoredRecord[]> {
    try {
      if (!kafka.ready()) throw kafkaUnavailable(kafka);
      const stored = await batcher.submit(records);
      countAccepted(metrics, typeCounts(records));
      return stored;
    } catch (error) {
      for (const [type, n] of Object.entries(typeCounts(records))) metrics.failed.inc({ type }, n);
      throw error;
    }
  }

  const hooks = (mediaTypes: readonly string[]): onRequestHookHandler[] => [...(deps.auth ? [deps.auth] : []), requireMediaType(mediaTypes)];

  for (const type of RECORD_TYPES) {
    const paths = type === 'pin' ? ['/v1/pin', '/pin'] : [`/v1/${type}`];
    for (const url of paths) {
      app.post(url, { onRequest: hooks(SINGLE_MEDIA_TYPES) }, async (request) => {
        const parsed = parseSingle(type, request.body as Buffer | undefined);
        if (!parsed.ok) {
          countRejected(metrics, parsed.reason);
          throw new ApiError('PINPIPE_INPUT_INVALID', parsed.message, { details: parsed.details });
        }
        const clientEventId = request.headers[EVENT_ID_HEADER];
        if (clientEventId !== undefined) {
          const problem = eventIdProblem(clientEventId);
          if (problem !== undefined) {
            countRejected(metrics, 'contract');
            throw new ApiError('PINPIPE_INPUT_INVALID', `the ${EVENT_ID_HEADER} header ${problem}`, { details: [{ field: EVENT_ID_HEADER, reason: problem }] });
          }
        }
        const prepared = prepareRecord(parsed.typed, context(), clientEventId as string | undefined);
        if (!prepared.ok) {
          if ('noMetadata' in prepared) throw kafkaUnavailable(kafka);
          if ('tooDeep' in prepared) {
            countRejected(metrics, 'contract');
            throw new ApiError('PINPIPE_INPUT_INVALID', `the ${type} record ${TOO_DEEP}`, { details: [{ field: '', reason: TOO_DEEP }] });
          }
          countRejected(metrics, 'too_large');
          throw new ApiError('PINPIPE_RECORD_TOO_LARGE', `the ${type} record ${tooLarge(prepared.bytes, maxRecordBytes)}`, {
            details: [{ field: '', reason: tooLarge(prepared.bytes, maxRecordBytes) }],
          });
        }
        const [stored] = await store([prepared.record]);
        return stored;
      });
    }
  }

  app.post('/v1/events', { onRequest: hooks(BATCH_MEDIA_TYPES) }, async (request, reply) => {
    const parsed = parseBatch(request.body as Buffer | undefined);
    for (const [reason, n] of Object.entries(parsed.reasons)) countRejected(metrics, reason as Parameters<typeof countRejected>[1], n);
    const rejected: RejectedLine[] = parsed.rejected;
    const outgoing: OutgoingRecord[] = [];
    const lines: number[] = [];
    const ctx = context();
    let oversized = 0;
    let tooDeep = 0;
    for (const { line, typed, eventId } of parsed.records) {
      const prepared = prepareRecord(typed, ctx, eventId);
      if (prepared.ok) {
        outgoing.push(prepared.record);
        lines.push(line);
      } else if ('noMetadata' in prepared) {
        throw kafkaUnavailable(kafka);
      } else if ('tooDeep' in prepared) {
        tooDeep += 1;
        rejected.push({ line, field: 'record', reason: TOO_DEEP, code: 'PINPIPE_INPUT_INVALID' });
      } else {
        oversized += 1;
        rejected.push({ line, field: 'record', reason: tooLarge(prepared.bytes, maxRecordBytes), code: 'PINPIPE_RECORD_TOO_LARGE' });
      }
    }
    if (oversized + tooDeep > 0) {
      if (oversized > 0) countRejected(metrics, 'too_large', oversized);
      if (tooDeep > 0) countRejected(metrics, 'contract', tooDeep);
      rejected.sort((a, b) => a.line - b.line);
    }
    if (outgoing.length === 0) {
      if (rejected.length === 0) return { accepted: 0, rejected, records: [] };
      throw new ApiError('PINPIPE_INPUT_INVALID', `all ${rejected.length} records were rejected; see rejected`, { extra: { accepted: 0, rejected, records: [] } });
    }
    if (outgoing.length > batcher.capacity) {
      throw new ApiError('PINPIPE_BODY_TOO_LARGE', `the batch holds ${outgoing.length} records, more than --max-queued-records (${batcher.capacity}); send smaller batches`);
    }
    const stored = await store(outgoing);
    return reply.code(200).type(JSON_UTF8).send(batchAnswer(rejected, stored, lines));
  });
}
