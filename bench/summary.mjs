// Writes bench/RESULTS.md from bench/results/*.json (run by bench/run.sh).
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
const read = (name) => (existsSync(`bench/results/${name}.json`) ? JSON.parse(readFileSync(`bench/results/${name}.json`, 'utf8')) : undefined);
const lines = [
  '# Benchmark results',
  '',
  `Measured by \`make bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB,`,
  'with Kafka, MinIO, Cassandra and PostgreSQL running on the same machine. Raw figures: bench/results/*.json.',
  '',
];
for (const name of ['kafka-producer', 'ingest', 's3-sink', 'daily']) {
  const result = read(name);
  if (!result) continue;
  lines.push(`## ${name}`, '', '```json', JSON.stringify(result, null, 2), '```', '');
}
console.log(lines.join('\n'));
