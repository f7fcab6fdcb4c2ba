#!/usr/bin/env bash
# Installs what the PySpark comparison benchmarks need, once: a virtualenv with pyspark from
# PyPI (~/.cache/pinpipe/venv-spark) and the extra jars from Maven Central
# (~/.cache/pinpipe/spark-jars: S3A, the Cassandra connector, the Kafka source, the PostgreSQL
# driver). Idempotent: a rerun with the same versions does nothing. Resolves jars with Maven
# rather than Spark's --packages (Ivy), which needs no network at run time and uses the same
# local repository as stack/stack.sh. Prints nothing on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}
VENV=$CACHE_DIR/venv-spark
JARS=$CACHE_DIR/spark-jars
SPARK_VERSION=3.5.7
CASSANDRA_CONNECTOR_VERSION=3.5.1 # Spark 3.5, Scala 2.12, Java driver 4.18 (Cassandra 5.0)
POSTGRESQL_VERSION=42.7.4
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
say() { echo "spark-setup: $*" >&2; }

venv_stamp="$(sha256sum "$here/requirements.txt" | cut -c1-16)"
jars_stamp="spark=$SPARK_VERSION connector=$CASSANDRA_CONNECTOR_VERSION pg=$POSTGRESQL_VERSION $venv_stamp $(sha256sum "$here/pom.xml" | cut -c1-16)"
stamp_ok() { [[ -f $1/.pinpipe-stamp && $(cat "$1/.pinpipe-stamp") == "$2" ]]; }
if stamp_ok "$VENV" "$venv_stamp" && stamp_ok "$JARS" "$jars_stamp"; then
  exit 0
fi

command -v mvn >/dev/null || { say "installing maven"; apt-get install -y -q maven >&2; }

if ! stamp_ok "$VENV" "$venv_stamp"; then
  say "creating $VENV (pyspark $SPARK_VERSION from PyPI, about 320 MB, first time only)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$venv_stamp" >"$VENV/.pinpipe-stamp"
fi

stamp_ok "$JARS" "$jars_stamp" && exit 0
spark_jars=$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
# The Hadoop the wheel was built with decides hadoop-aws (and with it the AWS SDK bundle).
hadoop_version=$(find "$spark_jars" -name 'hadoop-client-api-*.jar' -printf '%f\n' | sed -E 's/hadoop-client-api-(.*)\.jar/\1/')
[[ -n $hadoop_version ]] || { say "cannot tell pyspark's Hadoop version from $spark_jars"; exit 1; }

say "resolving jars from Maven Central into $JARS (hadoop-aws $hadoop_version, connector $CASSANDRA_CONNECTOR_VERSION, first time only)"
mkdir -p "$CACHE_DIR/logs"
rm -rf "$JARS.tmp"
if ! mvn -B -f "$here/pom.xml" -Dmaven.repo.local="$CACHE_DIR/m2" \
  -Dspark.version="$SPARK_VERSION" -Dhadoop.version="$hadoop_version" \
  -Dcassandra.connector.version="$CASSANDRA_CONNECTOR_VERSION" -Dpostgresql.version="$POSTGRESQL_VERSION" \
  "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$JARS.tmp" \
  >"$CACHE_DIR/logs/spark-jars-maven.log" 2>&1; then
  say "maven failed; log: $CACHE_DIR/logs/spark-jars-maven.log"
  tail -n 30 "$CACHE_DIR/logs/spark-jars-maven.log" >&2
  exit 1
fi
# Keep only what the wheel lacks: a second copy of a library Spark already has (kafka-clients'
# compression codecs, slf4j, Hadoop's client) would put two versions on the class path.
for jar in "$JARS.tmp"/*.jar; do
  artifact=$(basename "$jar" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//')
  if compgen -G "$spark_jars/$artifact-[0-9]*.jar" >/dev/null; then rm "$jar"; fi
done
echo "$jars_stamp" >"$JARS.tmp/.pinpipe-stamp"
rm -rf "$JARS"
mv "$JARS.tmp" "$JARS"
say "jars: $(find "$JARS" -name '*.jar' -printf '%f ')"
