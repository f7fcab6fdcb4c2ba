#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (API server + UI, scheduler, DAG processor, triggerer)
# with the pinpipe DAGs, the UI on 127.0.0.1:$AIRFLOW_PORT, jobs launched as containers through
# podman's Docker-compatible socket, and the local stack's PINPIPE_* settings in the environment.
# One fixed local user (admin / $PINPIPE_AIRFLOW_PASSWORD, default "admin"): the UI only listens
# on the loopback address. Ctrl-C stops Airflow; the podman service started here stops with it.
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
# New DAGs start unpaused, so a trigger from the UI runs at once.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False

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
trap '[[ -n $started_service ]] && bash dags/scripts/podman-service.sh stop "$PODMAN_SOCKET" >/dev/null' EXIT

cat <<MSG

  Airflow UI:   http://127.0.0.1:$port   (user admin, password $password)
  DAG:          pinpipe_daily, jobs launched with PINPIPE_LAUNCHER=$PINPIPE_LAUNCHER via $PINPIPE_DOCKER_URL
  AIRFLOW_HOME: $AIRFLOW_HOME (logs, metadata database)
  Trigger a day: open pinpipe_daily, "Trigger", set the logical date to the day D to process.
  Ctrl-C stops Airflow.

MSG
"$AIRFLOW_VENV/bin/airflow" standalone
