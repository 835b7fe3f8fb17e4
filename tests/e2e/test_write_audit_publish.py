"""End-to-end write-audit-publish on a real warehouse built from the simulator.

Two months go through the whole slice (pull → dbt → GX gate → publish). Then each class of
bad data is planted in the real tables of the second month, one at a time: the gate must
stop it and name the expectation that caught it, the published version must stay readable
and unchanged, the failure must be recorded with sample rows, and the alert must reach a
local SMTP server and a local webhook, both configured as Airflow connections. Then the
override, a correction that republishes a closed month as revision 2 with its diff, the
idempotent rerun, and the atomicity of a publication as a reader sees it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest

from chiso import pipeline
from chiso.core.cadence import Cadence
from chiso.publish import drift
from chiso.publish.drift import Drift
from chiso.quality.parameters import gate_parameters
from chiso.quality.results import GateFailed
from chiso.quality.specs import load_parameters, load_suite_specs
from chiso.runtime import simulator
from tests.alert_receivers import Mailbox, Webhook, html_body, subject, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

M1, M2 = date(2020, 1, 1), date(2020, 2, 1)


@dataclass
class World:
    env: object
    mailbox: Mailbox
    webhook: Webhook

    @property
    def settings(self):
        return self.env.settings

    @property
    def urls(self):
        return self.env.urls


@pytest.fixture(scope="module")
def world(built_env) -> Iterator[World]:
    mailbox, webhook = Mailbox(), Webhook()
    mailbox.controller.start()
    conns = {
        "AIRFLOW_CONN_CHISO_ALERT_SMTP": json.dumps(
            mailbox.connection("truc-van-hanh@so-tttt.example.vn")
        ),
        "AIRFLOW_CONN_CHISO_ALERT_WEBHOOK": json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": webhook.port,
                "schema": "http",
                "password": "webhook-test-token",
                "extra": {"endpoint": "/hooks/chiso"},
            }
        ),
    }
    saved = {k: os.environ.get(k) for k in conns}
    os.environ.update(conns)
    try:
        # the module's warehouse is a copy of the one built month by month through the slice
        # (tests/warehouses.py: January to March published); the simulator serves re-pulls
        simulator.start(built_env.settings)
        yield World(built_env, mailbox, webhook)
    finally:
        mailbox.controller.stop()
        webhook.server.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _published(url: str, month: date) -> list[tuple]:
    """What a BI tool reads for the month: every published row, in a stable order."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select calendar, agency_key, indicator_code, numerator, denominator, value,"
            " publication_id from marts.mart_kpi_monthly where period_month = %s"
            " order by 1, 2, 3",
            (month,),
        ).fetchall()


def test_a_declared_break_is_compared_with_nothing(world: World) -> None:
    """February's volume of dossier.received collapses. Declared as a break (a decision
    changed the indicator that month), the volume check leaves it out and passes, its row
    saying why; declared for a province that is not where it collapsed, it is still compared,
    and fails. (The reconciliation fails both times: it compares the mart with the facts, and
    the collapse was planted in the mart alone.)"""
    collapse = next(b for b in BREAKAGES if b.suite == "kpi_monthly_volume")
    [volume] = [s for s in load_suite_specs(layers=("kpi",)) if s.name == "kpi_monthly_volume"]
    declare = (
        "insert into audit.dim_indicator_break values ('dossier.received',"
        " 'Số hồ sơ tiếp nhận', %s, '2020-02-01', 'Thử nghiệm', 'Không')"
    )

    def received(conn: psycopg.Connection) -> dict:
        query = volume.batch_query(M2, load_parameters())
        rows = conn.execute(
            f"select * from ({query}) as v where indicator_code = 'dossier.received'"
        )
        names = [d.name for d in rows.description or ()]
        return dict(zip(names, rows.fetchone(), strict=True))

    def failed_suites(conn: psycopg.Connection) -> set[str]:
        outcome = pipeline.validate(world.settings, M2, raise_on_failure=False)
        [(failures,)] = conn.execute(
            "select failures from ops.gate_results where gate_run_id = %s", (outcome.gate_run_id,)
        ).fetchall()
        return {f["suite"] for f in failures}

    with (
        planted(world.urls.admin, collapse),
        psycopg.connect(world.urls.admin, autocommit=True) as conn,
    ):
        try:
            conn.execute(declare, ("99",))  # a province the warehouse does not hold
            row = received(conn)
            assert row["declared_break"] is False and row["volume_ratio"] < 0.5
            assert "kpi_monthly_volume" in failed_suites(conn)
            conn.execute("delete from audit.dim_indicator_break where province_code = '99'")
            conn.execute(declare, (None,))  # national
            row = received(conn)
            assert row["declared_break"] is True and row["volume_ratio"] is None
            assert "kpi_monthly_volume" not in failed_suites(conn)
        finally:
            conn.execute("delete from audit.dim_indicator_break where break_month = '2020-02-01'")


def _revisions(url: str, month: date) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select revision, gate_success, forced_reason, is_current from marts.kpi_publications"
            " where period_month = %s order by revision",
            (month,),
        ).fetchall()


# -- the classes of bad data -----------------------------------------------------------------


@dataclass(frozen=True)
class Breakage:
    """Plant one kind of bad data in the real tables of M2 (and take it out again)."""

    name: str
    apply: tuple[str, ...]
    revert: tuple[str, ...]
    suite: str
    expectation: str


RAW_ROW = (
    "insert into raw.one_stop__dossiers (ma_ho_so, ma_tthc, don_vi_xu_ly, ngay_tiep_nhan,"
    " trang_thai_ho_so, _batch_id, _extract_month, _row_number)"
    " select {values}, _batch_id, _extract_month, 999999 from raw.one_stop__dossiers"
    " where _extract_month = '{month}' limit 1"
)
DROP_PLANTED = "delete from raw.one_stop__dossiers where _row_number = 999999"
A_DOSSIER = (
    "(select dossier_id from staging.stg_one_stop__dossiers where received_month = '2020-02-01'"
    " order by dossier_id limit 1)"
)
A_RATE_ROW = (
    "(select ctid from audit.mart_kpi_monthly where period_month = '2020-02-01'"
    " and indicator_code = 'dossier.early_rate' and calendar = 'calendar' and denominator > 0"
    " order by agency_code limit 1)"
)

BREAKAGES = [
    Breakage(
        "raw: a date no layout reads",
        (
            RAW_ROW.format(
                values="'BAD-DATE-1', '1.000001', don_vi_xu_ly, '31/02/2020', '2'", month=M2
            ),
        ),
        (DROP_PLANTED,),
        "raw_one_stop__dossiers",
        "unexpected_rows_expectation",
    ),
    Breakage(
        "raw: a required field left empty",
        (RAW_ROW.format(values="'BAD-REQ-1', '', don_vi_xu_ly, ngay_tiep_nhan, '2'", month=M2),),
        (DROP_PLANTED,),
        "raw_one_stop__dossiers",
        "unexpected_rows_expectation",
    ),
    Breakage(
        "raw: a dossier delivered twice in the month",
        (RAW_ROW.format(values="ma_ho_so, ma_tthc, don_vi_xu_ly, ngay_tiep_nhan, '2'", month=M2),),
        (DROP_PLANTED,),
        "raw_one_stop__dossiers",
        "expect_column_values_to_be_unique",
    ),
    Breakage(
        "raw: the landing table's schema changed",
        ("alter table raw.one_stop__dossiers add column ma_bi_mat text",),
        ("alter table raw.one_stop__dossiers drop column ma_bi_mat",),
        "raw_one_stop__dossiers",
        "expect_table_columns_to_match_set",
    ),
    Breakage(
        "staging: a channel outside the documented codes",
        (
            "create table public.saved_channel as select dossier_id, channel"
            f" from staging.stg_one_stop__dossiers where dossier_id = {A_DOSSIER}",
            "update staging.stg_one_stop__dossiers set channel = 'fax'"
            " where dossier_id = (select dossier_id from public.saved_channel)",
        ),
        (
            "update staging.stg_one_stop__dossiers d set channel = s.channel"
            " from public.saved_channel s where d.dossier_id = s.dossier_id",
            "drop table public.saved_channel",
        ),
        "staging_one_stop__dossiers",
        "expect_column_values_to_be_in_set",
    ),
    Breakage(
        "staging: a deadline before receipt",
        (
            "create table public.saved_due as select dossier_id, due_at"
            f" from staging.stg_one_stop__dossiers where dossier_id = {A_DOSSIER}",
            "update staging.stg_one_stop__dossiers set due_at = received_at - interval '3 days'"
            " where dossier_id = (select dossier_id from public.saved_due)",
        ),
        (
            "update staging.stg_one_stop__dossiers d set due_at = s.due_at"
            " from public.saved_due s where d.dossier_id = s.dossier_id",
            "drop table public.saved_due",
        ),
        "staging_one_stop__dossiers",
        "expect_column_pair_values_a_to_be_greater_than_b",
    ),
    Breakage(
        "staging: an agency code that did not exist on the day (a post-2025 code)",
        (
            "create table public.saved_agency as select dossier_id, agency_code"
            f" from staging.stg_one_stop__dossiers where dossier_id = {A_DOSSIER}",
            "update staging.stg_one_stop__dossiers set agency_code = (select agency_code"
            " from audit.dim_agency where valid_from >= '2025-07-01' order by 1 limit 1)"
            " where dossier_id = (select dossier_id from public.saved_agency)",
        ),
        (
            "update staging.stg_one_stop__dossiers d set agency_code = s.agency_code"
            " from public.saved_agency s where d.dossier_id = s.dossier_id",
            "drop table public.saved_agency",
        ),
        "staging_one_stop__dossiers",
        "unexpected_rows_expectation",
    ),
    Breakage(
        "kpi: an agency × indicator missing",
        (
            "create table public.saved_kpi as select * from audit.mart_kpi_monthly"
            f" where ctid = {A_RATE_ROW}",
            "delete from audit.mart_kpi_monthly where (period_month, calendar, agency_key,"
            " indicator_code) in (select period_month, calendar, agency_key, indicator_code"
            " from public.saved_kpi)",
        ),
        (
            "insert into audit.mart_kpi_monthly select * from public.saved_kpi",
            "drop table public.saved_kpi",
        ),
        "kpi_monthly",
        "unexpected_rows_expectation",
    ),
    Breakage(
        "kpi: a rate above 100 %",
        (
            "create table public.saved_kpi as select * from audit.mart_kpi_monthly"
            f" where ctid = {A_RATE_ROW}",
            "update audit.mart_kpi_monthly m set numerator = m.denominator + 5,"
            " value = (m.denominator + 5) / m.denominator from public.saved_kpi s"
            " where (m.period_month, m.calendar, m.agency_key, m.indicator_code)"
            " = (s.period_month, s.calendar, s.agency_key, s.indicator_code)",
        ),
        (
            "update audit.mart_kpi_monthly m set numerator = s.numerator, value = s.value"
            " from public.saved_kpi s where (m.period_month, m.calendar, m.agency_key,"
            " m.indicator_code) = (s.period_month, s.calendar, s.agency_key, s.indicator_code)",
            "drop table public.saved_kpi",
        ),
        "kpi_monthly_rates",
        "expect_column_values_to_be_between",
    ),
    Breakage(
        "kpi: the month's volume collapses against the previous month",
        (
            "create table public.saved_kpi as select * from audit.mart_kpi_monthly"
            " where period_month = '2020-02-01' and indicator_code = 'dossier.received'",
            "update audit.mart_kpi_monthly set numerator = floor(numerator / 10)"
            " where period_month = '2020-02-01' and indicator_code = 'dossier.received'",
        ),
        (
            "update audit.mart_kpi_monthly m set numerator = s.numerator from public.saved_kpi s"
            " where (m.period_month, m.calendar, m.agency_key, m.indicator_code)"
            " = (s.period_month, s.calendar, s.agency_key, s.indicator_code)",
            "drop table public.saved_kpi",
        ),
        "kpi_monthly_volume",
        "expect_column_values_to_be_between",
    ),
    Breakage(
        "kpi: the mart's counts no longer add up to the dossiers",
        (
            "create table public.saved_fact as select * from audit.fct_dossiers"
            " where received_date >= '2020-02-01' and received_date < '2020-03-01'"
            " order by dossier_id limit 1",
            "delete from audit.fct_dossiers where dossier_id = (select dossier_id"
            " from public.saved_fact)",
        ),
        (
            "insert into audit.fct_dossiers select * from public.saved_fact",
            "drop table public.saved_fact",
        ),
        "kpi_monthly_reconciliation",
        "unexpected_rows_expectation",
    ),
    Breakage(
        "kpi: a dossier counted for an agency version not valid on the day it was received",
        (
            "create table public.saved_fact as select dossier_id, agency_key from"
            " audit.fct_dossiers where received_date >= '2020-02-01'"
            " and received_date < '2020-03-01' order by dossier_id limit 1",
            "update audit.fct_dossiers set agency_key = (select agency_key from audit.dim_agency"
            " where valid_from >= '2025-07-01' order by 1 limit 1)"
            " where dossier_id = (select dossier_id from public.saved_fact)",
        ),
        (
            "update audit.fct_dossiers f set agency_key = s.agency_key from public.saved_fact s"
            " where f.dossier_id = s.dossier_id",
            "drop table public.saved_fact",
        ),
        "kpi_monthly_reconciliation",
        "unexpected_rows_expectation",
    ),
]


@contextlib.contextmanager
def planted(url: str, breakage: Breakage) -> Iterator[None]:
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in breakage.apply:
            conn.execute(stmt)
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for stmt in breakage.revert:
                conn.execute(stmt)


def test_the_built_months_pass_the_gate_and_are_published(world: World) -> None:
    for month in (M1, M2):
        # a later close may have republished a month its late records changed
        revisions = _revisions(world.urls.bi_reader, month)
        assert [r[0] for r in revisions] == list(range(1, len(revisions) + 1))
        assert all(passed and forced is None for _, passed, forced, _ in revisions)
        assert [current for *_, current in revisions] == [False] * (len(revisions) - 1) + [True]
        assert _published(world.urls.bi_reader, month)
    assert (world.settings.data_docs_dir / f"{M2:%Y-%m}" / "index.html").exists()


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_each_class_of_bad_data_is_stopped_and_alerted(world: World, breakage: Breakage) -> None:
    before = _published(world.urls.bi_reader, M2)
    revisions = _revisions(world.urls.bi_reader, M2)
    mails, hooks = len(world.mailbox.messages), len(world.webhook.received)
    with planted(world.urls.admin, breakage):
        with pytest.raises(GateFailed) as failed:
            pipeline.validate(world.settings, M2)
        outcome = failed.value.outcome
        with pytest.raises(Exception, match="gate failed"):
            pipeline.publish(world.settings, M2, None, outcome.gate_run_id)
        # the published version stays, readable and unchanged, while the audit area is bad
        assert _published(world.urls.bi_reader, M2) == before
    assert _revisions(world.urls.bi_reader, M2) == revisions

    with psycopg.connect(world.urls.admin) as conn:
        success, failures, alerts = conn.execute(
            "select success, failures, alerts from ops.gate_results where gate_run_id = %s",
            (outcome.gate_run_id,),
        ).fetchone()
    assert success is False
    wanted = (breakage.suite, breakage.expectation)
    caught = [f for f in failures if (f["suite"], f["expectation"]) == wanted]
    found = [(f["suite"], f["expectation"]) for f in failures]
    assert caught, f"{breakage.name}: caught by {found}"
    # a data finding, not an expectation GX could not evaluate
    assert not any(isinstance(f["observed"], dict) and "error" in f["observed"] for f in caught)
    if breakage.expectation != "expect_table_columns_to_match_set":
        assert any(f["sample_rows"] for f in caught), "the failure shows offending rows"
    assert sorted(alerts["sent"]) == ["chiso_alert_smtp", "chiso_alert_webhook"]

    assert wait_for(lambda: len(world.mailbox.messages) > mails)
    recipients, message = world.mailbox.messages[-1]
    assert recipients == ["truc-van-hanh@so-tttt.example.vn"]
    title = subject(message)
    assert "Tháng 02/2020" in title and "KHÔNG công bố" in title
    body = html_body(message)
    assert breakage.suite in body and outcome.gate_run_id in body

    assert wait_for(lambda: len(world.webhook.received) > hooks)
    path, headers, payload = world.webhook.received[-1]
    assert path == "/hooks/chiso"
    assert headers["Authorization"] == "Bearer webhook-test-token"
    assert payload["month"] == "2020-02" and payload["gate_run_id"] == outcome.gate_run_id
    assert (breakage.suite, breakage.expectation) in {
        (f["suite"], f["expectation"]) for f in payload["failures"]
    }


def test_bad_data_in_another_month_does_not_fail_this_one(world: World) -> None:
    """Each suite reads the validated month only: January's bad rows leave February's verdict."""
    january = [
        Breakage(
            "raw January",
            (
                RAW_ROW.format(
                    values="'BAD-DATE-2', '1.000001', don_vi_xu_ly, '31/02/2020', '2'", month=M1
                ),
            ),
            (DROP_PLANTED,),
            "",
            "",
        ),
        Breakage(
            "kpi January",
            (
                "update audit.mart_kpi_monthly set value = value + 5 where period_month ="
                " '2020-01-01' and unit = 'ratio' and value is not null",
            ),
            (
                "update audit.mart_kpi_monthly set value = value - 5 where period_month ="
                " '2020-01-01' and unit = 'ratio' and value is not null",
            ),
            "",
            "",
        ),
    ]
    with planted(world.urls.admin, january[0]), planted(world.urls.admin, january[1]):
        assert pipeline.validate(world.settings, M2).success
        assert not pipeline.validate(world.settings, M1, raise_on_failure=False).success


def test_an_expectation_that_cannot_be_evaluated_fails_closed(world: World, tmp_path) -> None:
    """A column the suite expects but the table lacks is not bad data, yet it must block
    publication, saying why, rather than pass unchecked."""
    import shutil

    from chiso.core.config import EXPECTATIONS_DIR
    from chiso.quality.gate import validate_month

    directory = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS_DIR, directory)
    path = directory / "staging" / "one_stop__dossiers.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["expectations"].append(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "renamed_column"}}
    )
    path.write_text(json.dumps(doc), encoding="utf-8")
    url = world.urls.transformer
    agencies, indicators, rows = gate_parameters(url, M2)
    result = validate_month(
        url,
        M2,
        valid_agency_codes=agencies,
        indicator_codes=indicators,
        expected_rows=rows,
        expectations_dir=directory,
    )
    assert not result.success
    (failure,) = result.failures
    assert failure.column == "renamed_column" and "error" in failure.observed
    assert "NOT EVALUATED" in result.summary()


def _recorded_failures(world: World, breakage: Breakage) -> list[dict]:
    """Validate February with `breakage` planted: the failures ops.gate_results keeps."""
    with planted(world.urls.admin, breakage):
        outcome = pipeline.validate(world.settings, M2, raise_on_failure=False)
    with psycopg.connect(world.urls.admin) as conn:
        return conn.execute(
            "select failures from ops.gate_results where gate_run_id = %s", (outcome.gate_run_id,)
        ).fetchone()[0]


def test_raw_failures_name_the_delivery_row_and_field_but_no_personal_data(world: World) -> None:
    breakage = BREAKAGES[0]
    failures = _recorded_failures(world, breakage)
    (typed,) = [f for f in failures if "parse" in (f["description"] or "")]
    (row,) = typed["sample_rows"]
    assert row["row_number"] == 999999 and row["field"] == "ngay_tiep_nhan"
    assert row["value"] == "31/02/2020" and row["delivery"]
    assert set(row) == {"delivery", "row_number", "field", "value"}


def test_staging_samples_keep_person_keys_and_free_text_out(world: World) -> None:
    """The custom SQL checks select `staged.*`: their samples are cut to the suite's
    sample_columns, so the hashed applicant key never reaches ops.gate_results."""
    breakage = next(b for b in BREAKAGES if "did not exist on the day" in b.name)
    failures = _recorded_failures(world, breakage)
    (caught,) = [
        f
        for f in failures
        if f["suite"] == "staging_one_stop__dossiers"
        and f["expectation"] == "unexpected_rows_expectation"
    ]
    (row,) = caught["sample_rows"]
    assert row["dossier_id"] and row["agency_code"] and row["received_date"]
    assert not {"applicant_key", "applicant_type", "agency_name_reported"} & set(row)


def test_forced_publication_needs_a_reason_and_is_recorded(world: World, capsys) -> None:
    from chiso.cli import main

    breakage = next(b for b in BREAKAGES if b.suite == "kpi_monthly_rates")
    reason = "Sở Nội vụ xác nhận số liệu; lỗi hiển thị của hệ thống một cửa"
    before = _revisions(world.urls.bi_reader, M2)
    # a month nothing was published for has no report: one line says why
    capsys.readouterr()
    assert main(["report", "--month", "2031-01"]) == 1
    assert capsys.readouterr().err == (
        "error: nothing is published for 2031-01 in marts.mart_kpi_monthly:"
        " publish the month first (`chiso publish --month YYYY-MM`)\n"
    )
    with planted(world.urls.admin, breakage):
        assert main(["publish", "--month", "2020-02"]) == 1
        assert main(["publish", "--month", "2020-02", "--force"]) == 2
        assert main(["publish", "--month", "2020-02", "--reason", reason]) == 2
        assert _revisions(world.urls.bi_reader, M2) == before
        assert main(["publish", "--month", "2020-02", "--force", "--reason", reason]) == 0
    forced = _revisions(world.urls.bi_reader, M2)
    assert forced[-1] == (before[-1][0] + 1, False, reason, True)
    with psycopg.connect(world.urls.bi_reader) as conn:
        recorded = conn.execute(
            "select dbt_invocation_id from marts.kpi_publications where period_month = %s"
            " and is_current",
            (M2,),
        ).fetchone()[0]
    with psycopg.connect(world.urls.admin) as conn:
        built = conn.execute(
            "select invocation_id from ops.dbt_builds order by finished_at desc limit 1"
        ).fetchone()[0]
    assert recorded == built, "a publication from the CLI names the dbt build it publishes"
    report = (world.settings.reports_dir / "bao-cao-2020-02.html").read_text(encoding="utf-8")
    assert reason in report and "KHÔNG đạt" in report
    # the data is good again: publishing records a revision that passed the gate
    assert main(["publish", "--month", "2020-02"]) == 0
    assert _revisions(world.urls.bi_reader, M2)[-1] == (before[-1][0] + 2, True, None, True)


def test_correcting_a_closed_month_publishes_revision_n_plus_1_with_its_diff(
    world: World,
) -> None:
    """A dossier of January is withdrawn by a corrected delivery: republishing January creates
    the next revision, stores what changed (old → new), shows it in the report, keeps the
    earlier revision in the history, and a rerun without changes creates nothing."""
    s, urls = world.settings, world.urls
    with psycopg.connect(urls.admin) as conn:
        agency, dossier = conn.execute(
            "select agency_code, dossier_id from audit.fct_dossiers"
            " where received_date >= %s and received_date < %s order by 2 limit 1",
            (M1, M2),
        ).fetchone()
        received_before = conn.execute(
            "select numerator from marts.mart_kpi_monthly where period_month = %s and"
            " calendar = 'calendar' and agency_code = %s and indicator_code = 'dossier.received'",
            (M1, agency),
        ).fetchone()[0]
        # the corrected deliveries: a new batch in the ledger for each table holding the
        # dossier (its events and supplements go with it), without the dossier
        for table in ("one_stop__dossiers", "one_stop__supplements", "one_stop__progress_events"):
            batches = conn.execute(
                f"select distinct _batch_id from raw.{table} where trim(ma_ho_so) = %s",
                (dossier,),
            ).fetchall()
            for (old,) in batches:
                new = uuid.uuid4()
                conn.execute(
                    "insert into raw.ingest_batches (batch_id, source, target_table,"
                    " extract_month, origin, status, row_count, finished_at) select %s, source,"
                    " target_table, extract_month, 'bản sửa (test)', 'loaded', row_count, now()"
                    " from raw.ingest_batches where batch_id = %s",
                    (new, old),
                )
                conn.execute(
                    "update raw.ingest_batches set status = 'replaced' where batch_id = %s",
                    (old,),
                )
                conn.execute(
                    f"update raw.{table} set _batch_id = %s where _batch_id = %s", (new, old)
                )
            conn.execute(f"delete from raw.{table} where trim(ma_ho_so) = %s", (dossier,))
    revision = _revisions(urls.bi_reader, M1)[-1][0]
    invocation = pipeline.transform(s, M1)
    gate = pipeline.validate(s, M1, dbt_invocation_id=invocation)
    pub = pipeline.publish(s, M1, invocation, gate.gate_run_id)
    assert pub.created and pub.revision == revision + 1 and pub.changed_rows

    with psycopg.connect(urls.bi_reader) as conn:
        received_after = conn.execute(
            "select numerator from marts.mart_kpi_monthly where period_month = %s and"
            " calendar = 'calendar' and agency_code = %s and indicator_code = 'dossier.received'",
            (M1, agency),
        ).fetchone()[0]
        change = conn.execute(
            "select old_numerator, new_numerator, change from marts.kpi_revision_changes"
            " where period_month = %s and revision = %s and mart = 'mart_kpi_monthly'"
            " and calendar = 'calendar' and agency_code = %s"
            " and indicator_code = 'dossier.received'",
            (M1, pub.revision, agency),
        ).fetchone()
        history = conn.execute(
            "select revision, numerator from marts.mart_kpi_monthly__revisions"
            " where period_month = %s and calendar = 'calendar' and agency_code = %s"
            " and indicator_code = 'dossier.received' order by revision",
            (M1, agency),
        ).fetchall()
    assert received_after == received_before - 1
    assert change == (received_before, received_after, "changed")
    assert history[-2:] == [(revision, received_before), (pub.revision, received_after)]
    report = pipeline.report(s, M1).read_text(encoding="utf-8")
    assert f"Điều chỉnh so với lần công bố thứ {revision}" in report

    # rerun: nothing changed, so no new revision
    again = pipeline.publish(
        s, M1, invocation, pipeline.validate(s, M1, dbt_invocation_id=invocation).gate_run_id
    )
    assert not again.created and again.revision == pub.revision


def test_a_validation_vouches_only_for_the_rows_it_read(world: World) -> None:
    """A passed gate cannot publish rows rebuilt after it (a replayed publish task, a
    concurrent `chiso transform`), nor another month; the publication names the dbt build."""
    from chiso.publish.revisions import PublishError

    s, urls = world.settings, world.urls
    # January's correction (an earlier test) changed February's previous-month columns in
    # audit: publish February as it stands first
    pipeline.publish(s, M2, None, pipeline.validate(s, M2).gate_run_id)
    revisions = _revisions(urls.bi_reader, M2)
    before = _published(urls.bi_reader, M2)
    gate = pipeline.validate(s, M2)
    assert gate.success and gate.dbt_invocation_id, "the gate names the build it validated"
    with pytest.raises(ValueError, match="is of 2020-02, not 2020-01"):
        pipeline.publish(s, M1, None, gate.gate_run_id)
    touch = (
        "update audit.mart_kpi_monthly set _built_at = _built_at {} interval '1 second'"
        " where period_month = %s"
    )
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(touch.format("+"), (M2,))
    try:
        with pytest.raises(PublishError, match="changed since validation"):
            pipeline.publish(s, M2, None, gate.gate_run_id)
        assert _published(urls.bi_reader, M2) == before
        assert _revisions(urls.bi_reader, M2) == revisions
    finally:
        with psycopg.connect(urls.admin, autocommit=True) as conn:
            conn.execute(touch.format("-"), (M2,))
    # the rows are the validated ones again: the same gate publishes (nothing changed)
    again = pipeline.publish(s, M2, None, gate.gate_run_id)
    assert not again.created and _revisions(urls.bi_reader, M2) == revisions


def test_two_publishers_of_one_month_at_once_are_serialised(world: World) -> None:
    """Two operators (or a retried task and an operator) publish one month at the same moment.
    With nothing changed, neither makes a revision; two forced publications make exactly two,
    one after the other, each whole, the last one current."""
    from concurrent.futures import ThreadPoolExecutor

    from chiso.publish.revisions import publish_month

    s, urls = world.settings, world.urls
    gate = pipeline.validate(s, M2)
    rows = len(_published(urls.bi_reader, M2))
    before = _revisions(urls.bi_reader, M2)

    def publish(reason: str | None):
        return publish_month(
            urls.transformer,
            M2,
            dbt_invocation_id=None,
            gate_success=True,
            gate_run_id=gate.gate_run_id,
            forced_reason=reason,
            validated_fingerprint=gate.audit_fingerprint,
        )

    with ThreadPoolExecutor(2) as pool:
        same = list(pool.map(publish, [None, None]))
    assert not any(p.created for p in same) and _revisions(urls.bi_reader, M2) == before
    with ThreadPoolExecutor(2) as pool:
        forced = list(pool.map(publish, ["kiểm thử đồng thời 1", "kiểm thử đồng thời 2"]))
    top = before[-1][0]
    assert sorted(p.revision for p in forced) == [top + 1, top + 2]
    after = _revisions(urls.bi_reader, M2)
    assert [r[0] for r in after] == [*(r[0] for r in before), top + 1, top + 2]
    assert [r[3] for r in after].count(True) == 1 and after[-1][3]
    with psycopg.connect(urls.bi_reader) as conn:
        per_revision = conn.execute(
            "select p.revision, count(*) from marts.mart_kpi_monthly__revisions r"
            " join marts.kpi_publications p using (publication_id)"
            " where p.period_month = %s and p.revision > %s group by 1 order by 1",
            (M2, top),
        ).fetchall()
    assert per_revision == [(top + 1, rows), (top + 2, rows)]  # each whole


def test_readers_never_see_half_a_publication(world: World) -> None:
    """While revisions of a month are published one after another, every read of the view
    (BI's query) sees exactly one complete revision."""
    from chiso.publish.revisions import publish_month

    s, urls = world.settings, world.urls
    expected_rows = len(_published(urls.bi_reader, M2))
    stop = threading.Event()
    seen: list[tuple] = []

    def read() -> None:
        with psycopg.connect(urls.bi_reader, autocommit=True) as conn:
            while not stop.is_set():
                seen.append(
                    conn.execute(
                        "select count(*), count(distinct publication_id)"
                        " from marts.mart_kpi_monthly where period_month = %s",
                        (M2,),
                    ).fetchone()
                )

    reader = threading.Thread(target=read)
    reader.start()
    try:
        gate = pipeline.validate(s, M2)
        for i in range(3):
            # a forced republication makes a new revision each time, with the same rows
            publish_month(
                urls.transformer,
                M2,
                dbt_invocation_id=None,
                gate_success=True,
                gate_run_id=gate.gate_run_id,
                forced_reason=f"kiểm thử đọc đồng thời {i}",
                validated_fingerprint=gate.audit_fingerprint,
            )
    finally:
        stop.set()
        reader.join()
    assert len(seen) > 10
    assert set(seen) == {(expected_rows, 1)}


def test_a_single_table_layout_migrates_to_revisions(world: World) -> None:
    """A warehouse published before revisions held marts.mart_kpi_monthly as one table: the
    next publication turns it into the history table behind a view, rows and revision kept."""
    from chiso.publish.history import ensure_published_schema

    urls = world.urls
    before = _published(urls.bi_reader, M1)
    with psycopg.connect(urls.transformer) as conn:
        for mart in ("mart_kpi_monthly", "mart_kpi_rollups"):
            conn.execute(f"create table marts.{mart}__old as select * from marts.{mart}")
            conn.execute(f"alter table marts.{mart}__old drop column revision")
            conn.execute(f"drop view marts.{mart} cascade")
            conn.execute(f"drop table marts.{mart}__revisions")
            conn.execute(f"alter table marts.{mart}__old rename to {mart}")
        conn.commit()
    with psycopg.connect(urls.admin) as conn:  # the roles may not delete what was published
        conn.execute("delete from ops.publication_heads")
    with psycopg.connect(urls.transformer) as conn:
        ensure_published_schema(conn)
        conn.commit()
        kinds = dict(
            conn.execute(
                "select relname, relkind from pg_class where relnamespace = 'marts'::regnamespace"
                " and relname like 'mart_kpi_%'"
            ).fetchall()
        )
    assert kinds["mart_kpi_monthly"] == "v" and kinds["mart_kpi_monthly__revisions"] == "r"
    assert _published(urls.bi_reader, M1) == before


def test_docs_site_links_each_months_latest_data_docs(world: World) -> None:
    """`chiso docs` assembles the static site: rendered docs, dbt docs, and for each month the
    GX Data Docs of its latest validation with the verdict, the current revision and the report."""
    from chiso.report.site import build

    index = build(world.settings)
    site = index.parent
    page = index.read_text(encoding="utf-8")
    for month in (M1, M2):
        assert f'href="data-docs/{month:%Y-%m}/index.html"' in page
        data_docs = (site / "data-docs" / f"{month:%Y-%m}" / "index.html").read_text()
        assert "kpi_monthly_volume" in data_docs or "validations" in data_docs
    assert (site / "dbt" / "index.html").exists() and (site / "dbt" / "catalog.json").exists()
    architecture = (site / "docs" / "architecture.html").read_text(encoding="utf-8")
    assert "Write-audit-publish" in architecture
    assert 'href="indicator-rules.html"' in architecture


def test_a_month_changed_outside_the_republication_window_is_reported_not_published(world):
    """Late records changed January after it was published, and March's close republishes
    only from February on (CHISO_REPUBLISH_MONTHS=1): January keeps its revision, the
    difference is recorded for operators (marts.kpi_publication_drift) and March's report
    lists it in its data-quality section. Once January matches again, the record clears.
    (Each change is written as a rebuild writes it, with a new `_built_at`.)"""
    url, bi = world.urls.transformer, world.urls.bi_reader
    m3 = date(2020, 3, 1)
    plant = (
        "update audit.mart_kpi_monthly set numerator = numerator + %s,"
        " _built_at = clock_timestamp() where period_month = %s"
        " and (agency_code, indicator_code, calendar) = (select agency_code, indicator_code,"
        " calendar from audit.mart_kpi_monthly where period_month = %s and numerator > 0"
        " order by 1, 2, 3 limit 1)"
    )
    before = _revisions(bi, M1)
    with psycopg.connect(url) as conn:
        assert conn.execute(plant, (1, M1, M1)).rowcount == 1
    try:
        republished, drift = pipeline.republish_changed(
            world.settings, m3, Cadence(republish_months=1)
        )
        assert republished == []
        assert [(d.period_month, d.pending_rows, d.in_window) for d in drift] == [(M1, 1, False)]
        assert _revisions(bi, M1) == before
        with psycopg.connect(bi) as conn:  # what BI tools and operators read
            assert conn.execute(
                "select period_month, pending_rows from marts.kpi_publication_drift"
            ).fetchall() == [(M1, 1)]
        html = pipeline.report(world.settings, m3).read_text(encoding="utf-8")
        assert "Chất lượng dữ liệu" in html
        assert "Tháng 01/2020" in html and "ngoài thời hạn công bố lại" in html
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(plant.replace("numerator > 0", "numerator > 1"), (-1, M1, M1))
    assert pipeline.republish_changed(world.settings, m3, Cadence(republish_months=1)) == ([], [])
    with psycopg.connect(bi) as conn:
        assert conn.execute("select count(*) from marts.kpi_publication_drift").fetchone()[0] == 0


def test_a_month_unchanged_since_its_last_check_is_not_compared_again(world: World) -> None:
    """A close compares a published month's rows with its revision only when its stamp (its
    publication, each mart's row count and latest `_built_at`) moved since the last check: the
    second check of unchanged months compares none and keeps their outcome. A row rebuilt
    (a later `_built_at`) makes its month compared again; a hand edit that keeps the stamp is
    not seen until the runbook's reset of the stamps."""
    url = world.urls.transformer
    months = [M1, M2]
    nudge = (
        "update audit.mart_kpi_monthly set numerator = numerator + %s{built} where ctid ="
        " (select ctid from audit.mart_kpi_monthly where period_month = %s and numerator > 1"
        " order by agency_key, indicator_code, calendar limit 1)"
    )

    def checked() -> dict[date, tuple[int, bool]]:
        found = drift.check(url, months)
        drift.record(
            url, [Drift(m, c.pending_rows, True, stamp=c.stamp) for m, c in found.items()], M2
        )
        return {m: (c.pending_rows, c.compared) for m, c in found.items()}

    with psycopg.connect(url) as conn:  # whatever earlier tests recorded
        conn.execute("update ops.publication_drift set audit_stamp = null")
    assert checked() == {M1: (0, True), M2: (0, True)}
    assert checked() == {M1: (0, False), M2: (0, False)}
    with psycopg.connect(url) as conn:
        assert conn.execute(nudge.format(built=""), (1, M1)).rowcount == 1
    try:
        assert checked() == {M1: (0, False), M2: (0, False)}  # the stamp is what is trusted
        with psycopg.connect(url) as conn:  # the runbook's reset after a hand edit
            conn.execute("update ops.publication_drift set audit_stamp = null")
        assert checked() == {M1: (1, True), M2: (0, True)}
        assert checked() == {M1: (1, False), M2: (0, False)}  # a recorded drift stands too
    finally:
        with psycopg.connect(url) as conn:  # undone as a rebuild would write it
            built = ", _built_at = clock_timestamp()"
            conn.execute(
                nudge.replace("numerator > 1", "numerator > 2").format(built=built), (-1, M1)
            )
    assert checked() == {M1: (0, True), M2: (0, False)}


def _summary_report(path, province: str, month: date, agency: str, counts: dict[str, int]):
    """A province's summary report ('TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ') as a vendor prints
    it: a title naming the province and month, a two-row header, no numbering row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append([f"UBND TỈNH {province.upper()}"])
    ws.append([f"TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ SƠ – Tháng {month.month} Năm {month.year}"])
    ws.append(["STT", "Đơn vị", "Tiếp nhận trong kỳ", "Đã giải quyết", None, None, None])
    ws.append([None, None, None, "Tổng số", "Sớm hạn", "Đúng hạn", "Trễ hạn"])
    ws.append(["I. Sở, ban, ngành"])
    values = [counts[k] for k in ("received", "resolved", "early", "on_time", "late")]
    ws.append([1, agency, *values])
    ws.append(["Tổng số", None, *values])
    wb.save(path)
    return path


def test_a_summary_report_that_does_not_add_up_is_a_warning_in_the_gate_and_the_report(
    world: World, tmp_path
) -> None:
    """A Hòa Bình-style sheet (12,338 resolved printed for 8,332 + 3,899 + 109 = 12,340) and a
    received count that differs from the dossiers: the month still passes its gate, the
    validation keeps both as warnings with both numbers, and the published report's
    data-quality section shows them; withdrawing the sheet takes them out again."""
    from chiso.ingest.files import ingest_file

    s, urls = world.settings, world.urls
    with psycopg.connect(urls.admin) as conn:
        name, agency, code, province, received = conn.execute(
            "select agency_name, agency_code, province_code, province_name, numerator::int"
            " from audit.mart_kpi_monthly where period_month = %s and calendar = 'calendar'"
            " and indicator_code = 'dossier.received' and tier = 'province_dept'"
            " order by agency_code limit 1",
            (M2,),
        ).fetchone()
    counts = {"received": received + 3, "resolved": 12338, "early": 8332, "on_time": 3899,
              "late": 109}  # fmt: skip
    # the reporting unit (the province) is named by the file, as the runbook says
    path = tmp_path / f"tong-hop_{code}_{M2:%Y-%m}.xlsx"
    sheet = _summary_report(path, province, M2, name, counts)
    loaded = ingest_file(urls.loader, "one_stop", sheet)
    assert loaded.entity == "one_stop.aggregate_reports"
    try:
        invocation = pipeline.transform(s, M2)
        gate = pipeline.validate(s, M2, dbt_invocation_id=invocation)
        assert gate.success
        with psycopg.connect(urls.admin) as conn:
            (warnings,) = conn.execute(
                "select warnings from ops.gate_results where gate_run_id = %s", (gate.gate_run_id,)
            ).fetchone()
        assert [w["suite"] for w in warnings] == ["kpi_aggregate_reports"]
        found = {  # numbers are stored as JSON text
            (r["check_kind"], r["check_label"], int(r["printed_value"]), int(r["expected_value"]))
            for r in warnings[0]["sample_rows"]
            if r["printed_value"] is not None
        }
        assert ("identity", "Đã giải quyết = Sớm hạn + Đúng hạn + Trễ hạn", 12338, 12340) in found
        pipeline.publish(s, M2, invocation, gate.gate_run_id)
        with psycopg.connect(urls.bi_reader) as conn:
            published = conn.execute(
                "select printed_value, expected_value from marts.mart_aggregate_report_checks"
                " where report_month = %s and check_kind = 'dossiers' and check_name = 'received'"
                " and reporting_unit_code = %s and agency_code = %s",
                (M2, code, agency),
            ).fetchall()
        assert published == [(received + 3, received)]
        report = pipeline.report(s, M2).read_text(encoding="utf-8")
        section = report.split("đối chiếu báo cáo tổng hợp", 1)[1].split("<h1", 1)[0]
        assert "12.338" in section and "12.340" in section and name in section
    finally:
        with psycopg.connect(urls.admin) as conn:
            reports = "raw.one_stop__aggregate_reports where _extract_month = %s"
            conn.execute(
                "update raw.ingest_batches set status = 'replaced' where batch_id in"
                f" (select _batch_id from {reports})",
                (M2,),
            )
            conn.execute(f"delete from {reports}", (M2,))
        invocation = pipeline.transform(s, M2)
        gate = pipeline.validate(s, M2, dbt_invocation_id=invocation)
        pipeline.publish(s, M2, invocation, gate.gate_run_id)
    assert "đối chiếu báo cáo tổng hợp" not in pipeline.report(s, M2).read_text(encoding="utf-8")
