"""With CHISO_WAREHOUSE_URL set, the same code runs against that server and starts none."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import psycopg
import pytest

from chiso import pipeline
from chiso.cli import _api, simulator_start, simulator_stop
from chiso.config import Settings
from chiso.db.bootstrap import bootstrap
from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def test_slice_runs_against_an_external_server(chiso_env, monkeypatch):
    external = chiso_env.urls.admin  # a server this process did not start in its own home
    home = Path(tempfile.mkdtemp(prefix="chiso-ext-"))
    monkeypatch.setenv("CHISO_HOME", str(home))
    monkeypatch.setenv("CHISO_WAREHOUSE_URL", external)
    monkeypatch.setenv("CHISO_SIMULATOR_PORT", str(free_port()))
    s = Settings.from_env()
    try:
        urls = bootstrap(s)
        assert urls.transformer == urls.loader == urls.bi_reader == external
        assert not (home / "pgdata").exists()
        simulator_start(s)
        month = date(2020, 1, 1)
        pipeline.run_month(s, month, _api(s))
        with psycopg.connect(external) as conn:
            n = conn.execute(
                "select count(*) from marts.mart_kpi_monthly where period_month = %s", (month,)
            ).fetchone()[0]
        assert n > 0
    finally:
        simulator_stop(s)
        shutil.rmtree(home, ignore_errors=True)
        os.environ.pop("CHISO_WAREHOUSE_URL", None)
