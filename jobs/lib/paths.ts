import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding package.json: the same answer from the TypeScript sources, from the compiled
 * dist/ tree and inside the image, so bundled files such as data/ are found from all three.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'data'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the pinpipe install folder (package.json beside data/)');
    dir = parent;
  }
}

export function bundledDataFile(name: string): string {
  return join(projectRoot(), 'data', name);
}
