"""Faults in the middle of work, each ending "nothing lost, nothing doubled" by counts and
checksums of what landed.

- A load killed (SIGKILL) in the middle of its COPY: no partial rows; its ledger row, left
  `running`, is reconciled to `failed` by the next load; a rerun loads the file once.
- The disk full in the middle of a load (the month's partition on a small tmpfs): the load
  fails as a transient error (SQLSTATE class 53), to be retried, not quarantined; the month
  keeps exactly what it had; with space again, the same file loads whole.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import pwd
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from chiso.ingest.files import ingest_file, ingest_inbox
from chiso.ingest.loader import INTERRUPTED, prepare
from chiso.ingest.raw_tables import ensure_partition
from chiso.runtime.embedded_postgres import EmbeddedPostgres
from chiso.sources.canonical import ONE_STOP_DOSSIERS
from tests import warehouses
from tests.reliability import Snapshot, rows

pytestmark = pytest.mark.e2e

AGENCY = "000.00.02.H23"
HEADER = ["MaHoSo", "MaTTHC", "DonViXuLy", "ChuHoSo", "NgayTiepNhan", "TrangThaiHoSo"]
ROWS = 300_000  # enough that COPY is seen under way before it ends


def _big_csv(path: Path, rows: int = ROWS, first: int = 0, month: int = 3) -> str:
    """A month of dossiers in the one-stop system's CSV export; the checksum of its keys."""
    digest = hashlib.sha256()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER)
        for i in range(first, first + rows):
            key = f"{AGENCY}-{i:07d}"
            digest.update(key.encode() + b"\n")
            day = f"05/{month:02d}/2025 09:15:00"
            w.writerow([key, "1.001193", AGENCY, "Nguyễn Văn Ánh", day, "10"])
    return digest.hexdigest()


def _landed(url: str, month: int = 3) -> tuple[int, str]:
    """Rows of a month of 2025 in raw and the checksum of their keys, in key order."""
    digest = hashlib.sha256()
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            "select ma_ho_so from raw.one_stop__dossiers"
            " where _extract_month = %s order by ma_ho_so",
            (date(2025, month, 1),),
        ).fetchall()
    for (key,) in keys:
        digest.update(key.encode() + b"\n")
    return len(keys), digest.hexdigest()


def _ledger(url: str, month: int = 3) -> list[tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select status, error from raw.ingest_batches"
            " where entity = 'one_stop.dossiers' and extract_month = %s order by started_at",
            (date(2025, month, 1),),
        ).fetchall()


def _copying(admin: str, database: str) -> int:
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            "select coalesce(max(tuples_processed), 0) from pg_stat_progress_copy p"
            " join pg_database d on d.oid = p.datid where d.datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def _month(url: str, month: int = 3) -> Snapshot:
    """A month of 2025's dossiers in raw, for docs/reliability.md."""
    return rows(
        url, "raw.one_stop__dossiers", "ma_ho_so", "_extract_month = %s", (date(2025, month, 1),)
    )


def test_a_load_killed_in_the_middle_of_copy_leaves_nothing_and_loads_whole_again(
    chiso_env, tmp_path, reliability
):
    url, admin = chiso_env.urls.loader, chiso_env.urls.admin
    prepare(url)
    path = tmp_path / f"ho-so_{AGENCY}_2025-03.csv"
    expected = _big_csv(path)
    killed = reliability.trial(
        "Loads", "the load SIGKILLed in the middle of COPY (300,000-row CSV)", _month(url)
    )
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
    killed.done(
        "no partial rows; its ledger row, left `running`, is marked `failed` by the next load",
        _month(url),
    )

    rerun = reliability.trial("Loads", "the killed load run again", _month(url))
    result = ingest_file(url, "one_stop", path)  # the next load reconciles, and loads it
    assert result.status == "loaded" and result.rows == ROWS
    assert _ledger(url) == [("failed", INTERRUPTED), ("loaded", None)]
    assert _landed(url) == (ROWS, expected)  # every row once
    rerun.done("loaded: every row once", _month(url))
    # a rerun of the same file is a duplicate, not a second copy
    again = reliability.trial("Loads", "the same file a third time", _month(url))
    assert ingest_file(url, "one_stop", path).status == "duplicate"
    assert _landed(url) == (ROWS, expected)
    again.done("a duplicate: nothing loaded", _month(url))


@contextlib.contextmanager
def _small_disk(path: Path, size: str, owner: str | None):
    """A tmpfs of `size` at `path`, owned by the server's account (skips where the test
    cannot mount one: it needs root, which the CI has)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_disk_full_in_the_middle_of_a_load_is_retried_and_keeps_the_month(
    chiso_env, tmp_path, reliability
):
    """April, so as not to share a partition with the other tests' March."""
    url, admin = chiso_env.urls.loader, chiso_env.urls.admin
    prepare(url)
    inbox = tmp_path / "inbox"
    (inbox / "one_stop").mkdir(parents=True)
    first = _big_csv(inbox / "one_stop" / f"ho-so-1_{AGENCY}_2025-04.csv", rows=2_000, month=4)
    [loaded] = ingest_inbox(url, inbox, "one_stop")
    assert loaded.status == "loaded" and _landed(url, 4) == (2_000, first)
    with psycopg.connect(url) as conn:
        partition = ensure_partition(conn, ONE_STOP_DOSSIERS, date(2025, 4, 1)).as_string(conn)
    server = EmbeddedPostgres(chiso_env.settings)
    # under the run's root: the server's account cannot reach into pytest's 0700 tmp_path
    with _small_disk(warehouses.root() / "small-disk", "3m", server.run_as) as small:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"create tablespace chiso_small location '{small}'")
            conn.execute(f"alter table {partition} set tablespace chiso_small")
        try:
            # a redelivery of the month, far larger than the space left
            big = inbox / "one_stop" / f"ho-so-2_{AGENCY}_2025-04.csv"
            _big_csv(big, rows=100_000, month=4)
            full = reliability.trial(
                "Loads",
                "the disk full in the middle of a load (a 100,000-row redelivery of the month)",
                _month(url, 4),
            )
            with pytest.raises(psycopg.errors.DiskFull):
                ingest_inbox(url, inbox, "one_stop")
            assert big.exists()  # left in the inbox for the retry, not quarantined
            assert not (inbox / "quarantine").exists()
            assert _landed(url, 4) == (2_000, first)  # exactly what the month had
            statuses = _ledger(url, 4)
            assert statuses[0] == ("loaded", None) and statuses[-1][0] == "failed"
            assert "SQLSTATE 53100" in (statuses[-1][1] or "")
            assert "will be retried" in (statuses[-1][1] or "")
            full.done(
                "a transient failure (SQLSTATE 53100): the file stays in the inbox for"
                " the retry; the month keeps what it had",
                _month(url, 4),
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"alter table {partition} set tablespace pg_default")
                conn.execute("drop tablespace chiso_small")
    # space again: the retry loads the redelivery whole, in place of the month's first file
    retry = reliability.trial("Loads", "the retry once the disk has space", _month(url, 4))
    [retried] = ingest_inbox(url, inbox, "one_stop")
    assert retried.status == "loaded" and retried.rows == 100_000
    assert _landed(url, 4) == (100_000, _keys_checksum(0, 100_000))
    retry.done("the redelivery loaded whole, in place of the month's first file", _month(url, 4))


def _keys_checksum(first: int, rows: int) -> str:
    digest = hashlib.sha256()
    for i in range(first, first + rows):
        digest.update(f"{AGENCY}-{i:07d}".encode() + b"\n")
    return digest.hexdigest()
