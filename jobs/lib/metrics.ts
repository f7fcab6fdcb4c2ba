import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client, { type Registry } from 'prom-client';
import type { Argv } from 'yargs';
import { option } from './config.js';
import type { Logger } from './logger.js';

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
