/**
 * A job's consumer lag in Prometheus's own UI, in a real browser (headless Chromium through
 * playwright-core), for `make test-prometheus-ui` (jobs/test/ui/prometheus-ui.sh starts it):
 *
 *   1. a topic, consumer group, bucket and namespace label of the run's own; s3-sink on them,
 *      registered with the local Prometheus through a target file
 *      ($PINPIPE_PROMETHEUS_TARGETS_DIR/s3-sink-<namespace>.json), writing to the lake through a
 *      slow S3 in front of MinIO (every PUT waits PUT_DELAY_MS), so the sink lands about
 *      FLUSH_RECORDS records a second: a lake that answers slowly, as a busy or distant S3 does;
 *   2. records produced faster than that for PRODUCE_MS: the lag grows, then drains once the
 *      producer stops; Prometheus must have scraped a peak of at least MIN_PEAK and then 0, and
 *      the sink must have landed every record;
 *   3. Prometheus's graph tab for pinpipe_s3_sink_consumer_lag{namespace="<namespace>"} over the
 *      last few minutes: no error banner, a drawn chart, the run's series in the legend, then the
 *      screenshot prometheus-lag.png.
 *
 * Whatever happens, the sink, the slow S3, the browser and the target file go, and so do the
 * topic, the group and the bucket. A failed step leaves failed-<step>.png and the sink's log in
 * $PINPIPE_UI_ARTIFACTS.
 *
 * Settings: the stack's PINPIPE_* variables (stack/stack.sh env), PINPIPE_UI_RUN_ID (names of the
 * run, default from the pid and the time), PINPIPE_UI_ARTIFACTS (default out/prometheus-ui),
 * PINPIPE_CHROMIUM (default /usr/bin/chromium), PINPIPE_UI_TIMEOUT_S (the whole test, default 480).
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RECORD_HEADERS } from '../../lib/contracts.js';
import { createKafka, ensureTopics } from '../../lib/kafka.js';
import { createLogger } from '../../lib/logger.js';
import { createS3Client } from '../../lib/s3.js';
import { removeBucket, waitFor } from '../lake.js';
import { startJob, type JobProcess } from '../process.js';
import { freePort, scrapeTarget } from '../prometheus-targets.js';
import { serviceEnv, serviceSettings, stackSetting } from '../services.js';
import { browserSteps } from './step.js';

// The slow lake: each PUT (an object, then the sink's position marker) waits this long, and the
// sink rotates an object every FLUSH_RECORDS records of its partition, one write at a time.
const PUT_DELAY_MS = 500;
const FLUSH_RECORDS = 1_000;
// The producer: PRODUCE_RATE records a second for PRODUCE_MS, well above what the sink lands.
const PRODUCE_RATE = 2_500;
const PRODUCE_MS = 30_000;
// What Prometheus must have seen of the lag at its highest (records).
const MIN_PEAK = 10_000;
// How often Prometheus scrapes the run's sink (the stack's own targets: every 10 s).
const SCRAPE_MS = 2_000;
const METRIC = 'pinpipe_s3_sink_consumer_lag';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set (jobs/test/ui/prometheus-ui.sh sets it)`);
  return value;
}

const artifacts = setting('PINPIPE_UI_ARTIFACTS', 'out/prometheus-ui');
const executablePath = setting('PINPIPE_CHROMIUM', '/usr/bin/chromium');
const timeoutMs = Number(setting('PINPIPE_UI_TIMEOUT_S', '480')) * 1000;
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error('PINPIPE_UI_TIMEOUT_S: expected a number of seconds > 0');
const prometheus = stackSetting('PINPIPE_PROMETHEUS_URL').replace(/\/$/, '');
// Names of the run's own, in the shape jobs/test/test-topics.ts recognises (it-<word>-<pid>-<time>-<n>),
// so a topic a killed run left behind is deleted by the next integration run.
const runId = setting('PINPIPE_UI_RUN_ID', `${process.pid}-${Date.now().toString(36)}`);
if (!/^\d+-[0-9a-z]{6,}$/.test(runId)) throw new Error(`PINPIPE_UI_RUN_ID: expected <pid>-<base-36 time>, got ${runId}`);
const namespace = `it-promui-${runId}`;
const topic = `${namespace}-1.pin`;
const group = `${namespace}-sink`;
const bucket = namespace;
const target = scrapeTarget('s3-sink', namespace);
const expr = `${METRIC}{namespace="${namespace}"}`;

const settings = { ...serviceSettings(), s3Bucket: bucket };
// kafkajs's notice about its v2 partitioner, which one partition makes moot.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const logger = createLogger('prometheus-ui', 'warn');

function say(message: string): void {
  process.stdout.write(`prometheus-ui: ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let page: Page | undefined;
let browser: Browser | undefined;
let sink: JobProcess | undefined;
let slowS3: Server | undefined;
let kafka: Kafka | undefined;
let producer: Producer | undefined;
let producing = false;

/** Runs one step; on failure a screenshot (when the browser is open) goes beside the others. */
const step = browserSteps(artifacts, say, () => page);

/**
 * An S3 endpoint on 127.0.0.1 that passes every request to MinIO unchanged (the Host header too,
 * so the request's signature holds) and holds each PUT PUT_DELAY_MS before it does.
 */
async function startSlowS3(upstream: URL): Promise<string> {
  const server = createServer((req, res) => {
    const forward = (): void => {
      const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', (error) => res.destroy(error));
      req.pipe(out);
    };
    if (req.method === 'PUT') setTimeout(forward, PUT_DELAY_MS);
    else forward();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  slowS3 = server;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function promQuery(query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${query}: ${body.error ?? res.status}`);
  return body.data.result;
}

/** The one value `query` gives, or undefined while it gives none; more than one series is an error. */
async function promValue(query: string): Promise<number | undefined> {
  const result = await promQuery(query);
  if (result.length > 1) throw new Error(`${query}: ${result.length} series, expected one: ${JSON.stringify(result.map((r) => r.metric))}`);
  return result[0] ? Number(result[0].value[1]) : undefined;
}

/** Polls `check` every `everyMs` until it holds; fails naming `what` when it has not within `limitMs`. */
async function until(what: string, check: () => Promise<boolean>, limitMs: number, everyMs = 2_000): Promise<void> {
  if (!(await waitFor(check, limitMs, everyMs))) throw new Error(`${what}: not within ${limitMs / 1000} s`);
}

function sinkLog(): string {
  return sink?.logs().slice(-3000) ?? '(no sink)';
}

/** Produces PRODUCE_RATE records a second for PRODUCE_MS, in batches every 100 ms; returns how many. */
async function produce(): Promise<number> {
  const p = producer;
  if (!p) throw new Error('no producer');
  // About 1.5 kB a record, a large pin's size: the sink fetches at most 4 MiB of a partition at a
  // time and sets the lag once per fetch, so records this size give the graph a step every
  // couple of seconds (smaller ones, one every ten).
  const padding = 'a pin description, '.repeat(72);
  const started = Date.now();
  const perTick = PRODUCE_RATE / 10;
  let sent = 0;
  producing = true;
  while (producing && Date.now() - started < PRODUCE_MS) {
    const due = Math.min((PRODUCE_RATE * PRODUCE_MS) / 1000, Math.floor(((Date.now() - started) / 1000) * PRODUCE_RATE) + perTick);
    if (due > sent) {
      const now = Date.now();
      const messages = Array.from({ length: due - sent }, (_, i) => {
        const n = sent + i;
        return {
          key: String(n),
          value: JSON.stringify({ ind: n, run: runId, padding }),
          timestamp: String(now),
          headers: { [RECORD_HEADERS.eventId]: `${runId}#${n}`, [RECORD_HEADERS.ingestTime]: String(now) },
        };
      });
      await p.send({ topic, acks: -1, messages });
      sent = due;
    }
    await sleep(100);
  }
  return sent;
}

/** The Prometheus UI's graph of `expr` over the last `rangeMin` minutes, by the version's own URL. */
async function graphUrl(rangeMin: number): Promise<string> {
  const res = await fetch(`${prometheus}/api/v1/status/buildinfo`, { signal: AbortSignal.timeout(10_000) });
  const version = ((await res.json()) as { data: { version: string } }).data.version;
  const major = Number(version.split('.')[0]);
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
  // Prometheus 3's UI has the graph at /query (tab "graph"); 2.x at /graph (tab 0 is the graph).
  const url =
    major >= 3
      ? `${prometheus}/query?${q({ 'g0.expr': expr, 'g0.tab': 'graph', 'g0.range_input': `${rangeMin}m` })}`
      : `${prometheus}/graph?${q({ 'g0.expr': expr, 'g0.tab': '0', 'g0.stacked': '0', 'g0.show_exemplars': '0', 'g0.range_input': `${rangeMin}m` })}`;
  say(`  Prometheus ${version}: ${url}`);
  return url;
}

async function theGraph(rangeMin: number): Promise<void> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-US' });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(await graphUrl(rangeMin));
  // Debian's Prometheus 2 serves the classic UI (/graph redirects to /classic/graph): a Rickshaw
  // chart (SVG) and a legend of one line per series. The React UIs (2.x upstream, 3.x) get the
  // checks every UI allows: the series' labels on the page and something drawn.
  const classic = new URL(page.url()).pathname.startsWith('/classic/');
  // Prometheus shows a refused query, a failed fetch and an empty result ("No datapoints found.")
  // as an error alert.
  const noError = async (): Promise<void> => {
    const errors = await page?.locator('.alert-danger:visible, .mantine-Alert-root:visible').allInnerTexts();
    if (errors && errors.length > 0) throw new Error(`the page shows an error: ${errors.join(' | ')}`);
  };
  if (classic) {
    const legend = page.locator('.graph_container .legend li.line');
    await legend.first().waitFor();
    await noError();
    const lines = await legend.allInnerTexts();
    if (lines.length !== 1) throw new Error(`the legend shows ${lines.length} series, expected the run's one: ${lines.join(' | ')}`);
    const label = lines[0] as string;
    for (const part of [METRIC, `namespace="${namespace}"`, `topic="${topic}"`, 'partition="0"', 'job="s3-sink"']) {
      if (!label.includes(part)) throw new Error(`the legend's series has no ${part}: ${label}`);
    }
    // The series' line: an SVG path through one point per step of the range.
    const path = (await page.locator('.graph_container .graph_area svg path.path').first().getAttribute('d')) ?? '';
    const points = path.split('L').length;
    if (points < 20) throw new Error(`the chart's line has ${points} points`);
    const box = await page.locator('.graph_container .graph_area').first().boundingBox();
    if (!box || box.height < 200 || box.width < 800) throw new Error(`the chart is ${box?.width ?? 0}x${box?.height ?? 0} px`);
  } else {
    await page.getByText(topic).first().waitFor();
    await page.getByText(namespace).first().waitFor();
    await noError();
    if ((await page.locator('canvas, svg path').count()) === 0) throw new Error('no chart drawn');
  }
  await noError();
  // Reported, not failed on: Debian's classic UI loads one script of its own that the browser
  // refuses ("Unexpected token 'export'"), with no effect on the graph.
  for (const message of new Set(pageErrors)) say(`  page error: ${message}`);
  // Nothing focused or hovered: no focus glow on the expression, no tooltip over the line (a
  // click on the panel's empty space below the range buttons).
  const panel = page.locator(classic ? '.graph_container' : 'main').first();
  await panel.click({ position: { x: 8, y: 8 } });
  await page.mouse.move(0, 0);
  // The page from the top to the end of the graph panel (the legend included), at the viewport's width.
  const bottom = await panel.boundingBox();
  const height = Math.min(1600, Math.ceil((bottom?.y ?? 784) + (bottom?.height ?? 0) + 6));
  await page.screenshot({ path: join(artifacts, 'prometheus-lag.png'), clip: { x: 0, y: 0, width: 1280, height }, fullPage: true, timeout: 15_000 });
}

async function main(): Promise<void> {
  await mkdir(artifacts, { recursive: true });
  say(`namespace ${namespace}, topic ${topic}, group ${group}, bucket ${bucket}`);
  let produced = 0;
  let producingSince = 0;

  await step('a topic, a bucket and s3-sink of the run, behind a slow S3', async () => {
    kafka = createKafka({ ...settings, kafkaClientId: 'pinpipe-prometheus-ui' }, logger);
    await ensureTopics(kafka, [topic], 1);
    producer = kafka.producer();
    await producer.connect();
    const endpoint = await startSlowS3(new URL(settings.s3Endpoint ?? 'http://127.0.0.1:9000'));
    const port = await freePort();
    // Scraped every SCRAPE_MS rather than the stack's 10 s (a target's __scrape_interval__ label
    // overrides its job's), so that the graph draws the lag rising and draining, not three steps.
    const every = `${SCRAPE_MS / 1000}s`;
    await target.register(`127.0.0.1:${port}`, { __scrape_interval__: every, __scrape_timeout__: every });
    sink = startJob(
      ['s3-sink', '--topics', topic, '--group-id', group, '--metrics-port', String(port), '--flush-records', String(FLUSH_RECORDS), '--fetch-ahead-bytes', String(1024 * 1024), '--flush-idle-ms', '1000'],
      { ...serviceEnv(), PINPIPE_S3_BUCKET: bucket, PINPIPE_S3_ENDPOINT: endpoint },
    );
    void sink.exited.then((code) => say(`  s3-sink exited (${code})`));
  });

  const sinkRuns = (): void => {
    if (sink && (sink.child.exitCode !== null || sink.child.signalCode !== null)) throw new Error(`s3-sink exited:\n${sinkLog()}`);
  };

  await step('Prometheus scrapes the sink', () =>
    until(
      `up{namespace="${namespace}"} == 1 in Prometheus`,
      async () => {
        sinkRuns();
        return (await promValue(`up{namespace="${namespace}"}`)) === 1;
      },
      90_000,
    ),
  );

  await step(`produce ${PRODUCE_RATE} records/s for ${PRODUCE_MS / 1000} s`, async () => {
    producingSince = Date.now();
    produced = await produce();
    say(`  ${produced} records produced`);
  });

  await step('the lag peaks in Prometheus, then drains to 0', async () => {
    await until(
      `${expr} back to 0 with every record landed`,
      async () => {
        sinkRuns();
        const lag = await promValue(expr);
        const landed = (await promValue(`sum(pinpipe_s3_sink_records_total{namespace="${namespace}"})`)) ?? 0;
        say(`  lag ${lag ?? 'none'}, landed ${landed} of ${produced}`);
        return lag === 0 && landed === produced;
      },
      240_000,
      5_000,
    );
    const highest = (await promValue(`max_over_time(${expr}[15m])`)) ?? 0;
    if (highest < MIN_PEAK) throw new Error(`the highest lag Prometheus scraped is ${highest}, expected at least ${MIN_PEAK}: the sink kept up, so the graph would show no lag`);
    const samples = (await promValue(`count_over_time(${expr}[15m])`)) ?? 0;
    const seconds = Math.round((Date.now() - producingSince) / 1000);
    say(`  peak ${highest} records; ${samples} samples in the ${seconds} s since the records began`);
    if (samples < 10) throw new Error(`Prometheus holds ${samples} samples of ${expr}: too few for a curve`);
  });

  await step('the graph in the Prometheus UI', async () => {
    browser = await chromium.launch({ executablePath, headless: true, chromiumSandbox: false, timeout: 60_000 });
    // The whole curve and little else: the whole minutes that hold the time since the records
    // began (the series begins with them) and half a minute more.
    const rangeMin = Math.max(2, Math.ceil((Date.now() - producingSince + 30_000) / 60_000));
    await theGraph(rangeMin);
  });
}

/** Takes away everything the run started or made; each part on its own, so one failure does not keep the others. */
async function cleanup(): Promise<void> {
  producing = false;
  const quietly = async (what: string, work: () => Promise<unknown>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      say(`  cleanup: ${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await quietly('browser', async () => browser?.close());
  await quietly('target file', () => target.remove());
  await quietly('s3-sink', async () => {
    if (!sink) return;
    await sink.stop('SIGTERM');
    await writeFile(join(artifacts, 's3-sink.log'), sink.logs());
  });
  await quietly('slow S3', async () => {
    slowS3?.closeAllConnections();
    slowS3?.close();
  });
  await quietly('producer', async () => producer?.disconnect());
  await quietly('topic and group', async () => {
    if (!kafka) return;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
      await admin.deleteGroups([group]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  });
  await quietly('bucket', async () => {
    const s3 = createS3Client(settings);
    try {
      await removeBucket(s3, bucket);
    } finally {
      s3.destroy();
    }
  });
}

let cleaning: Promise<void> | undefined;
/** Cleans up once (a signal and the end of main can both get here) and exits when that is done. */
async function finish(code: number): Promise<never> {
  cleaning ??= cleanup();
  await cleaning;
  process.exit(code);
}

// Stopped from outside (the wrapper's trap, Ctrl-C): take everything away and go. The signal can
// come more than once (to the process group, and relayed by tsx): the cleanup runs once, and is
// not cut short by the next one.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning) return;
    say(`${signal}: cleaning up`);
    void finish(signal === 'SIGINT' ? 130 : 143);
  });
}
const watchdog = setTimeout(() => {
  process.stderr.write(`prometheus-ui: FAILED: not done within ${timeoutMs / 1000} s\n${sinkLog()}\n`);
  void finish(1);
}, timeoutMs);

const t0 = Date.now();
let code = 0;
try {
  await main();
  say(`passed in ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshot in ${artifacts}`);
} catch (error) {
  process.stderr.write(`prometheus-ui: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  code = 1;
}
clearTimeout(watchdog);
await finish(code);
