import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../emulate/generator.js';
import { loadSeedPins } from '../emulate/seed-pins.js';
import { startIngest, type IngestProcess } from '../ingest/test/ingest-process.js';
import { bundledDataFile } from '../lib/paths.js';
import { createS3Client, ensureBucket } from '../lib/s3.js';
import { waitFor } from './lake.js';
import { startJob, type JobProcess } from './process.js';
import { freePort, scrapeTarget } from './prometheus-targets.js';
import { privateBucket, privateTopics, serviceEnv, serviceSettings, stackSetting as setting, topicEnv, uniqueName } from './services.js';

/**
 * The alerting rules on the real local Prometheus and Alertmanager: this file's own ingest and
 * s3-sink, scraped through Prometheus's target files with a namespace label of their own, take
 * records; s3-sink is stopped while records keep coming, and PinpipeRawLakeStalled of that
 * namespace must reach the alert log (Alertmanager's receiver) within the rule's window and for:
 * plus one evaluation; s3-sink starts again, and the alert must resolve.
 */
// What the rule says (charts/pinpipe/alerts/pinpipe-alerts.yaml): increase over 3m, for 2m.
const RULE_WINDOW_MS = 3 * 60_000;
const RULE_FOR_MS = 2 * 60_000;
// The local Prometheus (stack/prometheus/prometheus.yml.in): one evaluation, one scrape; and
// Alertmanager's group_wait.
const EVALUATION_MS = 15_000;
const SCRAPE_MS = 10_000;
const GROUP_WAIT_MS = 5_000;
const ALERT = 'PinpipeRawLakeStalled';

const KEY = `it-key-${process.pid}-alerts-0123456789`;
const namespace = uniqueName('it-alerts').replace(/_/g, '-').toLowerCase();
const topics = privateTopics('it-alerts');
const settings = { ...serviceSettings(), s3Bucket: privateBucket('it-alerts') };
const env = { ...serviceEnv(), ...topicEnv(topics), PINPIPE_S3_BUCKET: settings.s3Bucket };
const group = uniqueName('g-alerts');

let ingest: IngestProcess | undefined;
let sink: JobProcess | undefined;
let sinkPort = 0;
let sending = true;
let sender: Promise<void> = Promise.resolve();


function startSink(): JobProcess {
  return startJob(['s3-sink', '--topics', Object.values(topics).join(','), '--group-id', group, '--metrics-port', String(sinkPort), '--flush-idle-ms', '2000', '--flush-max-age-ms', '10000'], env);
}

/** A small batch every 2 s for as long as the test runs: records keep arriving. */
async function sendForever(url: string): Promise<void> {
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  const posts = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 21, startTimeMs: Date.now() - 60_000, firstInd: 5_000_000 + (Date.now() % 100_000) * 10, duplicateRate: 0 });
  while (sending) {
    const lines: string[] = [];
    // next(), not for...of: a break would close the generator for the next batch.
    while (lines.length < 30) {
      const next = posts.next();
      if (next.done) throw new Error('the generator ran out of posts');
      lines.push(...postRecords(next.value).map((r) => JSON.stringify(r)));
    }
    const response = await fetch(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n`, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    if (response && response.status !== 200) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
    await sleep(2_000);
  }
}

interface LoggedAlert {
  received_at: string;
  status: 'firing' | 'resolved';
  alertname: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

async function loggedAlerts(): Promise<LoggedAlert[]> {
  const text = await readFile(setting('PINPIPE_ALERT_LOG'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LoggedAlert)
    .filter((a) => a.alertname === ALERT && a.labels.namespace === namespace);
}

async function promQuery(query: string): Promise<Array<{ value: [number, string] }>> {
  const url = `${setting('PINPIPE_PROMETHEUS_URL')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()) as { data: { result: Array<{ value: [number, string] }> } };
  return body.data.result;
}

beforeAll(async () => {
  const s3 = createS3Client(settings);
  await ensureBucket(s3, settings.s3Bucket);
  s3.destroy();
  ingest = await startIngest(['--api-keys', KEY], env);
  sinkPort = await freePort();
  sink = startSink();
  await scrapeTarget('ingest', namespace).register(new URL(ingest.url).host);
  await scrapeTarget('s3-sink', namespace).register(`127.0.0.1:${sinkPort}`);
  sender = sendForever(ingest.url);
}, 120_000);

afterAll(async () => {
  sending = false;
  await sender.catch(() => undefined);
  await Promise.all([ingest?.stop(), sink?.stop()]);
  await Promise.all(['ingest', 's3-sink'].map((job) => scrapeTarget(job, namespace).remove()));
});

describe('alerts on the local Prometheus and Alertmanager', () => {
  it('PinpipeRawLakeStalled fires when s3-sink stops while records arrive, and resolves when it runs again', async () => {
    // Both targets scraped, and the sink writing: the rule's condition is false.
    const writing = `sum(increase(pinpipe_s3_sink_records_total{namespace="${namespace}"}[1m])) > 0`;
    const seen = await waitFor(async () => (await promQuery(writing)).length === 1, 120_000, 2_000);
    expect(seen, `Prometheus sees this file's s3-sink writing records; ingest:\n${ingest?.logs().slice(-2000)}\ns3-sink:\n${sink?.logs().slice(-2000)}`).toBe(true);
    expect(await promQuery(`up{namespace="${namespace}"} == 1`)).toHaveLength(2);
    expect(await loggedAlerts()).toEqual([]);

    await sink?.stop('SIGKILL');
    const stoppedAt = Date.now();
    const bound = RULE_WINDOW_MS + RULE_FOR_MS + EVALUATION_MS + SCRAPE_MS + GROUP_WAIT_MS + 15_000;
    expect(await waitFor(async () => (await loggedAlerts()).some((a) => a.status === 'firing'), bound, 2_000), `${ALERT} in the alert log within ${bound / 1000} s of s3-sink stopping`).toBe(true);
    const fired = (await loggedAlerts()).find((a) => a.status === 'firing') as LoggedAlert;
    const firedAfterMs = Date.parse(fired.received_at) - stoppedAt;
    // Not before the rule's window and for: have passed: it fired because of the stop.
    expect(firedAfterMs).toBeGreaterThan(RULE_FOR_MS);
    expect(fired.labels).toMatchObject({ alertname: ALERT, severity: 'critical', namespace });
    expect(fired.annotations.summary).toBe('records arrive at ingest but s3-sink has written none to the raw lake for 5 minutes');
    expect(fired.annotations.runbook_url).toBe('docs/alerts.md#pinpiperawlakestalled');

    sink = startSink();
    const restartedAt = Date.now();
    expect(await waitFor(async () => (await loggedAlerts()).some((a) => a.status === 'resolved'), 180_000, 2_000), `${ALERT} resolved once s3-sink writes again`).toBe(true);
    const resolved = (await loggedAlerts()).find((a) => a.status === 'resolved') as LoggedAlert;
    expect(Date.parse(resolved.received_at)).toBeGreaterThan(restartedAt);
    process.stdout.write(`${ALERT}: fired ${Math.round(firedAfterMs / 1000)} s after s3-sink stopped (bound ${bound / 1000} s), resolved ${Math.round((Date.parse(resolved.received_at) - restartedAt) / 1000)} s after it started again\n`);
  }, 720_000);
});
