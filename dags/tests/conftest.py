"""Shared fixtures: the DAG folder on sys.path (as Airflow puts it) and a DagBag per environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = DAGS_DIR.parent
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))

# Settings the launcher reads; cleared so the host's environment cannot change what the tests see.
LAUNCHER_ENV = (
    "PINPIPE_LAUNCHER",
    "PINPIPE_IMAGE_REGISTRY",
    "PINPIPE_IMAGE_TAG",
    "PINPIPE_DOCKER_URL",
    "PINPIPE_DOCKER_NETWORK",
    "PINPIPE_DOCKER_API_VERSION",
    "PINPIPE_K8S_NAMESPACE",
    "PINPIPE_CONFIGMAP",
    "PINPIPE_SECRET",
    "PINPIPE_SERVICE_ACCOUNT",
    "PINPIPE_JOB_ENV",
    "DOCKER_HOST",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture
def dagbag(clean_env):
    return load_dagbag()
