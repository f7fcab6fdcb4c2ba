#!/usr/bin/env bash
# Local real services for pinpipe tests and demos: Kafka (KRaft), S3 (MinIO),
# Cassandra (with the Prometheus JMX exporter agent), PostgreSQL, monitoring
# (Prometheus with pinpipe's alerting rules, Pushgateway, Alertmanager and the
# alert-log receiver it notifies), and Trino over Cassandra, the lake and
# PostgreSQL, each a plain process on 127.0.0.1.
#
#   stack/stack.sh install [svc...]   fetch/build into the cache (idempotent)
#   stack/stack.sh up      [svc...]   install if needed, start, wait until ready
#   stack/stack.sh status  [svc...]   one line per service; non-zero unless all up
#   stack/stack.sh down    [svc...]   graceful stop (TERM, then KILL after a bound)
#   stack/stack.sh clean   [svc...]   down, then delete data, logs and pidfiles
#   stack/stack.sh env                export lines for the connection settings
#   stack/stack.sh sql [args...]      the Trino CLI on the local Trino (args go to the CLI,
#                                     e.g. --execute 'SHOW CATALOGS')
#   stack/stack.sh kafka-run CLASS [args...]  run a class from the Kafka jars
#                                     (e.g. org.apache.kafka.tools.ProducerPerformance)
#
# Services: postgres s3 kafka cassandra pushgateway alert-log alertmanager prometheus
#           trino (default: all).
# Cache:  ${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}       (downloads, builds)
# State:  ${PINPIPE_STACK_DIR:-$PINPIPE_CACHE_DIR/stack}   (data, logs, pidfiles)
set -euo pipefail

# ---- versions: the one place to bump them ----------------------------------
KAFKA_VERSION=4.1.2
KAFKA_LOG4J_VERSION=2.24.3
CASSANDRA_VERSION=5.0.9
# What `go install github.com/minio/minio@latest` resolved to; pinned so that
# every machine builds the same server.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
PG_MAJOR=15
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# The javaagent that serves Cassandra's JMX metrics in Prometheus format.
JMX_EXPORTER_VERSION=1.0.1
# Prometheus, Pushgateway and Alertmanager come from Debian (bookworm: 2.42, 1.5 and 0.25).
# Trino: the server tarball and the CLI's executable jar from Maven Central.
TRINO_VERSION=476
# The plugins kept from the tarball (it carries every one, about 820 MB): the three
# connectors, and geospatial, whose types the PostgreSQL connector needs to start.
TRINO_PLUGINS=(cassandra hive postgresql geospatial)

# ---- settings ---------------------------------------------------------------
ALL_SERVICES=(postgres s3 kafka cassandra pushgateway alert-log alertmanager prometheus trino) # start order

STACK_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=stack/common.sh
source "$STACK_SRC/common.sh"
CACHE_DIR=${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}
STATE_DIR=${PINPIPE_STACK_DIR:-$CACHE_DIR/stack}
LOG_DIR=$STATE_DIR/logs
RUN_DIR=$STATE_DIR/run

KAFKA_PORT=${PINPIPE_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${PINPIPE_KAFKA_CONTROLLER_PORT:-9093}
S3_PORT=${PINPIPE_S3_PORT:-9000}
S3_CONSOLE_PORT=${PINPIPE_S3_CONSOLE_PORT:-9001}
CASSANDRA_PORT=${PINPIPE_CASSANDRA_PORT:-9042}
CASSANDRA_STORAGE_PORT=${PINPIPE_CASSANDRA_STORAGE_PORT:-7000}
CASSANDRA_JMX_PORT=${PINPIPE_CASSANDRA_JMX_PORT:-7199}
CASSANDRA_EXPORTER_PORT=${PINPIPE_CASSANDRA_EXPORTER_PORT:-9104}
PG_PORT=${PINPIPE_PG_PORT:-5432}
PROMETHEUS_PORT=${PINPIPE_PROMETHEUS_PORT:-9090}
PUSHGATEWAY_PORT=${PINPIPE_PUSHGATEWAY_PORT:-9091}
ALERTMANAGER_PORT=${PINPIPE_ALERTMANAGER_PORT:-9095}
ALERTMANAGER_CLUSTER_PORT=${PINPIPE_ALERTMANAGER_CLUSTER_PORT:-9096}
ALERT_LOG_PORT=${PINPIPE_ALERT_LOG_PORT:-9097}
TRINO_PORT=${PINPIPE_TRINO_PORT:-8090}
# Where Prometheus finds the jobs' /metrics (host:port); a job that is not running
# is simply a target that is down.
SCRAPE_INGEST=${PINPIPE_SCRAPE_INGEST:-127.0.0.1:8088}
SCRAPE_S3_SINK=${PINPIPE_SCRAPE_S3_SINK:-127.0.0.1:9101}
SCRAPE_STREAM_AGG=${PINPIPE_SCRAPE_STREAM_AGG:-127.0.0.1:9102}

S3_ACCESS_KEY=pinpipe
S3_SECRET_KEY=pinpipe-secret
S3_REGION="us-east-1"
S3_BUCKET=pinpipe
PG_USER=pinpipe
PG_PASSWORD=pinpipe
PG_DB=pinpipe

JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
JAVA=$JAVA_HOME/bin/java
GO=${PINPIPE_GO:-$(command -v go || echo /usr/local/go/bin/go)}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

KAFKA_LIBS=$CACHE_DIR/kafka/$KAFKA_VERSION/libs
CASSANDRA_LIBS=$CACHE_DIR/cassandra/$CASSANDRA_VERSION/libs
MINIO_BIN=$CACHE_DIR/bin/minio-$MINIO_VERSION
JMX_EXPORTER_JAR=$CACHE_DIR/jmx-exporter/jmx_prometheus_javaagent-$JMX_EXPORTER_VERSION.jar
TRINO_HOME=$CACHE_DIR/trino/$TRINO_VERSION/server
TRINO_CLI_JAR=$CACHE_DIR/trino/$TRINO_VERSION/trino-cli-$TRINO_VERSION-executable.jar
# Trino 476 needs Java 24 or newer; the default Java (17) runs Kafka and Cassandra.
TRINO_JAVA_HOME=${PINPIPE_TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
# Where the lake catalog keeps its table definitions (a file metastore in the bucket).
TRINO_METASTORE_PREFIX=trino-metastore

# Seconds to wait for readiness after launch, and for exit after the stop signal. Generous: all
# services start at once on two cores, and a Kafka holding many topics loads their logs first.
declare -A READY_TIMEOUT=(
  [kafka]=${PINPIPE_KAFKA_READY_TIMEOUT:-180}
  [s3]=${PINPIPE_S3_READY_TIMEOUT:-60}
  [cassandra]=${PINPIPE_CASSANDRA_READY_TIMEOUT:-180}
  [postgres]=${PINPIPE_PG_READY_TIMEOUT:-60}
  [pushgateway]=${PINPIPE_PUSHGATEWAY_READY_TIMEOUT:-30}
  [alert-log]=${PINPIPE_ALERT_LOG_READY_TIMEOUT:-30}
  [alertmanager]=${PINPIPE_ALERTMANAGER_READY_TIMEOUT:-30}
  [prometheus]=${PINPIPE_PROMETHEUS_READY_TIMEOUT:-60}
  [trino]=${PINPIPE_TRINO_READY_TIMEOUT:-180}
)
declare -A STOP_TIMEOUT=([kafka]=30 [s3]=15 [cassandra]=30 [postgres]=20 [pushgateway]=10 [alert-log]=10 [alertmanager]=10 [prometheus]=20 [trino]=30)
# PostgreSQL's SIGTERM is a "smart" shutdown that waits for every client to
# disconnect; SIGINT is the fast one.
declare -A STOP_SIGNAL=([kafka]=TERM [s3]=TERM [cassandra]=TERM [postgres]=INT [pushgateway]=TERM [alert-log]=TERM [alertmanager]=TERM [prometheus]=TERM [trino]=TERM)

# ---- small helpers ----------------------------------------------------------
say() { printf 'stack: %s\n' "$*"; }
err() { printf 'stack: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

now() { printf '%s' "${EPOCHREALTIME//[!0-9]/}"; } # microseconds, any locale
elapsed() { # start_us -> "12.3s"
  local us=$(($(now) - $1))
  printf '%d.%ds' $((us / 1000000)) $((us % 1000000 / 100000))
}

svc_dir() { printf '%s/%s' "$STATE_DIR" "$1"; }
pidfile() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }
logfile() { printf '%s/%s.log' "$LOG_DIR" "$1"; }

show_log_tail() {
  local log=$1
  [[ -s $log ]] || return 0
  printf -- '--- last 20 lines of %s ---\n' "$log" >&2
  tail -n 20 "$log" | cut -c1-300 >&2 # Cassandra logs its whole config on one line
  printf -- '---\n' >&2
}

# The one-line failure report the Makefile user sees, then the log tail
# unless the failure happened before the service could write anything.
fail_report() { # svc reason [notail]
  local svc=$1 reason=$2
  err "$svc FAILED: $reason (log: $(logfile "$svc"))"
  [[ ${3:-} == notail ]] || show_log_tail "$(logfile "$svc")"
}

render() { # template output KEY=VALUE...
  local tmpl=$1 out=$2 kv args=()
  shift 2
  for kv in "$@"; do
    args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
  done
  sed "${args[@]}" "$tmpl" >"$out.tmp"
  mv "$out.tmp" "$out"
}


# A pid is ours only if its command line names the service's state dir, so a
# recycled pid belonging to something else is never signalled.
is_ours() { # svc pid
  is_alive "$2" || return 1
  tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -qF -- "$(svc_dir "$1")"
}

# Prints the pid from the pidfile. Returns 0 if that process is ours and
# alive, 1 if there is no pidfile, 2 if the pidfile is stale.
svc_pid() {
  local f pid
  f=$(pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  printf '%s' "$pid"
  is_ours "$1" "$pid" && return 0
  return 2
}

# "pid (command)" of whatever listens on a TCP port, empty if nothing does.
port_owner() {
  local line pid
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1) || true
  [[ -n $line ]] || return 0
  if [[ $line =~ pid=([0-9]+) ]]; then
    pid=${BASH_REMATCH[1]}
    printf '%s (%s)' "$pid" "$(ps -o args= -p "$pid" 2>/dev/null | cut -c1-80)"
  else
    printf 'an unknown process'
  fi
}

svc_ports() { # svc -> lines "port ENV_VAR"
  case $1 in
    kafka) printf '%s %s\n' "$KAFKA_PORT" PINPIPE_KAFKA_PORT \
      "$KAFKA_CONTROLLER_PORT" PINPIPE_KAFKA_CONTROLLER_PORT ;;
    s3) printf '%s %s\n' "$S3_PORT" PINPIPE_S3_PORT \
      "$S3_CONSOLE_PORT" PINPIPE_S3_CONSOLE_PORT ;;
    cassandra) printf '%s %s\n' "$CASSANDRA_PORT" PINPIPE_CASSANDRA_PORT \
      "$CASSANDRA_STORAGE_PORT" PINPIPE_CASSANDRA_STORAGE_PORT \
      "$CASSANDRA_JMX_PORT" PINPIPE_CASSANDRA_JMX_PORT \
      "$CASSANDRA_EXPORTER_PORT" PINPIPE_CASSANDRA_EXPORTER_PORT ;;
    postgres) printf '%s %s\n' "$PG_PORT" PINPIPE_PG_PORT ;;
    pushgateway) printf '%s %s\n' "$PUSHGATEWAY_PORT" PINPIPE_PUSHGATEWAY_PORT ;;
    alert-log) printf '%s %s\n' "$ALERT_LOG_PORT" PINPIPE_ALERT_LOG_PORT ;;
    alertmanager) printf '%s %s\n' "$ALERTMANAGER_PORT" PINPIPE_ALERTMANAGER_PORT \
      "$ALERTMANAGER_CLUSTER_PORT" PINPIPE_ALERTMANAGER_CLUSTER_PORT ;;
    prometheus) printf '%s %s\n' "$PROMETHEUS_PORT" PINPIPE_PROMETHEUS_PORT ;;
    trino) printf '%s %s\n' "$TRINO_PORT" PINPIPE_TRINO_PORT ;;
  esac
}

main_port() { svc_ports "$1" | awk 'NR == 1 {print $1}'; }

# Refuses to start on a port someone else holds: silently talking to a
# stranger's server would make tests pass or fail for the wrong reasons.
check_ports_free() { # svc
  local port var owner
  while read -r port var; do
    owner=$(port_owner "$port")
    if [[ -n $owner ]]; then
      fail_report "$1" "port $port is in use by pid $owner; stop it or set $var" notail
      return 1
    fi
  done < <(svc_ports "$1")
}

# ---- installation -----------------------------------------------------------
APT_UPDATED=0
apt_install() { # packages...
  ((${#@})) || return 0
  command -v apt-get >/dev/null || die "missing $*, and no apt-get to install them"
  say "installing Debian packages: $*"
  if ((!APT_UPDATED)); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_os_packages() { # svc...
  local want=() svc
  command -v python3 >/dev/null || want+=(python3)
  command -v ss >/dev/null || want+=(iproute2)
  command -v ps >/dev/null || want+=(procps)
  command -v curl >/dev/null || want+=(curl)
  for svc in "$@"; do
    case $svc in
      kafka | cassandra | trino)
        [[ -x $JAVA ]] || want+=(openjdk-17-jre-headless)
        command -v mvn >/dev/null || want+=(maven)
        ;;
      postgres)
        [[ -x $PG_BIN/postgres ]] || want+=("postgresql-$PG_MAJOR")
        [[ -x $PG_BIN/psql ]] || want+=("postgresql-client-$PG_MAJOR")
        command -v setfacl >/dev/null || want+=(acl)
        ;;
      prometheus) command -v prometheus >/dev/null || want+=(prometheus) ;;
      pushgateway) command -v prometheus-pushgateway >/dev/null || want+=(prometheus-pushgateway) ;;
      alertmanager) command -v prometheus-alertmanager >/dev/null || want+=(prometheus-alertmanager) ;;
    esac
  done
  # shellcheck disable=SC2207 # package names have no spaces
  want=($(printf '%s\n' "${want[@]}" | sort -u))
  apt_install "${want[@]}"
}

run_logged() { # what logfile cmd...: runs cmd, on failure shows the log tail
  local what=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  if ! "$@" >"$log" 2>&1; then
    err "$what failed (log: $log)"
    show_log_tail "$log"
    return 1
  fi
}

maven_libs() { # name pom libs_dir -Dprop=value...
  local name=$1 pom=$2 libs=$3 t0
  shift 3
  t0=$(now)
  say "resolving $name jars from Maven Central (first time only)"
  rm -rf "$libs.tmp"
  run_logged "resolving $name jars" "$CACHE_DIR/logs/$name-maven.log" \
    mvn -B -f "$pom" -Dmaven.repo.local="$CACHE_DIR/m2" "$@" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$libs.tmp" || return 1
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  say "$name jars ready in $(elapsed "$t0")"
}

kafka_installed() { [[ -d $KAFKA_LIBS ]]; }
kafka_install() {
  maven_libs kafka "$STACK_SRC/kafka/pom.xml" "$KAFKA_LIBS" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION"
}

cassandra_installed() { [[ -d $CASSANDRA_LIBS && -f $JMX_EXPORTER_JAR ]]; }
cassandra_install() {
  if [[ ! -d $CASSANDRA_LIBS ]]; then
    maven_libs cassandra "$STACK_SRC/cassandra/pom.xml" "$CASSANDRA_LIBS" \
      -Dcassandra.version="$CASSANDRA_VERSION" || return 1
  fi
  [[ -f $JMX_EXPORTER_JAR ]] || jmx_exporter_install
}

# The agent is one self-contained jar; it stays off Cassandra's classpath.
jmx_exporter_install() {
  local dir t0
  dir=$(dirname "$JMX_EXPORTER_JAR")
  t0=$(now)
  say "fetching the Prometheus JMX exporter agent $JMX_EXPORTER_VERSION from Maven Central (first time only)"
  run_logged "fetching the JMX exporter agent" "$CACHE_DIR/logs/jmx-exporter-maven.log" \
    mvn -B -Dmaven.repo.local="$CACHE_DIR/m2" "$MAVEN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:$JMX_EXPORTER_VERSION" \
    -DoutputDirectory="$dir.tmp" || return 1
  mkdir -p "$dir"
  mv "$dir.tmp/$(basename "$JMX_EXPORTER_JAR")" "$JMX_EXPORTER_JAR"
  rm -rf "$dir.tmp"
  say "JMX exporter agent ready in $(elapsed "$t0")"
}

# Only the connectors pinpipe uses are unpacked, and the tarball is not kept: the cache holds
# about 300 MB of Trino instead of 1.6 GB.
trino_installed() { [[ -f $TRINO_HOME/.installed && -f $TRINO_CLI_JAR ]]; }
trino_install() {
  local dir tmp t0 plugin
  [[ -x $TRINO_JAVA_HOME/bin/java ]] ||
    die "trino: Trino $TRINO_VERSION needs Java 24 or newer and there is none at $TRINO_JAVA_HOME; install one there or set PINPIPE_TRINO_JAVA_HOME"
  dir=$(dirname "$TRINO_HOME")
  tmp=$dir.tmp
  t0=$(now)
  rm -rf "$tmp"
  mkdir -p "$tmp/server"
  say "fetching Trino $TRINO_VERSION from Maven Central (first time only, about 820 MB)"
  run_logged "fetching the Trino server" "$CACHE_DIR/logs/trino-maven.log" \
    mvn -B -Dmaven.repo.local="$CACHE_DIR/m2" "$MAVEN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="io.trino:trino-server:$TRINO_VERSION:tar.gz" -DoutputDirectory="$tmp" || return 1
  run_logged "fetching the Trino CLI" "$CACHE_DIR/logs/trino-cli-maven.log" \
    mvn -B -Dmaven.repo.local="$CACHE_DIR/m2" "$MAVEN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="io.trino:trino-cli:$TRINO_VERSION:jar:executable" -DoutputDirectory="$tmp" || return 1
  # Plugins share jars as hard links to other plugins' copies, so the whole tree is unpacked and
  # the parts kept are moved out of it (a hard link keeps its data when the others go).
  mkdir -p "$tmp/full" "$tmp/server/plugin"
  tar -xzf "$tmp/trino-server-$TRINO_VERSION.tar.gz" -C "$tmp/full" --strip-components=1 ||
    die "trino: could not unpack $tmp/trino-server-$TRINO_VERSION.tar.gz"
  mv "$tmp/full/lib" "$tmp/full/NOTICE" "$tmp/server/"
  for plugin in "${TRINO_PLUGINS[@]}"; do mv "$tmp/full/plugin/$plugin" "$tmp/server/plugin/"; done
  rm -rf "$tmp/full" "$tmp/trino-server-$TRINO_VERSION.tar.gz"
  rm -rf "$CACHE_DIR/m2/io/trino/trino-server"
  touch "$tmp/server/.installed"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  say "Trino $TRINO_VERSION ready in $(elapsed "$t0") (plugins: ${TRINO_PLUGINS[*]})"
}

s3_installed() { [[ -x $MINIO_BIN ]]; }
s3_install() {
  local t0 gopath=$CACHE_DIR/go
  [[ -x $GO ]] || die "s3: Go toolchain not found (looked for $GO); set PINPIPE_GO"
  t0=$(now)
  say "building MinIO $MINIO_VERSION from source (first time only; several minutes on 2 cores)"
  # CGO off: that is how MinIO ships its binaries, and it needs no C toolchain.
  run_logged "building MinIO" "$CACHE_DIR/logs/minio-build.log" \
    env GOPATH="$gopath" GOCACHE="$CACHE_DIR/go-build" GOFLAGS=-modcacherw \
    GOBIN="$gopath/bin" CGO_ENABLED=0 GOTOOLCHAIN=local \
    "$GO" install "github.com/minio/minio@$MINIO_VERSION" || return 1
  mkdir -p "$(dirname "$MINIO_BIN")"
  mv "$gopath/bin/minio" "$MINIO_BIN"
  say "MinIO built in $(elapsed "$t0")"
}

postgres_installed() { [[ -x $PG_BIN/postgres && -x $PG_BIN/psql ]]; }
postgres_install() { ensure_os_packages postgres; }

prometheus_installed() { command -v prometheus >/dev/null; }
prometheus_install() { ensure_os_packages prometheus; }

pushgateway_installed() { command -v prometheus-pushgateway >/dev/null; }
pushgateway_install() { ensure_os_packages pushgateway; }

alertmanager_installed() { command -v prometheus-alertmanager >/dev/null; }
alertmanager_install() { ensure_os_packages alertmanager; }

alert-log_installed() { command -v python3 >/dev/null; }
alert-log_install() { ensure_os_packages alert-log; }

install_services() { # svc...
  local svc missing=() rc=0
  ensure_os_packages "$@"
  mkdir -p "$CACHE_DIR/logs"
  for svc in "$@"; do
    "${svc}_installed" || missing+=("$svc")
  done
  ((${#missing[@]})) || return 0
  # The state-dir lock does not cover the shared download cache: two stacks with different
  # state dirs (two checkouts, or a test stack beside the dev stack) must not build MinIO or
  # fetch the same jars into it at once. Whoever waits re-checks, and finds the work done.
  exec 8>"$CACHE_DIR/.install.lock"
  if ! flock -w 1800 8; then
    exec 8>&-
    die "another stack.sh has been installing into $CACHE_DIR for 30 minutes (lock $CACHE_DIR/.install.lock)"
  fi
  for svc in "${missing[@]}"; do
    "${svc}_installed" || "${svc}_install" || { rc=1; break; }
  done
  exec 8>&-
  return "$rc"
}

# ---- per-service start preparation and commands -----------------------------
# <svc>_prepare writes configs and initialises data on first use;
# <svc>_command fills CMD with the foreground server command line;
# <svc>_ready is the protocol-level readiness check;
# <svc>_after_ready (optional) creates the bucket, role, database.
CMD=()

kafka_prepare() {
  local dir log cluster_id
  dir=$(svc_dir kafka)
  mkdir -p "$dir/data" || return 1
  # Changing a port of an already-formatted node needs `clean kafka`: the
  # controller endpoint is recorded in the metadata log at format time.
  render "$STACK_SRC/kafka/server.properties.in" "$dir/server.properties" \
    PORT="$KAFKA_PORT" CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" DATA_DIR="$dir/data" || return 1
  [[ -f $dir/data/meta.properties ]] && return 0
  log=$(logfile kafka)
  # A cluster id as Kafka makes one: 16 random bytes in URL-safe base64, never starting with "-"
  # (one in 64 would, and the storage tool would read it as an option, not as the id).
  cluster_id=$(python3 -c '
import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
    pass
print(cid)')
  if ! "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$STACK_SRC/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$LOG_DIR" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool \
    format --standalone -t "$cluster_id" -c "$dir/server.properties" >>"$log" 2>&1; then
    fail_report kafka "formatting the KRaft storage failed"
    return 1
  fi
}

kafka_command() {
  local dir
  dir=$(svc_dir kafka)
  CMD=("$JAVA" -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$STACK_SRC/kafka/log4j2.properties"
    -Dkafka.logs.dir="$LOG_DIR"
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties")
}

kafka_ready() { python3 "$STACK_SRC/probe.py" kafka 127.0.0.1 "$KAFKA_PORT" >/dev/null; }

kafka_after_ready() {
  local out
  if ! out=$(python3 "$STACK_SRC/probe.py" kafka-coordinators 127.0.0.1 "$KAFKA_PORT"); then
    fail_report kafka "$out"
    return 1
  fi
}

s3_prepare() { mkdir -p "$(svc_dir s3)/data"; }

s3_command() {
  CMD=(env MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY"
    MINIO_SITE_REGION="$S3_REGION" MINIO_UPDATE=off MINIO_BROWSER=on
    "$MINIO_BIN" server --anonymous
    --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT"
    "$(svc_dir s3)/data")
}

s3_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/minio/health/ready" 2>/dev/null; }

s3_after_ready() {
  local body code
  body=$(mktemp)
  code=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 -X PUT \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>&1) || true
  if [[ $code == 200 ]] || grep -q BucketAlreadyOwnedByYou "$body"; then
    rm -f "$body"
    return 0
  fi
  fail_report s3 "creating bucket $S3_BUCKET failed: HTTP $code $(head -c 300 "$body" | tr '\n' ' ')"
  rm -f "$body"
  return 1
}

cassandra_prepare() {
  local dir
  dir=$(svc_dir cassandra)
  mkdir -p "$dir/triggers" || return 1
  render "$STACK_SRC/cassandra/cassandra.yaml.in" "$dir/cassandra.yaml" \
    STATE_DIR="$dir" PORT="$CASSANDRA_PORT" STORAGE_PORT="$CASSANDRA_STORAGE_PORT" || return 1
}

cassandra_command() {
  local dir jamm
  dir=$(svc_dir cassandra)
  jamm=$(compgen -G "$CASSANDRA_LIBS/jamm-*.jar" | head -n 1) || true
  [[ -n $jamm ]] || die "cassandra: no jamm jar in $CASSANDRA_LIBS; delete it and rerun install"
  # cassandra-foreground keeps stderr open, so a JVM crash still reaches the log.
  CMD=("$JAVA" "@$STACK_SRC/cassandra/jvm17.options"
    -Xms1G -Xmx1G -Xss256k
    -javaagent:"$jamm"
    -javaagent:"$JMX_EXPORTER_JAR=127.0.0.1:$CASSANDRA_EXPORTER_PORT:$STACK_SRC/cassandra/jmx-exporter.yaml"
    -Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"
    -Dcassandra-foreground=yes
    -Dcassandra.config="file://$dir/cassandra.yaml"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.triggers_dir="$dir/triggers"
    -Dcassandra.logdir="$LOG_DIR"
    -Dlogback.configurationFile="file://$STACK_SRC/cassandra/logback.xml"
    -cp "$CASSANDRA_LIBS/*" org.apache.cassandra.service.CassandraDaemon)
}

cassandra_ready() { python3 "$STACK_SRC/probe.py" cql 127.0.0.1 "$CASSANDRA_PORT" >/dev/null; }

# The exporter answers as soon as the JVM runs; a Cassandra started before the
# agent was added has none, and only a restart gives it one.
cassandra_after_ready() {
  local pid
  curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$CASSANDRA_EXPORTER_PORT/-/healthy" 2>/dev/null && return 0
  pid=$(svc_pid cassandra) || true
  if [[ -n $pid ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF jmx_prometheus_javaagent; then
    err "cassandra runs without the JMX exporter (started before it was added); for its metrics restart it: $0 down cassandra && $0 up"
    return 0
  fi
  fail_report cassandra "its JMX exporter does not answer on 127.0.0.1:$CASSANDRA_EXPORTER_PORT"
  return 1
}

# PostgreSQL runs as the `postgres` OS user (it refuses root), so that user
# must be able to reach the data dir even when the state dir sits under a
# private home such as /root: grant it search (x) permission on each blocking
# ancestor with an ACL, which exposes no directory listing.
pg_grant_traverse() {
  local d=$1 ancestors=() i
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    ancestors+=("$d")
  done
  # Top down: a blocked parent makes every child look blocked too.
  for ((i = ${#ancestors[@]} - 1; i >= 0; i--)); do
    d=${ancestors[i]}
    if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
      say "granting the postgres user search permission on $d (ACL u:postgres:x)"
      setfacl -m u:postgres:x "$d" || return 1
    fi
  done
}

# After a kill -9 of the postmaster its lock files stay behind, naming a pid that may linger as
# an unreaped zombie or as orphaned children (checkpointer, backends) holding shared memory, and
# a new postmaster refuses to start. The children run with the data folder as their working
# directory, which is how they are found.
pg_clear_orphans() { # service dir
  local data=$1/data pid pidfile_pid
  [[ -f $data/postmaster.pid ]] || return 0
  pidfile_pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ -n $pidfile_pid ]] && is_alive "$pidfile_pid" && return 0
  for pid in $(pgrep -u postgres 2>/dev/null || true); do
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$data" ]] && kill -9 "$pid" 2>/dev/null
  done
  sleep 0.5
  rm -f "$data/postmaster.pid" "$1"/run/.s.PGSQL.*
}

postgres_prepare() {
  local dir
  dir=$(svc_dir postgres)
  mkdir -p "$dir/run" && chown postgres: "$dir" "$dir/run" || return 1
  pg_grant_traverse "$dir" || return 1
  pg_clear_orphans "$dir"
  [[ -f $dir/data/PG_VERSION ]] && return 0
  if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 \
    --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
    >>"$(logfile postgres)" 2>&1; then
    rm -rf "$dir/data"
    fail_report postgres "initdb failed"
    return 1
  fi
}

postgres_command() {
  local dir
  dir=$(svc_dir postgres)
  # setpriv execs in place (runuser would fork), so the pidfile holds the
  # postmaster itself. fsync and friends are off: this is a throwaway test
  # cluster, and a crashed server process (not machine) loses nothing.
  CMD=(setpriv --reuid=postgres --regid=postgres --init-groups
    "$PG_BIN/postgres" -D "$dir/data" -p "$PG_PORT"
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir/run"
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off
    -c logging_collector=off)
}

postgres_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

postgres_after_ready() {
  local dir log
  dir=$(svc_dir postgres)
  log=$(logfile postgres)
  if ! runuser -u postgres -- "$PG_BIN/psql" -h "$dir/run" -p "$PG_PORT" -U postgres \
    -d postgres -qAt -v ON_ERROR_STOP=1 >>"$log" 2>&1 <<SQL; then
SELECT 'CREATE ROLE $PG_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER')
\\gexec
ALTER ROLE $PG_USER WITH LOGIN PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\\gexec
SQL
    fail_report postgres "creating role/database $PG_USER failed"
    return 1
  fi
  if ! PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_USER" -d "$PG_DB" -qAtc 'select 1' >/dev/null 2>>"$log"; then
    fail_report postgres "password login as $PG_USER over 127.0.0.1 failed"
    return 1
  fi
}

pushgateway_prepare() { mkdir -p "$(svc_dir pushgateway)"; }

pushgateway_command() {
  # The persistence file keeps pushed batch metrics across restarts (and names
  # the state dir on the command line, which is how the pid is recognised).
  CMD=(prometheus-pushgateway --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT"
    --persistence.file="$(svc_dir pushgateway)/metrics.db" --persistence.interval=1m)
}

pushgateway_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PUSHGATEWAY_PORT/-/ready" 2>/dev/null; }

# Alertmanager notifies alert-log, which appends every alert to one NDJSON file.
ALERT_LOG_FILE=$STATE_DIR/alert-log/alerts.ndjson
alert-log_prepare() { mkdir -p "$(svc_dir alert-log)"; }
alert-log_command() { CMD=(python3 "$STACK_SRC/alert-log.py" --port "$ALERT_LOG_PORT" --file "$ALERT_LOG_FILE"); }
alert-log_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$ALERT_LOG_PORT/ready" 2>/dev/null; }

alertmanager_prepare() {
  local dir
  dir=$(svc_dir alertmanager)
  mkdir -p "$dir/data" || return 1
  render "$STACK_SRC/prometheus/alertmanager.yml.in" "$dir/alertmanager.yml" ALERT_LOG_PORT="$ALERT_LOG_PORT" || return 1
}

alertmanager_command() {
  local dir
  dir=$(svc_dir alertmanager)
  # One instance: the cluster port only listens on loopback, with no peers.
  CMD=(prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data"
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT"
    --cluster.listen-address="127.0.0.1:$ALERTMANAGER_CLUSTER_PORT")
}

alertmanager_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 2>/dev/null; }

# The rules the chart ships, loaded as they are; and a folder of extra scrape targets
# (file service discovery: <job>-*.json), where tests put the jobs they start.
ALERT_RULES_FILE=$(cd "$STACK_SRC/.." && pwd)/charts/pinpipe/alerts/pinpipe-alerts.yaml
PROMETHEUS_TARGETS_DIR=$STATE_DIR/prometheus/targets
prometheus_prepare() {
  local dir
  dir=$(svc_dir prometheus)
  mkdir -p "$dir/data" || return 1
  mkdir -p "$PROMETHEUS_TARGETS_DIR" || return 1
  render "$STACK_SRC/prometheus/prometheus.yml.in" "$dir/prometheus.yml" \
    PROMETHEUS_PORT="$PROMETHEUS_PORT" PUSHGATEWAY_PORT="$PUSHGATEWAY_PORT" \
    CASSANDRA_EXPORTER_PORT="$CASSANDRA_EXPORTER_PORT" INGEST="$SCRAPE_INGEST" \
    S3_SINK="$SCRAPE_S3_SINK" STREAM_AGG="$SCRAPE_STREAM_AGG" \
    ALERTMANAGER_PORT="$ALERTMANAGER_PORT" RULES_FILE="$ALERT_RULES_FILE" \
    TARGETS_DIR="$PROMETHEUS_TARGETS_DIR" || return 1
}

prometheus_command() {
  local dir
  dir=$(svc_dir prometheus)
  CMD=(prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data"
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    --web.enable-lifecycle)
}

prometheus_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null; }

# A Prometheus or Alertmanager already running re-reads its configuration and the rules as this
# checkout renders them, so `make up` after a change of the rules or targets applies it.
reload_config() { # svc port
  curl -fsS -o /dev/null -X POST --max-time 10 "http://127.0.0.1:$2/-/reload" 2>/dev/null ||
    { err "$1 refused its new configuration (see its log: $(logfile "$1"))"; return 1; }
}
prometheus_refresh() { prometheus_prepare && reload_config prometheus "$PROMETHEUS_PORT"; }
alertmanager_refresh() { alertmanager_prepare && reload_config alertmanager "$ALERTMANAGER_PORT"; }

# The catalogs are written from the same settings `env` exports to the jobs, so Trino reads the
# stores the jobs write.
trino_prepare() {
  local dir
  dir=$(svc_dir trino)
  mkdir -p "$dir/etc/catalog" "$dir/data" || return 1
  render "$STACK_SRC/trino/config.properties.in" "$dir/etc/config.properties" \
    PORT="$TRINO_PORT" DATA_DIR="$dir/data" PLUGIN_DIR="$TRINO_HOME/plugin" CATALOG_DIR="$dir/etc/catalog" || return 1
  render "$STACK_SRC/trino/catalog/cassandra.properties.in" "$dir/etc/catalog/cassandra.properties" \
    CASSANDRA_HOST=127.0.0.1 CASSANDRA_PORT="$CASSANDRA_PORT" CASSANDRA_DC=datacenter1 || return 1
  render "$STACK_SRC/trino/catalog/lake.properties.in" "$dir/etc/catalog/lake.properties" \
    S3_BUCKET="$S3_BUCKET" METASTORE_PREFIX="$TRINO_METASTORE_PREFIX" S3_ENDPOINT="http://127.0.0.1:$S3_PORT" \
    S3_REGION="$S3_REGION" S3_ACCESS_KEY="$S3_ACCESS_KEY" S3_SECRET_KEY="$S3_SECRET_KEY" || return 1
  render "$STACK_SRC/trino/catalog/stream.properties.in" "$dir/etc/catalog/stream.properties" \
    PG_HOST=127.0.0.1 PG_PORT="$PG_PORT" PG_DB="$PG_DB" PG_USER="$PG_USER" PG_PASSWORD="$PG_PASSWORD" || return 1
  mkdir -p "$dir/local-files/metastore" || return 1
  render "$STACK_SRC/trino/catalog/local_files.properties.in" "$dir/etc/catalog/local_files.properties" \
    LOCAL_DIR="$dir/local-files" || return 1
}

trino_command() {
  local dir
  dir=$(svc_dir trino)
  CMD=("$TRINO_JAVA_HOME/bin/java" "@$STACK_SRC/trino/jvm.config"
    -Dconfig="$dir/etc/config.properties"
    -Dlog.levels-file="$STACK_SRC/trino/log.properties"
    -cp "$TRINO_HOME/lib/*" io.trino.server.TrinoServer)
}

# Ready once the server says it has finished starting (catalogs loaded), not when it first answers.
trino_ready() {
  curl -fsS --max-time 2 "http://127.0.0.1:$TRINO_PORT/v1/info" 2>/dev/null | grep -q '"starting":false'
}

# ---- the generic start / wait / stop mechanism ------------------------------
declare -A LAUNCH_PID LAUNCH_T0

# Starts svc in the background unless it is already running. Records it in
# LAUNCH_PID for wait_ready. Returns non-zero after reporting on failure.
launch() {
  local svc=$1 pid rc=0 log
  pid=$(svc_pid "$svc") || rc=$?
  if ((rc == 0)); then
    LAUNCH_PID[$svc]=$pid
    LAUNCH_T0[$svc]=already
    return 0
  fi
  rm -f "$(pidfile "$svc")"
  check_ports_free "$svc" || return 1
  log=$(logfile "$svc")
  "${svc}_prepare" || return 1
  "${svc}_command"
  printf '==== %s starting %s\n' "$(date -Is)" "$svc" >>"$log"
  # setsid: the server must outlive this script and not receive the Ctrl-C
  # meant for make. fd 9 is our lock and must not be inherited by servers.
  (
    cd "$(svc_dir "$svc")"
    exec 9>&-
    exec setsid "${CMD[@]}"
  ) >>"$log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$(pidfile "$svc")"
  LAUNCH_PID[$svc]=$pid
  LAUNCH_T0[$svc]=$(now)
}

# Polls the readiness check until it passes, the process dies or the bound
# runs out. A server that never became ready is stopped so that the next
# `up` starts from scratch.
wait_ready() {
  local svc=$1 pid=${LAUNCH_PID[$1]} t0=${LAUNCH_T0[$1]} deadline code
  if [[ $t0 == already ]]; then
    # after_ready again: it is idempotent and cheap, and it puts back a
    # bucket or database that a test may have dropped. refresh: a server that
    # was started from an older configuration re-reads this checkout's.
    if "${svc}_ready"; then
      if declare -F "${svc}_after_ready" >/dev/null && ! "${svc}_after_ready"; then
        return 1
      fi
      if declare -F "${svc}_refresh" >/dev/null && ! "${svc}_refresh"; then
        return 1
      fi
      say "$svc already up (pid $pid, port $(main_port "$svc"))"
      return 0
    fi
    t0=$(now) # alive but not answering: give it the usual bound, then restart
  fi
  deadline=$((t0 + ${READY_TIMEOUT[$svc]} * 1000000))
  while :; do
    if ! is_alive "$pid"; then
      code=0
      wait "$pid" 2>/dev/null || code=$?
      rm -f "$(pidfile "$svc")"
      fail_report "$svc" "exited with code $code during startup"
      return 1
    fi
    if "${svc}_ready"; then
      if declare -F "${svc}_after_ready" >/dev/null && ! "${svc}_after_ready"; then
        return 1
      fi
      say "$svc up (pid $pid, port $(main_port "$svc")) in $(elapsed "$t0")"
      return 0
    fi
    if (($(now) > deadline)); then
      fail_report "$svc" "timed out after ${READY_TIMEOUT[$svc]} s waiting for readiness; stopped it"
      stop_pid "$svc" "$pid" >/dev/null
      rm -f "$(pidfile "$svc")"
      return 1
    fi
    sleep 0.5
  done
}

stop_pid() { # svc pid
  local svc=$1 pid=$2 deadline
  kill "-${STOP_SIGNAL[$svc]}" "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + ${STOP_TIMEOUT[$svc]}))
  while is_alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if is_alive "$pid"; then
    say "$svc did not stop within ${STOP_TIMEOUT[$svc]} s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while is_alive "$pid"; do sleep 0.1; done
  fi
}

# A process that has exited can leave its listening sockets to a child still shutting down (a
# JVM's agents, MinIO's workers); an `up` right after `down` would then find the port taken.
wait_ports_released() { # svc
  local port var owner deadline=$((SECONDS + 15))
  while read -r port var; do
    owner=$(port_owner "$port")
    while [[ -n $owner ]] && ((SECONDS < deadline)); do
      sleep 0.2
      owner=$(port_owner "$port")
    done
    [[ -z $owner ]] || say "$1: port $port is still held by pid $owner after stopping"
  done < <(svc_ports "$1")
}

svc_down() {
  local svc=$1 pid rc=0
  pid=$(svc_pid "$svc") || rc=$?
  case $rc in
    0)
      stop_pid "$svc" "$pid"
      wait_ports_released "$svc"
      say "$svc stopped (was pid $pid)"
      ;;
    2) say "$svc was not running (removed stale pidfile)" ;;
    *) say "$svc already down" ;;
  esac
  rm -f "$(pidfile "$svc")"
}

svc_status() { # prints one line; returns 0 only if up
  local svc=$1 pid rc=0 port owner
  port=$(main_port "$svc")
  pid=$(svc_pid "$svc") || rc=$?
  case $rc in
    0)
      if "${svc}_ready"; then
        printf '%-11s up (pid %s, port %s)\n' "$svc" "$pid" "$port"
        return 0
      fi
      printf '%-11s DIED (pid %s alive but port %s not answering; log: %s)\n' \
        "$svc" "$pid" "$port" "$(logfile "$svc")"
      ;;
    2)
      printf '%-11s DIED (pidfile says %s but that process is gone; log: %s)\n' \
        "$svc" "$pid" "$(logfile "$svc")"
      ;;
    *)
      owner=$(port_owner "$port")
      printf '%-11s down%s\n' "$svc" "${owner:+ (port $port is held by pid $owner)}"
      ;;
  esac
  return 1
}

# ---- commands ---------------------------------------------------------------
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  if ! flock -w 600 9; then
    die "another stack.sh is still running (lock $STATE_DIR/.lock)"
  fi
}

cmd_up() {
  local svc failed=0 started=()
  install_services "$@"
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  # Launch everything first and wait afterwards, so slow starters (Cassandra)
  # overlap with the quick ones.
  for svc in "$@"; do
    if launch "$svc"; then started+=("$svc"); else failed=1; fi
  done
  for svc in "${started[@]}"; do
    wait_ready "$svc" || failed=1
  done
  return "$failed"
}

cmd_down() {
  local i
  for ((i = $# ; i >= 1; i--)); do
    svc_down "${!i}"
  done
}

cmd_status() {
  local svc failed=0
  for svc in "$@"; do
    svc_status "$svc" || failed=1
  done
  return "$failed"
}

cmd_clean() {
  local svc
  cmd_down "$@"
  for svc in "$@"; do
    rm -rf "$(svc_dir "$svc")" "$(logfile "$svc")" "$(pidfile "$svc")"
  done
  say "removed state of: $* (under $STATE_DIR)"
}

cmd_env() {
  cat <<EOF
export PINPIPE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export PINPIPE_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export PINPIPE_S3_BUCKET=$S3_BUCKET
export PINPIPE_S3_REGION=$S3_REGION
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export PINPIPE_CASSANDRA_CONTACT_POINTS=127.0.0.1:$CASSANDRA_PORT
export PINPIPE_CASSANDRA_LOCAL_DC=datacenter1
export PINPIPE_PG_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export PINPIPE_PUSHGATEWAY_URL=http://127.0.0.1:$PUSHGATEWAY_PORT
export PINPIPE_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
export PINPIPE_PROMETHEUS_TARGETS_DIR=$PROMETHEUS_TARGETS_DIR
export PINPIPE_ALERTMANAGER_URL=http://127.0.0.1:$ALERTMANAGER_PORT
export PINPIPE_ALERT_LOG=$ALERT_LOG_FILE
export PINPIPE_CASSANDRA_EXPORTER_URL=http://127.0.0.1:$CASSANDRA_EXPORTER_PORT
export PINPIPE_TRINO_URL=http://127.0.0.1:$TRINO_PORT
export PINPIPE_TRINO_LOCAL_FILES=$(svc_dir trino)/local-files
EOF
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 2
}

check_settings() {
  local var
  for var in PG_PORT S3_PORT S3_CONSOLE_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT \
    CASSANDRA_PORT CASSANDRA_STORAGE_PORT CASSANDRA_JMX_PORT CASSANDRA_EXPORTER_PORT \
    PROMETHEUS_PORT PUSHGATEWAY_PORT ALERTMANAGER_PORT ALERTMANAGER_CLUSTER_PORT ALERT_LOG_PORT TRINO_PORT; do
    if ! [[ ${!var} =~ ^[0-9]+$ ]] || ((${!var} < 1 || ${!var} > 65535)); then
      die "PINPIPE_$var must be a TCP port number, got '${!var}'"
    fi
  done
  for var in "${!READY_TIMEOUT[@]}"; do
    [[ ${READY_TIMEOUT[$var]} =~ ^[0-9]+$ ]] || die "ready timeout for $var must be whole seconds"
  done
}

# Kafka's own tools (perf tests, topic admin) from the same jars the broker runs.
cmd_kafka_run() {
  (($#)) || die "kafka-run needs a class name, e.g. org.apache.kafka.tools.ProducerPerformance"
  kafka_installed || install_services kafka
  # Tools log beside, not into, the broker's log.
  mkdir -p "$LOG_DIR/tools"
  exec "$JAVA" -Xmx512m -Dlog4j2.configurationFile="$STACK_SRC/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$LOG_DIR/tools" -cp "$KAFKA_LIBS/*" "$@"
}

# The Trino CLI against the local Trino, on the Java that runs Trino.
cmd_sql() {
  trino_installed || install_services trino
  exec "$TRINO_JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$TRINO_CLI_JAR" \
    --server "http://127.0.0.1:$TRINO_PORT" --user "${USER:-pinpipe}" --catalog lake --schema curated "$@"
}

main() {
  local cmd=${1:-} svc services=()
  [[ -n $cmd ]] || usage
  shift
  if [[ $cmd == kafka-run ]]; then
    cmd_kafka_run "$@"
  fi
  if [[ $cmd == sql ]]; then
    cmd_sql "$@"
  fi
  check_settings
  for svc in "$@"; do
    case " ${ALL_SERVICES[*]} " in
      *" $svc "*) services+=("$svc") ;;
      *) die "unknown service '$svc' (known: ${ALL_SERVICES[*]})" ;;
    esac
  done
  ((${#services[@]})) || services=("${ALL_SERVICES[@]}")
  # Keep the canonical start order whatever order the names came in.
  local ordered=()
  for svc in "${ALL_SERVICES[@]}"; do
    case " ${services[*]} " in *" $svc "*) ordered+=("$svc") ;; esac
  done

  case $cmd in
    install) take_lock; install_services "${ordered[@]}" ;;
    up) take_lock; cmd_up "${ordered[@]}" ;;
    down) take_lock; cmd_down "${ordered[@]}" ;;
    clean) take_lock; cmd_clean "${ordered[@]}" ;;
    status) cmd_status "${ordered[@]}" ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) err "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
