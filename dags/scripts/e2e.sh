#!/usr/bin/env bash
# End-to-end test of the daily DAG: day D of emulated raw data in the local S3 lake, then
# `airflow dags test pinpipe_daily D` with the Docker launcher pointed at podman's API socket
# (or, with PINPIPE_E2E_LAUNCHER=kubernetes, KubernetesPodOperator on `make k8s-up`'s cluster, as
# the chart's pod-launcher service account), so raw-ready, daily-transform, cassandra-load and
# lake-tables run in the images `make images` built; then the Cassandra rows of D must be there, and D's posts must answer through Trino. Run by `make test-airflow` (part of `make test`),
# with the stack's PINPIPE_* settings in the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${AIRFLOW_VENV:?}" "${PINPIPE_IMAGE_VERSION:?}"
launcher=${PINPIPE_E2E_LAUNCHER:-docker}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}
say() { printf 'e2e: %s\n' "$*"; }
fail() { printf 'e2e: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

work=$(mktemp -d)
cleanup() {
  if [[ -n ${k8s_namespace:-} ]]; then "$PINPIPE_KUBECTL" delete namespace "$k8s_namespace" --wait=false >/dev/null 2>&1 || true; fi
  if [[ -n ${started_service:-} ]]; then bash dags/scripts/podman-service.sh stop "$PODMAN_SOCKET" >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $launcher == docker ]] && ! curl -fsS --max-time 2 --unix-socket "${PODMAN_SOCKET:?}" http://d/_ping >/dev/null 2>&1; then
  bash dags/scripts/podman-service.sh start "$PODMAN_SOCKET"
  started_service=1
fi
for job in raw-ready daily-transform cassandra-load lake-tables reconcile; do
  podman image exists "pinpipe/$job:$PINPIPE_IMAGE_VERSION" || fail "image pinpipe/$job:$PINPIPE_IMAGE_VERSION is missing (make images)"
done

# A bucket, a keyspace and a Trino schema of the run's own (the launcher passes PINPIPE_S3_*,
# PINPIPE_CASSANDRA_*, PINPIPE_TRINO_* and PINPIPE_LAKE_* to the job containers): the user's
# lake and tables are never touched.
run_id="$(date +%s)$$"
export PINPIPE_S3_BUCKET="pinpipe-e2e-$run_id"
export PINPIPE_CASSANDRA_KEYSPACE="pinpipe_e2e_$run_id"
export PINPIPE_LAKE_SCHEMA="pinpipe_e2e_$run_id"
day=$(date -u -d "2040-01-01 + $((RANDOM % 3000)) days" +%F)
say "day $day: seeding the raw lake"
npx tsx dags/e2e/lake-day.ts seed "$day" 300
before=$(npx tsx dags/e2e/lake-day.ts count "$day")
[[ $before == '{"pins":0,"users_joined":0,"lake_posts":0}' ]] || fail "Cassandra or the lake already holds rows of $day: $before"

export AIRFLOW_HOME=$work/airflow
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
export PINPIPE_IMAGE_TAG=$PINPIPE_IMAGE_VERSION
if [[ $launcher == kubernetes ]]; then
  # The chart gives the namespace its ConfigMap, Secret, job service account and pod-launcher
  # Role (no Deployments); Airflow connects as the launcher's service account, not as an admin.
  eval "$(stack/k8s.sh env)"
  k8s_namespace="pinpipe-e2e-$run_id"
  jobs=()
  for job in raw-ready daily-transform cassandra-load lake-tables reconcile; do jobs+=("localhost/pinpipe/$job:$PINPIPE_IMAGE_VERSION"); done
  stack/k8s.sh import "${jobs[@]}"
  "$PINPIPE_KUBECTL" create namespace "$k8s_namespace" >/dev/null
  "$PINPIPE_KUBECTL" -n "$k8s_namespace" create serviceaccount airflow-worker >/dev/null
  "${HELM:?}" install pinpipe charts/pinpipe -n "$k8s_namespace" -f charts/values-local.yaml \
    --set ingest.enabled=false --set s3Sink.enabled=false --set streamAgg.enabled=false --set tests.enabled=false \
    --set secrets.apiKeys=unused-by-the-batch-jobs --set secrets.pgPassword=pinpipe \
    --set "secrets.awsAccessKeyId=$AWS_ACCESS_KEY_ID" --set "secrets.awsSecretAccessKey=$AWS_SECRET_ACCESS_KEY" >/dev/null
  token=$("$PINPIPE_KUBECTL" -n "$k8s_namespace" create token airflow-worker --duration 2h)
  "$PINPIPE_KUBECTL" config view --raw --minify >"$work/launcher.kubeconfig"
  KUBECONFIG=$work/launcher.kubeconfig "$PINPIPE_KUBECTL" config unset users >/dev/null
  KUBECONFIG=$work/launcher.kubeconfig "$PINPIPE_KUBECTL" config set-credentials launcher --token "$token" >/dev/null
  KUBECONFIG=$work/launcher.kubeconfig "$PINPIPE_KUBECTL" config set-context --current --user launcher >/dev/null
  export AIRFLOW_CONN_KUBERNETES_DEFAULT="{\"conn_type\": \"kubernetes\", \"extra\": {\"kube_config_path\": \"$work/launcher.kubeconfig\", \"in_cluster\": false}}"
  export PINPIPE_LAUNCHER=kubernetes PINPIPE_K8S_NAMESPACE=$k8s_namespace PINPIPE_IMAGE_REGISTRY=localhost/pinpipe
  export PINPIPE_IMAGE_PULL_POLICY=Never PINPIPE_K8S_HOST_NETWORK=true
  [[ $("$PINPIPE_KUBECTL" --kubeconfig "$work/launcher.kubeconfig" auth can-i delete deployments -n "$k8s_namespace") == no ]] ||
    fail "the launcher's service account may delete Deployments"
else
  export PINPIPE_LAUNCHER=docker
  export PINPIPE_DOCKER_URL=unix://$PODMAN_SOCKET
fi
say "airflow db migrate"
"$AIRFLOW_VENV/bin/airflow" db migrate >"$work/migrate.log" 2>&1 || { tail -30 "$work/migrate.log"; fail "airflow db migrate"; }

say "airflow dags test pinpipe_daily $day ($launcher launcher)"
set +e
timeout 1200 "$AIRFLOW_VENV/bin/airflow" dags test pinpipe_daily "$day" \
  --conf '{"require_later_data": true, "wait_minutes": 2, "require_stream": false}' >"$work/dags-test.log" 2>&1
code=$?
set -e
grep -E 'pinpipe|Marking task|state=|ERROR' "$work/dags-test.log" | grep -vE 'DeprecationWarning' | tail -40 || true
((code == 0)) || { tail -60 "$work/dags-test.log"; fail "airflow dags test exited with $code"; }
grep -Eq 'DagRun Finished: .*state=success' "$work/dags-test.log" || { tail -60 "$work/dags-test.log"; fail "the DAG run did not succeed"; }
for task in raw_ready daily_transform cassandra_load lake_tables reconcile; do
  state=$("$AIRFLOW_VENV/bin/airflow" tasks state pinpipe_daily "$task" "$day" 2>/dev/null | tail -1)
  [[ $state == success ]] || fail "task $task ended in state '$state'"
done

after=$(npx tsx dags/e2e/lake-day.ts loaded "$day") || fail "the run of $day left its rows incomplete: $after (the reason is above)"
say "Cassandra rows and lake posts of $day: $after"
# Passed: take the bucket and keyspace away again (a failed run keeps them, to look at).
removed=$(npx tsx dags/e2e/lake-day.ts clean "$day") || fail "could not remove the run's bucket, keyspace or lake schema"
say "removed $removed"
say "passed in $(($(date +%s) - started)) s"
