import type { Logger } from '../lib/logger.js';

/**
 * kafkajs messages that repeat many times a second while Kafka is down, or that describe a
 * case the gateway handles itself (bounded producer retries, see producer.ts). They go to debug;
 * the gateway logs each change of Kafka's reachability once, at info or warn.
 */
const QUIET = [/Connection error/, /Failed to connect to seed broker/, /Limiting retries for the idempotent producer/, /Connection timeout/, /ECONNREFUSED/];

/** The job logger, with kafkajs's repetitive connection noise lowered to debug. */
export function kafkaLogger(logger: Logger): Logger {
  const quiet = Object.create(logger) as Logger;
  const log = logger.log.bind(logger) as (...args: unknown[]) => Logger;
  quiet.log = ((level: unknown, message?: unknown, ...rest: unknown[]) => {
    const lowered = typeof level === 'string' && typeof message === 'string' && QUIET.some((pattern) => pattern.test(message)) ? 'debug' : level;
    return log(lowered, message, ...rest);
  }) as Logger['log'];
  return quiet;
}
