"""Reference data as a pipeline: the files an operator edits (agencies and their versions and
lineage, administrative units, holidays and make-up days, targets, annual indices), loaded into
the warehouse when they change, and what they change rebuilt and republished.

Every morning at 06:00 (Asia/Ho_Chi_Minh), or when an operator triggers it after committing an
edit: ``load`` reads the folder (``CHISO_REFERENCE_DIR``), validates it with the GX suites of
expectations/reference/ and loads it if it differs from the loaded version (invalid files alert
the operators with file, row and field, and the warehouse keeps what it had); the records
ingest parked because their agency code was unknown, when the load adds it, are pulled again
(``pull_released_*``); ``rebuild`` rebuilds only the periods the change touches and republishes
the published months whose numbers changed; the report DAG (``monthly_report``) renders them,
on the published-mart asset event ``rebuild`` emits. All logic lives in
`chiso.pipeline` and `chiso.orchestration.tasks`; this file only wires tasks together and must
stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from chiso.orchestration.dags import REPUBLISHED, cron, per_province, start, task_defaults
from chiso.sources.systems import SOURCES, source_provinces

# a deployment of several provinces pulls each one's installation (an environment read)
PROVINCES = source_provinces()


@dag(
    dag_id="reference_data",
    schedule=cron("0 6 * * *"),
    start_date=start(2026),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(
        retries=2,
        retry_delay_seconds=60,
        max_retry_delay=timedelta(minutes=30),
        timeout=timedelta(hours=6),
    ),
    tags=["chiso", "reference"],
    doc_md=__doc__,
)
def reference_data():
    @task(retries=0)  # invalid files stay invalid until an operator fixes them
    def load() -> dict:
        from chiso.orchestration import tasks

        return tasks.load_reference()

    @task
    def pull_released(source: str, province: str | None = None) -> int:
        from chiso.orchestration import tasks

        return tasks.pull_released(source, province)

    # the months it republishes, if any, go out on a published-mart asset event (through an
    # alias: no event when it republished nothing); the report DAG renders them
    @task(outlets=[REPUBLISHED])
    def rebuild() -> list[str]:
        from chiso.orchestration import tasks

        return tasks.rebuild_reference()

    loaded = load()
    pulls = [
        per_province(pull_released, f"pull_released_{source}", source, PROVINCES)
        for source in SOURCES
    ]
    loaded >> pulls >> rebuild()


reference_data()
