import { createRequire } from 'node:module';

/**
 * kafkajs's request queue schedules its next look at pending requests with
 * `setTimeout(fn, throttledUntil - Date.now())`, and when the broker has never throttled it
 * (throttledUntil = -1) and nothing is pending, that delay is about minus the epoch. Node.js
 * has always run such a timer after 1 ms; since Node.js 23 it also prints a
 * TimeoutNegativeWarning, once per process, from every job that talks to Kafka. kafkajs has no
 * release after 2.2.4 to fix it, so the queue is handed a throttle that ends 1 ms from now for
 * that one call: the same 1 ms timer, without the warning. Any other case runs kafkajs's own
 * code unchanged.
 */

const require = createRequire(import.meta.url);
const REQUEST_QUEUE = 'kafkajs/src/network/requestQueue/index.js';

interface RequestQueue {
  throttledUntil: number;
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

/** Whether the request queue's timer is guarded (false if kafkajs's internals moved). */
export let requestQueueTimerGuarded = false;

function guard(): void {
  let queueClass: { prototype: RequestQueue } | undefined;
  try {
    queueClass = require(REQUEST_QUEUE) as { prototype: RequestQueue };
  } catch {
    return;
  }
  const original = queueClass.prototype.scheduleCheckPendingRequests;
  if (typeof original !== 'function') return;
  queueClass.prototype.scheduleCheckPendingRequests = function (this: RequestQueue): void {
    const now = Date.now();
    if (this.pending.length > 0 || this.throttledUntil >= now) {
      original.call(this);
      return;
    }
    const throttledUntil = this.throttledUntil;
    this.throttledUntil = now + 1;
    try {
      original.call(this);
    } finally {
      this.throttledUntil = throttledUntil;
    }
  };
  requestQueueTimerGuarded = true;
}

guard();
