"""Daily ingest: pull what changed in every source yesterday → load the inbox.

One run per day (its data interval, Asia/Ho_Chi_Minh). For each source system the run pulls
from the system's API (Airflow connection ``chiso_<source>_api``, or one per province with
``CHISO_SOURCE_PROVINCES``, chiso/sources/systems.py) every record changed since
the last committed pull up to the end of the day (by change stamp; whole recent months for
sources without one), then loads the files operators dropped in ``<inbox>/<source>/``. It
builds nothing: the monthly close (DAG ``monthly_kpi``) builds and publishes, and finds raw
fresh when it runs. All logic lives in `chiso.orchestration.tasks`; this file only wires
tasks together and must stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from chiso.orchestration.dags import RAW, cron, per_province, start, task_defaults
from chiso.sources.systems import SOURCES, source_provinces

# a deployment of several provinces pulls each one's installation (an environment read)
PROVINCES = source_provinces()


@dag(
    dag_id="daily_ingest",
    schedule=cron("0 1 * * *"),
    start_date=start(2019),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(
        retries=3,
        retry_delay_seconds=60,
        max_retry_delay=timedelta(minutes=30),
        timeout=timedelta(hours=2),
    ),
    tags=["chiso", "daily", "ingest", *SOURCES],
    doc_md=__doc__,
)
def daily_ingest():
    @task
    def pull(source: str, province: str | None = None, data_interval_end=None) -> int:
        from chiso.orchestration import tasks

        return tasks.pull(source, data_interval_end, province)

    @task
    def inbox(source: str) -> dict[str, int]:
        from chiso.orchestration import tasks

        return tasks.inbox(source)

    for source in SOURCES:
        pulled = per_province(pull, f"pull_{source}", source, PROVINCES, outlets=[RAW[source]])
        dropped = inbox.override(task_id=f"inbox_{source}", outlets=[RAW[source]])(source)
        pulled >> dropped


daily_ingest()
