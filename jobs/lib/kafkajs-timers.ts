import { createRequire } from 'node:module';
import { isPatchedKafkajs } from './kafkajs-records.js';

/**
 * kafkajs's request queue schedules its next look at pending requests with
 * `setTimeout(fn, throttledUntil - Date.now())`. When the broker has never throttled it
 * (throttledUntil = -1) or the throttle has ended and nothing is pending, that delay is negative
 * (about minus the epoch, or a few ms): Node.js has always run such a timer after 1 ms, and since
 * Node.js 23 it also prints a TimeoutNegativeWarning, from every job that talks to Kafka. kafkajs
 * has no release after 2.2.4 to fix it, so for that version the method is replaced by one that
 * asks for those same delays without the negative numbers: the time left of a throttle, else
 * kafkajs's 10 ms poll while requests are pending, else 1 ms. Another version keeps its own.
 */

const require = createRequire(import.meta.url);
const REQUEST_QUEUE = 'kafkajs/src/network/requestQueue/index.js';
/** kafkajs's own CHECK_PENDING_REQUESTS_INTERVAL. */
const PENDING_POLL_MS = 10;
/** What Node.js makes of a negative or zero delay. */
const IDLE_CHECK_MS = 1;

interface RequestQueue {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** The delay kafkajs 2.2.4 means, never below 1 ms. */
export function pendingCheckDelay(throttledUntil: number, now: number, pending: number): number {
  const throttleLeft = throttledUntil - now;
  if (throttleLeft > 0) return throttleLeft;
  return pending > 0 ? PENDING_POLL_MS : IDLE_CHECK_MS;
}

/** Whether the request queue's timer is replaced (false for another kafkajs version). */
export let requestQueueTimerGuarded = false;

function guard(): void {
  if (!isPatchedKafkajs()) return;
  const queueClass = require(REQUEST_QUEUE) as { prototype: RequestQueue };
  queueClass.prototype.scheduleCheckPendingRequests = function (this: RequestQueue): void {
    // As kafkajs: one check scheduled at a time; it reschedules itself if still needed.
    if (this.throttleCheckTimeoutId) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, pendingCheckDelay(this.throttledUntil, Date.now(), this.pending.length));
  };
  requestQueueTimerGuarded = true;
}

guard();
