#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (API server + UI, scheduler, DAG processor, triggerer)
# with the pinpipe DAGs, the UI on 127.0.0.1:$AIRFLOW_PORT, jobs launched as containers through
# podman's Docker-compatible socket, and the local stack's PINPIPE_* settings in the environment.
# One fixed local user (admin / $PINPIPE_AIRFLOW_PASSWORD, default "admin"): the UI only listens
# on the loopback address. Ctrl-C (or SIGTERM) stops Airflow within a few seconds; the podman
# service started here stops with it.
#
# The scheduler starts no scheduled runs here ([scheduler] use_job_schedule off): a fresh
# AIRFLOW_HOME would otherwise start yesterday's run at once (catchup=False schedules the latest
# interval), which waits in raw_ready and, one run at a time, holds back every run triggered by
# hand. Triggered runs and backfills run as usual. AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=True
# brings the daily schedule back.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${AIRFLOW_VENV:?}" "${AIRFLOW_HOME:?}" "${PODMAN_SOCKET:?}" "${PINPIPE_IMAGE_VERSION:?}"
port=${AIRFLOW_PORT:-8080}
password=${PINPIPE_AIRFLOW_PASSWORD:-admin}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}

mkdir -p "$AIRFLOW_HOME"
export AIRFLOW_HOME
# standalone starts its components as `airflow ...` subprocesses.
export PATH=$AIRFLOW_VENV/bin:$PATH
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$port
export AIRFLOW__API__BASE_URL=http://127.0.0.1:$port
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$port/execution/
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$AIRFLOW_HOME/simple_auth_manager_passwords.json
# The simple auth manager only generates passwords for users missing from this file.
printf '{"admin": "%s"}\n' "$password" >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
# New DAGs start unpaused, so a trigger from the UI runs at once; with no scheduled runs (above),
# nothing runs that nobody asked for.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=${AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE:-False}

export PINPIPE_LAUNCHER=${PINPIPE_LAUNCHER:-docker}
export PINPIPE_DOCKER_URL=${PINPIPE_DOCKER_URL:-unix://$PODMAN_SOCKET}
export PINPIPE_IMAGE_TAG=${PINPIPE_IMAGE_TAG:-$PINPIPE_IMAGE_VERSION}

started_service=
if [[ $PINPIPE_LAUNCHER == docker && $PINPIPE_DOCKER_URL == "unix://$PODMAN_SOCKET" ]]; then
  if ! curl -fsS --max-time 2 --unix-socket "$PODMAN_SOCKET" http://d/_ping >/dev/null 2>&1; then
    bash dags/scripts/podman-service.sh start "$PODMAN_SOCKET"
    started_service=1
  fi
  for job in raw-ready daily-transform cassandra-load lake-tables reconcile; do
    podman image exists "pinpipe/$job:$PINPIPE_IMAGE_TAG" ||
      echo "airflow: image pinpipe/$job:$PINPIPE_IMAGE_TAG is missing; run make images first" >&2
  done
fi
# Airflow standalone runs in a session of its own, so a Ctrl-C reaches only this script, which
# then stops every process of that session: SIGTERM first, SIGKILL for what is left after
# $stop_seconds s (standalone itself would wait for a second Ctrl-C, and its components take their
# time to drain). The pid of standalone (= its session id) is kept in $AIRFLOW_HOME/standalone.pid.
stop_seconds=${PINPIPE_AIRFLOW_STOP_SECONDS:-3}
airflow_pid=
# The live processes of that session (a zombie is gone already, it only waits to be reaped).
session_pids() { ps -e -o pid=,sid=,stat= | awk -v sid="$airflow_pid" '$2 == sid && $3 !~ /^Z/ { print $1 }'; }
stop_airflow() {
  [[ -n $airflow_pid ]] || return 0
  local pids
  pids=$(session_pids)
  if [[ -n $pids ]]; then
    echo "airflow: stopping Airflow (session $airflow_pid)" >&2
    # shellcheck disable=SC2086 # one pid a word
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 $((stop_seconds * 5))); do
      pids=$(session_pids)
      [[ -n $pids ]] || break
      sleep 0.2
    done
    if [[ -n $pids ]]; then
      echo "airflow: still running after ${stop_seconds} s, killed: $(ps -o args= -p "${pids//$'\n'/,}" | cut -c1-60 | sort | uniq -c | awk '{$1=$1; print}' | paste -sd ';' -)" >&2
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
  fi
  wait "$airflow_pid" 2>/dev/null || true
  rm -f "$AIRFLOW_HOME/standalone.pid"
  airflow_pid=
}
cleanup() {
  stop_airflow
  if [[ -n $started_service ]]; then
    bash dags/scripts/podman-service.sh stop "$PODMAN_SOCKET" >/dev/null || true
    started_service=
  fi
}
trap cleanup EXIT
# After the cleanup, leave by the signal itself, so that make (or whoever started this) sees an interrupt.
trap 'trap - INT; cleanup; kill -INT $$' INT
trap 'trap - TERM; cleanup; kill -TERM $$' TERM

cat <<MSG

  Airflow UI:   http://127.0.0.1:$port   (user admin, password $password)
  DAG:          pinpipe_daily, jobs launched with PINPIPE_LAUNCHER=$PINPIPE_LAUNCHER via $PINPIPE_DOCKER_URL
  AIRFLOW_HOME: $AIRFLOW_HOME (logs, metadata database)
  Trigger a day: open pinpipe_daily, "Trigger", set the logical date to the day D to process.
  Scheduled runs: $([[ ${AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE,,} == true ]] && echo "on (daily at 00:00 UTC)" || echo "off here; triggered runs and backfills run")
  Ctrl-C stops Airflow.

MSG
# setsid execs in place (a script's background job leads no process group), so $! is both the pid
# of standalone and the id of its session.
setsid "$AIRFLOW_VENV/bin/airflow" standalone </dev/null &
airflow_pid=$!
echo "$airflow_pid" >"$AIRFLOW_HOME/standalone.pid"
# wait returns early when a trapped signal arrives; the trap then stops everything.
set +e
wait "$airflow_pid"
code=$?
set -e
airflow_pid=
rm -f "$AIRFLOW_HOME/standalone.pid"
exit "$code"
