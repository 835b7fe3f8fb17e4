"""End-to-end: what the slice (simulator → raw (COPY) → dbt → GX gate → publish → report)
built, month by month, on a real PostgreSQL (a copy of tests/warehouses.py's template).

Every indicator value the warehouse computes (both calendars, months to years) is checked
against `chiso_sim.oracle`, an independent Python computation over the same generated
records; the published mart against the fact table; the month-by-month build against a full
refresh; the report, the BI role and personal data. Last, April closes in June on the same
server named by CHISO_WAREHOUSE_URL, as an operator's own server. How builds handle change:
test_incremental_builds.py.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.oracle import (
    compute_indicators,
    periods_between,
    qd766_scorecard,
    reports_as_delivered,
)
from chiso_sim.oracle_marts import monthly_rows, rollups

from chiso.core.config import REFERENCE_DIR
from chiso.core.months import add_months
from tests.closes import close, mismatches_with_oracle
from tests.warehouses import TEMPLATE_CLOSES, TEMPLATE_MONTHS, read_mart

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MONTHS = list(TEMPLATE_MONTHS)
APRIL = date(2020, 4, 1)
JUNE = datetime(2020, 6, 6)  # May's close instant: the records as they stand in June


@pytest.fixture(scope="module")
def published(built_env):
    s = built_env.settings
    api = None  # nothing here pulls again (test_incremental_builds.py does)
    paths = [s.reports_dir / f"bao-cao-{m:%Y-%m}.html" for m in MONTHS]
    return built_env, api, paths


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
    # the agencies are the reference file's, valid in the months compared: never the
    # warehouse's own output
    with (REFERENCE_DIR / "ref_agencies.csv").open(encoding="utf-8", newline="") as fh:
        agencies = sorted(
            r["agency_code"]
            for r in csv.DictReader(fh)
            if r["valid_from"] <= f"{MONTHS[-1]:%Y-%m}-31"
            and (not r["valid_to"] or r["valid_to"] >= MONTHS[0].isoformat())
        )
    assert {key[0] for key in got} == set(agencies)
    # the sources as they stood at the last close (the template's clock): every record
    # received by then, in the state it had then
    expected = _oracle(periods, agencies)
    assert {key[1] for key in expected} == computed
    # the 15→14 edges are in the data: dossiers received on the 14th (the official month's
    # last day) and on the 15th (the next one's first) of every month compared
    with psycopg.connect(env.urls.transformer) as conn:
        edge_days = {
            r[0]
            for r in conn.execute(
                "select distinct extract(day from received_date)::int"
                " from intermediate.int_one_stop__dossier_outcomes"
                " where extract(day from received_date) in (14, 15)"
            )
        }
    assert edge_days == {14, 15}
    # the warehouse also holds the periods still running past the data (official 2020-04
    # window ends 14/04, the next one has begun): those, and only those, the reference skips
    assert all(not got[key][3] for key in got.keys() - expected.keys())
    mismatches = []
    for key, (num, den, value) in expected.items():
        g_num, g_den, g_value, _ = got[key]
        same = g_num == num and (g_den is None) == (den is None) and (den is None or g_den == den)
        if not (same and close(g_value, value)):
            mismatches.append((key, (num, den, value), (g_num, g_den, g_value)))
    assert not mismatches, f"{len(mismatches)} of {len(expected)} differ, e.g. {mismatches[:5]}"


def _oracle(periods, agencies):
    """The oracle on the sources as they stood at the last close (the template's clock), with
    the summary reports each close delivered."""
    cfg = SimulatorConfig()
    reports = reports_as_delivered(cfg, zip(MONTHS, TEMPLATE_CLOSES, strict=True))
    return compute_indicators(cfg, periods, agencies, as_of=TEMPLATE_CLOSES[-1], reports=reports)


def test_qd766_scorecard_matches_independent_python_computation(published):
    """Every item of the QĐ 766 index, per agency and per province (pooled), every period of
    both calendars: numerator, denominator and points equal the oracle's scorecard computed
    from its own indicators, the provinces taken from the reference file."""
    env, _, _ = published
    periods = periods_between(MONTHS[0], MONTHS[-1])
    with psycopg.connect(env.urls.transformer) as conn:
        rows = conn.execute(
            "select coalesce(agency_code, unit_key), item_code, calendar, period_key,"
            " numerator, denominator, points from audit.mart_qd766_scorecard"
        ).fetchall()
    with (REFERENCE_DIR / "ref_agencies.csv").open(encoding="utf-8", newline="") as fh:
        provinces = {r["agency_code"]: r["province_code"] for r in csv.DictReader(fh)}
    agencies = sorted({r[0] for r in rows if not r[0].startswith("province:")})
    card = qd766_scorecard(_oracle(periods, agencies), periods, provinces)
    got = {(u, i, c, k): (n, d, pts) for u, i, c, k, n, d, pts in rows}
    assert card and got.keys() >= card.keys(), "units or items missing from the mart"
    bad = []
    for key, (num, den, points) in card.items():
        g_num, g_den, g_points = got[key]
        same = (num is None) == (g_num is None) and (num is None or (g_num, g_den) == (num, den))
        near = (points is None) == (g_points is None) and (
            points is None or abs(float(g_points) - points) < 0.0001
        )
        if not (same and near):
            bad.append((key, (num, den, points), got[key]))
    assert not bad, f"{len(bad)} of {len(card)} differ, e.g. {bad[:5]}"


def test_targets_ranks_and_rollups_match_independent_python_computation(published):
    """What the marts add to the values, against the oracle and the reference files (targets,
    directions, agencies' provinces and tiers): every month row's target_value, target_met,
    rank_in_tier and ranked_in_tier, and every province and tier roll-up's numerator,
    denominator and value, both calendars, months to the year."""
    env, _, _ = published
    periods = periods_between(MONTHS[0], MONTHS[-1])
    with psycopg.connect(env.urls.transformer) as conn:
        kpi = conn.execute(
            "select agency_code, indicator_code, calendar, split_part(period_id, ':', 2),"
            " value, target_value, target_met, rank_in_tier, ranked_in_tier"
            " from audit.mart_kpi_monthly"
        ).fetchall()
        rolled = conn.execute(
            "select rollup_level, province_code, tier, indicator_code, calendar, period_key,"
            " numerator, denominator, value from audit.mart_kpi_rollups"
            " where basis = 'as_reported'"
        ).fetchall()
    agencies = sorted({r[0] for r in kpi})
    expected = _oracle(periods, agencies)
    days = {p.period_key: p.end for p in periods}
    want = monthly_rows(
        expected, {p.period_key: p.end for p in periods if p.period_type == "month"}
    )
    got = {tuple(r[:4]): r[4:] for r in kpi}
    assert want and got.keys() >= want.keys()
    bad = [
        (key, w, got[key])
        for key, w in want.items()
        if (w.value, w.target_value, w.target_met, w.rank_in_tier, w.ranked_in_tier)
        != tuple(got[key])
    ]
    assert not bad, f"{len(bad)} of {len(want)} month rows differ, e.g. {bad[:3]}"
    assert any(w.target_value is not None for w in want.values())
    assert any(w.rank_in_tier is not None and w.rank_in_tier > 1 for w in want.values())
    sums = rollups(expected, days, agencies)
    got_rolled = {tuple(r[:6]): tuple(r[6:]) for r in rolled}
    assert got_rolled.keys() >= sums.keys()
    bad = [(k, v, got_rolled[k]) for k, v in sums.items() if v != got_rolled[k]]
    assert not bad, f"{len(bad)} of {len(sums)} roll-ups differ, e.g. {bad[:3]}"


def test_published_mart_is_the_fact_table_month_by_month(published):
    """marts.mart_kpi_monthly (published) holds, for every month and calendar, exactly the
    as-reported monthly rows of fct_indicator_values."""
    env, _, _ = published
    mart = read_mart(env.urls.bi_reader)
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


def test_each_close_published_what_the_sources_said_then(published):
    """The template closed January, February and March with the simulator's clock at each
    close instant (month end + grace): records kept changing under it (dossiers resolved
    in the next month, resolutions recorded days late and dated back). Every revision a close
    published (its month, and each earlier month it republished because the new records
    changed it) equals the independent computation on the sources as they stood at that
    close; a month republished carries its diff; no published month differs from the
    warehouse now."""
    env, _, _ = published
    with psycopg.connect(env.urls.transformer) as conn:
        republished = conn.execute(
            "select p.changed_rows, (select count(*) from ops.publication_changes c"
            " where c.publication_id = p.publication_id) from ops.publications p"
            " where p.revision > 1"
        ).fetchall()
        drift = conn.execute("select * from marts.kpi_publication_drift").fetchall()
    assert republished, "late records should have changed a closed month"
    assert all(changed > 0 and stored > 0 for changed, stored in republished)
    assert drift == []
    bad = mismatches_with_oracle(env.urls.transformer, MONTHS, TEMPLATE_CLOSES)
    assert not bad, f"{len(bad)} rows differ from the sources at their close, e.g. {bad[:3]}"


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


def _fingerprints(url: str, through: date) -> dict[str, tuple[int, str]]:
    """Each incremental model's rows and their digest; of a model by period, the periods that
    start by `through` (a monthly build computes the periods up to its month's end, or the
    latest published month's; a full refresh also those after, which the data reaches in
    part: the next month's build computes them)."""
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
            started = (
                " where period_id in (select period_id from audit.dim_period"
                " where period_start <= %(through)s)"
                if "period_id" in cols
                else ""
            )
            out[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg({row}, '' order by {row}), ''))"
                f" from {table}{started}",
                {"through": through},
            ).fetchone()
    return out


def test_month_by_month_incremental_equals_full_refresh(published):
    """The months were built one by one, incrementally (each run restaged only its month's
    deliveries and rebuilt the periods overlapping it); a full refresh of everything gives
    the same rows in every incremental model, for every period up to the last month's end."""
    env, _, _ = published
    from chiso.transform.dbt import build

    through = add_months(MONTHS[-1], 1) - timedelta(days=1)
    incremental = _fingerprints(env.urls.admin, through)
    assert all(count > 0 for count, _ in incremental.values())
    build(env.settings, full=True)
    assert _fingerprints(env.urls.admin, through) == incremental


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


def test_the_workbook_holds_the_published_numbers_as_numbers(published, tmp_path):
    """bao-cao-YYYY-MM.xlsx, the overview's workbook (rendered here as the close renders it):
    every agency's value in both calendars is the published one as a number (rates formatted
    0.00%, not text), every province's line is its ratio of sums, the trend sheet has a native
    chart per province and the data-quality sheet names the current revision."""
    import zipfile

    from openpyxl import load_workbook

    from chiso.report.model import CALENDAR_LABELS
    from chiso.report.render import render_month

    env, _, _ = published
    paths = [
        render_month(env.urls.bi_reader, m, tmp_path, ("xlsx",), scoped_files=False).overview
        for m in (MONTHS[0], MONTHS[-1])
    ]
    book = load_workbook(paths[-1].with_suffix(".xlsx"))
    assert book.sheetnames == [
        "Tổng hợp", "Đơn vị", "Xu hướng", "Xếp hạng", "Thay đổi", "Chất lượng dữ liệu"
    ]  # fmt: skip
    with psycopg.connect(env.urls.bi_reader) as conn:
        mart = {
            (a, i, CALENDAR_LABELS[c]): (unit, n, d, v)
            for a, i, c, unit, n, d, v in conn.execute(
                "select agency_code, indicator_code, calendar, unit, numerator, denominator,"
                " value from marts.mart_kpi_monthly where period_month = %s",
                (MONTHS[-1],),
            )
        }
        totals = dict(
            ((p, i), (n, d))
            for p, i, n, d in conn.execute(
                "select province_name, indicator_code, sum(numerator), sum(denominator)"
                " from marts.mart_kpi_monthly where period_month = %s and calendar = 'calendar'"
                " and unit = 'ratio' group by 1, 2",
                (MONTHS[-1],),
            )
        )
        revision = conn.execute(
            "select revision from marts.kpi_publications where period_month = %s and is_current",
            (MONTHS[-1],),
        ).fetchone()[0]
    agencies = book["Đơn vị"]
    seen = {}
    for row in agencies.iter_rows(min_row=2):
        key = (row[2].value, row[4].value, row[6].value)
        seen[key] = (row[7].value, row[8].value, row[9].value)
        unit = mart[key][0]
        assert row[9].value is None or row[9].number_format == {
            "ratio": "0.00%", "count": "#,##0"
        }.get(unit, "0.00"), key  # fmt: skip
    assert seen.keys() == mart.keys()
    for key, (_, n, d, v) in mart.items():
        got = seen[key]
        assert got[0] == n and got[1] == (None if d is None else d), key
        assert (got[2] is None) == (v is None), key
        assert v is None or abs(got[2] - float(v)) < 1e-9, key
    lines = [r for r in book["Tổng hợp"].iter_rows(min_row=2, values_only=True)]
    province_lines = {
        (r[0], r[1]): r
        for r in lines
        if r[3] == "Toàn tỉnh" and r[4] == "tháng dương lịch" and (r[0], r[1]) in totals
    }
    assert province_lines.keys() == totals.keys()
    for key, (n, d) in totals.items():
        line = province_lines[key]
        assert (line[5], line[6]) == (n, d) and abs(line[7] - float(n) / float(d)) < 1e-12, key
    provinces = {p for p, _ in totals}
    with zipfile.ZipFile(paths[-1].with_suffix(".xlsx")) as parts:  # openpyxl reads no charts
        charts = [n for n in parts.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == len(provinces)
    quality = {r[0]: r[1] for r in book["Chất lượng dữ liệu"].iter_rows(values_only=True) if r}
    assert quality["Lần công bố"] == revision
    # January, republished by a later close: its workbook lists the values the revision changed
    january = load_workbook(paths[0].with_suffix(".xlsx"))["Thay đổi"]
    listed = sorted(
        (r[0], r[2], r[3], r[6]) for r in january.iter_rows(min_row=2, values_only=True)
    )
    with psycopg.connect(env.urls.bi_reader) as conn:
        changed = conn.execute(
            "select c.agency_code, c.indicator_name_vi, c.calendar,"
            " case when c.unit = 'count' then c.new_numerator else c.new_value end"
            " from marts.kpi_revision_changes c join marts.kpi_publications p"
            " on p.period_month = c.period_month and p.revision = c.revision and p.is_current"
            " where c.period_month = %s and c.mart = 'mart_kpi_monthly' and p.revision > 1"
            " and (c.old_value is distinct from c.new_value"
            " or c.old_numerator is distinct from c.new_numerator"
            " or c.old_denominator is distinct from c.new_denominator)",
            (MONTHS[0],),
        ).fetchall()
    assert changed, "the template's later closes republish January"
    assert listed == sorted(
        (a, i, CALENDAR_LABELS[c], None if v is None else float(v)) for a, i, c, v in changed
    )


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
    # each province's QĐ 766 index: its published points over its scored items' maximum
    with psycopg.connect(env.urls.bi_reader) as conn:
        cards = conn.execute(
            "select province_name, sum(points), sum(max_points) filter (where points is not null)"
            " from marts.mart_qd766_scorecard where closing_month = %s and scope = 'province'"
            " and calendar = 'calendar' and period_type = 'month' group by 1",
            (MONTHS[-1],),
        ).fetchall()
    assert {name for name, _, _ in cards} == {name for name, _, _ in totals}
    chapters = dict(
        zip(re.findall(r"Tỉnh ([^<]+)</h1>", html), html.split("</h1>")[2:], strict=False)
    )
    for name, points, possible in cards:
        vn_points = f"{points:.2f}".replace(".", ",")
        vn_possible = f"{possible:.2f}".replace(".", ",")
        assert f"<b>{vn_points}</b> điểm trên {vn_possible} điểm" in chapters[name], name
    assert "không có trong dữ liệu nguồn" in html and "không tính là 0 điểm" in html


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
    from chiso.core.pii import canonical_id, keyed_hash, pii_key
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
        # a temporary table, so each column is searched with one hash join, not value by value
        conn.execute("create temporary table personal (value text primary key)")
        with conn.cursor().copy("copy personal (value) from stdin") as copy:
            for value in personal:
                copy.write_row((value,))
        conn.execute("analyze personal")
        leaks = []
        for schema, table, column in columns:
            hit = conn.execute(
                f'select "{column}" from "{schema}"."{table}"'
                f' where "{column}" in (select value from personal) limit 1'
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
        # the ID is hashed in its canonical form (chiso/core/pii.py)
        assert sample and all(h == keyed_hash(key, canonical_id(v)) for v, h in sample)
        # the key is not in the database (not even in a session setting of this connection)
        assert conn.execute("select current_setting('chiso.pii_ikey', true)").fetchone()[0] in (
            None,
            "",
        )


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


STOCKS = ("dossier.in_progress", "dossier.open_overdue", "dossier.paused")


def _stocks(url: str, relation: str, where: str = "") -> dict[tuple[str, str], int]:
    """January's calendar-month stocks per (agency, indicator) in `relation`."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select agency_code, indicator_code, numerator from {relation}"
            " where period_month = %s and calendar = 'calendar' and indicator_code = any(%s)"
            + where,
            (MONTHS[0], list(STOCKS)),
        ).fetchall()
    return {(a, i): int(n) for a, i, n in rows}


def _at_january_end(record) -> tuple[str, tuple[bool, bool, bool], tuple, bool]:
    """A January dossier's agency, its stock memberships at 31 January, what its record says
    about January (its finish, due date and supplements dated in it: the memberships can
    only follow from that), and whether it finished after January."""
    from chiso_sim.oracle import dossier_fact

    end = date(2020, 1, 31)
    f = dossier_fact(record)
    assert f is not None
    open_ = f.open_at(end)
    paused = open_ and f.paused_at(end)  # waiting for a supplement: the clock is stopped
    member = (open_, open_ and not paused and f.due is not None and f.due < end, paused)
    in_january = (
        f.finish if f.finish is not None and f.finish <= end else None,
        f.due if f.due is not None and f.due < end else None,
        tuple((r, s if s is not None and s <= end else None) for r, s in f.supplements if r <= end),
    )
    return f.agency, member, in_january, f.finish is not None and f.finish > end


@pytest.fixture(scope="module")
def april_closed_in_june(published, tmp_path_factory):
    """April closed with the sources as they stand on 6 June (May's close instant), the way an
    operator with a server of their own runs it: CHISO_WAREHOUSE_URL names the warehouse, and
    the home holds no server, only the warehouse's personal-data key (its staged rows are
    hashed with it). Returns the settings, the roles' URLs, the close, and January's stocks as
    revision 1 published them before it. For the module's last tests: it pulls and publishes."""
    import shutil

    from chiso import pipeline
    from chiso.core.config import Settings
    from chiso.runtime import simulator
    from chiso.runtime.warehouse import bootstrap
    from tests.warehouses import free_port

    env = published[0]
    published_then = _stocks(
        env.urls.transformer,
        "marts.mart_kpi_monthly__revisions",
        " and publication_id in (select publication_id from ops.publications where revision = 1)",
    )
    home = tmp_path_factory.mktemp("operator") / "home"
    (home / "secrets").mkdir(parents=True)
    shutil.copy2(env.settings.secrets_dir / "pii.key", home / "secrets" / "pii.key")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHISO_HOME", str(home))
        mp.setenv("CHISO_WAREHOUSE_URL", env.urls.admin)  # a server this process did not start
        mp.delenv("CHISO_SERVER_HOME")
        mp.setenv("CHISO_SIMULATOR_PORT", str(free_port()))
        s = Settings.from_env()
        urls = bootstrap(s)  # checks the control plane only
        simulator.start(s)
        try:
            simulator.set_clock(s, JUNE)
            closed = pipeline.close_month(s, APRIL, simulator.api_settings(s), until=JUNE)
        finally:
            simulator.stop(s)
    return s, urls, closed, published_then


def test_the_slice_runs_against_an_external_server(april_closed_in_june, published):
    """With CHISO_WAREHOUSE_URL set, the same code runs against that server and starts none:
    every role's URL is the operator's, no server home is made, and the month runs through the
    whole slice (pull, build, gate, publication, report)."""
    s, urls, closed, _ = april_closed_in_june
    external = published[0].urls.admin
    assert urls.transformer == urls.loader == urls.bi_reader == external
    assert not (s.home / "pgdata").exists()
    assert closed.report.is_file() and closed.report.is_relative_to(s.home)
    with psycopg.connect(external) as conn:
        n = conn.execute(
            "select count(*) from marts.mart_kpi_monthly where period_month = %s", (APRIL,)
        ).fetchone()[0]
        applied = conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
    assert n > 0
    assert applied >= 5


def test_a_past_months_stocks_stay_as_of_its_end(april_closed_in_june, published):
    """In-progress, overdue and paused counts of a past period are counted from the records'
    dates as of the period's end, so a later resolution does not change them: January's
    stocks published at its close (revision 1) equal January's stocks recomputed in June
    from the refreshed records, but for dossiers whose record changed about January itself
    after the close (a resolution or supplement recorded days late and dated back)."""
    from chiso_sim import one_stop

    _, _, _, published_then = april_closed_in_june
    recomputed = _stocks(published[0].urls.transformer, "audit.mart_kpi_monthly")
    assert published_then.keys() == recomputed.keys() and len(published_then) > 0

    # the records of January as the close read them and as they stand in June
    cfg = SimulatorConfig()
    closed = TEMPLATE_CLOSES[0]
    then = {d.get("MaHoSo"): d for d in one_stop.generate_month(cfg, MONTHS[0], closed)}
    now = {d.get("MaHoSo"): d for d in one_stop.generate_month(cfg, MONTHS[0], JUNE)}
    assert then.keys() == now.keys()
    explained: dict[tuple[str, str], int] = {}
    resolved_later = 0
    for key, record in now.items():
        _, member_then, january_then, _ = _at_january_end(then[key])
        agency, member_now, january_now, finished_after = _at_january_end(record)
        if member_then != member_now:
            # a changed stock membership comes only from a change about January
            assert january_then != january_now, key
            for code, was, is_ in zip(STOCKS, member_then, member_now, strict=True):
                explained[(agency, code)] = explained.get((agency, code), 0) + is_ - was
        resolved_later += member_now[0] and finished_after
    assert resolved_later > 0  # open at January's end, resolved since: still in its stock
    # revision 1 is the oracle at January's close (test_each_close_published_what_the_
    # sources_said_then); June's stocks differ from it by exactly the memberships the
    # records' January changes moved
    assert any(explained.values())  # the simulator records some of January late
    for key, value in published_then.items():
        assert recomputed[key] - value == explained.get(key, 0), key
