"""Monthly close: pull what changed → inbox → build → validate → publish → republish.

One run per month, once the month has ended and a grace period has passed
(``CHISO_CLOSE_GRACE_DAYS``, default 5): the run's data interval goes from the 6th of the
month to the 6th of the next, so its end is the close instant, and the month closed is the
month of its start (Asia/Ho_Chi_Minh). For each source system (one-stop, document
management, public-service portal) the run pulls from the system's API (Airflow connection
``chiso_<source>_api``; in a deployment of several provinces, ``CHISO_SOURCE_PROVINCES``, one
mapped pull per province from ``chiso_<source>_api_<province>``, in parallel) every record
changed up to the close instant (the daily ingest DAG
usually has most of it already), then loads the files operators dropped in
``<inbox>/<source>/`` (corrections hold their agency's month; bad files go to quarantine and
do not fail the run). The validation gate sits between the audit build and publication: if it
fails, the run stops and the previously published mart stays as it was. Once the month is
published, every earlier month the new records changed is validated and republished as
revision N+1 (within ``CHISO_REPUBLISH_MONTHS``; the others are recorded in
``marts.kpi_publication_drift``). The close ends with the published-mart asset's event, which
names the months it published; the report DAG (``monthly_report``) runs on it and renders
those months' reports. If the month is not published by ``CHISO_PUBLISH_DEADLINE_DAY`` of the
next month (default the 10th), the run's deadline alert tells the operators on the gate's
channels (chiso/orchestration/deadline.py). All logic lives in `chiso.orchestration.tasks`;
this file only wires tasks together and must stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AsyncCallback, DeadlineAlert, dag, task

from chiso.core.cadence import Cadence
from chiso.orchestration.dags import KPI_MART, RAW, cron, per_province, start, task_defaults
from chiso.orchestration.deadline import PublicationDeadline
from chiso.sources.systems import SOURCES, source_provinces

# the close runs at the end of the grace period; an environment read, nothing heavier
GRACE_DAYS = Cadence.from_env().grace.days
# a deployment of several provinces pulls each one's installation (environment read too)
PROVINCES = source_provinces()


@dag(
    dag_id="monthly_kpi",
    schedule=cron(f"0 0 {1 + GRACE_DAYS} * *"),
    start_date=start(2019),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(
        retries=2,
        retry_delay_seconds=20,
        max_retry_delay=timedelta(minutes=10),
        timeout=timedelta(minutes=30),
    ),
    # the deadline day of the month after the one closed (a run created after it: the close's
    # allowance from then); chiso's Airflow plugin lets every component find the reference
    deadline=DeadlineAlert(
        reference=PublicationDeadline(),
        interval=timedelta(0),
        # run by the triggerer, which may read the alert connections (an executor's callback
        # may not: chiso/orchestration/deadline.py)
        callback=AsyncCallback("chiso.orchestration.deadline.on_missed_close"),
        name="published by the deadline day",
    ),
    tags=["chiso", "monthly", "close", *SOURCES],
    doc_md=__doc__,
)
def monthly_kpi():
    @task
    def pull(source: str, province: str | None = None, data_interval_end=None) -> int:
        from chiso.orchestration import tasks

        return tasks.pull(source, data_interval_end, province)

    @task
    def inbox(source: str) -> dict[str, int]:
        from chiso.orchestration import tasks

        return tasks.inbox(source)

    @task(retries=1)
    def transform(data_interval_start=None) -> str | None:
        from chiso.orchestration import tasks

        return tasks.transform(data_interval_start)

    # A failed gate is a verdict on the data, not a glitch: retrying would not change it. It
    # alerts the operators (e-mail / webhook connections) and leaves the published mart as it is.
    @task(retries=0)
    def validate(dbt_invocation_id: str | None, data_interval_start=None) -> str:
        from chiso.orchestration import tasks

        return tasks.validate(data_interval_start, dbt_invocation_id)

    @task
    def publish(dbt_invocation_id: str | None, gate_run_id: str, data_interval_start=None) -> int:
        from chiso.orchestration import tasks

        return tasks.publish(data_interval_start, dbt_invocation_id, gate_run_id)

    # after the month is out: an earlier month's failed gate is recorded (and listed in the
    # report), it does not fail this close. Its asset event, the close's only one, names every
    # month the close published: the report DAG renders them once the drift is recorded.
    @task(outlets=[KPI_MART])
    def republish(data_interval_start=None) -> list[str]:
        from chiso.orchestration import tasks

        return tasks.republish(data_interval_start)

    invocation = transform()
    for source in SOURCES:
        pulled = per_province(pull, f"pull_{source}", source, PROVINCES, outlets=[RAW[source]])
        dropped = inbox.override(task_id=f"inbox_{source}", outlets=[RAW[source]])(source)
        pulled >> dropped >> invocation
    gate = validate(invocation)
    published = publish(invocation, gate)
    published >> republish()


monthly_kpi()
