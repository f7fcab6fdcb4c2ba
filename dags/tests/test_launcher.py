"""The launcher factory renders the container each launcher runs."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT
from pinpipe_dags.launcher import (
    DEFAULT_IMAGE_TAG,
    LAUNCHER_NAMES,
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
    # The worker's settings, and the temp dir on the /tmp emptyDir; the credentials come from the
    # Secret only.
    assert [(e.name, e.value) for e in container.env] == [
        ("PINPIPE_LOG_LEVEL", "debug"),
        ("PINPIPE_TEMP_DIR", "/tmp"),
        ("TMPDIR", "/tmp"),
    ]
    assert "never-in-a-pod-spec" not in str(pod.to_dict())
    assert container.resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert container.resources.limits == {"cpu": "2", "memory": "1536Mi"}
    assert container.security_context.allow_privilege_escalation is False


def k8s_pod(cfg: LauncherConfig | None = None, job: str = "daily-transform"):
    op = job_task(job, ["--date", "2026-03-01"], config=cfg or LauncherConfig(launcher="kubernetes"))
    return op.build_pod_request_obj(dry_run=True)


def test_kubernetes_pod_has_the_charts_security_and_a_tmp_emptydir():
    pod = k8s_pod()
    ctx = pod.spec.security_context
    assert (ctx.run_as_non_root, ctx.run_as_user, ctx.run_as_group) == (True, 10001, 10001)
    assert ctx.fs_group == 10001
    assert ctx.seccomp_profile.type == "RuntimeDefault"
    (container,) = pod.spec.containers
    sec = container.security_context
    assert sec.allow_privilege_escalation is False
    assert sec.read_only_root_filesystem is True
    assert sec.run_as_non_root is True
    assert sec.capabilities.drop == ["ALL"]
    assert not sec.capabilities.add and not sec.privileged
    # /tmp, the one writable place, is an emptyDir of a day's staging, and the jobs' temp dir.
    (volume,) = pod.spec.volumes
    assert volume.name == "tmp" and volume.empty_dir.size_limit == "8Gi" and not volume.empty_dir.medium
    assert [(m.name, m.mount_path, m.read_only) for m in container.volume_mounts] == [("tmp", "/tmp", None)]
    env = {e.name: e.value for e in container.env}
    assert env["TMPDIR"] == "/tmp" and env["PINPIPE_TEMP_DIR"] == "/tmp"
    assert pod.spec.automount_service_account_token is False
    # The pod as the operator sends it to the API server.
    from kubernetes.client import ApiClient

    spec = ApiClient().sanitize_for_serialization(pod)["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "8Gi"}}]


def test_kubernetes_tmp_size_limit_is_configurable():
    cfg = config_from_env({"PINPIPE_LAUNCHER": "kubernetes", "PINPIPE_K8S_TMP_SIZE_LIMIT": "20Gi"})
    assert cfg.tmp_size_limit == "20Gi"
    (volume,) = k8s_pod(cfg).spec.volumes
    assert volume.empty_dir.size_limit == "20Gi"


def test_kubernetes_temp_dir_may_only_move_below_tmp():
    cfg = LauncherConfig(launcher="kubernetes", job_env={"PINPIPE_TEMP_DIR": "/tmp/stage"})
    (container,) = k8s_pod(cfg).spec.containers
    assert {e.name: e.value for e in container.env}["PINPIPE_TEMP_DIR"] == "/tmp/stage"
    outside = [("TMPDIR", "/var/tmp"), ("PINPIPE_TEMP_DIR", "/tmp/../home/pinpipe"), ("TMPDIR", "/tmpx")]
    for name, path in outside:
        cfg = LauncherConfig(launcher="kubernetes", job_env={name: path})
        with pytest.raises(ValueError, match=f"PINPIPE_JOB_ENV: {name} must be /tmp or below it"):
            k8s_pod(cfg)


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
def test_kubernetes_host_network_on(value):
    cfg = config_from_env({"PINPIPE_LAUNCHER": "kubernetes", "PINPIPE_K8S_HOST_NETWORK": value})
    assert cfg.host_network is True
    pod = k8s_pod(cfg)
    assert pod.spec.host_network is True
    # Service names still resolve through the cluster DNS.
    assert pod.spec.dns_policy == "ClusterFirstWithHostNet"


@pytest.mark.parametrize("env", [{}, {"PINPIPE_K8S_HOST_NETWORK": ""}, {"PINPIPE_K8S_HOST_NETWORK": "false"}])
def test_kubernetes_host_network_off(env):
    cfg = config_from_env({"PINPIPE_LAUNCHER": "kubernetes", **env})
    assert cfg.host_network is False
    pod = k8s_pod(cfg)
    assert not pod.spec.host_network
    assert pod.spec.dns_policy is None


@pytest.mark.parametrize(
    ("value", "policy"), [("Never", "Never"), ("ifnotpresent", "IfNotPresent"), ("Always", "Always")]
)
def test_kubernetes_image_pull_policy(value, policy):
    cfg = config_from_env(
        {
            "PINPIPE_LAUNCHER": "kubernetes",
            "PINPIPE_IMAGE_PULL_POLICY": value,
            "PINPIPE_IMAGE_REGISTRY": "localhost/pinpipe",
            "PINPIPE_IMAGE_TAG": "0.1.0",
        }
    )
    assert cfg.image_pull_policy == policy
    (container,) = k8s_pod(cfg, "raw-ready").spec.containers
    assert container.image_pull_policy == policy
    assert container.image == "localhost/pinpipe/raw-ready:0.1.0"


def test_kubernetes_image_pull_policy_defaults_to_the_clusters():
    (container,) = k8s_pod(config_from_env({"PINPIPE_LAUNCHER": "kubernetes"})).spec.containers
    assert container.image_pull_policy is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PINPIPE_K8S_HOST_NETWORK", "yes"),
        ("PINPIPE_K8S_HOST_NETWORK", "1"),
        ("PINPIPE_K8S_HOST_NETWORK", "on"),
        ("PINPIPE_IMAGE_PULL_POLICY", "Sometimes"),
        ("PINPIPE_IMAGE_PULL_POLICY", "never pull"),
        ("PINPIPE_K8S_TMP_SIZE_LIMIT", "8 GB"),
        ("PINPIPE_K8S_TMP_SIZE_LIMIT", "8GB"),
        ("PINPIPE_K8S_TMP_SIZE_LIMIT", "0Gi"),
        ("PINPIPE_K8S_TMP_SIZE_LIMIT", "-1Gi"),
        ("PINPIPE_JOB_ENV", "PINPIPE_LOG_LEVEL=debug"),
        ("PINPIPE_JOB_ENV", '["PINPIPE_LOG_LEVEL"]'),
    ],
)
def test_bad_settings_are_refused_by_name(name, value):
    assert name in LAUNCHER_NAMES
    with pytest.raises(ValueError, match=f"^{name}: ") as err:
        config_from_env({"PINPIPE_LAUNCHER": "kubernetes", name: value})
    assert repr(value) in str(err.value) or name == "PINPIPE_JOB_ENV"


def test_kubernetes_default_connection_gives_the_kubeconfig(clean_env, tmp_path):
    """What dags/README.md says: AIRFLOW_CONN_KUBERNETES_DEFAULT with kube_config_path picks the cluster."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": "https://10.213.0.1:6443"}}],
                "users": [{"name": "admin", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
                "current-context": "local",
            }
        )
    )
    extra = {"kube_config_path": str(kubeconfig), "in_cluster": False, "namespace": "elsewhere"}
    connection = {"conn_type": "kubernetes", "extra": extra}
    clean_env.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", json.dumps(connection))
    clean_env.delenv("KUBECONFIG", raising=False)
    op = job_task("reconcile", ["--date", "2026-03-01"], config=LauncherConfig(launcher="kubernetes"))
    assert op.kubernetes_conn_id == "kubernetes_default"
    client = op.hook.get_conn()
    assert client.configuration.host == "https://10.213.0.1:6443"
    assert op.hook.is_in_cluster is False
    # The pod's namespace is PINPIPE_K8S_NAMESPACE's; the connection's only applies without one.
    assert op.build_pod_request_obj(dry_run=True).metadata.namespace == "pinpipe"
