"""Publish one validated month of the KPI marts from the audit area into `marts`, as a revision.

dbt builds the marts into `audit`; the gate validates the month there; this module copies it
into `marts`, which BI tools and the report read. Design, and why:

- **Revisions, append-only.** Each publication of a month is a revision (1, 2, …) recorded in
  `ops.publications` with its time, the git SHA, the dbt invocation id, the gate run it
  passed (or the reason it was forced through a failed gate). The rows of every revision stay
  in `marts.<mart>__revisions`; `ops.publication_heads` points each month at its current
  revision, and the views `marts.mart_kpi_monthly` and `marts.mart_kpi_rollups` show the rows
  of the current revisions. A number once sent to leaders can always be shown again.
- **Atomic.** A publication is one transaction: the new revision's rows, the diff, the head
  pointer and the published dimensions change together. Readers (MVCC) see the previous
  revision or the new one, never a mix, and the views they query are never dropped: a column
  added to a dbt mart is appended to the history table and to the view (`create or replace
  view` keeps the existing columns first, so a BI tool's saved queries keep working).
- **Diff.** Republishing a month stores which rows changed against the current revision
  (`ops.publication_changes`: key, changed columns, old and new row), which the report shows.
- **Idempotent.** Publishing a month whose audit rows equal the current revision, with the same
  gate outcome, creates no revision: a rerun of the DAG changes nothing.
- **Forced.** A month that failed the gate is published only with a recorded reason
  (`chiso publish --force --reason …`), visible in `ops.publications` and in the report.

The caller (DAG task, CLI) runs the gate first and passes its outcome.
"""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from chiso.core.config import REPO_ROOT
from chiso.publish.fingerprint import audit_fingerprint
from chiso.publish.history import ensure_published_schema
from chiso.publish.marts import (
    DIMENSIONS,
    INTERNAL_COLUMNS,
    MARTS,
    PublishedMart,
    columns,
    history_table,
    tuples,
)

log = logging.getLogger(__name__)

JSON_CHUNK = 40
# Publishers take this transaction-level advisory lock: one publication at a time.
PUBLISH_LOCK = "chiso.publish"


class PublishError(RuntimeError):
    """The audit area has nothing to publish for the month, or the gate forbids it."""


@dataclass(frozen=True)
class Publication:
    publication_id: uuid.UUID
    period_month: date
    revision: int
    row_count: int
    changed_rows: int | None = None
    created: bool = True  # False: the audit rows equal the current revision, nothing written
    forced_reason: str | None = None


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def operator() -> str:
    """Who publishes: CHISO_OPERATOR when set (a named person behind a shared service user)."""
    try:
        return os.environ.get("CHISO_OPERATOR") or getpass.getuser()
    except OSError:  # no login name (some containers)
        return "unknown"


def _data_columns(conn: psycopg.Connection, mart: PublishedMart) -> list[str]:
    """The audit mart's columns that are data (what a revision compares), in order."""
    return [c for c, _ in columns(conn, "audit", mart.name) if c not in INTERNAL_COLUMNS]


def _diff(
    conn: psycopg.Connection, mart: PublishedMart, month: date, publication_id: uuid.UUID | None
) -> int:
    """Rows of the month that differ between audit and the current revision. With a
    publication id, they are stored in ops.publication_changes; returns how many."""
    q = sql.Identifier
    columns = _data_columns(conn, mart)
    compared = [c for c in columns if c not in mart.key]

    def row_json(alias: str) -> sql.Composable:
        # jsonb_build_object takes at most 100 arguments (50 columns): build it in chunks.
        pairs = [sql.SQL("{}, {}.{}").format(sql.Literal(c), q(alias), q(c)) for c in columns]
        chunks = [pairs[i : i + JSON_CHUNK] for i in range(0, len(pairs), JSON_CHUNK)]
        return sql.SQL(" || ").join(
            sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(chunk)) for chunk in chunks
        )

    changed_columns = sql.SQL("array_remove(array[{}], null)").format(
        sql.SQL(", ").join(
            sql.SQL("case when new.{c} is distinct from old.{c} then {name} end").format(
                c=q(c), name=sql.Literal(c)
            )
            for c in compared
        )
    )
    key_json = sql.SQL("jsonb_build_object({})").format(
        sql.SQL(", ").join(
            sql.SQL("{}, coalesce(new.{c}, old.{c})").format(sql.Literal(c), c=q(c))
            for c in mart.key
        )
    )
    diff = sql.SQL(
        """
        with new as (select * from {audit} where {month} = %(month)s),
        old as (select * from {published} where {month} = %(month)s),
        compared as (
            select
                case when old.{k0} is null then 'added'
                     when new.{k0} is null then 'removed' else 'changed' end as change,
                {key_json} as row_key,
                {changed_columns} as changed_columns,
                case when old.{k0} is not null then {old_json} end as old_row,
                case when new.{k0} is not null then {new_json} end as new_row
            from new full join old on {join}
        )
        select * from compared
        where change <> 'changed' or cardinality(changed_columns) > 0
        """
    ).format(
        audit=q("audit", mart.name),
        published=q("marts", mart.name),
        month=q(mart.month_column),
        k0=q(mart.key[0]),
        key_json=key_json,
        changed_columns=changed_columns,
        old_json=row_json("old"),
        new_json=row_json("new"),
        # coalesce: a roll-up's province or tier is null on some levels; a hash join still works
        join=sql.SQL(" and ").join(
            sql.SQL("coalesce(new.{c}, '') = coalesce(old.{c}, '')").format(c=q(c))
            for c in mart.key
        ),
    )
    if publication_id is None:
        counted = sql.SQL("select count(*) from ({}) as d").format(diff)
        return tuples(conn).execute(counted, {"month": month}).fetchone()[0]
    stored = sql.SQL(
        "insert into ops.publication_changes (publication_id, mart, change, row_key,"
        " changed_columns, old_row, new_row) select %(pid)s, %(mart)s, change, row_key,"
        " changed_columns, old_row, new_row from ({}) as d"
    ).format(diff)
    return conn.execute(stored, {"month": month, "pid": publication_id, "mart": mart.name}).rowcount


def _insert_revision(
    conn: psycopg.Connection,
    mart: PublishedMart,
    month: date,
    publication_id: uuid.UUID,
    revision: int,
    published_at: datetime,
) -> int:
    q = sql.Identifier
    names = [c for c, _ in columns(conn, "audit", mart.name)]
    col_list = sql.SQL(", ").join(map(q, names))
    cur = conn.execute(
        sql.SQL(
            "insert into {history} ({cols}, publication_id, revision, published_at)"
            " select {cols}, %s, %s, %s from {audit} where {month} = %s"
        ).format(
            history=q("marts", history_table(mart)),
            cols=col_list,
            audit=q("audit", mart.name),
            month=q(mart.month_column),
        ),
        (publication_id, revision, published_at, month),
    )
    return cur.rowcount


def _refresh_dimensions(conn: psycopg.Connection) -> None:
    q = sql.Identifier
    for dim in DIMENSIONS:
        published = {c for c, _ in columns(conn, "marts", dim)}
        cols = sql.SQL(", ").join(q(c) for c, _ in columns(conn, "audit", dim) if c in published)
        conn.execute(sql.SQL("delete from {}").format(q("marts", dim)))
        conn.execute(
            sql.SQL("insert into {} ({}) select {} from {}").format(
                q("marts", dim), cols, cols, q("audit", dim)
            )
        )


def publish_month(
    url: str,
    month: date,
    *,
    dbt_invocation_id: str | None,
    gate_success: bool,
    gate_run_id: uuid.UUID | str | None = None,
    forced_reason: str | None = None,
    validated_fingerprint: str | None = None,
) -> Publication:
    """Publish the audit area's rows of `month` as a new revision, atomically.

    Refuses a month that failed the gate unless `forced_reason` says why it must go out
    anyway, and, given the `validated_fingerprint` the gate recorded (audit_fingerprint), a
    month whose audit rows changed since. Returns the current publication unchanged
    (``created=False``) when the audit rows equal it and the gate outcome is the same.
    """
    forced_reason = (forced_reason or "").strip() or None
    if not gate_success and not forced_reason:
        raise PublishError(
            f"{month:%Y-%m}: the validation gate failed; refusing to publish"
            " (an operator can override with a reason: chiso publish --force --reason …)"
        )
    with psycopg.connect(url, row_factory=dict_row) as conn:
        with conn.transaction():
            _lock_publishers(conn)
            ensure_published_schema(conn)
        return _publish(
            conn, month, dbt_invocation_id, gate_success, gate_run_id, forced_reason,
            validated_fingerprint,
        )  # fmt: skip


def pending_rows(conn: psycopg.Connection, month: date) -> int:
    """Rows of the month (every mart) that differ between the audit area and the current
    revision: what publishing it now would change (every row, for a month never published)."""
    return sum(_diff(conn, mart, month, None) for mart in MARTS)


def _lock_publishers(conn: psycopg.Connection) -> None:
    """Serialise publishers (until the transaction ends); readers are never blocked."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (PUBLISH_LOCK,))


def _publish(
    conn: psycopg.Connection,
    month: date,
    dbt_invocation_id: str | None,
    gate_success: bool,
    gate_run_id: uuid.UUID | str | None,
    forced_reason: str | None,
    validated_fingerprint: str | None,
) -> Publication:
    with conn.transaction():
        _lock_publishers(conn)
        if validated_fingerprint is not None and (
            audit_fingerprint(conn, month) != validated_fingerprint
        ):
            raise PublishError(
                f"{month:%Y-%m}: the audit rows changed since validation {gate_run_id}"
                " (the month was rebuilt after it was validated); validate it again"
            )
        n_audit = conn.execute(
            "select count(*) as n from audit.mart_kpi_monthly where period_month = %s", (month,)
        ).fetchone()["n"]
        if n_audit == 0:
            raise PublishError(f"{month:%Y-%m}: audit.mart_kpi_monthly has no rows for the month")
        head = conn.execute(
            "select p.* from ops.publication_heads h join ops.publications p"
            " using (publication_id) where h.period_month = %s",
            (month,),
        ).fetchone()
        if head is not None:
            pending = pending_rows(conn, month)
            same_gate = head["gate_success"] == gate_success and not forced_reason
            if pending == 0 and same_gate and not head["forced_reason"]:
                # dimensions are not revisioned: a label corrected in dim_indicator still
                # reaches BI, although no month's numbers changed
                _refresh_dimensions(conn)
                log.info("%s unchanged since revision %s", f"{month:%Y-%m}", head["revision"])
                return Publication(
                    head["publication_id"], month, head["revision"], head["row_count"],
                    head["changed_rows"], created=False, forced_reason=None,
                )  # fmt: skip
        publication_id = uuid.uuid4()
        # the highest revision, not the head's + 1: a head re-pointed at an older revision
        # (by hand) must not collide with the revisions after it
        revision = conn.execute(
            "select coalesce(max(revision), 0) + 1 as r from ops.publications"
            " where period_month = %s",
            (month,),
        ).fetchone()["r"]
        # clock_timestamp, not now(): the transaction may have waited for the lock, and the
        # revisions of a month must be in time order
        published_at = conn.execute("select clock_timestamp() as t").fetchone()["t"]
        conn.execute(
            "insert into ops.publications (publication_id, period_month, revision, published_at,"
            " row_count, dbt_invocation_id, git_sha, gate_success, forced_reason, gate_run_id,"
            " published_by, previous_revision)"
            " values (%s, %s, %s, %s, 0, %s, %s, %s, %s, %s, %s, %s)",
            (
                publication_id, month, revision, published_at, dbt_invocation_id, git_sha(),
                gate_success, forced_reason, gate_run_id, operator(),
                None if head is None else head["revision"],
            ),
        )  # fmt: skip
        changed = None
        if head is not None:
            # every mart's changes are stored; changed_rows counts the agency × indicator rows
            # (mart_kpi_monthly), what the report lists: roll-ups follow from them, and a
            # warehouse migrated from before revisions has no roll-up history to compare with
            diffs = {mart.name: _diff(conn, mart, month, publication_id) for mart in MARTS}
            changed = diffs["mart_kpi_monthly"]
        rows = 0
        for mart in MARTS:
            n = _insert_revision(conn, mart, month, publication_id, revision, published_at)
            rows += n if mart.name == "mart_kpi_monthly" else 0
        _refresh_dimensions(conn)
        conn.execute(
            "insert into ops.publication_heads (period_month, revision, publication_id)"
            " values (%s, %s, %s) on conflict (period_month) do update"
            " set revision = excluded.revision, publication_id = excluded.publication_id",
            (month, revision, publication_id),
        )
        conn.execute(
            "update ops.publications set row_count = %s, changed_rows = %s"
            " where publication_id = %s",
            (rows, changed, publication_id),
        )
    log.info(
        "published %s: revision %s, %s rows%s%s",
        f"{month:%Y-%m}",
        revision,
        rows,
        "" if changed is None else f", {changed} changed since revision {head['revision']}",
        f", FORCED past a failed gate: {forced_reason}" if forced_reason else "",
    )
    return Publication(publication_id, month, revision, rows, changed, True, forced_reason)


def published_revisions(url: str) -> dict[date, int]:
    """Every published month and its current revision (none before the first publication)."""
    with psycopg.connect(url) as conn:
        cur = tuples(conn)
        if cur.execute("select to_regclass('ops.publication_heads')").fetchone()[0] is None:
            return {}
        return dict(cur.execute("select period_month, revision from ops.publication_heads"))
