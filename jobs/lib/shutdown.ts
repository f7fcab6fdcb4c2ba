import type { Logger } from './logger.js';

export type ShutdownHook = () => Promise<void> | void;

export interface Shutdown {
  /** Aborted on the first SIGTERM or SIGINT: long loops watch it and wind down. */
  readonly signal: AbortSignal;
  /** Runs at shutdown, last registered first, so a consumer closes before the client it uses. */
  onShutdown(hook: ShutdownHook): void;
  /** Runs the hooks once (also used on normal completion); later calls wait for the first. */
  close(): Promise<void>;
  /** Removes the signal handlers (tests and nested use). */
  dispose(): void;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Bound on how long hooks may take before the process is forced out. */
  timeoutMs?: number;
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void;
}

/**
 * Graceful stop on SIGTERM/SIGINT: abort the signal, run hooks in reverse order within a bound.
 * A second signal, or hooks that overrun the bound, exit at once with 143 / 130 semantics so a
 * stuck dependency cannot keep a pod in Terminating forever.
 */
export function installShutdown({ logger, timeoutMs = 25_000, exit = (code) => process.exit(code) }: ShutdownOptions): Shutdown {
  const controller = new AbortController();
  const hooks: ShutdownHook[] = [];
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort();
      for (const hook of hooks.reverse()) {
        try {
          await hook();
        } catch (error) {
          logger.warn('shutdown hook failed', { error: error instanceof Error ? error.message : String(error) });
        }
      }
    })();
    return closing;
  };

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signals > 1) {
      logger.warn('second signal, exiting now', { signal });
      exit(code);
      return;
    }
    logger.info('shutting down', { signal });
    const timer = setTimeout(() => {
      logger.error('shutdown timed out, exiting', { timeoutMs });
      exit(code);
    }, timeoutMs);
    timer.unref();
    void close();
  };

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  return {
    signal: controller.signal,
    onShutdown: (hook) => {
      hooks.push(hook);
    },
    close,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
