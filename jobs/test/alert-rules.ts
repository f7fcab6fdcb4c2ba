import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';

/** pinpipe's alerting rules, the file the local Prometheus loads and the chart ships. */
export const ALERT_RULES_PATH = join(projectRoot(), 'charts', 'pinpipe', 'alerts', 'pinpipe-alerts.yaml');

export interface AlertRule {
  alert: string;
  /** A one-line value or a `|` block. */
  expr: string;
  /** Its `severity` label and `runbook_url` annotation, when it has them. */
  severity?: string;
  runbookUrl?: string;
}

/** Each alert of a rules file with its expression, severity and runbook. */
export function ruleExpressions(text: string = readFileSync(ALERT_RULES_PATH, 'utf8')): AlertRule[] {
  const lines = text.split('\n');
  const rules: AlertRule[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const named = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (named) rules.push({ alert: named[1] as string, expr: '' });
    const rule = rules.at(-1);
    if (!rule) continue;
    const severity = /^\s*severity:\s*"?(\w+)"?\s*$/.exec(line);
    if (severity) rule.severity = severity[1] as string;
    const runbook = /^\s*runbook_url:\s*"?([^"\s]+)"?\s*$/.exec(line);
    if (runbook) rule.runbookUrl = runbook[1] as string;
    const found = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!found) continue;
    let expr = found[2] as string;
    if (expr === '|') {
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]?.trim() === '' || (lines[i + 1]?.search(/\S/) ?? 0) > (found[1] as string).length)) block.push(lines[++i] as string);
      expr = block.join('\n');
    }
    rule.expr = expr;
  }
  return rules;
}
