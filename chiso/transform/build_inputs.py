"""Whether a monthly build would change anything: the inputs dbt decides from, recorded.

The incremental models decide what to rebuild from two things only: the dbt project (its
files and versions, chiso/transform/reference_state.py) and raw's ledger, which batches are
loaded (docs/incremental.md, "Staging: restage by delivery"). Every successful build
records a digest of both (`ops.dbt_builds.inputs_digest`). When the digest is the same as
the last successful build's, and the month's periods have been built before, a build of
that month would write the rows that are already there: a close run again with nothing new
since (a replayed close, a DAG run cleared and re-run) skips dbt and goes on with what is
built.

A build that fails or is killed could leave some models rebuilt and others not, so each
build first records an `attempt` in `ops.dbt_build_state` and only a successful one removes
it: after a failure the next build always runs.
"""

from __future__ import annotations

import hashlib
from datetime import date

import psycopg

from chiso.transform.reference_state import STATE_TABLE, read_state, write_state

ATTEMPT = "attempt"


def inputs_digest(conn: psycopg.Connection, project: str) -> str:
    """sha256 of the project fingerprint and the ids of the ledger's loaded batches: what
    staging restages from (a pull that landed nothing new records batches in other states,
    which no model reads)."""
    row = conn.execute(
        "select coalesce(string_agg(batch_id::text, ',' order by batch_id), '')"
        " from raw.ingest_batches where status = 'loaded'"
    ).fetchone()
    ledger = row[0] if row else ""
    return hashlib.sha256(f"{project}\0{ledger}".encode()).hexdigest()


def up_to_date(conn: psycopg.Connection, month: date, digest: str) -> str | None:
    """The dbt invocation that built what a build of `month` would write now, or None when
    the build has to run: an attempt failed since, the inputs changed since the last
    successful build, or the month has never been a build's month."""
    if read_state(conn, ATTEMPT) is not None:
        return None
    latest = conn.execute(
        "select invocation_id, inputs_digest from ops.dbt_builds order by finished_at desc limit 1"
    ).fetchone()
    if latest is None or latest[1] != digest:
        return None
    built = conn.execute(
        "select exists (select 1 from ops.dbt_builds where build_month = %s)", (month,)
    ).fetchone()
    return latest[0] if built and built[0] else None


def record_attempt(conn: psycopg.Connection, digest: str) -> None:
    """Before dbt runs: a build with these inputs has started (and has not succeeded yet)."""
    write_state(conn, ATTEMPT, digest)


def clear_attempt(conn: psycopg.Connection) -> None:
    """After a successful build: nothing is left half-built."""
    conn.execute(f"delete from {STATE_TABLE} where item = %s", (ATTEMPT,))
