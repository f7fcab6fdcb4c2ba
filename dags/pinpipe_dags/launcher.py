"""One factory for the tasks that run a pinpipe job container.

The launcher comes from configuration, so each DAG is written once:

- ``PINPIPE_LAUNCHER=docker`` (default): DockerOperator against a Docker-compatible API
  (Docker, or podman's ``podman system service``).
- ``PINPIPE_LAUNCHER=kubernetes``: KubernetesPodOperator in the pinpipe namespace, with the
  settings from the pinpipe chart's ConfigMap and Secret (``envFrom``) and the chart's pod
  security: non-root uid/gid 10001, RuntimeDefault seccomp, a read-only root filesystem with an
  emptyDir at /tmp, no privilege escalation, no capabilities. Which cluster it talks to is
  Airflow's connection ``kubernetes_default`` (e.g. ``AIRFLOW_CONN_KUBERNETES_DEFAULT``).

Everything is read from ``PINPIPE_*`` environment variables of the Airflow components when the
DAG file is parsed (see docs/airflow.md, "Running with Airflow"). Images are
``<PINPIPE_IMAGE_REGISTRY>/<job>:<PINPIPE_IMAGE_TAG>``, as ``make images`` tags them.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAUNCHERS = ("docker", "kubernetes")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

# The pod's only writable place: an emptyDir at /tmp, where the jobs stage raw objects and DuckDB
# spills (os.tmpdir(), or --temp-dir / PINPIPE_TEMP_DIR). The pod's environment points both at it.
TMP_MOUNT = "/tmp"
TEMP_DIR_NAMES = ("TMPDIR", "PINPIPE_TEMP_DIR")
# A day's staging: daily-transform stages D's raw objects (305 MB of gzip for 1,000,000 posts) and
# the curated posts of the earlier days, and spills there when D outgrows --memory-limit.
DEFAULT_TMP_SIZE_LIMIT = "8Gi"
# A Kubernetes quantity of bytes: 8Gi, 500Mi, 10G, 1000000.
QUANTITY_PATTERN = re.compile(r"^(\d+(\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
# The chart's securityContexts (charts/pinpipe/values.yaml podSecurityContext/securityContext).
RUN_AS_USER = 10001

# Tag of the job images when PINPIPE_IMAGE_TAG is unset: the version in package.json, which is
# what `make images` tags. A test keeps this constant equal to package.json's version, because a
# deployed DAG folder (git-sync of dags/) has no package.json beside it.
DEFAULT_IMAGE_TAG = "0.1.0"
DEFAULT_IMAGE_REGISTRY = "pinpipe"

# Settings a Docker-launched job receives from the Airflow worker's environment when set. The
# credentials go in private_environment, which Airflow never renders or shows.
PASS_THROUGH_PREFIXES = (
    "PINPIPE_S3_",
    "PINPIPE_CASSANDRA_",
    "PINPIPE_KAFKA_",
    "PINPIPE_PG_",
    "PINPIPE_TRINO_",
    "PINPIPE_LAKE_",
    "PINPIPE_STREAM_",
)
PASS_THROUGH_NAMES = (
    "PINPIPE_LOG_LEVEL",
    "PINPIPE_PIN_TOPIC",
    "PINPIPE_GEO_TOPIC",
    "PINPIPE_USER_TOPIC",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
PRIVATE_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PINPIPE_PG_URL",
    "PINPIPE_TRINO_PASSWORD",
)
# Settings of the launcher itself, never given to a job.
LAUNCHER_NAMES = frozenset(
    {
        "PINPIPE_LAUNCHER",
        "PINPIPE_IMAGE_REGISTRY",
        "PINPIPE_IMAGE_TAG",
        "PINPIPE_DOCKER_URL",
        "PINPIPE_DOCKER_NETWORK",
        "PINPIPE_DOCKER_API_VERSION",
        "PINPIPE_IMAGE_PULL_POLICY",
        "PINPIPE_K8S_NAMESPACE",
        "PINPIPE_K8S_HOST_NETWORK",
        "PINPIPE_K8S_TMP_SIZE_LIMIT",
        "PINPIPE_CONFIGMAP",
        "PINPIPE_SECRET",
        "PINPIPE_SERVICE_ACCOUNT",
        "PINPIPE_JOB_ENV",
    }
)


@dataclass(frozen=True)
class Resources:
    """What one job container may use: requests and limits on Kubernetes, limits on Docker."""

    cpu: str = "500m"
    memory: str = "1Gi"
    cpu_limit: str = "2"
    memory_limit: str = "2Gi"


@dataclass(frozen=True)
class LauncherConfig:
    launcher: str = "docker"
    image_registry: str = DEFAULT_IMAGE_REGISTRY
    image_tag: str = DEFAULT_IMAGE_TAG
    # Docker
    docker_url: str = "unix:///var/run/docker.sock"
    docker_network: str = "host"
    docker_api_version: str = "auto"
    job_env: Mapping[str, str] = field(default_factory=dict)
    private_env: Mapping[str, str] = field(default_factory=dict)
    # Kubernetes. The names are those of the chart installed as release `pinpipe`
    # (`<fullname>-config`, `<fullname>-secrets`, and the fullname is just `pinpipe` then).
    namespace: str = "pinpipe"
    configmap: str = "pinpipe-config"
    secret: str = "pinpipe-secrets"
    service_account: str = "pinpipe"
    # The node's network namespace, for a single-node cluster whose services listen on its loopback.
    host_network: bool = False
    # None: Kubernetes' default (IfNotPresent for a tag other than latest).
    image_pull_policy: str | None = None
    tmp_size_limit: str = DEFAULT_TMP_SIZE_LIMIT

    def image(self, job: str) -> str:
        return f"{self.image_registry.rstrip('/')}/{job}:{self.image_tag}"


def _package_version() -> str | None:
    package = Path(__file__).resolve().parents[2] / "package.json"
    try:
        return json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in ("true", "false"):
        raise ValueError(f"{name}: must be true or false (got {env[name]!r})")
    return text == "true"


def _pull_policy(env: Mapping[str, str]) -> str | None:
    text = env.get("PINPIPE_IMAGE_PULL_POLICY", "").strip()
    if not text:
        return None
    for policy in PULL_POLICIES:
        if text.lower() == policy.lower():
            return policy
    choices = ", ".join(PULL_POLICIES)
    raise ValueError(
        f"PINPIPE_IMAGE_PULL_POLICY: must be one of {choices} (got {env['PINPIPE_IMAGE_PULL_POLICY']!r})"
    )


def _size(env: Mapping[str, str], name: str, default: str) -> str:
    text = env.get(name, "").strip()
    if not text:
        return default
    quantity = QUANTITY_PATTERN.match(text)
    if not quantity or float(quantity.group(1)) == 0:
        raise ValueError(f"{name}: must be a Kubernetes quantity above 0, e.g. 8Gi (got {env[name]!r})")
    return text


def _job_env_json(env: Mapping[str, str]) -> dict[str, str]:
    try:
        extra = json.loads(env["PINPIPE_JOB_ENV"])
    except ValueError as err:
        raise ValueError(f"PINPIPE_JOB_ENV: must be a JSON object ({err})") from None
    if not isinstance(extra, dict):
        raise ValueError(f"PINPIPE_JOB_ENV: must be a JSON object (got {env['PINPIPE_JOB_ENV']!r})")
    return {str(k): str(v) for k, v in extra.items()}


def config_from_env(environ: Mapping[str, str] | None = None) -> LauncherConfig:
    """The launcher settings from PINPIPE_* variables; a bad value fails the DAG import, naming it."""
    env = os.environ if environ is None else environ
    launcher = env.get("PINPIPE_LAUNCHER", "docker").strip().lower() or "docker"
    if launcher not in LAUNCHERS:
        raise ValueError(f"PINPIPE_LAUNCHER: must be one of {', '.join(LAUNCHERS)} (got {launcher!r})")
    job_env = {
        k: v
        for k, v in env.items()
        if k not in LAUNCHER_NAMES
        and k not in PRIVATE_NAMES
        and (k.startswith(PASS_THROUGH_PREFIXES) or k in PASS_THROUGH_NAMES)
    }
    # Extra settings for every job as JSON, e.g. PINPIPE_JOB_ENV='{"PINPIPE_LOG_LEVEL": "debug"}'.
    if env.get("PINPIPE_JOB_ENV"):
        job_env.update(_job_env_json(env))
    return LauncherConfig(
        launcher=launcher,
        image_registry=env.get("PINPIPE_IMAGE_REGISTRY") or DEFAULT_IMAGE_REGISTRY,
        image_tag=env.get("PINPIPE_IMAGE_TAG") or _package_version() or DEFAULT_IMAGE_TAG,
        docker_url=env.get("PINPIPE_DOCKER_URL") or env.get("DOCKER_HOST") or LauncherConfig.docker_url,
        docker_network=env.get("PINPIPE_DOCKER_NETWORK") or LauncherConfig.docker_network,
        docker_api_version=env.get("PINPIPE_DOCKER_API_VERSION") or LauncherConfig.docker_api_version,
        job_env=job_env,
        private_env={k: env[k] for k in PRIVATE_NAMES if env.get(k)},
        namespace=env.get("PINPIPE_K8S_NAMESPACE") or LauncherConfig.namespace,
        configmap=env.get("PINPIPE_CONFIGMAP") or LauncherConfig.configmap,
        secret=env.get("PINPIPE_SECRET") or LauncherConfig.secret,
        service_account=env.get("PINPIPE_SERVICE_ACCOUNT") or LauncherConfig.service_account,
        host_network=_flag(env, "PINPIPE_K8S_HOST_NETWORK", LauncherConfig.host_network),
        image_pull_policy=_pull_policy(env),
        tmp_size_limit=_size(env, "PINPIPE_K8S_TMP_SIZE_LIMIT", LauncherConfig.tmp_size_limit),
    )


def _memory_bytes(quantity: str) -> str:
    """Kubernetes quantities (Gi, Mi) in Docker's notation (g, m)."""
    units = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}
    for suffix, docker in units.items():
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + docker
    return quantity


def _cpus(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _pod_env(cfg: LauncherConfig) -> dict[str, str]:
    """The job pod's own environment, on top of the ConfigMap and Secret (``env`` wins over them).

    The worker's PINPIPE_* settings (cfg.job_env), and the temp dir pointed at the /tmp emptyDir,
    the one writable place. The credentials (cfg.private_env) are not passed: an ``env`` entry is
    written into the pod spec (readable by whoever may read pods) and is a rendered template field
    of the task in Airflow; the pod gets them from the chart's Secret instead.
    """
    env = dict.fromkeys(TEMP_DIR_NAMES, TMP_MOUNT)
    env.update(cfg.job_env)
    for name in TEMP_DIR_NAMES:
        path = posixpath.normpath(env[name])
        if path != TMP_MOUNT and not path.startswith(TMP_MOUNT + "/"):
            raise ValueError(
                f"PINPIPE_JOB_ENV: {name} must be {TMP_MOUNT} or below it on Kubernetes, where the root "
                f"filesystem is read-only and {TMP_MOUNT} is the pod's emptyDir (got {env[name]!r})"
            )
    return dict(sorted(env.items()))


def job_task(
    job: str,
    arguments: Sequence[str],
    *,
    task_id: str | None = None,
    resources: Resources | None = None,
    config: LauncherConfig | None = None,
    **task_kwargs: Any,
):
    """An operator that runs ``pinpipe <job> <arguments>`` in the job's image.

    ``arguments`` may hold Jinja templates (``{{ ds }}``, ``{{ params.x }}``); both launchers
    render them. ``task_kwargs`` are the usual BaseOperator settings (retries, timeouts, ...).
    """
    cfg = config or config_from_env()
    res = resources or Resources()
    task_id = task_id or job.replace("-", "_")
    if cfg.launcher == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s

        return KubernetesPodOperator(
            task_id=task_id,
            name=f"pinpipe-{job}",
            namespace=cfg.namespace,
            image=cfg.image(job),
            image_pull_policy=cfg.image_pull_policy,
            # The image's entrypoint is `pinpipe <job>`; these are the job's arguments.
            arguments=list(arguments),
            env_from=[
                k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=cfg.configmap)),
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=cfg.secret)),
            ],
            env_vars=[k8s.V1EnvVar(name=k, value=v) for k, v in _pod_env(cfg).items()],
            container_resources=k8s.V1ResourceRequirements(
                requests={"cpu": res.cpu, "memory": res.memory},
                limits={"cpu": res.cpu_limit, "memory": res.memory_limit},
            ),
            service_account_name=cfg.service_account,
            # The jobs never call the Kubernetes API (as the chart's ServiceAccount says too).
            automount_service_account_token=False,
            labels={"app.kubernetes.io/name": "pinpipe", "app.kubernetes.io/component": job},
            hostnetwork=cfg.host_network,
            # Under hostNetwork the default policy would take the node's resolv.conf; this keeps
            # cluster DNS (Service names) working.
            dnspolicy="ClusterFirstWithHostNet" if cfg.host_network else None,
            security_context=k8s.V1PodSecurityContext(
                run_as_non_root=True,
                run_as_user=RUN_AS_USER,
                run_as_group=RUN_AS_USER,
                fs_group=RUN_AS_USER,
                seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
            ),
            container_security_context=k8s.V1SecurityContext(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                capabilities=k8s.V1Capabilities(drop=["ALL"]),
            ),
            volumes=[
                k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=cfg.tmp_size_limit))
            ],
            volume_mounts=[k8s.V1VolumeMount(name="tmp", mount_path=TMP_MOUNT)],
            get_logs=True,
            on_finish_action="delete_succeeded_pod",
            **task_kwargs,
        )

    from airflow.providers.docker.operators.docker import DockerOperator

    return DockerOperator(
        task_id=task_id,
        image=cfg.image(job),
        command=list(arguments),
        environment=dict(sorted(cfg.job_env.items())),
        private_environment=dict(cfg.private_env),
        docker_url=cfg.docker_url,
        api_version=cfg.docker_api_version,
        network_mode=cfg.docker_network,
        # podman's API cannot bind-mount Airflow's temporary folder into the container, and the
        # jobs do not need it: they stage in their own temp folder.
        mount_tmp_dir=False,
        cpus=_cpus(res.cpu_limit),
        mem_limit=_memory_bytes(res.memory_limit),
        auto_remove="success",
        **task_kwargs,
    )
