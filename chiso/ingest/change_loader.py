"""Land a change delivery: records changed in a window, each replacing its earlier version.

A change pull (chiso/ingest/changes.py) asks a source for every record changed since the
entity's watermark. Those records belong to many months (a dossier received in January and
resolved in February comes back in February's pulls); each replaces its earlier version in
the partition of its own month, the month of its period field (``ngay_tiep_nhan`` for a
dossier), where the monthly pull or an earlier change pull landed it. So raw keeps one
current copy per record, in the same place whichever way it arrived, and dbt's staging
restages exactly the months a pull touched (the ledger has one batch per month touched,
grouped by the delivery's id).

In one transaction:

1. the rows are COPYed into temporary tables and checked as a monthly delivery's are
   (required fields, layouts; the first problem aborts with file/URL, row and field);
2. each row's month is read from its period field, and a child row (a dossier's supplement
   or progress event) takes its parent's;
3. rows of agency-months held by an operator's correction (chiso/ingest/holds.py) are not
   written, and the month's batch says so in its warnings;
4. a row older than the copy raw already holds (by the change field) is not written either:
   two overlapping pulls landing out of order never move a record back in time;
5. per month: the earlier copies of the records (and all children of those parents) are
   deleted and the new ones inserted, under a new batch in the ledger;
6. the entity's watermark moves to the window's end, in the same transaction, so it never
   runs ahead of what raw holds.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql

from chiso.ingest.holds import held_agencies
from chiso.ingest.loader import (
    Delivery,
    LoadError,
    Part,
    check_codes,
    copy_part,
    describe_db_error,
    held_warning,
    is_transient,
    lock_tables,
    mark_emptied,
    prepare,
)
from chiso.ingest.prefetch import prefetched
from chiso.ingest.raw_tables import RAW_SCHEMA, ensure_partition, table_ident
from chiso.ingest.rejects import clear_landed, park_rejects
from chiso.sources.canonical import Entity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeWindow:
    """Records whose change field is in [changed_from, changed_to), source local time;
    ``changed_from`` None: from the beginning."""

    changed_from: datetime | None
    changed_to: datetime


@dataclass(frozen=True)
class MonthBatch:
    entity: str
    month: date
    batch_id: uuid.UUID
    rows: int
    replaced_rows: int
    held_rows: int
    stale_rows: int


@dataclass(frozen=True)
class ChangeResult:
    delivery_id: uuid.UUID
    window: ChangeWindow
    received: int  # rows of the primary entity the source sent
    batches: tuple[MonthBatch, ...]

    @property
    def months(self) -> list[date]:
        return sorted({b.month for b in self.batches})

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def _key_list(columns: Sequence[str], alias: str) -> sql.Composable:
    """`btrim(a.k1), btrim(a.k2)`: a record's key as staging derives it (trimmed)."""
    return sql.SQL(", ").join(
        sql.SQL("btrim({}.{})").format(sql.Identifier(alias), sql.Identifier(c)) for c in columns
    )


def _key_expr(columns: Sequence[str], alias: str) -> sql.Composable:
    """`(btrim(a.k1), btrim(a.k2))`: the key as one row value, to compare keys."""
    return sql.SQL("({})").format(_key_list(columns, alias))


def load_changes(
    url: str,
    *,
    source: str,
    origin: str,
    window: ChangeWindow,
    parts: Sequence[Part],
    change_field: str,
    watermark_entity: str,
    province: str | None = None,
) -> ChangeResult:
    """Land the changed records of `parts` (the first is the primary entity; the others its
    children, linked by the primary's first key field) as the module docstring says, and
    advance `watermark_entity`'s watermark to ``window.changed_to``: the one of `province`'s
    installation in a deployment of several (a record is replaced by its key, whichever
    installation sent it)."""
    prepare(url)
    delivery_id = uuid.uuid4()
    primary = parts[0]
    parent_key = primary.entity.key[0]
    delivery = Delivery(
        source=source, channel="api", origin=origin, month=date(1, 1, 1), province=province
    )
    batches: list[MonthBatch] = []
    try:
        # the window's answer paged before the tables' lock: other installations' pulls of the
        # same tables page meanwhile (chiso/ingest/prefetch.py)
        parts = prefetched(parts)
        with psycopg.connect(url) as conn, conn.transaction():
            lock_tables(conn, parts)
            temps: list[sql.Identifier] = []
            first_seqs: list[int] = []
            for n, part in enumerate(parts):
                temp = sql.Identifier(f"chiso_incoming_{n}")
                temps.append(temp)
                conn.execute(
                    sql.SQL(
                        "create temporary table {} (like {} including defaults) on commit drop"
                    ).format(temp, table_ident(part.entity))
                )
                conn.execute(
                    sql.SQL("alter table {} alter column _extract_month drop not null").format(temp)
                )
                first_seqs.append(copy_part(conn, part, temp)[1])
            received = conn.execute(sql.SQL("select count(*) from {}").format(temps[0])).fetchone()[
                0
            ]  # type: ignore[index]
            # 1b. a stray bad record is parked, not a reason to fail the pull (rejects.py)
            rejected = park_rejects(
                conn,
                delivery_id,
                delivery,
                parts,
                temps,
                change_field=change_field,
                changed_from=window.changed_from,
                changed_to=window.changed_to,
            )
            for part, temp, first_seq in zip(parts, temps, first_seqs, strict=True):
                check_codes(conn, delivery, part, temp, first_seq)
            period = primary.entity.period_field
            if period is None:
                raise ValueError(f"{primary.entity.qualified_name} has no period field to land by")
            conn.execute(
                sql.SQL(
                    "update {} set _extract_month ="
                    " date_trunc('month', raw.parse_vn_timestamp({}))::date"
                ).format(temps[0], sql.Identifier(period))
            )
            for temp in temps[1:]:
                conn.execute(
                    sql.SQL(
                        "update {child} as c set _extract_month = p._extract_month"
                        " from {parent} as p where btrim(c.{k}) = btrim(p.{k})"
                    ).format(child=temp, parent=temps[0], k=sql.Identifier(parent_key))
                )
                orphan = conn.execute(
                    sql.SQL(
                        "select _row_number from {} where _extract_month is null limit 1"
                    ).format(temp)
                ).fetchone()
                if orphan is not None:
                    raise LoadError(
                        f"{origin}: row {orphan[0]}: field {parent_key}: no parent record",
                        row=orphan[0],
                        field=parent_key,
                    )
            months = [
                r[0]
                for r in conn.execute(
                    sql.SQL("select distinct _extract_month from {} order by 1").format(temps[0])
                )
            ]
            for month in months:
                batches.extend(
                    _land_month(
                        conn, delivery, delivery_id, window, parts, temps, month, change_field
                    )
                )
            clear_landed(conn, parts, temps[0])
            conn.execute(
                "insert into ops.ingest_watermarks (entity, province, source, changed_to,"
                " delivery_id) values (%s, %s, %s, %s, %s) on conflict (entity, province) do"
                " update set changed_to = excluded.changed_to, delivery_id ="
                " excluded.delivery_id, updated_at = now()"
                " where ingest_watermarks.changed_to < excluded.changed_to",
                (watermark_entity, province or "", source, window.changed_to, delivery_id),
            )
    except Exception as exc:
        if isinstance(exc, psycopg.Error) and not is_transient(exc):
            failure = describe_db_error(origin, exc)  # the data never quoted
            _record_failure(url, delivery_id, delivery, window, primary.entity, failure)
            raise failure from None
        _record_failure(url, delivery_id, delivery, window, primary.entity, exc)
        raise
    if rejected:
        log.warning(
            "changes %s: %s of %s records parked in raw.rejected_records",
            origin,
            rejected,
            received,
        )
    for b in batches:
        log.info(
            "changes %s: %s rows of %s landed in %s (replaced %s, held %s, older %s)",
            origin,
            b.rows,
            b.entity,
            f"{b.month:%Y-%m}",
            b.replaced_rows,
            b.held_rows,
            b.stale_rows,
        )
    return ChangeResult(delivery_id, window, received, tuple(batches))


def _record_failure(
    url: str,
    delivery_id: uuid.UUID,
    delivery: Delivery,
    window: ChangeWindow,
    entity: Entity,
    exc: Exception,
) -> None:
    """Ledger a change pull that landed nothing (its transaction rolled back), with the error
    naming row and field when it has them, as a failed monthly pull is."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.ingest_batches (batch_id, delivery_id, source, entity, target_table,"
            " channel, origin, replace_scope, source_province, status, error, error_row,"
            " error_field, changed_from, changed_to, finished_at) values (%s, %s, %s, %s, %s,"
            " 'api', %s, 'record', %s, 'failed', %s, %s, %s, %s, %s, now())",
            (
                uuid.uuid4(),
                delivery_id,
                delivery.source,
                entity.qualified_name,
                f"{RAW_SCHEMA}.{entity.table}",
                delivery.origin,
                delivery.province,
                str(exc)[:4000],
                getattr(exc, "row", None),
                getattr(exc, "field", None),
                window.changed_from,
                window.changed_to,
            ),
        )


def _land_month(
    conn: psycopg.Connection,
    delivery: Delivery,
    delivery_id: uuid.UUID,
    window: ChangeWindow,
    parts: Sequence[Part],
    temps: Sequence[sql.Identifier],
    month: date,
    change_field: str,
) -> list[MonthBatch]:
    primary = parts[0].entity
    parent_key = primary.key[0]
    partitions = [ensure_partition(conn, p.entity, month) for p in parts]
    held: set[str] = set()
    if primary.agency_field:
        held = held_agencies(conn, primary.qualified_name, month)
    # 3. rows of held agency-months are not written (children go with their parent)
    held_rows = 0
    if held:
        held_rows = conn.execute(
            sql.SQL("delete from {} where _extract_month = %s and btrim({}) = any(%s)").format(
                temps[0], sql.Identifier(primary.agency_field or "")
            ),
            (month, sorted(held)),
        ).rowcount
    # 4. a copy older than the one raw holds is not written
    key_in = _key_expr(primary.key, "i")
    key_held = _key_expr(primary.key, "h")
    stale_rows = conn.execute(
        sql.SQL(
            "delete from {temp} as i where i._extract_month = %s and exists ("
            " select 1 from {part} as h where {kh} = {ki}"
            " and raw.parse_vn_timestamp(h.{cf}) > raw.parse_vn_timestamp(i.{cf}))"
        ).format(
            temp=temps[0],
            part=partitions[0],
            kh=key_held,
            ki=key_in,
            cf=sql.Identifier(change_field),
        ),
        (month,),
    ).rowcount
    for temp in temps[1:]:  # children of parents not written
        conn.execute(
            sql.SQL(
                "delete from {child} as c where c._extract_month = %s and not exists ("
                " select 1 from {parent} as p where p._extract_month = %s"
                " and btrim(p.{k}) = btrim(c.{k}))"
            ).format(child=temp, parent=temps[0], k=sql.Identifier(parent_key)),
            (month, month),
        )
    parents = sql.SQL("select btrim(p.{k}) from {parent} as p where p._extract_month = %s").format(
        k=sql.Identifier(parent_key), parent=temps[0]
    )
    out: list[MonthBatch] = []
    for n, (part, temp, partition) in enumerate(zip(parts, temps, partitions, strict=True)):
        entity = part.entity
        batch_id = uuid.uuid4()
        columns = list(part.columns)  # what COPY wrote, metadata added below
        # 5. the earlier copies of these records go: by key for the primary, by parent for a
        # child (a dossier's supplements are replaced as a set)
        if n == 0:
            match = sql.SQL("{} in (select {} from {} as i where i._extract_month = %s)").format(
                _key_expr(entity.key, "r"), _key_list(entity.key, "i"), temp
            )
        else:
            match = sql.SQL("btrim(r.{}) in ({})").format(sql.Identifier(parent_key), parents)
        deleted = conn.execute(
            sql.SQL(
                "with d as (delete from {} as r where {} returning _batch_id)"
                " select _batch_id, count(*) from d group by _batch_id"
            ).format(partition, match),
            (month,),
        ).fetchall()
        conn.execute(
            "insert into raw.ingest_batches (batch_id, delivery_id, source, entity, target_table,"
            " channel, extract_month, origin, replace_scope, source_province, status,"
            " changed_from, changed_to) values (%s, %s, %s, %s, %s, 'api', %s, %s, 'record',"
            " %s, 'running', %s, %s)",
            (
                batch_id,
                delivery_id,
                delivery.source,
                entity.qualified_name,
                f"{RAW_SCHEMA}.{entity.table}",
                month,
                delivery.origin,
                delivery.province,
                window.changed_from,
                window.changed_to,
            ),
        )
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        inserted = conn.execute(
            sql.SQL(
                "insert into {} ({cols}, _batch_id, _load_seq, _loaded_at, _extract_month)"
                " select {cols}, %s, _load_seq, _loaded_at, _extract_month from {}"
                " where _extract_month = %s"
            ).format(partition, temp, cols=cols),
            (batch_id, month),
        ).rowcount
        agencies: list[str] = []
        if entity.agency_field:
            agencies = [
                r[0]
                for r in conn.execute(
                    sql.SQL(
                        "select distinct btrim({}) from {} where _extract_month = %s order by 1"
                    ).format(sql.Identifier(entity.agency_field), temp),
                    (month,),
                )
                if r[0]
            ]
        mark_emptied(conn, partition, [old for old, _ in deleted], batch_id)
        warnings: list[dict[str, object]] = []
        if n == 0 and held_rows:
            warnings.append(held_warning(sorted(held), sorted(held), held_rows))
        if n == 0 and stale_rows:
            warnings.append(
                {
                    "kind": "older_than_raw",
                    "rows_not_written": stale_rows,
                    "message": "raw already holds a later version of these records",
                }
            )
        replaced = sum(c for _, c in deleted)
        conn.execute(
            "update raw.ingest_batches set status = 'loaded', row_count = %s, agency_codes = %s,"
            " replaced_rows = %s, warnings = %s, finished_at = now() where batch_id = %s",
            (
                inserted,
                agencies,
                replaced,
                psycopg.types.json.Jsonb(warnings) if warnings else None,
                batch_id,
            ),
        )
        out.append(
            MonthBatch(
                entity.qualified_name,
                month,
                batch_id,
                inserted,
                replaced,
                held_rows if n == 0 else 0,
                stale_rows if n == 0 else 0,
            )
        )
    return out
