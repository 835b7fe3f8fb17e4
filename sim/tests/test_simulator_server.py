"""The simulator's HTTP API over all three systems, its downloads and its fault mode."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from chiso_sim import faults as faults_mod
from chiso_sim.clock import Timeline
from chiso_sim.config import SimulatorConfig
from chiso_sim.documents import generate_month as documents_at
from chiso_sim.faults import FaultConfig, FaultInjector, decide, request_key
from chiso_sim.one_stop import generate_month as dossiers_at
from chiso_sim.one_stop import horizon_end
from chiso_sim.server import (
    AS_OF_ENV,
    EXPORT_SOURCES,
    Generators,
    as_of_from_env,
    build_parser,
    create_simulator_app,
    default_generators,
    faults_from_args,
    faults_from_env,
    without_nulls,
)
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from chiso.ingest import api_client
from chiso.ingest.api_client import iter_records
from tests.simulator_server import serving

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CFG = SimulatorConfig(
    start_month=date(2020, 1, 1),
    months=2,
    provinces=("30",),
    dossiers_per_agency_month=4,
    documents_per_agency_month=4,
    procedures_per_province=120,
)
JAN, FEB = date(2020, 1, 1), date(2020, 2, 1)


# --- small fake sources: exact expectations, fast --------------------------------------------


def fake_dossiers(cfg: Any, month: date) -> list[dict[str, Any]]:
    out = []
    for i in range(45):
        day = 1 + (i * 7) % 28
        key = f"A{i % 3}-{month:%y%m}{day:02d}-{i:04d}"
        out.append(
            {
                "MaHoSo": key,
                "DonViXuLy": f"000.00.0{i % 3}.H23",
                "NgayTiepNhan": f"{month:%Y%m}{day:02d}0930{i % 60:02d}",
                "TrangThaiHoSo": "9",
                "DanhSachHoSoBoSung": [],
                "CapNhatTienDo": [{"ThuTu": "1", "TrangThai": "2", "ThoiDiem": "x"}],
            }
        )
    return out


def fake_documents(cfg: Any, month: date) -> list[dict[str, Any]]:
    return [
        {
            "ma_van_ban": f"VB-{month:%Y%m}-{i:03d}",
            "don_vi": f"000.00.0{i % 2}.H23",
            "huong": "di" if i % 2 else "den",
            "so_ky_hieu": f"{i}/UBND",
            "ngay_gui_nhan": f"{month:%Y-%m}-{1 + i % 28:02d} 08:00:00",
        }
        for i in range(30)
    ]


def fake_catalogue(cfg: Any, day: date) -> list[dict[str, Any]]:
    return [
        {"ngay_chot": day.isoformat(), "don_vi": "000.00.01.H23", "ma_tthc": f"1.{i:06d}"}
        for i in range(12 + day.day % 3)
    ]


def fake_usage(cfg: Any, month: date) -> list[dict[str, Any]]:
    return [
        {"thang": month.isoformat(), "don_vi": f"000.00.{i:02d}.H23", "tai_khoan_moi": str(i)}
        for i in range(7)
    ]


def _fake_dossier_timeline(cfg: Any, month: date) -> Timeline:
    return Timeline.fixed(
        fake_dossiers(cfg, month), lambda d: datetime.strptime(d["NgayTiepNhan"], "%Y%m%d%H%M%S")
    )


def _fake_document_timeline(cfg: Any, month: date) -> Timeline:
    return Timeline.fixed(
        fake_documents(cfg, month), lambda d: datetime.fromisoformat(d["ngay_gui_nhan"])
    )


# Records that never change (they exist from their receipt); the clock is tested on the real
# generators below.
FAKES = Generators(
    _fake_dossier_timeline,
    _fake_document_timeline,
    lambda cfg, day, as_of: fake_catalogue(cfg, day),
    lambda cfg, month, as_of: fake_usage(cfg, month),
)


def make_client(faults: FaultConfig | None = None, generators: Generators = FAKES) -> TestClient:
    return TestClient(create_simulator_app(CFG, TOKEN, faults, generators=generators))


@pytest.fixture(scope="module")
def client() -> TestClient:
    return make_client()


def get_all(client: Any, path: str, params: dict[str, Any], size: int) -> list[dict]:
    items, page = [], 1
    while True:
        r = client.get(path, params={**params, "page": page, "page_size": size}, headers=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "page", "page_size", "total", "total_pages"}
        assert len(body["items"]) <= size
        items += body["items"]
        if page >= body["total_pages"]:
            return items
        page += 1


PAGED = {
    "/api/v1/dossiers": {"received_from": "2020-01-10", "received_to": "2020-02-05"},
    "/api/v1/documents": {"date_from": "2020-01-10", "date_to": "2020-02-05"},
    "/api/v1/service-catalogue": {"as_of": "2020-01-31"},
    "/api/v1/usage": {"month": "2020-02"},
}
KEYS = {
    "/api/v1/dossiers": ("MaHoSo",),
    "/api/v1/documents": ("don_vi", "ma_van_ban", "huong"),
    "/api/v1/service-catalogue": ("don_vi", "ma_tthc"),
    "/api/v1/usage": ("thang", "don_vi"),
}


# --- endpoints ---------------------------------------------------------------------------


def test_health_needs_no_auth(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["months"] == ["2020-01", "2020-02"]
    assert body["faults"] == [] and "documents" in body["sources"]


@pytest.mark.parametrize(
    "path",
    [*PAGED, "/api/v1/exports/one_stop/2020-01.xlsx", "/api/v1/exports/documents/2020-01.csv"],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
def test_every_endpoint_requires_the_bearer_token(path: str, headers: dict) -> None:
    client = make_client(FaultConfig(error_rate=1.0))
    r = client.get(path, params=PAGED.get(path, {}), headers=headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    injector: FaultInjector = client.app.state.faults  # type: ignore[attr-defined]
    assert injector.attempts(path, PAGED.get(path, {}).items()) == 0  # auth before faults


def test_dossiers_window_paging_and_nested_lists(client: TestClient) -> None:
    everything = fake_dossiers(CFG, JAN) + fake_dossiers(CFG, FEB)
    expected = sorted(
        (d for d in everything if "20200110" <= d["NgayTiepNhan"][:8] < "20200205"),
        key=lambda d: d["MaHoSo"],
    )
    got = get_all(client, "/api/v1/dossiers", PAGED["/api/v1/dossiers"], 7)
    assert got == expected and got[0]["CapNhatTienDo"]
    first = client.get(
        "/api/v1/dossiers", params={**PAGED["/api/v1/dossiers"], "page_size": 7}, headers=AUTH
    ).json()
    assert first["total"] == len(expected) and first["total_pages"] == -(-len(expected) // 7)


def test_documents_window_is_half_open(client: TestClient) -> None:
    got = get_all(
        client, "/api/v1/documents", {"date_from": "2020-01-05", "date_to": "2020-01-06"}, 100
    )
    assert got and {d["ngay_gui_nhan"][:10] for d in got} == {"2020-01-05"}
    assert got == sorted(got, key=lambda d: (d["don_vi"], d["ma_van_ban"], d["huong"]))
    both = get_all(
        client, "/api/v1/documents", {"date_from": "2020-01-01", "date_to": "2020-03-01"}, 1000
    )
    assert len(both) == 60


def test_service_catalogue_and_usage(client: TestClient) -> None:
    got = get_all(client, "/api/v1/service-catalogue", {"as_of": "2020-02-29"}, 5)
    assert got == fake_catalogue(CFG, date(2020, 2, 29))
    assert get_all(client, "/api/v1/service-catalogue", {"as_of": "2019-12-31"}, 5) == []
    assert get_all(client, "/api/v1/usage", {"month": "2020-02"}, 3) == fake_usage(CFG, FEB)
    assert get_all(client, "/api/v1/usage", {"month": "2021-01"}, 3) == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/dossiers", {"received_from": "2020-02-01", "received_to": "2020-01-01"}, 400),
        ("/api/v1/dossiers", {"received_from": "01/01/2020", "received_to": "2020-02-01"}, 422),
        ("/api/v1/documents", {"date_from": "2020-01-01"}, 400),  # a pair goes together
        ("/api/v1/documents", {"date_from": "2020-02-01", "date_to": "2020-01-01"}, 400),
        ("/api/v1/service-catalogue", {}, 422),
        ("/api/v1/usage", {"month": "2020-13"}, 422),
        ("/api/v1/usage", {"month": "2020-02", "page_size": 1001}, 422),
        ("/api/v1/usage", {"month": "2020-02", "page": 0}, 422),
    ],
)
def test_bad_parameters(client: TestClient, path: str, params: dict, status: int) -> None:
    assert client.get(path, params=params, headers=AUTH).status_code == status


def test_a_page_past_the_end_is_empty(client: TestClient) -> None:
    params = {"received_from": "2020-01-01", "received_to": "2020-02-01", "page": 999}
    body = client.get("/api/v1/dossiers", params=params, headers=AUTH).json()
    assert body["items"] == [] and body["total"] > 0


@pytest.fixture(scope="module")
def real_client() -> TestClient:
    """The real generators (one small province), for the downloads."""
    return TestClient(create_simulator_app(CFG, TOKEN))


@pytest.mark.parametrize("source", sorted(EXPORT_SOURCES))
@pytest.mark.parametrize("ext", ["xlsx", "xls", "csv", "json"])
def test_every_download(real_client: TestClient, source: str, ext: str) -> None:
    r = real_client.get(f"/api/v1/exports/{source}/2020-01.{ext}", headers=AUTH)
    if source == "one_stop_aggregate" and ext in ("csv", "json"):
        assert r.status_code == 400
        return
    assert r.status_code == 200, r.text
    assert f'{source}_2020-01.{ext}"' in r.headers["content-disposition"]
    if ext == "xlsx":
        assert load_workbook(io.BytesIO(r.content)).active.max_row > 5
    elif ext == "xls":
        assert r.content.startswith(b"<html") and b"<table" in r.content
    elif ext == "json":
        assert isinstance(r.json(), list) and r.json()
    else:
        assert r.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in r.content


def test_download_options_and_pathologies(real_client: TestClient) -> None:
    params = {"agency": "000.00.02.H23", "variant": "dvcqg", "wrapped": "true"}
    body = real_client.get(
        "/api/v1/exports/one_stop/2020-01.json", params=params, headers=AUTH
    ).json()
    assert {i["DonViXuLy"] for i in body["data"]} == {"000.00.02.H23"}
    r = real_client.get(
        "/api/v1/exports/documents/2020-01.csv",
        params={"pathologies": "tcvn3", "delimiter": ";"},
        headers=AUTH,
    )
    assert r.headers["content-type"].endswith("charset=windows-1252")
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    bad = real_client.get(
        "/api/v1/exports/documents/2020-01.csv", params={"pathologies": "nonsense"}, headers=AUTH
    )
    assert bad.status_code == 400
    assert real_client.get("/api/v1/exports/nope/2020-01.csv", headers=AUTH).status_code == 404
    assert real_client.get("/api/v1/exports/documents/2021-01.csv", headers=AUTH).status_code == 404
    report = real_client.get(
        "/api/v1/exports/one_stop_aggregate/2020-02.xlsx",
        params={"mismatch": "total", "province": "30"},
        headers=AUTH,
    )
    assert report.status_code == 200


def test_real_generators_behind_the_api(real_client: TestClient) -> None:
    from chiso_sim.documents import generate_month as documents_month
    from chiso_sim.one_stop import generate_month as dossiers_month
    from chiso_sim.portal import catalogue_snapshot, usage_month

    window = {"received_from": "2020-01-01", "received_to": "2020-02-01"}
    assert get_all(real_client, "/api/v1/dossiers", window, 50) == dossiers_month(CFG, JAN)
    docs = get_all(
        real_client, "/api/v1/documents", {"date_from": "2020-02-01", "date_to": "2020-03-01"}, 1000
    )
    assert sorted(json.dumps(d, sort_keys=True) for d in docs) == sorted(
        json.dumps(d, sort_keys=True) for d in documents_month(CFG, FEB)
    )
    catalogue = get_all(real_client, "/api/v1/service-catalogue", {"as_of": "2020-01-31"}, 1000)
    assert len(catalogue) == len(catalogue_snapshot(CFG, date(2020, 1, 31))) > 0
    usage = get_all(real_client, "/api/v1/usage", {"month": "2020-01"}, 1000)
    assert len(usage) == len(usage_month(CFG, JAN)) > 0


def test_omitting_null_keys_drops_them_and_nothing_else() -> None:
    """--omit-null-keys serves each record without the keys of its null values, nested lists
    included: the records then differ in their key sets, and putting the nulls back gives the
    records as served without the option."""
    from chiso_sim.one_stop import generate_month as dossiers_month

    app = create_simulator_app(CFG, TOKEN, omit_null_keys=True)
    window = {"received_from": "2020-01-01", "received_to": "2020-02-01"}
    served = get_all(TestClient(app), "/api/v1/dossiers", window, 50)
    full = dossiers_month(CFG, JAN)

    def nulls(value: Any) -> bool:
        if isinstance(value, dict):
            return any(v is None or nulls(v) for v in value.values())
        return isinstance(value, list) and any(nulls(v) for v in value)

    assert not any(nulls(d) for d in served) and any(nulls(d) for d in full)
    assert len({frozenset(d) for d in served}) > 1
    assert served == [without_nulls(d) for d in full]


# --- faults ------------------------------------------------------------------------------


def test_fault_config_defaults_off_and_validates() -> None:
    assert not FaultConfig().enabled
    with pytest.raises(ValueError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig.from_kinds("5xx,teapot")
    cfg = FaultConfig.from_kinds("all", 0.25, seed=3)
    assert cfg.enabled_kinds == faults_mod.FAULT_KINDS and cfg.seed == 3
    assert cfg.without("429").throttle_rate == 0


def test_decisions_are_deterministic_and_transient() -> None:
    cfg = FaultConfig.from_kinds("all", 0.5, seed=11, faulty_attempts=2)
    keys = [
        request_key("/api/v1/usage", [("month", "2020-02"), ("page", str(p))]) for p in range(200)
    ]
    first = [decide(cfg, k, 0) for k in keys]
    assert first == [decide(cfg, k, 0) for k in keys]
    assert {f for f in first} >= set(faults_mod.FAULT_KINDS)
    assert all(decide(cfg, k, 2) is None for k in keys)  # later attempts never fault
    other = FaultConfig.from_kinds("all", 0.5, seed=12)
    assert first != [decide(other, k, 0) for k in keys]
    assert request_key("/p", [("b", "1"), ("a", "2")]) == request_key(
        "/p", [("a", "2"), ("b", "1")]
    )


def test_5xx_then_success() -> None:
    client = make_client(FaultConfig(error_rate=1.0, faulty_attempts=2))
    params = {**PAGED["/api/v1/usage"], "page": 1}
    statuses = [client.get("/api/v1/usage", params=params, headers=AUTH) for _ in range(3)]
    assert [r.status_code >= 500 for r in statuses] == [True, True, False]
    assert {r.status_code for r in statuses[:2]} <= set(faults_mod.SERVER_ERROR_STATUSES)
    assert statuses[2].json()["items"] == fake_usage(CFG, FEB)


def test_429_carries_retry_after() -> None:
    client = make_client(FaultConfig(throttle_rate=1.0, faulty_attempts=1, retry_after_seconds=7))
    r = client.get("/api/v1/usage", params=PAGED["/api/v1/usage"], headers=AUTH)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert (
        client.get("/api/v1/usage", params=PAGED["/api/v1/usage"], headers=AUTH).status_code == 200
    )


def test_slow_response_is_delayed_but_complete() -> None:
    client = make_client(FaultConfig(slow_rate=1.0, faulty_attempts=1, slow_seconds=0.3))
    started = time.monotonic()
    r = client.get("/api/v1/usage", params=PAGED["/api/v1/usage"], headers=AUTH)
    assert time.monotonic() - started >= 0.3 and r.json()["items"] == fake_usage(CFG, FEB)
    started = time.monotonic()
    client.get("/api/v1/usage", params=PAGED["/api/v1/usage"], headers=AUTH)
    assert time.monotonic() - started < 0.3


def test_duplicate_page_repeats_the_previous_pages_tail() -> None:
    client = make_client(FaultConfig(duplicate_rate=1.0, faulty_attempts=1, duplicate_items=2))
    params = {"received_from": "2020-01-01", "received_to": "2020-02-01", "page_size": 10}
    clean = [
        make_client()
        .get("/api/v1/dossiers", params={**params, "page": p}, headers=AUTH)
        .json()["items"]
        for p in (1, 2)
    ]
    page1 = client.get("/api/v1/dossiers", params={**params, "page": 1}, headers=AUTH).json()
    page2 = client.get("/api/v1/dossiers", params={**params, "page": 2}, headers=AUTH).json()
    assert page1["items"] == clean[0]  # the first page has nothing to repeat
    assert page2["items"] == clean[0][-2:] + clean[1]
    again = client.get("/api/v1/dossiers", params={**params, "page": 2}, headers=AUTH).json()
    assert again["items"] == clean[1]


def test_downloads_fault_too() -> None:
    client = make_client(FaultConfig(error_rate=1.0, faulty_attempts=1))
    path = "/api/v1/exports/one_stop/2020-01.xlsx"
    assert client.get(path, headers=AUTH).status_code >= 500
    assert client.get(path, headers=AUTH).status_code == 200


def simple_client_fetch(
    http: httpx.Client,
    base: str,
    path: str,
    params: dict[str, Any],
    key: tuple[str, ...],
    events: list[str],
    size: int = 8,
) -> list[dict]:
    """A plain retrying client: retry timeouts, 5xx and 429 (honouring Retry-After), drop
    items already seen; ``events`` records what went wrong on the way."""
    out: dict[tuple, dict] = {}
    page = 1
    while True:
        for _ in range(10):
            try:
                r = http.get(
                    base + path, params={**params, "page": page, "page_size": size}, headers=AUTH
                )
            except httpx.TimeoutException:
                events.append("timeout")
                continue
            if r.status_code == 429:
                events.append("429")
                time.sleep(float(r.headers["Retry-After"]))
                continue
            if r.status_code >= 500:
                events.append("5xx")
                continue
            break
        else:
            raise AssertionError(f"gave up on {path} page {page}")
        body = r.json()
        for item in body["items"]:
            ident = tuple(item.get(k) for k in key)
            if ident in out:
                events.append("duplicates")
            out.setdefault(ident, item)
        if page >= body["total_pages"]:
            return list(out.values())
        page += 1


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[str]:
    """A real HTTP server (so client timeouts are real) with every fault kind switched on."""
    faults = FaultConfig.from_kinds(
        "all",
        0.5,
        seed=5,
        faulty_attempts=2,
        slow_seconds=0.6,
        retry_after_seconds=0,
        duplicate_items=3,
    )
    app = create_simulator_app(CFG, TOKEN, faults, generators=FAKES)
    with serving(app) as base:
        yield base


def test_retrying_client_gets_exactly_the_fault_free_data(faulty_server: str) -> None:
    events: list[str] = []
    for path, params in PAGED.items():
        expected = get_all(make_client(), path, params, 1000)
        with httpx.Client(timeout=0.25) as http:
            got = simple_client_fetch(http, faulty_server, path, params, KEYS[path], events)
        key = KEYS[path]
        assert sorted(got, key=lambda d: tuple(str(d[k]) for k in key)) == sorted(
            expected, key=lambda d: tuple(str(d[k]) for k in key)
        ), path
    assert set(events) == set(faults_mod.FAULT_KINDS)  # every kind was met on the way


def test_ingest_client_survives_every_fault(
    faulty_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_client, "_sleep", lambda s: None)
    with httpx.Client(timeout=0.25) as http:
        got = list(
            iter_records(
                faulty_server,
                TOKEN,
                "/api/v1/dossiers",
                {"received_from": "2020-01-01", "received_to": "2020-02-01"},
                key=("MaHoSo",),
                page_size=6,
                client=http,
                backoff_seconds=0,
            )
        )
        docs = list(
            iter_records(
                faulty_server,
                TOKEN,
                "/api/v1/documents",
                {"date_from": "2020-01-01", "date_to": "2020-02-01"},
                key=KEYS["/api/v1/documents"],
                page_size=6,
                client=http,
                backoff_seconds=0,
            )
        )
    assert got == sorted(fake_dossiers(CFG, JAN), key=lambda d: d["MaHoSo"])
    assert len(docs) == 30 and len({d["ma_van_ban"] for d in docs}) == 30


# --- the clock ---------------------------------------------------------------------------

DOCUMENT_KEY = ("don_vi", "ma_van_ban", "huong")


def real_app_client(**kwargs: Any) -> TestClient:
    """The real generators behind a fresh app (its own clock)."""
    return TestClient(create_simulator_app(CFG, TOKEN, **kwargs))


def test_clock_defaults_to_the_horizon_end_and_moves_with_put() -> None:
    client = real_app_client()
    assert client.get("/api/v1/clock").status_code == 401
    bad_token = {"Authorization": "Bearer nope"}
    assert client.put("/api/v1/clock", json={"as_of": "2020-02-06T08:00:00"}).status_code == 401
    assert (
        client.put(
            "/api/v1/clock", json={"as_of": "2020-02-06T08:00:00"}, headers=bad_token
        ).status_code
        == 401
    )
    assert client.get("/api/v1/clock", headers=AUTH).json() == {"as_of": "2020-03-01T00:00:00"}
    assert horizon_end(CFG) == datetime(2020, 3, 1)
    moved = client.put("/api/v1/clock", json={"as_of": "2020-02-06T08:00:00"}, headers=AUTH)
    assert moved.status_code == 200 and moved.json() == {"as_of": "2020-02-06T08:00:00"}
    assert client.get("/api/v1/clock", headers=AUTH).json() == {"as_of": "2020-02-06T08:00:00"}
    assert client.get("/health").json()["as_of"] == "2020-02-06T08:00:00"
    # an explicit offset is converted to local time
    utc = client.put("/api/v1/clock", json={"as_of": "2020-02-06T01:00:00Z"}, headers=AUTH)
    assert utc.json() == {"as_of": "2020-02-06T08:00:00"}
    for bad in ({"as_of": "6/2/2020"}, {"as_of": ""}, {}):
        assert client.put("/api/v1/clock", json=bad, headers=AUTH).status_code == 422
    window = {"received_from": "2020-01-01", "received_to": "2020-03-01"}
    got = get_all(client, "/api/v1/dossiers", window, 100)
    at = datetime(2020, 2, 6, 8)
    expected = dossiers_at(CFG, JAN, at) + dossiers_at(CFG, FEB, at)
    assert got == sorted(expected, key=lambda d: d["MaHoSo"])
    assert max(d["NgayTiepNhan"] for d in got) < "20200206080000"


def test_the_clock_is_never_faulted() -> None:
    client = real_app_client(faults=FaultConfig(error_rate=1.0, faulty_attempts=5))
    assert client.get("/api/v1/clock", headers=AUTH).status_code == 200
    put = client.put("/api/v1/clock", json={"as_of": "2020-01-20T00:00:00"}, headers=AUTH)
    assert put.status_code == 200
    injector: FaultInjector = client.app.state.faults  # type: ignore[attr-defined]
    assert injector.totals() == (0, 0)
    assert client.get("/api/v1/usage", params={"month": "2020-01"}, headers=AUTH).status_code >= 500


def test_a_request_can_name_its_own_instant(real_client: TestClient) -> None:
    at = datetime(2020, 1, 20, 12, 30)
    params = {"received_from": "2020-01-01", "received_to": "2020-02-01"}
    early = get_all(real_client, "/api/v1/dossiers", {**params, "as_of": at.isoformat()}, 40)
    assert early == dossiers_at(CFG, JAN, at) != dossiers_at(CFG, JAN)
    assert get_all(real_client, "/api/v1/dossiers", params, 40) == dossiers_at(CFG, JAN)
    docs = get_all(
        real_client,
        "/api/v1/documents",
        {"date_from": "2020-01-01", "date_to": "2020-02-01", "as_of": "2020-01-20T12:30:00"},
        1000,
    )
    assert sorted(map(json.dumps, docs)) == sorted(map(json.dumps, documents_at(CFG, JAN, at)))
    usage = get_all(real_client, "/api/v1/usage", {"month": "2020-01", "as_of": "2020-01-01"}, 50)
    assert usage == []  # the month has not begun
    assert get_all(real_client, "/api/v1/usage", {"month": "2020-01", "as_of": at.isoformat()}, 50)
    export = real_client.get(
        "/api/v1/exports/one_stop/2020-01.json",
        params={"variant": "dvcqg", "as_of": at.isoformat()},
        headers=AUTH,
    )
    assert len(export.json()) == len(early)
    assert real_client.get("/api/v1/clock", headers=AUTH).json()["as_of"] == "2020-03-01T00:00:00"


def test_catalogue_day_and_instant(real_client: TestClient) -> None:
    legacy = get_all(real_client, "/api/v1/service-catalogue", {"as_of": "2020-01-31"}, 1000)
    named = get_all(real_client, "/api/v1/service-catalogue", {"day": "2020-01-31"}, 1000)
    assert legacy == named and legacy
    early = {"day": "2020-01-31", "as_of": "2020-01-31T18:00:00"}
    assert get_all(real_client, "/api/v1/service-catalogue", early, 1000) == []  # not ended
    after = {"day": "2020-01-31", "as_of": "2020-02-01T00:00:00"}
    assert len(get_all(real_client, "/api/v1/service-catalogue", after, 1000)) == len(legacy)
    r = real_client.get(
        "/api/v1/service-catalogue", params={"as_of": "2020-01-31T08:00:00"}, headers=AUTH
    )
    assert r.status_code == 422  # an instant alone names no snapshot day


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/dossiers", {}, 400),
        ("/api/v1/dossiers", {"received_from": "2020-01-01"}, 400),
        ("/api/v1/dossiers", {"changed_from": "2020-01-01T00:00:00"}, 400),
        (
            "/api/v1/dossiers",
            {
                "received_from": "2020-01-01",
                "received_to": "2020-02-01",
                "changed_from": "2020-01-01T00:00:00",
                "changed_to": "2020-02-01T00:00:00",
            },
            400,
        ),
        (
            "/api/v1/dossiers",
            {"changed_from": "2020-02-01T00:00:00", "changed_to": "2020-01-01T00:00:00"},
            400,
        ),
        ("/api/v1/dossiers", {"changed_from": "yesterday", "changed_to": "2020-01-01"}, 422),
        (
            "/api/v1/dossiers",
            {"received_from": "2020-01-01", "received_to": "2020-02-01", "as_of": "soon"},
            422,
        ),
        ("/api/v1/documents", {"date_to": "2020-02-01", "changed_to": "2020-02-01"}, 400),
        (
            "/api/v1/documents",
            {"changed_from": "2020-02-01T00:00:00", "changed_to": "2020-01-31T23:59:59"},
            400,
        ),
        ("/api/v1/usage", {"month": "2020-02", "as_of": "02/2020"}, 422),
    ],
)
def test_bad_windows(client: TestClient, path: str, params: dict, status: int) -> None:
    assert client.get(path, params=params, headers=AUTH).status_code == status


@pytest.mark.parametrize(
    ("path", "key", "stamp"),
    [
        ("/api/v1/dossiers", ("MaHoSo",), "NgayCapNhat"),
        ("/api/v1/documents", DOCUMENT_KEY, "ngay_cap_nhat"),
    ],
)
def test_changed_windows_pulled_in_a_chain_rebuild_the_state(
    path: str, key: tuple[str, ...], stamp: str
) -> None:
    """Pull every window [t0, t1) with the clock at t1, page by page, and upsert by key: the
    result is the state at the last instant, exactly."""
    client = real_app_client()
    instants = [
        datetime(2020, 1, 9, 10, 0, 7),
        datetime(2020, 1, 31, 16, 0),
        datetime(2020, 2, 4, 8, 30),
        datetime(2020, 2, 20, 12),
        datetime(2020, 3, 1),
        datetime(2020, 3, 12, 9, 15),
        datetime(2020, 4, 1),
    ]
    held: dict[tuple, dict] = {}
    start = datetime(2019, 12, 31)
    for t in instants:
        client.put("/api/v1/clock", json={"as_of": t.isoformat()}, headers=AUTH)
        window = {"changed_from": start.isoformat(), "changed_to": t.isoformat()}
        got = get_all(client, path, window, 7)
        assert got == sorted(got, key=lambda r: tuple(r[k] for k in key))
        for r in got:
            assert (
                start.strftime("%Y%m%d%H%M%S")
                <= r[stamp].replace("-", "").replace(" ", "").replace(":", "")
                < t.strftime("%Y%m%d%H%M%S")
            )
            held[tuple(r[k] for k in key)] = r
        start = t
    final = instants[-1]
    reader = dossiers_at if path.endswith("dossiers") else documents_at
    state = [r for m in (JAN, FEB) for r in reader(CFG, m, final)]
    assert {k: json.dumps(v) for k, v in held.items()} == {
        tuple(r[k] for k in key): json.dumps(r) for r in state
    }
    # the last months changed after the horizon too: backdated records keep arriving
    after = {"changed_from": "2020-03-01T00:00:00", "changed_to": "2020-04-01T00:00:00"}
    late = get_all(client, path, after, 100)
    assert late and all(r[key[-1]] for r in late)


def test_change_windows_skip_months_that_cannot_match() -> None:
    calls: list[date] = []

    def counted(cfg: Any, month: date) -> Timeline:
        from chiso_sim.one_stop import month_history

        calls.append(month)
        return month_history(cfg, month)

    generators = replace(default_generators(), dossiers=counted)
    client = TestClient(create_simulator_app(CFG, TOKEN, generators=generators, cache_size=1))
    # A month never generated is read whatever the window: January's dossiers change in
    # February too (finished, or recorded late).
    late_feb = {"changed_from": "2020-02-10T00:00:00", "changed_to": "2020-02-20T00:00:00"}
    got = get_all(client, "/api/v1/dossiers", late_feb, 1000)
    assert any(d["NgayTiepNhan"] < "20200201" for d in got)
    assert sorted(calls) == [JAN, FEB]
    calls.clear()
    everything = {"changed_from": "2019-01-01T00:00:00", "changed_to": "2020-06-01T00:00:00"}
    assert get_all(client, "/api/v1/dossiers", {**everything, "as_of": "2020-06-01"}, 1000)
    assert sorted(calls) == [JAN, FEB]
    calls.clear()
    # nothing changes after mid-April: both months are skipped although evicted from the cache
    nothing = {"changed_from": "2020-05-01T00:00:00", "changed_to": "2020-06-01T00:00:00"}
    assert get_all(client, "/api/v1/dossiers", {**nothing, "as_of": "2020-06-01"}, 1000) == []
    assert calls == []
    # a window in February reads February (the only month that can hold such a change) again
    feb = {"changed_from": "2020-02-10T00:00:00", "changed_to": "2020-02-11T00:00:00"}
    got = get_all(client, "/api/v1/dossiers", feb, 1000)
    assert got and set(calls) <= {JAN, FEB}


def test_short_page_fault_keeps_the_total() -> None:
    client = make_client(FaultConfig(short_rate=1.0, faulty_attempts=1))
    params = {"received_from": "2020-01-01", "received_to": "2020-02-01", "page_size": 10}
    clean = make_client().get("/api/v1/dossiers", params=params, headers=AUTH).json()
    short = client.get("/api/v1/dossiers", params=params, headers=AUTH).json()
    assert short["total"] == clean["total"] > 10 and short["total_pages"] == clean["total_pages"]
    assert short["items"] == clean["items"][:5]
    assert client.get("/api/v1/dossiers", params=params, headers=AUTH).json() == clean
    last = {**params, "page": clean["total_pages"]}
    full_last = make_client().get("/api/v1/dossiers", params=last, headers=AUTH).json()
    assert client.get("/api/v1/dossiers", params=last, headers=AUTH).json() == full_last
    assert not FaultConfig.from_kinds("all").short_rate  # opt-in
    assert FaultConfig.from_kinds("all,short", 0.2).enabled_kinds == (
        *faults_mod.FAULT_KINDS,
        "short",
    )
    assert faults_from_args(build_parser().parse_args(["--faults", "short"])).short_rate == 0.3


def test_a_client_that_counts_survives_short_pages() -> None:
    client = make_client(FaultConfig(short_rate=0.6, faulty_attempts=2, seed=4))
    params = {"received_from": "2020-01-01", "received_to": "2020-03-01"}
    expected = get_all(make_client(), "/api/v1/dossiers", params, 1000)
    got: list[dict] = []
    shorts = 0
    page = 1
    while True:
        body = client.get(
            "/api/v1/dossiers", params={**params, "page": page, "page_size": 8}, headers=AUTH
        ).json()
        if page < body["total_pages"] and len(body["items"]) < 8:
            shorts += 1
            continue  # truncated: ask again
        got += body["items"]
        if page >= body["total_pages"]:
            break
        page += 1
    assert shorts > 0 and got == expected and len(got) == body["total"]


def test_the_ingest_client_survives_short_pages_too() -> None:
    """chiso.ingest.api_client asks a non-last page again when it comes back short (short
    pages only here: every retry is one)."""
    app = create_simulator_app(CFG, TOKEN, FaultConfig(short_rate=0.5, seed=9), generators=FAKES)
    with TestClient(app) as http:
        got = list(
            iter_records(
                "http://testserver",
                TOKEN,
                "/api/v1/dossiers",
                {"received_from": "2020-01-01", "received_to": "2020-03-01"},
                key=("MaHoSo",),
                page_size=6,
                client=http,
                backoff_seconds=0,
            )
        )
    expected = get_all(
        make_client(),
        "/api/v1/dossiers",
        {"received_from": "2020-01-01", "received_to": "2020-03-01"},
        1000,
    )
    assert got == expected
    requests, attempts = app.state.faults.totals()
    assert attempts > requests


# --- CLI ---------------------------------------------------------------------------------


def test_cli_fault_flags() -> None:
    args = build_parser().parse_args(
        ["--faults", "5xx,429", "--fault-rate", "0.5", "--retry-after", "3", "--months", "2"]
    )
    cfg = faults_from_args(args)
    assert (cfg.error_rate, cfg.throttle_rate, cfg.slow_rate) == (0.5, 0.5, 0.0)
    assert cfg.retry_after_seconds == 3 and args.months == 2
    assert not faults_from_args(build_parser().parse_args([])).enabled
    with pytest.raises(ValueError):
        faults_from_args(build_parser().parse_args(["--faults", "boom"]))
    assert build_parser().parse_args([]).as_of is None
    args = build_parser().parse_args(["--as-of", "2020-02-06T08:00:00"])
    assert args.as_of == datetime(2020, 2, 6, 8)
    assert as_of_from_env({AS_OF_ENV: "2020-02-06T08:00:00"}) == datetime(2020, 2, 6, 8)
    assert as_of_from_env({}) is None
    env = faults_from_env({"CHISO_SIMULATOR_FAULTS": "timeout", "CHISO_SIMULATOR_FAULT_RATE": "1"})
    assert env.enabled_kinds == ("timeout",)
    assert not faults_from_env({}).enabled


# --- each province's installation ------------------------------------------------------------


@pytest.fixture(scope="module")
def two_provinces() -> TestClient:
    """The real generators over two post-2025 provinces (Hải Phòng 31, Phú Thọ 25)."""
    cfg = replace(CFG, start_month=date(2025, 7, 1), provinces=("31", "25"))
    return TestClient(create_simulator_app(cfg, TOKEN))


TWO_PROVINCES = {
    "/api/v1/dossiers": {"received_from": "2025-07-01", "received_to": "2025-08-01"},
    "/api/v1/documents": {
        "changed_from": "2025-07-01T00:00:00",
        "changed_to": "2025-09-01T00:00:00",
    },
    "/api/v1/service-catalogue": {"day": "2025-08-31"},
    "/api/v1/usage": {"month": "2025-08"},
}


@pytest.mark.parametrize("path", sorted(TWO_PROVINCES))
def test_the_provinces_installations_partition_the_national_answer(
    two_provinces: TestClient, path: str
) -> None:
    """Each province's installation serves its agencies' records, paged on its own: together
    they are the national answer, each record once."""
    params = TWO_PROVINCES[path]
    national = get_all(two_provinces, path, params, 1000)
    hai_phong = get_all(two_provinces, f"/provinces/31{path}", params, 97)
    phu_tho = get_all(two_provinces, f"/provinces/25{path}", params, 97)
    assert hai_phong and phu_tho
    field = "DonViXuLy" if path.endswith("dossiers") else "don_vi"
    assert {i[field][-3:] for i in hai_phong} == {"H31"}
    assert {i[field][-3:] for i in phu_tho} == {"H25"}

    def keys(items: list[dict]) -> list[tuple]:
        return sorted(tuple(i[k] for k in KEYS[path]) for i in items)

    assert keys(hai_phong + phu_tho) == keys(national)


def test_a_province_without_an_installation_is_not_found(two_provinces: TestClient) -> None:
    r = two_provinces.get("/provinces/30/api/v1/usage", params={"month": "2025-08"}, headers=AUTH)
    assert r.status_code == 404
    assert r.json()["detail"] == "no installation for province 30"
    r = two_provinces.get("/provinces/31/api/v1/usage", params={"month": "2025-08"})
    assert r.status_code == 401
