"""Offline checks of the pinpipe chart, run by `make test-helm` (mk/helm.mk).

    check_chart.py values-schema CHART_DIR
        every key of values.yaml is described in values.schema.json with description, type and
        the same default, and the schema accepts values.yaml
    check_chart.py manifests KUBE_VERSION FILE...
        every rendered manifest passes Kubernetes' OpenAPI schema of KUBE_VERSION (the
        kubernetes-validate package, strict: unknown fields fail); ServiceMonitors and the
        PrometheusRule, CRDs outside those schemas, pass a schema of the fields the chart uses
        (the rule's spec must be alerts/pinpipe-alerts.yaml as it is); and the chart's
        own rules hold (hardened containers, probes, resources, consumers within partitions,
        listen addresses; hostNetwork pods with ClusterFirstWithHostNet DNS, one replica and no
        HPA; the helm test Pod hardened, in the pod network, asking each rendered job through a
        Service of the same render). Give it any number of renders (default, production, local).
    check_chart.py rejects HELM CHART_DIR KUBE_VERSION
        values that must be refused are refused, each with a message saying what is wrong

Exit code 0 only when every check passed; each failure is printed on one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import yaml

FAILURES: list[str] = []


def fail(message: str) -> None:
    FAILURES.append(message)
    print(f"FAIL {message}", file=sys.stderr)


# ---- values.yaml against values.schema.json ---------------------------------------------------


def check_values_schema(chart: Path) -> None:
    values = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())
    try:
        jsonschema.validate(values, schema)
    except jsonschema.ValidationError as error:
        fail(f"values.yaml does not pass values.schema.json: {error.message}")

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        for field in ("description", "type", "default"):
            if field not in node:
                fail(f"values.schema.json: {path} has no {field}")
        if "default" in node and node["default"] != value:
            fail(f"values.schema.json: default of {path} is {node['default']!r}, values.yaml says {value!r}")
        if isinstance(value, dict) and "properties" in node:
            for key, child in value.items():
                if key not in node["properties"]:
                    fail(f"values.schema.json: {path}.{key} is missing")
                else:
                    walk(child, node["properties"][key], f"{path}.{key}")
            for key in node["properties"]:
                # An empty map (a component's image override) leaves its optional keys out.
                if value and key not in value:
                    fail(f"values.schema.json: {path}.{key} is not in values.yaml")

    for key, value in values.items():
        if key not in schema["properties"]:
            fail(f"values.schema.json: {key} is missing")
        else:
            walk(value, schema["properties"][key], key)
    # Every key of values.yaml has a comment right above it.
    lines = (chart / "values.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("-"):
            continue
        if ":" in stripped and i > 0 and line.startswith(" " * (len(line) - len(line.lstrip()))):
            previous = lines[i - 1].strip()
            parent_is_free_form = _inside_free_form(lines, i)
            if not previous.startswith("#") and not parent_is_free_form:
                fail(f"values.yaml:{i + 1}: `{stripped}` has no comment above it")


FREE_FORM = ("resources:", "podSecurityContext:", "securityContext:", "requests:", "limits:", "capabilities:")


def _inside_free_form(lines: list[str], i: int) -> bool:
    """True for keys inside an example value (resources, security contexts), not chart settings."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i - 1, -1, -1):
        other = lines[j]
        if not other.strip() or other.strip().startswith("#"):
            continue
        other_indent = len(other) - len(other.lstrip())
        if other_indent < indent:
            if other.strip() in FREE_FORM or other.strip().startswith("seccompProfile:"):
                return True
            indent = other_indent
            if indent == 0:
                return False
    return False


# ---- rendered manifests -------------------------------------------------------------------------


def operator_resource_schema(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Prometheus Operator resource of `kind` (monitoring.coreos.com/v1) with the chart's metadata."""
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "spec": spec,
        },
    }


SERVICE_MONITOR_SCHEMA = operator_resource_schema(
    "ServiceMonitor",
    {
        "type": "object",
        "required": ["selector", "endpoints"],
        "additionalProperties": False,
        "properties": {
            "selector": {
                "type": "object",
                "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
            },
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["port"],
                    "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string", "minLength": 1},
                        "path": {"type": "string", "pattern": "^/"},
                        "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        "honorLabels": {"type": "boolean"},
                    },
                },
            },
        },
    },
)

CONSUMERS = ("s3-sink", "stream-agg")


def check_pod_security(where: str, pod: dict[str, Any]) -> None:
    sc = pod.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True:
        fail(f"{where}: pod may run as root")
    if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        fail(f"{where}: pod does not use the RuntimeDefault seccomp profile")


def check_hardened(where: str, container: dict[str, Any]) -> None:
    sc = container.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: container {container['name']} has a writable root filesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: container {container['name']} allows privilege escalation")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        fail(f"{where}: container {container['name']} does not drop ALL capabilities")
    resources = container.get("resources") or {}
    if not (resources.get("requests") or {}).get("memory") or not (resources.get("limits") or {}).get(
        "memory"
    ):
        fail(f"{where}: container {container['name']} has no memory request and limit")


# The variable each job's listen address is read from (ingest serves /metrics on its own port).
LISTEN_VARIABLE = {
    "ingest": "PINPIPE_HOST",
    "s3-sink": "PINPIPE_METRICS_HOST",
    "stream-agg": "PINPIPE_METRICS_HOST",
}
POD_IP = {"fieldRef": {"fieldPath": "status.podIP"}}


def check_listen_address(where: str, container: dict[str, Any], component: str, host_network: bool) -> None:
    """A job listens on 0.0.0.0 in its own network namespace, under hostNetwork on the pod's (node's) IP."""
    variable = LISTEN_VARIABLE.get(component)
    if variable is None:
        return
    env = {e["name"]: e for e in container.get("env") or []}
    got = env.get(variable)
    if got is None:
        fail(f"{where}: {variable} is not set: the job would listen on 127.0.0.1 only")
    elif host_network and got.get("valueFrom") != POD_IP:
        fail(f"{where}: under hostNetwork {variable} must come from status.podIP, not {got}")
    elif not host_network and got.get("value") != "0.0.0.0":
        fail(f"{where}: {variable} is {got}, not 0.0.0.0: the Service could not reach the job")
    if host_network:
        for e in container.get("env") or []:
            if e.get("value") == "0.0.0.0":
                fail(f"{where}: under hostNetwork {e['name']} listens on every interface of the node")


def check_container(where: str, container: dict[str, Any], component: str) -> None:
    check_hardened(where, container)
    if "livenessProbe" not in container:
        fail(f"{where}: container {container['name']} has no liveness probe")
    if (
        component == "ingest"
        and (container.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/readyz"
    ):
        fail(f"{where}: ingest's readiness probe is not /readyz")
    if container.get("args"):
        fail(
            f"{where}: the per-job image runs its job itself; args {container['args']} would be passed twice"
        )


PROMETHEUS_RULE_SCHEMA = operator_resource_schema(
    "PrometheusRule",
    {
        "type": "object",
        "required": ["groups"],
        "additionalProperties": False,
        "properties": {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "rules": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["alert", "expr", "labels", "annotations"],
                                "additionalProperties": False,
                                "properties": {
                                    "alert": {"type": "string", "pattern": "^Pinpipe[A-Za-z0-9]+$"},
                                    "expr": {"type": "string"},
                                    "for": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                                    "labels": {
                                        "type": "object",
                                        "required": ["severity"],
                                        "properties": {"severity": {"enum": ["critical", "warning"]}},
                                    },
                                    "annotations": {
                                        "type": "object",
                                        "required": ["summary", "description", "runbook_url"],
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            }
        },
    },
)

ALERT_RULES = Path(__file__).resolve().parents[1] / "pinpipe" / "alerts" / "pinpipe-alerts.yaml"

# What the helm test asks of each job: ingest's readiness on its Service, the consumers' health
# on their metrics Services.
TEST_PATHS = {"ingest": "/readyz", "s3-sink": "/healthz", "stream-agg": "/healthz"}


def check_test_pod(where: str, doc: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """The helm test Pod: hardened, in the pod network, asking every rendered job through its Service."""
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    if annotations.get("helm.sh/hook") != "test":
        fail(f"{where}: a bare Pod that is not a helm test hook")
        return
    if "hook-failed" in annotations.get("helm.sh/hook-delete-policy", ""):
        fail(f"{where}: a failed test Pod is deleted, and its log with it")
    pod = doc["spec"]
    if pod.get("hostNetwork"):
        fail(f"{where}: the test Pod is in the node's network: it would bypass Service DNS and kube-proxy")
    if pod.get("restartPolicy") != "Never":
        fail(f"{where}: restartPolicy is {pod.get('restartPolicy')!r}, not Never")
    check_pod_security(where, pod)
    deployments = {
        (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component"): d
        for d in docs
        if d.get("kind") == "Deployment"
    }
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    ingest = deployments.get("ingest")
    for container in pod["containers"]:
        check_hardened(where, container)
        if (container.get("command") or [None])[0] != "node" or container.get("args"):
            fail(f"{where}: the test container must run `node -e` (command), without args")
        if ingest is not None:
            job = ingest["spec"]["template"]["spec"]
            for key in ("image", "imagePullPolicy"):
                own, ingests = container.get(key), job["containers"][0].get(key)
                if own != ingests:
                    fail(f"{where}: {key} {own!r} is not ingest's {ingests!r}")
            if pod.get("imagePullSecrets") != job.get("imagePullSecrets"):
                fail(f"{where}: imagePullSecrets differ from the jobs'")
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        try:
            targets = json.loads(env.get("PINPIPE_TEST_TARGETS") or "")
        except json.JSONDecodeError as error:
            fail(f"{where}: PINPIPE_TEST_TARGETS is not JSON: {error}")
            continue
        names = [t.get("name") for t in targets]
        if sorted(names) != sorted(c for c in deployments if c in TEST_PATHS):
            fail(f"{where}: tests {names}, but the render deploys {sorted(deployments)}")
        for target in targets:
            check_test_target(where, target, deployments, services)


def check_test_target(
    where: str, target: dict[str, Any], deployments: dict[str, Any], services: dict[str, Any]
) -> None:
    name, url = target.get("name"), urlsplit(target.get("url") or "")
    labels = ((deployments.get(name) or {}).get("metadata") or {}).get("labels") or {}
    host = (url.hostname or "").split(".")
    # <service>.<namespace>.svc.<cluster domain>
    if url.scheme != "http" or len(host) < 4 or host[2] != "svc":
        fail(f"{where}: {name} is asked at {target.get('url')}, not at a Service's DNS name")
        return
    service = services.get(host[0])
    if service is None:
        fail(f"{where}: {name} is asked through Service {host[0]}, which the render does not create")
        return
    selector = service["spec"].get("selector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        fail(f"{where}: Service {host[0]} does not select the {name} pods")
    if url.port not in [p.get("port") for p in service["spec"].get("ports") or []]:
        fail(f"{where}: {name} is asked on port {url.port}, which Service {host[0]} does not serve")
    if url.path != TEST_PATHS.get(name):
        fail(f"{where}: {name} is asked for {url.path}, not {TEST_PATHS.get(name)}")


def check_manifests(kube_version: str, files: list[str]) -> None:
    for name in files:
        failures_before = len(FAILURES)
        docs = [d for d in yaml.safe_load_all(Path(name).read_text()) if d]
        if not docs:
            fail(f"{name}: no manifests rendered")
        partitions = None
        for doc in docs:
            if doc.get("kind") == "ConfigMap" and "PINPIPE_KAFKA_PARTITIONS" in (doc.get("data") or {}):
                partitions = int(doc["data"]["PINPIPE_KAFKA_PARTITIONS"])
        for doc in docs:
            kind, meta = doc.get("kind"), doc.get("metadata") or {}
            where = f"{name}: {kind}/{meta.get('name')}"
            if kind == "ServiceMonitor":
                try:
                    jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
                except jsonschema.ValidationError as error:
                    fail(f"{where}: {error.message} at {'/'.join(str(p) for p in error.absolute_path)}")
            elif kind == "PrometheusRule":
                try:
                    jsonschema.validate(doc, PROMETHEUS_RULE_SCHEMA)
                except jsonschema.ValidationError as error:
                    fail(f"{where}: {error.message} at {'/'.join(str(p) for p in error.absolute_path)}")
                if doc.get("spec") != yaml.safe_load(ALERT_RULES.read_text()):
                    fail(f"{where}: spec is not the rules of {ALERT_RULES.name} as they are")
            else:
                try:
                    kubernetes_validate.validate(doc, kube_version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    path = "/".join(str(p) for p in error.path)
                    fail(f"{where}: {error.message} at {path}")
                except kubernetes_validate.SchemaNotFoundError:
                    fail(
                        f"{where}: Kubernetes {kube_version} has no schema for {doc.get('apiVersion')} {kind}"
                    )
            if kind == "ConfigMap" and "grafana_dashboard" in (meta.get("labels") or {}):
                for key, value in (doc.get("data") or {}).items():
                    try:
                        panels = json.loads(value).get("panels") or []
                    except json.JSONDecodeError as error:
                        fail(f"{where}: {key} is not JSON: {error}")
                        continue
                    if not panels:
                        fail(f"{where}: dashboard {key} has no panels")
            if kind == "Deployment":
                component = (meta.get("labels") or {}).get("app.kubernetes.io/component", "")
                pod = doc["spec"]["template"]["spec"]
                host_network = pod.get("hostNetwork") is True
                check_pod_security(where, pod)
                for container in pod["containers"]:
                    check_container(where, container, component)
                    check_listen_address(where, container, component, host_network)
                if component in CONSUMERS:
                    replicas = doc["spec"].get("replicas", 1)
                    if not isinstance(replicas, int) or partitions is None or replicas > partitions:
                        fail(f"{where}: replicas {replicas!r} do not fit {partitions} partitions")
                if host_network:
                    check_host_network(where, doc, docs)
            if kind == "Pod":
                check_test_pod(where, doc, docs)
        if len(FAILURES) == failures_before:
            tests = sum(1 for d in docs if d.get("kind") == "Pod")
            print(f"ok {name}: {len(docs)} manifests valid for Kubernetes {kube_version} ({tests} test Pods)")


def check_host_network(where: str, doc: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """A pod in the node's network: cluster DNS still, alone on its ports (one replica, no HPA, no surge)."""
    pod = doc["spec"]["template"]["spec"]
    if pod.get("dnsPolicy") != "ClusterFirstWithHostNet":
        fail(f"{where}: hostNetwork with dnsPolicy {pod.get('dnsPolicy')!r}: Service names would not resolve")
    replicas = doc["spec"].get("replicas")
    if replicas != 1:
        fail(f"{where}: hostNetwork with replicas {replicas!r}: pods would collide on the node's ports")
    if ((doc["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge") not in (0, None):
        fail(f"{where}: hostNetwork with a surge pod, which cannot start while the old one holds the ports")
    for other in docs:
        target = (other.get("spec") or {}).get("scaleTargetRef") or {}
        if other.get("kind") == "HorizontalPodAutoscaler" and target.get("name") == doc["metadata"]["name"]:
            fail(f"{where}: hostNetwork with an HPA: pods would collide on the node's ports")


# ---- values the chart must refuse -----------------------------------------------------------

# (what, extra helm arguments, a fragment the error must contain)
BAD_VALUES: list[tuple[str, list[str], str]] = [
    (
        "more sink replicas than partitions",
        ["--set", "kafka.partitions=2", "--set", "s3Sink.replicas=3"],
        "s3Sink.replicas is 3 but kafka.partitions is 2",
    ),
    (
        "more stream-agg replicas than partitions",
        ["--set", "streamAgg.replicas=4"],
        "streamAgg.replicas is 4 but kafka.partitions is 3",
    ),
    (
        "replicas of the wrong type",
        ["--set-string", "s3Sink.replicas=two"],
        "'/s3Sink/replicas': got string, want integer",
    ),
    ("a negative port", ["--set", "ingest.port=-1"], "'/ingest/port': minimum"),
    (
        "an unknown log level",
        ["--set", "config.logLevel=verbose"],
        "'/config/logLevel': value must be one of",
    ),
    ("a misspelt key", ["--set", "ingest.replica=3"], "replica"),
    ("a malformed digest", ["--set", "images.digest=latest"], "'/images/digest'"),
    ("no partitions", ["--set", "kafka.partitions=0"], "'/kafka/partitions': minimum"),
    (
        "a password in the ConfigMap's PostgreSQL URL",
        ["--set", "config.pgUrl=postgres://u:secret@h:5432/d"],
        "'/config/pgUrl'",
    ),
    (
        "an HPA whose minimum exceeds its maximum",
        ["--set", "ingest.hpa.minReplicas=5", "--set", "ingest.hpa.maxReplicas=3"],
        "ingest.hpa.minReplicas (5) must not exceed ingest.hpa.maxReplicas (3)",
    ),
    (
        "an S3 key id without its secret",
        ["--set", "secrets.awsAccessKeyId=AKIA"],
        "secrets.awsSecretAccessKey is required",
    ),
    (
        "a pod launcher without a service account",
        ["--set", "airflow.podLauncher.serviceAccountName="],
        "airflow.podLauncher.serviceAccountName is required",
    ),
    (
        "an extra ConfigMap variable outside PINPIPE_",
        ["--set", "config.extra.HOME=/root"],
        "'HOME' does not match",
    ),
    (
        "hostNetwork with ingest's HPA",
        ["--set", "hostNetwork=true,s3Sink.replicas=1"],
        "ingest.hpa.enabled is true (set it to false)",
    ),
    (
        "hostNetwork with two ingest replicas",
        ["--set", "hostNetwork=true,ingest.hpa.enabled=false,s3Sink.replicas=1"],
        "hostNetwork is on, and pods in the node's network namespace collide on the node's ports, so "
        "each component runs one pod on a port of its own: ingest.replicas is 2 (set it to 1)",
    ),
    (
        "hostNetwork with two s3-sink replicas",
        ["--set", "hostNetwork=true,ingest.enabled=false"],
        "s3Sink.replicas is 2 (set it to 1)",
    ),
    (
        "hostNetwork with two stream-agg replicas",
        ["--set", "hostNetwork=true,ingest.enabled=false,s3Sink.replicas=1,streamAgg.replicas=2"],
        "streamAgg.replicas is 2 (set it to 1)",
    ),
    (
        "hostNetwork with two jobs on one port",
        [
            "--set",
            "hostNetwork=true,ingest.hpa.enabled=false,ingest.replicas=1,s3Sink.replicas=1,s3Sink.metricsPort=8088",
        ],
        "ingest.port and s3Sink.metricsPort are both 8088",
    ),
]


def check_rejects(helm: str, chart: str, kube_version: str) -> None:
    for what, args, expected in BAD_VALUES:
        cmd = [helm, "template", "t", chart, "--kube-version", kube_version, *args]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            fail(f"accepted {what}: {' '.join(args)}")
        elif expected not in result.stderr:
            fail(f"refused {what}, but the message lacks {expected!r}: {result.stderr.strip()[:400]}")
        else:
            line = next(x for x in result.stderr.splitlines() if expected in x)
            print(f"ok refused {what}: {line.strip()[:160]}")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "values-schema" and len(args) == 1:
        check_values_schema(Path(args[0]))
    elif command == "manifests" and len(args) >= 2:
        check_manifests(args[0], args[1:])
    elif command == "rejects" and len(args) == 3:
        check_rejects(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if FAILURES:
        print(f"{len(FAILURES)} chart check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
