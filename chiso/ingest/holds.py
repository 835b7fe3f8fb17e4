"""Correction holds: an operator's corrected file wins over later pulls until released.

When an operator drops a corrected file for an agency's month (docs/runbook.md, "Correcting
a month by file"), its rows replace that agency-month in raw, and the agency-month is *held*:
a later API pull (a change pull, a look-back re-pull, a re-run month) leaves those rows as
they are and records in the ledger, as a warning on its batch, how many rows it did not
write and why. `chiso corrections release` ends the hold; the next pull of the source then
re-pulls the released month whole, so the source's version comes back.

The holds live in ``ops.correction_holds`` (chiso/migrations/V006__change_pulls.sql).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

# Entities an API pull writes: a file of any other entity (the aggregate report) has nothing
# to protect itself from, so it is not held.
PULLED_ENTITIES = frozenset(
    {
        "one_stop.dossiers",
        "one_stop.supplements",
        "one_stop.progress_events",
        "documents.movements",
        "portal.service_catalogue",
        "portal.usage",
    }
)


@dataclass(frozen=True)
class Hold:
    entity: str
    agency_code: str
    extract_month: date
    batch_id: uuid.UUID
    held_at: datetime
    released_at: datetime | None
    released_by: str | None
    repulled_at: datetime | None


def held_agencies(conn: psycopg.Connection, entity: str, month: date) -> set[str]:
    """Agencies of `entity` whose `month` is held by a correction (not released)."""
    rows = conn.execute(
        "select distinct agency_code from ops.correction_holds"
        " where entity = %s and extract_month = %s and released_at is null",
        (entity, month),
    ).fetchall()
    return {r[0] for r in rows}


def hold(
    conn: psycopg.Connection,
    entity: str,
    agencies: Iterable[str],
    month: date,
    batch_id: uuid.UUID,
) -> None:
    """Hold `month` of each agency for the file batch `batch_id` (inside the load's
    transaction: the hold exists exactly when the corrected rows do)."""
    if entity not in PULLED_ENTITIES:
        return
    for agency in agencies:
        conn.execute(
            "insert into ops.correction_holds (entity, agency_code, extract_month, batch_id)"
            " values (%s, %s, %s, %s) on conflict do nothing",
            (entity, agency, month, batch_id),
        )


def holds(url: str, *, include_released: bool = False) -> list[Hold]:
    """Every hold, newest first (the released ones too if asked)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select entity, agency_code, extract_month, batch_id, held_at, released_at,"
            " released_by, repulled_at from ops.correction_holds"
            + ("" if include_released else " where released_at is null")
            + " order by held_at desc, entity, agency_code"
        ).fetchall()
    return [Hold(*r) for r in rows]


def release(url: str, *, agency: str, month: date, entity: str | None, by: str) -> int:
    """Release the holds of `agency`'s `month` (of one entity, or of all); returns how many.
    The next pull of the source re-pulls that month whole (:func:`months_to_repull`)."""
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "update ops.correction_holds set released_at = now(), released_by = %s"
            " where agency_code = %s and extract_month = %s and released_at is null"
            " and (%s::text is null or entity = %s)",
            (by, agency, month, entity, entity),
        )
        return cur.rowcount


# The agencies of one province's installation (a deployment of several): as the reference
# data places them.
_IN_PROVINCE = (
    "(%(p)s::text is null or agency_code in (select agency_code from reference.agencies"
    " where province_code = %(p)s))"
)
# A re-pull asked for a province (its agency's), or for whichever installation pulls next.
_FOR_PROVINCE = "(%(p)s::text is null or province_code is null or province_code = %(p)s)"


def months_to_repull(
    conn: psycopg.Connection, entity: str, province: str | None = None
) -> list[date]:
    """Months of `entity` with a released hold not yet re-pulled, or asked to be pulled again
    (ops.repull_requests: a reference load that added an agency code of parked records). With
    `province` (a pull of that province's installation), those of its agencies only."""
    rows = conn.execute(
        "select extract_month from ops.correction_holds where entity = %(e)s"
        f" and released_at is not null and repulled_at is null and {_IN_PROVINCE}"
        " union select extract_month from ops.repull_requests where entity = %(e)s"
        f" and repulled_at is null and {_FOR_PROVINCE} order by 1",
        {"e": entity, "p": province},
    ).fetchall()
    return [r[0] for r in rows]


def mark_repulled(
    conn: psycopg.Connection, entity: str, month: date, province: str | None = None
) -> None:
    """Record that `entity`'s `month` was pulled again (from `province`'s installation: the
    holds of its agencies and the requests for it)."""
    args = {"e": entity, "m": month, "p": province}
    conn.execute(
        "update ops.correction_holds set repulled_at = now() where entity = %(e)s and"
        f" extract_month = %(m)s and released_at is not null and repulled_at is null"
        f" and {_IN_PROVINCE}",
        args,
    )
    conn.execute(
        "update ops.repull_requests set repulled_at = now() where entity = %(e)s"
        f" and extract_month = %(m)s and repulled_at is null and {_FOR_PROVINCE}",
        args,
    )
