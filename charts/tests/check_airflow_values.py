"""Checks charts/airflow-values.yaml (values for the official Apache Airflow chart) against what
the pinpipe chart and the DAGs expect, so the two installs agree on names:

    check_airflow_values.py AIRFLOW_VALUES [PINPIPE_VALUES]

- the DAGs are synced from dags/ and the executor can run KubernetesPodOperator tasks;
- every environment variable the DAGs' launcher factory reads is set, PINPIPE_LAUNCHER is
  "kubernetes", and the ConfigMap/Secret names are those the pinpipe chart makes for the release
  named like PINPIPE_K8S_NAMESPACE (<release>-config, <release>-secrets);
- the worker service account is the one the pinpipe chart's pod-launcher RoleBinding names;
- the Airflow version is the one dags/requirements.txt pins (the version the DAGs are tested on).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REQUIRED_ENV = (
    "PINPIPE_LAUNCHER",
    "PINPIPE_K8S_NAMESPACE",
    "PINPIPE_IMAGE_REGISTRY",
    "PINPIPE_IMAGE_TAG",
    "PINPIPE_CONFIGMAP",
    "PINPIPE_SECRET",
)


def check(airflow: dict, pinpipe: dict) -> list[str]:
    problems: list[str] = []
    env = {e["name"]: str(e.get("value", "")) for e in airflow.get("env") or []}
    for name in REQUIRED_ENV:
        if not env.get(name):
            problems.append(f"env {name} is not set")
    if env.get("PINPIPE_LAUNCHER") != "kubernetes":
        problems.append(f"PINPIPE_LAUNCHER must be kubernetes, not {env.get('PINPIPE_LAUNCHER')!r}")
    release = env.get("PINPIPE_K8S_NAMESPACE", "")
    for name, suffix in (("PINPIPE_CONFIGMAP", "config"), ("PINPIPE_SECRET", "secrets")):
        want = f"{release}-{suffix}"
        if env.get(name) and env[name] != want:
            problems.append(f"{name} is {env[name]!r}, but the pinpipe release {release!r} names it {want!r}")
    if airflow.get("executor") not in ("KubernetesExecutor", "CeleryExecutor", "CeleryKubernetesExecutor"):
        problems.append(
            f"executor {airflow.get('executor')!r} cannot run KubernetesPodOperator tasks in workers"
        )
    git = (airflow.get("dags") or {}).get("gitSync") or {}
    if not git.get("enabled") or git.get("subPath") != "dags":
        problems.append("dags.gitSync must be enabled with subPath: dags")
    worker_sa = ((airflow.get("workers") or {}).get("serviceAccount") or {}).get("name")
    launcher = (pinpipe.get("airflow") or {}).get("podLauncher") or {}
    if worker_sa != launcher.get("serviceAccountName"):
        problems.append(
            f"workers.serviceAccount.name is {worker_sa!r}, but the pinpipe chart binds "
            f"{launcher.get('serviceAccountName')!r} (airflow.podLauncher.serviceAccountName)"
        )
    pinned = [
        line.split("==", 1)[1].strip()
        for line in Path("dags/requirements.txt").read_text().splitlines()
        if line.startswith("apache-airflow==")
    ]
    for key in ("airflowVersion", "defaultAirflowTag"):
        if pinned and str(airflow.get(key)) != pinned[0]:
            problems.append(
                f"{key} is {airflow.get(key)!r}, but dags/requirements.txt pins apache-airflow=={pinned[0]}"
            )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    airflow = yaml.safe_load(Path(argv[1]).read_text())
    pinpipe = yaml.safe_load(Path(argv[2] if len(argv) == 3 else "charts/pinpipe/values.yaml").read_text())
    problems = check(airflow, pinpipe)
    for p in problems:
        print(f"FAIL {argv[1]}: {p}", file=sys.stderr)
    if not problems:
        print(f"ok {argv[1]} agrees with the pinpipe chart")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
