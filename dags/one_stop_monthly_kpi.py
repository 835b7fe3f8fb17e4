"""Monthly one-stop KPI pipeline: pull → build → validate → publish → report.

One run per calendar month (its data interval, Asia/Ho_Chi_Minh). The validation gate sits
between the audit build and publication: if it fails, the run stops and the previously
published mart stays as it was. All logic lives in `chiso.orchestration.tasks`; this file only
wires tasks together and must stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

RAW_DOSSIERS = Asset(name="raw.one_stop__dossiers", uri="chiso://warehouse/raw/one_stop__dossiers")
KPI_MART = Asset(name="marts.mart_kpi_monthly", uri="chiso://warehouse/marts/mart_kpi_monthly")
REPORT = Asset(name="report.monthly_kpi", uri="chiso://reports/monthly_kpi")


@dag(
    dag_id="one_stop_monthly_kpi",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="Asia/Ho_Chi_Minh"),
    start_date=pendulum.datetime(2019, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "chiso",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=30),
    },
    tags=["chiso", "one_stop", "monthly"],
    doc_md=__doc__,
)
def one_stop_monthly_kpi():
    @task(outlets=[RAW_DOSSIERS])
    def ingest(data_interval_start=None) -> int:
        from chiso.orchestration import tasks

        return tasks.ingest(data_interval_start)

    @task(retries=1)
    def transform() -> str | None:
        from chiso.orchestration import tasks

        return tasks.transform()

    # A failed gate is a verdict on the data, not a glitch: retrying would not change it.
    @task(retries=0)
    def validate(data_interval_start=None) -> bool:
        from chiso.orchestration import tasks

        return tasks.validate(data_interval_start)

    @task(outlets=[KPI_MART])
    def publish(dbt_invocation_id: str | None, data_interval_start=None) -> int:
        from chiso.orchestration import tasks

        return tasks.publish(data_interval_start, dbt_invocation_id)

    @task(outlets=[REPORT])
    def report(data_interval_start=None) -> str:
        from chiso.orchestration import tasks

        return tasks.report(data_interval_start)

    loaded = ingest()
    invocation = transform()
    gate = validate()
    published = publish(invocation)
    loaded >> invocation >> gate >> published >> report()


one_stop_monthly_kpi()
