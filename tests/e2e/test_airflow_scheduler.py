"""End-to-end through the real Airflow 3 scheduler (api-server, scheduler, dag-processor,
triggerer, LocalExecutor) on the embedded PostgreSQL — what `make demo` does.

The second test kills every Airflow process in the middle of a run, as a user pressing Ctrl-C
twice or a machine losing power would, and checks that running again finishes cleanly with no
duplicated rows.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date

import psycopg
import pytest

from chiso.cli import simulator_start
from chiso.orchestration import airflow as af

pytestmark = [pytest.mark.e2e, pytest.mark.airflow, pytest.mark.timeout(1200)]

MONTHS = [date(2020, 1, 1), date(2020, 2, 1)]


@pytest.fixture(scope="module")
def airflow_env(chiso_env):
    simulator_start(chiso_env.settings)
    try:
        yield chiso_env
    finally:
        af.down(chiso_env.settings)


def _mart_counts(url: str) -> dict[date, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select period_month, count(*) from marts.mart_kpi_monthly group by 1"
        ).fetchall()
    return dict(rows)


def _agency_indicator_pairs(url: str, month) -> int:
    """The complete grid the mart must hold for a month: in each calendar (the calendar month,
    the official window 15th of the previous month → 14th), every agency version existing
    in that window × every computed indicator."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select ((select count(*) from marts.dim_agency where valid_from"
            "   < %(m)s::date + interval '1 month' and coalesce(valid_to, '9999-12-31') >= %(m)s)"
            " + (select count(*) from marts.dim_agency where valid_from"
            "   <= %(m)s::date + 13 and coalesce(valid_to, '9999-12-31')"
            "   >= %(m)s::date - interval '1 month' + interval '14 days'))"
            " * (select count(*) from marts.dim_indicator where in_mart)",
            {"m": month},
        ).fetchone()[0]


def test_scheduler_runs_the_months_and_publishes(airflow_env):
    s = airflow_env.settings
    states = af.run_months(s, MONTHS)
    assert states == {m: "success" for m in MONTHS}, af.failed_tasks(s)
    expected = {m: _agency_indicator_pairs(airflow_env.urls.bi_reader, m) for m in MONTHS}
    assert _mart_counts(airflow_env.urls.bi_reader) == expected
    for m in MONTHS:
        assert (s.reports_dir / f"bao-cao-{m:%Y-%m}.html").exists()


def test_interrupted_run_recovers_without_duplicates(airflow_env):
    s = airflow_env.settings
    with psycopg.connect(airflow_env.urls.admin) as conn:
        raw_before = conn.execute("select count(*) from raw.one_stop__dossiers").fetchone()[0]
    af.reset_dag(s)
    af.wait_for_dag(s)
    af.backfill(s, MONTHS[0], MONTHS[-1])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "running" not in af.run_states(s).values():
        time.sleep(1)
    assert "running" in af.run_states(s).values()
    for st in af.status(s):  # hard stop: no graceful shutdown, pid files left behind
        os.killpg(st.pid, signal.SIGKILL)
    time.sleep(1)
    assert not any(st.alive for st in af.status(s))

    states = af.run_months(s, MONTHS)
    assert states == {m: "success" for m in MONTHS}, af.failed_tasks(s)
    with psycopg.connect(airflow_env.urls.admin) as conn:
        raw_after = conn.execute("select count(*) from raw.one_stop__dossiers").fetchone()[0]
    assert raw_after == raw_before
    expected = {m: _agency_indicator_pairs(airflow_env.urls.bi_reader, m) for m in MONTHS}
    assert _mart_counts(airflow_env.urls.bi_reader) == expected


def test_a_failed_gate_in_airflow_alerts_through_its_connection_and_publishes_nothing(
    airflow_env,
):
    """The gate fails inside a real DAG run (here: volume bounds an operator set too tight
    for the month); the validate task fails without retry, publish and report do not run,
    the published mart is unchanged, and the e-mail goes out through the Airflow connection
    `chiso_alert_smtp` added with `airflow connections add`, as an operator would."""
    import json

    from tests.alert_receivers import Mailbox, html_body, subject, wait_for

    s = airflow_env.settings
    march = date(2020, 3, 1)
    before = _mart_counts(airflow_env.urls.bi_reader)
    mailbox = Mailbox()
    mailbox.controller.start()
    af.down(s)
    # at least 50× the previous month (and at most 100×: min above max is refused as config)
    os.environ["CHISO_GATE_VOLUME_RATIO_MIN"] = "50"
    os.environ["CHISO_GATE_VOLUME_RATIO_MAX"] = "100"
    try:
        af.migrate(s)
        af.airflow_cli(
            s,
            "connections",
            "add",
            "chiso_alert_smtp",
            "--conn-json",
            json.dumps(mailbox.connection("lanh-dao@so-tttt.example.vn")),
        )
        states = af.run_months(s, [march])
        assert states == {march: "failed"}
        failed = {task for _, task in af.failed_tasks(s)}
        assert failed == {"validate"}, failed
        assert wait_for(lambda: mailbox.messages, timeout=60)
        recipients, message = mailbox.messages[-1]
        assert recipients == ["lanh-dao@so-tttt.example.vn"]
        assert "Tháng 03/2020" in subject(message)
        assert "kpi_monthly_volume" in html_body(message)
        assert _mart_counts(airflow_env.urls.bi_reader) == before
        # the gate alerted with its failures; the task's failure callback does not repeat it
        assert not any("Lỗi pipeline" in subject(m) for _, m in mailbox.messages)

        # a task that fails for another reason (here the gate misconfigured: min above max)
        # alerts through the same connection, from its on_failure_callback
        af.down(s)
        os.environ.pop("CHISO_GATE_VOLUME_RATIO_MAX")
        sent = len(mailbox.messages)
        assert af.run_months(s, [march]) == {march: "failed"}
        assert wait_for(lambda: len(mailbox.messages) > sent, timeout=60)
        _, message = mailbox.messages[-1]
        title = subject(message)
        assert title.startswith("[chiso] Lỗi pipeline monthly_kpi.validate (tháng 2020-03)")
        assert "GateConfigError" in html_body(message)
        assert _mart_counts(airflow_env.urls.bi_reader) == before
    finally:
        os.environ.pop("CHISO_GATE_VOLUME_RATIO_MIN", None)
        os.environ.pop("CHISO_GATE_VOLUME_RATIO_MAX", None)
        mailbox.controller.stop()
        af.down(s)
