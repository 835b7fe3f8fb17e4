"""Generator, HTTP API and XLSX export of the one-stop simulator."""

from __future__ import annotations

import io
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from chiso.simulator.one_stop import (
    DOSSIER_KEYS,
    PROCEDURES,
    SimulatorConfig,
    generate_dossiers,
    load_agencies,
)
from chiso.simulator.server import create_app
from chiso.simulator.xlsx_export import HEADER_TO_KEY, read_month_xlsx, write_month_xlsx

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CFG = SimulatorConfig()
VN_HOLIDAYS = holidays.country_holidays("VN", years=range(2019, 2022))


def ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%d%H%M%S")


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and day not in VN_HOLIDAYS


def count_workdays_after(start: date, end: date) -> int:
    """Working days in (start, end]: an independent check of the due-date arithmetic."""
    return sum(is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


@pytest.fixture(scope="module")
def dossiers() -> list[dict]:
    return generate_dossiers(CFG)


@pytest.fixture(scope="module")
def client(dossiers: list[dict]) -> TestClient:
    return TestClient(create_app(dossiers, TOKEN))


# --- generator ---------------------------------------------------------------------------


def test_same_seed_same_output_and_other_seed_differs(dossiers: list[dict]) -> None:
    assert generate_dossiers(SimulatorConfig()) == dossiers
    other = generate_dossiers(SimulatorConfig(seed=7))
    assert other != dossiers
    assert len(dossiers) > 1000


def test_mahoso_unique_and_shaped(dossiers: list[dict]) -> None:
    ids = [d["MaHoSo"] for d in dossiers]
    assert len(ids) == len(set(ids))
    for d in dossiers:
        agency, day, seq = d["MaHoSo"].rsplit("-", 2)
        assert agency == d["DonViXuLy"]
        assert day == d["NgayTiepNhan"][2:8]
        assert len(seq) == 4 and seq.isdigit()


def test_record_shape_and_nfc(dossiers: list[dict]) -> None:
    for d in dossiers:
        assert tuple(d) == DOSSIER_KEYS
        for value in d.values():
            assert value is None or isinstance(value, str)
            if isinstance(value, str):
                assert unicodedata.normalize("NFC", value) == value
        assert len(d["SoDinhDanh"]) == 12 and d["SoDinhDanh"].isdigit()
        assert d["SoDienThoai"].startswith("09") and len(d["SoDienThoai"]) == 10
        assert d["MucDo"] in {"2", "3", "4"}
        assert d["LoaiDoiTuong"] in {"1", "2"}
        assert d["KenhThucHien"] in {"1", "2", "3", None}
        assert d["HinhThucTra"] in {"0", "1"}
        assert d["DuocThanhToanTrucTuyen"] in {"0", "1"}
        assert d["TrangThaiHoSo"] in {"2", "3", "4", "5", "7", "8", "9", "10"}
    # Names really carry Vietnamese diacritics.
    assert any("ễ" in d["ChuHoSo"] or "ầ" in d["ChuHoSo"] for d in dossiers)


def test_timing_invariants(dossiers: list[dict]) -> None:
    statutory = {p.code: p.working_days for p in PROCEDURES}
    for d in dossiers:
        submitted, accepted = ts(d["NgayNopHoSo"]), ts(d["NgayTiepNhan"])
        assert submitted <= accepted
        assert is_workday(accepted.date()), d["MaHoSo"]
        assert "073000" <= d["NgayTiepNhan"][8:] <= "170000"
        status = d["TrangThaiHoSo"]
        if status == "3":
            assert d["NgayHenTra"] is None and d["NgayKetThucXuLy"] is None
            continue
        due = ts(d["NgayHenTra"])
        assert due.time().hour == 17 and is_workday(due.date())
        assert count_workdays_after(accepted.date(), due.date()) == statutory[d["MaTTHC"]]
        if status in {"9", "10"}:
            finished = ts(d["NgayKetThucXuLy"])
            assert finished >= accepted and is_workday(finished.date())
            if status == "10":
                assert ts(d["NgayTra"]) >= finished
            else:
                assert d["NgayTra"] is None
        if status in {"2", "4", "5"}:
            assert d["NgayKetThucXuLy"] is None and d["NgayTra"] is None


def test_open_dossiers_only_near_horizon_end(dossiers: list[dict]) -> None:
    horizon_end = datetime(2020, 7, 1)
    open_ = [d for d in dossiers if d["TrangThaiHoSo"] in {"2", "4", "5"}]
    assert open_
    for d in open_:
        # Every procedure finishes within 30 working days (+ a few late days) of acceptance.
        assert ts(d["NgayTiepNhan"]) > horizon_end - timedelta(days=70)
    # Resolution can fall in a later month than receipt.
    assert any(
        d["NgayKetThucXuLy"] and d["NgayKetThucXuLy"][:6] > d["NgayTiepNhan"][:6] for d in dossiers
    )


def test_only_valid_agencies_and_their_tier(dossiers: list[dict]) -> None:
    agencies = {a.code: a for a in load_agencies(CFG.agencies_csv)}
    tier_of = {p.code: p.tier for p in PROCEDURES}
    for d in dossiers:
        agency = agencies[d["DonViXuLy"]]
        assert agency.valid_on(ts(d["NgayTiepNhan"]).date())
        assert d["TenDonViXuLy"] == agency.name
        assert tier_of[d["MaTTHC"]] == agency.tier


def test_validity_window_respected(tmp_path: Path) -> None:
    csv_path = tmp_path / "agencies.csv"
    csv_path.write_text(
        "agency_code,agency_name,tier,province_code,province_name,parent_agency_code,"
        "valid_from,valid_to\n"
        "000.00.90.H23,Sở Cũ,province_dept,30,Hải Dương,,2015-01-01,2020-02-14\n"
        "000.00.91.H23,UBND xã Mới,commune,30,Hải Dương,,2020-03-10,\n"
        "000.00.92.H23,UBND huyện Đã Giải Thể,district,30,Hải Dương,,2010-01-01,2019-12-31\n",
        encoding="utf-8",
    )
    out = generate_dossiers(SimulatorConfig(agencies_csv=csv_path, months=4))
    by_agency = defaultdict(list)
    for d in out:
        by_agency[d["DonViXuLy"]].append(d["NgayTiepNhan"][:8])
    assert "000.00.92.H23" not in by_agency
    assert max(by_agency["000.00.90.H23"]) <= "20200214"
    assert min(by_agency["000.00.91.H23"]) >= "20200310"
    assert max(by_agency["000.00.91.H23"]) >= "20200401"


def test_volume_varies_by_agency_and_month(dossiers: list[dict]) -> None:
    volume = Counter((d["DonViXuLy"], d["NgayTiepNhan"][:6]) for d in dossiers)
    assert len(set(volume.values())) > 10
    tiers = {a.code: a.tier for a in load_agencies(CFG.agencies_csv)}
    per_tier: dict[str, list[int]] = defaultdict(list)
    for (agency, _), n in volume.items():
        per_tier[tiers[agency]].append(n)
    mean = {t: sum(v) / len(v) for t, v in per_tier.items()}
    assert mean["province_dept"] > mean["commune"]


def test_channel_calibration(dossiers: list[dict]) -> None:
    n = len(dossiers)
    channels = Counter(d["KenhThucHien"] for d in dossiers)
    assert 0.10 <= channels["2"] / n <= 0.20
    assert 0.03 <= channels["3"] / n <= 0.08
    assert 0.01 <= channels[None] / n <= 0.06
    assert not [d for d in dossiers if d["MucDo"] == "2" and d["KenhThucHien"] == "2"]
    tiers = {a.code: a.tier for a in load_agencies(CFG.agencies_csv)}

    def online_share(tier: str) -> float:
        rows = [d for d in dossiers if tiers[d["DonViXuLy"]] == tier and d["MucDo"] != "2"]
        return sum(d["KenhThucHien"] == "2" for d in rows) / len(rows)

    assert online_share("province_dept") > online_share("commune")


def test_outcome_calibration(dossiers: list[dict]) -> None:
    resolved = [d for d in dossiers if d["TrangThaiHoSo"] in {"9", "10"}]
    early = [d for d in resolved if d["NgayKetThucXuLy"][:8] < d["NgayHenTra"][:8]]
    late = [d for d in resolved if d["NgayKetThucXuLy"][:8] > d["NgayHenTra"][:8]]
    assert 0.55 <= len(early) / len(resolved) <= 0.80
    assert 0.002 <= len(late) / len(resolved) <= 0.05
    statuses = Counter(d["TrangThaiHoSo"] for d in dossiers)
    for code in ("3", "7", "8"):
        assert 0.002 <= statuses[code] / len(dossiers) <= 0.06
    # Rates differ between agencies.
    by_agency: dict[str, list[bool]] = defaultdict(list)
    for d in resolved:
        by_agency[d["DonViXuLy"]].append(d in early)
    rates = {round(sum(v) / len(v), 2) for v in by_agency.values()}
    assert len(rates) > 3


# --- HTTP API ----------------------------------------------------------------------------


def fetch_all(client: TestClient, received_from: str, received_to: str, size: int) -> list:
    items, page = [], 1
    while True:
        r = client.get(
            "/api/v1/dossiers",
            params={
                "received_from": received_from,
                "received_to": received_to,
                "page": page,
                "page_size": size,
            },
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= size
        items.extend(body["items"])
        if page >= body["total_pages"]:
            return items
        page += 1


def test_health_needs_no_auth(client: TestClient, dossiers: list[dict]) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "dossiers": len(dossiers)}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_api_requires_bearer_token(client: TestClient, headers: dict) -> None:
    params = {"received_from": "2020-01-01", "received_to": "2020-02-01"}
    r = client.get("/api/v1/dossiers", params=params, headers=headers)
    assert r.status_code == 401
    assert "detail" in r.json()
    assert client.get("/api/v1/exports/2020-01.xlsx", headers=headers).status_code == 401


def test_api_filter_and_paging(client: TestClient, dossiers: list[dict]) -> None:
    expected = sorted(
        (d for d in dossiers if "20200115" <= d["NgayTiepNhan"][:8] < "20200204"),
        key=lambda d: d["MaHoSo"],
    )
    got = fetch_all(client, "2020-01-15", "2020-02-04", 97)
    assert got == expected
    first = client.get(
        "/api/v1/dossiers",
        params={"received_from": "2020-01-15", "received_to": "2020-02-04", "page_size": 97},
        headers=AUTH,
    ).json()
    assert first["page"] == 1 and first["page_size"] == 97
    assert first["total"] == len(expected)
    assert first["total_pages"] == -(-len(expected) // 97)


def test_api_page_past_end_is_empty(client: TestClient) -> None:
    r = client.get(
        "/api/v1/dossiers",
        params={"received_from": "2020-01-01", "received_to": "2020-01-08", "page": 999},
        headers=AUTH,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["items"] == [] and body["total"] > 0


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"received_from": "2020-13-01", "received_to": "2020-02-01"}, 422),
        ({"received_from": "01/01/2020", "received_to": "2020-02-01"}, 422),
        ({"received_to": "2020-02-01"}, 422),
        ({"received_from": "2020-01-01", "received_to": "2020-02-01", "page_size": 1001}, 422),
        ({"received_from": "2020-01-01", "received_to": "2020-02-01", "page": 0}, 422),
        ({"received_from": "2020-02-01", "received_to": "2020-01-01"}, 400),
    ],
)
def test_api_rejects_bad_parameters(client: TestClient, params: dict, status: int) -> None:
    assert client.get("/api/v1/dossiers", params=params, headers=AUTH).status_code == status


def test_api_export_download(client: TestClient, dossiers: list[dict]) -> None:
    r = client.get("/api/v1/exports/2020-02.xlsx", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = read_month_xlsx(io.BytesIO(r.content))
    assert rows == [d for d in dossiers if d["NgayTiepNhan"].startswith("202002")]
    assert client.get("/api/v1/exports/2020-13.xlsx", headers=AUTH).status_code == 404


# --- XLSX --------------------------------------------------------------------------------


def test_xlsx_round_trip_and_layout(dossiers: list[dict], tmp_path: Path) -> None:
    path = tmp_path / "2020-01.xlsx"
    written = write_month_xlsx(dossiers, date(2020, 1, 1), path)
    expected = [d for d in dossiers if d["NgayTiepNhan"].startswith("202001")]
    assert written == len(expected) > 0
    assert read_month_xlsx(path) == expected

    ws = load_workbook(path).active
    assert ws["A1"].value == "DANH SÁCH HỒ SƠ TTHC – Từ ngày: 01/01/2020 Đến ngày: 31/01/2020"
    assert any(str(rng).startswith("A1:") for rng in ws.merged_cells.ranges)
    assert all(c.value is None for c in ws[2])
    header = [c.value for c in ws[3]]
    assert header[0] == "STT" and header[1:] == list(HEADER_TO_KEY)
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "Người lập biểu" in values
    first_row = {header[i]: c.value for i, c in enumerate(ws[4])}
    assert first_row["Ngày tiếp nhận"] == datetime.strptime(
        expected[0]["NgayTiepNhan"], "%Y%m%d%H%M%S"
    ).strftime("%d/%m/%Y %H:%M:%S")


def test_xlsx_reader_finds_shifted_header(dossiers: list[dict]) -> None:
    buf = io.BytesIO()
    write_month_xlsx(dossiers, date(2020, 3, 1), buf)
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    wb.active.insert_rows(1, amount=3)
    wb.active["B2"] = "UBND TỈNH HẢI DƯƠNG"
    shifted = io.BytesIO()
    wb.save(shifted)
    shifted.seek(0)
    assert read_month_xlsx(shifted) == [
        d for d in dossiers if d["NgayTiepNhan"].startswith("202003")
    ]
