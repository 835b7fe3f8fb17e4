"""The monthly close's deadline: a month not published by its deadline day alerts the
operators, on the same channels as a failed gate (Airflow connections ``chiso_alert_smtp``,
``chiso_alert_webhook``).

dags/monthly_kpi.py gives the DAG an Airflow deadline alert whose reference is
`PublicationDeadline`: the start of the deadline day of the month after the one the run closes
(``CHISO_PUBLISH_DEADLINE_DAY``, source local time). A run created after that day (a backfill
of past months, a month closed late) gets the close's allowance from its creation instead
(`Cadence.close_deadline()`: from the close instant to the deadline day), so a backfill over
years alerts only for a run that takes longer than a close may. A run that succeeds before its
deadline has it dropped by Airflow; a run still running, or failed and not run again, makes the
triggerer call `on_missed_close` (an ``AsyncCallback``), which runs `alert_missed_close` in a
thread: it looks at the warehouse first (a month published some other way, ``chiso publish``
by hand, is not alerted), then sends on the alert channels. Not a ``SyncCallback``, run by an
executor: Airflow 3.3.2's Execution API refuses such a callback the connections it asks for
(``AirflowSecretsBackendAccessDenied``), so it could alert nobody.

Why not Airflow's ``DAGRUN_QUEUED_AT`` reference: Airflow 3.3.2 recomputes such deadlines when
a run's tasks are cleared, and fails there on the interval it stored (``TypeError: unsupported
type for timedelta seconds component: dict``), so clearing a failed task (what an operator
does, and what a backfill does to a failed month) breaks. A custom reference is not recomputed.
Airflow finds it through chiso's plugin (chiso/orchestration/airflow_plugin.py, entry point
``airflow.plugins``), which every Airflow component loads.

Airflow's deadlines only watch runs that exist: a month whose run was never created (the DAG
paused, the scheduler down) is found by `chiso doctor` (chiso/orchestration/doctor.py).

The DAG file names the callback, and Airflow imports it when it parses the file: this module
imports nothing heavy until the callback runs.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import date, datetime
from typing import Any

from airflow.sdk.definitions.deadline import BaseDeadlineReference

from chiso.core.cadence import Cadence
from chiso.core.months import LOCAL_TZ, month_of
from chiso.notify.alerts import Alert, send

log = logging.getLogger(__name__)

# What each run state means to an operator reading the alert
STATES = {
    "running": "vẫn đang chạy",
    "queued": "đang chờ chạy",
    "failed": "đã thất bại và chưa được chạy lại",
}


def publication_deadline(month: date, created: datetime, cadence: Cadence) -> datetime:
    """When the close of `month` created at `created` must have published it (aware): the
    month's deadline day, or, for a run created after it, its allowance from creation."""
    if cadence.close_deadline_seconds:  # a drill: the allowance alone
        return created + cadence.close_deadline()
    due = cadence.publish_deadline(month).replace(tzinfo=LOCAL_TZ)
    return max(due, created + cadence.close_deadline())


class PublicationDeadline(BaseDeadlineReference):
    """Airflow deadline reference of the monthly close (see the module's docstring): the run's
    deadline is `publication_deadline` of the month of its data interval. Evaluated by the
    scheduler or the API server when they create the run (Airflow passes the run's ids)."""

    required_kwargs = frozenset({"dag_id", "run_id"})

    def _evaluate_with(
        self, *, session: Any, dag_id: str, run_id: str, **_: Any
    ) -> datetime | None:
        from airflow.models import DagRun
        from airflow.utils import timezone
        from sqlalchemy import select

        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        start = run.data_interval_start if run is not None else None
        if start is None:
            return None
        return publication_deadline(month_of(start), timezone.utcnow(), Cadence.from_env())


def missed_close_alert(
    *, dag_id: str, run_id: str, month: date, state: str | None, deadline: datetime
) -> Alert:
    """The alert for a month not published by its deadline."""
    due = f"{deadline.astimezone(LOCAL_TZ):%H:%M %d/%m/%Y}"
    subject = f"[chiso] Quá hạn công bố: tháng {month:%m/%Y} chưa được công bố (hạn {due})"
    doing = STATES.get(state or "", f"ở trạng thái {state}")
    text = "\n".join(
        [
            f"Số liệu tháng {month:%m/%Y} chưa được công bố trước hạn {due}.",
            f"Lần chạy {run_id} của {dag_id} {doing}.",
            "Xử lý: xem docs/runbook.md (mục «A month missed its deadline»): tìm tác vụ lỗi"
            " hoặc đang chờ trong Airflow, sửa nguyên nhân rồi chạy lại (Clear).",
        ]
    )
    body = (
        f"<p>Số liệu <b>tháng {month:%m/%Y}</b> chưa được công bố trước hạn"
        f" <b>{html.escape(due)}</b>.</p><p>Lần chạy {html.escape(run_id)} của"
        f" {html.escape(dag_id)} {html.escape(doing)}.</p><p>Xử lý: xem docs/runbook.md"
        " (mục «A month missed its deadline»).</p>"
    )
    payload = {
        "event": "chiso.close_deadline_missed",
        "dag_id": dag_id,
        "run_id": run_id,
        "month": f"{month:%Y-%m}",
        "state": state,
        "deadline": deadline.isoformat(),
        "text": f"{subject}\n{text}",
    }
    return Alert(subject, text, f"<html><body>{body}</body></html>", payload)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)) if value else None


def alert_missed_close(context: dict[str, Any] | None = None, **_: Any) -> None:
    """SyncCallback of the monthly close's deadline alert (dags/monthly_kpi.py). `context` is
    what Airflow gives a deadline's callback: the run (``dag_run``, as the REST API shows it)
    and the ``deadline`` (``deadline_time``). Never raises: a callback's error would only be
    logged by the scheduler, where nobody reads it."""
    from chiso.core.config import settings
    from chiso.publish.revisions import published_revisions
    from chiso.runtime.warehouse import urls

    try:
        run = (context or {}).get("dag_run") or {}
        start = _instant(run.get("data_interval_start") or run.get("logical_date"))
        deadline = _instant(((context or {}).get("deadline") or {}).get("deadline_time"))
        if start is None or deadline is None:
            log.error("deadline callback without a run's month or deadline: %s", sorted(run))
            return
        month = month_of(start)
        revision = published_revisions(urls(settings()).transformer).get(month)
        if revision is not None:
            log.info("%s is published (revision %s): no deadline alert", f"{month:%Y-%m}", revision)
            return
        alert = missed_close_alert(
            dag_id=str(run.get("dag_id") or "monthly_kpi"),
            run_id=str(run.get("dag_run_id") or run.get("run_id") or "?"),
            month=month,
            state=run.get("state"),
            deadline=deadline,
        )
        delivery = send(alert)
        log.warning("%s missed its deadline: alerted %s", f"{month:%Y-%m}", delivery)
    except Exception:
        log.exception("could not alert the missed deadline")


async def on_missed_close(context: dict[str, Any] | None = None, **_: Any) -> None:
    """AsyncCallback of the monthly close's deadline alert (dags/monthly_kpi.py), run by the
    triggerer: `alert_missed_close` in a thread, so its database read and its SMTP exchange
    never hold the triggerer's event loop."""
    await asyncio.to_thread(alert_missed_close, context)
