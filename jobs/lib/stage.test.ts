import { getEventListeners } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DependencyError } from './errors.js';
import { stageGroups } from './stage.js';

/** An S3 client whose GETs wait until the test releases them, and that records what is in flight. */
function gatedS3(failing: ReadonlySet<string> = new Set()) {
  const waiting = new Map<string, () => void>();
  const started: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async send(command: { input: { Key: string } }, options?: { abortSignal?: AbortSignal }) {
      const key = command.input.Key;
      // As the SDK does: the request listens to the signal until its body is read.
      const onAbort = (): void => undefined;
      options?.abortSignal?.addEventListener('abort', onAbort);
      started.push(key);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.set(key, resolve));
      inFlight -= 1;
      if (failing.has(key)) throw new Error(`no such key ${key}`);
      const body = Readable.from([Buffer.from(`body of ${key}`)]);
      body.once('close', () => options?.abortSignal?.removeEventListener('abort', onAbort));
      return { Body: body };
    },
  };
  return {
    s3: client as unknown as S3Client,
    started,
    get maxInFlight() {
      return maxInFlight;
    },
    /** Lets every request that has started so far answer. */
    releaseStarted() {
      for (const key of started) waiting.get(key)?.();
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('stageGroups', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'pinpipe-stage-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('downloads the groups in order through one bounded queue and answers each group when it is down', async () => {
    const s3 = gatedS3();
    const pins = ['raw/pins/dt=2031-01-01/hour=00/a.ndjson.gz', 'raw/pins/dt=2031-01-01/hour=01/b.ndjson.gz'];
    const geo = ['raw/geo/dt=2031-01-01/hour=00/c.ndjson.gz', 'raw/geo/dt=2031-01-01/hour=01/d.ndjson.gz'];
    const [pinFiles, geoFiles] = stageGroups(s3.s3, 'lake', [{ keys: pins, dir: join(work, 'pin') }, { keys: geo, dir: join(work, 'geo') }], 2);
    let geoDone = false;
    void geoFiles?.then(() => (geoDone = true));

    await tick();
    expect(s3.started).toEqual(pins);
    s3.releaseStarted();
    const paths = (await pinFiles) as string[];
    expect(geoDone).toBe(false);
    expect(paths).toEqual([join(work, 'pin', 'dt=2031-01-01_hour=00_a.ndjson.gz'), join(work, 'pin', 'dt=2031-01-01_hour=01_b.ndjson.gz')]);
    expect(await readFile(paths[0] as string, 'utf8')).toBe(`body of ${pins[0]}`);

    await tick();
    expect(s3.started).toEqual([...pins, ...geo]);
    s3.releaseStarted();
    expect(await geoFiles).toHaveLength(2);
    expect(s3.maxInFlight).toBe(2);
  });

  it('fails only the group whose download failed, with the key named', async () => {
    const bad = 'raw/geo/dt=2031-01-01/hour=00/c.ndjson.gz';
    const s3 = gatedS3(new Set([bad]));
    const groups = stageGroups(s3.s3, 'lake', [
      { keys: [bad], dir: join(work, 'geo') },
      { keys: ['raw/user/dt=2031-01-01/hour=00/e.ndjson.gz'], dir: join(work, 'user') },
    ]);
    await tick();
    s3.releaseStarted();
    await expect(groups[0]).rejects.toThrow(DependencyError);
    await expect(groups[0]).rejects.toThrow(`could not download s3://lake/${bad}`);
    expect(await groups[1]).toHaveLength(1);
  });

  it('keeps six downloads in flight on one signal without a listener-leak warning', async () => {
    const s3 = gatedS3();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const keys = Array.from({ length: 12 }, (_, i) => `raw/pins/dt=2031-01-01/hour=00/${i}.ndjson.gz`);
      const signal = new AbortController().signal;
      const [files] = stageGroups(s3.s3, 'lake', [{ keys, dir: join(work, 'pin') }], 6, signal);
      await tick();
      expect(s3.maxInFlight).toBe(6);
      // The second six start only once the first six are written to disk, however long that takes.
      let done = false;
      void files?.finally(() => (done = true));
      while (!done) {
        s3.releaseStarted();
        await tick();
      }
      expect(s3.maxInFlight).toBe(6);
      expect(await files).toHaveLength(12);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      await tick();
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
