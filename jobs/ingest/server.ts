import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { TOPICS, type RecordType } from '../lib/contracts.js';
import type { Logger } from '../lib/logger.js';
import { ApiError } from './api-error.js';
import type { MicroBatcher } from './batcher.js';
import { installErrorHandler } from './error-handler.js';
import { registerHealthRoutes } from './health.js';
import { countRequest, refuseWhileClosing, requireBearer, type ServerState } from './hooks.js';
import type { IngestMetrics } from './metrics.js';
import type { KafkaState } from './producer.js';
import { BATCH_MEDIA_TYPES, registerRecordRoutes, ROUTES } from './routes.js';

export interface ServerDeps {
  kafka: KafkaState;
  batcher: Pick<MicroBatcher, 'submit' | 'capacity'>;
  metrics: IngestMetrics;
  registry: Registry;
  logger: Logger;
  openapi: Record<string, unknown>;
  /** undefined: authentication disabled. */
  apiKeys: readonly string[] | undefined;
  maxBodyBytes: number;
  maxRecordBytes: number;
  /** The topic of each record type; the contract's (TOPICS) unless given. */
  topics?: { readonly [K in RecordType]: string };
  state?: ServerState;
  now?: () => number;
}

function notFound(method: string, url: string): ApiError {
  const path = (url.split('?')[0] ?? '/').replace(/(.)\/+$/, '$1');
  const methods = ROUTES[path];
  if (methods !== undefined) {
    return new ApiError('PINPIPE_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } });
  }
  const hint = path.startsWith('/v1/') ? ': records go to POST /v1/pin, /v1/geo, /v1/user (one record) or /v1/events (NDJSON batch)' : '';
  return new ApiError('PINPIPE_ROUTE_NOT_FOUND', `no route ${method} ${path}${hint}`);
}

/**
 * The ingest HTTP server. Fastify's logger is off (the JSON job logger reports what matters;
 * per-request logging would dominate the hot path); bodies arrive as raw Buffers so UTF-8 and
 * size are checked here, not by a generic parser.
 */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const state = deps.state ?? { closing: false };
  const app = Fastify({
    logger: false,
    bodyLimit: deps.maxBodyBytes,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...BATCH_MEDIA_TYPES], { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', refuseWhileClosing(state));
  app.addHook('onResponse', countRequest(deps.metrics));
  installErrorHandler(app, deps.logger, { maxBodyBytes: deps.maxBodyBytes });
  app.setNotFoundHandler((request) => {
    throw notFound(request.method, request.url);
  });

  registerHealthRoutes(app, { kafka: deps.kafka, registry: deps.registry, openapi: deps.openapi, isClosing: () => state.closing });
  registerRecordRoutes(app, {
    kafka: deps.kafka,
    batcher: deps.batcher,
    metrics: deps.metrics,
    maxRecordBytes: deps.maxRecordBytes,
    topics: deps.topics ?? TOPICS,
    ...(deps.apiKeys ? { auth: requireBearer(deps.apiKeys) } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return app;
}
