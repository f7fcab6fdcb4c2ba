"""pinpipe_daily: imports cleanly, has the expected graph, schedule, retries and templated arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import load_dagbag

DAG_ID = "pinpipe_daily"
TASKS = ["raw_ready", "daily_transform", "cassandra_load", "lake_tables", "reconcile"]
# Each task and what must finish before it: the day is loaded into Cassandra and declared in
# Trino side by side, once it is curated.
UPSTREAM = {
    "raw_ready": set(),
    "daily_transform": {"raw_ready"},
    "cassandra_load": {"daily_transform"},
    "lake_tables": {"daily_transform"},
    "reconcile": {"cassandra_load", "lake_tables"},
}


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_every_dag_has_docs_tags_and_no_catchup(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, dag_id
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.start_date.tzinfo is not None and dag.start_date.utcoffset() == timedelta(0), dag_id


def test_task_graph(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert sorted(dag.task_ids) == sorted(TASKS)
    for task, upstream in UPSTREAM.items():
        assert dag.get_task(task).upstream_task_ids == upstream, task
    assert {t for t in TASKS if not dag.get_task(t).downstream_task_ids} == {"reconcile"}


def test_schedule_runs_each_finished_utc_day(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags[DAG_ID]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 0 * * *"
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.max_active_runs == 1
    assert dag.start_date == datetime(2020, 1, 1, tzinfo=UTC)
    # What the scheduler makes of it: the run of day D starts once D is over, at D+1 00:00, and
    # its logical date, hence {{ ds }}, is D.
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable as Scheduled

    scheduled = Scheduled(dag.timetable.expression, "UTC")
    first = scheduled.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first.logical_date == datetime(2020, 1, 1, tzinfo=UTC)
    assert first.run_after == datetime(2020, 1, 2, tzinfo=UTC)
    assert first.data_interval.end == datetime(2020, 1, 2, tzinfo=UTC)


def test_retries_back_off_and_every_task_has_a_timeout(dagbag):
    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout > timedelta(0), task.task_id
    transform = dag.get_task("daily_transform")
    assert transform.retries == 3
    assert transform.retry_exponential_backoff == 2.0
    assert transform.max_retry_delay == timedelta(minutes=30)
    assert transform.execution_timeout == timedelta(hours=2)


def test_params_are_typed(dagbag):
    dag = dagbag.dags[DAG_ID]
    schema = {name: dag.params.get_param(name).schema for name in dag.params}
    assert schema["threads"]["type"] == "integer"
    assert schema["max_rejected_pct"]["type"] == "number"
    assert schema["allow_empty"]["type"] == "boolean"
    assert schema["require_later_data"]["type"] == "boolean"
    assert "pattern" in schema["memory_limit"]


def render(dag, task_id: str, ds: str, **params) -> list[str]:
    task = dag.get_task(task_id)
    values = {name: dag.params[name] for name in dag.params}
    values.update(params)
    context = {"ds": ds, "params": values}
    env = dag.get_template_env()
    return [env.from_string(arg).render(**context) for arg in task.command]


def test_arguments_are_templated_with_the_day_and_params(dagbag):
    dag = dagbag.dags[DAG_ID]
    assert render(dag, "raw_ready", "2026-03-01") == [
        "--date", "2026-03-01", "--min-objects", "1", "--require-later-data=false",
        "--wait-minutes", "60", "--poll-seconds", "30",
    ]  # fmt: skip
    assert render(dag, "daily_transform", "2026-03-01", threads=4, allow_empty=True) == [
        "--date", "2026-03-01", "--memory-limit", "2GB", "--threads", "4",
        "--max-rejected-pct", "5", "--allow-empty=true",
    ]  # fmt: skip
    assert render(dag, "cassandra_load", "2026-03-01") == ["--date", "2026-03-01"]
    assert render(dag, "lake_tables", "2026-03-01") == ["--date", "2026-03-01"]
    assert render(dag, "reconcile", "2026-03-01", require_stream=False) == [
        "--date", "2026-03-01", "--max-unexplained", "0", "--require-stream=false",
    ]  # fmt: skip


@pytest.mark.parametrize("launcher", ["docker", "kubernetes"])
def test_the_one_dag_uses_the_configured_launcher(clean_env, launcher):
    clean_env.setenv("PINPIPE_LAUNCHER", launcher)
    bag = load_dagbag()
    assert bag.import_errors == {}
    expected = "DockerOperator" if launcher == "docker" else "KubernetesPodOperator"
    assert {type(t).__name__ for t in bag.dags[DAG_ID].tasks} == {expected}


def test_an_unknown_launcher_is_an_import_error(clean_env):
    clean_env.setenv("PINPIPE_LAUNCHER", "nomad")
    bag = load_dagbag()
    assert DAG_ID not in bag.dag_ids
    assert any("PINPIPE_LAUNCHER" in str(err) for err in bag.import_errors.values())


def test_the_kubernetes_settings_reach_every_task(clean_env):
    for name, value in {
        "PINPIPE_LAUNCHER": "kubernetes",
        "PINPIPE_K8S_HOST_NETWORK": "true",
        "PINPIPE_IMAGE_PULL_POLICY": "Never",
        "PINPIPE_IMAGE_REGISTRY": "localhost/pinpipe",
        "PINPIPE_K8S_TMP_SIZE_LIMIT": "4Gi",
    }.items():
        clean_env.setenv(name, value)
    bag = load_dagbag()
    assert bag.import_errors == {}
    for task in bag.dags[DAG_ID].tasks:
        pod = task.build_pod_request_obj(dry_run=True)
        assert pod.spec.host_network is True, task.task_id
        (container,) = pod.spec.containers
        assert container.image_pull_policy == "Never", task.task_id
        assert container.image.startswith("localhost/pinpipe/"), task.task_id
        assert container.security_context.read_only_root_filesystem is True, task.task_id
        assert [v.empty_dir.size_limit for v in pod.spec.volumes] == ["4Gi"], task.task_id


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PINPIPE_K8S_HOST_NETWORK", "maybe"),
        ("PINPIPE_IMAGE_PULL_POLICY", "Sometimes"),
        ("PINPIPE_K8S_TMP_SIZE_LIMIT", "big"),
    ],
)
def test_a_bad_kubernetes_setting_is_an_import_error(clean_env, name, value):
    clean_env.setenv("PINPIPE_LAUNCHER", "kubernetes")
    clean_env.setenv(name, value)
    bag = load_dagbag()
    assert DAG_ID not in bag.dag_ids
    assert any(name in str(err) for err in bag.import_errors.values())
