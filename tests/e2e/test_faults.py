"""Faults in the middle of work, each ending "nothing lost, nothing doubled" by counts and
checksums of what landed.

- A load killed (SIGKILL) in the middle of its COPY: no partial rows; its ledger row, left
  `running`, is reconciled to `failed` by the next load; a rerun loads the file once.
"""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from chiso.ingest.files import ingest_file
from chiso.ingest.loader import INTERRUPTED, prepare

pytestmark = pytest.mark.e2e

AGENCY = "000.00.02.H23"
HEADER = ["MaHoSo", "MaTTHC", "DonViXuLy", "ChuHoSo", "NgayTiepNhan", "TrangThaiHoSo"]
ROWS = 300_000  # enough that COPY is seen under way before it ends


def _big_csv(path: Path) -> str:
    """A month of dossiers in the one-stop system's CSV export; the checksum of its keys."""
    digest = hashlib.sha256()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER)
        for i in range(ROWS):
            key = f"{AGENCY}-{i:07d}"
            digest.update(key.encode() + b"\n")
            w.writerow([key, "1.001193", AGENCY, "Nguyễn Văn Ánh", "05/03/2025 09:15:00", "10"])
    return digest.hexdigest()


def _landed(url: str) -> tuple[int, str]:
    """Rows of March 2025 in raw and the checksum of their keys, in key order."""
    digest = hashlib.sha256()
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            "select ma_ho_so from raw.one_stop__dossiers"
            " where _extract_month = '2025-03-01' order by ma_ho_so"
        ).fetchall()
    for (key,) in keys:
        digest.update(key.encode() + b"\n")
    return len(keys), digest.hexdigest()


def _ledger(url: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select status, error from raw.ingest_batches"
            " where entity = 'one_stop.dossiers' order by started_at"
        ).fetchall()


def _copying(admin: str, database: str) -> int:
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            "select coalesce(max(tuples_processed), 0) from pg_stat_progress_copy p"
            " join pg_database d on d.oid = p.datid where d.datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_load_killed_in_the_middle_of_copy_leaves_nothing_and_loads_whole_again(
    chiso_env, tmp_path
):
    url, admin = chiso_env.urls.loader, chiso_env.urls.admin
    prepare(url)
    path = tmp_path / f"ho-so_{AGENCY}_2025-03.csv"
    expected = _big_csv(path)
    # `chiso ingest one_stop --file …` in a process of its own, killed once COPY is under way
    code = "import sys; from chiso.ingest.files import ingest_file as f; f(*sys.argv[1:4])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, url, "one_stop", str(path)], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while _copying(admin, chiso_env.settings.warehouse_db) == 0:
            assert proc.poll() is None, "the load ended before it was seen copying"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30  # the server notices the dead connection and rolls back
    while _copying(admin, chiso_env.settings.warehouse_db) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert _landed(url)[0] == 0  # no partial rows
    assert _ledger(url) == [("running", None)]  # the process had no chance to say

    result = ingest_file(url, "one_stop", path)  # the next load reconciles, and loads it
    assert result.status == "loaded" and result.rows == ROWS
    assert _ledger(url) == [("failed", INTERRUPTED), ("loaded", None)]
    assert _landed(url) == (ROWS, expected)  # every row once
    # a rerun of the same file is a duplicate, not a second copy
    assert ingest_file(url, "one_stop", path).status == "duplicate"
    assert _landed(url) == (ROWS, expected)
