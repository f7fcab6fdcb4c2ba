#!/usr/bin/env bash
# `make bench`: every benchmark against the real local services, one after another, results in
# bench/results/<name>.json and a summary in bench/RESULTS.md. Not a test: it asserts nothing,
# it measures. Run it on a quiet machine; the figures are only as good as the idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results

run() { # name command...
  local name=$1
  shift
  echo "== bench: $name ($*)"
  "$@" >"bench/results/$name.json"
  cat "bench/results/$name.json"
}

run kafka-producer npx tsx bench/kafka-producer.ts 500000 300
[[ -f bench/ingest.ts ]] && run ingest npx tsx bench/ingest.ts
run s3-sink npx tsx bench/s3-sink.ts 200000
[[ -f bench/daily.ts ]] && run daily npx tsx bench/daily.ts

node --input-type=module - <<'JS' >bench/RESULTS.md
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
JS
echo "== summary written to bench/RESULTS.md"
