import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { Slots } from '../lib/slots.js';

const RETRYABLE_CODES = new Set<number>([
  cassandra.types.responseErrorCodes.writeTimeout,
  cassandra.types.responseErrorCodes.readTimeout,
  cassandra.types.responseErrorCodes.unavailableException,
  cassandra.types.responseErrorCodes.overloaded,
  cassandra.types.responseErrorCodes.isBootstrapping,
]);

/** Timeouts, too few replicas, an overloaded or unreachable node: worth another try. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof cassandra.errors.ResponseError) return RETRYABLE_CODES.has(error.code);
  return (
    error instanceof cassandra.errors.OperationTimedOutError ||
    error instanceof cassandra.errors.NoHostAvailableError ||
    error instanceof cassandra.errors.BusyConnectionError
  );
}

export interface RetryOptions {
  maxRetries: number;
  baseMs: number;
  /** Upper bound of one delay. */
  maxMs?: number;
  isRetryable?: (error: unknown) => boolean;
  random?: () => number;
  wait?: (ms: number) => Promise<unknown>;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Exponential backoff with full jitter: delay = random(0, min(max, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.isRetryable ?? isRetryable;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= options.maxRetries || !retryable(error)) throw error;
      const delay = backoffMs(attempt, options.baseMs, options.maxMs ?? 10_000, options.random);
      options.onRetry?.(error, attempt + 1, delay);
      await wait(delay);
    }
  }
}

/**
 * Keeps up to `concurrency` operations in flight, each retried with backoff; a submit waits
 * only while the window is full, so the pipeline never drains between chunks. Failures after
 * the retries are counted (with the first error kept), not thrown, so one bad row does not stop
 * a load; the caller decides what a non-zero count means.
 */
export class BoundedWriter {
  written = 0;
  failed = 0;
  firstError: unknown;
  // Slots with a waiting queue rather than Promise.race over the in-flight set: racing 128
  // promises per row costs more CPU than encoding the row.
  private readonly slots: Slots;
  private readonly idle: (() => void)[] = [];

  constructor(
    concurrency: number,
    private readonly retry: RetryOptions,
  ) {
    this.slots = new Slots(concurrency);
  }

  async submit(rows: number, operation: () => Promise<unknown>): Promise<void> {
    await this.slots.acquire();
    void withRetry(operation, this.retry)
      .then(
        () => {
          this.written += rows;
        },
        (error: unknown) => {
          this.failed += rows;
          this.firstError ??= error;
        },
      )
      .finally(() => {
        this.slots.release();
        if (this.slots.inUse === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
  }

  async drain(): Promise<void> {
    while (this.slots.inUse > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
