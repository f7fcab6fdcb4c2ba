#!/usr/bin/env bash
# `make bench`: every benchmark against the real local services, one after another, results in
# bench/results/<name>.json and a summary in bench/RESULTS.md. Not a test: it asserts nothing,
# it measures. Run it on a quiet machine; the figures are only as good as the idle cores.
#
# PINPIPE_BENCH_RESULTS writes the figures elsewhere and leaves RESULTS.md alone;
# PINPIPE_BENCH_NODE_ONLY=1 skips the Spark comparisons (bench/runtimes.sh uses both);
# PINPIPE_BENCH_ONLY="s3-sink stream-agg" runs only the benchmarks named.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${PINPIPE_BENCH_RESULTS:-bench/results}
mkdir -p "$results"
echo "== bench: on Node.js $(node --version)"

run() { # name command...
  local name=$1
  shift
  if [[ -n ${PINPIPE_BENCH_ONLY:-} && " $PINPIPE_BENCH_ONLY " != *" $name "* ]]; then return 0; fi
  echo "== bench: $name ($*)"
  "$@" >"$results/$name.json"
  cat "$results/$name.json"
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
  [[ ${PINPIPE_BENCH_NODE_ONLY:-} == 1 && $extra == *spark* ]] && continue
  # shellcheck source=/dev/null
  source "$extra"
done

if [[ -z ${PINPIPE_BENCH_RESULTS:-} ]]; then
  node bench/summary.mjs >bench/RESULTS.md
  echo "== summary written to bench/RESULTS.md"
fi
