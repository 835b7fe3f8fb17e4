"""Task bodies of the monthly DAG, kept out of the DAG file so it parses in milliseconds.

Each function takes the run's data interval start and works on that calendar month in
Asia/Ho_Chi_Minh time (a UTC midnight would fall in the previous month).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from chiso.config import settings

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def api_conn_id(source: str) -> str:
    """Airflow connection of a source system's API: ``chiso_one_stop_api`` and so on."""
    return f"chiso_{source}_api"


def month_of(data_interval_start: datetime) -> date:
    local = data_interval_start.astimezone(LOCAL_TZ)
    return date(local.year, local.month, 1)


def _api_settings(source: str):
    from airflow.sdk import Connection

    from chiso.pipeline import ApiSettings

    conn = Connection.get(api_conn_id(source))
    scheme = conn.schema or "http"
    return ApiSettings(base_url=f"{scheme}://{conn.host}:{conn.port}", token=conn.password or "")


def pull(source: str, data_interval_start: datetime) -> int:
    """Pull the month of every entity of `source` from its API (replaces the month in raw)."""
    from chiso.pipeline import ingest_api

    return ingest_api(settings(), source, month_of(data_interval_start), _api_settings(source))


def inbox(source: str) -> dict[str, int]:
    """Load the files waiting in the source's inbox; bad files are quarantined, not fatal."""
    from chiso.pipeline import ingest_inbox

    results = ingest_inbox(settings(), source)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def transform(data_interval_start: datetime) -> str | None:
    from chiso.pipeline import transform as run_dbt

    return run_dbt(settings(), month_of(data_interval_start))


def validate(data_interval_start: datetime, dbt_invocation_id: str | None) -> str:
    """Run the gate; returns the validation's id for publish. A failure alerts the operators
    (Airflow connections chiso_alert_smtp / chiso_alert_webhook) and fails the task."""
    from chiso.pipeline import validate as run_gate

    month = month_of(data_interval_start)
    return run_gate(settings(), month, dbt_invocation_id=dbt_invocation_id).gate_run_id


def publish(data_interval_start: datetime, dbt_invocation_id: str | None, gate_run_id: str) -> int:
    """Publish the validated month as a revision; returns the revision number (unchanged when
    the month equals its current revision)."""
    from chiso.pipeline import publish as run_publish

    month = month_of(data_interval_start)
    return run_publish(settings(), month, dbt_invocation_id, gate_run_id).revision


def report(data_interval_start: datetime) -> str:
    from chiso.pipeline import report as render

    return str(render(settings(), month_of(data_interval_start)))
