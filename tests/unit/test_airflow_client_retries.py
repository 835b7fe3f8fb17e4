"""chiso's Airflow client on an API that answers 500 (as Airflow does while a scheduler that
just started holds the rows a call changes): a call that may be repeated is sent again, a POST
that may have been carried out is not, and a backfill checks whether its 500 created it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chiso.core.config import Settings
from chiso.orchestration import airflow as af
from chiso.orchestration.airflow import AirflowApi, AirflowError


class Flaky(ThreadingHTTPServer):
    """Answers 500 to the calls numbered in `failing` (from 1), 200 to the others, and records
    them all; a POST to /backfills is carried out even when it answers 500."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failing = failing
        self.calls: list[tuple[str, str]] = []
        self.backfills: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    server: Flaky

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        path = self.path.split("?")[0].removeprefix("/api/v2")
        self.server.calls.append((self.command, path))
        if self.command == "POST" and path == "/backfills":
            self.server.backfills.append({**body, "completed_at": None})
        if self.command == "GET" and path == "/backfills":
            answer: dict = {"backfills": self.server.backfills}
            answer["total_entries"] = len(answer["backfills"])
        else:
            answer = {}
        failing = len(self.server.calls) in self.server.failing
        data = json.dumps({"detail": "database is locked"} if failing else answer).encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def airflow(monkeypatch, tmp_path) -> Iterator[tuple[Flaky, Settings]]:
    def serve(failing: set[int]) -> tuple[Flaky, Settings]:
        server = Flaky(failing)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("CHISO_AIRFLOW_URL", f"http://127.0.0.1:{server.server_port}")
        return server, settings

    servers: list[Flaky] = []
    monkeypatch.setenv("CHISO_AIRFLOW_TOKEN", "token")
    monkeypatch.setattr("time.sleep", lambda _: None)
    settings = Settings(home=tmp_path, external_url=None, pg_port_hint=0, airflow_port=0,
                        simulator_port=0)  # fmt: skip
    yield serve  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_call_that_may_be_repeated_is_sent_again(airflow):
    server, settings = airflow({1, 2})
    with AirflowApi(settings) as api:
        api.request("PATCH", "/dags/monthly_kpi", json={"is_paused": False})
    assert server.calls == [("PATCH", "/dags/monthly_kpi")] * 3


def test_a_post_is_not_sent_twice_unless_its_caller_says_it_may_be(airflow):
    server, settings = airflow({1})
    with AirflowApi(settings) as api, pytest.raises(AirflowError, match="HTTP 500"):
        api.request("POST", "/dags/monthly_kpi/dagRuns", json={})
    assert server.calls == [("POST", "/dags/monthly_kpi/dagRuns")]
    with AirflowApi(settings) as api:
        api.request("POST", "/dags/monthly_kpi/clearTaskInstances", json={}, retry=True)
    assert server.calls[1:] == [("POST", "/dags/monthly_kpi/clearTaskInstances")]


def test_a_backfill_whose_post_failed_but_was_created_is_not_posted_again(airflow):
    server, settings = airflow({2})  # the unpause, then the POST: 500, but created
    af.backfill(settings, date(2020, 1, 1), date(2020, 2, 1))
    assert len(server.backfills) == 1
    assert [c for c in server.calls if c[1] == "/backfills"] == [
        ("POST", "/backfills"),
        ("GET", "/backfills"),
    ]
