import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError, RETRY_AFTER_SECONDS, retryLater } from './api-error.js';
import { createKeyMatcher, parseBearer } from './auth.js';
import type { IngestMetrics } from './metrics.js';

const CHALLENGE = 'Bearer realm="pinpipe"';

/** 401 without a usable bearer token, 403 for a token that is not a configured key. */
export function requireBearer(keys: readonly string[]): onRequestHookHandler {
  const matches = createKeyMatcher(keys);
  return (request, _reply, done) => {
    const bearer = parseBearer(request.headers.authorization);
    if (!bearer.ok) {
      const missing = bearer.reason === 'missing';
      done(
        new ApiError('PINPIPE_UNAUTHORIZED', missing ? 'send the API key as Authorization: Bearer <key>' : 'the Authorization header is not "Bearer <key>"', {
          headers: { 'www-authenticate': missing ? CHALLENGE : `${CHALLENGE}, error="invalid_request"` },
        }),
      );
      return;
    }
    if (!matches(bearer.token)) {
      done(new ApiError('PINPIPE_FORBIDDEN', 'the bearer token is not a valid API key'));
      return;
    }
    done();
  };
}

/**
 * Checks Content-Type before the body is read: the media type must be one the route takes, a
 * charset, when given, must be UTF-8, and the body must not be compressed.
 */
export function requireMediaType(accepted: readonly string[]): onRequestHookHandler {
  const exact = new Set(accepted);
  return (request, _reply, done) => {
    const header = request.headers['content-type'];
    // The common case, a bare accepted media type on an uncompressed body, needs no parsing.
    if (header !== undefined && exact.has(header) && request.headers['content-encoding'] === undefined) {
      done();
      return;
    }
    const [essence = '', ...params] = (header ?? '').split(';');
    const type = essence.trim().toLowerCase();
    if (!accepted.includes(type)) {
      done(new ApiError('PINPIPE_UNSUPPORTED_MEDIA_TYPE', `${header ? `Content-Type ${header} is not accepted here` : 'no Content-Type'}: send ${accepted.join(', ')}`));
      return;
    }
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      done(new ApiError('PINPIPE_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported: send the body uncompressed`));
      return;
    }
    for (const param of params) {
      const [name = '', value = ''] = param.split('=');
      if (name.trim().toLowerCase() === 'charset' && !['utf-8', 'utf8'].includes(value.trim().replace(/^"|"$/g, '').toLowerCase())) {
        done(new ApiError('PINPIPE_UNSUPPORTED_MEDIA_TYPE', `charset ${value.trim()} is not accepted: bodies must be UTF-8`));
        return;
      }
    }
    done();
  };
}

export interface ServerState {
  closing: boolean;
}

/** Once shutdown has begun, requests on kept-alive connections get 503 and the connection closes. */
export function refuseWhileClosing(state: ServerState): onRequestHookHandler {
  return (_request, reply, done) => {
    if (!state.closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(retryLater('PINPIPE_INTERRUPTED', 'ingest is shutting down; retry on another instance or later', RETRY_AFTER_SECONDS.shuttingDown));
  };
}

export function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

export function countRequest(metrics: IngestMetrics) {
  // The labelled series, looked up once per route, method and status instead of per request.
  const counters = new Map<string, ReturnType<IngestMetrics['requests']['labels']>>();
  const timers = new Map<string, ReturnType<IngestMetrics['requestSeconds']['labels']>>();
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const route = routeLabel(request);
    const key = `${route} ${request.method} ${reply.statusCode}`;
    let counter = counters.get(key);
    if (counter === undefined) {
      counter = metrics.requests.labels({ route, method: request.method, status: String(reply.statusCode) });
      counters.set(key, counter);
    }
    counter.inc();
    let timer = timers.get(route);
    if (timer === undefined) {
      timer = metrics.requestSeconds.labels({ route });
      timers.set(route, timer);
    }
    timer.observe(reply.elapsedTime / 1000);
    done();
  };
}
