"""The maintenance steps that need no server: log retention, and the refusals of the clean."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chiso.core.config import Settings
from chiso.orchestration.maintenance import (
    Retention,
    clean_airflow_metadata,
    prune_logs,
    rotate_lineage,
)


def _aged(path: Path, days: float, now: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log\n")
    os.utime(path, (now - days * 86400, now - days * 86400))


def test_old_task_logs_go_with_the_folders_they_leave_empty(tmp_path):
    now = time.time()
    old = tmp_path / "dag_id=monthly_kpi" / "run_id=2020-01" / "task_id=pull" / "attempt=1.log"
    kept = tmp_path / "dag_id=monthly_kpi" / "run_id=2026-11" / "task_id=pull" / "attempt=1.log"
    _aged(old, 45, now)
    _aged(kept, 2, now)
    assert prune_logs(tmp_path, 30, now=now) == 1
    assert not old.exists() and not (tmp_path / "dag_id=monthly_kpi" / "run_id=2020-01").exists()
    assert kept.exists()
    assert prune_logs(tmp_path / "absent", 30) == 0


def test_the_clean_refuses_a_recent_or_unzoned_instant(tmp_path):
    settings = Settings(home=tmp_path, external_url=None, pg_port_hint=0, airflow_port=0,
                        simulator_port=0)  # fmt: skip
    # the live scheduler's and triggerer's job rows are cleaned by their last heartbeat
    with pytest.raises(ValueError, match="too recent"):
        clean_airflow_metadata(settings, datetime.now(UTC) - timedelta(seconds=30))
    with pytest.raises(ValueError, match="time zone"):
        clean_airflow_metadata(settings, "2026-11-01T00:00:00")


def test_retention_knobs_come_from_the_environment(monkeypatch, tmp_path):
    settings = Settings(home=tmp_path, external_url=None, pg_port_hint=0, airflow_port=0,
                        simulator_port=0)  # fmt: skip
    for name in ("CHISO_AIRFLOW_RETENTION_DAYS", "CHISO_LOG_RETENTION_DAYS", "CHISO_BACKUP_KEEP",
                 "CHISO_BACKUP_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert Retention.from_env(settings) == Retention(90, 30, 7, tmp_path / "backups")
    monkeypatch.setenv("CHISO_BACKUP_DIR", "/mnt/backup")
    monkeypatch.setenv("CHISO_BACKUP_KEEP", "14")
    assert Retention.from_env(settings).backup_dir == Path("/mnt/backup")
    assert Retention.from_env(settings).backups_kept == 14


def test_lineage_files_are_rotated_and_the_old_ones_deleted(tmp_path):
    now = time.time()
    (tmp_path / "dbt.jsonl").write_text('{"eventType": "START"}\n')
    (tmp_path / "airflow.jsonl").write_text("")  # nothing written since the last rotation
    _aged(tmp_path / "dbt-20261001-023000.jsonl", 45, now)
    _aged(tmp_path / "dbt-20261130-023000.jsonl", 5, now)
    assert rotate_lineage(tmp_path, 30, now=now) == 1
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["airflow.jsonl", f"dbt-{stamp}.jsonl", "dbt-20261130-023000.jsonl"]
    )
    assert rotate_lineage(tmp_path / "absent", 30) == 0
