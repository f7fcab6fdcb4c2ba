#!/usr/bin/env bash
# The chart on a real cluster: `make k8s-up`'s single-node cluster, the job images `make images`
# built imported into its containerd, and charts/pinpipe installed with charts/values-local.yaml
# against the local stack. It checks that ingest, s3-sink and stream-agg become Ready through
# their probes under the chart's security contexts, that `helm test` passes (Service DNS and
# kube-proxy from a pod), that an emulated batch posted to ingest's Service lands in the lake,
# that `helm upgrade` with a changed value rolls the Deployments and `helm rollback` returns, and
# that the pod launcher's account may run pods but not delete a Deployment. Run by
# `make test-k8s` (part of `make test`) with the stack's settings in the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${HELM:?}" "${PINPIPE_IMAGE_VERSION:?}" "${PINPIPE_S3_ENDPOINT:?}" "${AWS_ACCESS_KEY_ID:?}"
say() { printf 'k8s-install: %s\n' "$*"; }
fail() { printf 'k8s-install: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)
eval "$(stack/k8s.sh env)"
kubectl() { "$PINPIPE_KUBECTL" "$@"; }

# A namespace, bucket, topics and consumer groups of the run's own.
run_id="$(date +%s)$$"
ns="pinpipe-it-$run_id"
release=pinpipe
bucket="pinpipe-k8s-$run_id"
topics="it-k8s-$run_id.pin,it-k8s-$run_id.geo,it-k8s-$run_id.user"
api_key="k8s-test-$run_id"
cleanup() {
  local code=$?
  if ((code != 0)); then
    say "state at failure:"
    kubectl -n "$ns" get pods -o wide 2>&1 || true
    kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -20 || true
    for pod in $(kubectl -n "$ns" get pods -o name 2>/dev/null); do
      say "--- logs of $pod"
      kubectl -n "$ns" logs "$pod" --all-containers --tail=5 2>&1 || true
    done
  fi
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

images=()
for job in ingest s3-sink stream-agg; do images+=("localhost/pinpipe/$job:$PINPIPE_IMAGE_VERSION"); done
stack/k8s.sh import "${images[@]}"

kubectl create namespace "$ns" >/dev/null
# The pod launcher's RoleBinding names an Airflow service account; here it is one of the run's own.
kubectl -n "$ns" create serviceaccount airflow-worker >/dev/null
install_args=(
  -n "$ns" -f charts/values-local.yaml
  --set "config.s3Bucket=$bucket" --set "config.s3Endpoint=$PINPIPE_S3_ENDPOINT"
  --set "config.topics=${topics//,/\\,}"
  --set "config.extra.PINPIPE_PIN_TOPIC=${topics%%,*}"
  --set "config.extra.PINPIPE_GEO_TOPIC=$(cut -d, -f2 <<<"$topics")"
  --set "config.extra.PINPIPE_USER_TOPIC=${topics##*,}"
  --set "s3Sink.groupId=it-k8s-sink-$run_id" --set "streamAgg.groupId=it-k8s-agg-$run_id"
  --set "secrets.apiKeys=$api_key" --set "secrets.pgPassword=pinpipe"
  --set "secrets.awsAccessKeyId=$AWS_ACCESS_KEY_ID" --set "secrets.awsSecretAccessKey=$AWS_SECRET_ACCESS_KEY"
)
say "helm install $release into $ns"
"$HELM" install "$release" charts/pinpipe "${install_args[@]}" --wait --timeout 5m >/dev/null ||
  fail "helm install did not become ready within 5 min"
# helm's --wait counts a Deployment whose rollout may take its one pod down (maxUnavailable 1, as
# hostNetwork needs) as ready at once: wait for each rollout's new pod to be Ready through its probes.
rolled_out() {
  local deploy
  for deploy in ingest s3-sink stream-agg; do
    kubectl -n "$ns" rollout status "deployment/$release-$deploy" --timeout=180s >/dev/null ||
      fail "$release-$deploy did not roll out within 180 s"
    kubectl -n "$ns" wait "deployment/$release-$deploy" --for=jsonpath='{.status.readyReplicas}'=1 --timeout=180s >/dev/null ||
      fail "$release-$deploy has no Ready pod after 180 s"
  done
}
rolled_out

# The security context in practice: the processes really run as 10001 on a read-only root.
pod=$(kubectl -n "$ns" get pods -l app.kubernetes.io/component=ingest -o jsonpath='{.items[0].metadata.name}')
uid=$(kubectl -n "$ns" exec "$pod" -- id -u)
[[ $uid == 10001 ]] || fail "ingest runs as uid $uid"
if kubectl -n "$ns" exec "$pod" -- sh -c 'echo x > /app/probe' 2>/dev/null; then fail "ingest's root filesystem is writable"; fi
caps=$(kubectl -n "$ns" exec "$pod" -- sh -c 'grep CapEff /proc/1/status')
[[ $caps == *0000000000000000 ]] || fail "ingest keeps capabilities: $caps"
seccomp=$(kubectl -n "$ns" exec "$pod" -- sh -c 'grep Seccomp: /proc/1/status')
[[ $seccomp == *2 ]] || fail "ingest runs without a seccomp filter: $seccomp"
say "ingest runs as uid 10001, read-only root, no capabilities, seccomp filtered"

say "helm test"
"$HELM" test "$release" -n "$ns" --timeout 3m >/dev/null || fail "helm test failed: $(kubectl -n "$ns" logs "$release-test-services" 2>&1 | tail -5)"

# An emulated batch through ingest's Service (kube-proxy routes the node's own traffic too).
ip=$(kubectl -n "$ns" get service "$release-ingest" -o jsonpath='{.spec.clusterIP}')
port=$(kubectl -n "$ns" get service "$release-ingest" -o jsonpath='{.spec.ports[0].port}')
posts=200
node dist/jobs/cli.js emulate --count "$posts" --seed 20 --duplicate-rate 0 --late-rate 0 --ingest-url "http://$ip:$port" --api-key "$api_key" \
  --log-level warn || fail "the emulator could not post to ingest's Service at $ip:$port"
want=$((posts * 3))
deadline=$((SECONDS + 120))
while :; do
  got=$(PINPIPE_S3_BUCKET=$bucket PINPIPE_TOPICS=$topics node scripts/lake-summary.mjs count 2>/dev/null || echo 0)
  ((got >= want)) && break
  ((SECONDS < deadline)) || fail "the lake holds $got of the $want records posted after 120 s"
  sleep 3
done
((got == want)) || fail "the lake holds $got records, $want were posted"
say "$want records posted to $ip:$port landed in s3://$bucket"

# A changed value rolls every Deployment; rollback returns to the first revision's pods.
revision_of() { kubectl -n "$ns" get deployment "$release-$1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'; }
"$HELM" upgrade "$release" charts/pinpipe "${install_args[@]}" --set config.logLevel=debug --wait --timeout 5m >/dev/null ||
  fail "helm upgrade did not become ready"
rolled_out
for deploy in ingest s3-sink stream-agg; do
  [[ $(revision_of "$deploy") == 2 ]] || fail "helm upgrade did not roll $release-$deploy"
done
log_level() { kubectl -n "$ns" get configmap "$release-config" -o jsonpath='{.data.PINPIPE_LOG_LEVEL}'; }
level=$(log_level)
[[ $level == debug ]] || fail "the upgraded ConfigMap says PINPIPE_LOG_LEVEL=$level"
"$HELM" rollback "$release" 1 -n "$ns" --wait --timeout 5m >/dev/null || fail "helm rollback did not become ready"
rolled_out
level=$(log_level)
[[ $level == info ]] || fail "after rollback the ConfigMap says PINPIPE_LOG_LEVEL=$level"
for deploy in ingest s3-sink stream-agg; do
  [[ $(revision_of "$deploy") == 3 ]] || fail "helm rollback did not roll $release-$deploy back"
done
[[ $("$HELM" history "$release" -n "$ns" -o json | grep -o '"revision":' | wc -l) == 3 ]] || fail "helm history is not install, upgrade, rollback"
say "helm upgrade rolled the Deployments, helm rollback returned"

# The pod launcher's account: pods yes, anything else no.
as_launcher=(--as "system:serviceaccount:$ns:airflow-worker" -n "$ns")
[[ $(kubectl auth can-i create pods "${as_launcher[@]}") == yes ]] || fail "the launcher's account may not create pods"
if kubectl delete deployment "$release-ingest" "${as_launcher[@]}" >/dev/null 2>&1; then
  fail "the launcher's account deleted a Deployment"
fi
kubectl -n "$ns" get deployment "$release-ingest" >/dev/null || fail "ingest's Deployment is gone"
say "the launcher's account may create pods and may not delete a Deployment"

"$HELM" uninstall "$release" -n "$ns" --wait --timeout 2m >/dev/null || fail "helm uninstall"
say "passed in $(($(date +%s) - started)) s"
