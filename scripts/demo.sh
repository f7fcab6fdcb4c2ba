#!/usr/bin/env bash
# The pipeline end to end on the local stack, as far as it is built. Run through `make demo`,
# which starts the services and exports their settings first:
#   emulate ──HTTP──▶ ingest ──▶ Kafka ──▶ s3-sink ──▶ raw lake on S3
#                                          └──▶ stream-agg ──▶ 1-minute windows in PostgreSQL
#   then the daily batch for today: daily-transform ──▶ curated Parquet ──▶ cassandra-load,
#   and Trino over it all: history plus today in one query, and today's reconcile
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

echo "== starting ingest on 127.0.0.1:$port, s3-sink and stream-agg (logs in $out/)"
# node directly, not the pinpipe() function: $! must be the job itself for the stop at exit.
PINPIPE_API_KEYS=$api_key node dist/jobs/cli.js ingest --port "$port" >"$out/ingest.log" 2>&1 &
pids+=($!)
node dist/jobs/cli.js s3-sink --flush-idle-ms 2000 >"$out/s3-sink.log" 2>&1 &
pids+=($!)
node dist/jobs/cli.js stream-agg >"$out/stream-agg.log" 2>&1 &
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
echo "== stream-agg: latest windows in PostgreSQL (group pinpipe-stream-agg)"
# Waits until the group's stored offsets reach the end of the topics, then prints the newest
# windows; the last minute stays open (final = false) until later events move the watermark.
node --input-type=module - <<'JS' || echo "stream-agg did not catch up; see $out/stream-agg.log" >&2
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
const group = 'pinpipe-stream-agg';
const topics = ['pinterest.pin.v1', 'pinterest.geo.v1', 'pinterest.user.v1'];
const pool = new pg.Pool({ connectionString: process.env.PINPIPE_PG_URL ?? 'postgres://pinpipe:pinpipe@127.0.0.1:5432/pinpipe' });
const admin = new Kafka({ brokers: (process.env.PINPIPE_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING }).admin();
await admin.connect();
let end = 0;
for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) end += Number(p.high);
await admin.disconnect();
let done = 0;
for (let i = 0; i < 120 && done < end; i += 1) {
  await new Promise((r) => setTimeout(r, 500));
  const { rows } = await pool.query('SELECT coalesce(sum(next_offset), 0) AS n FROM stream_agg_offsets WHERE group_id = $1', [group]).catch(() => ({ rows: [{ n: 0 }] }));
  done = Number(rows[0].n);
}
const show = async (title, sql) => {
  const { rows } = await pool.query(sql, [group]);
  console.log(title);
  console.table(rows);
};
await show('top categories in the 3 newest windows', `SELECT to_char(window_start, 'HH24:MI') AS "window", category, posts::int, distinct_posters::int AS posters,
  round(avg_follower_count)::float8 AS avg_followers, median_follower_count AS median_followers, round(video_share::numeric, 2)::float8 AS video_share, final
  FROM stream_agg_pin_window WHERE group_id = $1 AND window_start >= (SELECT max(window_start) - interval '2 minutes' FROM stream_agg_pin_window WHERE group_id = $1)
  ORDER BY window_start DESC, posts DESC LIMIT 12`);
await show('age groups, newest window', `SELECT to_char(window_start, 'HH24:MI') AS "window", age_group, events::int, final FROM stream_agg_user_window
  WHERE group_id = $1 AND window_start = (SELECT max(window_start) FROM stream_agg_user_window WHERE group_id = $1) ORDER BY age_group`);
await show('late events', 'SELECT topic, count(*)::int AS late FROM stream_agg_late_events WHERE group_id = $1 GROUP BY topic');
await pool.end();
if (done < end) process.exit(1);
JS
echo "== Trino: the lake's tables declared, then history plus today in one SQL (make sql for a prompt)"
pinpipe lake-tables --date "$day" --log-level warn
stack/stack.sh sql --output-format ALIGNED --execute "SELECT dt, source, sum(posts) AS posts
  FROM posts_per_category_day WHERE dt >= current_date - INTERVAL '7' DAY GROUP BY 1, 2 ORDER BY 1, 2" 2>/dev/null
echo "== reconcile $day: the batch against the stream's final windows, window by window"
# Windows the stream has not closed yet (the last minute or so) are left for a later run;
# the report says up to when it compared.
if pinpipe reconcile --date "$day" 2>"$out/reconcile.log"; then status=passed; else status=FAILED; fi
node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop(); const j = JSON.parse(l);
  console.log(`${process.argv[2]}: ${j.message}`); if (j.batch !== undefined) console.log(`batch ${j.batch} = stream ${j.stream} + late ${j.late} (+ ${j.unexplained} unexplained), compared until ${j.comparedUntil}; report ${j.report}`)' \
  "$out/reconcile.log" "$status"
echo "logs: $out/ingest.log, $out/s3-sink.log, $out/stream-agg.log, $out/reconcile.log"
