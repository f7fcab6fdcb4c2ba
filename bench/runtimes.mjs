// The headline figures of each run under bench/results/runtimes/ side by side, as Markdown, with
// each run's change against the first one (the oldest runtime measured). Run by bench/runtimes.sh.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const root = 'bench/results/runtimes';
// [benchmark, path into its JSON, label, whether higher is better]
const FIGURES = [
  ['kafka-producer', 'eventsPerSecond', "Kafka's own producer tool, records/s (not Node.js: the broker's ceiling)", true],
  ['ingest', 'batched.eventsPerSec', 'ingest, batched events/s', true],
  ['ingest', 'batched.requestP99Ms', 'ingest, batched request p99 ms', false],
  ['ingest', 'batched.ingestCpuMicrosPerEvent', 'ingest, CPU µs per batched event', false],
  ['ingest', 'singleRecord.requestsPerSec', 'ingest, single-record requests/s', true],
  ['ingest', 'singleRecord.p99Ms', 'ingest, single-record p99 ms', false],
  ['ingest', 'singleRecord.ingestCpuMicrosPerRequest', 'ingest, CPU µs per single-record request', false],
  ['ingest', 'ingestMemory.peakRssMB', 'ingest, peak RSS MB', false],
  ['s3-sink', 'sink.eventsPerSecondSteady', 's3-sink, events/s steady', true],
  ['s3-sink', 'sink.eventsPerSecondIncludingStartup', 's3-sink, events/s with start-up', true],
  ['s3-sink', 'sink.cpuMicrosPerEventSteady', 's3-sink, CPU µs per event steady', false],
  ['s3-sink', 'sink.peakRssMb', 's3-sink, peak RSS MB', false],
  ['daily', 'lake.seconds', 'daily bench: making the 3,000,000-line raw day, s', false],
  ['daily', 'transform.seconds', 'daily-transform at 2GB, s', false],
  ['daily', 'transform.ratioToBareDuckDb', "daily-transform at 2GB ÷ DuckDB's bare read-and-write", false],
  ['daily', 'transform.peakRssMb', 'daily-transform at 2GB, peak RSS MB', false],
  ['daily', 'load.rowsPerSecond', 'cassandra-load, rows/s', true],
  ['daily', 'load.peakRssMb', 'cassandra-load, peak RSS MB', false],
  ['daily-1gb', 'transform.seconds', 'daily-transform at 1GB (spills), s', false],
  ['daily-1gb', 'transform.peakRssMb', 'daily-transform at 1GB, peak RSS MB', false],
  ['stream-agg', 'backlog.eventsPerSecondSteady', 'stream-agg backlog, events/s steady', true],
  ['stream-agg', 'backlog.jobCpuMicrosPerEventSteady', 'stream-agg, CPU µs per event steady', false],
  ['stream-agg', 'backlog.peakRssMb', 'stream-agg, peak RSS MB', false],
  ['stream-agg', 'live.eventToRowVisibleSeconds.p99', 'stream-agg live, event to row visible p99 s', false],
  ['stream-agg', 'live.windowFinalAfterEndPlusLatenessSeconds.p99', 'stream-agg live, window final after its close p99 s', false],
];

const runs = existsSync(root)
  ? readdirSync(root)
      .filter((name) => existsSync(`${root}/${name}/ingest.json`) || existsSync(`${root}/${name}/s3-sink.json`))
      .sort((a, b) => statSync(`${root}/${a}`).mtimeMs - statSync(`${root}/${b}`).mtimeMs)
  : [];
const read = (run, bench) => {
  const file = `${root}/${run}/${bench}.json`;
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // a benchmark that failed, or is still being written
  }
};
const at = (object, path) => path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), object);

const lines = [];
if (runs.length === 0) {
  lines.push('No runtime comparison recorded yet (`make bench-runtimes`).');
} else {
  const base = runs[0];
  const when = (run) => statSync(`${root}/${run}`).mtime.toISOString().slice(0, 16).replace('T', ' ');
  lines.push(`Runs, in the order measured: ${runs.map((run) => `\`${run}\` (${when(run)} UTC)`).join(', ')}.`);
  lines.push(`Each later run's change is against \`${base}\`; ▲ better, ▼ worse, by the figure's own direction.`, '');
  lines.push(`| figure | ${runs.join(' | ')} |`, `| --- |${runs.map(() => ' ---: |').join('')}`);
  for (const [bench, path, label, higherIsBetter] of FIGURES) {
    const baseValue = at(read(base, bench), path);
    const cells = runs.map((run) => {
      const value = at(read(run, bench), path);
      if (typeof value !== 'number') return '–';
      if (run === base || typeof baseValue !== 'number' || baseValue === 0) return String(value);
      const change = ((value - baseValue) / baseValue) * 100;
      const better = higherIsBetter ? change >= 0 : change <= 0;
      return `${value} (${change >= 0 ? '+' : ''}${change.toFixed(1)}% ${better ? '▲' : '▼'})`;
    });
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
}
console.log(lines.join('\n'));
