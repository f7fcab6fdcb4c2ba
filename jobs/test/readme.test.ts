import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.js';

// The README is the front page: short, and every link into the manual must lead somewhere. The
// manual's own links are checked by `mkdocs build --strict` (make test-docs); the README is not
// part of that build, so its links are checked here.
const README = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
const FRONT_PAGE_LINES = 150;

describe('README.md', () => {
  const links = [...README.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1] as string).filter((target) => !/^[a-z]+:/.test(target));

  it(`stays a front page of at most ${FRONT_PAGE_LINES} lines`, () => {
    expect(README.trimEnd().split('\n').length).toBeLessThanOrEqual(FRONT_PAGE_LINES);
  });

  it('links to the manual', () => {
    expect(links).toContain('docs/getting-started.md');
  });

  it.each(links)('links to %s, which exists', (target) => {
    const path = target.split('#')[0] as string;
    expect(path, 'a link within the README itself: the sections live in the manual now').not.toBe('');
    expect(existsSync(join(projectRoot(), path)), `${path} does not exist`).toBe(true);
  });
});
