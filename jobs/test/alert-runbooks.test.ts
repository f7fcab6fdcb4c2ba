import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.js';
import { ALERT_RULES_PATH, ruleExpressions } from './alert-rules.js';

const RUNBOOKS = 'docs/alerts.md';

/** The anchor MkDocs gives a heading (its toc extension's default slug): lower case, words joined by '-'. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .trim()
    .replace(/[\s-]+/g, '-');
}

describe('alert runbooks', () => {
  const rules = readFileSync(ALERT_RULES_PATH, 'utf8');
  const links = [...rules.matchAll(/^\s*- alert:\s*(\S+)[\s\S]*?runbook_url:\s*"([^"]+)"/gm)].map((m) => ({ alert: m[1] as string, url: m[2] as string }));
  const anchors = new Set(
    readFileSync(join(projectRoot(), RUNBOOKS), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('## '))
      .map((line) => slug(line.slice(3))),
  );

  it('exist for every alert, one runbook_url each', () => {
    expect(links.map((l) => l.alert)).toEqual(ruleExpressions(rules).map((r) => r.alert));
  });

  it.each(links)('$alert links to its own section of the manual', ({ alert, url }) => {
    expect(url).toBe(`${RUNBOOKS}#${alert.toLowerCase()}`);
    expect(anchors, `${RUNBOOKS} has no "## ${alert}" section`).toContain(alert.toLowerCase());
  });
});
