#!/usr/bin/env bash
# A local single-node Kubernetes cluster, for installing charts/pinpipe for real and running the
# daily DAG's pods through KubernetesPodOperator. Everything is built from the Go module proxy
# (Kubernetes, etcd, CoreDNS, a pause program) or comes from Debian (containerd, runc, the CNI
# plugins, iptables); no image registry is involved: images are built here and imported.
#
#   stack/k8s.sh build            build the binaries into the cache (idempotent)
#   stack/k8s.sh up               build if needed, start the cluster, wait for the node and DNS
#   stack/k8s.sh down             stop it, leaving no pod, mount, iptables rule, link or cgroup
#   stack/k8s.sh status           one line per component; non-zero unless all are up
#   stack/k8s.sh clean            down, then delete the cluster's state (etcd, kubelet, images)
#   stack/k8s.sh env              export lines: KUBECONFIG and the kubectl to use
#   stack/k8s.sh leftovers        non-zero if a stopped cluster left anything on the machine
#   stack/k8s.sh import IMAGE...  copy podman images into the cluster's containerd
#   stack/k8s.sh kubectl ARGS...  kubectl as the cluster's admin
#
# The node's address is a private one on a link of its own (NODE_IP below; a bridge with no
# ports, since not every kernel has the dummy link type), which is also
# where the API server listens: pods must reach it through the kubernetes Service, and Service
# endpoints may not be loopback addresses. Nothing listens on the machine's own interfaces.
# Pods that need the local stack (Kafka, MinIO, ... on 127.0.0.1) run with hostNetwork.
#
# Versions: stack/k8s/build/*/go.mod, the one place to bump them.
# Cache:  ${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}/k8s       (binaries)
# State:  ${PINPIPE_STACK_DIR:-$PINPIPE_CACHE_DIR/stack}/k8s   (etcd, kubelet, containerd, PKI)
set -euo pipefail

STACK_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=stack/common.sh
source "$STACK_SRC/common.sh"
BUILD_SRC=$STACK_SRC/k8s/build
CACHE_DIR=${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}
STATE_DIR=${PINPIPE_STACK_DIR:-$CACHE_DIR/stack}
K8S=$STATE_DIR/k8s
LOG_DIR=$STATE_DIR/logs
RUN_DIR=$STATE_DIR/run
GO=${PINPIPE_GO:-$(command -v go || echo /usr/local/go/bin/go)}

mod_version() { awk -v m="$2" '($1 == "require" && $2 == m) {print $3} ($1 == m) {print $2}' "$BUILD_SRC/$1/go.mod" | head -1; }
K8S_VERSION=$(mod_version kubernetes k8s.io/kubernetes)
ETCD_VERSION=$(mod_version etcd go.etcd.io/etcd/server/v3)
COREDNS_VERSION=$(mod_version coredns github.com/coredns/coredns)
# The binaries' folder is named by what they are built from, so a changed pin builds anew.
BUILD_ID=$(cat "$BUILD_SRC"/*/go.mod "$BUILD_SRC"/*/go.sum "$STACK_SRC"/k8s/pause/main.go | sha256sum | cut -c1-12)
BIN=$CACHE_DIR/k8s/bin-$BUILD_ID
PAUSE_IMAGE=localhost/pinpipe/pause:$BUILD_ID
COREDNS_IMAGE=localhost/pinpipe/coredns:$COREDNS_VERSION

NODE_NAME=pinpipe-node
NODE_LINK=pinpipe-node
NODE_IP=${PINPIPE_K8S_NODE_IP:-10.213.0.1}
POD_BRIDGE=pinpipe-cni0
POD_CIDR=${PINPIPE_K8S_POD_CIDR:-10.214.0.0/24}
SERVICE_CIDR=${PINPIPE_K8S_SERVICE_CIDR:-10.215.0.0/24}
SERVICE_PREFIX=${SERVICE_CIDR%.*/*}
KUBERNETES_SERVICE_IP=$SERVICE_PREFIX.1
DNS_SERVICE_IP=$SERVICE_PREFIX.10
API_PORT=${PINPIPE_K8S_API_PORT:-6443}
ETCD_PORT=${PINPIPE_K8S_ETCD_PORT:-2379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
API_URL=https://$NODE_IP:$API_PORT

PKI=$K8S/pki
CONTAINERD_SOCK=$K8S/containerd/containerd.sock
KUBECONFIG_ADMIN=$K8S/admin.kubeconfig
# Start order; down goes the other way.
COMPONENTS=(etcd apiserver controller-manager scheduler containerd kubelet proxy)

say() { printf 'k8s: %s\n' "$*"; }
die() { printf 'k8s: %s\n' "$*" >&2; exit 1; }
pidfile() { printf '%s/k8s-%s.pid' "$RUN_DIR" "$1"; }
logfile() { printf '%s/k8s-%s.log' "$LOG_DIR" "$1"; }
component_pid() { local pid; read -r pid 2>/dev/null <"$(pidfile "$1")" && is_alive "$pid" && printf '%s' "$pid"; }
kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr() { command ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

wait_for() { # what seconds command...: polls until the command succeeds
  local what=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# ---- build ---------------------------------------------------------------------------------
go_build() { # module out-dir ldflags
  (cd "$BUILD_SRC/$1" && env GOPATH="$CACHE_DIR/go" GOCACHE="$CACHE_DIR/go-build" GOFLAGS=-modcacherw \
    CGO_ENABLED=0 GOTOOLCHAIN=local "$GO" build -trimpath -ldflags "-s -w $3" -o "$2/" tool)
}

cmd_build() {
  [[ -x $BIN/.built ]] && return 0
  [[ -x $GO ]] || die "no Go toolchain at $GO (set PINPIPE_GO)"
  local tmp=$BIN.tmp started=$SECONDS version_pkg=k8s.io/component-base/version
  rm -rf "$tmp" && mkdir -p "$tmp" "$LOG_DIR"
  say "building Kubernetes $K8S_VERSION, etcd $ETCD_VERSION and CoreDNS $COREDNS_VERSION from the Go module proxy (first time only: about 8 min on 2 cores)"
  {
    local minor=${K8S_VERSION#v*.}
    go_build kubernetes "$tmp" "-X $version_pkg.gitVersion=$K8S_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=${minor%%.*} -X $version_pkg.gitTreeState=clean"
    go_build etcd "$tmp" ""
    mv "$tmp/server" "$tmp/etcd"
    go_build coredns "$tmp" ""
    (cd "$STACK_SRC/k8s/pause" && env GOCACHE="$CACHE_DIR/go-build" CGO_ENABLED=0 GOTOOLCHAIN=local GO111MODULE=off \
      "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/pause" main.go)
  } >"$(logfile build)" 2>&1 || { tail -n 30 "$(logfile build)" >&2; die "build failed (log: $(logfile build))"; }
  touch "$tmp/.built" && chmod +x "$tmp/.built"
  rm -rf "$BIN" && mv "$tmp" "$BIN"
  say "built in $((SECONDS - started)) s into $BIN"
}

# ---- node packages -------------------------------------------------------------------------
ensure_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v podman >/dev/null || missing+=(podman)
  command -v openssl >/dev/null || missing+=(openssl)
  ((${#missing[@]})) || return 0
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=600
  # policy-rc.d keeps Debian's containerd service from starting: this script runs its own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}

# ---- PKI and kubeconfigs -------------------------------------------------------------------
issue_cert() { # name subject extendedKeyUsage [subjectAltName]
  local name=$1 ext
  ext=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$3" >"$ext"
  [[ -z ${4:-} ]] || printf 'subjectAltName=%s\n' "$4" >>"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext" "$PKI/$name.csr"
}

write_kubeconfig() { # file cert-name
  local b64='base64 -w0'
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pinpipe-local
  cluster:
    server: $API_URL
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 <"$PKI/$2.crt")
    client-key-data: $($b64 <"$PKI/$2.key")
contexts:
- name: pinpipe-local
  context: {cluster: pinpipe-local, user: $2}
current-context: pinpipe-local
EOF
  chmod 600 "$1"
}

prepare_pki() {
  [[ -f $PKI/.done ]] && return 0
  rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=pinpipe-local-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  issue_cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  issue_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
  issue_cert admin "/O=system:masters/CN=pinpipe-admin" clientAuth
  issue_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  issue_cert scheduler "/CN=system:kube-scheduler" clientAuth
  issue_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  issue_cert proxy "/CN=system:kube-proxy" clientAuth
  local who
  for who in admin controller-manager scheduler kubelet proxy; do write_kubeconfig "$K8S/$who.kubeconfig" "$who"; done
  touch "$PKI/.done"
}

# ---- configuration files -------------------------------------------------------------------
# kube-proxy exits when its configuration file changes under it: an unchanged file is left alone.
write_if_changed() { # file, content on stdin
  local new
  new=$(cat)
  [[ -f $1 && $(<"$1") == "$new" ]] || printf '%s\n' "$new" >"$1"
}

prepare_config() {
  mkdir -p "$K8S"/{etcd,kubelet,pod-logs,containerd/root,containerd/state,containerd/opt,cni/net.d,cni/networks} "$LOG_DIR" "$RUN_DIR"
  write_if_changed "$K8S/containerd/config.toml" <<EOF
version = 2
root = "$K8S/containerd/root"
state = "$K8S/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  # The node cannot lower a process's oom_score_adj below its own; without this every sandbox
  # fails to start (runc says why only with --debug).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S/cni/net.d"
EOF
  write_if_changed "$K8S/cni/net.d/10-pinpipe.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "pinpipe",
  "plugins": [
    {
      "type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
               "dataDir": "$K8S/cni/networks"}
    }
  ]
}
EOF
  write_if_changed "$K8S/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# This machine has a cgroup v1 hierarchy and no systemd; 1.35 and later refuse cgroup v1.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: /etc/resolv.conf
podLogsDir: $K8S/pod-logs
maxPods: 40
serializeImagePulls: false
# No registry to pull from again: images imported by this script are never collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A developer's disk, not a dedicated node's: evict only when it is really full.
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
EOF
  write_if_changed "$K8S/proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $K8S/proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables: {localhostNodePorts: false}
# Zero leaves the machine's conntrack settings as they are.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# ---- the node's network ----------------------------------------------------------------------
prepare_network() {
  ip link show "$NODE_LINK" >/dev/null 2>&1 || ip link add "$NODE_LINK" type bridge
  ip addr show dev "$NODE_LINK" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/32" dev "$NODE_LINK"
  ip link set "$NODE_LINK" up
  # Pod to Service to pod on the one bridge is routed by the node; what the machine had is put
  # back by down.
  [[ -f $K8S/ip_forward.before ]] || cat /proc/sys/net/ipv4/ip_forward >"$K8S/ip_forward.before"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null || true
}

# ---- components ------------------------------------------------------------------------------
component_command() {
  case $1 in
    etcd) CMD=("$BIN/etcd" --name pinpipe --data-dir "$K8S/etcd"
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT"
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
      --initial-cluster "pinpipe=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn) ;;
    apiserver) CMD=("$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT"
      --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT"
      --service-cluster-ip-range "$SERVICE_CIDR" --client-ca-file "$PKI/ca.crt"
      --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key"
      --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key"
      --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP
      --service-account-issuer https://kubernetes.default.svc.cluster.local
      --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key"
      --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --profiling=false) ;;
    controller-manager) CMD=("$BIN/kube-controller-manager" --kubeconfig "$K8S/controller-manager.kubeconfig"
      --authentication-kubeconfig "$K8S/controller-manager.kubeconfig" --authorization-kubeconfig "$K8S/controller-manager.kubeconfig"
      --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials
      --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt"
      --service-cluster-ip-range "$SERVICE_CIDR" --cluster-name pinpipe-local --profiling=false) ;;
    scheduler) CMD=("$BIN/kube-scheduler" --kubeconfig "$K8S/scheduler.kubeconfig"
      --authentication-kubeconfig "$K8S/scheduler.kubeconfig" --authorization-kubeconfig "$K8S/scheduler.kubeconfig"
      --bind-address 127.0.0.1 --leader-elect=false --profiling=false) ;;
    containerd) CMD=(containerd --config "$K8S/containerd/config.toml") ;;
    kubelet) CMD=("$BIN/kubelet" --config "$K8S/kubelet.yaml" --kubeconfig "$K8S/kubelet.kubeconfig"
      --root-dir "$K8S/kubelet" --node-ip "$NODE_IP" --hostname-override "$NODE_NAME") ;;
    proxy) CMD=("$BIN/kube-proxy" --config "$K8S/proxy.yaml") ;;
  esac
}

component_ready() {
  case $1 in
    etcd) curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"' ;;
    apiserver) curl -fsS --max-time 2 --cacert "$PKI/ca.crt" "$API_URL/readyz" | grep -q '^ok' ;;
    controller-manager) curl -fsSk --max-time 2 https://127.0.0.1:10257/healthz | grep -q '^ok' ;;
    scheduler) curl -fsSk --max-time 2 https://127.0.0.1:10259/healthz | grep -q '^ok' ;;
    containerd) ctr version ;;
    kubelet) curl -fsS --max-time 2 http://127.0.0.1:10248/healthz | grep -q '^ok' ;;
    proxy) curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:10256/livez ;;
  esac
}

start_component() {
  local name=$1 pid t0=$SECONDS
  if pid=$(component_pid "$name"); then
    say "$name already up (pid $pid)"
    return 0
  fi
  component_command "$name"
  printf '==== %s starting %s\n' "$(date -Is)" "$name" >>"$(logfile "$name")"
  # fd 8 is this script's lock: a server that kept it would block every later call.
  (cd "$K8S" && exec 8>&- && exec setsid "${CMD[@]}") >>"$(logfile "$name")" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$(pidfile "$name")"
  until component_ready "$name" >/dev/null 2>&1; do
    if ! is_alive "$pid"; then
      tail -n 25 "$(logfile "$name")" >&2
      die "$name exited during startup (log: $(logfile "$name"))"
    fi
    if ((SECONDS - t0 > 120)); then
      tail -n 25 "$(logfile "$name")" >&2
      die "$name not ready after 120 s (log: $(logfile "$name"))"
    fi
    sleep 0.3
  done
  say "$name up (pid $pid) in $((SECONDS - t0)) s"
}

stop_component() { # name seconds
  local pid deadline
  pid=$(component_pid "$1") || { rm -f "$(pidfile "$1")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + $2))
  while is_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if is_alive "$pid"; then
    say "$1 did not stop within $2 s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while is_alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$(pidfile "$1")"
}

# ---- images ----------------------------------------------------------------------------------
build_image() { # name binary user
  podman image exists "$1" && return 0
  local ctx
  ctx=$(mktemp -d)
  cp "$BIN/$2" "$ctx/$2"
  printf 'FROM scratch\nCOPY %s /%s\nUSER %s\nENTRYPOINT ["/%s"]\n' "$2" "$2" "$3" "$2" >"$ctx/Containerfile"
  podman build --quiet --network none -t "$1" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# Images already in containerd are recorded with podman's id, so an unchanged one is not copied again.
cmd_import() {
  (($#)) || die "import: name at least one podman image"
  mkdir -p "$K8S/images"
  local image archive todo=()
  local -A podman_id mark
  for image in "$@"; do
    podman_id[$image]=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null) || die "import: podman has no image $image"
    mark[$image]=$K8S/images/$(printf '%s' "$image" | tr '/:' '__')
    if [[ -f ${mark[$image]} && $(<"${mark[$image]}") == "${podman_id[$image]}" ]] &&
      ctr images check "name==$image" 2>/dev/null | grep -q complete; then
      continue
    fi
    todo+=("$image")
  done
  ((${#todo[@]})) || return 0
  archive=$(mktemp -p "$K8S/images" import.XXXXXX.tar)
  # One archive for all of them: the job images share every layer but their last.
  podman save --quiet -m -o "$archive" "${todo[@]}"
  ctr images import "$archive" >/dev/null
  rm -f "$archive"
  for image in "${todo[@]}"; do
    ctr images check "name==$image" | grep -q complete || die "import: containerd did not take $image"
    printf '%s\n' "${podman_id[$image]}" >"${mark[$image]}"
  done
  say "imported ${todo[*]}"
}

# ---- DNS -------------------------------------------------------------------------------------
apply_coredns() {
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        forward . /etc/resolv.conf
        cache 30
        loop
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 1053, protocol: UDP}
        - {name: dns-tcp, containerPort: 1053, protocol: TCP}
        resources: {requests: {cpu: 50m, memory: 40Mi}, limits: {memory: 128Mi}}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_SERVICE_IP
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
EOF
}

# ---- commands --------------------------------------------------------------------------------
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/.k8s-lock"
  flock -w 600 8 || die "another stack/k8s.sh is still running (lock $STATE_DIR/.k8s-lock)"
}

cmd_up() {
  local t0=$SECONDS name
  ensure_packages
  cmd_build
  take_lock
  prepare_pki
  prepare_config
  prepare_network
  for name in "${COMPONENTS[@]}"; do
    start_component "$name"
    if [[ $name == containerd ]]; then
      build_image "$PAUSE_IMAGE" pause 65535
      build_image "$COREDNS_IMAGE" coredns 65532
      cmd_import "$PAUSE_IMAGE" "$COREDNS_IMAGE"
    fi
  done
  wait_for node 120 kubectl get node "$NODE_NAME" ||
    die "the node did not register within 120 s (log: $(logfile kubelet))"
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >/dev/null ||
    die "the node is not Ready after 120 s: $(kubectl describe node "$NODE_NAME" | grep -A8 Conditions)"
  apply_coredns
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null ||
    die "CoreDNS is not ready after 120 s: $(kubectl -n kube-system get pods -o wide 2>&1)"
  say "cluster up in $((SECONDS - t0)) s: node $NODE_NAME Ready at $NODE_IP, API $API_URL (KUBECONFIG=$KUBECONFIG_ADMIN)"
}

# Every pod goes first, while the kubelet still runs, so that it stops their containers and the
# CNI plugin takes their network down; with the controllers stopped nothing makes them again.
# A later up starts the Deployments' pods anew.
drain_pods() {
  component_ready apiserver >/dev/null 2>&1 && component_pid kubelet >/dev/null || return 0
  stop_component controller-manager 20
  stop_component scheduler 20
  kubectl delete pods --all --all-namespaces --wait --timeout=120s >/dev/null 2>&1 ||
    say "some pods were still terminating after 120 s; they are removed by force"
}

sweep_leftovers() {
  local shim task line chain
  # Containers the kubelet did not stop (it was gone, or the drain timed out).
  if ctr version >/dev/null 2>&1; then
    while read -r task _; do
      ctr tasks kill -s KILL "$task" >/dev/null 2>&1 || true
    done < <(ctr tasks ls -q 2>/dev/null)
    sleep 1
    while read -r task _; do ctr tasks delete -f "$task" >/dev/null 2>&1 || true; done < <(ctr tasks ls -q 2>/dev/null)
    while read -r task _; do ctr containers delete "$task" >/dev/null 2>&1 || true; done < <(ctr containers ls -q 2>/dev/null)
  fi
  stop_component containerd 20
  for shim in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" || true); do kill -KILL "$shim" 2>/dev/null || true; done
  # Mounts: the kubelet's volumes, containerd's root filesystems and sandboxes, network namespaces.
  while read -r line; do umount -l "$line" 2>/dev/null || true; done < <(
    awk -v k="$K8S/" 'index($5, k) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  for line in /run/netns/cni-*; do
    [[ -e $line ]] || continue
    umount -l "$line" 2>/dev/null || true
    rm -f "$line"
  done
  # kube-proxy's own rules, then the CNI plugin's and the kubelet's chains.
  [[ -x $BIN/kube-proxy ]] && "$BIN/kube-proxy" --cleanup --v=0 >/dev/null 2>&1 || true
  local table chains
  for table in nat filter mangle; do
    chains=$(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(CNI-|KUBE-)/ {print $2}')
    [[ -n $chains ]] || continue
    # The jumps into them from the built-in chains first (eval: rules carry quoted comments).
    iptables -t "$table" -S | awk '$1 == "-A" && $2 !~ /^(CNI-|KUBE-)/ && / -j (CNI-|KUBE-)/' | sed 's/^-A/-D/' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
    for chain in $chains; do iptables -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $chains; do iptables -t "$table" -X "$chain" 2>/dev/null || true; done
  done
  ip link del "$POD_BRIDGE" 2>/dev/null || true
  ip link del "$NODE_LINK" 2>/dev/null || true
  rm -rf "$K8S/cni/networks"
  # The pods' cgroups, deepest first, in every hierarchy.
  find /sys/fs/cgroup -depth -type d -path '*/kubepods*' -exec rmdir {} + 2>/dev/null || true
  if [[ -f $K8S/ip_forward.before ]]; then
    cat "$K8S/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
    rm -f "$K8S/ip_forward.before"
  fi
}

cmd_down() {
  take_lock
  local running=0 name
  for name in "${COMPONENTS[@]}"; do component_pid "$name" >/dev/null && running=1; done
  if ((running == 0)) && ! ip link show "$NODE_LINK" >/dev/null 2>&1; then
    say "cluster not running"
    return 0
  fi
  drain_pods
  stop_component proxy 10
  stop_component kubelet 20
  stop_component scheduler 10
  stop_component controller-manager 10
  sweep_leftovers
  stop_component apiserver 20
  stop_component etcd 20
  say "cluster down"
}

cmd_status() {
  local name pid rc=0
  for name in "${COMPONENTS[@]}"; do
    if pid=$(component_pid "$name"); then
      if component_ready "$name" >/dev/null 2>&1; then say "$name up (pid $pid)"; else say "$name starting or unhealthy (pid $pid)"; rc=1; fi
    else
      say "$name down"
      rc=1
    fi
  done
  return $rc
}

# What a stopped cluster must not leave on the machine; non-zero, naming each, when something is.
cmd_leftovers() {
  local found=() name
  for name in "${COMPONENTS[@]}"; do component_pid "$name" >/dev/null && found+=("process $name"); done
  pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" >/dev/null && found+=("containerd shims")
  ip link show "$NODE_LINK" >/dev/null 2>&1 && found+=("link $NODE_LINK")
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 && found+=("link $POD_BRIDGE")
  ip -br link | grep -q '^veth' && found+=("veth links")
  awk -v k="$K8S/" 'index($5, k) == 1' /proc/self/mountinfo | grep -q . && found+=("mounts under $K8S")
  compgen -G '/run/netns/cni-*' >/dev/null && found+=("network namespaces in /run/netns")
  iptables-save 2>/dev/null | grep -qE '(CNI-|KUBE-)' && found+=("iptables chains CNI-*/KUBE-*")
  find /sys/fs/cgroup -type d -path '*/kubepods*' 2>/dev/null | grep -q . && found+=("kubepods cgroups")
  ((${#found[@]} == 0)) || { printf 'k8s: left behind: %s\n' "${found[@]}" >&2; return 1; }
  say "nothing of the cluster is left on the machine"
}

cmd_clean() {
  cmd_down
  rm -rf "$K8S"
  say "state removed ($K8S)"
}

cmd_env() {
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_ADMIN
export PINPIPE_KUBECTL=$BIN/kubectl
export PINPIPE_K8S_NODE_IP=$NODE_IP
EOF
}

case ${1:-} in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  env) cmd_env ;;
  import) shift && cmd_import "$@" ;;
  leftovers) cmd_leftovers ;;
  kubectl) shift && kubectl "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
