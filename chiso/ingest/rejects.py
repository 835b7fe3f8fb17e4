"""Records an API pull parks instead of landing, so one bad record never fails the pull.

A vendor's API answers thousands of records; one with a malformed date, a missing required
field, a change time outside the window asked for or, in a whole month's pull, a date outside
that month (a server clock gone wrong, a filter ignored) would otherwise fail the whole pull,
month after month, until the vendor fixes it. So would a record of an agency the loaded
reference data does not know yet (a vendor serving an agency before the operator adds it:
chiso/ingest/agency_codes.py).
Such a record is moved, with what was wrong (field and layout, never the value), to
``raw.rejected_records`` (migration V011); a nested child whose parent was parked goes with it.
The rest lands; a parked record's copy from an earlier pull stays where it was (a whole
month's pull does not replace it). Above :func:`reject_limit` the pull fails instead: that
many bad records is a broken delivery, not a stray one (records of an unknown agency count
apart, up to half the pull: a new agency's month is whole). The gate of each record's month
reports the parked records (suite ``ingest_rejects``), and a later pull that brings a record
whole removes it from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from chiso.ingest.loader import (
    UNKNOWN_AGENCY,
    Delivery,
    LoadError,
    Parked,
    Part,
    problem_text,
    row_checks,
)
from chiso.ingest.raw_tables import record_key, table_ident

# At most this many records, or this share of a pull, may be parked; more fail the pull.
REJECT_MIN = 10
REJECT_SHARE = 0.01


def reject_limit(received: int) -> int:
    """How many records a pull of ``received`` records may park before it fails instead."""
    return max(REJECT_MIN, int(received * REJECT_SHARE))


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
    temps: Sequence[sql.Composable],
    *,
    change_field: str,
    changed_from: datetime | None,
    changed_to: datetime,
) -> int:
    """Move the bad records of a change delivery's temporary tables to raw.rejected_records
    (children of a parked parent with them); returns how many. Raises LoadError, naming the
    first, when there are more than :func:`reject_limit` of the records received."""
    parked = _park(
        conn,
        delivery_id,
        delivery,
        parts,
        [(t, sql.SQL("true")) for t in temps],
        window=(change_field, changed_from, changed_to),
    )
    return parked[0].rows if parked else 0


def park_month_rejects(
    conn: psycopg.Connection,
    delivery_id: uuid.UUID,
    delivery: Delivery,
    parts: Sequence[Part],
    partitions: Sequence[sql.Composable],
) -> list[Parked]:
    """The same for a whole month's pull, whose rows are already in their month's partitions
    (under their batch ids): a record is bad as above or when its date falls outside the
    month. Returns, per part, how many rows were parked and the keys whose earlier copies
    the pull must leave in place."""
    scopes = [
        (partition, sql.SQL("_batch_id = {}").format(sql.Literal(str(part.batch_id))))
        for part, partition in zip(parts, partitions, strict=True)
    ]
    parked = _park(conn, delivery_id, delivery, parts, scopes, window=None)
    primary = parts[0].entity
    if primary.period_field:
        # a record dated in another month that is already in raw in that month is that
        # month's, not a reject: a source whose month filter reads another date sends it in
        # both months' answers (with its children, parked with it)
        conn.execute(
            sql.SQL(
                "with dropped as (delete from raw.rejected_records as r"
                " where r.delivery_id = %(d)s and r.entity = %(e)s and r.field = %(f)s"
                " and r.record_month <> %(m)s and exists (select 1 from {raw} as t"
                " where t._extract_month = r.record_month and {key} = r.record_key)"
                " returning r.record_key)"
                " delete from raw.rejected_records where delivery_id = %(d)s"
                " and entity = any(%(children)s) and record_key in (select record_key from dropped)"
            ).format(raw=table_ident(primary), key=record_key(primary.key)),
            {
                "d": delivery_id,
                "e": primary.qualified_name,
                "f": primary.period_field,
                "m": delivery.month,
                "children": [p.entity.qualified_name for p in parts[1:]],
            },
        )
    # the records this pull brings whole are no longer parked from an earlier one
    table, scope = scopes[0]
    conn.execute(
        sql.SQL(
            "delete from raw.rejected_records where entity = any(%s) and delivery_id <> %s"
            " and record_key in (select {} from {} where {})"
        ).format(record_key(parts[0].entity.key), table, scope),
        ([p.entity.qualified_name for p in parts], delivery_id),
    )
    return parked


def _park(
    conn: psycopg.Connection,
    delivery_id: uuid.UUID,
    delivery: Delivery,
    parts: Sequence[Part],
    scopes: Sequence[tuple[sql.Composable, sql.Composable]],
    *,
    window: tuple[str, datetime | None, datetime] | None,
) -> list[Parked]:
    primary = parts[0].entity
    parent_key = primary.key[0]
    first_table, first_scope = scopes[0]
    received = conn.execute(
        sql.SQL("select count(*) from {} where {}").format(first_table, first_scope)
    ).fetchone()[0]  # type: ignore[index]
    limit = reject_limit(received)
    # records of an agency the reference does not know yet are not malformed: a new agency's
    # month is parked whole, up to half of the pull (more is a vendor writing something else
    # in the field, or a reference that lacks a province: the pull fails)
    unknown_limit = received // 2
    # a month's pull: its month; a change pull: the month its window ends in
    fallback = delivery.month if window is None else window[2].date().replace(day=1)
    period = primary.period_field or (window[0] if window else None)
    month_of: sql.Composable = sql.Literal(fallback)
    if period:
        month_of = sql.SQL(
            "coalesce(case when raw.is_malformed({p}, 'timestamp') then null"
            " else date_trunc('month', raw.parse_vn_timestamp({p}))::date end, {fallback})"
        ).format(p=sql.Identifier(period), fallback=sql.Literal(fallback))
    parked: list[Parked] = []
    parked_parents: list[str] = []
    for n, (part, (table, scope)) in enumerate(zip(parts, scopes, strict=True)):
        checks = list(row_checks(delivery, part, in_month=window is None))
        if n == 0 and window is not None:
            checks.append(_window_check(*window))
        elif n > 0:
            checks.append(
                sql.SQL("when btrim({}) = any({}) then {}").format(
                    sql.Identifier(parent_key),
                    sql.Literal(parked_parents),
                    sql.Literal(f"{parent_key}: its parent record was rejected"),
                )
            )
        key = (
            record_key(part.entity.key)
            if n == 0
            else sql.SQL("btrim({})").format(sql.Identifier(parent_key))
        )
        if not checks:
            parked.append(Parked(part.batch_id, 0, (), key))
            continue
        # a child's month is its parent's; a parked child's is the parked parent's or the window's
        rows = conn.execute(
            sql.SQL(
                "select _load_seq, _row_number, problem, record_key, record_month, record"
                " from (select _load_seq, _row_number, case {checks} end as problem,"
                " {key} as record_key, {month} as record_month,"
                " to_jsonb(t) - '_batch_id' - '_load_seq' - '_loaded_at' - '_extract_month'"
                " as record from {table} as t where {scope}) as checked"
                " where problem is not null order by _load_seq limit %s"
            ).format(
                checks=sql.SQL(" ").join(checks),
                key=key,
                month=month_of if n == 0 else sql.Literal(fallback),
                table=table,
                scope=scope,
            ),
            (limit + unknown_limit + 1,),
        ).fetchall()
        malformed = [r for r in rows if UNKNOWN_AGENCY not in r[2]]
        unknown = [r for r in rows if UNKNOWN_AGENCY in r[2]]
        if n == 0 and (len(malformed) > limit or len(unknown) > unknown_limit):
            many, most = (malformed, limit) if len(malformed) > limit else (unknown, unknown_limit)
            _, row_number, problem, *_ = many[0]
            fld, _, detail = problem_text(problem).partition(": ")
            said = "are malformed" if many is malformed else "name agencies the reference lacks"
            raise LoadError(
                f"{delivery.origin}: more than {most} of {received} records {said}"
                f" (row {row_number}: field {fld}: {detail}): the pull fails rather than park"
                " them all",
                row=row_number,
                field=fld,
            )
        keys: list[str] = []
        for load_seq, row_number, problem, found_key, record_month, record in rows:
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
                    found_key,
                    row_number,
                    fld,
                    detail,
                    record_month,
                    psycopg.types.json.Jsonb(record),
                ),
            )
            conn.execute(sql.SQL("delete from {} where _load_seq = %s").format(table), (load_seq,))
            keys.append(str(found_key))
            if n == 0:
                parked_parents.append(str(found_key).split("|", 1)[0])
        # earlier copies left in place: a parked record's; for children, those of a parked
        # parent only (a child parked alone has its parent's other children landed anew)
        keep = tuple(keys) if n == 0 else tuple(parked_parents)
        parked.append(Parked(part.batch_id, len(rows), keep, key))
    return parked


def clear_landed(conn: psycopg.Connection, parts: Sequence[Part], temp: sql.Identifier) -> int:
    """Forget the parked copies of the records a pull has just landed whole, and of their
    children (parked under their parent's key): the pull brought those again too."""
    primary = parts[0].entity
    return conn.execute(
        sql.SQL(
            "delete from raw.rejected_records where entity = any(%s)"
            " and record_key in (select {} from {})"
        ).format(record_key(primary.key), temp),
        ([p.entity.qualified_name for p in parts],),
    ).rowcount
