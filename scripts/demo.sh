#!/usr/bin/env bash
# The pipeline end to end on the local stack, as far as it is built. Run through `make demo`,
# which starts the services and exports their settings first:
#   emulate ──HTTP──▶ ingest ──▶ Kafka ──▶ s3-sink ──▶ raw lake on S3
#   then the daily batch for today: daily-transform ──▶ curated Parquet ──▶ cassandra-load
set -euo pipefail
cd "$(dirname "$0")/.."

pinpipe() { node dist/jobs/cli.js "$@"; }
out=out/demo
mkdir -p "$out"
posts=${DEMO_POSTS:-3000}
port=${DEMO_INGEST_PORT:-8088}
api_key="demo-key-$(date +%s)"
pids=()
stop_jobs() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_jobs EXIT

echo "== services"
pinpipe check

echo "== starting ingest on 127.0.0.1:$port and s3-sink (logs in $out/)"
# node directly, not the pinpipe() function: $! must be the job itself for the stop at exit.
PINPIPE_API_KEYS=$api_key node dist/jobs/cli.js ingest --port "$port" >"$out/ingest.log" 2>&1 &
pids+=($!)
node dist/jobs/cli.js s3-sink --flush-idle-ms 2000 >"$out/s3-sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || break # ingest exited: its log says why
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "ingest did not become ready; see $out/ingest.log" >&2; exit 1; }

before=$(node scripts/lake-summary.mjs count)
echo "== emulate: $posts posts ($((posts * 3)) records) from the real seed pins, posted to ingest"
started=$(date +%s)
pinpipe emulate --count "$posts" --rate 1000 --start-time now --ingest-url "http://127.0.0.1:$port" --api-key "$api_key" --log-level warn
echo "posted in $(($(date +%s) - started)) s"

echo "== waiting for s3-sink to land them"
want=$((before + posts * 3))
for _ in $(seq 1 60); do
  (($(node scripts/lake-summary.mjs count) >= want)) && break
  sleep 2
done
node scripts/lake-summary.mjs table
(($(node scripts/lake-summary.mjs count) >= want)) || { echo "s3-sink did not land everything within 2 minutes; see $out/s3-sink.log" >&2; exit 1; }

day=$(date -u +%Y-%m-%d)
echo "== daily batch for $day: daily-transform, then cassandra-load"
pinpipe daily-transform --date "$day" --log-level warn
pinpipe cassandra-load --date "$day" --log-level warn | tee "$out/cassandra-load.json"
echo "(rows written per Cassandra table above; the quality report is reports/quality/dt=$day/report.json)"
echo "logs: $out/ingest.log, $out/s3-sink.log"
