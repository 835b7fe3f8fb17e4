"""End-to-end through the real Airflow 3 scheduler (api-server, scheduler, dag-processor,
triggerer, LocalExecutor) on the embedded PostgreSQL — what `make demo` does.

Airflow starts once for the module, on an empty warehouse (so it runs while the other
workers wait for the built one), and closes January and February in order, each with
the simulator's clock at the month's close instant (its end plus the grace period), as `make
demo` does. The first test kills every Airflow process in the middle of January's close;
running again must finish cleanly and publish once. The second makes the gate fail inside
February's close, then fails the gate's task for another reason after an operator clears it.
The third lets February through: every revision the two closes published (February's close
republishes January where late records changed it) equals the independent computation on the
sources as they stood at that close. (The template warehouse closes March as well, outside
Airflow, and test_monthly_slice.py checks all three closes against that computation: a third
close here would show nothing more about the scheduler.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from chiso.core.cadence import Cadence
from chiso.orchestration import airflow as af
from chiso.publish.checksums import mart_checksums
from chiso.runtime import airflow as services
from chiso.runtime import simulator
from tests import references
from tests.alert_receivers import Mailbox, html_body, subject, wait_for
from tests.closes import mismatches_with_oracle

pytestmark = [pytest.mark.e2e, pytest.mark.airflow, pytest.mark.timeout(1200)]

JANUARY, FEBRUARY = date(2020, 1, 1), date(2020, 2, 1)
MODULE = "test_airflow_scheduler"
# what this module's two closes published, checksum by checksum: test_airflow_celery's
# reference for the CeleryExecutor
LOCAL_MARTS = "localexecutor-marts-2020-01-02"
CADENCE = Cadence.from_env()
# retry failed tasks after seconds, not minutes; a close must publish within a minute of
# being queued, or its deadline alerts (a drill of the deadline day's alert)
FAST = {"CHISO_RETRY_DELAY_SECONDS": "2", "CHISO_CLOSE_DEADLINE_SECONDS": "60"}
# the closes leave their OpenLineage events (docs/lineage.md), which a test reads
LINEAGE = {"CHISO_LINEAGE": "on"}
# the close's report task renders one province's PDFs and delivers them to a folder
REPORTED = "30"
REPORTS = ("CHISO_REPORT_SCOPED", "CHISO_REPORT_FORMATS", "CHISO_REPORT_PROVINCES",
           "CHISO_REPORT_FOLDER")  # fmt: skip


@pytest.fixture(scope="module")
def airflow_env(chiso_env):
    """Airflow up on the module's home and its empty warehouse."""
    saved = {k: os.environ.get(k) for k in (*FAST, *REPORTS, *LINEAGE)}
    os.environ.update(FAST)
    os.environ.update(LINEAGE)
    s = chiso_env.settings
    os.environ.update(
        CHISO_REPORT_SCOPED="true",
        CHISO_REPORT_FORMATS="pdf",
        CHISO_REPORT_PROVINCES=REPORTED,
        CHISO_REPORT_FOLDER=str(s.home / "share"),
    )
    try:
        simulator.start(s)
        services.up(s)
        yield chiso_env
    finally:
        services.down(s)
        references.end(MODULE)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _clock(s):
    """Before each month's close: the sources as they stand at its close instant, and the
    month's summary reports in the inbox."""
    return lambda month: simulator.stand_at_close(s, month, CADENCE.close_instant(month))


def _mart_counts(url: str) -> dict[date, int]:
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('marts.mart_kpi_monthly')").fetchone()[0] is None:
            return {}  # nothing published yet
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


def _mails(mailbox: Mailbox, text: str) -> list:
    """(recipients, message) of the e-mails received whose subject says `text`."""
    return [(r, m) for r, m in mailbox.messages if text in subject(m)]


def test_a_month_runs_through_the_scheduler_and_survives_a_hard_stop(airflow_env):
    """January's close runs as a backfill. Once its first pull has landed, every Airflow
    process is killed (SIGKILL: no graceful shutdown, pid files left behind), as a user
    pressing Ctrl-C twice or a machine losing power would. Running again finishes cleanly:
    the month is published once, with the complete grid and its report; raw holds each record
    once and every watermark stands at the close instant. The report is rendered by the
    report DAG, which the close's published-mart asset event runs."""
    s = airflow_env.settings
    bi = airflow_env.urls.bi_reader
    history = _mart_counts(bi)
    af.wait_for_dag(s)
    _clock(s)(JANUARY)
    af.backfill(s, JANUARY, JANUARY, replay=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = af.task_states(s, JANUARY)
        if states.get("pull_one_stop") == "success" and af.run_states(s)[JANUARY] == "running":
            break
        time.sleep(1)
    assert af.task_states(s, JANUARY).get("pull_one_stop") == "success"
    for st in services.status(s):  # hard stop
        os.killpg(st.pid, signal.SIGKILL)
    time.sleep(1)
    assert not any(st.alive for st in services.status(s))

    states = af.run_months(s, [JANUARY], before_month=_clock(s))
    assert states == {JANUARY: "success"}, af.failed_tasks(s)
    assert _mart_counts(bi) == {**history, JANUARY: _agency_indicator_pairs(bi, JANUARY)}
    assert (s.reports_dir / f"bao-cao-{JANUARY:%Y-%m}.html").exists()
    # the report task delivered the province's PDFs to the report folder, recorded once
    delivered = sorted((s.home / "share" / f"{JANUARY:%Y-%m}").glob("*.pdf"))
    assert "bao-cao-2020-01-tinh-hai-duong.pdf" in [p.name for p in delivered]
    assert all(p.read_bytes().startswith(b"%PDF") for p in delivered)
    with psycopg.connect(airflow_env.urls.admin) as conn:
        recorded = conn.execute(
            "select count(*), count(distinct file_name) from ops.report_deliveries"
            " where period_month = %s and channel = 'folder'",
            (JANUARY,),
        ).fetchone()
    assert recorded == (len(delivered), len(delivered))
    with psycopg.connect(airflow_env.urls.admin) as conn:
        rows, dossiers = conn.execute(
            "select count(*), count(distinct btrim(ma_ho_so)) from raw.one_stop__dossiers"
            " where _extract_month = %s",
            (JANUARY,),
        ).fetchone()
        unfinished = conn.execute(
            "select count(*) from raw.ingest_batches where status = 'running'"
        ).fetchone()[0]
        marks = conn.execute("select entity, changed_to from ops.ingest_watermarks").fetchall()
    assert rows == dossiers > 0  # each record once, though its pull ran twice
    assert unfinished == 0
    close = CADENCE.close_instant(JANUARY)
    assert dict(marks) == {"one_stop.dossiers": close, "documents.movements": close}


def test_a_failed_gate_in_airflow_alerts_through_its_connection_and_publishes_nothing(
    airflow_env,
):
    """The gate fails inside a real DAG run (here: volume bounds an operator set too tight
    for the month, in the deployment's gate-parameters.json, read at each validation); the
    validate task fails without retry, publish and report do not run, the published mart is
    unchanged, and the e-mail goes out through the Airflow connection `chiso_alert_smtp`
    added with `airflow connections add`, as an operator would."""
    s = airflow_env.settings
    before = _mart_counts(airflow_env.urls.bi_reader)
    mailbox = Mailbox()
    mailbox.controller.start()
    bounds = s.gate_parameters_file
    # at least 50× the previous month (and at most 100×: min above max is refused as config)
    bounds.write_text(json.dumps({"volume_ratio_min": 50, "volume_ratio_max": 100}))
    try:
        services.airflow_cli(
            s,
            "connections",
            "add",
            "chiso_alert_smtp",
            "--conn-json",
            json.dumps(mailbox.connection("lanh-dao@so-tttt.example.vn")),
        )
        states = af.run_months(s, [FEBRUARY], before_month=_clock(s))
        assert states == {FEBRUARY: "failed"}
        failed = {task for _, task in af.failed_tasks(s)}
        assert failed == {"validate"}, failed
        # every task ran once: the pulls load beside each other without a deadlock, which a
        # retry would otherwise hide
        assert af.retried_tasks(s, FEBRUARY) == {}
        assert wait_for(lambda: _mails(mailbox, "KHÔNG công bố"), timeout=60)
        [(recipients, message)] = _mails(mailbox, "KHÔNG công bố")
        assert recipients == ["lanh-dao@so-tttt.example.vn"]
        assert "Tháng 02/2020" in subject(message)
        assert "kpi_monthly_volume" in html_body(message)
        # a minute after it was queued the run has not published February: the DAG's
        # deadline alert comes through the same connection, from Airflow's deadline callback
        assert wait_for(lambda: _mails(mailbox, "Quá hạn công bố"), timeout=120)
        [(_, late)] = _mails(mailbox, "Quá hạn công bố")
        assert "tháng 02/2020 chưa được công bố" in subject(late)
        assert "đã thất bại" in html_body(late) or "đang chạy" in html_body(late)
        assert _mart_counts(airflow_env.urls.bi_reader) == before
        # the gate alerted with its failures; the task's failure callback does not repeat it
        assert not _mails(mailbox, "Lỗi pipeline")

        # a task that fails for another reason (here the gate misconfigured: min above max)
        # alerts through the same connection, from its on_failure_callback; the operator runs
        # the failed task again ("Clear"), which reads the deployment's file anew
        bounds.write_text(json.dumps({"volume_ratio_min": 50}))
        assert "validate" in af.clear_failed_tasks(s, FEBRUARY, ["validate"])
        assert af.wait_for_months(s, [FEBRUARY]) == {FEBRUARY: "failed"}
        assert wait_for(lambda: _mails(mailbox, "Lỗi pipeline"), timeout=60)
        [(_, message)] = _mails(mailbox, "Lỗi pipeline")
        title = subject(message)
        assert title.startswith("[chiso] Lỗi pipeline monthly_kpi.validate (tháng 2020-02)")
        assert "GateConfigError" in html_body(message)
        assert _mart_counts(airflow_env.urls.bi_reader) == before
    finally:
        bounds.unlink(missing_ok=True)
        mailbox.controller.stop()


def test_two_closes_through_the_scheduler_publish_what_the_sources_said_then(airflow_env):
    """February's gate is fixed (the deployment's parameters file is gone) and its validation
    cleared: February publishes and republishes January where late records changed it. Every
    revision equals the oracle on the sources at its close."""
    s = airflow_env.settings
    assert not s.gate_parameters_file.exists()
    assert "validate" in af.clear_failed_tasks(s, FEBRUARY, ["validate"])
    assert af.wait_for_months(s, [FEBRUARY]) == {FEBRUARY: "success"}, af.failed_tasks(s)
    # the close's published-mart event ran the report DAG, for February and the January it
    # republished
    reports = af.wait_for_reports(s, FEBRUARY)
    assert reports and set(reports.values()) == {"success"}, reports
    assert (s.reports_dir / f"bao-cao-{FEBRUARY:%Y-%m}.html").exists()
    url = airflow_env.urls.transformer
    bad = mismatches_with_oracle(
        url, [JANUARY, FEBRUARY], [CADENCE.close_instant(m) for m in (JANUARY, FEBRUARY)]
    )
    assert not bad, f"{len(bad)} rows differ from the sources at their close, e.g. {bad[:3]}"
    with psycopg.connect(url) as conn:
        heads = dict(conn.execute("select period_month, revision from ops.publication_heads"))
    assert heads[FEBRUARY] == 1 and heads[JANUARY] >= 1
    references.publish(LOCAL_MARTS, mart_checksums(airflow_env.urls.admin))


def test_the_closes_lineage_joins_airflow_tasks_to_the_tables_dbt_built(airflow_env):
    """OpenLineage events, in the home's lineage files: every task of the closes (Airflow's
    provider), and each dbt node of their builds with the tables it read and wrote, under a
    dbt run whose parent is the Airflow task that started it. No password is in them."""
    from chiso.runtime import lineage

    s = airflow_env.settings
    folder = lineage.folder(s)

    def events(name: str) -> list[dict]:
        lines = (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    airflow, dbt = events("airflow"), events("dbt")
    tasks = {(e["job"]["name"], e["eventType"]) for e in airflow}
    for task in ("pull_one_stop", "transform", "validate", "publish", "republish"):
        assert (f"monthly_kpi.{task}", "COMPLETE") in tasks, task
    # the report, in the DAG the close's published-mart asset event ran
    assert ("monthly_report.report", "COMPLETE") in tasks
    transforms = {e["run"]["runId"] for e in airflow if e["job"]["name"] == "monthly_kpi.transform"}
    builds = [e for e in dbt if e["job"]["name"] == "dbt-run-chiso" and e["eventType"] == "START"]
    assert builds
    parents = {b["run"]["facets"]["parent"]["run"]["runId"] for b in builds}
    assert parents <= transforms, (parents, transforms)
    started_by = {b["run"]["facets"]["parent"]["job"]["name"] for b in builds}
    assert started_by == {"monthly_kpi.transform"}
    marts = [
        e for e in dbt
        if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(".mart_kpi_monthly.build.run")
    ]  # fmt: skip
    assert marts
    db = s.warehouse_db
    assert {o["name"] for o in marts[-1]["outputs"]} == {f"{db}.audit.mart_kpi_monthly"}
    assert f"{db}.audit.fct_indicator_values" in {i["name"] for i in marts[-1]["inputs"]}
    assert marts[-1]["run"]["facets"]["parent"]["run"]["runId"] in {
        b["run"]["runId"] for b in builds
    }
    text = "".join((folder / f"{n}.jsonl").read_text(encoding="utf-8") for n in ("airflow", "dbt"))
    from urllib.parse import urlsplit

    for secret in (services.admin_password(s), urlsplit(airflow_env.urls.transformer).password):
        assert secret and secret not in text


def test_doctor_names_what_is_wrong_with_the_deployment(airflow_env, monkeypatch, capsys):
    """`chiso doctor` on the running deployment: the scheduler, dag-processor and triggerer
    alive, the alert channel in Airflow's metadata, the key the warehouse's, February
    published by its deadline. What this deployment lacks it names: scheduled runs are off
    and the sources are the local simulator (the demo's settings). A paused DAG, a month past
    its deadline and a wrong key are each named, and no secret is printed."""
    from datetime import datetime

    from chiso.cli import main
    from chiso.orchestration.airflow import AirflowApi
    from chiso.orchestration.doctor import diagnose

    s = airflow_env.settings
    if not all(st.alive for st in services.status(s)):
        services.up(s)

    def verdicts(now: datetime) -> dict[str, str]:
        found: dict[str, str] = {}
        for f in diagnose(s, now=now):  # the worst finding of each check
            if found.get(f.check) != "fail":
                found[f.check] = f.status
        return found

    march_10 = datetime(2020, 3, 10, 8, 0)  # February's deadline has passed
    assert verdicts(march_10) == {
        "publications": "ok", "metadatabase": "ok", "scheduler": "ok", "dag_processor": "ok",
        "triggerer": "ok", "dag": "ok", "schedule": "fail", "connections": "warn", "disk": "ok",
        "key": "ok", "reference": "ok",
    }  # fmt: skip
    monkeypatch.setenv("CHISO_AIRFLOW_SCHEDULED_RUNS", "True")
    with AirflowApi(s) as api:
        api.request("PATCH", f"/dags/{af.DAG_ID}", json={"is_paused": True})
        try:
            april_10 = datetime(2020, 4, 10, 8, 0)  # March is due and was never closed
            monkeypatch.setenv("CHISO_PII_KEY", "not-the-warehouse-key")
            findings = {f.check: f for f in diagnose(s, now=april_10) if f.status == "fail"}
            assert set(findings) == {"publications", "dag", "key"}
            assert "2020-03 is not published" in findings["publications"].detail
            assert "paused" in findings["dag"].detail
            assert "not the warehouse's" in findings["key"].detail
            assert main(["doctor"]) == 1
        finally:
            api.request("PATCH", f"/dags/{af.DAG_ID}", json={"is_paused": False})
    printed = capsys.readouterr().out
    assert "✗ dag" in printed and "problem(s)" in printed
    for secret in (services.admin_password(s), "not-the-warehouse-key"):
        assert secret not in printed


def test_the_ui_and_the_api_require_a_login(airflow_env):
    """Nothing of Airflow answers without a login: no token without credentials, none for a
    wrong password; the generated admin password gets one, and appears in no log."""
    import httpx

    s = airflow_env.settings
    if not all(st.alive for st in services.status(s)):
        services.up(s)
    with httpx.Client(base_url=f"http://127.0.0.1:{s.airflow_port}", timeout=30) as http:
        assert http.get("/api/v2/dags").status_code == 401
        assert http.get("/auth/token").status_code == 403  # no open admin
        wrong = {"username": "admin", "password": "admin"}
        assert http.post("/auth/token", json=wrong).status_code == 401
        right = {"username": "admin", "password": services.admin_password(s)}
        token = http.post("/auth/token", json=right).json()["access_token"]
        dags = http.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"})
        assert dags.status_code == 200 and af.DAG_ID in {d["dag_id"] for d in dags.json()["dags"]}
    logs = [p for p in s.log_dir.rglob("*.log")] + list(s.airflow_home.rglob("*.log"))
    assert logs
    for log in logs:
        assert services.admin_password(s) not in log.read_text(errors="replace"), log


def test_the_maintenance_dag_cleans_vacuums_and_backs_up_what_restores_equal(airflow_env, tmp_path):
    """The maintenance DAG, triggered as an operator would with a retention instant: Airflow's
    metadata before it is cleaned (January's close run goes, February's, the latest, stays),
    the large tables vacuumed (the raw tables' monthly partitions are too small here), and the
    backup it writes restores into a fresh server with the same marts, revision history and
    publication log as this warehouse."""
    from datetime import UTC, datetime, timedelta

    from chiso.orchestration.airflow import AirflowApi
    from chiso.orchestration.backup import restore
    from chiso.runtime.embedded_postgres import EmbeddedPostgres
    from chiso.runtime.warehouse import urls
    from tests.warehouses import free_port

    s = airflow_env.settings
    if not all(st.alive for st in services.status(s)):
        services.up(s)
    with AirflowApi(s) as api:
        runs = {r["dag_run_id"]: r for r in api.paged(f"/dags/{af.DAG_ID}/dagRuns", "dag_runs")}
        january = next(i for i, r in runs.items() if r["data_interval_start"].startswith("2020-01"))
        cutoff = datetime.fromisoformat(runs[january]["end_date"]) + timedelta(seconds=1)
        # the clean refuses an instant of the last two minutes (the live jobs' rows)
        while datetime.now(UTC) - cutoff < timedelta(minutes=2, seconds=10):
            time.sleep(5)
        api.request("PATCH", "/dags/maintenance", json={"is_paused": False})
        run = api.request(
            "POST",
            "/dags/maintenance/dagRuns",
            json={"logical_date": None, "conf": {"clean_before": cutoff.isoformat()}},
        )["dag_run_id"]
        deadline = time.monotonic() + 600
        while (state := api.get(f"/dags/maintenance/dagRuns/{run}")["state"]) not in af.FINISHED:
            assert time.monotonic() < deadline, "the maintenance run did not finish"
            time.sleep(2)
        assert state == "success", af.failed_tasks(s, "maintenance")
        left = {r["dag_run_id"] for r in api.paged(f"/dags/{af.DAG_ID}/dagRuns", "dag_runs")}
        xcom = f"/dags/maintenance/dagRuns/{run}/taskInstances/{{}}/xcomEntries/return_value"
        vacuumed = api.get(xcom.format("vacuum_analyze"))["value"]
        dump = Path(api.get(xcom.format("back_up"))["value"]["dump"])
    assert january not in left and set(runs) - {january} <= left
    assert "audit.fct_indicator_values" in vacuumed, vacuumed

    fresh = dataclasses.replace(
        s, home=tmp_path / "home", server_home=tmp_path / "server", pg_port_hint=free_port()
    )
    try:
        restore(fresh, dump)
        assert mart_checksums(urls(fresh).admin, everything=True) == mart_checksums(
            urls(s).admin, everything=True
        )
        # the restored warehouse's BI reader sees what this one's does
        assert mart_checksums(urls(fresh).bi_reader) == mart_checksums(urls(s).bi_reader)
    finally:
        EmbeddedPostgres(fresh).stop()
