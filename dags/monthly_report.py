"""Monthly report: render and deliver the reports of the months just published.

Runs on the published-mart asset (``marts.mart_kpi_monthly``), whose events name the months
published: the monthly close emits one at its end (the month closed and the earlier months it
republished) and the reference-data DAG one after a rebuild (the months it republished). Each
month's reports (an overview, and a PDF, a workbook and a page per province and tier) are
rendered from its current revision and delivered to ``CHISO_REPORT_FOLDER`` and by e-mail
(connection ``chiso_report_smtp``), once per revision: a revision already delivered is not
sent again. Events that arrive while a report runs wait for the next run, which takes them
all. A manual run renders the months of its ``months`` parameter again. All logic lives in
`chiso.orchestration.tasks`; this file only wires tasks together and must stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from chiso.orchestration.dags import KPI_MART, REPORT, start, task_defaults


@dag(
    dag_id="monthly_report",
    schedule=[KPI_MART],
    start_date=start(2019),
    catchup=False,
    max_active_runs=1,
    params={
        "months": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            description="a manual run: the months (YYYY-MM) to render again",
        )
    },
    default_args=task_defaults(
        retries=2,
        retry_delay_seconds=20,
        max_retry_delay=timedelta(minutes=10),
        timeout=timedelta(minutes=30),
    ),
    tags=["chiso", "monthly", "report"],
    doc_md=__doc__,
)
def monthly_report():
    @task(outlets=[REPORT])
    def report(triggering_asset_events=None, params=None) -> list[str]:
        from chiso.orchestration import tasks

        return tasks.report_published(triggering_asset_events, (params or {}).get("months"))

    report()


monthly_report()
