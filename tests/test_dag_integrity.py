"""DagBag integrity: the DAGs import cleanly, set retries, and do no heavy work at parse time."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys

import pendulum
import pytest

from chiso.core.config import DAGS_DIR, REPO_ROOT


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {
        "monthly_kpi", "monthly_report", "daily_ingest", "maintenance", "reference_data",
    }  # fmt: skip


def test_every_task_retries_with_backoff_except_the_gate(dagbag):
    for dag in dagbag.dags.values():
        for t in dag.tasks:
            if t.task_id == "validate" or (dag.dag_id, t.task_id) == ("reference_data", "load"):
                # a failed gate, invalid reference files: the same again, until someone acts
                assert t.retries == 0, "a failed gate must not be retried"
                continue
            assert t.retries >= 1, t.task_id
            assert t.retry_exponential_backoff, t.task_id


def test_every_task_alerts_when_it_fails_for_good(dagbag):
    for dag in dagbag.dags.values():
        for t in dag.tasks:
            callbacks = t.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(getattr(c, "__name__", "") == "alert_on_failure" for c in callbacks), (
                t.task_id
            )


def test_monthly_dag_shape(dagbag):
    dag = dagbag.dags["monthly_kpi"]
    assert dag.max_active_runs == 1
    for source in ("one_stop", "documents", "portal"):
        # the API pull replaces the month; the inbox's corrections must land after it
        assert f"inbox_{source}" in dag.get_task(f"pull_{source}").downstream_task_ids
        assert "transform" in dag.get_task(f"inbox_{source}").downstream_task_ids
    order = ["transform", "validate", "publish", "republish"]
    for up, down in itertools.pairwise(order):
        assert down in dag.get_task(up).downstream_task_ids
    assert dag.timezone.name == "Asia/Ho_Chi_Minh"
    # the close runs once the month and its grace period are over: its interval starts on the
    # 6th, and the month closed is the month of the interval's start
    interval = dag.timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2020, 2, 7, tz="Asia/Ho_Chi_Minh")
    )
    assert interval.start == pendulum.datetime(2020, 1, 6, tz="Asia/Ho_Chi_Minh")
    assert interval.end == pendulum.datetime(2020, 2, 6, tz="Asia/Ho_Chi_Minh")
    # published by the deadline day (chiso's own reference, which Airflow finds through the
    # plugin chiso installs)
    [deadline] = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert type(deadline.reference).__name__ == "PublicationDeadline"
    assert deadline.callback.path == "chiso.orchestration.deadline.on_missed_close"
    from airflow.plugins_manager import get_deadline_references_plugins

    assert type(deadline.reference) in get_deadline_references_plugins().values()


def test_the_published_mart_asset_runs_the_report_dag(dagbag):
    """The close announces its publications once, at its end (the month closed and those it
    republished, after the drift is recorded, which the report lists), and so does a
    reference rebuild that republished a month; the report DAG runs on that asset alone."""
    from chiso.orchestration.dags import KPI_MART, REPORT, REPUBLISHED

    close = dagbag.dags["monthly_kpi"]
    emitting = {t.task_id for t in close.tasks if KPI_MART in t.outlets}
    assert emitting == {"republish"}
    assert close.get_task("republish").downstream_task_ids == set()
    rebuild = dagbag.dags["reference_data"].get_task("rebuild")
    assert rebuild.outlets == [REPUBLISHED]  # an event only when it republished a month
    report = dagbag.dags["monthly_report"]
    assert report.max_active_runs == 1
    assert list(report.timetable.asset_condition.objects) == [KPI_MART]
    assert [t.task_id for t in report.tasks] == ["report"]
    # the REST client waits on this asset's events by name
    from chiso.orchestration.airflow import KPI_MART_ASSET, REPORT_DAG_ID

    assert (KPI_MART.name, report.dag_id) == (KPI_MART_ASSET, REPORT_DAG_ID)
    assert report.get_task("report").outlets == [REPORT]


def test_cron_dags_schedule_only_where_scheduled_runs_are_on(dagbag):
    """Every cron DAG takes chiso's timetable, which Airflow finds through chiso's plugin."""
    from airflow.plugins_manager import get_timetables_plugins

    from chiso.orchestration.schedule import ScheduledCron

    for dag_id in ("monthly_kpi", "daily_ingest", "maintenance", "reference_data"):
        assert type(dagbag.dags[dag_id].timetable) is ScheduledCron, dag_id
    assert ScheduledCron in get_timetables_plugins().values()


def test_maintenance_dag_backs_up_after_everything_else(dagbag):
    dag = dagbag.dags["maintenance"]
    assert dag.max_active_runs == 1
    backup = dag.get_task("back_up")
    assert backup.trigger_rule == "all_done"  # a failed clean still leaves a backup
    assert backup.upstream_task_ids == {"vacuum_analyze"}
    assert dag.get_task("vacuum_analyze").upstream_task_ids == {
        "clean_airflow_metadata", "prune_task_logs", "retain_personal_data",
    }  # fmt: skip


def test_reference_dag_loads_then_pulls_what_it_released_then_rebuilds(dagbag):
    dag = dagbag.dags["reference_data"]
    assert dag.max_active_runs == 1
    pulls = {f"pull_released_{source}" for source in ("one_stop", "documents", "portal")}
    assert {t.task_id for t in dag.tasks} == {"load", "rebuild", *pulls}
    assert dag.get_task("load").retries == 0  # invalid files stay invalid until fixed
    assert dag.get_task("load").downstream_task_ids == pulls
    assert dag.get_task("rebuild").upstream_task_ids == pulls


def test_daily_dag_pulls_and_loads_every_source_and_builds_nothing(dagbag):
    dag = dagbag.dags["daily_ingest"]
    assert dag.max_active_runs == 1
    assert {t.task_id for t in dag.tasks} == {
        f"{step}_{source}"
        for step in ("pull", "inbox")
        for source in ("one_stop", "documents", "portal")
    }
    for source in ("one_stop", "documents", "portal"):
        assert f"inbox_{source}" in dag.get_task(f"pull_{source}").downstream_task_ids


def test_dag_pulls_every_source_system():
    """The DAG lays out a pull per source system from the spec module, the same list ingest
    pulls and the canonical schemas cover."""
    from chiso.ingest.pulls import SOURCE_PULLS
    from chiso.sources.canonical import ENTITIES
    from chiso.sources.systems import SOURCES

    spec = importlib.util.spec_from_file_location("monthly_kpi_dag", DAGS_DIR / "monthly_kpi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SOURCES == SOURCES == tuple(SOURCE_PULLS)
    assert {e.source for e in ENTITIES} == set(SOURCES)


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_DIR.glob("*.py")))
def test_dag_files_do_no_heavy_work_at_import(dag_file):
    """Importing a DAG file must not pull in the database driver, dbt, GX or any of chiso but
    its parse-cheap spec of the source systems (chiso.sources.systems), the close's calendar
    (chiso.core.cadence: the schedule and the deadline, from the environment), the
    deadline's callback, which Airflow imports to check it (chiso.orchestration.deadline), and
    what the DAG files share: assets, task defaults, the timetable (chiso.orchestration.dags,
    .assets, .schedule)."""
    code = (
        "import sys, time, json, runpy\n"
        "t = time.perf_counter()\n"
        f"runpy.run_path({str(DAGS_DIR / dag_file)!r})\n"
        "allowed = {'chiso', 'chiso.sources', 'chiso.sources.systems', 'chiso.core',"
        " 'chiso.core.cadence', 'chiso.core.months', 'chiso.orchestration',"
        " 'chiso.orchestration.deadline', 'chiso.orchestration.dags',"
        " 'chiso.orchestration.schedule', 'chiso.orchestration.assets', 'chiso.notify',"
        " 'chiso.notify.alerts'}\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in"
        " ('psycopg', 'great_expectations', 'dbt', 'openpyxl')"
        " or (m.split('.')[0] == 'chiso' and m not in allowed)]\n"
        "print(json.dumps({'heavy': heavy, 'seconds': time.perf_counter() - t}))\n"
    )
    # Airflow itself is imported first so the measurement is of the DAG file alone.
    proc = subprocess.run(
        [sys.executable, "-c", "import airflow.sdk\n" + code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []


def test_a_deployment_of_several_provinces_pulls_each_one_in_its_own_task(monkeypatch):
    """CHISO_SOURCE_PROVINCES: each source's pull (and re-pull) is mapped over the provinces,
    one instance per province's installation, named by its code; what follows waits for all."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CHISO_SOURCE_PROVINCES", "31,25")
    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}
    for dag_id, step, after in (
        ("monthly_kpi", "pull", "inbox"),
        ("daily_ingest", "pull", "inbox"),
        ("reference_data", "pull_released", None),
    ):
        dag = bag.dags[dag_id]
        for source in ("one_stop", "documents", "portal"):
            pull = dag.get_task(f"{step}_{source}")
            assert pull.op_kwargs_expand_input.value == {"province": ["31", "25"]}, dag_id
            assert pull.partial_kwargs["op_kwargs"] == {"source": source}
            assert pull.partial_kwargs["map_index_template"] == "{{ province }}"
            if after:
                assert f"{after}_{source}" in pull.downstream_task_ids
    assert dag.get_task("rebuild").upstream_task_ids == {
        f"pull_released_{source}" for source in ("one_stop", "documents", "portal")
    }


def test_a_malformed_province_list_is_an_import_error_naming_it(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CHISO_SOURCE_PROVINCES", "31,HP")
    bag = DagBag(dag_folder=str(DAGS_DIR / "daily_ingest.py"))
    [error] = bag.import_errors.values()
    assert "'HP' is not a two-digit province code" in error
