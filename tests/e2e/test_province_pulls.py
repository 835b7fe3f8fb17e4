"""A deployment of several provinces pulls each province's own installation of the systems
(CHISO_SOURCE_PROVINCES): the pulls of every province, in any order and at their own pace,
must leave raw as one national pull would, each record once.

The simulator serves Hải Phòng (31) and Phú Thọ (25), each under its own path as its own
installation, while its clock moves through July and August 2025 and records change under
it. Each province has its own watermarks; a province's look-back re-pull replaces that
province's agencies' month and nothing of the other's; a province whose answer is empty is
not taken for another province's empty answer; a correction hold released for an agency is
pulled again from that agency's province only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.server import create_simulator_app

from chiso import pipeline
from chiso.core.cadence import Cadence
from chiso.ingest.holds import mark_repulled, months_to_repull
from chiso.ingest.loader import prepare
from chiso.sources.systems import SOURCES, ApiSettings
from tests.simulator_server import serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOKEN = "test-token"
PROVINCES = ("31", "25")
CFG = SimulatorConfig(
    start_month=date(2025, 7, 1),
    months=2,
    provinces=PROVINCES,
    dossiers_per_agency_month=6,
    documents_per_agency_month=4,
    procedures_per_province=120,
)
CADENCE = Cadence(history_start=date(2025, 6, 1), change_window=timedelta(days=20))
# after July's close, then late in August: records received in July changed in between
INSTANTS = (datetime(2025, 8, 6), datetime(2025, 8, 27, 15))
RAW_TABLES = (
    "one_stop__dossiers",
    "one_stop__supplements",
    "one_stop__progress_events",
    "documents__movements",
    "portal__service_catalogue",
    "portal__usage",
)


@pytest.fixture(scope="module")
def source():
    app = create_simulator_app(CFG, TOKEN, as_of=INSTANTS[0])
    with serving(app) as base:
        yield app, base


@pytest.fixture(scope="module")
def env(chiso_env):
    prepare(chiso_env.urls.loader)
    pipeline.ensure_reference(chiso_env.settings)
    return chiso_env


def _empty(env) -> None:
    with psycopg.connect(env.urls.admin) as conn:
        for table in RAW_TABLES:
            conn.execute(f"truncate raw.{table}")
        conn.execute(
            "truncate raw.ingest_batches, ops.ingest_watermarks, ops.correction_holds,"
            " raw.rejected_records"
        )


def _pull(env, base_url: str, until: datetime, province: str | None) -> int:
    path = f"/provinces/{province}" if province else ""
    api = ApiSettings(base_url + path, TOKEN)
    return sum(
        pipeline.ingest_changes(env.settings, s, api, until, CADENCE, province=province)
        for s in SOURCES
    )


def _raw(env) -> dict[str, list[tuple]]:
    """Every raw table's rows as the source gave them (the load's own columns left out)."""
    out: dict[str, list[tuple]] = {}
    with psycopg.connect(env.urls.admin) as conn:
        for table in RAW_TABLES:
            columns = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema ="
                    " 'raw' and table_name = %s and (column_name not like '\\_%%'"
                    " or column_name = '_extract_month') order by ordinal_position",
                    (table,),
                )
            ]
            rows = conn.execute(
                f"select {', '.join(columns)} from raw.{table} order by 1, 2, 3"
            ).fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def test_every_province_pulled_is_the_national_pull(env, source) -> None:
    app, base_url = source
    data = app.state.data
    national: list[dict[str, list[tuple]]] = []
    _empty(env)
    for at in INSTANTS:
        data.set_clock(at)
        _pull(env, base_url, at, None)
        national.append(_raw(env))
    assert all(national[0].values()), "every raw table has rows"
    assert national[0] != national[1], "records changed between the two pulls"

    _empty(env)
    data.set_clock(INSTANTS[0])
    for province in PROVINCES:
        _pull(env, base_url, INSTANTS[0], province)
    assert _raw(env) == national[0]
    # August: Phú Thọ's systems are pulled first, Hải Phòng's later; after each, the other
    # province's rows are untouched
    data.set_clock(INSTANTS[1])
    _pull(env, base_url, INSTANTS[1], "25")
    halfway = _raw(env)
    assert halfway != national[0] and halfway != national[1]
    _pull(env, base_url, INSTANTS[1], "31")
    assert _raw(env) == national[1]
    # again, with nothing changed at the source: nothing moves
    assert _pull(env, base_url, INSTANTS[1], "31") == 0
    assert _raw(env) == national[1]

    with psycopg.connect(env.urls.admin) as conn:
        marks = conn.execute(
            "select entity, province, changed_to from ops.ingest_watermarks order by 1, 2"
        ).fetchall()
        # each province's first answer of a look-back month, in the order pulled
        firsts = conn.execute(
            "select distinct on (source_province, entity, extract_month) source_province,"
            " replace_scope, status from raw.ingest_batches where channel = 'api'"
            " and changed_from is null"
            " order by source_province, entity, extract_month, started_at"
        ).fetchall()
    assert marks == [
        (entity, province, INSTANTS[1])
        for entity in ("documents.movements", "one_stop.dossiers")
        for province in ("25", "31")
    ]
    # the empty months before the horizon: each province's answer for each month is its own,
    # not taken for another month's or province's empty answer (a province that had rows and
    # answers empty must replace them)
    assert {p for p, *_ in firsts} == set(PROVINCES)
    assert {scope for _, scope, _ in firsts} == {"province_month"}
    assert {status for *_, status in firsts} <= {"loaded", "replaced"}


def test_a_released_hold_is_pulled_again_from_its_agencys_province_only(env) -> None:
    _empty(env)
    with psycopg.connect(env.urls.admin) as conn:
        agency = {
            province: conn.execute(
                "select min(agency_code) from reference.agencies where province_code = %s",
                (province,),
            ).fetchone()[0]
            for province in PROVINCES
        }
        conn.execute(
            "insert into ops.correction_holds (entity, agency_code, extract_month, batch_id,"
            " released_at, released_by) values ('portal.usage', %s, '2025-07-01',"
            " gen_random_uuid(), now(), 'test')",
            (agency["31"],),
        )
        conn.execute(
            "insert into ops.repull_requests (entity, extract_month, province_code, reason)"
            " values ('portal.usage', '2025-08-01', '25', 'test')"
        )
        assert months_to_repull(conn, "portal.usage", "31") == [date(2025, 7, 1)]
        assert months_to_repull(conn, "portal.usage", "25") == [date(2025, 8, 1)]
        # a deployment with one installation pulls both again
        assert months_to_repull(conn, "portal.usage") == [date(2025, 7, 1), date(2025, 8, 1)]
        conn.execute(
            "insert into ops.repull_requests (entity, extract_month, province_code, reason)"
            " values ('portal.usage', '2025-07-01', '25', 'test')"
        )
        # Hải Phòng's re-pull of July leaves Phú Thọ's request for July open
        mark_repulled(conn, "portal.usage", date(2025, 7, 1), "31")
        assert months_to_repull(conn, "portal.usage", "31") == []
        assert months_to_repull(conn, "portal.usage", "25") == [
            date(2025, 7, 1), date(2025, 8, 1),
        ]  # fmt: skip
        mark_repulled(conn, "portal.usage", date(2025, 7, 1), "25")
        assert months_to_repull(conn, "portal.usage", "25") == [date(2025, 8, 1)]
        conn.execute("truncate ops.repull_requests")
