#!/usr/bin/env bash
# A job's consumer lag in Prometheus's own UI, in headless Chromium: jobs/test/ui/prometheus-lag.ts
# runs s3-sink on a topic, group, bucket and namespace of the run's own, makes it lag, waits for
# Prometheus to scrape the lag rising and draining, and takes prometheus-lag.png of the graph.
# Run by `make test-prometheus-ui` (part of `make test`) with the stack's PINPIPE_* settings in
# the environment (Kafka, MinIO and Prometheus up); the screenshot lands in $PINPIPE_UI_ARTIFACTS.
#
# The test ends itself after $PINPIPE_UI_TIMEOUT_S s (default 480), taking away all it started
# and made. It runs in a process group of its own: at the end, on failure, on Ctrl-C and 30 s
# after that bound, the test gets SIGTERM (it then stops the sink and its slow S3, closes the
# browser and removes what it made), and its group SIGKILL for whatever is left $stop_limit s
# later; the run's Prometheus target file goes in any case.
set -euo pipefail
cd "$(dirname "$0")/../../.."

: "${PINPIPE_PROMETHEUS_URL:?run with the settings of stack/stack.sh env}" "${PINPIPE_PROMETHEUS_TARGETS_DIR:?}"
export PINPIPE_UI_ARTIFACTS=${PINPIPE_UI_ARTIFACTS:-$PWD/out/prometheus-ui}
export PINPIPE_CHROMIUM=${PINPIPE_CHROMIUM:-/usr/bin/chromium}
limit=${PINPIPE_UI_TIMEOUT_S:-480}
stop_limit=45
say() { printf 'prometheus-ui: %s\n' "$*"; }
fail() { printf 'prometheus-ui: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

[[ -x $PINPIPE_CHROMIUM ]] || fail "no Chromium at $PINPIPE_CHROMIUM (make chromium)"
[[ -f dist/jobs/cli.js ]] || fail "no dist/jobs/cli.js (make build)"
curl -fsS -o /dev/null --max-time 5 "$PINPIPE_PROMETHEUS_URL/-/ready" || fail "Prometheus at $PINPIPE_PROMETHEUS_URL is not ready (stack/stack.sh up prometheus)"
rm -rf "$PINPIPE_UI_ARTIFACTS"
mkdir -p "$PINPIPE_UI_ARTIFACTS"

# The run's names (namespace it-promui-<run id>, its topic, group and bucket) derive from this.
PINPIPE_UI_RUN_ID=$(node -p "'$$-' + Date.now().toString(36)")
export PINPIPE_UI_RUN_ID PINPIPE_UI_TIMEOUT_S=$limit
target_file=$PINPIPE_PROMETHEUS_TARGETS_DIR/s3-sink-it-promui-$PINPIPE_UI_RUN_ID.json

pid=
# The test first (tsx passes the signal on to it), which stops its sink, closes the browser and
# removes what it made; then whatever of its process group is left, by force.
stop_test() {
  [[ -n $pid ]] || return 0
  local t0=$SECONDS
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 -- "-$pid" 2>/dev/null && ((SECONDS - t0 < stop_limit)); do sleep 0.2; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    say "the test's processes still run ${stop_limit} s after SIGTERM: killing them" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  pid=
}
cleanup() {
  stop_test
  rm -f "$target_file" "$target_file.tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# setsid: a process group of its own (the test, its sink, the browser), which the trap can end
# as a whole. In the background, polled, so that a signal to this script is handled at once
# (bash runs traps only between commands) and the run stays bounded should the test's own
# watchdog not end it.
setsid node_modules/.bin/tsx jobs/test/ui/prometheus-lag.ts &
pid=$!
deadline=$((SECONDS + limit + 30))
while kill -0 "$pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "still running after $((limit + 30)) s"
  sleep 1
done
set +e
wait "$pid"
code=$?
set -e
# Anything the test left running goes now.
stop_test
((code == 0)) || fail "the browser test failed ($code); screenshots and the sink's log in $PINPIPE_UI_ARTIFACTS"
[[ -s $PINPIPE_UI_ARTIFACTS/prometheus-lag.png ]] || fail "no $PINPIPE_UI_ARTIFACTS/prometheus-lag.png"
say "passed in $(($(date +%s) - started)) s (screenshot in $PINPIPE_UI_ARTIFACTS)"
