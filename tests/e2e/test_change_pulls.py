"""Pulling by change against a source with a clock (the simulator over HTTP, with faults).

The source's clock moves through January and February 2020 while records change under it:
dossiers received in one month are resolved in the next, some resolutions are recorded days
late and dated back, document handlings arrive late. After each pull, raw must hold every
record exactly as the source showed it at that instant, each in the month of its receipt; a
short answer must land nothing and leave the watermark where it was.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import psycopg
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.faults import FaultConfig
from chiso_sim.server import create_simulator_app
from fastapi.testclient import TestClient

from chiso.core.cadence import Cadence
from chiso.ingest.api_client import SourceApiError
from chiso.ingest.changes import lookback_months, pull_changes, watermark, windows
from chiso.ingest.loader import prepare
from tests.simulator_server import serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOKEN = "test-token"
CFG = SimulatorConfig(
    months=2, provinces=("30",), dossiers_per_agency_month=25, documents_per_agency_month=10
)
FAULTS = FaultConfig.from_kinds("5xx,429,duplicates,short", 0.3, retry_after_seconds=0, seed=11)
CADENCE = Cadence(history_start=date(2019, 12, 1), change_window=timedelta(days=20))
INSTANTS = (datetime(2020, 1, 20, 12), datetime(2020, 2, 6), datetime(2020, 2, 21, 9, 30))
EVERYTHING = (date(2019, 1, 1), date(2021, 1, 1))
# entity → (raw table, landing key, the fields compared, their API names)
FEEDS = {
    "one_stop.dossiers": (
        "one_stop__dossiers",
        ("ma_ho_so",),
        ("ma_ho_so", "trang_thai_ho_so", "ngay_ket_thuc_xu_ly", "ngay_cap_nhat"),
        ("MaHoSo", "TrangThaiHoSo", "NgayKetThucXuLy", "NgayCapNhat"),
    ),
    "documents.movements": (
        "documents__movements",
        ("don_vi", "ma_van_ban", "huong"),
        ("don_vi", "ma_van_ban", "huong", "ngay_xu_ly", "ngay_cap_nhat"),
        ("don_vi", "ma_van_ban", "huong", "ngay_xu_ly", "ngay_cap_nhat"),
    ),
}


@pytest.fixture(scope="module")
def source():
    app = create_simulator_app(CFG, TOKEN, FAULTS, as_of=INSTANTS[0])
    with serving(app) as base:
        yield app, base


def _state(app, entity_name: str, at: datetime) -> dict[tuple, tuple]:
    """What the source shows at `at`: every record received by then, keyed as raw is."""
    data = app.state.data
    items = (
        data.dossiers_between(*EVERYTHING, as_of=at)
        if entity_name == "one_stop.dossiers"
        else data.documents_between(*EVERYTHING, as_of=at)
    )
    _, key, _, api_fields = FEEDS[entity_name]
    n = len(key)
    return {
        tuple(str(i[f]) for f in api_fields[:n]): tuple(i[f] for f in api_fields[n:]) for i in items
    }


def _raw(url: str, entity_name: str) -> dict[tuple, tuple]:
    table, key, fields, _ = FEEDS[entity_name]
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select {', '.join(fields)} from raw.{table}").fetchall()
    n = len(key)
    out = {tuple(r[:n]): tuple(r[n:]) for r in rows}
    assert len(out) == len(rows), "a record is in raw twice"
    return out


def _receipt_months(url: str) -> set[tuple[str, date, date]]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                "select ma_ho_so, _extract_month,"
                " date_trunc('month', raw.parse_vn_timestamp(ngay_tiep_nhan))::date"
                " from raw.one_stop__dossiers"
            ).fetchall()
        )


@pytest.mark.parametrize("entity_name", list(FEEDS))
def test_chained_change_pulls_hold_the_source_as_it_stood_at_each_pull(
    chiso_env, source, entity_name
):
    app, base = source
    url = chiso_env.urls.loader
    prepare(url)
    states = []
    with httpx.Client(timeout=5.0) as client:
        for at in INSTANTS:
            app.state.data.set_clock(at)
            pull_changes(
                url,
                entity_name,
                base,
                TOKEN,
                until=at,
                cadence=CADENCE,
                client=client,
                backoff_seconds=0,
            )
            expected = _state(app, entity_name, at)
            assert expected, "the source should have records by then"
            assert _raw(url, entity_name) == expected
            assert watermark(url, entity_name) == at
            states.append(expected)
        # the same instant again: nothing to pull, nothing changes
        assert (
            pull_changes(
                url,
                entity_name,
                base,
                TOKEN,
                until=INSTANTS[-1],
                cadence=CADENCE,
                client=client,
                backoff_seconds=0,
            )
            == []
        )
    # records did change under the pulls (else this test would prove nothing)
    changed = [k for k, v in states[0].items() if states[-1].get(k) != v]
    assert changed, "some record pulled on 20 January should have changed by 21 February"
    if entity_name == "one_stop.dossiers":
        assert all(landed == received for _, landed, received in _receipt_months(url))


def test_a_short_answer_lands_nothing_and_keeps_the_watermark(chiso_env):
    url = chiso_env.urls.loader
    prepare(url)
    entity_name = "one_stop.dossiers"
    before, mark = _raw(url, entity_name), watermark(url, entity_name)
    always_short = create_simulator_app(
        CFG, TOKEN, FaultConfig(short_rate=1.0, faulty_attempts=1000), as_of=datetime(2020, 3, 1)
    )
    with TestClient(always_short, base_url="http://short") as client:
        small = Cadence(history_start=CADENCE.history_start, change_window=timedelta(days=60))
        with pytest.raises(SourceApiError, match="short answer"):
            pull_changes(
                url,
                entity_name,
                "http://short",
                TOKEN,
                until=datetime(2020, 3, 1),
                cadence=small,
                page_size=50,
                client=client,
                backoff_seconds=0,
            )
    assert _raw(url, entity_name) == before
    assert watermark(url, entity_name) == mark
    with psycopg.connect(url) as conn:
        (status, error) = conn.execute(
            "select status, error from raw.ingest_batches where entity = %s"
            " order by started_at desc limit 1",
            (entity_name,),
        ).fetchone()
    assert status == "failed" and "short answer" in error


def test_windows_and_lookback_months():
    c = Cadence(change_window=timedelta(days=10))
    ws = windows(datetime(2020, 1, 1), datetime(2020, 1, 25), c)
    assert [(w.changed_from.day, w.changed_to.day) for w in ws] == [(1, 11), (11, 21), (21, 25)]
    assert windows(datetime(2020, 1, 25), datetime(2020, 1, 25), c) == []
    assert lookback_months(datetime(2020, 4, 6), Cadence(lookback_months=2)) == [
        date(2020, 1, 1),
        date(2020, 2, 1),
        date(2020, 3, 1),
    ]
    assert lookback_months(datetime(2020, 4, 1), Cadence(lookback_months=0)) == [date(2020, 3, 1)]
