import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createIngestMetrics } from '../ingest/metrics.js';
import { createBatchMetrics, createRegistry, prom } from '../lib/metrics.js';
import { projectRoot } from '../lib/paths.js';
import { createSinkMetrics } from '../s3-sink/metrics.js';
import { ALERT_RULES_PATH, ruleExpressions } from './alert-rules.js';
import { createAggMetrics } from '../stream-agg/metrics.js';

/**
 * Every query of the Grafana dashboard shipped in the chart must name series that really exist:
 * pinpipe_* names come from the jobs' own metric registries (created here exactly as the jobs
 * create them), cassandra_* names from the JMX exporter rules the stack runs Cassandra with.
 */
const dashboardPath = join(projectRoot(), 'charts', 'pinpipe', 'dashboards', 'pinpipe.json');
const exporterConfigPath = join(projectRoot(), 'stack', 'cassandra', 'jmx-exporter.yaml');

/** Series Prometheus itself adds to every target. */
const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** The series names a metric of this type exposes (a histogram has _bucket, _sum, _count). */
function seriesNames(name: string, type: string): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

async function namesOf(registry: Registry): Promise<string[]> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.flatMap((m) => seriesNames(m.name, String(m.type)));
}

/** Every series name the pinpipe jobs export, from their registries. */
async function pinpipeSeries(): Promise<Set<string>> {
  const names = new Set<string>();
  const ingest = createRegistry('ingest');
  createIngestMetrics(ingest);
  const sink = createRegistry('s3-sink');
  createSinkMetrics(sink);
  const agg = createRegistry('stream-agg');
  createAggMetrics(agg);
  const batch = new prom.Registry();
  createBatchMetrics(batch);
  for (const registry of [ingest, sink, agg, batch]) for (const n of await namesOf(registry)) names.add(n);
  return names;
}

/** Metric names the JMX exporter rules produce (their `name:` values are literal). */
function cassandraSeries(): Set<string> {
  const text = readFileSync(exporterConfigPath, 'utf8');
  return new Set([...text.matchAll(/^\s+name:\s*(\S+)\s*$/gm)].map((m) => m[1] as string));
}

/** Whether a series of this name exists: from a job's registry, the exporter's rules, or Prometheus itself. */
function isExported(name: string, pinpipe: Set<string>, cassandra: Set<string>): boolean {
  if (name.startsWith('pinpipe_')) return pinpipe.has(name);
  if (name.startsWith('cassandra_')) return cassandra.has(name);
  return PROMETHEUS_SYNTHETIC.has(name);
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** Metric names a PromQL expression selects: what is left after strings, label matchers, ranges, groupings, functions and numbers. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b[a-zA-Z_][a-zA-Z0-9_]*\s*\(/g, '(')
    .replace(/\$\w+/g, ' ');
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

function queries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[] };
  const all: { panel: string; expr: string }[] = [];
  const visit = (p: Panel): void => {
    for (const t of p.targets ?? []) all.push({ panel: p.title, expr: t.expr });
    for (const child of p.panels ?? []) visit(child);
  };
  dashboard.panels.forEach(visit);
  return all;
}

describe('the alerting rules', () => {
  it('reads every alert of the rules file with its expression', () => {
    const text = readFileSync(ALERT_RULES_PATH, 'utf8');
    const rules = ruleExpressions(text);
    expect(rules.length).toBe([...text.matchAll(/^\s*- alert:/gm)].length);
    expect(rules.length).toBeGreaterThan(15);
    const named = (alert: string) => metricNames(rules.find((r) => r.alert === alert)?.expr ?? '');
    expect(named('PinpipeRawLakeStalled')).toEqual(['pinpipe_ingest_records_accepted_total', 'pinpipe_s3_sink_records_total']);
    expect(named('PinpipeDailyBatchLate')).toEqual(['pinpipe_batch_last_success_day_seconds']);
    expect(named('PinpipeS3SinkDown')).toEqual(['up']);
  });

  it('use only series the jobs, the Cassandra exporter or Prometheus really export', async () => {
    const pinpipe = await pinpipeSeries();
    const cassandra = cassandraSeries();
    const unknown: string[] = [];
    for (const { alert, expr } of ruleExpressions()) {
      const names = metricNames(expr);
      if (names.length === 0) unknown.push(`${alert}: no metric in ${expr}`);
      for (const name of names) if (!isExported(name, pinpipe, cassandra)) unknown.push(`${alert}: ${name}`);
    }
    expect(unknown, 'alert expressions naming series nothing exports').toEqual([]);
  });
});

describe('the Grafana dashboard', () => {
  it('extracts metric names from PromQL', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{x="y"}[$__rate_interval])))')).toEqual(['a_bucket']);
    expect(metricNames('time() - max by (job) (b_seconds) + on (job) c')).toEqual(['b_seconds', 'c']);
  });

  it('has the panels the issue asks for, each with a query', () => {
    const titles = queries().map((q) => q.panel.toLowerCase());
    for (const want of ['accepted', 'rejected', 'consumer lag', 'sink flushes', 'freshness', 'late events', 'duration', 'rows']) {
      expect(titles.some((t) => t.includes(want)), `a panel about ${want}`).toBe(true);
    }
  });

  it('queries only series the jobs, the Cassandra exporter or Prometheus really export', async () => {
    const pinpipe = await pinpipeSeries();
    const cassandra = cassandraSeries();
    expect(pinpipe.has('pinpipe_ingest_records_accepted_total')).toBe(true); // the registries were read
    expect(cassandra.size).toBeGreaterThan(5);
    const unknown: string[] = [];
    const used = new Set<string>();
    for (const { panel, expr } of queries()) {
      const names = metricNames(expr);
      if (names.length === 0) unknown.push(`${panel}: no metric in ${expr}`);
      for (const name of names) {
        used.add(name);
        if (!isExported(name, pinpipe, cassandra)) unknown.push(`${panel}: ${name}`);
      }
    }
    expect(unknown, 'dashboard queries naming series nothing exports').toEqual([]);
    expect(used.size).toBeGreaterThan(20);
  });
});
