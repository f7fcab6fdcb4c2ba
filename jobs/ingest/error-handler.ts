import type { FastifyError, FastifyInstance } from 'fastify';
import { PinpipeError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { ApiError, errorBody, RETRY_AFTER_SECONDS, retryLater } from './api-error.js';
import { BatcherClosedError, QueueFullError } from './batcher.js';

/** Any error raised while handling a request, as an ApiError with a pinpipe code. */
export function toApiError(error: unknown, limits: { maxBodyBytes: number }): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueFullError) return retryLater('PINPIPE_OVERLOADED', `${error.message}; retry later`, RETRY_AFTER_SECONDS.overloaded, error);
  if (error instanceof BatcherClosedError) return retryLater('PINPIPE_INTERRUPTED', 'ingest is shutting down; retry later', RETRY_AFTER_SECONDS.shuttingDown, error);
  if (error instanceof PinpipeError) {
    if (error.code === 'PINPIPE_DEPENDENCY_UNAVAILABLE') return retryLater(error.code, error.message, RETRY_AFTER_SECONDS.kafkaDown, error);
    return new ApiError(error.code, error.message, { cause: error });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PINPIPE_BODY_TOO_LARGE', `the body is larger than --max-body-bytes (${limits.maxBodyBytes} bytes)`, { cause: error });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('PINPIPE_UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type: send application/json (one record) or application/x-ndjson (a batch)', { cause: error });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('PINPIPE_INPUT_INVALID', 'Content-Length does not match the body', { cause: error });
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('PINPIPE_INPUT_INVALID', fastifyError.message ?? 'bad request', { statusCode: status, cause: error });
  }
  return new ApiError('PINPIPE_INTERNAL', 'internal error', { cause: error });
}

/** Fastify-shaped JSON error bodies with pinpipe codes; only internal errors are logged. */
export function installErrorHandler(app: FastifyInstance, logger: Logger, limits: { maxBodyBytes: number }): void {
  app.setErrorHandler((error, request, reply) => {
    const api = toApiError(error, limits);
    if (api.code === 'PINPIPE_INTERNAL') {
      logger.error('request failed', { method: request.method, url: request.url, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
    void reply.code(api.statusCode).headers(api.headers).send(errorBody(api));
  });
}
