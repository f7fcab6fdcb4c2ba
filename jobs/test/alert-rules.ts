import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';

/** pinpipe's alerting rules, the file the local Prometheus loads and the chart ships. */
export const ALERT_RULES_PATH = join(projectRoot(), 'charts', 'pinpipe', 'alerts', 'pinpipe-alerts.yaml');

/** Each alert of a rules file with its expression (a one-line value or a `|` block). */
export function ruleExpressions(text: string = readFileSync(ALERT_RULES_PATH, 'utf8')): { alert: string; expr: string }[] {
  const lines = text.split('\n');
  const rules: { alert: string; expr: string }[] = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const named = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (named) alert = named[1] as string;
    const found = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!found) continue;
    let expr = found[2] as string;
    if (expr === '|') {
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]?.trim() === '' || (lines[i + 1]?.search(/\S/) ?? 0) > (found[1] as string).length)) block.push(lines[++i] as string);
      expr = block.join('\n');
    }
    rules.push({ alert, expr });
  }
  return rules;
}
