"""Daily ingest: pull what changed in every source yesterday → load the inbox.

One run per day (its data interval, Asia/Ho_Chi_Minh). For each source system the run pulls
from the system's API (Airflow connection ``chiso_<source>_api``) every record changed since
the last committed pull up to the end of the day (by change stamp; whole recent months for
sources without one), then loads the files operators dropped in ``<inbox>/<source>/``. It
builds nothing: the monthly close (DAG ``monthly_kpi``) builds and publishes, and finds raw
fresh when it runs. All logic lives in `chiso.orchestration.tasks`; this file only wires
tasks together and must stay cheap to parse.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from chiso.sources.systems import SOURCES


def _alert_on_failure(context) -> None:
    # imported when a task fails, not when the file is parsed
    from chiso.orchestration.tasks import alert_task_failure

    alert_task_failure(context)


RAW = {
    source: Asset(name=f"raw.{source}", uri=f"chiso://warehouse/raw/{source}") for source in SOURCES
}


@dag(
    dag_id="daily_ingest",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="Asia/Ho_Chi_Minh"),
    start_date=pendulum.datetime(2019, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "chiso",
        "retries": 3,
        "retry_delay": timedelta(seconds=int(os.environ.get("CHISO_RETRY_DELAY_SECONDS", "60"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": _alert_on_failure,
    },
    tags=["chiso", "daily", "ingest", *SOURCES],
    doc_md=__doc__,
)
def daily_ingest():
    @task
    def pull(source: str, data_interval_end=None) -> int:
        from chiso.orchestration import tasks

        return tasks.pull(source, data_interval_end)

    @task
    def inbox(source: str) -> dict[str, int]:
        from chiso.orchestration import tasks

        return tasks.inbox(source)

    for source in SOURCES:
        pulled = pull.override(task_id=f"pull_{source}", outlets=[RAW[source]])(source)
        dropped = inbox.override(task_id=f"inbox_{source}", outlets=[RAW[source]])(source)
        pulled >> dropped


daily_ingest()
