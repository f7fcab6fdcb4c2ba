import type { GlobalOptions } from './config.js';
import { describeError, exitCodeFor, PinpipeError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { installShutdown, type Shutdown } from './shutdown.js';

export interface JobContext {
  job: string;
  logger: Logger;
  shutdown: Shutdown;
  /** Shorthand for shutdown.signal. */
  signal: AbortSignal;
}

/**
 * The one wrapper every command handler goes through: logger, graceful shutdown, and the mapping
 * of errors to exit codes (0 only on success, 2 for usage and configuration, 1 otherwise).
 */
export async function runJob(job: string, argv: GlobalOptions, body: (ctx: JobContext) => Promise<void>): Promise<void> {
  const logger = createLogger(job, argv.logLevel);
  const shutdown = installShutdown({ logger });
  let code = 0;
  try {
    await body({ job, logger, shutdown, signal: shutdown.signal });
  } catch (error) {
    code = exitCodeFor(error);
    logger.error(describeError(error, argv.verbose), {
      code: error instanceof PinpipeError ? error.code : 'PINPIPE_INTERNAL',
      exitCode: code,
    });
  } finally {
    await shutdown.close();
    shutdown.dispose();
  }
  // Clients such as kafkajs can leave timers behind; the job is over, so leave deterministically.
  process.exit(code);
}
