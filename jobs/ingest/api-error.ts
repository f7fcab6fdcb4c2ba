import { STATUS_CODES } from 'node:http';
import { ERROR_CODES, PinpipeError, type ErrorCode } from '../lib/errors.js';

export interface ErrorDetail {
  field: string;
  reason: string;
}

export interface ApiErrorOptions {
  /** Overrides the status from the ERROR_CODES table. */
  statusCode?: number;
  details?: ErrorDetail[];
  headers?: Record<string, string>;
  /** Extra top-level fields of the body (the batch route's accepted/rejected/records). */
  extra?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * An HTTP error with a pinpipe code. Its body is fastify-shaped:
 * `{"statusCode":400,"code":"PINPIPE_INPUT_INVALID","error":"Bad Request","message":"...","details":[...]}`.
 */
export class ApiError extends PinpipeError {
  readonly statusCode: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(code, message, { cause: options.cause });
    this.statusCode = options.statusCode ?? ERROR_CODES[code].status;
    this.details = options.details;
    this.headers = options.headers ?? {};
    this.extra = options.extra;
  }
}

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: ErrorDetail[];
  [extra: string]: unknown;
}

export function errorBody(error: ApiError): ErrorBody {
  return {
    statusCode: error.statusCode,
    code: error.code,
    error: STATUS_CODES[error.statusCode] ?? 'Error',
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
    ...error.extra,
  };
}

/** Seconds a client should wait before retrying, by reason. */
export const RETRY_AFTER_SECONDS = {
  overloaded: 1,
  kafkaDown: 2,
  shuttingDown: 1,
} as const;

/** A refusal the client can retry later: always carries Retry-After. */
export function retryLater(code: 'PINPIPE_OVERLOADED' | 'PINPIPE_DEPENDENCY_UNAVAILABLE' | 'PINPIPE_INTERRUPTED', message: string, seconds: number, cause?: unknown): ApiError {
  return new ApiError(code, message, { headers: { 'retry-after': String(seconds) }, cause });
}
