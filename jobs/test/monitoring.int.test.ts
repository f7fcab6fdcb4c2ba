import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../lib/logger.js';
import { pushBatchMetrics } from '../lib/metrics.js';
import { projectRoot } from '../lib/paths.js';
import { ruleExpressions } from './alert-rules.js';
import { stackSetting } from './services.js';

/**
 * The local monitoring services that `make up` starts: Prometheus scrapes itself, the
 * Pushgateway and Cassandra's JMX exporter (job targets are down unless a job runs), the exporter
 * serves every cassandra_* series the dashboard queries, and a batch run pushed to the
 * Pushgateway reaches it.
 */
const setting = (name: string): string => stackSetting(name).replace(/\/+$/, '');

async function text(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  expect(response.status, url).toBe(200);
  return response.text();
}

describe('local monitoring', () => {
  it('Prometheus scrapes itself, the Pushgateway and Cassandra, and knows every job target', async () => {
    const prometheus = setting('PINPIPE_PROMETHEUS_URL');
    const deadline = Date.now() + 60_000;
    let health: Record<string, string> = {};
    // A fresh Prometheus has not scraped everything yet; Cassandra is scraped every 30 s.
    while (Date.now() < deadline) {
      const body = JSON.parse(await text(`${prometheus}/api/v1/targets`)) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
      health = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t.health]));
      if (['prometheus', 'pushgateway', 'cassandra'].every((job) => health[job] === 'up')) break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    expect(health, 'target health by scrape job (cassandra down: a Cassandra started before the JMX exporter was added needs `stack/stack.sh down cassandra && make up`)').toMatchObject({
      prometheus: 'up',
      pushgateway: 'up',
      cassandra: 'up',
    });
    expect(Object.keys(health)).toEqual(expect.arrayContaining(['ingest', 's3-sink', 'stream-agg']));
  });

  it("Prometheus evaluates the chart's alerting rules and sends to the local Alertmanager", async () => {
    const prometheus = setting('PINPIPE_PROMETHEUS_URL');
    const declared = ruleExpressions().map((r) => r.alert).sort();
    const rules = JSON.parse(await text(`${prometheus}/api/v1/rules?type=alert`)) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(declared);
    expect(loaded.filter((r) => r.health === 'err')).toEqual([]);
    const managers = JSON.parse(await text(`${prometheus}/api/v1/alertmanagers`)) as { data: { activeAlertmanagers: { url: string }[] } };
    expect(managers.data.activeAlertmanagers.map((m) => m.url)).toEqual([`${setting('PINPIPE_ALERTMANAGER_URL')}/api/v2/alerts`]);
    expect((await fetch(`${setting('PINPIPE_ALERTMANAGER_URL')}/-/ready`)).status).toBe(200);
  });

  it("Cassandra's exporter serves every cassandra_* series the dashboard queries", async () => {
    const exposition = await text(`${setting('PINPIPE_CASSANDRA_EXPORTER_URL')}/metrics`);
    const served = new Set([...exposition.matchAll(/^([a-z_:][a-z0-9_:]*)[{ ]/gm)].map((m) => m[1] as string));
    const dashboard = readFileSync(join(projectRoot(), 'charts', 'pinpipe', 'dashboards', 'pinpipe.json'), 'utf8');
    const wanted = new Set([...dashboard.matchAll(/\bcassandra_[a-z0-9_]+/g)].map((m) => m[0]));
    expect(wanted.size).toBeGreaterThan(5);
    expect([...wanted].filter((name) => !served.has(name))).toEqual([]);
    expect(served.has('jvm_memory_used_bytes')).toBe(true);
  });

  it('a batch run pushed to the Pushgateway is served there', async () => {
    const gateway = setting('PINPIPE_PUSHGATEWAY_URL');
    const job = `monitoring-test-${process.pid}`;
    const logger = { warn: vi.fn(), debug: vi.fn(), info: vi.fn(), error: vi.fn() } as unknown as Logger;
    try {
      expect(await pushBatchMetrics(gateway, { job, seconds: 3, rows: { pins_by_id: 42 }, succeeded: true, day: '2031-01-02', qualityPassed: true }, logger)).toBe(true);
      const served = await text(`${gateway}/metrics`);
      expect(served).toMatch(new RegExp(`pinpipe_batch_rows_total\\{(?=[^}]*job="${job}")(?=[^}]*table="pins_by_id")[^}]*\\} 42`));
      expect(served).toMatch(new RegExp(`pinpipe_batch_last_success_timestamp_seconds\\{[^}]*job="${job}"[^}]*\\} \\d`));
      expect(served).toMatch(new RegExp(`pinpipe_batch_last_success_day_seconds\\{[^}]*job="${job}"[^}]*\\} (1925078400|1\\.9250784e\\+09)$`, "m"));
      expect(served).toMatch(new RegExp(`pinpipe_batch_quality_passed\\{[^}]*job="${job}"[^}]*\\} 1`));
    } finally {
      await fetch(`${gateway}/metrics/job/${job}`, { method: 'DELETE' });
    }
  });
});
