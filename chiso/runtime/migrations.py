"""Apply the control-plane migrations (``chiso/migrations/*.sql``) to a warehouse.

The warehouse's own objects (schemas and grants, the ingest ledger, the parsing functions,
gate results, build records, publications and their views) are defined only by the SQL files
of ``chiso/migrations/``, so a DBA reads the whole control plane in one folder. Two kinds,
named as Flyway names them, because that convention is widely known:

- ``V<nnn>__<description>.sql`` run once each, in order of their number;
- ``R__<description>.sql`` (repeatable: function definitions) run after them, again whenever
  their text changes, so a function has one definition, not one copy per version;
- ``after_migrate__<description>.sql`` run at the end of every migration run (Flyway's
  afterMigrate callback): rights on the database itself, which a copy or a restore of the
  database does not carry although its record of applied migrations comes along.

Each file runs in its own transaction together with its row in ``ops.schema_migrations``
(version, checksum, who, when), under an advisory lock so that two bootstraps never apply the
same file twice. A versioned file whose text changed after it was applied is an error: the
warehouse no longer matches the folder, and the fix is a new file, not an edit.

Role names are psql variables in the files (``:"loader"``), so a DBA can also apply a file by
hand: ``psql -v database=chiso -v loader=chiso_loader -v transformer=chiso_transformer
-v bi_reader=chiso_bi_reader -f V001__schemas_and_roles.sql``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
LOCK = "chiso.migrations"
VARIABLES = ("database", "loader", "transformer", "bi_reader")
_NAME = re.compile(
    r"^(?:V(?P<version>\d{3,})|(?P<kind>R|after_migrate))__(?P<description>[a-z0-9_]+)\.sql$"
)
_VARIABLE = re.compile(r':"([a-z_]+)"')


class MigrationError(RuntimeError):
    """A migration file is malformed, was edited after it was applied, or failed."""


@dataclass(frozen=True)
class Migration:
    path: Path
    version: str  # '001' for V001__…, 'R:<description>' for a repeatable file
    description: str
    text: str

    @property
    def repeatable(self) -> bool:
        return self.version.startswith("R:")

    @property
    def always(self) -> bool:
        """Run at the end of every migration run, never recorded."""
        return self.version.startswith("after_migrate:")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file: versioned ones in order, then the repeatable ones, then the
    after-migrate ones, each kind by name."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: a migration is named V<nnn>__<description>.sql,"
                " R__<description>.sql or after_migrate__<description>.sql (lowercase words"
                " and underscores)"
            )
        description = match["description"]
        version = match["version"] or f"{match['kind']}:{description}"
        found.append(Migration(path, version, description, path.read_text(encoding="utf-8")))
    versioned = sorted(
        (m for m in found if not (m.repeatable or m.always)), key=lambda m: int(m.version)
    )
    numbers = [m.version for m in versioned]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two migrations share a version number in {directory}")
    repeatable = sorted((m for m in found if m.repeatable), key=lambda m: m.description)
    always = sorted((m for m in found if m.always), key=lambda m: m.description)
    return versioned + repeatable + always


def render(text: str, variables: Mapping[str, str]) -> str:
    """The file's SQL with each ``:"name"`` variable replaced by a quoted identifier."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in variables:
            raise MigrationError(f'unknown variable :"{name}" (known: {", ".join(VARIABLES)})')
        return '"' + variables[name].replace('"', '""') + '"'

    return _VARIABLE.sub(value, text)


def applied(conn: psycopg.Connection) -> dict[str, str]:
    """version → checksum of the migrations recorded in the warehouse (empty before the first)."""
    if conn.execute("select to_regclass('ops.schema_migrations')").fetchone()[0] is None:
        return {}
    return dict(conn.execute("select version, checksum from ops.schema_migrations").fetchall())


def apply(url: str, variables: Mapping[str, str], directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what the warehouse at `url` lacks; returns the files applied (empty when current).

    `url` connects as the role that will own the control plane (the server's administrator
    for the embedded default, the operator's role for an external server).
    """
    migrations = discover(directory)
    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (LOCK,))
        try:
            recorded = applied(conn)
            for migration in migrations:
                if migration.always:
                    _run(conn, migration, variables)
                    continue
                previous = recorded.get(migration.version)
                if previous == migration.checksum:
                    continue
                if previous is not None and not migration.repeatable:
                    raise MigrationError(
                        f"{migration.path.name} changed after it was applied to this"
                        " warehouse; put the change in a new V file instead"
                    )
                _apply_one(conn, migration, variables)
                done.append(migration.path.name)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK,))
    return done


def _run(conn: psycopg.Connection, migration: Migration, variables: Mapping[str, str]) -> None:
    try:
        with conn.transaction():
            conn.execute(render(migration.text, variables).encode("utf-8"))
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.path.name} failed: {exc}") from exc


def _apply_one(
    conn: psycopg.Connection, migration: Migration, variables: Mapping[str, str]
) -> None:
    log.info("applying migration %s", migration.path.name)
    try:
        with conn.transaction():
            conn.execute(render(migration.text, variables).encode("utf-8"))
            conn.execute(
                "insert into ops.schema_migrations (version, description, checksum)"
                " values (%s, %s, %s) on conflict (version) do update"
                " set checksum = excluded.checksum, applied_at = clock_timestamp(),"
                " applied_by = current_user",
                (migration.version, migration.description, migration.checksum),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.path.name} failed: {exc}") from exc
