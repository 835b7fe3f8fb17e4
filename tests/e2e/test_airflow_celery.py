"""Airflow's CeleryExecutor on this machine: Redis (the system's package, installed when
missing) and two Celery workers beside the api-server, scheduler, dag-processor and triggerer,
on a warehouse of their own.

One backfill closes January and February 2020, with the sources standing at February's close,
the way a deployment backfills its history. The reference is what LocalExecutor published
closing the same months one by one in test_airflow_scheduler (with a failed gate and a Clear in
between): that module runs beside this one on another xdist worker and hands its checksums over
(tests/references.py). Run without it (this file alone), this module closes the same months
with LocalExecutor on a second warehouse for its reference.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chiso.core.cadence import Cadence
from chiso.orchestration import airflow as af
from chiso.publish.checksums import mart_checksums
from chiso.runtime import airflow as services
from chiso.runtime import simulator
from tests import references
from tests.e2e.test_airflow_scheduler import LOCAL_MARTS, MODULE
from tests.redis_server import redis
from tests.warehouses import fresh

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.airflow,
    pytest.mark.timeout(2400),
    pytest.mark.usefixtures("second_in_line"),
]

JANUARY, FEBRUARY = date(2020, 1, 1), date(2020, 2, 1)
CADENCE = Cadence.from_env()
FAST = {"CHISO_RETRY_DELAY_SECONDS": "2"}


def _backfill(name: str) -> tuple[dict, set[str]]:
    """Close January and February with one backfill on a fresh warehouse `name`, with the
    executor the environment names: the marts' checksums and the hosts that ran the tasks."""
    with fresh(name) as env:
        s = env.settings
        simulator.start(s)
        try:
            services.up(s)
            af.wait_for_dag(s)
            for month in (JANUARY, FEBRUARY):  # the second month's close instant stays
                simulator.stand_at_close(s, month, CADENCE.close_instant(month))
            af.backfill(s, JANUARY, FEBRUARY)
            states = af.wait_for_months(s, [JANUARY, FEBRUARY])
            assert states == {JANUARY: "success", FEBRUARY: "success"}, af.failed_tasks(s)
            with af.AirflowApi(s) as api:
                ran = api.paged(f"/dags/{af.DAG_ID}/dagRuns/~/taskInstances", "task_instances")
            hosts = {ti["hostname"] for ti in ran if ti["state"] == "success"}
            return mart_checksums(env.urls.admin), hosts
        finally:
            services.down(s)
            simulator.stop(s)


def _local_reference(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict:
    """LocalExecutor's marts for the same two months: test_airflow_scheduler's, when it is in
    this run, or else a backfill of this module's own."""
    if any(item.module.__name__.endswith(MODULE) for item in request.session.items):
        return references.wait_for(LOCAL_MARTS, MODULE)
    with monkeypatch.context() as local:
        local.setenv("CHISO_AIRFLOW_EXECUTOR", "LocalExecutor")
        checksums, _ = _backfill("test_airflow_celery_local")
    return checksums


def test_celery_workers_backfill_two_months_to_the_same_marts(request, monkeypatch, tmp_path):
    """Tasks run on both workers (their task instances record worker1 and worker2), and the
    marts equal, checksum for checksum, LocalExecutor's."""
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    with redis(Path(tmp_path) / "redis") as broker:
        monkeypatch.setenv("CHISO_AIRFLOW_EXECUTOR", "CeleryExecutor")
        monkeypatch.setenv("CHISO_CELERY_BROKER_URL", broker)
        monkeypatch.setenv("CHISO_CELERY_WORKERS", "2")
        celery, hosts = _backfill("test_airflow_celery")
    assert hosts == {"worker1", "worker2"}, hosts
    local = _local_reference(request, monkeypatch)
    # JSON (the hand-over between modules) has lists where checksums has tuples
    assert {k: list(v) for k, v in celery.items()} == {k: list(v) for k, v in local.items()}
