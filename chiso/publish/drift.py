"""Which published months no longer match what the warehouse would publish now.

Records change after their month closed; each close rebuilds what the new data touched
(dbt rebuilds every period ending on or after the earliest day it rewrote) and checks every
published month: within the republication window a changed month is validated and
republished as revision N+1 with its diff (chiso/pipeline.py, close_month); outside it, or
when its gate fails, the change is only recorded here, for operators:
``select * from marts.kpi_publication_drift`` (runbook, "Months that changed after they were
published"), and listed in the report's data-quality section.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from chiso.publish.revisions import pending_rows


@dataclass(frozen=True)
class Drift:
    period_month: date
    pending_rows: int
    in_window: bool
    checked_at: datetime | None = None
    checked_by: date | None = None
    note: str | None = None


def published_months(conn: psycopg.Connection) -> list[date]:
    return [r[0] for r in conn.execute("select period_month from ops.publication_heads order by 1")]


def check(url: str, months: list[date]) -> dict[date, int]:
    """Rows that differ between audit and the current revision, per month."""
    with psycopg.connect(url) as conn:
        return {m: pending_rows(conn, m) for m in months}


def record(url: str, drifts: list[Drift], checked_by: date) -> None:
    """Store the outcome of a close's check (a month now up to date gets 0)."""
    with psycopg.connect(url) as conn:
        for d in drifts:
            conn.execute(
                "insert into ops.publication_drift (period_month, pending_rows, in_window,"
                " checked_by, note) values (%s, %s, %s, %s, %s) on conflict (period_month) do"
                " update set pending_rows = excluded.pending_rows, in_window = excluded.in_window,"
                " checked_at = now(), checked_by = excluded.checked_by, note = excluded.note",
                (d.period_month, d.pending_rows, d.in_window, checked_by, d.note),
            )


def drifted(url: str) -> list[Drift]:
    """Published months that differ from the warehouse now, as of their last check (what
    marts.kpi_publication_drift shows the BI role)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select period_month, pending_rows, in_window, checked_at, checked_by, note"
            " from marts.kpi_publication_drift order by period_month"
        ).fetchall()
    return [Drift(*r) for r in rows]
