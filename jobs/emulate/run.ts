import { setTimeout as sleep } from 'node:timers/promises';
import type { JobContext } from '../lib/job.js';
import { createProgress } from '../lib/progress.js';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from './generator.js';
import { parseStartTime, type EmulateOptions } from './options.js';
import { HttpOutput, NdjsonOutput, type PostOutput } from './outputs.js';
import { loadSeedPins } from './seed-pins.js';

export async function runEmulate(options: EmulateOptions, { logger, signal }: JobContext): Promise<void> {
  const seedPins = await loadSeedPins(options.seedFile);
  const startTimeMs = parseStartTime(options.startTime);
  const posting = options.ingestUrl !== undefined;

  const output: PostOutput =
    options.ingestUrl !== undefined
      ? new HttpOutput({ url: options.ingestUrl, apiKey: options.apiKey, batchSize: options.batchSize, retryDeadlineMs: options.retryDeadline * 1000, logger, signal })
      : options.out === '-'
        ? NdjsonOutput.toStdout()
        : await NdjsonOutput.toFile(options.out as string);

  const posts = generatePosts(seedPins, {
    ...DEFAULT_GENERATOR_OPTIONS,
    seed: options.seed,
    startTimeMs,
    rate: options.rate,
    firstInd: options.firstInd,
    duplicateRate: options.duplicateRate,
    lateRate: options.lateRate,
  });

  const wallStart = Date.now();
  const deadline = options.duration === undefined ? Infinity : wallStart + options.duration * 1000;
  const limit = options.count ?? Infinity;
  const total = Number.isFinite(limit) ? limit : options.duration !== undefined && posting ? Math.ceil(options.duration * options.rate) : undefined;
  const progress = createProgress({ label: 'emulate', logger, total });
  logger.info('emulating', { seed: options.seed, count: options.count, duration: options.duration, rate: options.rate, destination: options.ingestUrl ?? options.out });

  let written = 0;
  try {
    for (const post of posts) {
      if (written >= limit || signal.aborted) break;
      if (posting) {
        // Pace against the wall clock so the emulated rate holds even after a slow request.
        const due = wallStart + (written * 1000) / options.rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted || Date.now() >= deadline) break;
      } else if (options.duration !== undefined && written >= options.duration * options.rate) {
        break;
      }
      await output.write(postRecords(post));
      written += 1;
      progress.tick();
    }
  } finally {
    progress.stop();
    await output.close();
  }
  logger.info('emulation finished', {
    posts: written,
    records: written * 3,
    rejected: output.rejected,
    retried: output.retried,
    seconds: Math.round((Date.now() - wallStart) / 100) / 10,
    stoppedBySignal: signal.aborted,
  });
}
