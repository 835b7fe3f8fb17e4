"""API pulls of every source against the simulator with every transient fault switched on.

The simulator runs as a real HTTP server; it fails requests with 5xx, 429 + Retry-After and
slow answers past the client's timeout, and re-serves items on later pages. Each pull must
still land every record exactly once, and pulling the month again must change nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import httpx
import psycopg
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.faults import FaultConfig
from chiso_sim.server import create_simulator_app

from chiso.ingest.files import ingest_file
from chiso.ingest.holds import release
from chiso.ingest.loader import prepare
from chiso.ingest.pulls import PULLS, pull_month, repull_released
from tests.simulator_server import serving

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


@pytest.fixture(scope="module")
def faulty_api():
    app = create_simulator_app(CFG, TOKEN, FAULTS)
    with serving(app) as base:
        yield app, base


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


def test_a_corrected_file_holds_against_pulls_until_released_then_the_source_wins(
    chiso_env, faulty_api, tmp_path
):
    """An operator's file for one agency's January wins over the next pull of the month; once
    released, the next pull re-pulls January whole and the source's rows are back."""
    app, base = faulty_api
    url = chiso_env.urls.loader
    prepare(url)
    dossiers = _expected(app, "one_stop.dossiers")
    agency = dossiers[0]["DonViXuLy"]
    mine = [d for d in dossiers if d["DonViXuLy"] == agency]

    def statuses() -> set[str]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "select distinct trang_thai_ho_so from raw.one_stop__dossiers"
                " where _extract_month = %s and don_vi_xu_ly = %s",
                (MONTH, agency),
            ).fetchall()
        return {r[0] for r in rows}

    with httpx.Client(timeout=1.0) as client:
        pull_month(url, "one_stop.dossiers", MONTH, base, TOKEN, client=client, backoff_seconds=0)
        source = statuses()
        path = tmp_path / f"{agency}_2020-01.json"
        path.write_text(json.dumps([{**d, "TrangThaiHoSo": "8"} for d in mine]), encoding="utf-8")
        ingest_file(url, "one_stop", path)
        assert statuses() == {"8"}
        pulled = pull_month(
            url,
            "one_stop.dossiers",
            MONTH,
            base,
            TOKEN,
            client=client,
            backoff_seconds=0,
            even_if_loaded=True,
        )
        assert statuses() == {"8"}  # held
        warnings = _ledger_warnings(url, pulled.batches[0].batch_id)
        assert warnings[0]["kind"] == "correction_hold" and warnings[0]["agencies"] == [agency]
        assert repull_released(url, "one_stop.dossiers", base, TOKEN, client=client) == []

        assert release(url, agency=agency, month=MONTH, entity=None, by="test") == 3
        repulled = repull_released(
            url, "one_stop.dossiers", base, TOKEN, client=client, backoff_seconds=0
        )
        assert [r.status for r in repulled] == ["loaded"]
        assert statuses() == source
        assert repull_released(url, "one_stop.dossiers", base, TOKEN, client=client) == []


def _ledger_warnings(url: str, batch_id) -> list[dict]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select warnings from raw.ingest_batches where batch_id = %s", (batch_id,)
        ).fetchone()[0]


def test_records_that_omit_null_keys_land_every_value(chiso_env):
    """A vendor whose API leaves out the keys of null values (the simulator's
    --omit-null-keys): the first record shows only some keys, yet every value of every
    record lands in its column, parents and nested children alike. Counted per column: the
    non-null values landed equal the non-null values the source holds."""
    from chiso.ingest.headers import match_headers
    from chiso.sources.canonical import entity

    url = chiso_env.urls.loader
    prepare(url)
    # another seed: records of their own (the same records with null keys left out are the
    # same content as the other tests' pulls, which the digest rightly calls a duplicate)
    app = create_simulator_app(replace(CFG, seed=CFG.seed + 1), TOKEN, omit_null_keys=True)
    records = app.state.data.dossiers_between(MONTH, date(2020, 2, 1))
    children = {"DanhSachHoSoBoSung": "supplements", "CapNhatTienDo": "progress_events"}
    with serving(app) as base, httpx.Client(timeout=5.0) as client:
        page = client.get(
            f"{base}/api/v1/dossiers",
            params={"received_from": "2020-01-01", "received_to": "2020-02-01"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        # the answer does leave keys out: its records do not all carry the same keys
        assert len({frozenset(item) for item in page["items"]}) > 1
        pulled = pull_month(url, "one_stop.dossiers", MONTH, base, TOKEN, client=client)
    assert pulled.status == "loaded"

    def held(rows: list[dict], name: str) -> dict[str, int]:
        ent = entity(f"one_stop.{name}")
        out: dict[str, int] = {}
        for row in rows:
            for key, value in row.items():
                field = match_headers(ent, [key]).fields[0]
                if field and value is not None and not isinstance(value, list):
                    out[field] = out.get(field, 0) + 1
        return out

    def landed(table: str, columns: list[str]) -> dict[str, int]:
        counts = ", ".join(f"count({c})" for c in columns)
        with psycopg.connect(url) as conn:
            got = conn.execute(
                f"select {counts} from raw.{table} where _extract_month = %s", (MONTH,)
            ).fetchone()
        return {c: n for c, n in zip(columns, got, strict=True) if n}

    want = held(records, "dossiers")
    assert landed("one_stop__dossiers", list(want)) == want
    for key, name in children.items():
        rows = [
            {"MaHoSo": r["MaHoSo"], "DonViXuLy": r["DonViXuLy"], **item}
            for r in records
            for item in r.get(key) or ()
        ]
        want = held(rows, name)
        assert want and landed(f"one_stop__{name}", list(want)) == want, name
