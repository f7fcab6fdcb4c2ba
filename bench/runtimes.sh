#!/usr/bin/env bash
# `make bench-runtimes`: every Node.js benchmark of `make bench` on each runtime named, one after
# the other on the same machine and services, into bench/results/runtimes/node-<version>[-<label>]/,
# then the side-by-side table bench/results/runtimes.md (included in bench/RESULTS.md). The Spark
# comparisons are left out: their other side runs on the JVM, and their pinpipe side is the
# daily benchmark measured here.
#
#   PINPIPE_BENCH_NODE_VERSIONS   runtimes to measure (default: 20.20.2 and .nvmrc's)
#   PINPIPE_BENCH_LABEL           appended to each run's name, e.g. "deps-2026-12" after an upgrade
#   PINPIPE_BENCH_ONLY            only these benchmarks, into the runs' existing results
set -euo pipefail
cd "$(dirname "$0")/.."

versions=${PINPIPE_BENCH_NODE_VERSIONS:-"20.20.2 $(cat .nvmrc)"}
for version in $versions; do
  dir=$(PINPIPE_NODE_VERSION=$version scripts/node-runtime.sh)
  name=node-$version${PINPIPE_BENCH_LABEL:+-$PINPIPE_BENCH_LABEL}
  echo "== bench-runtimes: $name"
  [[ -n ${PINPIPE_BENCH_ONLY:-} ]] || rm -rf "bench/results/runtimes/$name"
  PATH=$dir:$PATH PINPIPE_NODE_VERSION=$version PINPIPE_BENCH_NODE_ONLY=1 \
    PINPIPE_BENCH_RESULTS=bench/results/runtimes/$name bash bench/run.sh
done
node bench/runtimes.mjs >bench/results/runtimes.md
node bench/summary.mjs >bench/RESULTS.md
cat bench/results/runtimes.md
