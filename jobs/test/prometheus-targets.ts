import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stackSetting } from './services.js';

/** A port on 127.0.0.1 that nothing listens on now, for a job's metrics. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A scrape target of a test's own for the local Prometheus: the file
 * `$PINPIPE_PROMETHEUS_TARGETS_DIR/<job>-<namespace>.json`, which its file service discovery reads
 * into the scrape job `<job>`, with the test's `namespace` label (and any other labels given).
 */
export function scrapeTarget(job: string, namespace: string) {
  const file = join(stackSetting('PINPIPE_PROMETHEUS_TARGETS_DIR'), `${job}-${namespace}.json`);
  return {
    file,
    async register(address: string, labels: Record<string, string> = {}): Promise<void> {
      await mkdir(join(file, '..'), { recursive: true });
      // Written whole under another name, then renamed: Prometheus never reads half a file.
      await writeFile(`${file}.tmp`, JSON.stringify([{ targets: [address], labels: { namespace, ...labels } }]));
      await rename(`${file}.tmp`, file);
    },
    remove: (): Promise<void> => rm(file, { force: true }),
  };
}
