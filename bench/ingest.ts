/**
 * Loopback benchmark of `pinpipe ingest` against the local Kafka (stack/stack.sh up):
 *   (a) batched: concurrent clients posting NDJSON batches of emulated records to /v1/events;
 *   (b) single-record: concurrent clients posting one geo record per request to /v1/geo;
 *   (c) the ingest process's peak RSS (VmHWM).
 * Prints one JSON object on stdout. Run: npx tsx bench/ingest.ts [--no-build] [--batched-seconds 20]
 * [--single-seconds 10] [--clients 8] [--batch-size 1000] [--concurrency 128] [--ingest-args "..."] [--node-args "..."]
 *
 * The load generator runs on the same machine as ingest and Kafka: the figures are what this
 * box does with all three sharing its cores, not what ingest does alone.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_GENERATOR_OPTIONS, generatePosts, postRecords } from '../jobs/emulate/generator.js';
import { loadSeedPins } from '../jobs/emulate/seed-pins.js';
import { formatEventTime } from '../jobs/lib/contracts.js';
import { bundledDataFile, projectRoot } from '../jobs/lib/paths.js';
import { procCpuSeconds, procStatusKb, stackPid } from './proc.js';

const { values: args } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    'batched-seconds': { type: 'string', default: '20' },
    'single-seconds': { type: 'string', default: '10' },
    clients: { type: 'string', default: '8' },
    'batch-size': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '128' },
    'ingest-args': { type: 'string', default: '' },
    'node-args': { type: 'string', default: '' },
  },
});
const BATCHED_SECONDS = Number(args['batched-seconds']);
const SINGLE_SECONDS = Number(args['single-seconds']);
const CLIENTS = Number(args.clients);
const BATCH_SIZE = Number(args['batch-size']);
const CONCURRENCY = Number(args.concurrency);

const root = projectRoot();
const log = (message: string): boolean => process.stderr.write(`bench: ${message}\n`);

interface Ingest {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startIngest(): Promise<Ingest> {
  const extra = args['ingest-args'] ? String(args['ingest-args']).split(' ').filter(Boolean) : [];
  const nodeArgs = args['node-args'] ? String(args['node-args']).split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/jobs/cli.js'), 'ingest', '--auth-disabled', '--port', '0', ...extra], {
    env: process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (c: Buffer) => (logs += c.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  for (let i = 0; i < 300; i += 1) {
    if (child.exitCode !== null) throw new Error(`ingest exited: ${logs}`);
    const line = logs.split('\n').find((l) => l.includes('"ingest listening"'));
    if (line) {
      const url = `http://${(JSON.parse(line) as { address: string }).address}`;
      const ready = await fetch(`${url}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return { url, pid: child.pid as number, stop };
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`ingest not ready: ${logs}`);
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One POST on a kept-alive connection; node:http keeps the client's own overhead small. */
function post(agent: Agent, url: URL, path: string, contentType: string, body: Buffer): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The local Kafka broker's pid, to report how much CPU it took beside ingest: the one the stack
 * started (its pidfile), else the first broker process found.
 */
function kafkaPid(): number | undefined {
  const started = stackPid('kafka');
  if (started !== undefined) return started;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('kafka.Kafka')) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** CPU used by ingest and Kafka while `body` runs, as shares of one core. */
async function measured<T extends Record<string, unknown>>(ingestPid: number, body: () => Promise<T>): Promise<T & { cpu: Record<string, number> }> {
  const broker = kafkaPid();
  const before = { ingest: procCpuSeconds(ingestPid), kafka: procCpuSeconds(broker), client: process.cpuUsage(), wall: performance.now() };
  const result = await body();
  const wall = (performance.now() - before.wall) / 1000;
  const client = process.cpuUsage(before.client);
  return {
    ...result,
    cpu: {
      ingestCores: round((procCpuSeconds(ingestPid) - before.ingest) / wall, 2),
      kafkaCores: round((procCpuSeconds(broker) - before.kafka) / wall, 2),
      // This load generator itself: it shares the cores with ingest and Kafka.
      clientCores: round((client.user + client.system) / 1e6 / wall, 2),
      loadAverage1m: round(loadavg()[0] ?? 0, 2),
    },
  };
}

async function emulatedBatches(): Promise<{ bodies: Buffer[]; lines: number }> {
  const seedPins = await loadSeedPins(bundledDataFile('pinterest_pin_sample.ndjson'));
  // Event times in the past (Kafka refuses timestamps more than an hour ahead).
  const posts = generatePosts(seedPins, { ...DEFAULT_GENERATOR_OPTIONS, seed: 3, startTimeMs: Date.UTC(2026, 0, 1), rate: 1_000 });
  const bodies: Buffer[] = [];
  let batch: string[] = [];
  for (const post of posts) {
    for (const record of postRecords(post)) batch.push(JSON.stringify(record));
    if (batch.length >= BATCH_SIZE) {
      bodies.push(Buffer.from(`${batch.slice(0, BATCH_SIZE).join('\n')}\n`));
      batch = batch.slice(BATCH_SIZE);
      if (bodies.length >= 60) break;
    }
  }
  return { bodies, lines: BATCH_SIZE };
}

async function batched(ingest: Ingest): Promise<Record<string, unknown>> {
  const { bodies } = await emulatedBatches();
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const url = new URL(ingest.url);
  let events = 0;
  let requests = 0;
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  // Warm-up: JIT, producer connection, first metadata.
  for (let i = 0; i < 5; i += 1) await post(agent, url, '/v1/events', 'application/x-ndjson', bodies[i % bodies.length] as Buffer);
  const started = performance.now();
  const deadline = started + BATCHED_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = c; performance.now() < deadline; i += CLIENTS) {
        const answer = await post(agent, url, '/v1/events', 'application/x-ndjson', bodies[i % bodies.length] as Buffer);
        requests += 1;
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        latencies.push(answer.ms);
        if (answer.status === 200) events += Number(/^\{"accepted":(\d+)/.exec(answer.body)?.[1] ?? 0);
        else if (answer.status === 503) await sleep(100);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    clients: CLIENTS,
    batchSize: BATCH_SIZE,
    avgBatchBytes: Math.round(bytes / bodies.length),
    seconds: round(seconds),
    requests,
    statuses,
    eventsAccepted: events,
    eventsPerSec: Math.round(events / seconds),
    megabytesPerSec: round((events / BATCH_SIZE) * (bytes / bodies.length) / seconds / 1e6),
    requestP50Ms: round(percentile(latencies, 50)),
    requestP99Ms: round(percentile(latencies, 99)),
  };
}

async function single(ingest: Ingest): Promise<Record<string, unknown>> {
  const bodies = Array.from({ length: 10_000 }, (_, i) =>
    Buffer.from(JSON.stringify({ ind: 900_000 + i, timestamp: formatEventTime(Date.UTC(2026, 0, 1) + i * 1000), latitude: (i % 180) - 89.5, longitude: (i % 360) - 179.5, country: 'Chile' })),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(ingest.url);
  for (let i = 0; i < 200; i += 1) await post(agent, url, '/v1/geo', 'application/json', bodies[i] as Buffer);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + SINGLE_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, c) => {
      for (let i = c; performance.now() < deadline; i += CONCURRENCY) {
        const answer = await post(agent, url, '/v1/geo', 'application/json', bodies[i % bodies.length] as Buffer);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.status === 200) latencies.push(answer.ms);
        else if (answer.status === 503) await sleep(100);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    concurrency: CONCURRENCY,
    seconds: round(seconds),
    statuses,
    requestsPerSec: Math.round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
  };
}

function memory(pid: number): { peakRssMB: number; rssMB: number } {
  return { peakRssMB: round(procStatusKb(pid, 'VmHWM') / 1024), rssMB: round(procStatusKb(pid, 'VmRSS') / 1024) };
}

async function main(): Promise<void> {
  if (!args['no-build']) {
    log('compiling dist/ (skip with --no-build)');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const ingest = await startIngest();
  log(`ingest pid ${ingest.pid} at ${ingest.url}`);
  try {
    const load = loadavg()[0];
    log(`batched: ${CLIENTS} clients × ${BATCH_SIZE}-line batches for ${BATCHED_SECONDS} s`);
    const a = await measured(ingest.pid, () => batched(ingest));
    log(`single-record: ${CONCURRENCY} concurrent requests for ${SINGLE_SECONDS} s`);
    const b = await measured(ingest.pid, () => single(ingest));
    const mem = memory(ingest.pid);
    process.stdout.write(
      `${JSON.stringify(
        {
          batched: { ...a, ingestCpuMicrosPerEvent: round(((a.cpu.ingestCores ?? 0) * (a.seconds as number) * 1e6) / Math.max(1, a.eventsAccepted as number)) },
          singleRecord: { ...b, ingestCpuMicrosPerRequest: round(((b.cpu.ingestCores ?? 0) * (b.seconds as number) * 1e6) / Math.max(1, (b.requestsPerSec as number) * (b.seconds as number))) },
          ingestMemory: mem,
          targets: { eventsPerSec: 50_000, singleRequestsPerSec: 5_000, peakRssMB: 250 },
          machine: { cpus: cpus().length, loadAverage1mBefore: round(load ?? 0, 2), node: process.version },
          command: `npx tsx bench/ingest.ts ${process.argv.slice(2).join(' ')}`.trim(),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await ingest.stop();
  }
}

await main();
