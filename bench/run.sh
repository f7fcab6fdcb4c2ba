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
if [[ -f bench/daily.ts ]]; then
  # At the job's default memory limit (2GB, where this day fits), then on the same raw objects at
  # half of it, where the day spills to disk.
  run daily npx tsx bench/daily.ts 1000000 --keep-day
  run daily-1gb npx tsx bench/daily.ts 1000000 --reuse-lake --skip-load --memory-limit 1GB
fi
# Further benchmarks (stream aggregation, the Spark comparisons), one file each, in name order.
for extra in bench/run.d/*.sh; do
  [[ -e $extra ]] || continue
  # shellcheck source=/dev/null
  source "$extra"
done

node bench/summary.mjs >bench/RESULTS.md
echo "== summary written to bench/RESULTS.md"
