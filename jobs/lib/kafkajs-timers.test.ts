import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { pendingCheckDelay, requestQueueTimerGuarded } from './kafkajs-timers.js';

const require = createRequire(import.meta.url);

interface Queue {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (options: object) => Queue;

function newQueue(): Queue {
  const logger = { debug: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined };
  return new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, enforceRequestTimeout: true, clientId: 'test', broker: 'test:9092', logger });
}

/** Runs fn and collects the process warnings emitted by then and on the next turns of the loop. */
async function warningsDuring(fn: () => void): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    fn();
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe("kafkajs's request-queue timer", () => {
  it('is guarded for the kafkajs installed', () => {
    expect(requestQueueTimerGuarded).toBe(true);
  });

  it('waits out a throttle, polls every 10 ms while requests are pending, else checks after 1 ms', () => {
    expect(pendingCheckDelay(1_000_250, 1_000_000, 0)).toBe(250);
    expect(pendingCheckDelay(1_000_250, 1_000_000, 3)).toBe(250);
    expect(pendingCheckDelay(-1, 1_796_214_716_582, 2)).toBe(10);
    expect(pendingCheckDelay(-1, 1_796_214_716_582, 0)).toBe(1);
    // A throttle that ended 6 ms ago: kafkajs asked for -6.
    expect(pendingCheckDelay(999_994, 1_000_000, 0)).toBe(1);
    expect(pendingCheckDelay(1_000_000, 1_000_000, 0)).toBe(1);
  });

  it('schedules the idle check without a negative timeout and leaves the throttle as it was', async () => {
    const queue = newQueue();
    try {
      expect(queue.throttledUntil).toBe(-1);
      const warnings = await warningsDuring(() => queue.scheduleCheckPendingRequests());
      expect(warnings.filter((w) => w.startsWith('TimeoutNegativeWarning'))).toEqual([]);
      expect(queue.throttledUntil).toBe(-1);
    } finally {
      queue.destroy();
    }
  });

  it('leaves a real throttle to kafkajs: the check waits until it ends', () => {
    const queue = newQueue();
    try {
      const until = Date.now() + 60_000;
      queue.throttledUntil = until;
      queue.scheduleCheckPendingRequests();
      expect(queue.throttledUntil).toBe(until);
      expect(queue.throttleCheckTimeoutId).not.toBeNull();
    } finally {
      queue.destroy();
    }
  });
});
