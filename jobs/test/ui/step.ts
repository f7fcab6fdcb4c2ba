import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/**
 * The steps of a browser test: each is announced, timed, and on failure leaves a screenshot of the
 * page and its accessibility tree (what a screen reader gets: roles, names and texts, to fix a
 * locator by) in `artifacts` as failed-<step>.png and .txt, then fails naming the step.
 */
export function browserSteps(artifacts: string, say: (message: string) => void, currentPage: () => Page | undefined) {
  return async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    say(`${name} ...`);
    try {
      const result = await body();
      say(`${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return result;
    } catch (error) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      const page = currentPage();
      if (page) {
        await page.screenshot({ path: join(artifacts, `failed-${slug}.png`), timeout: 15_000 }).catch(() => undefined);
        const snapshot = await page
          .locator('body')
          .ariaSnapshot({ timeout: 10_000 })
          .catch((e: unknown) => String(e));
        await writeFile(join(artifacts, `failed-${slug}.txt`), `${page.url()}\n\n${snapshot}\n`).catch(() => undefined);
      }
      throw new Error(`step "${name}" failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
}
