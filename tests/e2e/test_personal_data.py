"""Personal data on an empty warehouse: the key that hashes it is the warehouse's own, and one
ID number gives one key whatever spelling it arrives in.

- A build with another key (changed, or lost and generated anew) stops before dbt runs,
  naming both keys' check values; rotating on purpose records the new one.
- ``raw.canonical_id`` (SQL, what staging hashes) equals ``canonical_id`` (Python, what an
  operator's lookup and the tests use) on the spellings deliveries carry and on generated
  ones.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chiso.core.pii import ENV_VAR, canonical_id, pii_key
from chiso.transform.dbt import build
from chiso.transform.key_check import (
    ITEM,
    PiiKeyMismatch,
    check_value,
    record_key,
    verify_key,
)

pytestmark = pytest.mark.e2e

MONTH = date(2020, 1, 1)


def _recorded(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select fingerprint from ops.dbt_build_state where item = %s", (ITEM,)
        ).fetchone()
    return row[0] if row else None


def test_a_build_with_another_key_stops_before_dbt_runs(chiso_env, monkeypatch):
    s, url = chiso_env.settings, chiso_env.urls.transformer
    monkeypatch.delenv(ENV_VAR, raising=False)
    home_key = pii_key(s)
    with psycopg.connect(url) as conn:
        record_key(conn, verify_key(conn, home_key))  # as the first build does
    assert _recorded(url) == check_value(home_key)

    # the operator's secret store points at another key
    monkeypatch.setenv(ENV_VAR, "mot-khoa-khac-hoan-toan")
    with pytest.raises(PiiKeyMismatch) as refused:
        build(s, MONTH)
    message = str(refused.value)
    assert check_value(home_key) in message and check_value(b"mot-khoa-khac-hoan-toan") in message
    assert "mot-khoa-khac" not in message  # the check value names a key, never shows it
    monkeypatch.delenv(ENV_VAR)

    # the key file was lost: a new one is generated, and refused
    (s.secrets_dir / "pii.key").unlink()
    with pytest.raises(PiiKeyMismatch, match="nothing was built"):
        build(s, MONTH)
    with psycopg.connect(url) as conn:
        built = conn.execute("select to_regclass('audit.fct_indicator_values')").fetchone()[0]
        assert built is None
        assert conn.execute("select count(*) from ops.dbt_builds").fetchone()[0] == 0

    # rotating on purpose (a full rebuild) records the new key once the build succeeded
    new_key = pii_key(s)
    with psycopg.connect(url) as conn:
        value = verify_key(conn, new_key, rotate=True)
        record_key(conn, value)
    assert _recorded(url) == check_value(new_key) != check_value(home_key)


SPELLINGS = [
    ("001099012345", "1099012345"),
    ("1099012345", "1099012345"),  # a spreadsheet's number: leading zeros gone
    ("  001 099 012 345 ", "1099012345"),  # typed in groups
    ("001.099.012.345", "1099012345"),
    ("００１０９９０１２３４５", "1099012345"),  # full-width digits
    ("001\u00a0099\u00a0012345", "1099012345"),  # no-break spaces from a web page
    ("0101234567-001", "101234567001"),  # a branch's tax number
    ("b1234567", "B1234567"),  # a passport
    ("000000", "0"),
    ("", ""),
]


def test_sql_and_python_canonical_ids_agree_on_the_spellings_deliveries_carry(chiso_env):
    with psycopg.connect(chiso_env.urls.transformer) as conn:
        for raw, expected in SPELLINGS:
            got = conn.execute("select raw.canonical_id(%s)", (raw,)).fetchone()[0]
            assert got == canonical_id(raw) == expected, raw
        assert conn.execute("select raw.canonical_id(null)").fetchone()[0] is None


ID_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789 .-ABCXYZabcxyz\u00a0\t０１２９")), max_size=20
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run: a reproducible suite
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(ID_TEXT, min_size=1, max_size=20))
def test_sql_and_python_canonical_ids_agree_on_generated_spellings(chiso_env, values):
    with psycopg.connect(chiso_env.urls.transformer) as conn:
        got = conn.execute(
            "select array_agg(raw.canonical_id(v) order by n)"
            " from unnest(%s::text[]) with ordinality as t(v, n)",
            (values,),
        ).fetchone()[0]
    assert got == [canonical_id(v) for v in values]


# --- retention and erasure (chiso/ingest/personal_data.py) ----------------------------------

PERSON_A, PERSON_B = "001099012345", "002188000111"
AGENCY = "000.00.02.H23"
HEADER = ["MaHoSo", "MaTTHC", "DonViXuLy", "ChuHoSo", "SoDinhDanh", "SoDienThoai",
          "NgayTiepNhan", "TrangThaiHoSo"]  # fmt: skip


def _deliver(inbox, name: str, rows: list[tuple[str, str, str]]) -> None:
    """A file of one agency's month (a file replaces its agency-month: one agency each)."""
    agency = name.rsplit("_", 2)[-2]
    import csv

    folder = inbox / "one_stop"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER)
        for key, owner, id_number in rows:
            w.writerow([key, "1.001193", agency, owner, id_number, "0912345678",
                        "05/03/2025 09:15:00", "10"])  # fmt: skip


def _raw(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select ma_ho_so, chu_ho_so, so_dinh_danh, so_dien_thoai, email,"
            " md5(row(ma_ho_so, ma_tthc, don_vi_xu_ly, ngay_tiep_nhan, trang_thai_ho_so,"
            " _extract_month, _batch_id)::text) from raw.one_stop__dossiers"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


PARKED = {"ma_ho_so": "H.5", "so_dinh_danh": "01099012345", "chu_ho_so": "Trần Thị A"}


@pytest.fixture
def delivered(chiso_env):
    """Three files of March 2025 in the archive: person A in two (spelled two ways), B in two;
    and a parked record of A's."""
    import os

    from chiso.ingest.files import ingest_inbox
    from chiso.ingest.loader import prepare

    s, url = chiso_env.settings, chiso_env.urls.loader
    prepare(url)
    with psycopg.connect(chiso_env.urls.admin) as conn:
        conn.execute("truncate raw.one_stop__dossiers, raw.ingest_batches, raw.rejected_records")
    inbox = s.inbox_dir
    _deliver(inbox, f"a-b_{AGENCY}_2025-03.csv", [("H.1", "Trần Thị A", PERSON_A),
                                                  ("H.2", "Lê Văn B", PERSON_B)])  # fmt: skip
    _deliver(inbox, "a_000.00.04.H23_2025-03.csv", [("H.3", "Trần Thị A", "1099 012 345")])
    _deliver(inbox, "b_000.00.06.H23_2025-03.csv", [("H.4", "Lê Văn B", PERSON_B)])
    for path in (inbox / "one_stop").iterdir():
        os.utime(path, (0, 0))  # delivered long ago: settled
    assert {r.status for r in ingest_inbox(url, inbox, "one_stop")} == {"loaded"}
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw.rejected_records (delivery_id, source, entity, origin, record_key,"
            " row_number, field, problem, record_month, record) values (gen_random_uuid(),"
            " 'one_stop', 'one_stop.dossiers', 'test', 'H.5', 1, 'ngay_tiep_nhan', 'malformed',"
            " '2025-03-01', %s)",
            (psycopg.types.json.Jsonb(PARKED),),
        )
    yield s, url, inbox / "archive" / "one_stop" / "2025-03"


def test_erasing_a_person_empties_their_data_everywhere_and_keeps_every_count(
    chiso_env, delivered, capsys
):
    from chiso.cli import main

    _, url, archived = delivered
    before = _raw(url)
    capsys.readouterr()
    assert main(["privacy", "erase", "--id", "001-099-012-345"]) == 0  # any spelling
    out = capsys.readouterr().out
    assert "012345" not in out and "raw rows: 2 in one_stop__dossiers" in out
    after = _raw(url)
    assert after.keys() == before.keys()  # every dossier stays: every count stays
    assert {k: v[-1] for k, v in after.items()} == {k: v[-1] for k, v in before.items()}
    for key in ("H.1", "H.3"):  # A's: nothing personal left, not even a hash
        assert after[key][:4] == (None, None, None, None)
    for key in ("H.2", "H.4"):  # B's: untouched
        assert after[key] == before[key]
    assert sorted(p.name for p in archived.iterdir()) == ["b_000.00.06.H23_2025-03.csv"]
    with psycopg.connect(url) as conn:
        record = conn.execute("select record from raw.rejected_records").fetchone()[0]
    assert record == {"ma_ho_so": "H.5"}


def test_past_the_retention_period_raw_keeps_only_the_keyed_id(chiso_env, delivered, capsys):
    from chiso.cli import main
    from chiso.core.pii import keyed_hash

    s, url, archived = delivered
    before = _raw(url)
    assert main(["privacy", "retain", "--months", "0"]) == 0  # everything before this month
    after = _raw(url)
    key = pii_key(s)
    assert after["H.2"][:4] == (None, "hmac:" + keyed_hash(key, canonical_id(PERSON_B)), None,
                                None)  # fmt: skip
    # one person, one key, whatever the spelling: staging's applicant_key stays the same
    assert after["H.1"][1] == after["H.3"][1] == "hmac:" + keyed_hash(key, "1099012345")
    assert {k: v[-1] for k, v in after.items()} == {k: v[-1] for k, v in before.items()}
    assert not archived.exists() or not any(archived.iterdir())
    assert main(["privacy", "retain", "--months", "0"]) == 0  # idempotent
    assert _raw(url) == after
    # erasure still finds a person whose ID is only a hash by now
    assert main(["privacy", "erase", "--id", PERSON_B]) == 0
    assert _raw(url)["H.2"][:4] == (None, None, None, None)
