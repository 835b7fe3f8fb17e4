"""What the Airflow benchmarks read back of a close: its latest run of a month, the report runs
its published-mart event triggered, and their task instances (Airflow's REST API)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def close_runs(
    settings: Any, month: date, report_run_ids: Any
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """The latest close run of `month`; it and the report runs it triggered as (dag id, run);
    and every task instance of those runs as (dag id, instance), mapped ones included. Of
    `report_run_ids` (every report run of the month), those queued before the close was are
    an earlier close's."""
    from chiso.core.months import month_of
    from chiso.orchestration import airflow as af

    with af.AirflowApi(settings) as api:
        runs = api.paged(f"/dags/{af.DAG_ID}/dagRuns", "dag_runs")
        mine = [r for r in runs if month_of(stamp(r["data_interval_start"])) == month]
        close = max(mine, key=lambda r: r["end_date"])
        reports = [
            api.get(f"/dags/{af.REPORT_DAG_ID}/dagRuns/{run_id}") for run_id in report_run_ids
        ]
        queued = stamp(close["queued_at"])
        timed = [(af.DAG_ID, close)] + [
            (af.REPORT_DAG_ID, run) for run in reports if _queued(run) >= queued
        ]
        instances = [
            (dag_id, t)
            for dag_id, run in timed
            for t in api.paged(
                f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances", "task_instances"
            )
        ]
    return close, timed, instances


def _queued(run: dict[str, Any]) -> datetime:
    return (
        stamp(run.get("queued_at"))
        or stamp(run.get("start_date"))
        or datetime.max.replace(tzinfo=UTC)
    )
