import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import type { Logger } from './logger.js';
import { batchMetricsText, pushBatchMetrics, withPushgatewayOptions } from './metrics.js';

interface Received {
  method: string;
  url: string;
  body: string;
}

let server: Server | undefined;

afterEach(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A stand-in Pushgateway answering `status`, recording what it receives. */
async function gateway(status: number, received: Received[]): Promise<string> {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(status);
      res.end(status === 200 ? '' : 'pushed metrics are invalid');
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function fakeLogger(): Logger & { warn: ReturnType<typeof vi.fn> } {
  return { warn: vi.fn(), debug: vi.fn(), info: vi.fn(), error: vi.fn() } as unknown as Logger & { warn: ReturnType<typeof vi.fn> };
}

const run = { job: 'daily-transform', seconds: 12.5, rows: { pins: 200, geo: 198 }, succeeded: true, finishedAt: new Date('2026-03-02T00:00:05Z') };

describe('batch metrics for the Pushgateway', () => {
  it('exposes duration, rows per table and the success time', async () => {
    const text = await batchMetricsText(run);
    expect(text).toContain('pinpipe_batch_run_duration_seconds 12.5');
    expect(text).toContain('pinpipe_batch_rows_total{table="pins"} 200');
    expect(text).toContain('pinpipe_batch_rows_total{table="geo"} 198');
    expect(text).toContain('pinpipe_batch_last_success_timestamp_seconds 1772409605');
  });

  it('leaves the success time out of a failed run', async () => {
    const text = await batchMetricsText({ ...run, succeeded: false });
    expect(text).toContain('pinpipe_batch_run_duration_seconds 12.5');
    expect(text).not.toContain('pinpipe_batch_last_success_timestamp_seconds');
  });

  it('pushes the day a success processed, and a quality verdict only when the run has one', async () => {
    const done = await batchMetricsText({ ...run, day: '2026-03-01', qualityPassed: true });
    expect(done).toContain('pinpipe_batch_last_success_day_seconds 1772323200');
    expect(done).toContain('pinpipe_batch_quality_passed 1');
    const refused = await batchMetricsText({ ...run, succeeded: false, day: '2026-03-01', qualityPassed: false });
    expect(refused).not.toContain('pinpipe_batch_last_success_day_seconds');
    expect(refused).toContain('pinpipe_batch_quality_passed 0');
    const load = await batchMetricsText({ ...run, job: 'cassandra-load', day: '2026-03-01' });
    expect(load).toContain('pinpipe_batch_last_success_day_seconds 1772323200');
    expect(load).not.toContain('pinpipe_batch_quality_passed');
  });

  it('POSTs to /metrics/job/<job>, keeping other series of the group', async () => {
    const received: Received[] = [];
    const url = await gateway(200, received);
    const logger = fakeLogger();
    expect(await pushBatchMetrics(`${url}/`, run, logger)).toBe(true);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', url: '/metrics/job/daily-transform' });
    expect(received[0]?.body).toContain('pinpipe_batch_rows_total{table="pins"} 200');
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('only warns when the Pushgateway refuses or is unreachable', async () => {
    const logger = fakeLogger();
    const url = await gateway(400, []);
    expect(await pushBatchMetrics(url, run, logger)).toBe(false);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('could not push'), expect.objectContaining({ error: expect.stringContaining('HTTP 400') }));
    expect(await pushBatchMetrics('http://127.0.0.1:1', run, logger, 1_000)).toBe(false);
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });

  it('does nothing without a URL', async () => {
    const logger = fakeLogger();
    expect(await pushBatchMetrics('', run, logger)).toBe(false);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('reads --pushgateway-url and refuses a value that is not an http(s) URL', async () => {
    vi.stubEnv('PINPIPE_PUSHGATEWAY_URL', undefined);
    const parse = async (args: string[]) => withPushgatewayOptions(yargs(args).exitProcess(false).fail((msg, err) => { throw err ?? new Error(msg); })).parseAsync();
    expect((await parse([])).pushgatewayUrl).toBe('');
    expect((await parse(['--pushgateway-url', 'http://pushgateway:9091'])).pushgatewayUrl).toBe('http://pushgateway:9091');
    await expect(parse(['--pushgateway-url', 'pushgateway:9091'])).rejects.toThrow('--pushgateway-url / PINPIPE_PUSHGATEWAY_URL: must be an http:// or https:// URL, or empty');
  });
});
