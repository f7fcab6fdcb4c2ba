import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { backoffMs, BoundedWriter, isRetryable, withRetry } from './retry.js';

const codes = cassandra.types.responseErrorCodes;

describe('retries', () => {
  it('retry timeouts, unavailability and overload, not bad statements', () => {
    expect(isRetryable(new cassandra.errors.ResponseError(codes.writeTimeout, 'timeout'))).toBe(true);
    expect(isRetryable(new cassandra.errors.ResponseError(codes.unavailableException, 'unavailable'))).toBe(true);
    expect(isRetryable(new cassandra.errors.ResponseError(codes.overloaded, 'overloaded'))).toBe(true);
    expect(isRetryable(new cassandra.errors.OperationTimedOutError('client timeout'))).toBe(true);
    expect(isRetryable(new cassandra.errors.NoHostAvailableError({}))).toBe(true);
    expect(isRetryable(new cassandra.errors.ResponseError(codes.invalid, 'bad query'))).toBe(false);
    expect(isRetryable(new Error('boom'))).toBe(false);
  });

  it('back off exponentially with full jitter, capped', () => {
    expect(backoffMs(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffMs(10, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffMs(3, 100, 10_000, () => 0.5)).toBe(400);
  });

  it('try again until success or the retry budget is spent', async () => {
    const waits: number[] = [];
    let calls = 0;
    const timeout = new cassandra.errors.ResponseError(codes.writeTimeout, 'timeout');
    const value = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw timeout;
        return 'ok';
      },
      { maxRetries: 5, baseMs: 10, random: () => 1, wait: async (ms) => waits.push(ms) },
    );
    expect(value).toBe('ok');
    expect(waits).toEqual([10, 20]);
    calls = 0;
    await expect(withRetry(async () => Promise.reject(timeout), { maxRetries: 2, baseMs: 1, wait: async () => undefined })).rejects.toBe(timeout);
    const invalid = new cassandra.errors.ResponseError(codes.invalid, 'bad');
    await expect(withRetry(async () => ((calls += 1), Promise.reject(invalid)), { maxRetries: 5, baseMs: 1, wait: async () => undefined })).rejects.toBe(invalid);
    expect(calls).toBe(1);
  });

  it('bound the work in flight and count failures', async () => {
    let inFlight = 0;
    let peak = 0;
    const writer = new BoundedWriter(3, { maxRetries: 0, baseMs: 1 });
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8]) {
      await writer.submit(2, async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        if (n % 4 === 0) throw new Error(`bad ${n}`);
      });
    }
    await writer.drain();
    expect(peak).toBe(3);
    expect(writer.written).toBe(12);
    expect(writer.failed).toBe(4);
    expect((writer.firstError as Error).message).toBe('bad 4');
  });
});
