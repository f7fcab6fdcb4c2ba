import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.js';
import { ruleExpressions } from './alert-rules.js';

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
  const rules = ruleExpressions();
  const links = rules.filter((r) => r.runbookUrl !== undefined).map((r) => ({ alert: r.alert, url: r.runbookUrl as string }));
  const severities = new Map(rules.map((r) => [r.alert, r.severity]));
  const manual = readFileSync(join(projectRoot(), RUNBOOKS), 'utf8').split('\n');
  const anchors = new Set(manual.filter((line) => line.startsWith('## ')).map((line) => slug(line.slice(3))));
  // The manual's table of alerts: | [Name](#anchor) | severity | fires when |
  const table = manual.flatMap((line) => {
    const row = /^\| \[(\w+)\]\(#([\w-]+)\) \| (\w+) \|/.exec(line);
    return row ? [{ alert: row[1] as string, anchor: row[2] as string, severity: row[3] as string }] : [];
  });

  it('exist for every alert, one runbook_url each', () => {
    expect(links.map((l) => l.alert)).toEqual(rules.map((r) => r.alert));
  });

  it('are listed in the table of alerts, in the order of the rules file, with the severity of each rule', () => {
    expect(table.map((row) => row.alert)).toEqual(links.map((l) => l.alert));
    for (const row of table) {
      expect(row.anchor, row.alert).toBe(row.alert.toLowerCase());
      expect(row.severity, row.alert).toBe(severities.get(row.alert));
    }
  });

  it.each(links)('$alert links to its own section of the manual', ({ alert, url }) => {
    expect(url).toBe(`${RUNBOOKS}#${alert.toLowerCase()}`);
    expect(anchors, `${RUNBOOKS} has no "## ${alert}" section`).toContain(alert.toLowerCase());
  });
});
