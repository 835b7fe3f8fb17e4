"""Records a change pull parks instead of landing, so one bad record never fails the pull.

A vendor's API answers thousands of records; one with a malformed date, a missing required
field or a change time outside the window asked for (a server clock gone wrong, a filter
ignored) would otherwise fail the whole pull, month after month, until the vendor fixes it.
Such a record is moved, with what was wrong (field and layout, never the value), to
``raw.rejected_records`` (migration V011); a nested child whose parent was parked goes with it.
The rest lands. Above :func:`reject_limit` the pull fails instead: that many bad records is a
broken delivery, not a stray one. The gate of each record's month reports the parked records
(suite ``ingest_rejects``), and a later pull that brings a record whole removes it from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from chiso.ingest.loader import Delivery, LoadError, Part, problem_text, row_checks

# At most this many records, or this share of a pull, may be parked; more fail the pull.
REJECT_MIN = 10
REJECT_SHARE = 0.01


def reject_limit(received: int) -> int:
    """How many records a pull of ``received`` records may park before it fails instead."""
    return max(REJECT_MIN, int(received * REJECT_SHARE))


def _key(columns: Sequence[str]) -> sql.Composable:
    return sql.SQL("concat_ws('|', {})").format(
        sql.SQL(", ").join(sql.SQL("btrim({})").format(sql.Identifier(c)) for c in columns)
    )


def _window_check(change_field: str, changed_from: datetime | None, changed_to: datetime):
    """A ``when … then`` branch: a change time outside [changed_from, changed_to)."""
    col = sql.Identifier(change_field)
    low = (
        sql.SQL(" or raw.parse_vn_timestamp({}) < {}").format(col, sql.Literal(changed_from))
        if changed_from is not None
        else sql.SQL("")
    )
    return sql.SQL(
        "when {c} is not null and not raw.is_malformed({c}, 'timestamp')"
        " and (raw.parse_vn_timestamp({c}) >= {hi}{lo}) then {p}"
    ).format(
        c=col,
        hi=sql.Literal(changed_to),
        lo=low,
        p=sql.Literal(f"{change_field}: outside the window the pull asked for"),
    )


def park_rejects(
    conn: psycopg.Connection,
    delivery_id: uuid.UUID,
    delivery: Delivery,
    parts: Sequence[Part],
    temps: Sequence[sql.Identifier],
    *,
    change_field: str,
    changed_from: datetime | None,
    changed_to: datetime,
) -> int:
    """Move the bad records of a change delivery's temporary tables to raw.rejected_records
    (children of a parked parent with them); returns how many. Raises LoadError, naming the
    first, when there are more than :func:`reject_limit` of the records received."""
    primary = parts[0].entity
    parent_key = primary.key[0]
    received = conn.execute(sql.SQL("select count(*) from {}").format(temps[0])).fetchone()[0]  # type: ignore[index]
    limit = reject_limit(received)
    period = primary.period_field or change_field
    month_of = sql.SQL(
        "coalesce(case when raw.is_malformed({p}, 'timestamp') then null"
        " else date_trunc('month', raw.parse_vn_timestamp({p}))::date end, {fallback})"
    ).format(p=sql.Identifier(period), fallback=sql.Literal(changed_to.date().replace(day=1)))
    parked = 0
    parked_parents: list[str] = []
    for n, (part, temp) in enumerate(zip(parts, temps, strict=True)):
        checks = list(row_checks(delivery, part, in_month=False))
        if n == 0:
            checks.append(_window_check(change_field, changed_from, changed_to))
        else:
            checks.append(
                sql.SQL("when btrim({}) = any({}) then {}").format(
                    sql.Identifier(parent_key),
                    sql.Literal(parked_parents),
                    sql.Literal(f"{parent_key}: its parent record was rejected"),
                )
            )
        key = (
            _key(part.entity.key)
            if n == 0
            else sql.SQL("btrim({})").format(sql.Identifier(parent_key))
        )
        # a child's month is its parent's; a parked child's is the parked parent's or the window's
        rows = conn.execute(
            sql.SQL(
                "select _load_seq, _row_number, problem, record_key, record_month, record"
                " from (select _load_seq, _row_number, case {checks} end as problem,"
                " {key} as record_key, {month} as record_month,"
                " to_jsonb(t) - '_batch_id' - '_load_seq' - '_loaded_at' - '_extract_month'"
                " as record from {temp} as t) as checked"
                " where problem is not null order by _load_seq limit %s"
            ).format(
                checks=sql.SQL(" ").join(checks),
                key=key,
                month=month_of if n == 0 else sql.Literal(changed_to.date().replace(day=1)),
                temp=temp,
            ),
            (limit + 1,),
        ).fetchall()
        if n == 0 and len(rows) > limit:
            _, row_number, problem, *_ = rows[0]
            fld, _, detail = problem_text(problem).partition(": ")
            raise LoadError(
                f"{delivery.origin}: more than {limit} of {received} records are malformed"
                f" (row {row_number}: field {fld}: {detail}): the pull fails rather than park"
                " them all",
                row=row_number,
                field=fld,
            )
        for load_seq, row_number, problem, record_key, record_month, record in rows:
            fld, _, detail = problem_text(problem).partition(": ")
            conn.execute(
                "insert into raw.rejected_records (delivery_id, source, entity, origin,"
                " record_key, row_number, field, problem, record_month, record)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    delivery_id,
                    delivery.source,
                    part.entity.qualified_name,
                    delivery.origin,
                    record_key,
                    row_number,
                    fld,
                    detail,
                    record_month,
                    psycopg.types.json.Jsonb(record),
                ),
            )
            conn.execute(sql.SQL("delete from {} where _load_seq = %s").format(temp), (load_seq,))
            if n == 0:
                parked_parents.append(str(record_key).split("|", 1)[0])
        parked += len(rows) if n == 0 else 0
    return parked


def clear_landed(conn: psycopg.Connection, parts: Sequence[Part], temp: sql.Identifier) -> int:
    """Forget the parked copies of the records a pull has just landed whole, and of their
    children (parked under their parent's key): the pull brought those again too."""
    primary = parts[0].entity
    return conn.execute(
        sql.SQL(
            "delete from raw.rejected_records where entity = any(%s)"
            " and record_key in (select {} from {})"
        ).format(_key(primary.key), temp),
        ([p.entity.qualified_name for p in parts],),
    ).rowcount
