"""Which published months no longer match what the warehouse would publish now.

Records change after their month closed; each close rebuilds what the new data touched
(dbt rebuilds every period ending on or after the earliest day it rewrote) and checks every
published month: within the republication window a changed month is validated and
republished as revision N+1 with its diff (chiso/pipeline.py, close_month); outside it, or
when its gate fails, the change is only recorded here, for operators:
``select * from marts.kpi_publication_drift`` (runbook, "Months that changed after they were
published"), and listed in the report's data-quality section.

Comparing a month's rows with its revision costs in proportion to them, and every close
checks every published month: over years of history that grew into most of a close. So each
check records what it saw, the month's **stamp**: its current publication and, per published
audit mart, its row count and latest `_built_at`. dbt writes every row it builds with its
run's start, later than any before, so a month rebuilt since gets a later `_built_at`, a row
deleted a smaller count, a republication another publication. A month whose stamp equals the
recorded one holds the rows the last check compared, against the same revision: the last
outcome stands, and only its stamp is read (one aggregate per mart for all the months).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql

from chiso.publish.marts import MARTS, tuples
from chiso.publish.revisions import pending_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drift:
    period_month: date
    pending_rows: int
    in_window: bool
    checked_at: datetime | None = None
    checked_by: date | None = None
    note: str | None = None
    stamp: str | None = None  # what the check saw (:func:`stamps`); None: compare next time


@dataclass(frozen=True)
class Checked:
    """One published month as a check found it."""

    pending_rows: int
    stamp: str | None
    compared: bool  # its rows compared now; False: unchanged since the last check, which stands


def published_months(conn: psycopg.Connection) -> list[date]:
    return [r[0] for r in conn.execute("select period_month from ops.publication_heads order by 1")]


def stamps(conn: psycopg.Connection) -> dict[date, str]:
    """Each published month's stamp: its current publication, then per published mart the
    month's audit row count and latest `_built_at`."""
    cur = tuples(conn)
    heads = cur.execute("select period_month, publication_id from ops.publication_heads")
    parts: dict[date, list[str]] = {month: [str(pid)] for month, pid in heads.fetchall()}
    for mart in MARTS:
        query = sql.SQL(
            "select {month}, count(*), max(_built_at) from {audit} where {month} = any(%s)"
            " group by 1"
        ).format(month=sql.Identifier(mart.month_column), audit=sql.Identifier("audit", mart.name))
        built = {m: (n, at) for m, n, at in cur.execute(query, (list(parts),)).fetchall()}
        for month, part in parts.items():
            n, at = built.get(month, (0, None))
            part.append(f"{mart.name}:{n}:{'' if at is None else at.isoformat()}")
    return {month: " ".join(part) for month, part in parts.items()}


def check(url: str, months: list[date]) -> dict[date, Checked]:
    """Per month, the rows that differ between audit and the current revision: compared
    again where the month's stamp moved since the last check (or it has none), the last
    check's count where it did not."""
    with psycopg.connect(url) as conn:
        # one snapshot: a stamp describes the very rows compared, whatever a build commits
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        now = stamps(conn)
        last = {
            month: (pending, stamp)
            for month, pending, stamp in conn.execute(
                "select period_month, pending_rows, audit_stamp from ops.publication_drift"
            )
        }
        checked: dict[date, Checked] = {}
        for month in months:
            stamp = now.get(month)
            pending, seen = last.get(month, (0, None))
            if stamp is not None and seen == stamp:
                checked[month] = Checked(pending, stamp, compared=False)
            else:
                checked[month] = Checked(pending_rows(conn, month), stamp, compared=True)
    compared = sum(c.compared for c in checked.values())
    log.info(
        "checked %s published months: %s compared, %s unchanged since their last check",
        len(checked), compared, len(checked) - compared,
    )  # fmt: skip
    return checked


def record(url: str, drifts: list[Drift], checked_by: date) -> None:
    """Store the outcome of a close's check (a month now up to date gets 0) and its stamp."""
    with psycopg.connect(url) as conn:
        for d in drifts:
            conn.execute(
                "insert into ops.publication_drift (period_month, pending_rows, in_window,"
                " checked_by, note, audit_stamp) values (%s, %s, %s, %s, %s, %s)"
                " on conflict (period_month) do update set pending_rows = excluded.pending_rows,"
                " in_window = excluded.in_window, checked_at = now(),"
                " checked_by = excluded.checked_by, note = excluded.note,"
                " audit_stamp = excluded.audit_stamp",
                (d.period_month, d.pending_rows, d.in_window, checked_by, d.note, d.stamp),
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
