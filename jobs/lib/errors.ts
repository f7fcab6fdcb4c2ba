/**
 * Every error pinpipe raises on purpose has a code from this table. The table is the single
 * place that says what a code means, which HTTP status an API answers with, and whether a retry
 * can help; README.md documents each code (a test keeps the two in step).
 */
export const ERROR_CODES = {
  PINPIPE_USAGE: { status: 400, retryable: false, summary: 'A command-line argument is missing, unknown or malformed.' },
  PINPIPE_CONFIG_INVALID: { status: 500, retryable: false, summary: 'A setting (flag or PINPIPE_* variable) has a value that cannot work.' },
  PINPIPE_INPUT_INVALID: { status: 400, retryable: false, summary: 'A record or file does not match its contract.' },
  PINPIPE_INPUT_NOT_FOUND: { status: 404, retryable: false, summary: 'An input file or object the job needs does not exist.' },
  PINPIPE_DEPENDENCY_UNAVAILABLE: { status: 503, retryable: true, summary: 'Kafka, S3, Cassandra, PostgreSQL or an HTTP peer did not answer or refused the request.' },
  PINPIPE_INTERRUPTED: { status: 503, retryable: true, summary: 'The job was stopped by SIGTERM or SIGINT before it finished.' },
  PINPIPE_INTERNAL: { status: 500, retryable: false, summary: 'A bug: something that should not happen did.' },
  PINPIPE_UNAUTHORIZED: { status: 401, retryable: false, summary: 'The request has no valid `Authorization: Bearer <key>` header.' },
  PINPIPE_FORBIDDEN: { status: 403, retryable: false, summary: 'The bearer token is not one of the configured API keys.' },
  PINPIPE_ROUTE_NOT_FOUND: { status: 404, retryable: false, summary: 'No HTTP route has this path.' },
  PINPIPE_METHOD_NOT_ALLOWED: { status: 405, retryable: false, summary: 'The HTTP route exists, but not for this method.' },
  PINPIPE_BODY_TOO_LARGE: { status: 413, retryable: false, summary: 'The request body is larger than --max-body-bytes, or holds more records than --max-queued-records.' },
  PINPIPE_RECORD_TOO_LARGE: { status: 413, retryable: false, summary: 'One record is larger than --max-record-bytes, so Kafka would refuse it.' },
  PINPIPE_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, summary: 'The Content-Type is not one the route accepts, its charset is not UTF-8, or the body is compressed.' },
  PINPIPE_OVERLOADED: { status: 503, retryable: true, summary: 'ingest already holds --max-queued-records records not yet stored in Kafka; retry after Retry-After.' },
  PINPIPE_RAW_NOT_READY: { status: 503, retryable: true, summary: 'Day D of the raw lake is not complete enough yet (raw-ready); retrying later can help.' },
  PINPIPE_LAKE_CONFLICT: {
    status: 409,
    retryable: false,
    summary: 'The raw lake holds offsets of a topic that Kafka no longer has as they were: the topic was deleted and re-created (s3-sink refuses to mix the two).',
  },
  PINPIPE_RECONCILE_FAILED: {
    status: 422,
    retryable: false,
    summary: 'Day D of the batch and the final stream windows differ by more than --max-unexplained records beyond the late ones (reconcile).',
  },
  PINPIPE_QUALITY_FAILED: { status: 422, retryable: false, summary: 'The data-quality report of a day failed its thresholds (daily-transform), or a daily job was asked to use a day whose report failed.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface PinpipeErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class PinpipeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: PinpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }
}

/** Bad flags or settings: the user must change how the job is started. Exit code 2. */
export class ConfigError extends PinpipeError {
  constructor(message: string, options: PinpipeErrorOptions = {}) {
    super('PINPIPE_CONFIG_INVALID', message, options);
  }
}

/** yargs rejected the command line itself. Exit code 2. */
export class UsageError extends PinpipeError {
  constructor(message: string, options: PinpipeErrorOptions = {}) {
    super('PINPIPE_USAGE', message, options);
  }
}

/** Data that breaks a contract. */
export class InputError extends PinpipeError {
  constructor(message: string, options: PinpipeErrorOptions & { notFound?: boolean } = {}) {
    super(options.notFound ? 'PINPIPE_INPUT_NOT_FOUND' : 'PINPIPE_INPUT_INVALID', message, options);
  }
}

/** A service the job talks to failed; usually worth retrying later. */
export class DependencyError extends PinpipeError {
  constructor(message: string, options: PinpipeErrorOptions = {}) {
    super('PINPIPE_DEPENDENCY_UNAVAILABLE', message, options);
  }
}

/** The lake and Kafka disagree about what a partition holds; going on would mix two topics' records. */
export class LakeConflictError extends PinpipeError {
  constructor(message: string, options: PinpipeErrorOptions = {}) {
    super('PINPIPE_LAKE_CONFLICT', message, options);
  }
}

export class InterruptedError extends PinpipeError {
  constructor(message = 'interrupted by signal', options: PinpipeErrorOptions = {}) {
    super('PINPIPE_INTERRUPTED', message, options);
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Conventional 128 + SIGTERM, so supervisors can tell a stop from a failure. */
export const EXIT_INTERRUPTED = 143;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof InterruptedError) return EXIT_INTERRUPTED;
  return EXIT_FAILURE;
}

/** One line a human can act on; the stack only when asked for. */
export function describeError(error: unknown, verbose = false): string {
  if (!(error instanceof Error)) return String(error);
  const code = error instanceof PinpipeError ? ` [${error.code}]` : '';
  let line = `${error.message}${code}`;
  if (verbose) {
    line += `\n${error.stack ?? ''}`;
    let cause: unknown = error.cause;
    while (cause instanceof Error) {
      line += `\ncaused by: ${cause.stack ?? cause.message}`;
      cause = cause.cause;
    }
  } else if (error.cause instanceof Error && !(error instanceof ConfigError)) {
    line += ` (cause: ${error.cause.message})`;
  }
  return line;
}
