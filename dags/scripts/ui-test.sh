#!/usr/bin/env bash
# The Airflow UI in a real browser: the standalone Airflow of `make airflow`
# (dags/scripts/airflow-standalone.sh) on a port, AIRFLOW_HOME, bucket, keyspace and lake schema of
# the test's own, a seeded day D, then dags/ui/airflow-ui.ts drives headless Chromium through it
# (sign in, trigger D with changed params from the trigger form after checking every param's
# field, the run's success in the grid, daily_transform's log, the backfill form); afterwards the
# Cassandra rows of D must be there, as in e2e.sh. Airflow is stopped at the end whatever happens. Run by `make test-airflow-ui` (part of `make test`), with
# the stack's PINPIPE_* settings in the environment; screenshots land in $PINPIPE_UI_ARTIFACTS.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${AIRFLOW_VENV:?}" "${PODMAN_SOCKET:?}" "${PINPIPE_IMAGE_VERSION:?}"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}
export PINPIPE_UI_ARTIFACTS=${PINPIPE_UI_ARTIFACTS:-$PWD/out/airflow-ui}
export PINPIPE_CHROMIUM=${PINPIPE_CHROMIUM:-/usr/bin/chromium}
say() { printf 'ui-test: %s\n' "$*"; }
fail() { printf 'ui-test: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

[[ -x $PINPIPE_CHROMIUM ]] || fail "no Chromium at $PINPIPE_CHROMIUM (apt-get install chromium)"
for job in raw-ready daily-transform cassandra-load lake-tables reconcile; do
  podman image exists "pinpipe/$job:$PINPIPE_IMAGE_VERSION" || fail "image pinpipe/$job:$PINPIPE_IMAGE_VERSION is missing (make images)"
done
rm -rf "$PINPIPE_UI_ARTIFACTS"
mkdir -p "$PINPIPE_UI_ARTIFACTS"

work=$(mktemp -d)
airflow_home=$work/airflow
log=$PINPIPE_UI_ARTIFACTS/airflow-standalone.log
script_pid=
browser_pid=
# Stops the standalone script the way Ctrl-C does (it stops Airflow within a few seconds and the
# podman service it started); whatever still runs after $stop_limit s is killed: the script, and
# the session Airflow standalone runs in.
stop_limit=30
stop_airflow() {
  [[ -n $script_pid ]] || return 0
  local t0=$SECONDS standalone
  standalone=$(cat "$airflow_home/standalone.pid" 2>/dev/null || true)
  kill -TERM "$script_pid" 2>/dev/null || true
  while kill -0 "$script_pid" 2>/dev/null && ((SECONDS - t0 < stop_limit)); do sleep 0.2; done
  if kill -0 "$script_pid" 2>/dev/null; then
    say "airflow-standalone.sh still running after ${stop_limit} s: killing it" >&2
    kill -KILL "$script_pid" 2>/dev/null || true
  fi
  if [[ -n $standalone ]]; then
    # shellcheck disable=SC2046 # one pid a word
    kill -KILL $(ps -e -o pid=,sid= | awk -v sid="$standalone" '$2 == sid { print $1 }') 2>/dev/null || true
  fi
  wait "$script_pid" 2>/dev/null || true
  stopped_in=$((SECONDS - t0))
  say "Airflow stopped in ${stopped_in} s"
  script_pid=
}
cleanup() {
  local code=$?
  if [[ -n $browser_pid ]]; then kill -TERM "$browser_pid" 2>/dev/null || true; wait "$browser_pid" 2>/dev/null || true; fi
  stop_airflow
  # A failed run keeps the task logs beside the screenshots.
  if ((code != 0)) && [[ -d $airflow_home/logs ]]; then cp -r "$airflow_home/logs" "$PINPIPE_UI_ARTIFACTS/task-logs" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A bucket, a keyspace, a Trino schema and a stream-agg group of the run's own (the launcher passes
# PINPIPE_S3_*, PINPIPE_CASSANDRA_*, PINPIPE_LAKE_* and PINPIPE_STREAM_* to the job containers):
# the user's lake and tables are never touched, and reconcile finds no stream windows, which
# require_stream=false (set in the trigger form) lets pass.
run_id="$(date +%s)$$"
export PINPIPE_S3_BUCKET="pinpipe-ui-$run_id"
export PINPIPE_CASSANDRA_KEYSPACE="pinpipe_ui_$run_id"
export PINPIPE_LAKE_SCHEMA="pinpipe_ui_$run_id"
export PINPIPE_STREAM_GROUP_ID="pinpipe-ui-$run_id"
# A day that is over (the scheduler starts no run of a future logical date) and after the DAG's
# start_date, 2020-01-01.
day=$(date -u -d "2021-01-01 + $((RANDOM % 1500)) days" +%F)
export PINPIPE_UI_DAY=$day
say "day $day: seeding the raw lake (bucket $PINPIPE_S3_BUCKET)"
npx tsx dags/e2e/lake-day.ts seed "$day" 300
before=$(npx tsx dags/e2e/lake-day.ts count "$day")
[[ $before == '{"pins":0,"users_joined":0,"lake_posts":0}' ]] || fail "Cassandra or the lake already holds rows of $day: $before"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PINPIPE_UI_URL=http://127.0.0.1:$port
export PINPIPE_AIRFLOW_PASSWORD="ui-$RANDOM$RANDOM"
say "Airflow standalone on $PINPIPE_UI_URL, AIRFLOW_HOME $airflow_home, log $log"
AIRFLOW_HOME=$airflow_home AIRFLOW_PORT=$port bash dags/scripts/airflow-standalone.sh </dev/null >"$log" 2>&1 &
script_pid=$!

say "waiting for the API server"
for _ in $(seq 1 180); do
  curl -fsS --max-time 2 "$PINPIPE_UI_URL/api/v2/monitor/health" >/dev/null 2>&1 && break
  kill -0 "$script_pid" 2>/dev/null || { tail -40 "$log" >&2; fail "Airflow standalone exited before it answered"; }
  sleep 1
done
curl -fsS --max-time 2 "$PINPIPE_UI_URL/api/v2/monitor/health" >/dev/null || { tail -40 "$log" >&2; fail "no answer from $PINPIPE_UI_URL after 180 s"; }

say "the browser test (dags/ui/airflow-ui.ts)"
# In the background, so that a signal to this script is handled at once (bash runs traps only
# between foreground commands), not after the browser test's own timeouts.
node_modules/.bin/tsx dags/ui/airflow-ui.ts &
browser_pid=$!
set +e
wait "$browser_pid"
code=$?
set -e
browser_pid=
((code == 0)) || { tail -20 "$log" >&2; fail "the browser test failed ($code); screenshots and logs in $PINPIPE_UI_ARTIFACTS"; }

after=$(npx tsx dags/e2e/lake-day.ts loaded "$day") || fail "the run of $day left its rows incomplete: $after (the reason is above)"
say "Cassandra rows and lake posts of $day: $after"

stop_airflow
# Ctrl-C on `make airflow` must not hang: the standalone script's own stop is bounded.
((stopped_in <= 15)) || fail "Airflow standalone took ${stopped_in} s to stop after SIGTERM"
# Passed: take the bucket, keyspace and lake schema away again (a failed run keeps them, to look at).
removed=$(npx tsx dags/e2e/lake-day.ts clean "$day") || fail "could not remove the run's bucket, keyspace or lake schema"
say "removed $removed"
say "passed in $(($(date +%s) - started)) s (screenshots in $PINPIPE_UI_ARTIFACTS)"
