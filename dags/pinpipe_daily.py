"""
### pinpipe_daily

The daily batch of day **D** (UTC), where D is the run's logical date (`{{ ds }}`):

1. **raw_ready**: `pinpipe raw-ready --date D` waits until D's raw lake is complete enough:
   every topic has `min_objects` raw objects for D and, with `require_later_data`, data of a
   later day (so the sink has moved past D).
2. **daily_transform**: `pinpipe daily-transform --date D` cleans D into curated Parquet, metrics
   and a data-quality report.
3. **cassandra_load**: `pinpipe cassandra-load --date D` loads D into the Cassandra query tables.
4. **lake_tables** (beside cassandra_load): `pinpipe lake-tables --date D` declares the curated
   tables in Trino, registers the days published so far and checks that D is one of them, so D is
   queryable through Trino's `lake` catalog.
5. **reconcile** (after both): `pinpipe reconcile --date D` compares D's batch with stream-agg's
   final windows of D through Trino and fails when they differ by more than the late records
   and `max_unexplained`; its report is `reports/reconcile/dt=D/reconcile.json` in the lake.

Each job runs in its own container (`pinpipe/<job>:<version>`), launched by DockerOperator or
KubernetesPodOperator as `PINPIPE_LAUNCHER` says. The jobs overwrite whole partitions of day D,
so a retry, a rerun (clear the run) or a backfill gives the same result. Runs go one day at a
time, oldest first, because the metrics read the curated history of the earlier days.

Trigger a day from the UI with the logical date set to that day; backfill a range with
*Backfill* in the UI or `airflow backfill create --dag-id pinpipe_daily --from-date ... --to-date ...`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, Param, chain, dag
from pinpipe_dags.launcher import Resources, job_task

DAY = "{{ ds }}"
MEMORY_LIMIT_PATTERN = r"^(\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)|\d{1,2}%)$"


@dag(
    dag_id=Path(__file__).stem,
    doc_md=__doc__,
    # One run per finished UTC day: the run of day D starts at D+1 00:00 and its ds is D.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    # Early, so that backfills can reach old days of the lake; catchup is off, so nothing runs by itself.
    start_date=datetime(2020, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["pinpipe", "daily"],
    default_args={
        "owner": "pinpipe",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
    params={
        "min_objects": Param(1, type="integer", minimum=1, description="Raw objects each topic needs for D"),
        "require_later_data": Param(
            False,
            type="boolean",
            description="Also wait for data of a later day in every topic (D is closed)",
        ),
        "wait_minutes": Param(
            60, type="integer", minimum=0, maximum=600, description="How long raw_ready waits for D"
        ),
        "memory_limit": Param(
            "2GB", type="string", pattern=MEMORY_LIMIT_PATTERN, description="DuckDB memory_limit"
        ),
        "threads": Param(2, type="integer", minimum=1, maximum=64, description="DuckDB threads"),
        "max_rejected_pct": Param(
            5, type="number", minimum=0, maximum=100, description="Fail D above this share of rejected lines"
        ),
        "allow_empty": Param(False, type="boolean", description="Accept a topic with no raw objects for D"),
        "max_unexplained": Param(
            0,
            type="integer",
            minimum=0,
            description="Records a category or country may differ by, beyond late ones",
        ),
        "require_stream": Param(
            True,
            type="boolean",
            description="Fail reconcile when stream-agg has no windows at all (false: skip it)",
        ),
    },
)
def pinpipe_daily():
    raw_ready = job_task(
        "raw-ready",
        [
            "--date", DAY,
            "--min-objects", "{{ params.min_objects }}",
            "--require-later-data={{ params.require_later_data | lower }}",
            "--wait-minutes", "{{ params.wait_minutes }}",
            "--poll-seconds", "30",
        ],
        resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
        execution_timeout=timedelta(hours=11),
        retries=1,
    )  # fmt: skip
    daily_transform = job_task(
        "daily-transform",
        [
            "--date", DAY,
            "--memory-limit", "{{ params.memory_limit }}",
            "--threads", "{{ params.threads }}",
            "--max-rejected-pct", "{{ params.max_rejected_pct }}",
            "--allow-empty={{ params.allow_empty | lower }}",
        ],
        # DuckDB's memory_limit (2GB by default) plus Node and DuckDB's own allocations: a day of
        # 1,000,000 posts peaks near 2.6 GB of RSS.
        resources=Resources(cpu="1", memory="2560Mi", cpu_limit="2", memory_limit="3Gi"),
        execution_timeout=timedelta(hours=2),
    )  # fmt: skip
    cassandra_load = job_task(
        "cassandra-load",
        ["--date", DAY],
        resources=Resources(cpu="250m", memory="256Mi", cpu_limit="1", memory_limit="512Mi"),
        execution_timeout=timedelta(hours=1),
    )
    lake_tables = job_task(
        "lake-tables",
        ["--date", DAY],
        resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
        execution_timeout=timedelta(minutes=15),
    )
    reconcile = job_task(
        "reconcile",
        [
            "--date", DAY,
            "--max-unexplained", "{{ params.max_unexplained }}",
            "--require-stream={{ params.require_stream | lower }}",
        ],
        resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
        execution_timeout=timedelta(minutes=30),
    )  # fmt: skip
    chain(raw_ready, daily_transform, [cassandra_load, lake_tables], reconcile)


pinpipe_daily()
