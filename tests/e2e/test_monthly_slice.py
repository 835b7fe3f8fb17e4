"""End-to-end: simulator → raw (COPY) → dbt → GX gate → publish → report, on a real PostgreSQL.

The published mart is checked against `chiso.reference_kpis`, an independent Python
computation over the same generated dossiers; the failure tests show the gate keeps the
previously published month unchanged.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from chiso import pipeline
from chiso.cli import _api, simulator_start
from chiso.reference_kpis import compute_monthly_kpis
from chiso.simulator.one_stop import SimulatorConfig, generate_dossiers, load_agencies

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


def _mart(url: str, month: date | None = None) -> dict[tuple[str, str, date], tuple]:
    sql = (
        "select agency_code, indicator_code, period_month, numerator, denominator, value,"
        " published_at from marts.mart_kpi_monthly"
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            sql + (" where period_month = %s" if month else ""), (month,) if month else ()
        ).fetchall()
    return {(a, i, m): (n, d, v, p) for a, i, m, n, d, v, p in rows}


def test_mart_matches_independent_python_computation(published):
    env, _, _ = published
    cfg = SimulatorConfig()
    window_end = date(MONTHS[-1].year, MONTHS[-1].month + 1, 1)
    agencies = sorted(
        {
            a.code
            for a in load_agencies(cfg.agencies_csv)
            if a.valid_from < window_end and (a.valid_to is None or a.valid_to >= MONTHS[0])
        }
    )
    expected = compute_monthly_kpis(generate_dossiers(cfg), MONTHS, agencies)
    mart = _mart(env.urls.bi_reader)
    assert len(mart) == len(expected) == len(agencies) * 3 * len(MONTHS)
    for key, (num, den, value) in expected.items():
        got_num, got_den, got_value, _ = mart[key]
        assert (got_num, got_den) == (num, den), key
        if value is None:
            assert got_value is None, key
        else:
            assert abs(got_value - Decimal(str(value))) < Decimal("0.000001"), key


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
    assert [r[0] for r in revisions] == [1, 2]


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
            "select province_name, sum(numerator), sum(denominator) from marts.mart_kpi_monthly"
            " where period_month = %s and indicator_code = 'dossier.early_rate' group by 1",
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
    with psycopg.connect(env.urls.loader) as conn:
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
        with psycopg.connect(env.urls.loader) as conn:
            conn.execute("delete from raw.one_stop__dossiers where _batch_id = %s", (MANUAL_BATCH,))
