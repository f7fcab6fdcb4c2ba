export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Conventional 128 + SIGTERM, so supervisors can tell a stop from a failure. */
export const EXIT_INTERRUPTED = 143;

/**
 * Every error pinpipe raises on purpose has a code from this table. The table is the single
 * place that says what a code means, which HTTP status an API answers with, whether a retry can
 * help, and the exit code of a job that stops with it (null: the code is only an HTTP answer of
 * ingest). docs/reference/errors.md is generated from it (make docs-reference).
 */
export const ERROR_CODES = {
  PINPIPE_USAGE: { status: 400, retryable: false, exit: EXIT_USAGE, summary: 'A command-line argument is missing, unknown or malformed.' },
  PINPIPE_CONFIG_INVALID: { status: 500, retryable: false, exit: EXIT_USAGE, summary: 'A setting (flag or PINPIPE_* variable) has a value that cannot work.' },
  PINPIPE_INPUT_INVALID: { status: 400, retryable: false, exit: EXIT_FAILURE, summary: 'A record or file does not match its contract.' },
  PINPIPE_INPUT_NOT_FOUND: { status: 404, retryable: false, exit: EXIT_FAILURE, summary: 'An input file or object the job needs does not exist.' },
  PINPIPE_DEPENDENCY_UNAVAILABLE: {
    status: 503,
    retryable: true,
    exit: EXIT_FAILURE,
    summary: 'Kafka, S3, Cassandra, PostgreSQL or an HTTP peer did not answer or refused the request; retrying later can help.',
  },
  PINPIPE_INTERRUPTED: { status: 503, retryable: true, exit: EXIT_INTERRUPTED, summary: 'The job was stopped by SIGTERM or SIGINT before it finished.' },
  PINPIPE_INTERNAL: { status: 500, retryable: false, exit: EXIT_FAILURE, summary: 'A bug: something that should not happen did.' },
  PINPIPE_UNAUTHORIZED: { status: 401, retryable: false, exit: null, summary: 'The request has no valid `Authorization: Bearer <key>` header (ingest).' },
  PINPIPE_FORBIDDEN: { status: 403, retryable: false, exit: null, summary: 'The bearer token is not one of the configured API keys (ingest).' },
  PINPIPE_ROUTE_NOT_FOUND: { status: 404, retryable: false, exit: null, summary: 'No HTTP route has this path (ingest).' },
  PINPIPE_METHOD_NOT_ALLOWED: { status: 405, retryable: false, exit: null, summary: 'The HTTP route exists, but not for this method (ingest).' },
  PINPIPE_BODY_TOO_LARGE: {
    status: 413,
    retryable: false,
    exit: null,
    summary: 'The request body is larger than --max-body-bytes, or holds more records than --max-queued-records (ingest).',
  },
  PINPIPE_RECORD_TOO_LARGE: {
    status: 413,
    retryable: false,
    exit: null,
    summary: 'One record is larger than --max-record-bytes, more than Kafka would accept (ingest: HTTP 413 for a single record, a rejected line in a batch).',
  },
  PINPIPE_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    exit: null,
    summary: 'The Content-Type is not one the route accepts, its charset is not UTF-8, or the body is compressed (ingest).',
  },
  PINPIPE_OVERLOADED: {
    status: 503,
    retryable: true,
    exit: null,
    summary: 'ingest already holds --max-queued-records records not yet stored in Kafka; the answer carries Retry-After, retry after it.',
  },
  PINPIPE_RAW_NOT_READY: {
    status: 503,
    retryable: true,
    exit: EXIT_FAILURE,
    summary: 'Day D of the raw lake is not complete enough yet (raw-ready); the daily DAG retries later.',
  },
  PINPIPE_LAKE_CONFLICT: {
    status: 409,
    retryable: false,
    exit: EXIT_FAILURE,
    summary: 'The raw lake holds offsets of a topic that Kafka no longer has as they were: the topic was deleted and re-created; s3-sink stops rather than mix the two.',
  },
  PINPIPE_RECONCILE_FAILED: {
    status: 422,
    retryable: false,
    exit: EXIT_FAILURE,
    summary:
      "reconcile: day D's batch and the stream's final windows differ by more than --max-unexplained records beyond the late ones, for the category or country and windows the message names; the report is still written (passed: false).",
  },
  PINPIPE_QUALITY_FAILED: {
    status: 422,
    retryable: false,
    exit: EXIT_FAILURE,
    summary:
      "A day's data-quality report failed its thresholds: daily-transform still writes the report (passed: false) and leaves the curated data as it was, and cassandra-load refuses a day whose report failed.",
  },
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

/** A job's exit code for the error it stopped with: its code's `exit` in ERROR_CODES, else 1. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof PinpipeError) return ERROR_CODES[error.code].exit ?? EXIT_FAILURE;
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
