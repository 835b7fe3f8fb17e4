"""Run dbt against the warehouse as the transformer role.

dbt runs in a subprocess rather than through `dbtRunner` in-process: dbt keeps global state
(adapters, logging, flags) that does not mix well with long-lived Airflow workers, and a
subprocess gives a clean exit code and log per run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from chiso.core.config import DBT_PROJECT_DIR, Settings
from chiso.core.environment import inherited
from chiso.core.months import add_months
from chiso.core.pii import pgoptions, pii_key
from chiso.reference.load import loaded_fingerprint
from chiso.runtime.warehouse import urls
from chiso.transform.build_inputs import (
    clear_attempt,
    inputs_digest,
    record_attempt,
    up_to_date,
)
from chiso.transform.dbt_steps import FAILED_STEP_MARKER
from chiso.transform.key_check import record_key, verify_key
from chiso.transform.lineage import COMMANDS as LINEAGE_COMMANDS
from chiso.transform.lineage import emit_dbt_lineage
from chiso.transform.reference_state import (
    built_fingerprint,
    current_fingerprint,
    record_fingerprint,
)

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the failing nodes."""


@dataclass(frozen=True)
class DbtResult:
    invocation_id: str | None
    elapsed_seconds: float | None
    statuses: dict[str, int]
    # True when dbt did not run: the inputs are those of the build named by invocation_id
    skipped: bool = False
    # how many times dbt built: more than once when loads landed during a build (_build)
    attempts: int = 1


# libpq's TLS parameters an operator's warehouse URL may carry (?sslmode=verify-full&…):
# dbt connects with them as every other client does (profiles.yml reads CHISO_DBT_SSL*)
_TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for dbt: the transformer's credentials and TLS settings, split for
    profiles.yml, and no other secret of this process (chiso/core/environment.py)."""
    parts = urlsplit(urls(settings).transformer)
    query = parse_qs(parts.query)
    env = {
        **inherited(),
        "CHISO_DBT_HOST": parts.hostname or "127.0.0.1",
        "CHISO_DBT_PORT": str(parts.port or 5432),
        "CHISO_DBT_USER": unquote(parts.username or ""),
        "CHISO_DBT_PASSWORD": unquote(parts.password or ""),
        "CHISO_DBT_DBNAME": parts.path.lstrip("/") or "chiso",
        **{f"CHISO_DBT_{p.upper()}": query[p][-1] for p in _TLS_PARAMETERS if p in query},
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        # The personal-data hash key, per session and never in SQL (chiso/core/pii.py).
        "PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS"), pgoptions(settings)])),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    return env


# dbt's output as lines of text, flushed as they are written (read as they come)
_PLAIN_OUTPUT = {"DBT_USE_COLORS": "false", "PYTHONUNBUFFERED": "1"}


def _paths(settings: Settings) -> tuple[Path, Path]:
    base = settings.home / "dbt"
    return base / "target", base / "logs"


def run_dbt(settings: Settings, *args: str, env: dict[str, str] | None = None) -> DbtResult:
    """Run `dbt <args>` in the project; raise DbtError with the failures on a non-zero exit.

    `env` adds environment variables for this run (e.g. CHISO_BUILD_MONTH).
    """
    return run_dbt_steps(settings, [list(args)], env=env)


def run_dbt_steps(
    settings: Settings,
    steps: list[list[str]],
    env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> DbtResult:
    """Run dbt commands in order in one child process (see chiso/transform/dbt_steps.py).

    A single command runs as the `dbt` CLI; several share one dbt import and one parse. The
    first failing step stops the rest and raises DbtError naming it and its failing nodes.
    dbt's output is logged line by line as it comes, and handed to `on_line` (a command
    line shows a long build's progress with it). A run that builds or tests nodes leaves
    OpenLineage events of them (chiso/transform/lineage.py), succeeded or not.
    """
    target, logs = _paths(settings)
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)]
    common += ["--log-path", str(logs)]
    if len(steps) == 1:
        cmd = [str(Path(sys.executable).with_name("dbt")), *steps[0], *common]
    else:
        cmd = [sys.executable, "-m", "chiso.transform.dbt_steps", json.dumps(steps), *common]
    log.info("running %s", " ".join(cmd))
    failed_step = " ".join(steps[0]) if len(steps) == 1 else None
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(
        cmd,
        env={**dbt_env(settings), **_PLAIN_OUTPUT, **(env or {})},
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if line.startswith(FAILED_STEP_MARKER):
                failed_step = line.removeprefix(FAILED_STEP_MARKER).strip()
                continue
            tail.append(line)
            log.info("dbt | %s", line)
            if on_line:
                on_line(line)
    if steps[-1][0] in LINEAGE_COMMANDS:
        emit_dbt_lineage(
            settings, target, {**dbt_env(settings), **(env or {})}, proc.returncode == 0
        )
    if proc.returncode != 0:
        failing = _failures(target, freshness=failed_step == "source freshness")
        detail = "\n".join(failing) or "\n".join(tail)[-5000:]
        command = (failed_step or "").split(" --")[0]  # "build", "source freshness"
        raise DbtError(f"dbt {command} failed (exit {proc.returncode}):\n{detail}")
    return _read_run_results(target)


def _read_run_results(target: Path) -> DbtResult:
    path = target / "run_results.json"
    if not path.exists():
        return DbtResult(None, None, {})
    data = json.loads(path.read_text())
    statuses: dict[str, int] = {}
    for r in data.get("results", []):
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return DbtResult(
        data.get("metadata", {}).get("invocation_id"), data.get("elapsed_time"), statuses
    )


def _failures(target: Path, *, freshness: bool = False) -> list[str]:
    """The failing nodes of the last run: sources.json for `source freshness`, else run_results."""
    path = target / ("sources.json" if freshness else "run_results.json")
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    failing = [
        r for r in data.get("results", []) if r["status"] in ("error", "fail", "runtime error")
    ]
    return [f"{r['unique_id']}: {r['status']}: {_message(r)}" for r in failing]


def _message(result: dict) -> str:
    return (result.get("message") or result.get("error") or "").strip()[:500]


def build(
    settings: Settings,
    month: date | None = None,
    *,
    full: bool = False,
    days: tuple[date, date] | None = None,
    new_pii_key: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> DbtResult:
    """Check source freshness, then seeds, models, snapshots, data and unit tests in DAG order.

    A source past its `error_after` freshness stops the build: publishing KPIs from a feed
    that stopped arriving would report stale numbers as current.

    With `month`, the incremental models replace only the periods that overlap that month,
    so a monthly run costs in proportion to the month, not to the history; and the reference
    nodes (tag `reference`) and the unit tests are skipped while the project is the one they
    were last built and passed with (chiso/transform/reference_state.py). The first build
    (no fact table yet) and `full=True` build every period and every node. With `days`
    (first, last), only the periods overlapping those days are rebuilt, with every reference
    node: what a changed target or annual index touches (chiso/reference/changes.py).

    A monthly build whose inputs (the project and raw's ledger) are those of the last
    successful build, of a month built before, with the reference nodes current, does not
    run dbt: it would write the rows
    that are there (chiso/transform/build_inputs.py). The result names that build and says
    `skipped`.

    Before anything, the personal-data key is checked against the one the warehouse was
    built with (chiso/transform/key_check.py); `new_pii_key` (with `full` only) rotates it.
    One build at a time per warehouse (BUILD_LOCK): a second waits for the first, then finds
    its inputs built if nothing changed in between.
    """
    if new_pii_key and not full:
        raise ValueError("a new personal-data key needs a full rebuild (--full-refresh)")
    if days is not None and (full or month is not None or days[0] > days[1]):
        raise ValueError("`days` is a range of its own: no month, no full refresh, first ≤ last")
    with _build_lock(settings):
        return _build(
            settings, month, full=full, days=days, new_pii_key=new_pii_key, on_line=on_line
        )


def rebuild_through(conn: psycopg.Connection, month: date) -> date:
    """The last day a monthly build of `month` rebuilds periods to (CHISO_REBUILD_THROUGH,
    macro build_window_filter): the end of that month or of the latest published month,
    whichever is later.

    Records rewritten by a run change every later period's stocks, but only the periods that
    are published (the republication check compares them) or that this month publishes need
    their numbers now: a later month's own build computes its periods. Unbounded, a backfill's
    builds, with every later month already in raw, would each rebuild five years of periods.
    """
    row = conn.execute("select max(period_month) from ops.publication_heads").fetchone()
    latest = max(month, row[0]) if row and row[0] else month
    return add_months(latest, 1) - timedelta(days=1)


# Builds take this session-level advisory lock for their whole run: two builds of one warehouse
# at once (an operator's `chiso transform` during a scheduled close, two Airflow runs) would
# replace each other's incremental periods and tables half-way; the second waits instead.
BUILD_LOCK = "chiso.dbt.build"
# Builds in a row while loads keep landing during them (_build), before giving up for now
MAX_ATTEMPTS = 3


@contextmanager
def _build_lock(settings: Settings) -> Iterator[None]:
    with psycopg.connect(urls(settings).transformer, autocommit=True) as conn:
        got = conn.execute("select pg_try_advisory_lock(hashtext(%s))", (BUILD_LOCK,)).fetchone()
        if not (got and got[0]):
            log.warning("another dbt build of this warehouse is running: waiting for it")
            conn.execute("select pg_advisory_lock(hashtext(%s))", (BUILD_LOCK,))
        try:
            yield
        finally:
            # a connection the server dropped (a restart) took its lock with it
            with suppress(psycopg.OperationalError):
                conn.execute("select pg_advisory_unlock(hashtext(%s))", (BUILD_LOCK,))


def _build(
    settings: Settings,
    month: date | None,
    *,
    full: bool,
    days: tuple[date, date] | None,
    new_pii_key: bool,
    on_line: Callable[[str], None] | None,
) -> DbtResult:
    with psycopg.connect(urls(settings).transformer) as conn:
        # the reference nodes are built from the project and the loaded reference data
        fingerprint = current_fingerprint(conn)
        key_check = verify_key(conn, pii_key(settings), rotate=new_pii_key)
        if loaded_fingerprint(conn) is None:
            # every agency, holiday and target would be missing: nothing valid could be built
            raise DbtError(
                "no reference data is loaded in this warehouse: `chiso reference load` (every"
                " close loads it first)"
            )
        monthly = not full and days is None and month is not None and _facts_exist(conn)
        skip_reference = monthly and built_fingerprint(conn) == fingerprint
        digest = inputs_digest(conn, fingerprint)
        built_by = up_to_date(conn, month, digest) if skip_reference and month else None
        if built_by is not None:
            log.info("nothing new since dbt build %s, which built %s: dbt not run", built_by, month)
            return DbtResult(built_by, 0.0, {}, skipped=True)
        record_attempt(conn, digest)
        # read with the build's other inputs, on the connection that read them
        through = rebuild_through(conn, month) if monthly and month else None
    args = ["build"]
    env = {
        "CHISO_BUILD_MONTH": "",
        "CHISO_BUILD_FROM": "",
        "CHISO_BUILD_TO": "",
        "CHISO_REBUILD_THROUGH": "",
    }
    if full:
        args.append("--full-refresh")
    elif monthly:
        # An env var, not --vars: a changed --vars value makes dbt re-parse the whole project.
        env["CHISO_BUILD_MONTH"] = f"{month:%Y-%m}"
        env["CHISO_REBUILD_THROUGH"] = through.isoformat() if through else ""
    elif days is not None:
        env["CHISO_BUILD_FROM"], env["CHISO_BUILD_TO"] = (d.isoformat() for d in days)
    if skip_reference:
        # Unit tests check the models' SQL on fixed inputs, not the warehouse's data: with the
        # project unchanged since they last passed, they would pass again. Cautious indirect
        # selection keeps the tests between a built model and a skipped one (the foreign keys
        # of the month's rows into the dimensions); dbt's default drops them with the dimension.
        args += ["--exclude", "tag:reference", "--exclude-resource-type", "unit_test"]
        args += ["--indirect-selection", "cautious"]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # the sources' freshness was checked before the first attempt
        steps = [["source", "freshness"], args] if attempt == 1 else [args]
        result = run_dbt_steps(settings, steps, env=env, on_line=on_line)
        with psycopg.connect(urls(settings).transformer) as conn:
            now = inputs_digest(conn, fingerprint)
            if now == digest:
                break
            record_attempt(conn, now)
        digest = now
        if attempt == MAX_ATTEMPTS:
            raise DbtError(
                f"raw's deliveries changed during each of {MAX_ATTEMPTS} builds (loads landing"
                " all the while): nothing is recorded as built; build again once they settle"
            )
        # dbt reads raw model by model: a delivery that landed meanwhile is in some models and
        # not in others. Built again, every model reads the same deliveries (the incremental
        # models restage what changed, so this costs what the new delivery costs).
        message = "deliveries landed during the build: building again so every model reads them"
        log.warning(message)
        if on_line is not None:
            on_line(message)
    with psycopg.connect(urls(settings).transformer) as conn:
        record_key(conn, key_check)
        if not skip_reference:
            record_fingerprint(conn, fingerprint)
        record_build(conn, result, month, full=full, digest=digest)
        clear_attempt(conn)
    return replace(result, attempts=attempt)


def record_build(
    conn: psycopg.Connection,
    result: DbtResult,
    month: date | None,
    *,
    full: bool,
    digest: str | None = None,
) -> None:
    """Append a successful build to ops.dbt_builds: a publication made later from the CLI
    names the dbt invocation that built the audit rows it publishes, and the next build
    compares its inputs with this one's (`digest`). `month`: the month asked for, whose
    periods the build wrote (a first build, which builds every period, included)."""
    if result.invocation_id is None:
        return
    conn.execute(
        "insert into ops.dbt_builds (invocation_id, build_month, full_refresh, elapsed_seconds,"
        " statuses, inputs_digest) values (%s, %s, %s, %s, %s, %s)"
        " on conflict (invocation_id) do nothing",
        (
            result.invocation_id,
            month,
            full,
            result.elapsed_seconds,
            json.dumps(result.statuses),
            digest,
        ),
    )


def latest_build_invocation(conn: psycopg.Connection) -> str | None:
    """The dbt invocation id of the last successful build (None before the first)."""
    row = conn.execute(
        "select invocation_id from ops.dbt_builds order by finished_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def _facts_exist(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass('audit.fct_indicator_values')").fetchone()
    return row is not None and row[0] is not None
