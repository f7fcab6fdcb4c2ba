import cliProgress from 'cli-progress';
import type { Logger } from './logger.js';

export interface Progress {
  tick(increment?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  logger: Logger;
  /** Known amount of work, if any. */
  total?: number | undefined;
  /** How often a non-terminal run logs progress. */
  intervalMs?: number;
  stream?: NodeJS.WriteStream;
}

/**
 * A bar on a terminal (cli-progress), a JSON log line every few seconds otherwise, so the
 * same long run is readable by a person and by a log collector.
 */
export function createProgress({ label, logger, total, intervalMs = 5_000, stream = process.stderr }: ProgressOptions): Progress {
  let done = 0;
  const started = Date.now();
  if (stream.isTTY && total !== undefined) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | eta {eta_formatted}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0 });
    return {
      tick(increment = 1) {
        done += increment;
        bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const report = (): void => {
    const seconds = (Date.now() - started) / 1000;
    logger.info(`${label} progress`, { done, total, perSecond: Math.round(done / Math.max(0.001, seconds)) });
  };
  const timer = setInterval(report, intervalMs);
  timer.unref();
  return {
    tick(increment = 1) {
      done += increment;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
