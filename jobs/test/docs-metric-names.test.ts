import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.js';

// The manual names metrics in its prose (what a job exports, what an alert or a runbook looks at).
// docs/reference/metrics.md is generated from the jobs' registries, so it is the list of what
// exists: a name the prose mentions must be on it, or the prose describes a metric that is gone.
const root = projectRoot();
const METRIC = /\bpinpipe_(?:ingest|s3_sink|stream_agg|batch)_[a-z0-9_]*[a-z0-9]\b/g;

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'reference' ? [] : markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

describe('metric names in the manual', () => {
  const defined = new Set(readFileSync(join(root, 'docs', 'reference', 'metrics.md'), 'utf8').match(/(?<=^\| `)pinpipe_[a-z0-9_]+(?=` \|)/gm) ?? []);
  const pages = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];
  const mentioned = pages.flatMap((page) => [...new Set(readFileSync(page, 'utf8').match(METRIC) ?? [])].map((name) => ({ page: relative(root, page), name })));

  it('come from the generated metrics reference', () => {
    expect(defined.size).toBeGreaterThan(30);
    expect(mentioned.length).toBeGreaterThan(20);
  });

  it.each(mentioned)('$page: $name is a series a job registers', ({ name }) => {
    // Prometheus adds _bucket, _sum and _count to a histogram's name.
    expect(defined).toContain(name.replace(/_(bucket|sum|count)$/, ''));
  });
});
