# shellcheck shell=bash
# Sourced by bench/run.sh. Spark Structured Streaming on stream-agg's aggregation (issue 5): a
# backlog of PINPIPE_BENCH_SPARK_STREAM_POSTS posts (three events each) produced to fresh topics,
# then consumed by bench/spark/stream_agg.py; events/s beside pinpipe stream-agg's own figure when
# bench/results/stream-agg.json exists by then. PINPIPE_BENCH_SPARK_STREAM_TOPICS=pin,geo,user makes
# it consume those existing topics instead (the ones stream-agg's bench consumed, if it keeps them).
if bench/spark/setup.sh; then
  run spark-stream npx tsx bench/spark/stream.ts "${PINPIPE_BENCH_SPARK_STREAM_POSTS:-1000000}" || true
  # run() leaves whatever the command printed; a failed bench must not leave half a JSON file.
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' bench/results/spark-stream.json 2>/dev/null; then
    rm -f bench/results/spark-stream.json
    echo "== bench: spark-stream failed (see above); going on" >&2
  fi
else
  echo "== bench: spark-stream skipped: bench/spark/setup.sh failed" >&2
fi
