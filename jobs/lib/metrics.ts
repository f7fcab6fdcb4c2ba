import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client, { type Registry } from 'prom-client';
import type { Argv } from 'yargs';
import { option } from './config.js';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';
import { withTimeout } from './timeout.js';

export { client as prom };

/** Every pinpipe metric starts with this, so dashboards can find them all. */
export const METRIC_PREFIX = 'pinpipe_';

/** Histogram buckets for request, produce and flush latencies, in seconds (1 ms to 10 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry per job with Node's process metrics; each series carries the job name. */
export function createRegistry(job: string): Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ job });
  client.collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

export interface MetricsOptions {
  metricsPort: number;
  metricsHost: string;
}

export function withMetricsOptions<T>(y: Argv<T>, defaultPort: number): Argv<T & MetricsOptions> {
  return y.options({
    ...option('metrics-port', { type: 'number', description: 'Port serving Prometheus /metrics and /healthz; 0 turns it off', default: defaultPort, group: 'Metrics:' }),
    ...option('metrics-host', { type: 'string', description: 'Address the metrics port listens on', default: '127.0.0.1', group: 'Metrics:' }),
  }) as unknown as Argv<T & MetricsOptions>;
}

/**
 * A small HTTP endpoint for jobs that have no HTTP server of their own (the sink, the
 * aggregator). `health` decides what /healthz answers.
 */
export async function serveMetrics(
  registry: Registry,
  options: MetricsOptions,
  logger: Logger,
  health: () => boolean = () => true,
): Promise<Server | undefined> {
  if (options.metricsPort === 0) return undefined;
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        });
    } else if (req.url === '/healthz') {
      const ok = health();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy' }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.metricsPort, options.metricsHost, resolve);
  });
  logger.info('metrics listening', { address: `${options.metricsHost}:${(server.address() as AddressInfo).port}` });
  return server;
}

// ---------------------------------------------------------------------------------------------
// Batch jobs: they end before Prometheus could scrape them, so they push their last run to a
// Prometheus Pushgateway (grouping key `job`), which Prometheus scrapes with honor_labels.

export interface PushgatewayOptions {
  pushgatewayUrl: string;
}

export function withPushgatewayOptions<T>(y: Argv<T>): Argv<T & PushgatewayOptions> {
  return y
    .options({
      ...option('pushgateway-url', {
        type: 'string',
        description: 'Prometheus Pushgateway to push the run metrics to at the end (e.g. http://pushgateway:9091); empty turns it off',
        default: '',
        group: 'Metrics:',
      }),
    })
    .check((argv) => {
      const url = String((argv as Record<string, unknown>).pushgatewayUrl ?? '');
      if (url !== '' && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(url)) {
        throw new ConfigError('--pushgateway-url / PINPIPE_PUSHGATEWAY_URL: must be an http:// or https:// URL, or empty');
      }
      return true;
    }) as unknown as Argv<T & PushgatewayOptions>;
}

/** What a batch run reports: its wall time, rows written per table, and whether it succeeded. */
export interface BatchRun {
  job: string;
  seconds: number;
  rows: Record<string, number>;
  succeeded: boolean;
  /** The day (YYYY-MM-DD) the run processed: a success pushes it, for the batch deadline alert. */
  day?: string;
  /** Whether the day's quality report passed (daily-transform only). */
  qualityPassed?: boolean;
  /** When the run ended; defaults to now. */
  finishedAt?: Date;
}

/** The batch series, in a registry of their own (no process metrics: the process is ending). */
export function createBatchMetrics(registry: Registry) {
  const registers = [registry];
  return {
    duration: new client.Gauge({ name: `${METRIC_PREFIX}batch_run_duration_seconds`, help: 'Wall time of the last run of a batch job', registers }),
    rows: new client.Counter({ name: `${METRIC_PREFIX}batch_rows_total`, help: 'Rows written by the last run of a batch job, by table', labelNames: ['table'] as const, registers }),
    lastSuccess: new client.Gauge({ name: `${METRIC_PREFIX}batch_last_success_timestamp_seconds`, help: 'Unix time at which a run of the batch job last succeeded; moves only on success', registers }),
    lastSuccessDay: new client.Gauge({ name: `${METRIC_PREFIX}batch_last_success_day_seconds`, help: 'Start (Unix time, UTC) of the day the last successful run of the batch job processed; moves only on success', registers }),
    qualityPassed: new client.Gauge({ name: `${METRIC_PREFIX}batch_quality_passed`, help: "1 when the last run's quality report passed its thresholds, 0 when it failed (daily-transform)", registers }),
  };
}

/** The exposition text a run pushes (exported for tests). */
export async function batchMetricsText(run: BatchRun): Promise<string> {
  const registry = new client.Registry();
  const metrics = createBatchMetrics(registry);
  metrics.duration.set(run.seconds);
  for (const [table, n] of Object.entries(run.rows)) metrics.rows.inc({ table }, n);
  // Only a success moves the timestamp and the day; POST (not PUT) keeps the previous ones otherwise.
  if (run.succeeded) metrics.lastSuccess.set((run.finishedAt ?? new Date()).getTime() / 1000);
  else registry.removeSingleMetric(`${METRIC_PREFIX}batch_last_success_timestamp_seconds`);
  if (run.succeeded && run.day !== undefined) metrics.lastSuccessDay.set(Date.parse(`${run.day}T00:00:00Z`) / 1000);
  else registry.removeSingleMetric(`${METRIC_PREFIX}batch_last_success_day_seconds`);
  if (run.qualityPassed !== undefined) metrics.qualityPassed.set(run.qualityPassed ? 1 : 0);
  else registry.removeSingleMetric(`${METRIC_PREFIX}batch_quality_passed`);
  return registry.metrics();
}

/**
 * Pushes a batch run's metrics to the Pushgateway at `url` (POST /metrics/job/<job>, which
 * replaces the series of the same names in that group). Does nothing when `url` is empty.
 * Monitoring must never fail the job: any failure is logged as a warning and false returned.
 */
export async function pushBatchMetrics(url: string, run: BatchRun, logger: Logger, timeoutMs = 5_000): Promise<boolean> {
  if (url === '') return false;
  const target = `${url.replace(/\/+$/, '')}/metrics/job/${encodeURIComponent(run.job)}`;
  try {
    const body = await batchMetricsText(run);
    const response = await withTimeout(
      fetch(target, { method: 'POST', headers: { 'content-type': 'text/plain; version=0.0.4' }, body, signal: AbortSignal.timeout(timeoutMs) }),
      timeoutMs + 100,
      `pushing metrics to ${target}`,
    );
    if (!response.ok) throw new Error(`HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    logger.debug('metrics pushed', { pushgateway: target });
    return true;
  } catch (error) {
    logger.warn('could not push metrics to the Pushgateway; the job result is unaffected', { pushgateway: target, error: (error as Error).message });
    return false;
  }
}
