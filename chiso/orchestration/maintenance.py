"""Housekeeping of a deployment, run by the `maintenance` DAG (dags/maintenance.py) every
night, each step idempotent and callable on its own:

- Airflow's metadata past its retention (``airflow db clean``: runs, task instances, logs of
  events, jobs, XComs … older than ``CHISO_AIRFLOW_RETENTION_DAYS``, 90; Airflow keeps each
  DAG's latest scheduled run);
- task log files past ``CHISO_LOG_RETENTION_DAYS`` (30): Airflow deletes none by itself;
- personal data past its period (``CHISO_PERSONAL_DATA_MONTHS``, as `chiso privacy retain`);
- ``VACUUM (ANALYZE)`` of the warehouse's large tables, so the planner's statistics follow the
  month's loads and the space of rewritten rows is reused;
- a backup of the warehouse and of the personal-data key (chiso/orchestration/backup.py),
  keeping the newest ``CHISO_BACKUP_KEEP`` (7) in ``CHISO_BACKUP_DIR`` (``<home>/backups``).

A task process of Airflow 3 cannot reach Airflow's metadata database (its connection string
is replaced), so ``airflow db clean`` runs as a child process given the metadata URL: this
project's own (the embedded server's, or ``CHISO_AIRFLOW_DB`` beside ``CHISO_WAREHOUSE_URL``),
or ``CHISO_AIRFLOW_METADATA_URL`` where Airflow's database is elsewhere.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from chiso.core.config import Settings
from chiso.core.months import add_months, month_start
from chiso.core.pii import pii_key
from chiso.ingest import personal_data
from chiso.orchestration.backup import Backup, backup
from chiso.runtime.warehouse import sqlalchemy_url, urls

log = logging.getLogger(__name__)

# Tables worth an explicit VACUUM (ANALYZE): at least this large (smaller ones autovacuum
# keeps well enough)
VACUUM_MIN_BYTES = 8 * 1024**2
SCHEMAS = ("raw", "staging", "intermediate", "snapshots", "audit", "marts", "ops")


def _days(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Retention:
    airflow_days: int
    log_days: int
    backups_kept: int
    backup_dir: Path

    @classmethod
    def from_env(cls, settings: Settings) -> Retention:
        folder = os.environ.get("CHISO_BACKUP_DIR")
        return cls(
            airflow_days=_days("CHISO_AIRFLOW_RETENTION_DAYS", 90),
            log_days=_days("CHISO_LOG_RETENTION_DAYS", 30),
            backups_kept=_days("CHISO_BACKUP_KEEP", 7),
            backup_dir=Path(folder) if folder else settings.home / "backups",
        )


def metadata_url(settings: Settings) -> str:
    """Airflow's metadata database, as SQLAlchemy names it for Airflow."""
    explicit = os.environ.get("CHISO_AIRFLOW_METADATA_URL")
    return explicit or sqlalchemy_url(urls(settings).airflow_metadata, "psycopg2")


def clean_airflow_metadata(settings: Settings, before: datetime | str | None = None) -> str:
    """``airflow db clean`` of everything older than `before` (default: the retention; no
    archive tables kept, they would grow the database instead). Returns what Airflow printed,
    for the task log."""
    if before is None:
        days = Retention.from_env(settings).airflow_days
        before = datetime.now(UTC) - timedelta(days=days)
    elif isinstance(before, str):
        before = datetime.fromisoformat(before)
    if before.tzinfo is None:
        raise ValueError(f"{before}: give the instant with its time zone (e.g. +07:00)")
    if before > datetime.now(UTC) - timedelta(minutes=2):
        # the live scheduler's and triggerer's job rows are cleaned by their last heartbeat
        raise ValueError(f"refusing to clean Airflow's metadata up to {before}: too recent")
    env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(settings)}
    airflow = Path(sys.executable).with_name("airflow")
    args = [
        *(str(airflow), "db", "clean", "--clean-before-timestamp", before.isoformat()),
        *("--yes", "--skip-archive", "--batch-size", "5000", "--error-on-cleanup-failure"),
    ]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db clean failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def airflow_log_folder() -> Path:
    """Where Airflow writes task logs (its configuration, read as a task may)."""
    from airflow.configuration import conf

    return Path(conf.get("logging", "base_log_folder"))


def prune_logs(folder: Path, days: int, now: float | None = None) -> int:
    """Delete the log files under `folder` not written to for `days` days, and the folders
    left empty; returns how many files went."""
    if not folder.is_dir():
        return 0
    cutoff = (now or time.time()) - days * 86400
    removed = 0
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed


def rotate_lineage(folder: Path, days: int, now: float | None = None) -> int:
    """Rotate the OpenLineage files (docs/lineage.md): each ``<name>.jsonl`` written to is
    renamed ``<name>-<YYYYMMDD-HHMMSS>.jsonl`` (the producers open the file for each event, so
    the next one starts a new file), and rotated files past `days` are deleted. A dbt build
    writes about 5 MB of events. Returns how many files were deleted."""
    if not folder.is_dir():
        return 0
    moment = now or time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(moment))
    for current in sorted(folder.glob("*.jsonl")):
        if "-" not in current.stem and current.stat().st_size > 0:
            current.rename(current.with_name(f"{current.stem}-{stamp}.jsonl"))
    cutoff = moment - days * 86400
    removed = 0
    for rotated in sorted(folder.glob("*-*.jsonl")):
        if rotated.stat().st_mtime < cutoff:
            rotated.unlink(missing_ok=True)
            removed += 1
    return removed


def retain_personal_data(settings: Settings, today: date | None = None) -> str:
    """Personal data past its period, as `chiso privacy retain` does."""
    before = add_months(month_start(today or date.today()), -settings.personal_data_months)
    key = pii_key(settings)
    done = personal_data.retain(urls(settings).loader, key, settings.inbox_dir, before)
    return f"personal data before {before:%Y-%m}: {done.describe()}"


def vacuum_analyze(settings: Settings, min_bytes: int = VACUUM_MIN_BYTES) -> list[str]:
    """``VACUUM (ANALYZE, SKIP_LOCKED)`` of chiso's tables of at least `min_bytes`, largest
    first (a table a close is writing is skipped, not waited for); returns their names."""
    with psycopg.connect(urls(settings).admin, autocommit=True) as conn:
        rows = conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n"
            " on n.oid = c.relnamespace where c.relkind in ('r', 'm')"
            " and n.nspname = any(%s) and pg_total_relation_size(c.oid) >= %s"
            " order by pg_total_relation_size(c.oid) desc",
            (list(SCHEMAS), min_bytes),
        ).fetchall()
        for schema, table in rows:
            conn.execute(
                sql.SQL("vacuum (analyze, skip_locked) {}").format(sql.Identifier(schema, table))
            )
    return [f"{schema}.{table}" for schema, table in rows]


def back_up(settings: Settings, retention: Retention | None = None) -> Backup:
    """The night's backup, kept with the newest ones (Retention)."""
    retention = retention or Retention.from_env(settings)
    return backup(settings, into=retention.backup_dir, keep=retention.backups_kept)
