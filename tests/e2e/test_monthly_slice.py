"""End-to-end: simulator → raw (COPY) → dbt → GX gate → publish → report, on a real PostgreSQL.

Every indicator value the warehouse computes (both calendars, months to years) is checked
against `chiso.reference_kpis`, an independent Python computation over the same generated
records, and the published mart against the fact table; the failure tests show the gate keeps
the previously published month unchanged.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from chiso import pipeline
from chiso.cli import _api, simulator_start
from chiso.reference_kpis import compute_indicators, periods_between
from chiso.simulator.config import SimulatorConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MANUAL_BATCH = "00000000-0000-4000-8000-00000000bad1"

MONTHS = [date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1)]


@pytest.fixture(scope="module")
def published(chiso_env):
    s = chiso_env.settings
    simulator_start(s)
    api = _api(s)
    paths = [pipeline.run_month(s, m, api) for m in MONTHS]
    return chiso_env, api, paths


def _mart(url: str, month: date | None = None) -> dict[tuple[str, str, str, date], tuple]:
    sql = (
        "select agency_code, indicator_code, calendar, period_month, numerator, denominator,"
        " value, published_at from marts.mart_kpi_monthly"
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            sql + (" where period_month = %s" if month else ""), (month,) if month else ()
        ).fetchall()
    return {(a, i, c, m): (n, d, v, p) for a, i, c, m, n, d, v, p in rows}


def _close(got: Decimal | None, want: float | None) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return abs(got - Decimal(str(want))) < Decimal("0.000001")


def test_every_indicator_matches_independent_python_computation(published):
    """For every computed indicator, agency and period of both calendars (months, quarters,
    halves, year) the warehouse's as-reported numerator, denominator and value equal the
    Python reference computed from the simulator's records."""
    env, _, _ = published
    periods = periods_between(MONTHS[0], MONTHS[-1])
    with psycopg.connect(env.urls.transformer) as conn:
        rows = conn.execute(
            "select agency_code, indicator_code, calendar, period_key, numerator, denominator,"
            " value, is_complete from audit.fct_indicator_values where basis = 'as_reported'"
        ).fetchall()
        computed = {
            r[0]
            for r in conn.execute("select indicator_code from audit.dim_indicator where in_mart")
        }
    got = {(a, i, c, k): (n, d, v, complete) for a, i, c, k, n, d, v, complete in rows}
    agencies = sorted({key[0] for key in got})
    expected = compute_indicators(SimulatorConfig(), periods, agencies)
    assert {key[1] for key in expected} == computed
    # the warehouse also holds the periods still running past the data (official 2020-04
    # window ends 14/04, the next one has begun): those, and only those, the reference skips
    assert all(not got[key][3] for key in got.keys() - expected.keys())
    mismatches = []
    for key, (num, den, value) in expected.items():
        g_num, g_den, g_value, _ = got[key]
        same = g_num == num and (g_den is None) == (den is None) and (den is None or g_den == den)
        if not (same and _close(g_value, value)):
            mismatches.append((key, (num, den, value), (g_num, g_den, g_value)))
    assert not mismatches, f"{len(mismatches)} of {len(expected)} differ, e.g. {mismatches[:5]}"


def test_published_mart_is_the_fact_table_month_by_month(published):
    """marts.mart_kpi_monthly (published) holds, for every month and calendar, exactly the
    as-reported monthly rows of fct_indicator_values."""
    env, _, _ = published
    mart = _mart(env.urls.bi_reader)
    with psycopg.connect(env.urls.transformer) as conn:
        facts = conn.execute(
            "select agency_code, indicator_code, calendar, closing_month, numerator,"
            " denominator, value from audit.fct_indicator_values"
            " where basis = 'as_reported' and period_type = 'month' and closing_month = any(%s)",
            (MONTHS,),
        ).fetchall()
    assert {(a, i, c, m): (n, d, v) for a, i, c, m, n, d, v in facts} == {
        k: v[:3] for k, v in mart.items()
    }


# Every incremental model, with the columns that say when a row was written left out.
INCREMENTAL = [
    "staging.stg_one_stop__dossiers",
    "staging.stg_one_stop__supplements",
    "staging.stg_one_stop__progress_events",
    "staging.stg_documents__movements",
    "staging.stg_portal__service_catalogue",
    "intermediate.int_one_stop__dossier_outcomes",
    "intermediate.int_documents__movements",
    "intermediate.int_portal__offerings",
    "intermediate.int_portal__catalogue_current",
    "intermediate.int_indicator_counts__dossiers",
    "intermediate.int_indicator_counts__services",
    "intermediate.int_indicator_counts__documents",
    "audit.fct_dossiers",
    "audit.fct_documents",
    "audit.fct_service_offerings",
    "audit.fct_indicator_values",
    "audit.mart_kpi_monthly",
    "audit.mart_kpi_rollups",
]


def _fingerprints(url: str) -> dict[str, tuple[int, str]]:
    out = {}
    with psycopg.connect(url) as conn:
        for table in INCREMENTAL:
            schema, name = table.split(".")
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s"
                    " and table_name = %s and column_name not in ('_built_at', '_loaded_at')"
                    " order by ordinal_position",
                    (schema, name),
                )
            ]
            row = f"md5(row({', '.join(cols)})::text)"
            out[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg({row}, '' order by {row}), ''))"
                f" from {table}"
            ).fetchone()
    return out


def test_month_by_month_incremental_equals_full_refresh(published):
    """The months were built one by one, incrementally (each run restaged only its month's
    deliveries and rebuilt the periods overlapping it); a full refresh of everything gives
    the same rows in every incremental model."""
    env, _, _ = published
    from chiso.transform.dbt import build

    incremental = _fingerprints(env.urls.admin)
    assert all(count > 0 for count, _ in incremental.values())
    build(env.settings, full=True)
    assert _fingerprints(env.urls.admin) == incremental


def _built_nodes(settings) -> set[str]:
    import json

    results = settings.home / "dbt" / "target" / "run_results.json"
    return {r["unique_id"] for r in json.loads(results.read_text())["results"]}


def test_monthly_build_skips_reference_nodes_while_the_project_is_unchanged(published):
    """Reference nodes (seeds and what is built from seeds alone) and unit tests run in a
    monthly build only when the project differs from the one they last ran with."""
    import json

    from chiso.transform.dbt import build
    from chiso.transform.reference_state import STATE_TABLE, project_fingerprint

    env, _, _ = published
    build(env.settings, MONTHS[2])
    built = _built_nodes(env.settings)
    assert not [n for n in built if n.startswith("seed.")]
    assert "model.chiso.fct_indicator_values" in built
    assert "model.chiso.dim_period" not in built
    assert not [n for n in built if n.startswith("unit_test.")]
    # the foreign keys of the month's rows into a skipped dimension are still checked
    fk_test = "test.chiso.relationships_fct_indicator_values_period_id"
    assert [n for n in built if n.startswith(fk_test)]
    # a stale fingerprint (as after an upgrade of the project) brings them back, once
    with psycopg.connect(env.urls.admin) as conn:
        conn.execute(f"update {STATE_TABLE} set fingerprint = 'an older project'")
    build(env.settings, MONTHS[2])
    built = _built_nodes(env.settings)
    assert {"seed.chiso.ref_agencies", "model.chiso.dim_period"} <= built
    assert [n for n in built if n.startswith("unit_test.")]
    with psycopg.connect(env.urls.admin) as conn:
        recorded = conn.execute(f"select fingerprint from {STATE_TABLE}").fetchone()[0]
    assert recorded == project_fingerprint()
    # the tag is safe only on nodes built from seeds alone: every ancestor is a seed or another
    # reference node, never a source
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
        assert all(a.startswith("seed.") or a in reference for a in ancestors(unique_id)), unique_id


def test_not_null_columns_names_the_relation_and_fails_on_a_null(published):
    """The folded not-null test (one query per relation) fails on a null in any listed column."""
    from chiso.transform.dbt import DbtError, run_dbt

    env, _, _ = published
    sql = "insert into audit.ref_holiday_overrides (day, is_day_off) values (null, true)"
    with psycopg.connect(env.urls.transformer) as conn:
        conn.execute(sql)
    try:
        with pytest.raises(DbtError, match="not_null_columns_ref_holiday_overrides"):
            run_dbt(env.settings, "test", "--select", "ref_holiday_overrides")
    finally:
        with psycopg.connect(env.urls.transformer) as conn:
            conn.execute("delete from audit.ref_holiday_overrides where day is null")
    run_dbt(env.settings, "test", "--select", "ref_holiday_overrides")


def test_restated_province_totals_equal_as_reported(published):
    """Restating moves figures between agencies, never in or out of a province's total."""
    env, _, _ = published
    with psycopg.connect(env.urls.transformer) as conn:
        diff = conn.execute(
            "select count(*) from (select period_id, indicator_code,"
            " sum(numerator) filter (where basis = 'as_reported') as reported,"
            " sum(numerator) filter (where basis = 'restated') as restated"
            " from audit.fct_indicator_values group by 1, 2) as totals"
            " where abs(reported - restated) > 0.0001"
        ).fetchone()[0]
    assert diff == 0


def test_rerunning_a_month_is_idempotent(published):
    env, api, _ = published
    s = env.settings
    with psycopg.connect(env.urls.admin) as conn:
        raw_before = conn.execute("select count(*) from raw.one_stop__dossiers").fetchone()[0]
    before = _mart(env.urls.bi_reader)
    pipeline.run_month(s, MONTHS[0], api)
    with psycopg.connect(env.urls.admin) as conn:
        raw_after = conn.execute("select count(*) from raw.one_stop__dossiers").fetchone()[0]
        revisions = conn.execute(
            "select revision from ops.publications where period_month = %s order by revision",
            (MONTHS[0],),
        ).fetchall()
    after = _mart(env.urls.bi_reader)
    assert raw_after == raw_before
    assert {k: v[:3] for k, v in after.items()} == {k: v[:3] for k, v in before.items()}
    # nothing changed: the rerun republishes nothing, the month stays at its first revision
    assert [r[0] for r in revisions] == [1]


def test_report_is_vietnamese_and_uses_published_numbers(published):
    env, _, paths = published
    html = paths[-1].read_text(encoding="utf-8")
    assert "Báo cáo kết quả thực hiện chỉ số chuyển đổi số" in html
    assert "tháng 03/2020" in html
    assert "Tỉnh Hải Dương" in html
    # each province's rate is its own ratio of sums, printed the Vietnamese way:
    # thousands dot, decimal comma (3.007/4.647 = 64,71%)
    with psycopg.connect(env.urls.bi_reader) as conn:
        totals = conn.execute(
            "select province_name, sum(numerator)::bigint, sum(denominator)::bigint"
            " from marts.mart_kpi_monthly where period_month = %s and calendar = 'calendar'"
            " and indicator_code = 'dossier.early_rate' group by 1",
            (MONTHS[-1],),
        ).fetchall()
    assert {name for name, _, _ in totals} >= {"Hải Dương", "Hòa Bình", "Hà Giang", "Hải Phòng"}
    for name, num, den in totals:
        assert f"Tỉnh {name}</h1>" in html
        expected = f"{Decimal(num) / Decimal(den) * 100:.2f}".replace(".", ",") + "%"
        vn = f"{num:,}".replace(",", "."), f"{den:,}".replace(",", ".")
        assert f"{vn[0]}/{vn[1]} = {expected}" in html, name


def test_bi_reader_cannot_read_raw_personal_data(published):
    env, _, _ = published
    with (
        psycopg.connect(env.urls.bi_reader) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("select chu_ho_so from raw.one_stop__dossiers limit 1")
    with psycopg.connect(env.urls.admin) as conn:
        cols = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema in ('staging', 'intermediate', 'audit', 'marts')"
            )
        }
    assert not cols & {"chu_ho_so", "so_dinh_danh", "so_dien_thoai", "email"}


def test_no_personal_data_in_clear_downstream_of_raw(published):
    """Every value of every personal field in raw (all sources) is searched for in every text
    column outside raw; the one join key kept is the keyed hash, with the key held outside."""
    from chiso.privacy.pii_key import keyed_hash, pii_key
    from chiso.sources.canonical import ENTITIES

    env, _, _ = published
    with psycopg.connect(env.urls.admin) as conn:
        personal: set[str] = set()
        for ent in ENTITIES:
            for f in ent.fields:
                if f.pii:
                    personal |= {
                        r[0]
                        for r in conn.execute(
                            f"select distinct btrim({f.name}) from raw.{ent.table}"
                            f" where nullif(btrim({f.name}), '') is not null"
                        )
                    }
        assert len(personal) > 100  # names, IDs, phones, e-mails, officers were generated
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_schema not in ('raw', 'pg_catalog', 'information_schema')"
            " and data_type in ('text', 'character varying')"
        ).fetchall()
        leaks = []
        for schema, table, column in columns:
            hit = conn.execute(
                f'select "{column}" from "{schema}"."{table}" where "{column}" = any(%s) limit 1',
                (list(personal),),
            ).fetchone()
            if hit:
                leaks.append((schema, table, column, hit[0]))
        assert leaks == []
        sample = conn.execute(
            "select so_dinh_danh, applicant_key from raw.one_stop__dossiers r"
            " join staging.stg_one_stop__dossiers s on s.dossier_id = btrim(r.ma_ho_so)"
            " where nullif(btrim(so_dinh_danh), '') is not null limit 20"
        ).fetchall()
        key = pii_key(env.settings)
        assert sample and all(h == keyed_hash(key, v) for v, h in sample)
        # the key is not in the database (not even in a session setting of this connection)
        assert conn.execute("select current_setting('chiso.pii_ikey', true)").fetchone()[0] in (
            None,
            "",
        )


def test_failed_gate_blocks_publication_and_keeps_previous_mart(published):
    env, _, _ = published
    s, month = env.settings, MONTHS[1]
    before = _mart(env.urls.bi_reader, month)
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
    with pytest.raises(pipeline.GateFailed) as err:
        pipeline.validate(s, month)
    assert "value" in str(err.value)
    with pytest.raises(Exception, match="gate failed"):
        from chiso.publish import publish_month

        publish_month(env.urls.transformer, month, dbt_invocation_id=None, gate_success=False)
    assert _mart(env.urls.bi_reader, month) == before
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


def test_bad_source_row_stops_the_run_before_publication(published):
    env, _, _ = published
    s, month = env.settings, MONTHS[2]
    before = _mart(env.urls.bi_reader, month)
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
        with pytest.raises(Exception, match="relationships"):
            pipeline.transform(s)
        assert _mart(env.urls.bi_reader, month) == before
    finally:
        # withdrawn, as a replacing delivery would leave it; the next build drops its row
        with psycopg.connect(env.urls.loader) as conn:
            conn.execute("delete from raw.one_stop__dossiers where _batch_id = %s", (MANUAL_BATCH,))
            conn.execute(
                "update raw.ingest_batches set status = 'replaced' where batch_id = %s",
                (MANUAL_BATCH,),
            )
    pipeline.transform(s)
    with psycopg.connect(env.urls.transformer) as conn:
        staged = conn.execute(
            "select count(*) from staging.stg_one_stop__dossiers where dossier_id = 'BAD-1'"
        ).fetchone()[0]
    assert staged == 0


def test_dbt_docs_generate_describes_the_star_schema(published):
    """`dbt docs generate` works against the warehouse and its catalog has the marts' columns."""
    import json

    from chiso.transform.dbt import run_dbt

    env, _, _ = published
    run_dbt(env.settings, "docs", "generate")
    catalog = json.loads((env.settings.home / "dbt" / "target" / "catalog.json").read_text())
    nodes = {n["metadata"]["name"]: n for n in catalog["nodes"].values()}
    assert {"fct_indicator_values", "mart_kpi_monthly", "dim_period", "dim_agency"} <= set(nodes)
    assert "basis" in nodes["fct_indicator_values"]["columns"]


def test_sqlfluff_with_the_dbt_templater_is_clean(published):
    """`make lint` runs sqlfluff with the jinja templater (no database there); with the
    warehouse up, the dbt templater renders every model as dbt does and must agree."""
    import subprocess
    import sys
    from pathlib import Path

    from chiso.config import DBT_PROJECT_DIR
    from chiso.transform.dbt import dbt_env

    env, _, _ = published
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run(
        [str(sqlfluff), "lint", "models", "--templater", "dbt", "--disable-progress-bar"],
        cwd=DBT_PROJECT_DIR,
        env={**dbt_env(env.settings), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


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


def test_redelivery_without_a_dossier_removes_it_downstream(published):
    """A month delivered again without one of its dossiers: the next monthly build removes the
    dossier from staging, the outcomes and fct_dossiers (the downstream prune checks only the
    months upstream rewrote), and putting it back brings it back."""
    from chiso.transform.dbt import build

    env, _, _ = published
    month = MONTHS[1]
    with psycopg.connect(env.urls.admin) as conn:
        dossier = conn.execute(
            "select dossier_id from audit.fct_dossiers where _extract_month = %s"
            " order by 1 limit 1",
            (month,),
        ).fetchone()[0]
    assert set(_dossier_rows(env.urls.admin, dossier).values()) == {1}
    with psycopg.connect(env.urls.admin) as conn:
        undo = _redeliver_without(conn, RAW_ONE_STOP, "trim(ma_ho_so) = %s", (dossier,))
    try:
        build(env.settings, month)
        assert set(_dossier_rows(env.urls.admin, dossier).values()) == {0}
    finally:
        _put_back(env.urls.admin, undo)
    build(env.settings, month)
    assert set(_dossier_rows(env.urls.admin, dossier).values()) == {1}


def _current_offering(url: str, offering: str) -> tuple | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select snapshot_date, _extract_month from intermediate.int_portal__catalogue_current"
            " where offering_id = %s",
            (offering,),
        ).fetchone()


def test_redelivered_catalogue_without_an_offering_falls_back_to_its_previous_snapshot(
    published,
):
    """The latest catalogue snapshot delivered again without one offering: the incremental
    int_portal__catalogue_current then shows the offering as the previous snapshot listed it
    (what a full refresh ranks as its latest), and putting it back restores the latest."""
    from chiso.transform.dbt import build

    env, _, _ = published
    last, before = MONTHS[-1], MONTHS[-2]
    with psycopg.connect(env.urls.admin) as conn:
        offering = conn.execute(
            "select offering_id from intermediate.int_portal__catalogue_current"
            " where _extract_month = %s and offering_id in (select agency_code || '|' ||"
            " procedure_code from staging.stg_portal__service_catalogue"
            " where _extract_month = %s) order by 1 limit 1",
            (last, before),
        ).fetchone()[0]
    agency, procedure = offering.split("|")
    latest = _current_offering(env.urls.admin, offering)
    assert latest is not None and latest[1] == last
    with psycopg.connect(env.urls.admin) as conn:
        undo = _redeliver_without(
            conn,
            ("portal__service_catalogue",),
            "trim(don_vi) = %s and trim(ma_tthc) = %s and _extract_month = %s",
            (agency, procedure, last),
        )
    try:
        build(env.settings, last)
        fallback = _current_offering(env.urls.admin, offering)
        assert fallback is not None and fallback[1] == before and fallback[0] < latest[0]
    finally:
        _put_back(env.urls.admin, undo)
    build(env.settings, last)
    assert _current_offering(env.urls.admin, offering) == latest
