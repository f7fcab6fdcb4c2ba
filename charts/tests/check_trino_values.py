"""Checks charts/trino-values.yaml (values for the official Trino chart) against the pinpipe chart,
so the two installs agree on names:

    check_trino_values.py TRINO_VALUES [PINPIPE_VALUES]

- the three catalogs pinpipe's SQL uses exist with their connectors: lake (hive, a file metastore
  in the pinpipe bucket), cassandra and stream (postgresql);
- each points at what the pinpipe chart's ConfigMap names: the bucket and region, the first
  Cassandra contact point and its datacenter, the PostgreSQL host, port, database and user;
- credentials are never written in: each comes as ${ENV:NAME} from the pinpipe release's Secret
  (envFrom), under a key that Secret holds;
- the image is the Trino release the local stack tests with (stack/stack.sh, TRINO_VERSION);
- the pinpipe chart's config.trinoUrl is the coordinator Service of the release "trino".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

SECRET_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"}
CONNECTORS = {"lake": "hive", "cassandra": "cassandra", "stream": "postgresql"}


def properties(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def check(trino: dict, pinpipe: dict, stack_script: str) -> list[str]:
    problems: list[str] = []
    config = pinpipe.get("config") or {}
    catalogs = {name: properties(text) for name, text in (trino.get("catalogs") or {}).items()}
    for name, connector in CONNECTORS.items():
        got = catalogs.get(name, {}).get("connector.name")
        if got != connector:
            problems.append(f"catalog {name} must use connector {connector}, not {got!r}")
    lake = catalogs.get("lake", {})
    bucket = config.get("s3Bucket")
    if lake.get("hive.metastore") != "file" or not lake.get("hive.metastore.catalog.dir", "").startswith(
        f"s3://{bucket}/"
    ):
        problems.append(f"catalog lake must keep a file metastore in the pinpipe bucket s3://{bucket}/")
    if lake.get("s3.region") != config.get("s3Region"):
        problems.append(f"catalog lake's s3.region {lake.get('s3.region')!r} is not config.s3Region")
    cassandra = catalogs.get("cassandra", {})
    host, _, port = (config.get("cassandraContactPoints") or "").split(",")[0].partition(":")
    points = (cassandra.get("cassandra.contact-points"), cassandra.get("cassandra.native-protocol-port"))
    if points != (host, port):
        problems.append(f"catalog cassandra must point at {host}:{port} (config.cassandraContactPoints)")
    if cassandra.get("cassandra.load-policy.dc-aware.local-dc") != config.get("cassandraLocalDc"):
        problems.append("catalog cassandra's local datacenter is not config.cassandraLocalDc")
    pg = urlparse(config.get("pgUrl") or "")
    stream = catalogs.get("stream", {})
    want_url = f"jdbc:postgresql://{pg.hostname}:{pg.port or 5432}{pg.path}"
    if stream.get("connection-url") != want_url or stream.get("connection-user") != pg.username:
        problems.append(f"catalog stream must connect to {want_url} as {pg.username} (config.pgUrl)")
    for name, props in catalogs.items():
        for key, value in props.items():
            secret = re.fullmatch(r"\$\{ENV:([A-Z0-9_]+)\}", value)
            if ("password" in key or "secret" in key or "access-key" in key) and not secret:
                problems.append(f"catalog {name}: {key} must come from the Secret as ${{ENV:...}}")
            if secret and secret.group(1) not in SECRET_KEYS:
                problems.append(f"catalog {name}: {key} reads {secret.group(1)}, not a pinpipe Secret key")
    secret_refs = [e.get("secretRef", {}).get("name") for e in trino.get("envFrom") or []]
    if "pinpipe-secrets" not in secret_refs:
        problems.append("envFrom must reference the pinpipe release's Secret pinpipe-secrets")
    pinned = re.search(r"^TRINO_VERSION=(\S+)$", stack_script, re.M)
    tag = str((trino.get("image") or {}).get("tag"))
    if pinned and tag != pinned.group(1):
        problems.append(f"image.tag is {tag!r}, but the local stack tests Trino {pinned.group(1)}")
    if config.get("trinoUrl") != "http://trino:8080":
        problems.append(f"config.trinoUrl is {config.get('trinoUrl')!r}, not the trino release Service")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    trino = yaml.safe_load(Path(argv[1]).read_text())
    pinpipe = yaml.safe_load(Path(argv[2] if len(argv) == 3 else "charts/pinpipe/values.yaml").read_text())
    problems = check(trino, pinpipe, Path("stack/stack.sh").read_text())
    for p in problems:
        print(f"FAIL {argv[1]}: {p}", file=sys.stderr)
    if not problems:
        print(f"ok {argv[1]}: catalogs lake, cassandra and stream agree with the pinpipe chart")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
