"""The monthly report per province and per tier (PDF, XLSX, HTML) rendered from the published
marts as the BI reader, read back, and delivered to a folder and by e-mail through a local
SMTP server.

One province of the template's last month is rendered (Hải Dương: six indicators with
targets in 2020); the other provinces take the same path."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import unicodedata
from decimal import ROUND_HALF_EVEN, Decimal

import psycopg
import pytest

from chiso.report.delivery import deliver
from chiso.report.model import CALENDAR_LABELS
from chiso.report.render import render_month
from tests.alert_receivers import Mailbox, subject, wait_for
from tests.warehouses import TEMPLATE_MONTHS

pytestmark = pytest.mark.e2e

MONTH = TEMPLATE_MONTHS[-1]
PROVINCE = "30"


@pytest.fixture(scope="module")
def rendered(built_env, tmp_path_factory):
    from chiso.notify.alerts import connection

    # Airflow configures logging when a connection is first looked up: done here, before a
    # test captures the logs, so the capture is not replaced halfway
    connection("chiso_report_smtp")
    out = tmp_path_factory.mktemp("reports")
    return built_env, render_month(built_env.urls.bi_reader, MONTH, out, provinces={PROVINCE})


def _pdf_text(path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(unicodedata.normalize("NFC", text).split())


def _vn_percent(numerator: Decimal, denominator: Decimal) -> str:
    value = (numerator / denominator * 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    return f"{value}".replace(".", ",") + "%"


def test_one_file_per_scope_and_format(rendered):
    env, r = rendered
    scopes = {(f.tier, f.kind) for f in r.files}
    with psycopg.connect(env.urls.bi_reader) as conn:
        tiers = {
            t
            for (t,) in conn.execute(
                "select distinct tier from marts.mart_kpi_monthly"
                " where period_month = %s and province_code = %s",
                (MONTH, PROVINCE),
            )
        }
    assert scopes == {(t, k) for t in (None, *tiers) for k in ("html", "xlsx", "pdf")}
    assert all(f.province_code == PROVINCE for f in r.files)
    index = json.loads((r.files[0].path.parent / "index.json").read_text(encoding="utf-8"))
    assert index["revision"] == r.revision
    for f in r.files:
        assert hashlib.sha256(f.path.read_bytes()).hexdigest() == f.sha256
        assert f.path.name.isascii()


def test_the_pdf_has_the_vietnamese_indicator_names_and_the_marts_values(rendered):
    """pdf → text: every indicator's Vietnamese name, and the province's line of each rate
    (its ratio of sums in the mart, the Vietnamese way) and of each count."""
    env, r = rendered
    (pdf,) = [f for f in r.of_kind("pdf") if f.tier is None]
    text = _pdf_text(pdf.path)
    assert "Tỉnh Hải Dương" in text and "THÁNG 03/2020" in text
    with psycopg.connect(env.urls.bi_reader) as conn:
        lines = conn.execute(
            "select indicator_name_vi, unit, sum(numerator), sum(denominator)"
            " from marts.mart_kpi_monthly where period_month = %s and province_code = %s"
            " and calendar = 'calendar' group by 1, 2",
            (MONTH, PROVINCE),
        ).fetchall()
    assert len(lines) > 30
    for name, unit, numerator, denominator in lines:
        assert " ".join(name.split()) in text, name
        if unit == "ratio" and denominator:
            assert _vn_percent(numerator, denominator) in text, name
        elif unit == "count":
            assert f"{int(numerator):,}".replace(",", ".") in text, name


def test_a_tier_pdf_has_its_agencies_and_no_others(rendered):
    env, r = rendered
    with psycopg.connect(env.urls.bi_reader) as conn:
        agencies = dict(
            conn.execute(
                "select distinct agency_name, tier from marts.mart_kpi_monthly"
                " where period_month = %s and province_code = %s and target_value is not null",
                (MONTH, PROVINCE),
            ).fetchall()
        )
    for pdf in (f for f in r.of_kind("pdf") if f.tier is not None):
        text = _pdf_text(pdf.path)
        mine = {a for a, t in agencies.items() if t == pdf.tier}
        others = {a for a, t in agencies.items() if t != pdf.tier}
        assert mine and all(a in text for a in mine), pdf.path.name
        assert not [a for a in others if a in text], pdf.path.name


def test_the_province_workbook_holds_the_marts_numbers(rendered):
    from openpyxl import load_workbook

    env, r = rendered
    (xlsx,) = [f for f in r.of_kind("xlsx") if f.tier is None]
    book = load_workbook(xlsx.path)
    got = {
        (row[2], row[4], row[6]): (row[7], row[8], row[9])
        for row in book["Đơn vị"].iter_rows(min_row=2, values_only=True)
    }
    with psycopg.connect(env.urls.bi_reader) as conn:
        mart = {
            (a, i, CALENDAR_LABELS[c]): (n, d, v)
            for a, i, c, n, d, v in conn.execute(
                "select agency_code, indicator_code, calendar, numerator, denominator, value"
                " from marts.mart_kpi_monthly where period_month = %s and province_code = %s",
                (MONTH, PROVINCE),
            )
        }
    assert got.keys() == mart.keys()
    for key, (n, d, v) in mart.items():
        assert got[key][0] == n and got[key][1] == d, key
        assert (v is None and got[key][2] is None) or abs(got[key][2] - float(v)) < 1e-9, key


def test_the_same_revision_renders_the_same_bytes(rendered):
    """The province's PDF and workbook drawn again from the marts are the files' bytes."""
    from chiso.report.charts import trend_png
    from chiso.report.model import load, scoped
    from chiso.report.pdf import pdf_bytes
    from chiso.report.workbook import workbook_bytes

    env, r = rendered
    data = load(env.urls.bi_reader, MONTH)
    (scope,) = [s for s in data.provinces() if s.province_code == PROVINCE]
    report = scoped(data, scope)
    written = {(f.tier, f.kind): f.sha256 for f in r.files}
    again = {
        "pdf": pdf_bytes(report, trend_png(report)),
        "xlsx": workbook_bytes(report, [report], [x for x in data.rows if scope.holds(x)]),
    }
    for kind, content in again.items():
        assert hashlib.sha256(content).hexdigest() == written[(None, kind)], kind


def test_delivered_to_a_folder_and_by_mail_once_per_revision(
    rendered, tmp_path, monkeypatch, caplog
):
    """The leaders get the province's PDF, the province's office its province's and tiers';
    the share gets every file; a rerun of the same revision sends and copies nothing; a new
    revision is delivered anew; no address reaches a log line."""
    env, r = rendered
    leaders, office = "lanh-dao@ubnd.example.vn", "van-phong@so-tttt-hd.example.vn"
    mailbox = Mailbox()
    mailbox.controller.start()
    try:
        conn = mailbox.connection(leaders)
        conn["extra"]["to_by_province"] = {PROVINCE: [office]}
        monkeypatch.setenv("AIRFLOW_CONN_CHISO_REPORT_SMTP", json.dumps(conn))
        share = tmp_path / "share"
        caplog.set_level(logging.DEBUG)
        first = deliver(env.urls.transformer, r, share)
        assert wait_for(lambda: len(mailbox.messages) == 2, timeout=30)
        again = deliver(env.urls.transformer, r, share)
        republished = deliver(env.urls.transformer, dataclasses.replace(r, revision=99), share)
        assert wait_for(lambda: len(mailbox.messages) == 4, timeout=30)
    finally:
        mailbox.controller.stop()
    assert first.mailed == 2 and len(first.copied) == len(r.files)
    assert again.mailed == 0 and again.copied == [] and again.already == len(r.files) + 5
    assert republished.mailed == 2
    attached = {}
    for rcpt, message in mailbox.messages[:2]:
        attached[tuple(rcpt)] = sorted(p.get_filename() for p in message.walk() if p.get_filename())
        assert "tháng 03/2020" in subject(message)
        for part in message.walk():
            if part.get_filename():
                assert part.get_payload(decode=True).startswith(b"%PDF")
    pdfs = r.of_kind("pdf")
    assert attached[(leaders,)] == sorted(f.path.name for f in pdfs if f.tier is None)
    assert attached[(office,)] == sorted(f.path.name for f in pdfs)
    assert "điều chỉnh" in subject(mailbox.messages[2][1])
    for f in r.files:
        assert (share / f"{MONTH:%Y-%m}" / f.path.name).read_bytes() == f.path.read_bytes()
    # what chiso and Airflow logged (the test's own SMTP server logs what it received)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert "e-mailed: 2 message(s)" in logged
    assert leaders not in logged and office not in logged
    with psycopg.connect(env.urls.admin) as c:
        stored = c.execute("select string_agg(target_hash, ' ') from ops.report_deliveries")
        assert leaders not in (stored.fetchone()[0] or "")


def test_a_mail_server_that_refuses_fails_the_delivery_without_naming_anyone(rendered, monkeypatch):
    from chiso.report.delivery import DeliveryError

    env, r = rendered
    address = "khong-nhan@example.vn"
    dead = Mailbox()  # never started: nothing listens on its port
    conn = dead.connection(address)
    monkeypatch.setenv("AIRFLOW_CONN_CHISO_REPORT_SMTP", json.dumps(conn))
    with pytest.raises(DeliveryError) as failure:
        deliver(env.urls.transformer, dataclasses.replace(r, revision=98))
    assert address not in str(failure.value) and "recipient group 1 of 1" in str(failure.value)
    with psycopg.connect(env.urls.admin) as c:
        # nothing recorded: the task's retry sends it
        assert not c.execute(
            "select 1 from ops.report_deliveries where revision = 98 and channel = 'email'"
        ).fetchone()
