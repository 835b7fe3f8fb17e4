"""End-to-end: how monthly builds handle change, on a copy of the warehouse built through the
slice (tests/warehouses.py): a month run again, re-deliveries that withdraw records, a bad
source row, a failed gate, a changed project; and dbt's tests over every row once per run.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from chiso import pipeline
from chiso.quality.results import GateFailed
from chiso.runtime import simulator
from chiso.transform.dbt import build
from tests.alert_receivers import wait_for
from tests.warehouses import TEMPLATE_CLOSES, TEMPLATE_MONTHS, build_lock, read_mart

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MANUAL_BATCH = "00000000-0000-4000-8000-00000000bad1"

# the warehouse copied for this module was built month by month through the slice
MONTHS = list(TEMPLATE_MONTHS)


@pytest.fixture(scope="module")
def published(built_env):
    s = built_env.settings
    simulator.start(s)
    simulator.set_clock(s, TEMPLATE_CLOSES[-1])  # where the template's sources stood
    api = simulator.api_settings(s)
    paths = [s.reports_dir / f"bao-cao-{m:%Y-%m}.html" for m in MONTHS]
    return built_env, api, paths


def test_every_row_is_tested_once_per_run_not_only_the_latest_build(published):
    """Generic tests on incremental models check the rows of their latest build (the override
    in dbt_project/macros/overrides/). So that a bad row is never checked only by the build that
    wrote it, the suite runs every dbt test over every row once (`test_all_rows`). Here it
    finds exactly what was planted: a duplicate in an earlier month, which the latest-build
    test cannot see, and a null in a seed, which the folded not-null test (one query per
    relation) names with its relation."""
    from chiso.transform.dbt import DbtError, run_dbt

    env, _, _ = published
    # a copy of a January dossier, written by an earlier build than the latest
    duplicate = (
        "insert into staging.stg_one_stop__dossiers select * from staging.stg_one_stop__dossiers"
        " where dossier_id = (select min(dossier_id) from staging.stg_one_stop__dossiers"
        " where received_month = %(m)s) returning dossier_id"
    )
    backdate = (
        "update staging.stg_one_stop__dossiers set _built_at = _built_at - interval '1 day'"
        " where ctid = (select max(ctid) from staging.stg_one_stop__dossiers"
        " where dossier_id = %s)"
    )
    null = "insert into audit.ref_holiday_overrides (day, is_day_off) values (null, true)"
    with psycopg.connect(env.urls.transformer) as conn:
        (copied,) = conn.execute(duplicate, {"m": MONTHS[0]}).fetchone()
        assert conn.execute(backdate, (copied,)).rowcount == 1
        conn.execute(null)
    try:
        with pytest.raises(DbtError) as failed:
            run_dbt(env.settings, "test", "--vars", "{test_all_rows: true}")
        failing = sorted(line for line in str(failed.value).splitlines() if ": fail:" in line)
        assert len(failing) == 2, failing
        assert "not_null_columns_ref_holiday_overrides" in failing[0]
        assert "unique_stg_one_stop__dossiers_dossier_id" in failing[1]
        assert ": error:" not in str(failed.value)
    finally:
        with psycopg.connect(env.urls.transformer) as conn:
            conn.execute("delete from audit.ref_holiday_overrides where day is null")
    try:
        # the seed is clean again, and the latest build's test does not see the old duplicate
        run_dbt(env.settings, "test", "--select", "stg_one_stop__dossiers ref_holiday_overrides")
    finally:
        with psycopg.connect(env.urls.transformer) as conn:
            conn.execute(
                "delete from staging.stg_one_stop__dossiers as d using ("
                " select ctid, row_number() over (partition by dossier_id order by ctid) as n"
                " from staging.stg_one_stop__dossiers where received_month = %s) as extra"
                " where d.ctid = extra.ctid and extra.n > 1",
                (MONTHS[0],),
            )


def _built_nodes(settings) -> set[str]:
    import json

    results = settings.home / "dbt" / "target" / "run_results.json"
    return {r["unique_id"] for r in json.loads(results.read_text())["results"]}


def test_a_changed_project_brings_the_reference_nodes_back_once(published):
    """Reference nodes (seeds and what is built from seeds alone) and unit tests run in a
    monthly build only when the project differs from the one they last ran with (that an
    unchanged project skips them: test_bad_source_row_stops_the_run_before_publication)."""
    import json

    from chiso.reference.load import loaded_fingerprint
    from chiso.transform.reference_state import (
        ITEM,
        STATE_TABLE,
        build_fingerprint,
        project_fingerprint,
    )

    env, _, _ = published
    # a stale fingerprint (as after an upgrade of the project) brings them back, once
    with psycopg.connect(env.urls.admin) as conn:
        conn.execute(
            f"update {STATE_TABLE} set fingerprint = 'an older project' where item = %s", (ITEM,)
        )
    build(env.settings, MONTHS[2])
    built = _built_nodes(env.settings)
    reference_nodes = {"model.chiso.ref_agencies", "seed.chiso.ref_indicators"}
    assert {*reference_nodes, "model.chiso.dim_period"} <= built
    assert [n for n in built if n.startswith("unit_test.")]
    with psycopg.connect(env.urls.admin) as conn:
        recorded = conn.execute(
            f"select fingerprint from {STATE_TABLE} where item = %s", (ITEM,)
        ).fetchone()[0]
        reference = loaded_fingerprint(conn)
    assert reference is not None
    assert recorded == build_fingerprint(project_fingerprint(), reference)
    # the tag is safe only on nodes built from seeds and the loaded reference data alone: every
    # ancestor is a seed, the source `reference` or another reference node, never source data
    manifest = json.loads((env.settings.home / "dbt" / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]

    def ancestors(unique_id: str) -> set[str]:
        found: set[str] = set()
        todo = list(nodes.get(unique_id, {}).get("depends_on", {}).get("nodes", []))
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo += nodes.get(parent, {}).get("depends_on", {}).get("nodes", [])
        return found

    reference = [u for u, n in nodes.items() if "reference" in n.get("tags", [])]
    assert len(reference) >= 16
    for unique_id in reference:
        assert all(
            a.startswith(("seed.", "source.chiso.reference.")) or a in reference
            for a in ancestors(unique_id)
        ), unique_id


def test_replaying_the_closes_is_idempotent(published):
    """The three closes again, with the sources as they stand now (the template's last close
    instant: a replay does not turn the sources' clock back): raw, every published revision
    and the mart stay exactly as they were. Nothing new landed, so no close runs dbt
    (chiso/transform/build_inputs.py); a build left unfinished (as a killed one leaves it)
    makes the next one run. That a build with new data skips only the reference nodes:
    test_bad_source_row_stops_the_run_before_publication; with a changed project:
    test_a_changed_project_brings_the_reference_nodes_back_once."""
    from chiso.transform.build_inputs import clear_attempt, inputs_digest, record_attempt
    from chiso.transform.build_inputs import up_to_date as built_by
    from chiso.transform.reference_state import current_fingerprint

    env, api, _ = published
    s = env.settings
    simulator.set_clock(s, TEMPLATE_CLOSES[-1])
    query = (
        "select (select count(*) from raw.one_stop__dossiers),"
        " (select count(*) from raw.documents__movements),"
        " (select array_agg((period_month, revision) order by period_month, revision)::text"
        " from ops.publications)"
    )
    builds = "select count(*), max(invocation_id) filter (where finished_at = ("
    builds += "select max(finished_at) from ops.dbt_builds)) from ops.dbt_builds"
    with psycopg.connect(env.urls.admin) as conn:
        state_before = conn.execute(query).fetchone()
        builds_before, latest = conn.execute(builds).fetchone()
    before = read_mart(env.urls.bi_reader)
    for month in MONTHS:
        pipeline.run_month(s, month, api)
    with psycopg.connect(env.urls.admin) as conn:
        assert conn.execute(query).fetchone() == state_before  # raw; no new revision
        assert conn.execute(builds).fetchone() == (builds_before, latest)  # dbt did not run
        digest = inputs_digest(conn, current_fingerprint(conn))
        assert built_by(conn, MONTHS[0], digest) == latest
        record_attempt(conn, digest)  # a build started and never finished
        assert built_by(conn, MONTHS[0], digest) is None
        clear_attempt(conn)
        assert built_by(conn, MONTHS[0], "another ledger") is None
    assert read_mart(env.urls.bi_reader) == before  # published_at included


def test_failed_gate_blocks_publication_and_keeps_previous_mart(published):
    env, _, _ = published
    s, month = env.settings, MONTHS[1]
    before = read_mart(env.urls.bi_reader, month)
    # a bad build: one rate above 100% and a missing agency row in the audit area
    with psycopg.connect(env.urls.transformer) as conn:
        conn.execute(
            "update audit.mart_kpi_monthly set numerator = denominator + 5, value = 1.5"
            " where period_month = %s and indicator_code = 'dossier.early_rate'"
            " and agency_code = (select min(agency_code) from audit.mart_kpi_monthly)",
            (month,),
        )
        conn.execute(
            "delete from audit.mart_kpi_monthly where period_month = %s and ctid = ("
            " select max(ctid) from audit.mart_kpi_monthly where period_month = %s"
            " and indicator_code = 'dossier.late_rate')",
            (month, month),
        )
    with pytest.raises(GateFailed) as err:
        pipeline.validate(s, month)
    assert "value" in str(err.value)
    with pytest.raises(Exception, match="gate failed"):
        from chiso.publish.revisions import publish_month

        publish_month(env.urls.transformer, month, dbt_invocation_id=None, gate_success=False)
    assert read_mart(env.urls.bi_reader, month) == before
    with psycopg.connect(env.urls.admin) as conn:
        success, failures = conn.execute(
            "select success, failures from ops.gate_results where period_month = %s"
            " order by validated_at desc limit 1",
            (month,),
        ).fetchone()
    assert success is False
    assert {f["expectation"] for f in failures} >= {
        "expect_column_values_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }


def test_bad_source_row_stops_the_run_before_publication(published, capsys):
    """A row that breaks a model's test fails the build: `chiso transform` says which node
    failed and where the log is, in one line and with a non-zero exit, and nothing is
    published; once the row is withdrawn, the build passes, and two builds started at once
    run one after the other."""
    from chiso.cli import main

    env, _, _ = published
    s, month = env.settings, MONTHS[2]
    before = read_mart(env.urls.bi_reader, month)
    # a delivery (rows plus their ledger entry, as chiso ingest writes them) with an agency
    # code no register knows
    with psycopg.connect(env.urls.loader) as conn:
        conn.execute(
            "insert into raw.ingest_batches (batch_id, source, target_table, extract_month,"
            " origin, status, row_count) values (%s, 'one_stop', 'raw.one_stop__dossiers', %s,"
            " 'test', 'loaded', 1)",
            (MANUAL_BATCH, month),
        )
        conn.execute(
            "insert into raw.one_stop__dossiers (ma_ho_so, ma_tthc, don_vi_xu_ly, ngay_tiep_nhan,"
            " trang_thai_ho_so, _batch_id, _extract_month, _row_number)"
            " values ('BAD-1', '1.000001', 'KHONG.CO.MA', '20200310090000', '2',"
            " %s, %s, 1)",
            (MANUAL_BATCH, month),
        )
    try:
        capsys.readouterr()
        assert main(["transform", "--month", f"{month:%Y-%m}"]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and "Traceback" not in err[0], err
        assert err[0].startswith("error: dbt build failed") and "relationships" in err[0]
        assert err[0].endswith(f"nothing was published; the full log is {s.home}/dbt/logs/dbt.log")
        assert read_mart(env.urls.bi_reader, month) == before
    finally:
        # withdrawn, as a replacing delivery would leave it; the next build drops its row
        with psycopg.connect(env.urls.loader) as conn:
            conn.execute("delete from raw.one_stop__dossiers where _batch_id = %s", (MANUAL_BATCH,))
            conn.execute(
                "update raw.ingest_batches set status = 'replaced' where batch_id = %s",
                (MANUAL_BATCH,),
            )
    # the ledger changed: the monthly build runs, skipping the reference nodes and the unit
    # tests (the project is the one they last ran with) but still checking the month's
    # foreign keys into them. Two builds start at once (a scheduled close's and an
    # operator's): the second waits on the build lock, then finds the inputs built.
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(build, s, month)
        assert wait_for(lambda: build_lock(env.urls.admin) == (1, 0), timeout=120)
        second = pool.submit(build, s, month)
        assert wait_for(lambda: build_lock(env.urls.admin) == (1, 1), timeout=120)  # 1 waits
        ran, waited = first.result(timeout=900), second.result(timeout=900)
    assert not ran.skipped and waited.skipped and waited.invocation_id == ran.invocation_id
    assert build_lock(env.urls.admin) == (0, 0)
    with psycopg.connect(env.urls.transformer) as conn:
        staged = conn.execute(
            "select count(*) from staging.stg_one_stop__dossiers where dossier_id = 'BAD-1'"
        ).fetchone()[0]
    assert staged == 0
    built = _built_nodes(s)
    assert not [n for n in built if n.startswith("seed.")]
    assert "model.chiso.fct_indicator_values" in built
    assert "model.chiso.dim_period" not in built
    assert not [n for n in built if n.startswith("unit_test.")]
    fk_test = "test.chiso.relationships_fct_indicator_values_period_id"
    assert [n for n in built if n.startswith(fk_test)]


RAW_ONE_STOP = ("one_stop__dossiers", "one_stop__supplements", "one_stop__progress_events")


def _dossier_rows(url: str, dossier: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                f"select count(*) from {table} where dossier_id = %s", (dossier,)
            ).fetchone()[0]
            for table in (
                "staging.stg_one_stop__dossiers",
                "intermediate.int_one_stop__dossier_outcomes",
                "audit.fct_dossiers",
            )
        }


def _redeliver_without(
    conn: psycopg.Connection, tables: tuple[str, ...], where: str, params: tuple
) -> list[tuple]:
    """Replace every delivery of `tables` holding rows matching `where` by one without them,
    as a corrected re-delivery would (new batch in the ledger, the old one replaced). Returns
    what to undo (_put_back)."""
    import uuid

    undo = []
    for table in tables:
        batches = conn.execute(
            f"select distinct _batch_id from raw.{table} where {where}", params
        ).fetchall()
        for (old,) in batches:
            new = uuid.uuid4()
            conn.execute(
                "insert into raw.ingest_batches (batch_id, source, target_table, extract_month,"
                " origin, status, row_count, finished_at) select %s, source, target_table,"
                " extract_month, 'test re-delivery', 'loaded', row_count, now()"
                " from raw.ingest_batches where batch_id = %s",
                (new, old),
            )
            conn.execute(f"update raw.{table} set _batch_id = %s where _batch_id = %s", (new, old))
            conn.execute(
                "update raw.ingest_batches set status = 'replaced' where batch_id = %s", (old,)
            )
            # the withdrawn rows move to a table of their own, to be put back afterwards
            kept = f"dropped_{table}_{len(undo)}"
            conn.execute(
                f"create table public.{kept} as select * from raw.{table}"
                f" where _batch_id = %s and {where}",
                (new, *params),
            )
            conn.execute(
                f"delete from raw.{table} where _batch_id = %s and {where}", (new, *params)
            )
            undo.append((table, old, new, kept))
    return undo


def _put_back(url: str, undo: list[tuple]) -> None:
    """Undo _redeliver_without: the original deliveries are the loaded ones again."""
    with psycopg.connect(url) as conn:
        for table, old, new, kept in reversed(undo):
            conn.execute(f"insert into raw.{table} select * from public.{kept}")
            conn.execute(f"drop table public.{kept}")
            conn.execute(f"update raw.{table} set _batch_id = %s where _batch_id = %s", (old, new))
            conn.execute(
                "update raw.ingest_batches set status = 'loaded' where batch_id = %s", (old,)
            )
            conn.execute("delete from raw.ingest_batches where batch_id = %s", (new,))


def _current_offering(url: str, offering: str) -> tuple | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select snapshot_date, _extract_month from intermediate.int_portal__catalogue_current"
            " where offering_id = %s",
            (offering,),
        ).fetchone()


def test_redeliveries_withdraw_records_downstream_and_putting_them_back_restores_them(
    published,
):
    """Two corrected re-deliveries, built by one monthly build:

    - February delivered again without one of its dossiers: the build removes the dossier
      from staging, the outcomes and fct_dossiers (the downstream prune checks only the
      months upstream rewrote);
    - the latest catalogue snapshot delivered again without one offering: the incremental
      int_portal__catalogue_current then shows the offering as the previous snapshot listed
      it (what a full refresh ranks as its latest).

    Putting both back and building again restores both.
    """
    from chiso.transform.dbt import build

    env, _, _ = published
    february, last, before = MONTHS[1], MONTHS[-1], MONTHS[-2]
    with psycopg.connect(env.urls.admin) as conn:
        dossier = conn.execute(
            "select dossier_id from audit.fct_dossiers where _extract_month = %s"
            " order by 1 limit 1",
            (february,),
        ).fetchone()[0]
        offering = conn.execute(
            "select offering_id from intermediate.int_portal__catalogue_current"
            " where _extract_month = %s and offering_id in (select agency_code || '|' ||"
            " procedure_code from staging.stg_portal__service_catalogue"
            " where _extract_month = %s) order by 1 limit 1",
            (last, before),
        ).fetchone()[0]
    agency, procedure = offering.split("|")
    assert set(_dossier_rows(env.urls.admin, dossier).values()) == {1}
    latest = _current_offering(env.urls.admin, offering)
    assert latest is not None and latest[1] == last
    with psycopg.connect(env.urls.admin) as conn:
        undo = _redeliver_without(conn, RAW_ONE_STOP, "trim(ma_ho_so) = %s", (dossier,))
        undo += _redeliver_without(
            conn,
            ("portal__service_catalogue",),
            "trim(don_vi) = %s and trim(ma_tthc) = %s and _extract_month = %s",
            (agency, procedure, last),
        )
    try:
        build(env.settings, last)
        assert set(_dossier_rows(env.urls.admin, dossier).values()) == {0}
        fallback = _current_offering(env.urls.admin, offering)
        assert fallback is not None and fallback[1] == before and fallback[0] < latest[0]
    finally:
        _put_back(env.urls.admin, undo)
    build(env.settings, last)
    assert set(_dossier_rows(env.urls.admin, dossier).values()) == {1}
    assert _current_offering(env.urls.admin, offering) == latest


def _agency_month(url: str, agency: str, month) -> dict[tuple[str, str], tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select indicator_code, calendar, numerator, denominator, value"
            " from audit.mart_kpi_monthly where agency_code = %s and period_month = %s",
            (agency, month),
        ).fetchall()
    return {(i, c): (n, d, v) for i, c, n, d, v in rows}


def test_a_vendor_export_in_words_gives_the_counts_of_the_codes(published):
    """One agency's March delivered again as its vendor's printed export, after an upgrade:
    statuses, channels, results by post, applicant kinds and payments in words ("Đã trả kết
    quả", "Trực tuyến", "2" for the provincial gateway …), Vietnamese headers renamed, extra
    columns, dates as Excel dates. It replaces what the API pull landed for that agency-month,
    and the month's build gives the agency the counts it had from the codes, which
    test_monthly_slice.py holds equal to the independent computation."""
    from chiso_sim import one_stop
    from chiso_sim.config import SimulatorConfig
    from chiso_sim.exports import ExportOptions, write_export

    env, _, _ = published
    s, march = env.settings, MONTHS[2]
    records = one_stop.generate_month(SimulatorConfig(), march, TEMPLATE_CLOSES[2])
    agency = sorted({r["DonViXuLy"] for r in records})[0]
    mine = [r for r in records if r["DonViXuLy"] == agency]
    before = _agency_month(env.urls.transformer, agency, march)
    assert before and len(mine) > 20
    path = s.inbox_dir / "one_stop" / f"ho-so_{agency}_{march:%Y-%m}.xlsx"
    write_export(path, "one_stop.dossiers", mine, march, ExportOptions("xlsx", "upgraded"))
    os.utime(path, (time.time() - 600, time.time() - 600))  # delivered ten minutes ago
    [loaded] = pipeline.ingest_inbox(s, "one_stop")
    assert (loaded.status, loaded.rows) == ("loaded", len(mine)), loaded.error
    with psycopg.connect(env.urls.transformer) as conn:
        printed = conn.execute(
            "select count(*) from raw.one_stop__dossiers where _batch_id = any(select batch_id"
            " from raw.ingest_batches where file_name = %s) and trang_thai_ho_so !~ '^[0-9]+$'",
            (path.name,),
        ).fetchone()[0]
    assert printed == len(mine)  # every status arrived as a word
    pipeline.transform(s, march)
    assert _agency_month(env.urls.transformer, agency, march) == before


def test_a_time_limit_that_reaches_the_catalogue_late_gives_its_dossiers_their_due_date(
    published,
):
    """Dossiers built while their procedure's catalogue rows stated no time limit are judged on
    their first appointment; when a later delivery states the limit, the next incremental build
    recomputes exactly those dossiers on the rules' due date, without touching their records."""
    from chiso.transform.dbt import run_dbt

    env, _, _ = published
    models = ("int_one_stop__dossier_deadlines", "int_one_stop__dossier_outcomes")
    with psycopg.connect(env.urls.transformer) as conn:
        agency, procedure, limit = conn.execute(
            "select agency_code, procedure_code, max(time_limit_working_days)"
            " from staging.stg_portal__service_catalogue where time_limit_working_days > 0"
            " group by 1, 2 order by count(*) desc, 1, 2 limit 1"
        ).fetchone()
        pair = {"a": agency, "p": procedure}
        where = "agency_code = %(a)s and procedure_code = %(p)s"
        conn.execute(
            f"update staging.stg_portal__service_catalogue set time_limit_working_days = null"
            f" where {where}",
            pair,
        )
    try:
        run_dbt(env.settings, "run", "--full-refresh", "-s", *models)
        with psycopg.connect(env.urls.transformer) as conn:
            before = conn.execute(
                "select official_due_basis, count(*)"
                f" from intermediate.int_one_stop__dossier_outcomes where {where} group by 1",
                pair,
            ).fetchall()
            assert before and all(basis != "time_limit" for basis, _ in before)
            # a later delivery states the limit (one working day more than the simulator's)
            conn.execute(
                f"update staging.stg_portal__service_catalogue set time_limit_working_days = %(n)s,"
                f" _built_at = now() where {where}",
                {**pair, "n": limit + 1},
            )
        run_dbt(env.settings, "run", "-s", *models)
        with psycopg.connect(env.urls.transformer) as conn:
            after = conn.execute(
                "select outcomes.official_due_basis, outcomes.time_limit_working_days,"
                " outcomes.rules_due_date = rules_day.day"
                " from intermediate.int_one_stop__dossier_outcomes as outcomes"
                " join intermediate.int_calendar__days as received"
                "   on received.day = outcomes.received_date"
                " join intermediate.int_calendar__days as rules_day"
                "   on rules_day.is_working_day and rules_day.working_day_number"
                "   = received.working_day_number + %(n)s + outcomes.paused_working_days"
                f" where outcomes.{where.replace('and ', 'and outcomes.')}",
                {**pair, "n": limit + 1},
            ).fetchall()
        assert len(after) == sum(n for _, n in before)
        assert set(after) == {("time_limit", limit + 1, True)}
    finally:
        with psycopg.connect(env.urls.transformer) as conn:
            conn.execute(
                "update staging.stg_portal__service_catalogue set time_limit_working_days = %(n)s"
                f" where {where}",
                {**pair, "n": limit},
            )
        run_dbt(env.settings, "run", "--full-refresh", "-s", *models)


def test_a_build_leaves_the_planner_knowing_the_month_it_inserted(published):
    """Every table a build writes (incremental, or rebuilt whole) is analyzed by it (the
    project's post-hook analyze_after_build): an ANALYZE of the build's own, not
    autovacuum's, after the build started. Without it the planner estimated the month just
    inserted at one row, and the gate's joins over it ran as nested loops (13 s instead of
    0.01 s)."""
    env, _, _ = published
    incremental = (
        "select c.table_schema, c.table_name from information_schema.columns c"
        " join information_schema.tables t using (table_schema, table_name)"
        " where c.column_name = '_built_at' and t.table_type = 'BASE TABLE'"
        " and c.table_schema in ('staging', 'intermediate', 'audit')"
    )
    with psycopg.connect(env.urls.admin) as conn:
        tables = conn.execute(incremental).fetchall()
        (started,) = conn.execute("select clock_timestamp()").fetchone()
    assert len(tables) >= 20, tables  # staging, intermediate, counts, facts and marts
    # a build that runs dbt: a monthly one with the inputs of the last would be skipped
    build(env.settings, days=(MONTHS[-1], MONTHS[-1] + timedelta(days=27)))
    with psycopg.connect(env.urls.admin) as conn:
        analyzed = dict(
            conn.execute(
                "select schemaname || '.' || relname, last_analyze from pg_stat_user_tables"
                " where (schemaname, relname) in (select * from unnest(%s::text[], %s::text[]))",
                ([s for s, _ in tables], [t for _, t in tables]),
            ).fetchall()
        )
        stale = {f"{s}.{t}" for s, t in tables if (analyzed.get(f"{s}.{t}") or started) <= started}
        assert not stale, f"not analyzed by the build: {sorted(stale)}"
        (month,) = conn.execute(
            "select max(_extract_month) from staging.stg_portal__service_catalogue"
        ).fetchone()
        (rows,) = conn.execute(
            "select count(*) from staging.stg_portal__service_catalogue where _extract_month = %s",
            (month,),
        ).fetchone()
        (plan,) = conn.execute(
            "explain (format json) select * from staging.stg_portal__service_catalogue"
            " where _extract_month = %s",
            (month,),
        ).fetchone()
    assert plan[0]["Plan"]["Plan Rows"] >= rows / 2, (plan[0]["Plan"]["Plan Rows"], rows)


def test_an_empty_delivery_restages_its_month_only_when_it_replaced_rows(published):
    """A changed dossier with no supplements lands a supplements delivery of no rows (the
    change loader's batch for its month). One that replaced nothing changes nothing: the next
    build leaves its month's staged rows as they were. It can never be among the staging
    model's batches, so it used to restage its month at every build, and every period from
    that month on with it: the five-year test's warehouses rebuilt their whole history at
    every close. One that replaced rows (the dossier's supplement withdrawn) is restaged, and
    the supplement leaves staging."""
    import uuid

    env, _, _ = published
    january, february = MONTHS[0], MONTHS[1]
    staged_at = (
        "select _extract_month, max(_built_at) from staging.stg_one_stop__supplements group by 1"
    )
    with psycopg.connect(env.urls.admin) as conn:
        before = dict(conn.execute(staged_at).fetchall())
        # a supplement February alone holds (no later copy of its dossier's to win instead)
        dossier, number = conn.execute(
            "delete from raw.one_stop__supplements where _extract_month = %s"
            " and (ma_ho_so, lan_bo_sung) = (select ma_ho_so, lan_bo_sung"
            " from raw.one_stop__supplements s where _extract_month = %s and not exists"
            " (select 1 from raw.one_stop__supplements o where o._extract_month <> %s"
            " and trim(o.ma_ho_so) = trim(s.ma_ho_so)) order by 1, 2 limit 1)"
            " returning trim(ma_ho_so), raw.parse_vn_int(lan_bo_sung)::int",
            (february, february, february),
        ).fetchone()
        for month, replaced in ((january, 0), (february, 1)):
            conn.execute(
                "insert into raw.ingest_batches (batch_id, source, entity, target_table,"
                " extract_month, channel, origin, replace_scope, status, row_count,"
                " replaced_rows, finished_at) values (%s, 'one_stop', 'one_stop.supplements',"
                " 'raw.one_stop__supplements', %s, 'api', 'test: a changed dossier without"
                " supplements', 'record', 'loaded', 0, %s, now())",
                (uuid.uuid4(), month, replaced),
            )
    build(env.settings, MONTHS[-1])
    with psycopg.connect(env.urls.admin) as conn:
        after = dict(conn.execute(staged_at).fetchall())
        (left,) = conn.execute(
            "select count(*) from staging.stg_one_stop__supplements"
            " where dossier_id = %s and supplement_number = %s",
            (dossier, number),
        ).fetchone()
    assert after[january] == before[january], "a delivery that changed nothing restaged January"
    assert after[february] > before[february] and left == 0, (left, after[february])
