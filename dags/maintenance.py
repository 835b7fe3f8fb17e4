"""Maintenance: Airflow's metadata and logs past their retention, personal data past its
period, VACUUM (ANALYZE) of the warehouse's large tables, then a backup of the warehouse and of
the personal-data key.

One run per night at 02:30 (Asia/Ho_Chi_Minh). Retention periods and the backup folder come
from the environment (chiso/orchestration/maintenance.py). A manual run may clean Airflow's
metadata up to another instant (param ``clean_before``, ISO 8601; at least two minutes ago).
The backup runs after the vacuum, and whatever else failed: a night without a backup is worse
than one without a vacuum. All logic lives in `chiso.orchestration.maintenance`; this file only
wires tasks together and must stay cheap to parse.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from chiso.orchestration.dags import cron, start, task_defaults


@dag(
    dag_id="maintenance",
    schedule=cron("30 2 * * *"),
    start_date=start(2026),
    catchup=False,
    max_active_runs=1,
    params={
        "clean_before": Param(
            None,
            type=["null", "string"],
            description="clean Airflow's metadata up to this instant instead of the retention",
        )
    },
    default_args=task_defaults(
        retries=1,
        retry_delay_seconds=60,
        max_retry_delay=timedelta(minutes=30),
        timeout=timedelta(hours=2),
    ),
    tags=["chiso", "maintenance"],
    doc_md=__doc__,
)
def maintenance():
    @task
    def clean_airflow_metadata(params=None) -> str:
        from chiso.core.config import settings
        from chiso.orchestration import maintenance as m

        return m.clean_airflow_metadata(settings(), (params or {}).get("clean_before"))

    @task
    def prune_task_logs() -> int:
        from chiso.core.config import settings
        from chiso.orchestration import maintenance as m
        from chiso.runtime import lineage

        days = m.Retention.from_env(settings()).log_days
        rotated = m.rotate_lineage(lineage.folder(settings()), days)
        return m.prune_logs(m.airflow_log_folder(), days) + rotated

    @task
    def retain_personal_data() -> str:
        from chiso.core.config import settings
        from chiso.orchestration import maintenance as m

        return m.retain_personal_data(settings())

    @task
    def vacuum_analyze() -> list[str]:
        from chiso.core.config import settings
        from chiso.orchestration import maintenance as m

        return m.vacuum_analyze(settings())

    @task(trigger_rule="all_done")
    def back_up() -> dict[str, str]:
        from chiso.core.config import settings
        from chiso.orchestration import maintenance as m

        done = m.back_up(settings())
        return {"dump": str(done.dump), "size": str(done.size), "key": done.check_value}

    cleaned = [clean_airflow_metadata(), prune_task_logs(), retain_personal_data()]
    vacuumed = vacuum_analyze()
    cleaned >> vacuumed >> back_up()


maintenance()
