"""The launcher factory renders the container each launcher runs."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT
from pinpipe_dags.launcher import (
    DEFAULT_IMAGE_TAG,
    LauncherConfig,
    Resources,
    config_from_env,
    job_task,
)

RESOURCES = Resources(cpu="250m", memory="512Mi", cpu_limit="2", memory_limit="1536Mi")


def test_default_image_tag_is_the_package_version():
    version = json.loads((REPO_ROOT / "package.json").read_text())["version"]
    assert version == DEFAULT_IMAGE_TAG
    assert config_from_env({}).image("daily-transform") == f"pinpipe/daily-transform:{version}"


def test_config_reads_the_environment():
    cfg = config_from_env(
        {
            "PINPIPE_LAUNCHER": "Kubernetes",
            "PINPIPE_IMAGE_REGISTRY": "registry.example.com/data/",
            "PINPIPE_IMAGE_TAG": "1.2.3",
            "PINPIPE_K8S_NAMESPACE": "batch",
            "PINPIPE_CONFIGMAP": "cm",
            "PINPIPE_SECRET": "sec",
            "PINPIPE_S3_BUCKET": "lake",
            "PINPIPE_LAUNCHER_UNRELATED": "x",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t",
            "HOME": "/root",
            "PINPIPE_JOB_ENV": '{"PINPIPE_LOG_LEVEL": "debug"}',
        }
    )
    assert cfg.launcher == "kubernetes"
    assert cfg.image("cassandra-load") == "registry.example.com/data/cassandra-load:1.2.3"
    assert (cfg.namespace, cfg.configmap, cfg.secret) == ("batch", "cm", "sec")
    assert dict(cfg.job_env) == {"PINPIPE_S3_BUCKET": "lake", "PINPIPE_LOG_LEVEL": "debug"}
    assert dict(cfg.private_env) == {"AWS_SECRET_ACCESS_KEY": "s3cr3t"}


def test_unknown_launcher_is_refused():
    with pytest.raises(ValueError, match="PINPIPE_LAUNCHER"):
        config_from_env({"PINPIPE_LAUNCHER": "nomad"})


def test_docker_launcher_renders_the_container():
    cfg = LauncherConfig(
        launcher="docker",
        docker_url="unix:///run/podman.sock",
        docker_network="host",
        job_env={"PINPIPE_S3_ENDPOINT": "http://127.0.0.1:9000", "PINPIPE_S3_BUCKET": "pinpipe"},
        private_env={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"},
    )
    op = job_task("daily-transform", ["--date", "{{ ds }}"], resources=RESOURCES, config=cfg, retries=2)
    assert type(op).__name__ == "DockerOperator"
    assert op.task_id == "daily_transform"
    assert op.image == f"pinpipe/daily-transform:{DEFAULT_IMAGE_TAG}"
    assert op.command == ["--date", "{{ ds }}"]
    assert op.environment == {"PINPIPE_S3_BUCKET": "pinpipe", "PINPIPE_S3_ENDPOINT": "http://127.0.0.1:9000"}
    # Passed to the container but neither templated nor shown in the UI.
    assert op._private_environment == {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
    assert "AWS_SECRET_ACCESS_KEY" not in op.environment
    assert "private_environment" not in op.template_fields
    assert op.docker_url == "unix:///run/podman.sock"
    assert op.network_mode == "host"
    assert op.mount_tmp_dir is False
    assert op.cpus == 2.0
    assert op.mem_limit == "1536m"
    assert op.auto_remove == "success"
    assert op.retries == 2


def test_kubernetes_launcher_renders_the_pod():
    cfg = LauncherConfig(
        launcher="kubernetes",
        image_registry="docker.io/pinpipe",
        image_tag="0.9.0",
        namespace="pinpipe",
        configmap="pinpipe-config",
        secret="pinpipe-secrets",
        service_account="pinpipe",
        job_env={"PINPIPE_LOG_LEVEL": "debug"},
        private_env={"AWS_SECRET_ACCESS_KEY": "never-in-a-pod-spec"},
    )
    op = job_task("cassandra-load", ["--date", "2026-03-01"], resources=RESOURCES, config=cfg)
    assert type(op).__name__ == "KubernetesPodOperator"
    pod = op.build_pod_request_obj(dry_run=True)
    assert pod.metadata.namespace == "pinpipe"
    assert pod.metadata.labels["app.kubernetes.io/component"] == "cassandra-load"
    assert pod.spec.service_account_name == "pinpipe"
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.security_context.run_as_user == 10001
    (container,) = pod.spec.containers
    assert container.image == "docker.io/pinpipe/cassandra-load:0.9.0"
    # The image's entrypoint stays `pinpipe cassandra-load`; only the arguments are given.
    assert not container.command
    assert container.args == ["--date", "2026-03-01"]
    assert [s.config_map_ref.name for s in container.env_from if s.config_map_ref] == ["pinpipe-config"]
    assert [s.secret_ref.name for s in container.env_from if s.secret_ref] == ["pinpipe-secrets"]
    assert [(e.name, e.value) for e in container.env] == [("PINPIPE_LOG_LEVEL", "debug")]
    assert "never-in-a-pod-spec" not in str(pod.to_dict())
    assert container.resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert container.resources.limits == {"cpu": "2", "memory": "1536Mi"}
    assert container.security_context.allow_privilege_escalation is False
