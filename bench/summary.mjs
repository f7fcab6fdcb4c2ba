// Writes bench/RESULTS.md from bench/results/*.json (run by bench/run.sh).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
const read = (name) => (existsSync(`bench/results/${name}.json`) ? JSON.parse(readFileSync(`bench/results/${name}.json`, 'utf8')) : undefined);
const lines = [
  '# Benchmark results',
  '',
  `Measured by \`make bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB,`,
  'with Kafka, MinIO, Cassandra and PostgreSQL running on the same machine. Raw figures: bench/results/*.json.',
  '',
];
// The runtime comparison (bench/runtimes.sh) comes first: it is what a runtime or dependency move is judged by.
if (existsSync('bench/results/runtimes.md')) {
  lines.push('## Node.js runtimes side by side (`make bench-runtimes`)', '', readFileSync('bench/results/runtimes.md', 'utf8').trim(), '');
  if (existsSync('bench/results/runtimes-decision.md')) lines.push(readFileSync('bench/results/runtimes-decision.md', 'utf8').trim(), '');
}
// The original four first, in pipeline order, then whatever else bench/run.d/ measured.
const first = ['kafka-producer', 'ingest', 's3-sink', 'daily'];
const others = existsSync('bench/results')
  ? readdirSync('bench/results')
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.slice(0, -'.json'.length))
      .filter((name) => !first.includes(name))
      .sort()
  : [];
/**
 * A result not measured in this run (a skipped or failed hook) keeps its own date: the day of the
 * commit that last changed it, since a checkout gives every file today's mtime.
 */
function measuredOn(file) {
  const git = (...args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const changed = git('status', '--porcelain', '--', file) !== '';
    const committed = git('log', '-1', '--format=%cs', '--', file);
    if (!changed && committed !== '') return committed;
  } catch {
    // not a git checkout: the file's own time is all there is
  }
  return statSync(file).mtime.toISOString().slice(0, 10);
}

for (const name of [...first, ...others]) {
  const result = read(name);
  if (!result) continue;
  const measured = measuredOn(`bench/results/${name}.json`);
  lines.push(`## ${name} (written ${measured})`, '', '```json', JSON.stringify(result, null, 2), '```', '');
}
console.log(lines.join('\n'));
