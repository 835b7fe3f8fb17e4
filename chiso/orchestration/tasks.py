"""Task bodies of the monthly DAG, kept out of the DAG file so it parses in milliseconds.

Each function takes the run's data interval start and works on that calendar month in
Asia/Ho_Chi_Minh time (a UTC midnight would fall in the previous month).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime
from typing import Any

from chiso import pipeline
from chiso.core.config import settings
from chiso.core.months import local_instant, month_of
from chiso.notify.alerts import send
from chiso.orchestration.failure_alert import task_failure_alert
from chiso.quality.results import GateFailed
from chiso.sources.systems import ApiSettings, api_conn_id, api_settings_of

log = logging.getLogger(__name__)


def _api_settings(source: str, province: str | None = None) -> ApiSettings:
    """The API of `source` (of `province`'s installation, in a deployment of several), from
    its Airflow connection; a mapped task instance is named by its province in the UI."""
    from airflow.sdk import Connection, get_current_context

    if province:
        get_current_context()["province"] = province  # the map_index_template's name
    conn = Connection.get(api_conn_id(source, province))
    return api_settings_of(
        conn.host or "", schema=conn.schema, port=conn.port, password=conn.password
    )


# dag_run_conf {"sources_as_of": "close"}: a backfill or manual run replays the close as it ran
# at its close instant (the demo and the tests, with the simulator's clock there)
SOURCES_AS_OF = "sources_as_of"


def pull(source: str, data_interval_end: datetime, province: str | None = None) -> int:
    """Pull from `source`'s API what changed up to the end of the run's data interval (the
    close instant of the monthly close, the end of the day of the daily ingest); with
    `province`, from that province's installation (a deployment of several).

    A scheduled run does so. A backfill or a manual run closes a month that ended long ago:
    its change feeds are pulled up to now, so the month is built from its records as they
    stand, the later changes of its dossiers included. Pulled up to its close instant, it
    would lack every record that changed after it (the dossiers still in progress then), and
    its gate could refuse the month for it, which no later run would publish again. The
    look-back of whole months still ends with the run's month."""
    until = local_instant(data_interval_end)
    return pipeline.ingest_changes(
        settings(),
        source,
        _api_settings(source, province),
        until,
        changes_until=_changes_until(until),
        province=province,
    )


def _changes_until(close: datetime) -> datetime:
    from airflow.sdk import get_current_context

    run = get_current_context()["dag_run"]
    kind = getattr(run.run_type, "value", run.run_type)
    if kind == "scheduled" or (run.conf or {}).get(SOURCES_AS_OF) == "close":
        return close
    return local_instant(datetime.now(UTC))


def inbox(source: str) -> dict[str, int]:
    """Load the files waiting in the source's inbox; bad files are quarantined, not fatal."""
    counts: dict[str, int] = {}
    for r in pipeline.ingest_inbox(settings(), source):
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def _lineage_parent() -> None:
    """Name this task's OpenLineage run as the parent of the dbt build it starts
    (chiso/transform/lineage.py reads OPENLINEAGE_PARENT_ID), so a lineage tool shows the
    build's nodes under the task. Lineage off, or no task context: nothing to name."""
    try:
        from airflow.providers.openlineage.plugins.macros import (
            lineage_parent_id,
            lineage_root_parent_id,
        )
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        os.environ["OPENLINEAGE_PARENT_ID"] = lineage_parent_id(ti)
        os.environ["OPENLINEAGE_ROOT_PARENT_ID"] = lineage_root_parent_id(ti)
    except Exception:  # lineage never fails a task
        log.warning("no OpenLineage parent for this task's dbt build", exc_info=True)


def transform(data_interval_start: datetime) -> str | None:
    _lineage_parent()
    return pipeline.transform(settings(), month_of(data_interval_start))


def validate(data_interval_start: datetime, dbt_invocation_id: str | None) -> str:
    """Run the gate; returns the validation's id for publish. A failure alerts the operators
    (Airflow connections chiso_alert_smtp / chiso_alert_webhook) and fails the task."""
    month = month_of(data_interval_start)
    return pipeline.validate(settings(), month, dbt_invocation_id=dbt_invocation_id).gate_run_id


def publish(data_interval_start: datetime, dbt_invocation_id: str | None, gate_run_id: str) -> int:
    """Publish the validated month as a revision; returns the revision number (unchanged when
    the month equals its current revision)."""
    month = month_of(data_interval_start)
    return pipeline.publish(settings(), month, dbt_invocation_id, gate_run_id).revision


def republish(data_interval_start: datetime) -> list[str]:
    """Republish the earlier months whose numbers the new data changed (within the
    republication window; the others are recorded in ops.publication_drift), then announce
    the close's publications: the published-mart asset's event names the month closed and
    those republished, for the report DAG. Returns the months republished, as YYYY-MM-rN."""
    month = month_of(data_interval_start)
    republished, _ = pipeline.republish_changed(settings(), month, reports=False)
    _announce([month, *(p.period_month for p in republished)])
    return [f"{p.period_month:%Y-%m}-r{p.revision}" for p in republished]


def _announce(months: list[date], *, through_alias: bool = False) -> None:
    """Put the months published on this task's published-mart asset event (its extra); with
    `through_alias`, add that event to the task's alias, and only if there are months."""
    from airflow.sdk import get_current_context

    from chiso.orchestration.assets import KPI_MART, REPUBLISHED

    events = get_current_context()["outlet_events"]
    extra = {"months": sorted({f"{m:%Y-%m}" for m in months})}
    if not through_alias:
        events[KPI_MART].extra = extra
    elif months:
        events[REPUBLISHED].add(KPI_MART, extra=extra)


def report_published(events: Any, months: list[str] | None = None) -> list[str]:
    """Render and deliver the reports of the months the triggering published-mart events name
    (and of `months`, a manual run's), oldest first. Returns the overviews' paths."""
    from chiso.orchestration.assets import KPI_MART

    wanted = set(months or [])
    try:
        triggering = events[KPI_MART] if events else []
    except KeyError:  # a manual run: no event
        triggering = []
    for event in triggering:
        wanted.update((event.extra or {}).get("months", []))
    paths = []
    for text in sorted(wanted):
        month = date.fromisoformat(f"{text}-01")
        paths.append(str(pipeline.report(settings(), month)))
    log.info("reported %s", ", ".join(sorted(wanted)) or "no month")
    return paths


def load_reference() -> dict[str, object]:
    """Load the deployment's reference files if they changed (validated first: invalid files
    alert the operators and fail the task, the warehouse keeping its version)."""
    loaded = pipeline.load_reference(settings(), origin="reference_data DAG")
    return {
        "version": loaded.version_id,
        "changes": loaded.changes.summary() if loaded.changes else None,
        "records_released": loaded.released,
        "files_released": [p.name for p in loaded.files],
    }


def pull_released(source: str, province: str | None = None) -> int:
    """Pull again the months of `source` asked for (records parked for an agency code a load
    has just added, released correction holds; with `province`, those of its agencies from
    its installation); returns rows landed."""
    return pipeline.pull_requested(settings(), source, _api_settings(source, province), province)


def rebuild_reference() -> list[str]:
    """Rebuild what the loaded reference versions touch and republish the months changed,
    announced on a published-mart asset event for the report DAG (none if no month
    changed)."""
    _lineage_parent()
    republished = pipeline.rebuild_reference(settings(), reports=False)
    _announce([p.period_month for p in republished], through_alias=True)
    return [f"{p.period_month:%Y-%m}-r{p.revision}" for p in republished]


def alert_task_failure(context: dict) -> None:
    """on_failure_callback of the DAGs' tasks: alert the operators through the same
    connections as the gate. A failed gate has alerted already (with its failures), so its
    GateFailed is not alerted twice; nor are reference files that failed their suites. Never
    raises: a callback error would only hide the task's own."""
    exception = context.get("exception")
    if isinstance(exception, GateFailed | pipeline.ReferenceInvalid):
        return
    try:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or "monthly_kpi"
        task_id = getattr(ti, "task_id", None) or "?"
        start = context.get("data_interval_start")
        month = f"{month_of(start):%Y-%m}" if start else None
        error = f"{type(exception).__name__}: {exception}" if exception else "unknown error"
        alert = task_failure_alert(
            dag_id=dag_id,
            task_id=task_id,
            month=month,
            try_number=getattr(ti, "try_number", None),
            error=error,
            log_url=getattr(ti, "log_url", None),
        )
        delivery = send(alert)
        log.info("failure alert for %s.%s: %s", dag_id, task_id, delivery)
    except Exception:
        log.exception("could not alert the failure of the task")
