"""Shared fixtures: the DAG folder on sys.path (as Airflow puts it) and a DagBag per environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = DAGS_DIR.parent
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))

from pinpipe_dags.launcher import LAUNCHER_NAMES  # noqa: E402 (needs the path above)

# Settings the launcher reads, and docker's own; cleared so the host's environment cannot change
# what the tests see.
LAUNCHER_ENV = (*sorted(LAUNCHER_NAMES), "DOCKER_HOST")


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
