"""Whether the warehouse's reference tables were built from the project as it is now.

The nodes tagged `reference` in dbt_project.yml (seeds, and the calendar, periods,
indicators, channels and agency versions built from seeds alone) change only when the dbt
project changes, and so do the results of the unit tests, which run the models' SQL on fixed
inputs. Rebuilding and retesting them every month is a fixed cost of about a quarter of a
monthly build, paid for nothing. So each build that included them records a fingerprint of
the project in the warehouse, and a monthly build skips them while the fingerprint is the
same. The fingerprint covers every file dbt builds or tests from (models, macros, seeds,
snapshots, tests, dbt_project.yml), the dbt versions and the reference data version loaded
in the warehouse (a new version of the operator's files is new input for the reference
nodes): deliberately coarser than the reference nodes' own inputs, so no change can slip
through; an upgrade costs one extra rebuild of small tables. It lives in the warehouse, not
the home directory, so a new or restored warehouse starts without one and is built whole.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

import psycopg

from chiso.core.config import DBT_PROJECT_DIR
from chiso.reference.load import loaded_fingerprint

PROJECT_INPUTS = ("dbt_project.yml", "models", "macros", "seeds", "snapshots", "tests")
STATE_TABLE = "ops.dbt_build_state"  # chiso/migrations/V004__dbt_builds.sql
ITEM = "reference"


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the dbt versions and the path and bytes of every file dbt builds from."""
    digest = hashlib.sha256()
    for package in ("dbt-core", "dbt-postgres"):
        digest.update(f"{package}=={version(package)}\0".encode())
    files: list[Path] = []
    for name in PROJECT_INPUTS:
        path = project_dir / name
        files += [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for path in sorted(files):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_fingerprint(project: str, reference: str | None) -> str:
    """What the reference nodes are built from: the project, and the reference data version
    loaded in the warehouse (chiso/reference/load.py; None before the first load)."""
    if reference is None:
        return project
    return hashlib.sha256(f"{project}\0{reference}".encode()).hexdigest()


def current_fingerprint(conn: psycopg.Connection) -> str:
    """The fingerprint a build of this warehouse records now: the project's files and the
    reference version loaded in it."""
    return build_fingerprint(project_fingerprint(), loaded_fingerprint(conn))


def read_state(conn: psycopg.Connection, item: str) -> str | None:
    """The value recorded for `item` in the build state (None: none recorded)."""
    row = conn.execute(f"select fingerprint from {STATE_TABLE} where item = %s", (item,)).fetchone()
    return row[0] if row else None


def write_state(conn: psycopg.Connection, item: str, value: str) -> None:
    """Record `value` for `item` in the build state, now (replacing what was there)."""
    conn.execute(
        f"insert into {STATE_TABLE} (item, fingerprint, built_at) values (%s, %s, now())"
        " on conflict (item) do update"
        " set fingerprint = excluded.fingerprint, built_at = excluded.built_at",
        (item, value),
    )


def built_fingerprint(conn: psycopg.Connection) -> str | None:
    """The fingerprint recorded by the last build that included the reference nodes."""
    return read_state(conn, ITEM)


def record_fingerprint(conn: psycopg.Connection, fingerprint: str) -> None:
    """Record that the reference nodes were just built and tested from this project."""
    write_state(conn, ITEM, fingerprint)
