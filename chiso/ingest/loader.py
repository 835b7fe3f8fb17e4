"""Land a delivery in `raw` with PostgreSQL COPY: one transaction, a ledger, no doubles.

A *delivery* is one file or one API pull for one reporting month. It may carry several
entities (a dossier JSON with its supplements and progress events); each becomes a *batch*
in the ledger (`raw.ingest_batches`), all committed together or not at all.

The rules, in the order they apply:

1. **Same content loads once.** A file whose sha256 matches an earlier loaded delivery of the
   same entity is recorded as ``duplicate`` and skipped.
2. **Bad input loads nothing.** Rows are COPYed into the month's partition, then checked in
   SQL (required fields present, dates/numbers/flags parse in a documented layout, the
   record's date in the delivery's month). The first problem aborts the transaction with an
   error naming file, row and field; rows already in `raw` are untouched.
3. **A corrected re-delivery replaces.** Within the month, the new batch replaces earlier
   rows of the same entity for the agencies it contains (``agency_month``), or the whole
   month for entities delivered as one province-wide table (``month``; API pulls always
   replace the whole month, and a pull of one province's installation in a deployment of
   several the month of that province's agencies, ``province_month``). Replaced batches are
   marked ``replaced`` with ``replaced_by``.

Loads of one landing table are serialised with a transaction-scoped advisory lock, which also
keeps each batch's ``_load_seq`` values contiguous (so a CSV line number can be recovered).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import psycopg
from psycopg import sql

from chiso.core.redact import quoted
from chiso.ingest.holds import held_agencies, hold
from chiso.ingest.manifest import check_records
from chiso.ingest.precheck import PreCheck
from chiso.ingest.prefetch import prefetched
from chiso.ingest.raw_tables import (
    RAW_SCHEMA,
    ensure_landing_tables,
    ensure_partition,
    missing_landing_columns,
)
from chiso.ingest.vocabulary import UnknownValue, record_codes
from chiso.sources.canonical import Entity

log = logging.getLogger(__name__)

Channel = Literal["api", "file"]
# Writes a part's rows into COPY; how many landed is COPY's own count (its command tag).
CopyWriter = Callable[[psycopg.Copy], None]


class LoadError(ValueError):
    """A delivery could not be landed; the message names the origin, row and field."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None):
        super().__init__(message)
        self.row = row
        self.field = field


# SQLSTATE classes of failures that pass (a lost connection, a deadlock or serialization
# failure, a full disk or memory, a server shutting down, a system error): the load is retried,
# its file never quarantined
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_COPY_CONTEXT = re.compile(r"COPY \S+, line (\d+)(?:, column ([\w.]+))?")
_QUOTED = re.compile(r'"[^"]*"')


def is_transient(exc: BaseException) -> bool:
    """Whether a database error will likely pass on a retry (re-raised, not quarantined)."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:  # no answer from the server at all: the connection is gone
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in TRANSIENT_SQLSTATE_CLASSES


def describe_db_error(origin: str, exc: psycopg.Error) -> LoadError:
    """The database's refusal of a delivery's data as a LoadError naming the origin, the
    line and column COPY was at and the SQLSTATE, never the data: PostgreSQL quotes the
    offending value and its whole line, personal data included, so quoted text is left out
    (the row is in the file, for whoever may read it)."""
    found = _COPY_CONTEXT.search(exc.diag.context or "")
    line = int(found.group(1)) if found else None
    column = found.group(2) if found else None
    primary = _QUOTED.sub('"…"', exc.diag.message_primary or type(exc).__name__)
    where = f"line {line}: " if line is not None else ""
    where += f"field {column}: " if column else ""
    return LoadError(
        f"{origin}: {where}{primary} (SQLSTATE {exc.sqlstate})", row=line, field=column
    )


class StreamFallback(Exception):
    """Raised by a part's writer when its fast path does not apply after all (the file turns
    out to hold non-NFC, legacy-font or non-UTF-8 text past its head). The transaction rolls
    back, the ledger forgets the attempt, and the caller loads the file the careful way."""


class DuplicateDelivery(Exception):
    """Raised inside the load transaction to roll back content that is already loaded."""

    def __init__(self, original: uuid.UUID):
        super().__init__(str(original))
        self.original = original


@dataclass
class Part:
    """One entity's rows in a delivery and how to stream them."""

    entity: Entity
    columns: list[str]  # landing columns written by COPY, in order
    write: CopyWriter
    copy_options: str = ""  # e.g. "(format csv, header true, delimiter ';')"
    # How to turn a _load_seq offset into a file row number when rows carry no _row_number.
    first_data_row: int = 1
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[dict[str, object]] = field(default_factory=list)
    batch_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # Called after COPY: rows the writer's pre-check could not vouch for (see precheck.py);
    # the SQL checks then look at those rows only. None: every row is checked in SQL.
    precheck: Callable[[], PreCheck] | None = None


@dataclass(frozen=True)
class Delivery:
    source: str
    channel: Channel
    origin: str  # URL or path, for messages and the ledger
    month: date
    file_name: str | None = None
    content_sha256: str | None = None  # files: hash of the bytes, known before loading
    # Replace the whole month whatever the entity's scope (API pulls of every agency).
    whole_month: bool = False
    # A pull of one province's installation (a deployment of several, chiso/sources/systems.py):
    # its whole month is that province's agencies' month, the other provinces' rows stay.
    province: str | None = None
    # The number of records the sender declared (a manifest beside the file) and where: a
    # delivery landing another number is refused (chiso.ingest.manifest)
    declared_records: int | None = None
    declared_by: str | None = None


@dataclass(frozen=True)
class BatchResult:
    entity: str
    batch_id: uuid.UUID
    rows: int
    replaced_rows: int
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: uuid.UUID
    status: Literal["loaded", "duplicate"]
    batches: tuple[BatchResult, ...]
    duplicate_of: uuid.UUID | None = None

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


_prepared: set[str] = set()


def prepare(url: str) -> None:
    """Create or extend the landing tables when the canonical schemas outgrew them, once per
    process and URL. A database that has them all (every load after the first, and every one
    after `chiso db init`) runs no DDL: a catalog read says so, so loads of different sources
    side by side never wait on each other's exclusive locks, nor deadlock. The DDL itself runs
    under one advisory lock, by one process at a time."""
    if url in _prepared:
        return
    with psycopg.connect(url, autocommit=True) as conn:
        if missing_landing_columns(conn):
            conn.execute("select pg_advisory_lock(hashtext('chiso.raw.ddl'))")
            try:
                if missing_landing_columns(conn):  # another process may have done it meanwhile
                    ensure_landing_tables(conn)
            finally:
                conn.execute("select pg_advisory_unlock(hashtext('chiso.raw.ddl'))")
    _prepared.add(url)


@dataclass(frozen=True)
class Parked:
    """What parking bad records did to one part of a delivery (chiso/ingest/rejects.py):
    how many rows left it, and the record keys (`key`: the SQL that reads a row's) whose
    earlier copies a whole month's replacement leaves in place."""

    batch_id: uuid.UUID
    rows: int
    keys: tuple[str, ...]
    key: sql.Composable


# Parks a delivery's bad rows out of its partitions before validation (a whole month's pull):
# (conn, delivery id, delivery, parts, partitions) → one Parked per part
Parker = Callable[
    [psycopg.Connection, uuid.UUID, "Delivery", Sequence["Part"], Sequence[sql.Composed]],
    list[Parked],
]


# Prefix of the session-level advisory lock a load holds on its delivery id while it runs.
_ALIVE = "chiso.load."
INTERRUPTED = (
    "the load was interrupted (its process or connection ended before it finished);"
    " nothing of it landed: load the delivery again"
)


def reconcile_interrupted(conn: psycopg.Connection) -> int:
    """Mark `failed` the ledger rows still `running` whose load is gone: a process killed in
    the middle of COPY (SIGKILL, a power cut) leaves its ledger row `running` while its
    transaction, rows and all, was rolled back. A load holds a lock on its delivery id for
    as long as it runs (on the ledger's connection, which dies with the process), so a row
    whose lock can be taken has no load behind it. Returns how many rows were marked."""
    with conn.transaction():
        return conn.execute(
            "update raw.ingest_batches set status = 'failed', error = %s, finished_at = now()"
            " where status = 'running' and delivery_id is not null"
            " and pg_try_advisory_xact_lock(hashtext(%s || delivery_id::text))",
            (INTERRUPTED, _ALIVE),
        ).rowcount


def load_delivery(
    url: str,
    delivery: Delivery,
    parts: Sequence[Part],
    *,
    content_digest: Callable[[], str] | None = None,
    park: Parker | None = None,
) -> DeliveryResult:
    """Land every part of `delivery` in one transaction (see the module docstring). With
    `park`, rows it finds bad are parked instead of failing the delivery (an API pull)."""
    prepare(url)
    delivery_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as ledger:
        reconcile_interrupted(ledger)
        # held while this process loads: the mark of a load still alive (reconcile_interrupted)
        ledger.execute("select pg_advisory_lock(hashtext(%s))", (_ALIVE + str(delivery_id),))
        for part in parts:
            ledger.execute(
                "insert into raw.ingest_batches (batch_id, delivery_id, source, entity,"
                " target_table, channel, extract_month, origin, file_name, content_sha256,"
                " replace_scope, source_province, status)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'running')",
                (
                    part.batch_id,
                    delivery_id,
                    delivery.source,
                    part.entity.qualified_name,
                    f"{RAW_SCHEMA}.{part.entity.table}",
                    delivery.channel,
                    delivery.month,
                    delivery.origin,
                    delivery.file_name,
                    delivery.content_sha256,
                    _replace_scope(delivery, part.entity),
                    delivery.province,
                ),
            )
        primary = parts[0]
        if delivery.content_sha256:
            original = _find_loaded(ledger, primary.entity, delivery.content_sha256)
            if original is not None:
                _mark_duplicate(ledger, parts, original)
                log.info("%s: same content as batch %s; skipped", delivery.origin, original)
                return DeliveryResult(delivery_id, "duplicate", (), original)
        try:
            if delivery.channel == "api":
                parts = prefetched(parts)  # paged before the table's lock
            results = _load_parts(url, delivery_id, delivery, parts, content_digest, park)
        except DuplicateDelivery as dup:
            _mark_duplicate(ledger, parts, dup.original)
            return DeliveryResult(delivery_id, "duplicate", (), dup.original)
        except StreamFallback:
            ledger.execute(
                "delete from raw.ingest_batches where batch_id = any(%s)",
                ([p.batch_id for p in parts],),
            )
            raise
        except Exception as exc:
            status = "quarantined" if delivery.channel == "file" else "failed"
            failure: BaseException = exc
            if is_transient(exc):
                status = "failed"  # retried by the caller, the file kept where it is
                failure = RuntimeError(
                    f"{delivery.origin}: the database failed"
                    f" (SQLSTATE {getattr(exc, 'sqlstate', None) or 'none'}): will be retried"
                )
            elif isinstance(exc, psycopg.Error):
                failure = describe_db_error(delivery.origin, exc)
            row = getattr(failure, "row", None)
            fld = getattr(failure, "field", None)
            for part in parts:
                ledger.execute(
                    "update raw.ingest_batches set status = %s, error = %s, error_row = %s,"
                    " error_field = %s, finished_at = now() where batch_id = %s",
                    (status, str(failure)[:4000], row, fld, part.batch_id),
                )
            if failure is exc or is_transient(exc):
                raise
            raise failure from None
    for r in results:
        log.info(
            "loaded %s rows of %s from %s for %s (replaced %s)",
            r.rows,
            r.entity,
            delivery.origin,
            delivery.month.strftime("%Y-%m"),
            r.replaced_rows,
        )
    return DeliveryResult(delivery_id, "loaded", tuple(results))


def _find_loaded(conn: psycopg.Connection, entity: Entity, sha: str) -> uuid.UUID | None:
    row = conn.execute(
        "select batch_id from raw.ingest_batches where target_table = %s"
        " and content_sha256 = %s and status in ('loaded', 'replaced')"
        " order by started_at limit 1",
        (f"{RAW_SCHEMA}.{entity.table}", sha),
    ).fetchone()
    return row[0] if row else None


def _mark_duplicate(conn: psycopg.Connection, parts: Sequence[Part], original: uuid.UUID) -> None:
    for part in parts:
        conn.execute(
            "update raw.ingest_batches set status = 'duplicate', duplicate_of = %s,"
            " row_count = 0, finished_at = now() where batch_id = %s",
            (original, part.batch_id),
        )


def _load_parts(
    url: str,
    delivery_id: uuid.UUID,
    delivery: Delivery,
    parts: Sequence[Part],
    content_digest: Callable[[], str] | None,
    park: Parker | None,
) -> list[BatchResult]:
    results: list[BatchResult] = []
    with psycopg.connect(url) as conn, conn.transaction():
        lock_tables(conn, parts)
        copied = []
        for part in parts:
            partition = ensure_partition(conn, part.entity, delivery.month)
            copied.append((part, partition, *copy_part(conn, part, partition)))
        if delivery.declared_records is not None:
            why = check_records(
                delivery.origin,
                delivery.declared_by or "its manifest",
                delivery.declared_records,
                copied[0][2],
            )
            if why:
                raise LoadError(why)
        parked = park(conn, delivery_id, delivery, parts, [c[1] for c in copied]) if park else []
        kept = {p.batch_id: p for p in parked}
        staged: list[tuple[Part, sql.Composed, int, int, PreCheck | None]] = []
        for part, partition, rows, first_seq in copied:
            pre = part.precheck() if part.precheck else None
            if part.batch_id in kept:
                rows -= kept[part.batch_id].rows
                pre = None  # rows left: the pre-check's row numbers no longer line up
            if pre is not None and (pre.error is not None or pre.rows != rows):
                log.info("pre-check not usable (%s); checking every row in SQL", pre.error or rows)
                pre = None
            validate_rows(conn, delivery, part, partition, first_seq, pre)
            check_codes(conn, delivery, part, partition, first_seq, pre)
            staged.append((part, partition, rows, first_seq, pre))
        if content_digest is not None:
            sha = content_digest()
            original = _find_loaded(conn, parts[0].entity, sha)
            if original is not None:
                raise DuplicateDelivery(original)
            for part in parts:
                conn.execute(
                    "update raw.ingest_batches set content_sha256 = %s where batch_id = %s",
                    (sha, part.batch_id),
                )
        for part, partition, rows, first_seq, pre in staged:
            results.append(
                _replace_and_record(
                    conn, delivery, part, partition, rows, first_seq, pre, kept.get(part.batch_id)
                )
            )
    return results


def lock_tables(conn: psycopg.Connection, parts: Sequence[Part]) -> None:
    """Serialise loads of the landing tables of `parts` until the transaction ends."""
    for table in sorted({p.entity.table for p in parts}):
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"chiso.raw.{table}",))


def copy_part(conn: psycopg.Connection, part: Part, target: sql.Composable) -> tuple[int, int]:
    """COPY the part's rows into `target` (a month's partition, or a change delivery's
    temporary table) under the part's batch id; returns (rows, first_seq): COPY's own count
    and the sequence value before the first row, to turn a _load_seq back into a row."""
    conn.execute("select set_config('chiso.batch_id', %s, true)", (str(part.batch_id),))
    seq = f"{RAW_SCHEMA}.{part.entity.table}__load_seq"
    first_seq = conn.execute("select nextval(%s)", (seq,)).fetchone()[0]  # type: ignore[index]
    stmt = sql.SQL("copy {} ({}) from stdin {}").format(
        target,
        sql.SQL(", ").join(map(sql.Identifier, part.columns)),
        sql.SQL(part.copy_options),  # type: ignore[arg-type]
    )
    cur = conn.cursor()
    with cur.copy(stmt) as copy:
        part.write(copy)
    return cur.rowcount, first_seq


def _row_of(part: Part, load_seq: int, row_number: int | None, first_seq: int) -> int:
    if row_number is not None:
        return row_number
    return part.first_data_row + (load_seq - first_seq - 1)


def row_checks(delivery: Delivery, part: Part, *, in_month: bool = True) -> list[sql.Composable]:
    """The SQL ``when … then problem`` branches that find what is wrong with a landed row: a
    missing required field, a malformed value, (`in_month`) a date outside the delivery's
    month. A problem reads ``field: what`` and, for a value, chr(31) then the value (quoted
    in Python, :func:`chiso.core.redact.quoted`). Raises when a required column is absent."""
    entity = part.entity
    checks: list[sql.Composable] = []
    for f in entity.fields:
        col = sql.Identifier(f.name)
        if f.required and f.name in part.columns:
            checks.append(
                sql.SQL("when btrim(coalesce({}, '')) = '' then {}").format(
                    col, sql.Literal(f"{f.name}: missing")
                )
            )
        if f.name in part.columns and f.type in (
            "timestamp",
            "date",
            "int",
            "decimal",
            "percent",
            "bool",
        ):
            checks.append(
                sql.SQL("when raw.is_malformed({}, {}) then {} || {}").format(
                    col,
                    sql.Literal(f.type),
                    sql.Literal(f"{f.name}: not a valid {f.type}: "),
                    sql.SQL("chr(31) || left({}, 60)").format(col),  # quoted in Python (redact)
                )
            )
    if entity.agency_field and entity.agency_is_code and entity.agency_field in part.columns:
        checks.append(unknown_agency_check(entity.agency_field))
    missing_required = [
        f.name
        for f in entity.fields
        if f.required and f.name not in part.columns and f.name != entity.agency_field
    ]
    if missing_required:
        raise LoadError(
            f"{delivery.origin}: {entity.qualified_name}: required column"
            f" {', '.join(missing_required)} not found",
            field=missing_required[0],
        )
    if in_month and entity.period_field and entity.period_field in part.columns:
        col = sql.Identifier(entity.period_field)
        m = delivery.month
        # Cheap accepts first (the value's layout already passed the type check above):
        # yyyyMMdd…, ISO yyyy-MM… and …/MM/yyyy; only other layouts pay for a full parse.
        # An ISO time with a zone (Z, +07:00) is not taken at its word: 2020-01-31T17:00:00Z
        # is 1 February 00:00 in Asia/Ho_Chi_Minh, February's (parse_vn_timestamp converts).
        fast = sql.SQL(
            "(left({c}, 6) = {a} and length({c}) in (8, 12, 14))"
            " or (left({c}, 7) = {b} and {c} !~ '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})[[:space:]]*$')"
            " or strpos({c}, {d}) > 0 or strpos({c}, {e}) > 0"
        ).format(
            c=col,
            a=sql.Literal(f"{m:%Y%m}"),
            b=sql.Literal(f"{m:%Y-%m}"),
            d=sql.Literal(f"/{m:%m}/{m:%Y}"),
            e=sql.Literal(f"/{m.month}/{m:%Y}"),
        )
        checks.append(
            sql.SQL(
                "when not ({}) and date_trunc('month', raw.parse_vn_timestamp({}))::date <> {}"
                " then {} || {}"
            ).format(
                fast,
                col,
                sql.Literal(delivery.month),
                sql.Literal(
                    f"{entity.period_field}: outside the delivery's month {delivery.month:%Y-%m}: "
                ),
                sql.SQL("chr(31) || left({}, 60)").format(col),  # quoted in Python (redact)
            )
        )
    return checks


# What a record whose agency the reference data does not know gets (chiso/ingest/agency_codes.py
# finds them again when a reference load adds the code)
UNKNOWN_AGENCY = "not an agency code of the reference data"


def unknown_agency_check(field: str) -> sql.Composable:
    """The ``when … then`` branch of an agency code that no version of the loaded reference
    data has (reference.agencies, chiso/reference/): the vendor serves an agency the operator
    has not added yet, or the field holds a word. Before the first load of the reference
    (a warehouse that has none) nothing is known and nothing is checked."""
    col = sql.Identifier(field)
    return sql.SQL(
        "when nullif(trim({c}), '') is not null"
        " and exists (select 1 from reference.agencies)"
        " and not exists (select 1 from reference.agencies as known"
        " where known.agency_code = trim({c})) then {p} || chr(31) || left(trim({c}), 60)"
    ).format(c=col, p=sql.Literal(f"{field}: {UNKNOWN_AGENCY}: "))


def validate_rows(
    conn: psycopg.Connection,
    delivery: Delivery,
    part: Part,
    partition: sql.Composed,
    first_seq: int,
    pre: PreCheck | None = None,
    *,
    in_month: bool = True,
) -> None:
    """Find the first row with a missing required field, a malformed value or (`in_month`) a
    date outside the delivery's month; raise naming file, row and field. With a pre-check,
    only the rows it could not vouch for are looked at. A change delivery spans months: it
    passes `in_month=False` and lands each row in its own month."""
    checks = row_checks(delivery, part, in_month=in_month)
    if not checks:
        return
    scope = sql.SQL("_batch_id = %s")
    params: list[object] = [part.batch_id]
    if pre is not None and not (pre.agencies and unknown_agencies(conn, part, pre.agencies)):
        # the pre-check vouches for values, not for agency codes: the rows of an agency the
        # reference does not know are looked at whatever it found
        if not pre.suspects:
            return
        scope = scope + sql.SQL(" and _load_seq = any(%s::bigint[])")
        params.append([first_seq + 1 + i for i in pre.suspects])
    query = sql.SQL(
        "select _load_seq, _row_number, problem from (select _load_seq, _row_number,"
        " case {} end as problem from {} where {}) as t"
        " where problem is not null order by _load_seq limit 1"
    ).format(sql.SQL(" ").join(checks), partition, scope)
    bad = conn.execute(query, params).fetchone()
    if bad is None:
        return
    load_seq, row_number, problem = bad
    row = _row_of(part, load_seq, row_number, first_seq)
    fld, _, detail = problem_text(problem).partition(": ")
    raise LoadError(f"{delivery.origin}: row {row}: field {fld}: {detail}", row=row, field=fld)


def unknown_agencies(conn: psycopg.Connection, part: Part, agencies: set[str]) -> list[str]:
    """Which of `agencies` (codes seen in a part) the loaded reference data does not know; none
    for an entity whose agency field is not a code, or before the first load."""
    entity = part.entity
    if not (entity.agency_field and entity.agency_is_code):
        return []
    rows = conn.execute(
        "select code from unnest(%s::text[]) as seen (code)"
        " where exists (select 1 from reference.agencies)"
        " and not exists (select 1 from reference.agencies as known"
        " where known.agency_code = seen.code)",
        (sorted(agencies),),
    ).fetchall()
    return [code for (code,) in rows]


def problem_text(problem: str) -> str:
    """A :func:`row_checks` problem as an error says it: the value quoted unless it could be
    a personal datum."""
    text, marked, value = problem.partition("\x1f")
    return text + quoted(value) if marked else text


def check_codes(
    conn: psycopg.Connection,
    delivery: Delivery,
    part: Part,
    table: sql.Composable,
    first_seq: int,
    pre: PreCheck | None = None,
) -> None:
    """Every value of the part's coded fields is a code or a vendor word the vocabularies
    know (recorded in raw.value_codes); else raise naming file, row, field and value. With a
    pre-check, its distinct values are used instead of a scan of the landed rows."""
    try:
        record_codes(
            conn,
            part.entity,
            part.columns,
            table,
            part.batch_id,
            delivery.origin,
            lambda load_seq, row_number: _row_of(part, load_seq, row_number, first_seq),
            seen=pre.values if pre is not None else None,
        )
    except UnknownValue as exc:
        raise LoadError(str(exc), row=exc.row, field=exc.field) from None


def _replace_scope(delivery: Delivery, entity: Entity) -> str:
    """What a delivery's rows replace, for the ledger: the month of every agency (an API pull),
    of one province's agencies (a pull of its installation), or the entity's own scope."""
    if not delivery.whole_month:
        return entity.replace_scope
    return "province_month" if delivery.province and entity.agency_field else "month"


def _replace_and_record(
    conn: psycopg.Connection,
    delivery: Delivery,
    part: Part,
    partition: sql.Composed,
    rows: int,
    first_seq: int,
    pre: PreCheck | None = None,
    parked: Parked | None = None,
) -> BatchResult:
    entity = part.entity
    agencies: list[str] = []
    if entity.agency_field and pre is not None:
        agencies = sorted(pre.agencies)
    elif entity.agency_field:
        agencies = [
            r[0]
            for r in conn.execute(
                sql.SQL("select distinct btrim({}) from {} where _batch_id = %s order by 1").format(
                    sql.Identifier(entity.agency_field), partition
                ),
                (part.batch_id,),
            )
            if r[0]
        ]
    whole_month = delivery.whole_month or entity.replace_scope == "month" or not entity.agency_field
    warnings = list(part.warnings)
    held: list[str] = []
    if delivery.channel == "api" and entity.agency_field:
        # an operator's corrected file holds its agency-month: the pull leaves it as it is
        held = sorted(held_agencies(conn, entity.qualified_name, delivery.month))
    if held:
        skipped = conn.execute(
            sql.SQL("delete from {} where _batch_id = %s and btrim({}) = any(%s)").format(
                partition, sql.Identifier(entity.agency_field or "")
            ),
            (part.batch_id, held),
        ).rowcount
        rows -= skipped
        warnings.append(held_warning(held, agencies, skipped))
        agencies = [a for a in agencies if a not in held]
    scope = sql.SQL("_batch_id <> %s")
    params: list[object] = [part.batch_id]
    if not whole_month:
        scope = scope + sql.SQL(" and btrim({}) = any(%s)").format(
            sql.Identifier(entity.agency_field or "")
        )
        params.append(agencies)
    elif held:
        scope = scope + sql.SQL(" and btrim({}) <> all(%s)").format(
            sql.Identifier(entity.agency_field or "")
        )
        params.append(held)
    if whole_month and delivery.province and entity.agency_field:
        # one province's installation answered: its agencies as the reference data places
        # them, and any the answer holds (a dossier transferred in keeps its place)
        scope = scope + sql.SQL(
            " and (btrim({a}) = any(%s) or btrim({a}) in (select agency_code"
            " from reference.agencies where province_code = %s))"
        ).format(a=sql.Identifier(entity.agency_field))
        params.extend([agencies, delivery.province])
    if parked is not None and parked.keys:
        # the earlier copies of parked records stay until a pull brings them whole
        scope = scope + sql.SQL(" and not ({} = any(%s))").format(parked.key)
        params.append(list(parked.keys))
    # Usually nothing to replace (a month's first delivery): a cheap look before the delete.
    others = conn.execute(
        sql.SQL("select exists (select 1 from {} where _batch_id <> %s)").format(partition),
        (part.batch_id,),
    ).fetchone()[0]  # type: ignore[index]
    # One pass: delete the rows replaced and count them per earlier batch.
    deleted = (
        []
        if not others
        else conn.execute(
            sql.SQL(
                "with d as (delete from {} where {} returning _batch_id)"
                " select _batch_id, count(*) from d group by _batch_id"
            ).format(partition, scope),
            params,
        ).fetchall()
    )
    older = [b for b, _ in deleted]
    replaced_rows = sum(n for _, n in deleted)
    mark_emptied(conn, partition, older, part.batch_id)
    conn.execute(
        "update raw.ingest_batches set status = 'loaded', row_count = %s, first_load_seq = %s,"
        " agency_codes = %s, replaced_rows = %s, extra_columns = %s, warnings = %s,"
        " finished_at = now() where batch_id = %s",
        (
            rows,
            first_seq,
            agencies,
            replaced_rows,
            part.extra_columns or None,
            psycopg.types.json.Jsonb(warnings) if warnings else None,
            part.batch_id,
        ),
    )
    if delivery.channel == "file":
        hold(conn, entity.qualified_name, agencies, delivery.month, part.batch_id)
    return BatchResult(entity.qualified_name, part.batch_id, rows, replaced_rows, tuple(agencies))


def mark_emptied(
    conn: psycopg.Connection,
    partition: sql.Composed,
    batches: Sequence[uuid.UUID],
    by: uuid.UUID,
) -> None:
    """Mark ``replaced`` (by batch `by`) each of `batches` that has no row left: a batch
    covers one month, so its rows can only be in this partition."""
    for old in batches:
        remaining = conn.execute(
            sql.SQL("select exists (select 1 from {} where _batch_id = %s)").format(partition),
            (old,),
        ).fetchone()[0]  # type: ignore[index]
        if not remaining:
            conn.execute(
                "update raw.ingest_batches set status = 'replaced', replaced_by = %s"
                " where batch_id = %s and status = 'loaded'",
                (by, old),
            )


def held_warning(held: Sequence[str], agencies: Sequence[str], rows: int) -> dict[str, object]:
    """The ledger's warning for rows a pull did not write because of correction holds."""
    return {
        "kind": "correction_hold",
        "agencies": sorted(set(held) & set(agencies)) or sorted(held),
        "rows_not_written": rows,
        "message": "an operator's corrected file holds these agencies' month; the pulled rows"
        " were not written (release with `chiso corrections release`)",
    }


def record_rejected(
    url: str, *, source: str, origin: str, file_name: str | None, sha: str | None, error: str
) -> uuid.UUID:
    """Ledger a delivery refused before any row was read (unreadable file, no month …)."""
    prepare(url)
    batch_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.ingest_batches (batch_id, delivery_id, source, target_table,"
            " channel, origin, file_name, content_sha256, status, error, finished_at)"
            " values (%s, %s, %s, '', 'file', %s, %s, %s, 'quarantined', %s, now())",
            (batch_id, batch_id, source, origin, file_name, sha, error[:4000]),
        )
    return batch_id
