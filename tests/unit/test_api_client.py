"""The source-API client (chiso.ingest.api_client) against scripted transports and the real
simulator app, on the one-stop system's dossier endpoint as the monthly pull calls it."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

import httpx
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import generate_month
from chiso_sim.server import create_simulator_app
from fastapi.testclient import TestClient

from chiso.ingest import api_client
from chiso.ingest.api_client import SourceApiError, iter_records
from chiso.ingest.pulls import PULLS

BASE = "http://one-stop.test"
ITEMS = [{"MaHoSo": f"H-{i:04d}", "TrangThaiHoSo": "9"} for i in range(23)]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record waits instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(api_client, "_sleep", recorded.append)
    return recorded


def page_of(request: httpx.Request, items: list[dict]) -> httpx.Response:
    page = int(request.url.params["page"])
    size = int(request.url.params["page_size"])
    return httpx.Response(
        200,
        json={
            "page": page,
            "page_size": size,
            "total": len(items),
            "total_pages": math.ceil(len(items) / size),
            "items": items[(page - 1) * size : page * size],
        },
    )


def make_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


DOSSIERS = PULLS["one_stop.dossiers"]


def dossiers(
    base: str, token: str, month: date, client: httpx.Client, **kwargs: object
) -> list[dict]:
    """The dossiers of `month`, fetched as the monthly pull fetches them."""
    return list(
        iter_records(
            base,
            token,
            DOSSIERS.path,
            DOSSIERS.query(month),
            key=DOSSIERS.key,
            client=client,
            **kwargs,  # type: ignore[arg-type]
        )
    )


def run(client: httpx.Client, **kwargs: object) -> list[dict]:
    return dossiers(BASE, "tok", date(2020, 1, 1), client, backoff_seconds=0, **kwargs)


def test_follows_pages_and_sends_auth_and_window(sleeps: list[float]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return page_of(request, ITEMS)

    assert run(make_client(handler), page_size=10) == ITEMS
    assert [r.url.params["page"] for r in seen] == ["1", "2", "3"]
    first = seen[0]
    assert first.url.path == "/api/v1/dossiers"
    assert first.headers["Authorization"] == "Bearer tok"
    assert first.url.params["received_from"] == "2020-01-01"
    assert first.url.params["received_to"] == "2020-02-01"
    assert sleeps == []


def test_empty_result_makes_one_request() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return page_of(request, [])

    assert run(make_client(handler)) == []
    assert len(calls) == 1


def test_retries_503_then_succeeds(sleeps: list[float]) -> None:
    attempts = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "2" and attempts["n"] < 2:
            attempts["n"] += 1
            return httpx.Response(503, text="busy")
        return page_of(request, ITEMS)

    assert run(make_client(handler), page_size=10) == ITEMS
    assert attempts["n"] == 2
    assert len(sleeps) == 2


def test_exponential_backoff(sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    with pytest.raises(SourceApiError) as err:
        dossiers(
            BASE,
            "tok",
            date(2020, 1, 1),
            make_client(handler),
            max_retries=3,
            backoff_seconds=0.5,
        )
    assert sleeps == [0.5, 1.0, 2.0]
    assert err.value.status == 500
    assert "page 1" in str(err.value) and "500" in str(err.value)


def test_429_honours_retry_after(sleeps: list[float]) -> None:
    state = {"throttled": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if not state["throttled"]:
            state["throttled"] = True
            return httpx.Response(429, headers={"Retry-After": "7"})
        return page_of(request, ITEMS)

    assert run(make_client(handler), page_size=50) == ITEMS
    assert sleeps == [7.0]


def test_timeouts_and_connection_errors_are_retried(sleeps: list[float]) -> None:
    failures = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")]

    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop(0)
        return page_of(request, ITEMS)

    assert run(make_client(handler)) == ITEMS
    assert len(sleeps) == 2


def test_gives_up_after_max_retries(sleeps: list[float]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("down")

    with pytest.raises(SourceApiError, match="after 3 attempts"):
        run(make_client(handler), max_retries=2)
    assert len(calls) == 3


def test_duplicate_items_across_pages_are_yielded_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        # The server's window slides: each page repeats the last two items of the previous one.
        start = max(0, (page - 1) * 10 - 2)
        items = ITEMS[start : page * 10]
        return httpx.Response(
            200,
            json={"page": page, "page_size": 10, "total": 23, "total_pages": 3, "items": items},
        )

    got = run(make_client(handler), page_size=10)
    assert [d["MaHoSo"] for d in got] == [d["MaHoSo"] for d in ITEMS]


def test_401_raises_with_url_page_and_status(sleeps: list[float]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"detail": "missing or invalid bearer token"})

    with pytest.raises(SourceApiError) as err:
        run(make_client(handler))
    message = str(err.value)
    assert f"{BASE}/api/v1/dossiers" in message
    assert "received_from=2020-01-01" in message
    assert "page 1" in message and "401" in message
    assert err.value.status == 401 and err.value.page == 1
    assert len(calls) == 1 and sleeps == []


def test_malformed_json_is_retried(sleeps: list[float]) -> None:
    bodies = [httpx.Response(200, text='{"items": [')]

    def handler(request: httpx.Request) -> httpx.Response:
        return bodies.pop(0) if bodies else page_of(request, ITEMS)

    assert run(make_client(handler)) == ITEMS
    assert len(sleeps) == 1


def test_against_simulator_app() -> None:
    cfg = SimulatorConfig(months=2, dossiers_per_agency_month=15)
    app_client = TestClient(create_simulator_app(cfg, "secret"))
    got = dossiers("http://testserver", "secret", date(2020, 1, 1), app_client, page_size=40)
    expected = generate_month(cfg, date(2020, 1, 1))
    assert [d["MaHoSo"] for d in got] == [d["MaHoSo"] for d in expected]
    assert all(d["NgayTiepNhan"].startswith("202001") for d in got)
    with pytest.raises(SourceApiError, match="401"):
        dossiers("http://testserver", "nope", date(2020, 1, 1), app_client)
