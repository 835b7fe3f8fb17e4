"""End-to-end: the Great Expectations gate against a real (embedded) PostgreSQL.

One throwaway server per module; every test starts from the same "good" month and breaks it in
exactly one way, then checks that the gate fails *and* names the expectation that caught it — a
gate that fails for the wrong reason would hide the next real problem.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MONTH = date(2024, 5, 1)
OTHER_MONTH = date(2024, 4, 1)
AGENCIES = {
    "STP": ("Sở Tư pháp", "province"),
    "SYT": ("Sở Y tế", "province"),
    "UBND_BD": ("UBND huyện Ba Đình", "district"),
}
INDICATORS = {
    "ONTIME_RATE": "Tỷ lệ hồ sơ giải quyết đúng hạn",
    "ONLINE_RATE": "Tỷ lệ hồ sơ nộp trực tuyến",
}
EXPECTED_ROWS = len(AGENCIES) * len(INDICATORS)

DDL = """
drop table if exists staging.stg_one_stop__dossiers;
create table staging.stg_one_stop__dossiers (
    dossier_id text,
    procedure_code text,
    procedure_level int,
    agency_code text,
    submitted_at timestamp,
    received_at timestamp,
    due_at timestamp,
    finished_processing_at timestamp,
    returned_at timestamp,
    status_code int,
    channel text,
    received_month date,
    applicant_name text
);
drop table if exists audit.mart_kpi_monthly;
create table audit.mart_kpi_monthly (
    period_month date,
    calendar text,
    agency_key text,
    unit text,
    agency_code text,
    agency_name text,
    tier text,
    indicator_code text,
    indicator_name_vi text,
    numerator bigint,
    denominator bigint,
    value numeric,
    target_value numeric,
    target_met boolean
);
"""

DOSSIER_INSERT = """
insert into staging.stg_one_stop__dossiers values
    (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
KPI_INSERT = """
insert into audit.mart_kpi_monthly values
    (%s, 'calendar', %s || ':v1', 'ratio', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def _dossiers(month: date) -> list[tuple]:
    """Four clean dossiers per agency; one without a deadline and one without a level (allowed)."""
    rows = []
    channels = ("direct", "online", "bcci", "online")
    for a, agency in enumerate(AGENCIES):
        for i in range(4):
            received = datetime(month.year, month.month, 2 + 5 * i, 9, 30) + timedelta(hours=a)
            submitted = received - timedelta(hours=2)
            due = None if i == 3 else received + timedelta(days=10)
            rows.append(
                (
                    f"{agency}-{month:%Y%m}-{i:03d}",
                    f"TTHC-{i}",
                    None if i == 2 else 1 + i,
                    agency,
                    submitted,
                    received,
                    due,
                    received + timedelta(days=3),
                    received + timedelta(days=4),
                    1 + (i * 3) % 10,
                    channels[i],
                    month,
                    "Nguyễn Văn Ánh",
                )
            )
    return rows


def _kpis(month: date) -> list[tuple]:
    """One row per agency x indicator; one denominator of 0 gives a legitimately null value."""
    rows = []
    for agency, (name, tier) in AGENCIES.items():
        for indicator, indicator_name in INDICATORS.items():
            num, den = (3, 4) if indicator == "ONTIME_RATE" else (1, 4)
            if agency == "UBND_BD" and indicator == "ONLINE_RATE":
                num, den = 0, 0
            value = None if den == 0 else round(num / den, 4)
            rows.append(
                (month, agency, agency, name, tier, indicator, indicator_name, num, den, value, 0.8,
                 value is not None and value >= 0.8)
            )  # fmt: skip
    return rows


def _bad_other_month(conn: psycopg.Connection) -> None:
    """A neighbouring month full of every kind of error; the validated month must not see it."""
    rows = _dossiers(OTHER_MONTH)
    rows.append(rows[0])  # duplicate dossier_id
    bad = list(rows[1])
    bad[3], bad[10] = "NOPE", "fax"  # unknown agency, bad channel
    bad[6] = bad[5] - timedelta(days=1)  # due before received
    rows[1] = tuple(bad)
    conn.cursor().executemany(DOSSIER_INSERT, rows)
    kpis = _kpis(OTHER_MONTH)
    kpis[0] = (*kpis[0][:7], 9, 4, 2.25, *kpis[0][10:])  # rate > 1, numerator > denominator
    kpis.pop()  # a missing row
    conn.cursor().executemany(KPI_INSERT, kpis)


@dataclass(frozen=True)
class Warehouse:
    transformer: str


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    """A throwaway embedded server, bootstrapped with the project's schemas and roles.

    CHISO_HOME is a private ``mkdtemp`` rather than ``tmp_path_factory``: under root the server
    runs as the unprivileged ``pgserver`` user, and every pytest session that starts (another
    engineer's, in parallel) chmods ``/tmp/pytest-of-root`` back to 0700, locking that user out
    of its own data directory mid-run.
    """
    home = Path(tempfile.mkdtemp(prefix="chiso-gx-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHISO_HOME", str(home))
        mp.delenv("CHISO_WAREHOUSE_URL", raising=False)  # never touch a real warehouse
        from chiso.config import settings
        from chiso.db.bootstrap import bootstrap
        from chiso.db.embedded import EmbeddedPostgres

        try:
            urls = bootstrap(settings())
            with psycopg.connect(urls.transformer, autocommit=True) as conn:
                conn.execute(DDL)
            yield Warehouse(transformer=urls.transformer)
        finally:
            try:
                EmbeddedPostgres(settings()).destroy()
            finally:
                shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def db(warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    """Reset both tables to a good MONTH plus a bad OTHER_MONTH; yield a connection to break it."""
    with psycopg.connect(warehouse.transformer, autocommit=True) as conn:
        conn.execute("truncate staging.stg_one_stop__dossiers, audit.mart_kpi_monthly")
        conn.cursor().executemany(DOSSIER_INSERT, _dossiers(MONTH))
        conn.cursor().executemany(KPI_INSERT, _kpis(MONTH))
        _bad_other_month(conn)
        yield conn


def _validate(warehouse: Warehouse, month: date = MONTH):
    from chiso.quality import validate_month

    return validate_month(
        warehouse.transformer,
        month,
        valid_agency_codes=sorted(AGENCIES),
        indicator_codes=sorted(INDICATORS),
        expected_rows=EXPECTED_ROWS,
    )


def _failed(result) -> set[tuple[str, str, str | None]]:
    return {(f.suite, f.expectation_type, f.column) for f in result.failures}


def test_good_month_passes_despite_bad_neighbouring_month(
    warehouse: Warehouse, db: psycopg.Connection
) -> None:
    started = time.monotonic()
    result = _validate(warehouse)
    elapsed = time.monotonic() - started
    assert result.success, result.summary()
    assert result.failures == []
    assert result.month == MONTH
    assert result.evaluated == 22  # 11 staging + 8 mart + 3 rate expectations
    assert "PASSED" in result.summary()
    print(f"validate_month (first call, includes GX import): {elapsed:.1f}s")


def test_bad_month_itself_fails_on_every_planted_error(
    warehouse: Warehouse, db: psycopg.Connection
) -> None:
    """Proves the neighbouring month really is bad, i.e. the test above shows the month filter."""
    result = _validate(warehouse, OTHER_MONTH)
    assert not result.success
    assert _failed(result) == {
        ("one_stop_staging", "expect_column_values_to_be_unique", "dossier_id"),
        ("one_stop_staging", "expect_column_values_to_be_in_set", "agency_code"),
        ("one_stop_staging", "expect_column_values_to_be_in_set", "channel"),
        ("one_stop_staging", "expect_column_pair_values_a_to_be_greater_than_b", None),
        ("kpi_monthly", "expect_table_row_count_to_equal", None),
        ("kpi_monthly_rates", "expect_column_values_to_be_between", "value"),
        ("kpi_monthly_rates", "expect_column_pair_values_a_to_be_greater_than_b", None),
    }


BREAKAGES = {
    "rate_above_one": (
        "update audit.mart_kpi_monthly set value = 1.25"
        " where period_month = %(m)s and agency_code = 'STP' and indicator_code = 'ONTIME_RATE'",
        ("kpi_monthly_rates", "expect_column_values_to_be_between", "value"),
    ),
    "numerator_above_denominator": (
        "update audit.mart_kpi_monthly set numerator = denominator + 3"
        " where period_month = %(m)s and agency_code = 'SYT' and indicator_code = 'ONLINE_RATE'",
        ("kpi_monthly_rates", "expect_column_pair_values_a_to_be_greater_than_b", None),
    ),
    "missing_agency_row": (
        "delete from audit.mart_kpi_monthly"
        " where period_month = %(m)s and agency_code = 'SYT' and indicator_code = 'ONTIME_RATE'",
        ("kpi_monthly", "expect_table_row_count_to_equal", None),
    ),
    "unknown_agency_in_mart": (
        "update audit.mart_kpi_monthly set agency_code = 'SXX'"
        " where period_month = %(m)s and agency_code = 'STP' and indicator_code = 'ONLINE_RATE'",
        ("kpi_monthly", "expect_column_values_to_be_in_set", "agency_code"),
    ),
    "unknown_agency_in_staging": (
        "update staging.stg_one_stop__dossiers set agency_code = 'SXX'"
        " where dossier_id = 'STP-202405-001'",
        ("one_stop_staging", "expect_column_values_to_be_in_set", "agency_code"),
    ),
    "duplicate_dossier_id": (
        "insert into staging.stg_one_stop__dossiers"
        " select * from staging.stg_one_stop__dossiers where dossier_id = 'SYT-202405-002'",
        ("one_stop_staging", "expect_column_values_to_be_unique", "dossier_id"),
    ),
    "due_before_received": (
        "update staging.stg_one_stop__dossiers set due_at = received_at - interval '1 day'"
        " where dossier_id = 'UBND_BD-202405-000'",
        ("one_stop_staging", "expect_column_pair_values_a_to_be_greater_than_b", None),
    ),
    "bad_channel": (
        "update staging.stg_one_stop__dossiers set channel = 'fax'"
        " where dossier_id = 'STP-202405-000'",
        ("one_stop_staging", "expect_column_values_to_be_in_set", "channel"),
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_each_class_of_bad_data_fails_the_right_expectation(
    warehouse: Warehouse, db: psycopg.Connection, breakage: str
) -> None:
    statement, expected = BREAKAGES[breakage]
    assert db.execute(statement, {"m": MONTH}).rowcount == 1

    result = _validate(warehouse)

    assert not result.success
    assert _failed(result) == {expected}, result.summary()
    failure = result.failures[0]
    summary = result.summary()
    assert failure.expectation_type in summary
    if expected[1] != "expect_table_row_count_to_equal":
        assert failure.sample_rows, "a row-level failure must come with offending rows"
    else:
        assert failure.observed == EXPECTED_ROWS - 1


def test_empty_month_fails_on_row_counts(warehouse: Warehouse, db: psycopg.Connection) -> None:
    """A month dbt produced nothing for must not pass just because no row breaks a rule."""
    result = _validate(warehouse, date(2023, 1, 1))
    assert _failed(result) == {
        ("one_stop_staging", "expect_table_row_count_to_be_between", None),
        ("kpi_monthly", "expect_table_row_count_to_equal", None),
    }
    assert [f.observed for f in result.failures] == [0, 0]


def test_failure_details_are_actionable(warehouse: Warehouse, db: psycopg.Connection) -> None:
    """Samples hold the offending rows (only of the validated month), and Vietnamese survives."""
    db.execute(
        "update audit.mart_kpi_monthly set value = 1.25"
        " where agency_code = 'STP' and indicator_code = 'ONTIME_RATE'"  # both months
    )
    db.execute(
        "insert into staging.stg_one_stop__dossiers"
        " select * from staging.stg_one_stop__dossiers where dossier_id = 'SYT-202405-002'"
    )
    result = _validate(warehouse)
    by_column = {f.column: f for f in result.failures}

    rate = by_column["value"]
    assert rate.kwargs == {"column": "value", "min_value": 0, "max_value": 1}
    assert [(r["period_month"], r["agency_code"]) for r in rate.sample_rows] == [(MONTH, "STP")]
    assert rate.sample_rows[0]["agency_name"] == "Sở Tư pháp"

    dup = by_column["dossier_id"]
    assert [r["dossier_id"] for r in dup.sample_rows] == ["SYT-202405-002"] * 2
    assert dup.observed["unexpected_count"] == 2

    summary = result.summary()
    assert summary.startswith("Quality gate 2024-05: FAILED (2 of 22")
    assert "Sở Tư pháp" in summary
    assert len(summary.splitlines()) == 1 + len(result.failures)


def test_parameters_are_applied_at_run_time(warehouse: Warehouse, db: psycopg.Connection) -> None:
    """The same files validate a month whose agency list differs: nothing is baked into them."""
    from chiso.quality import validate_month

    result = validate_month(
        warehouse.transformer,
        date(2024, 5, 17),  # any day of the month selects that month
        valid_agency_codes=["STP", "SYT"],
        indicator_codes=sorted(INDICATORS),
        expected_rows=EXPECTED_ROWS,
    )
    assert result.month == MONTH
    failed = {(f.suite, f.column) for f in result.failures}
    assert failed == {("one_stop_staging", "agency_code"), ("kpi_monthly", "agency_code")}
    staging = next(f for f in result.failures if f.suite == "one_stop_staging")
    assert staging.kwargs["value_set"] == ["STP", "SYT"]
    assert {r["agency_code"] for r in staging.sample_rows} == {"UBND_BD"}


def test_unevaluable_expectation_fails_closed(warehouse: Warehouse, db: psycopg.Connection) -> None:
    """A renamed column is not bad data, but it must still block publication, saying why."""
    db.execute("alter table audit.mart_kpi_monthly rename column value to rate")
    try:
        result = _validate(warehouse)
    finally:
        db.execute("alter table audit.mart_kpi_monthly rename column rate to value")
    assert not result.success
    assert _failed(result) == {("kpi_monthly_rates", "expect_column_values_to_be_between", "value")}
    failure = result.failures[0]
    assert "does not exist" in failure.observed["error"]
    assert failure.sample_rows == []
    assert len(result.summary().splitlines()) == 2
    assert "NOT EVALUATED" in result.summary()


def test_suite_gx_cannot_parse_is_refused(
    warehouse: Warehouse, db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX drops an invalid expectation with a log line; the gate must refuse instead."""
    from chiso.quality import GateConfigError, gate

    for name in gate.SUITE_FILES:
        shutil.copy(gate.EXPECTATIONS_DIR / name, tmp_path / name)
    path = tmp_path / "kpi_monthly.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "expect_column_values_to_not_be_null", "expect_column_values_to_be_purple", 1
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(gate, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(GateConfigError, match="accepted 7 of 8"):
        _validate(warehouse)


def test_module_import_stays_cheap() -> None:
    """Airflow imports the gate while parsing DAGs: GX must only load when validating."""
    import subprocess
    import sys

    code = "import sys, chiso.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "False"
