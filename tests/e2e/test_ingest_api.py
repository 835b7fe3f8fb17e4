"""API pulls of every source against the simulator with every transient fault switched on.

The simulator runs as a real HTTP server; it fails requests with 5xx, 429 + Retry-After and
slow answers past the client's timeout, and re-serves items on later pages. Each pull must
still land every record exactly once, and pulling the month again must change nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import httpx
import psycopg
import pytest
import uvicorn
from chiso_sim.config import SimulatorConfig
from chiso_sim.faults import FaultConfig
from chiso_sim.server import create_simulator_app

from chiso.ingest.loader import prepare
from chiso.ingest.pulls import PULLS, pull_month

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MONTH = date(2020, 1, 1)
TOKEN = "test-token"
CFG = SimulatorConfig(months=1, provinces=("30",), documents_per_agency_month=12)
FAULTS = FaultConfig.from_kinds(
    "5xx,429,timeout,duplicates", 0.35, slow_seconds=2.5, retry_after_seconds=0, seed=7
)
# (raw table, the key the pull de-duplicates on, in landing column names)
TABLES = {
    "documents.movements": ("documents__movements", ("don_vi", "ma_van_ban", "huong")),
    "portal.service_catalogue": ("portal__service_catalogue", ("don_vi", "ma_tthc")),
    "portal.usage": ("portal__usage", ("thang", "don_vi")),
    "one_stop.dossiers": ("one_stop__dossiers", ("ma_ho_so",)),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def faulty_api():
    app = create_simulator_app(CFG, TOKEN, FAULTS)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _expected(app, entity_name: str) -> list[dict]:
    data = app.state.data
    if entity_name == "documents.movements":
        return data.documents_between(MONTH, date(2020, 2, 1))
    if entity_name == "portal.service_catalogue":
        return data.catalogue(date(2020, 1, 31))
    if entity_name == "portal.usage":
        return data.usage(MONTH)
    return data.dossiers_between(MONTH, date(2020, 2, 1))


def _landed(url: str, table: str, key: tuple[str, ...]) -> list[tuple]:
    cols = ", ".join(key)
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select {cols} from raw.{table} where _extract_month = %s order by {cols}", (MONTH,)
        ).fetchall()


@pytest.mark.parametrize("entity_name", list(TABLES))
def test_pull_survives_every_fault_and_lands_each_record_once(chiso_env, faulty_api, entity_name):
    app, base = faulty_api
    url = chiso_env.urls.loader
    prepare(url)
    table, key = TABLES[entity_name]
    api_key = PULLS[entity_name].key
    expected = sorted(tuple(str(item[k]) for k in api_key) for item in _expected(app, entity_name))
    assert expected, "the simulator should have data for the month"
    with httpx.Client(timeout=1.0) as client:
        first = pull_month(url, entity_name, MONTH, base, TOKEN, client=client, backoff_seconds=0)
        landed = _landed(url, table, key)
        assert first.status == "loaded"
        assert landed == expected  # every record, none twice
        again = pull_month(url, entity_name, MONTH, base, TOKEN, client=client, backoff_seconds=0)
    assert _landed(url, table, key) == landed
    assert again.status == "duplicate"  # same content: recorded, not loaded twice
    requests, attempts = app.state.faults.totals()
    assert attempts > requests, "faults should have made the client retry"
