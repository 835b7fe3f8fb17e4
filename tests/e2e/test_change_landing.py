"""Landing change deliveries on a real PostgreSQL: each changed record replaces its earlier
version in its own month, children follow their parent, nothing moves back in time, and an
operator's corrected file holds its agency-month against later pulls until released.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from chiso.ingest.change_loader import ChangeWindow, load_changes
from chiso.ingest.files import ingest_file, record_parts
from chiso.ingest.holds import holds, months_to_repull, release
from chiso.ingest.loader import Delivery, load_delivery, prepare
from chiso.ingest.rejects import park_month_rejects
from chiso.sources.canonical import ONE_STOP_DOSSIERS
from tests.reliability import Snapshot, rows

pytestmark = pytest.mark.e2e

AGENCY = "000.00.02.H23"
OTHER = "000.00.04.H23"
JAN, FEB = date(2020, 1, 1), date(2020, 2, 1)


def dossier(n: int, received: str, updated: str, agency: str = AGENCY, **kw) -> dict:
    """A dossier as the one-stop API serves it (DVCQG sync keys), with its children."""
    base = {
        "MaHoSo": f"{agency}-{n:04d}",
        "MaTTHC": "1.001193",
        "DonViXuLy": agency,
        "ChuHoSo": "Nguyễn Văn Ánh",
        "NgayTiepNhan": received,
        "NgayKetThucXuLy": None,
        "TrangThaiHoSo": "4",
        "NgayCapNhat": updated,
        "DanhSachHoSoBoSung": [],
        "CapNhatTienDo": [
            {"ThuTu": "1", "BuocXuLy": "Tiếp nhận", "TrangThai": "2", "ThoiDiem": received},
        ],
    }
    return {**base, **kw}


def land(url: str, records: list[dict], start: str | None, end: str):
    window = ChangeWindow(
        datetime.fromisoformat(start) if start else None, datetime.fromisoformat(end)
    )
    origin = f"test://dossiers?changed_from={start}&changed_to={end}"
    parts = record_parts(origin, iter(records), [ONE_STOP_DOSSIERS])
    return load_changes(
        url,
        source="one_stop",
        origin=origin,
        window=window,
        parts=parts,
        change_field="ngay_cap_nhat",
        watermark_entity="one_stop.dossiers",
    )


def raw(url: str, table: str = "one_stop__dossiers") -> list[tuple]:
    cols = "ma_ho_so, _extract_month" + (
        ", trang_thai_ho_so, ngay_cap_nhat" if table == "one_stop__dossiers" else ", thu_tu"
    )
    with psycopg.connect(url) as conn:
        return conn.execute(f"select {cols} from raw.{table} order by 1, 2, 3").fetchall()


def dossiers(url: str) -> Snapshot:
    """raw's dossiers (key, month, status), for docs/reliability.md."""
    return rows(url, "raw.one_stop__dossiers", "ma_ho_so, _extract_month, trang_thai_ho_so")


def watermark(url: str) -> datetime | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select changed_to from ops.ingest_watermarks where entity = 'one_stop.dossiers'"
        ).fetchone()
    return row[0] if row else None


@pytest.fixture(scope="module")
def url(chiso_env):
    url = chiso_env.urls.loader
    prepare(url)
    return url


@pytest.fixture(autouse=True)
def _empty(url, chiso_env):
    yield
    with psycopg.connect(chiso_env.urls.admin) as conn:
        for table in ("one_stop__dossiers", "one_stop__supplements", "one_stop__progress_events"):
            conn.execute(f"truncate raw.{table}")
        conn.execute(
            "truncate raw.ingest_batches, ops.ingest_watermarks, ops.correction_holds,"
            " raw.rejected_records"
        )


def test_a_changed_record_replaces_its_copy_in_the_month_it_was_received(url):
    first = land(
        url,
        [
            dossier(1, "20200110090000", "20200120100000", TrangThaiHoSo="9"),
            dossier(2, "20200128090000", "20200128090000"),
            dossier(3, "20200203090000", "20200203090000"),
        ],
        None,
        "2020-02-04T00:00:00",
    )
    assert first.months == [JAN, FEB]
    assert watermark(url) == datetime(2020, 2, 4)
    # dossier 2, received in January, resolved on 5 February, comes back in February's window
    resolved = dossier(
        2,
        "20200128090000",
        "20200205150000",
        TrangThaiHoSo="9",
        NgayKetThucXuLy="20200205150000",
        CapNhatTienDo=[
            {"ThuTu": "1", "BuocXuLy": "Tiếp nhận", "TrangThai": "2", "ThoiDiem": "20200128090000"},
            {
                "ThuTu": "2",
                "BuocXuLy": "Hoàn thành",
                "TrangThai": "9",
                "ThoiDiem": "20200205150000",
            },
        ],
    )
    second = land(url, [resolved], "2020-02-04T00:00:00", "2020-02-06T00:00:00")
    assert second.months == [JAN]
    assert [b.replaced_rows for b in second.batches] == [1, 0, 1]  # dossier, supplements, events
    assert raw(url) == [
        (f"{AGENCY}-0001", JAN, "9", "20200120100000"),
        (f"{AGENCY}-0002", JAN, "9", "20200205150000"),
        (f"{AGENCY}-0003", FEB, "4", "20200203090000"),
    ]
    assert raw(url, "one_stop__progress_events") == [
        (f"{AGENCY}-0001", JAN, "1"),
        (f"{AGENCY}-0002", JAN, "1"),
        (f"{AGENCY}-0002", JAN, "2"),
        (f"{AGENCY}-0003", FEB, "1"),
    ]
    assert watermark(url) == datetime(2020, 2, 6)
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select entity, extract_month, status, row_count, changed_from, changed_to"
            " from raw.ingest_batches where delivery_id = %s order by entity",
            (second.delivery_id,),
        ).fetchall()
    assert ledger == [
        ("one_stop.dossiers", JAN, "loaded", 1, datetime(2020, 2, 4), datetime(2020, 2, 6)),
        ("one_stop.progress_events", JAN, "loaded", 2, datetime(2020, 2, 4), datetime(2020, 2, 6)),
        ("one_stop.supplements", JAN, "loaded", 0, datetime(2020, 2, 4), datetime(2020, 2, 6)),
    ]

    # the same window again changes nothing; an older copy landing late is not written
    land(url, [resolved], "2020-02-04T00:00:00", "2020-02-06T00:00:00")
    late = land(url, [dossier(2, "20200128090000", "20200128090000")], None, "2020-02-01T00:00:00")
    assert late.batches[0].stale_rows == 1 and late.rows == 0
    assert raw(url)[1] == (f"{AGENCY}-0002", JAN, "9", "20200205150000")
    assert watermark(url) == datetime(2020, 2, 6)  # never moves back


def test_an_empty_window_still_advances_the_watermark(url):
    result = land(url, [], None, "2020-03-01T00:00:00")
    assert result.batches == () and result.received == 0
    assert watermark(url) == datetime(2020, 3, 1)


def test_a_stray_bad_record_is_parked_and_the_rest_lands(url, reliability):
    """One record with a malformed receipt date and one changed after the window asked for
    are parked in raw.rejected_records (the first with its progress row), naming the field
    and never the value; the good record lands and the watermark moves. A later pull that
    brings the first one whole lands it and clears its reject."""
    bad = dossier(2, "hôm 0912345678", "20200120100000")
    trial = reliability.trial(
        "API pulls",
        "a change pull with a malformed date and a record changed after its window",
        dossiers(url),
    )
    result = land(
        url,
        [
            dossier(1, "20200110090000", "20200120100000"),
            bad,
            dossier(3, "20200111090000", "20200305100000"),
        ],
        None,
        "2020-02-01T00:00:00",
    )
    assert result.received == 3
    assert [r[0] for r in raw(url)] == [f"{AGENCY}-0001"]
    assert watermark(url) == datetime(2020, 2, 1)
    with psycopg.connect(url) as conn:
        parked = conn.execute(
            "select entity, record_key, field, problem, record_month, record ->> 'ma_ho_so'"
            " from raw.rejected_records order by entity, record_key"
        ).fetchall()
    assert [p[:3] for p in parked] == [
        ("one_stop.dossiers", f"{AGENCY}-0002", "ngay_tiep_nhan"),
        ("one_stop.dossiers", f"{AGENCY}-0003", "ngay_cap_nhat"),
        ("one_stop.progress_events", f"{AGENCY}-0002", "thoi_diem"),  # malformed itself
        ("one_stop.progress_events", f"{AGENCY}-0003", "ma_ho_so"),  # its parent was parked
    ]
    assert "0912345678" not in " ".join(p[3] for p in parked)  # the value is never quoted
    assert parked[1][4] == date(2020, 1, 1) and parked[0][5] == f"{AGENCY}-0002"
    trial.done(
        "both parked in raw.rejected_records (field named, value never quoted), the good"
        " record landed",
        dossiers(url),
    )
    # the vendor fixes it: the record lands and leaves the rejects
    land(url, [{**bad, "NgayTiepNhan": "20200112090000", "NgayCapNhat": "20200210100000"}],
         "2020-02-01T00:00:00", "2020-03-01T00:00:00")  # fmt: skip
    assert f"{AGENCY}-0002" in [r[0] for r in raw(url)]
    with psycopg.connect(url) as conn:
        left = conn.execute("select record_key from raw.rejected_records order by 1").fetchall()
    assert left == [(f"{AGENCY}-0003",), (f"{AGENCY}-0003",)]  # 0003 and its child stay


def test_more_bad_records_than_the_reject_limit_fail_the_pull(url, reliability):
    """Past the reject limit (10 records, or 1 % of a pull) a delivery is broken, not a stray
    record: the pull fails naming the first row and field, and nothing lands."""
    records = [dossier(n, "hôm qua", "20200120100000") for n in range(1, 13)]
    trial = reliability.trial(
        "API pulls", "a change pull with 12 of 12 records malformed", dossiers(url)
    )
    with pytest.raises(Exception, match=r"more than 10 of 12 .*row 1: field ngay_tiep_nhan"):
        land(url, records, None, "2020-02-01T00:00:00")
    assert raw(url) == [] and watermark(url) is None
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select status, error_row, error_field, changed_to from raw.ingest_batches"
        ).fetchall()
        parked = conn.execute("select count(*) from raw.rejected_records").fetchone()[0]
    assert ledger == [("failed", 1, "ngay_tiep_nhan", datetime(2020, 2, 1))] and parked == 0
    trial.done(
        "past the reject limit: the pull fails naming row and field; nothing lands",
        dossiers(url),
    )


def pull_month(url: str, records: list[dict], month: date = JAN):
    """A whole month's pull as chiso.ingest.pulls lands it (stray bad records parked)."""
    origin = f"test://dossiers?month={month:%Y-%m}"
    parts = record_parts(origin, iter(records), [ONE_STOP_DOSSIERS])
    delivery = Delivery(source="one_stop", channel="api", origin=origin, month=month,
                        whole_month=True)  # fmt: skip
    return load_delivery(url, delivery, parts, park=park_month_rejects)


def test_a_whole_months_pull_parks_a_stray_bad_record_and_keeps_its_earlier_copy(url, reliability):
    """In a whole month's pull, a record with a malformed date and one dated in another month
    are parked (with their children) instead of failing the pull; the month is replaced by
    the rest, but the parked records' copies from the earlier pull stay, so nothing that was
    loaded is lost and nothing is counted twice. The ledger counts what landed. The next pull
    that brings them whole replaces those copies and clears the rejects."""
    good = [dossier(n, f"2020011{n}090000", "20200120100000") for n in (1, 2, 3)]
    pull_month(url, good)
    bad = [
        {**good[0], "TrangThaiHoSo": "5"},
        {**good[1], "NgayTiepNhan": "hôm 0912345678"},
        {**good[2], "NgayTiepNhan": "20200305090000"},  # not January's
    ]
    trial = reliability.trial(
        "API pulls",
        "a whole month's pull again, one record malformed and one dated in another month",
        dossiers(url),
    )
    result = pull_month(url, bad)
    assert result.status == "loaded"
    assert raw(url) == [
        (f"{AGENCY}-0001", JAN, "5", "20200120100000"),  # replaced by the new pull
        (f"{AGENCY}-0002", JAN, "4", "20200120100000"),  # the earlier copies, kept
        (f"{AGENCY}-0003", JAN, "4", "20200120100000"),
    ]
    events = [r[0] for r in raw(url, "one_stop__progress_events")]
    assert sorted(events) == [f"{AGENCY}-000{n}" for n in (1, 2, 3)]  # once each
    with psycopg.connect(url) as conn:
        parked = conn.execute(
            "select entity, record_key, field, problem, record_month"
            " from raw.rejected_records order by entity, record_key"
        ).fetchall()
        counts = dict(
            conn.execute(
                "select entity, row_count from raw.ingest_batches where delivery_id = %s",
                (result.delivery_id,),
            ).fetchall()
        )
    assert [p[:3] for p in parked] == [
        ("one_stop.dossiers", f"{AGENCY}-0002", "ngay_tiep_nhan"),
        ("one_stop.dossiers", f"{AGENCY}-0003", "ngay_tiep_nhan"),
        ("one_stop.progress_events", f"{AGENCY}-0002", "ma_ho_so"),
        ("one_stop.progress_events", f"{AGENCY}-0003", "ma_ho_so"),
    ]
    assert "0912345678" not in " ".join(p[3] for p in parked)
    assert parked[1][4] == date(2020, 3, 1)  # the gate of the month it names reports it
    assert counts == {"one_stop.dossiers": 1, "one_stop.progress_events": 1,
                      "one_stop.supplements": 0}  # fmt: skip
    trial.done(
        "both parked, their copies from the earlier pull kept; the third record replaced",
        dossiers(url),
    )
    # the vendor fixes them: the month is whole again, and nothing stays parked
    pull_month(url, [bad[0], {**good[1], "TrangThaiHoSo": "6"}, good[2]])
    assert [(r[0], r[2]) for r in raw(url)] == [
        (f"{AGENCY}-0001", "5"), (f"{AGENCY}-0002", "6"), (f"{AGENCY}-0003", "4"),
    ]  # fmt: skip
    assert len(raw(url, "one_stop__progress_events")) == 3
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.rejected_records").fetchone()[0] == 0


def test_a_whole_months_pull_past_the_reject_limit_fails_and_keeps_the_month(url, reliability):
    good = [dossier(n, "20200110090000", "20200120100000") for n in range(1, 13)]
    pull_month(url, good)
    trial = reliability.trial(
        "API pulls", "a whole month's pull again with every record malformed", dossiers(url)
    )
    with pytest.raises(Exception, match=r"more than 10 of 12 .*field ngay_tiep_nhan"):
        pull_month(url, [{**d, "NgayTiepNhan": "hôm qua"} for d in good])
    assert len(raw(url)) == 12
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.rejected_records").fetchone()[0] == 0
    trial.done("the pull fails; the month keeps what it had", dossiers(url))


def test_the_last_second_of_a_month_and_the_first_of_the_next_fall_each_in_their_own(
    url, reliability
):
    """Asia/Ho_Chi_Minh is UTC+7: 31 January 23:59:59 local (16:59:59Z) is January's, 1
    February 00:00:00 local (17:00:00Z on the 31st) is February's, however the source writes
    the instant. In January's whole-month pull the January ones land and the February ones
    are parked (dated in another month), and February's pull lands those: each once."""
    spellings = {
        1: ("20200131235959", JAN),  # the vendor's compact local time
        2: ("2020-01-31T16:59:59Z", JAN),  # the same instant, UTC
        3: ("2020-01-31T23:59:59+07:00", JAN),
        4: ("20200201000000", FEB),
        5: ("2020-01-31T17:00:00Z", FEB),  # 00:00 on 1 February, local
        6: ("2020-02-01T00:00:00+07:00", FEB),
    }
    records = [dossier(n, when, "20200201120000") for n, (when, _) in spellings.items()]
    trial = reliability.trial(
        "API pulls",
        "23:59:59 and 00:00:00 Asia/Ho_Chi_Minh at a month's end, written local, Z and +07:00,"
        " pulled with January and with February",
        dossiers(url),
    )
    pull_month(url, records, JAN)
    pull_month(url, records, FEB)
    landed = sorted((int(key[-4:]), month) for key, month, *_ in raw(url))
    assert landed == [(n, month) for n, (_, month) in spellings.items()]  # each once
    with psycopg.connect(url) as conn:
        parked = conn.execute(
            "select record_key, field from raw.rejected_records where entity = %s",
            ("one_stop.dossiers",),
        ).fetchall()
    assert parked == []  # parked by January's pull, cleared by February's
    trial.done("each record once, in the month of its local time", dossiers(url))


def test_a_change_at_the_windows_end_belongs_to_the_next_window_once(url, reliability):
    """A window is [changed_from, changed_to): a record changed at 23:59:59 on the window's
    last day lands in it; one changed at 00:00:00, the window's end, is outside it (parked, not
    lost) and lands with the next window, which clears it: each record once."""
    first = [
        dossier(1, "20200110090000", "20200131235959"),
        dossier(2, "20200110090000", "20200201000000"),
    ]
    trial = reliability.trial(
        "API pulls", "changes at 23:59:59 and 00:00:00 on a change window's end", dossiers(url)
    )
    land(url, first, None, "2020-02-01T00:00:00")
    assert [r[0] for r in raw(url)] == [f"{AGENCY}-0001"]
    land(url, [first[1]], "2020-02-01T00:00:00", "2020-03-01T00:00:00")
    assert [r[0] for r in raw(url)] == [f"{AGENCY}-0001", f"{AGENCY}-0002"]
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.rejected_records").fetchone()[0] == 0
    trial.done("each change once, in the window it belongs to", dossiers(url))


def test_a_corrected_file_holds_its_agency_month_until_released(url, tmp_path: Path):
    land(
        url,
        [
            dossier(1, "20200110090000", "20200110090000"),
            dossier(1, "20200110090000", "20200110090000", agency=OTHER),
        ],
        None,
        "2020-02-01T00:00:00",
    )
    # the operator corrects AGENCY's January by file
    fixed = dossier(1, "20200110090000", "20200110090000", TrangThaiHoSo="10")
    path = tmp_path / f"{AGENCY}_2020-01.json"
    path.write_text(json.dumps([fixed], ensure_ascii=False), encoding="utf-8")
    ingest_file(url, "one_stop", path)
    assert [(h.entity, h.agency_code, h.extract_month) for h in holds(url)] == [
        ("one_stop.dossiers", AGENCY, JAN),
        ("one_stop.progress_events", AGENCY, JAN),
    ]

    # a change pull: AGENCY's record is held, OTHER's lands; the ledger says why
    changed = [
        dossier(1, "20200110090000", "20200203080000", TrangThaiHoSo="9"),
        dossier(1, "20200110090000", "20200203080000", agency=OTHER, TrangThaiHoSo="9"),
    ]
    result = land(url, changed, "2020-02-01T00:00:00", "2020-02-04T00:00:00")
    assert result.batches[0].held_rows == 1 and result.rows == 2  # OTHER's dossier + event
    statuses = {r[0]: r[2] for r in raw(url)}
    assert statuses == {f"{AGENCY}-0001": "10", f"{OTHER}-0001": "9"}
    with psycopg.connect(url) as conn:
        (warnings,) = conn.execute(
            "select warnings from raw.ingest_batches where batch_id = %s",
            (result.batches[0].batch_id,),
        ).fetchone()
    assert warnings[0]["kind"] == "correction_hold" and warnings[0]["agencies"] == [AGENCY]

    # a whole-month re-pull leaves the held agency alone too
    month_pull = record_parts(
        "test://dossiers?received=2020-01", iter(changed), [ONE_STOP_DOSSIERS]
    )
    delivery = Delivery(
        "one_stop", "api", "test://dossiers?received=2020-01", JAN, whole_month=True
    )
    load_delivery(url, delivery, month_pull)
    assert {r[0]: r[2] for r in raw(url)} == statuses

    # released: the next pull re-pulls the month, and the source's version wins
    assert release(url, agency=AGENCY, month=JAN, entity=None, by="test") == 2
    with psycopg.connect(url) as conn:
        assert months_to_repull(conn, "one_stop.dossiers") == [JAN]
    load_delivery(url, delivery, record_parts(delivery.origin, iter(changed), [ONE_STOP_DOSSIERS]))
    assert {r[0]: r[2] for r in raw(url)} == {f"{AGENCY}-0001": "9", f"{OTHER}-0001": "9"}


def test_a_pull_still_paging_holds_no_lock_on_the_table(url):
    """Two installations' pulls of one table (a national deployment): the one whose source is
    still paging its answer does not keep the other from landing (chiso/ingest/prefetch.py);
    the table's lock is held for the landing only."""
    paging = threading.Event()
    go_on = threading.Event()

    def slow_source():
        yield dossier(1, "20200110090000", "20200115090000")
        paging.set()
        assert go_on.wait(120), "the other pull never landed"
        yield dossier(2, "20200111090000", "20200115100000")

    def pull(records, province: str) -> None:
        origin = f"test://provinces/{province}/dossiers"
        load_changes(
            url,
            source="one_stop",
            origin=origin,
            window=ChangeWindow(None, datetime(2020, 2, 1)),
            parts=record_parts(origin, records, [ONE_STOP_DOSSIERS]),
            change_field="ngay_cap_nhat",
            watermark_entity="one_stop.dossiers",
            province=province,
        )

    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(pull, slow_source(), "31")
        assert paging.wait(60)
        pull(iter([dossier(3, "20200112090000", "20200115090000", OTHER)]), "25")
        go_on.set()
        slow.result(timeout=120)
    assert [r[0] for r in raw(url)] == [f"{AGENCY}-0001", f"{AGENCY}-0002", f"{OTHER}-0003"]
