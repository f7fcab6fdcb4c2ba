# shellcheck shell=bash
# Sourced by bench/run.sh. The daily batch against the seed projects' tool (issue 4): pinpipe
# daily-transform and cassandra-load, then PySpark local mode doing the same cleaning on the same
# raw S3 objects and the spark-cassandra-connector writing the same rows, in one process so both
# sides see the same files back to back (bench/daily.ts --spark). First use installs pyspark and
# the jars (bench/spark/setup.sh, cached). PINPIPE_BENCH_SPARK_POSTS sets the day's size.
if bench/spark/setup.sh; then
  # Spark runs with a 2 GB driver heap; DuckDB gets the same 2GB memory limit.
  run spark-daily npx tsx bench/daily.ts "${PINPIPE_BENCH_SPARK_POSTS:-1000000}" --spark --memory-limit 2GB || true
  # run() leaves whatever the command printed; a failed bench must not leave half a JSON file.
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' bench/results/spark-daily.json 2>/dev/null; then
    rm -f bench/results/spark-daily.json
    echo "== bench: spark-daily failed (see above); going on" >&2
  fi
else
  echo "== bench: spark-daily skipped: bench/spark/setup.sh failed" >&2
fi
