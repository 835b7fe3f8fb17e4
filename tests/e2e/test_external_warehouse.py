"""With CHISO_WAREHOUSE_URL set, the same code runs against that server and starts none."""

from __future__ import annotations

import shutil
from datetime import date

import psycopg
import pytest

from chiso import pipeline
from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.runtime import simulator
from chiso.runtime.warehouse import bootstrap
from tests.warehouses import free_port

pytestmark = pytest.mark.e2e

APRIL = date(2020, 4, 1)


def test_slice_runs_against_an_external_server(built_env, monkeypatch, tmp_path):
    """An operator's server holding a warehouse with three months of history: bootstrap only
    checks the control plane, and the next month runs through the whole slice with the
    operator's URL for every part."""
    external = built_env.urls.admin  # a server this process did not start in its own home
    home = tmp_path / "home"
    # the warehouse's personal-data key goes with it (its staged rows are hashed with it)
    (home / "secrets").mkdir(parents=True)
    shutil.copy2(built_env.settings.secrets_dir / "pii.key", home / "secrets" / "pii.key")
    monkeypatch.setenv("CHISO_HOME", str(home))
    monkeypatch.setenv("CHISO_WAREHOUSE_URL", external)
    monkeypatch.delenv("CHISO_SERVER_HOME")
    monkeypatch.setenv("CHISO_SIMULATOR_PORT", str(free_port()))
    s = Settings.from_env()
    try:
        urls = bootstrap(s)
        assert urls.transformer == urls.loader == urls.bi_reader == external
        assert not (home / "pgdata").exists()
        simulator.start(s)
        simulator.set_clock(s, Cadence().close_instant(APRIL))
        pipeline.run_month(s, APRIL, simulator.api_settings(s))
        with psycopg.connect(external) as conn:
            n = conn.execute(
                "select count(*) from marts.mart_kpi_monthly where period_month = %s", (APRIL,)
            ).fetchone()[0]
            applied = conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
        assert n > 0
        assert applied >= 5
    finally:
        simulator.stop(s)
