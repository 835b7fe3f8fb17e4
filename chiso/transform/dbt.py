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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chiso.config import DBT_PROJECT_DIR, Settings
from chiso.db.bootstrap import urls
from chiso.privacy.pii_key import pgoptions

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the failing nodes."""


@dataclass(frozen=True)
class DbtResult:
    invocation_id: str | None
    elapsed_seconds: float | None
    statuses: dict[str, int]


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for dbt: the transformer's credentials, split for profiles.yml."""
    parts = urlsplit(urls(settings).transformer)
    env = {
        **os.environ,
        "CHISO_DBT_HOST": parts.hostname or "127.0.0.1",
        "CHISO_DBT_PORT": str(parts.port or 5432),
        "CHISO_DBT_USER": unquote(parts.username or ""),
        "CHISO_DBT_PASSWORD": unquote(parts.password or ""),
        "CHISO_DBT_DBNAME": parts.path.lstrip("/") or "chiso",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        # The personal-data hash key, per session and never in SQL (chiso/privacy/pii_key.py).
        "PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS"), pgoptions(settings)])),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    return env


def _paths(settings: Settings) -> tuple[Path, Path]:
    base = settings.home / "dbt"
    return base / "target", base / "logs"


def run_dbt(settings: Settings, *args: str) -> DbtResult:
    """Run `dbt <args>` in the project; raise DbtError with the failures on a non-zero exit."""
    target, logs = _paths(settings)
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
    ]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(
        cmd, env=dbt_env(settings), cwd=DBT_PROJECT_DIR, capture_output=True, text=True
    )
    for line in proc.stdout.splitlines():
        log.info("dbt | %s", line)
    result = _read_run_results(target)
    if proc.returncode != 0:
        failing = _failures(target)
        detail = "\n".join(failing) or (proc.stdout[-3000:] + proc.stderr[-2000:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{detail}")
    return result


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


def _failures(target: Path) -> list[str]:
    path = target / "run_results.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return [
        f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()[:500]}"
        for r in data.get("results", [])
        if r["status"] in ("error", "fail")
    ]


def build(settings: Settings, month: date | None = None, *, full: bool = False) -> DbtResult:
    """Check source freshness, then seeds, models, snapshots, data and unit tests in DAG order.

    A source past its `error_after` freshness stops the build: publishing KPIs from a feed
    that stopped arriving would report stale numbers as current.

    With `month`, the incremental models (fct_indicator_values and the marts built on it)
    replace only the periods that overlap that month, so a monthly run costs in proportion to
    the month, not to the history. The first build (no fact table yet) and `full=True` build
    every period.
    """
    run_dbt(settings, "source", "freshness")
    args = ["build"]
    if full:
        args.append("--full-refresh")
    elif month is not None and _facts_exist(settings):
        args += ["--vars", json.dumps({"build_month": f"{month:%Y-%m}"})]
    return run_dbt(settings, *args)


def _facts_exist(settings: Settings) -> bool:
    import psycopg

    with psycopg.connect(urls(settings).transformer) as conn:
        row = conn.execute("select to_regclass('audit.fct_indicator_values')").fetchone()
    return row is not None and row[0] is not None
