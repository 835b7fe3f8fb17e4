"""The COPY loader on a real PostgreSQL: replace-by-month, bad rows, the ledger."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from chiso.ingest.copy_loader import LoadError, load_batch
from chiso.ingest.raw_tables import ONE_STOP_DOSSIERS

pytestmark = pytest.mark.e2e

MONTH = date(2020, 5, 1)


def _rec(i: int, **extra) -> dict:
    return {"MaHoSo": f"T-{i}", "DonViXuLy": "000.00.02.H23", "ChuHoSo": "Nguyễn Văn Ánh", **extra}


def _load(url, records, month=MONTH):
    return load_batch(
        url,
        ONE_STOP_DOSSIERS,
        records,
        source="test",
        extract_month=month,
        origin="test.json",
        key_field="MaHoSo",
    )


def _count(url, month=MONTH) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from raw.one_stop__dossiers where _source = 'test'"
            " and _extract_month = %s",
            (month,),
        ).fetchone()[0]


def test_reload_replaces_the_month_and_keeps_others(chiso_env):
    url = chiso_env.urls.loader
    _load(url, [_rec(i) for i in range(5)], date(2020, 4, 1))
    first = _load(url, [_rec(i) for i in range(10)])
    second = _load(url, [_rec(i) for i in range(7)])
    assert (first.rows, second.rows, second.replaced_rows) == (10, 7, 10)
    assert _count(url) == 7
    assert _count(url, date(2020, 4, 1)) == 5
    with psycopg.connect(url) as conn:
        statuses = [
            r[0]
            for r in conn.execute(
                "select status from raw.ingest_batches where source = 'test' and extract_month = %s"
                " order by started_at",
                (MONTH,),
            )
        ]
        name = conn.execute(
            "select chu_ho_so from raw.one_stop__dossiers where _source = 'test' limit 1"
        ).fetchone()[0]
    assert statuses == ["replaced", "loaded"]
    assert name == "Nguyễn Văn Ánh"


def test_bad_row_names_row_and_field_and_keeps_previous_rows(chiso_env):
    url = chiso_env.urls.loader
    _load(url, [_rec(i) for i in range(3)])
    bad = [_rec(1), _rec(2), {"MaHoSo": "", "DonViXuLy": "x"}, _rec(4)]
    with pytest.raises(LoadError, match=r"test\.json: row 3: field MaHoSo is missing"):
        _load(url, bad)
    assert _count(url) == 3
    with psycopg.connect(url) as conn:
        status, error = conn.execute(
            "select status, error from raw.ingest_batches where source = 'test'"
            " order by started_at desc limit 1"
        ).fetchone()
    assert status == "failed" and "row 3" in error


def test_text_is_normalised_to_nfc(chiso_env):
    url = chiso_env.urls.loader
    nfd = "Nguye\u0302\u0303n"  # "Nguyễn" decomposed
    _load(url, [_rec(1, ChuHoSo=nfd)], date(2020, 6, 1))
    with psycopg.connect(url) as conn:
        got = conn.execute(
            "select chu_ho_so from raw.one_stop__dossiers where _extract_month = '2020-06-01'"
        ).fetchone()[0]
    assert got == "Nguyễn"
