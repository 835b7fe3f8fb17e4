"""Warehouses for the tests: one embedded server per test run, a built warehouse made once.

Starting PostgreSQL and building a warehouse through the whole slice are the costly parts of
the end-to-end tests, so a test run pays for them once:

- **One server.** The first test that needs a database starts an embedded server in the run's
  root folder (``CHISO_TEST_ROOT``, made by the controlling pytest process and shared with the
  xdist workers); the controller stops and deletes it when the run ends. Each test module gets
  its own home and its own databases on it (``CHISO_SERVER_HOME``, ``CHISO_WAREHOUSE_DB``), so
  modules never see each other's data and can run in parallel.
- **One built warehouse.** The first module that needs history builds the template: the months
  of ``TEMPLATE_MONTHS`` through ingest, dbt, the gate and publication, as `chiso run-month`
  does. Every module that asks for a built warehouse gets a copy (``CREATE DATABASE … TEMPLATE``,
  a file copy of a few seconds) with the template home's key and reports.

Workers coordinate with file locks in the root folder: whoever comes first builds, the others
wait and reuse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.runtime import simulator
from chiso.runtime.embedded_postgres import EmbeddedPostgres
from chiso.runtime.secrets import role_passwords
from chiso.runtime.warehouse import ROLES, Urls, bootstrap, urls

ROOT_ENV = "CHISO_TEST_ROOT"
TEMPLATE = "template"
TEMPLATE_MONTHS = (date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1))
# the template closes each month with the simulator's clock at its close instant; the last
# one is where every copy of it stands
TEMPLATE_CLOSES = tuple(Cadence().close_instant(m) for m in TEMPLATE_MONTHS)
# files of a home that belong with its warehouse: the personal-data key (the template's staged
# rows are hashed with it) and what publication rendered (a home's other secrets, Airflow's and
# the simulator's, stay its own: services it already started use them)
HOME_FILES = ("secrets/pii.key", "reports", "site")
ENV_KEYS = (
    "CHISO_HOME", "CHISO_SERVER_HOME", "CHISO_WAREHOUSE_DB", "CHISO_AIRFLOW_DB",
    "CHISO_PG_PORT", "CHISO_SIMULATOR_PORT", "CHISO_AIRFLOW_PORT", "CHISO_DATA_DOCS",
    "CHISO_REPORT_FORMATS", "CHISO_REPORT_SCOPED", "CHISO_REPORT_FOLDER",
    "CHISO_REPORT_PROVINCES", "CHISO_BI_DB", "CHISO_BI_PORT",
    "CHISO_WAREHOUSE_URL",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root() -> Path:
    """The run's root folder (called once, by the controlling process).

    Not under pytest's tmp_path: another pytest session resets that tree to mode 0700, which
    would lock out the unprivileged user the server runs as under root.
    """
    root = Path(tempfile.mkdtemp(prefix="chiso-test-"))
    root.chmod(0o755)
    return root


def root() -> Path:
    if ROOT_ENV not in os.environ:  # a run without the conftest's controller (should not be)
        os.environ[ROOT_ENV] = str(make_root())
    return Path(os.environ[ROOT_ENV])


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process of the run."""
    with open(root() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def server_settings() -> Settings:
    home = root() / "server"
    return Settings(
        home=home, external_url=None, pg_port_hint=free_port(), airflow_port=0,
        simulator_port=0, server_home=home,
    )  # fmt: skip


def server_pidfile() -> Path:
    """The run's server's postmaster.pid (the timeline reads its CPU: tests/timeline.py)."""
    return server_settings().pgdata / "postmaster.pid"


def ensure_server() -> None:
    with file_lock("server"):
        settings = server_settings()
        # the run's server is thrown away after the run: nothing it holds needs to survive a
        # power cut, and flushing to disk costs the suite CPU (and time) it is short of
        EmbeddedPostgres(settings).start(durable=False)
        role_passwords(settings, ROLES)  # once, before any process reads them


def stop_server(run_root: Path) -> None:
    """Stop the run's server and delete the run's folder (the controller, at the end)."""
    os.environ[ROOT_ENV] = str(run_root)
    if (run_root / "server" / "postgres.json").exists():
        EmbeddedPostgres(server_settings()).stop()
    shutil.rmtree(run_root, ignore_errors=True)


@dataclass
class Env:
    """A home on the run's server with its own databases, as one test module sees it."""

    name: str
    settings: Settings
    urls: Urls


def _environment(name: str) -> dict[str, str]:
    home = root() / "homes" / name
    home.mkdir(parents=True, exist_ok=True)
    return {
        "CHISO_HOME": str(home),
        "CHISO_SERVER_HOME": str(root() / "server"),
        "CHISO_WAREHOUSE_DB": f"chiso_{name}",
        "CHISO_AIRFLOW_DB": f"chiso_airflow_{name}",
        "CHISO_SIMULATOR_PORT": str(free_port()),
        "CHISO_AIRFLOW_PORT": str(free_port()),
        "CHISO_BI_DB": f"chiso_superset_{name}",
        "CHISO_BI_PORT": str(free_port()),
        # rendered only where a test reads them (the docs-site test switches them on; the
        # template renders both for its copies)
        "CHISO_DATA_DOCS": "false",
        "CHISO_REPORT_FORMATS": "",
        "CHISO_REPORT_SCOPED": "false",
        # written where a test reads it (test_airflow_scheduler, the lineage of its closes):
        # elsewhere it would cost every build a parse of dbt's manifest
        "CHISO_LINEAGE": "off",
    }


@contextlib.contextmanager
def environment(name: str) -> Iterator[Settings]:
    """Point this process (and what it starts) at the named home, then restore the environment."""
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.pop("CHISO_WAREHOUSE_URL", None)
    os.environ.update(_environment(name))
    try:
        yield Settings.from_env()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _drop_databases(settings: Settings) -> None:
    admin = EmbeddedPostgres(settings).superuser_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        for db in (settings.warehouse_db, settings.airflow_db, settings.bi_db):
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db))
            )


def _template_ready() -> Path:
    return root() / "homes" / TEMPLATE / "built"


def ensure_template() -> Settings:
    """The built warehouse every copy starts from (built by the first process to ask)."""
    ensure_server()
    with file_lock(TEMPLATE), environment(TEMPLATE) as settings:
        if not _template_ready().exists():
            _build_template(settings)
            _template_ready().write_text(", ".join(f"{m:%Y-%m}" for m in TEMPLATE_MONTHS))
        return settings


def _build_template(settings: Settings) -> None:
    from chiso import pipeline

    # with GX Data Docs (which the docs-site test reads), once for every copy; the report's
    # workbook and each province's files are rendered by the tests that read them
    settings = dataclasses.replace(settings, data_docs=True)
    _drop_databases(settings)
    bootstrap(settings)
    simulator.start(settings)
    try:
        api = simulator.api_settings(settings)
        cadence = Cadence()  # the defaults, whatever the environment says
        for month in TEMPLATE_MONTHS:
            # each month closes with the sources as they stand at its close instant, and the
            # provinces' summary reports of the month in the inbox
            simulator.stand_at_close(settings, month, cadence.close_instant(month))
            pipeline.close_month(settings, month, api, cadence=cadence)
    finally:
        simulator.stop(settings)
    # Pools of this process (GX's SQLAlchemy engine) may still hold connections, and a
    # database is copied only while nobody is connected: close them, and keep it closed.
    admin = EmbeddedPostgres(settings).superuser_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        db = sql.Identifier(settings.warehouse_db)
        conn.execute(sql.SQL("alter database {} with allow_connections false").format(db))
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
            (settings.warehouse_db,),
        )


@contextlib.contextmanager
def fresh(name: str) -> Iterator[Env]:
    """An empty, bootstrapped warehouse in its own home (deleted afterwards)."""
    ensure_server()
    with environment(name) as settings:
        _drop_databases(settings)
        env = Env(name, settings, bootstrap(settings))
        try:
            yield env
        finally:
            teardown(env)


@contextlib.contextmanager
def built(name: str) -> Iterator[Env]:
    """A copy of the template warehouse (TEMPLATE_MONTHS built and published) in its own home."""
    ensure_template()
    with environment(name) as settings:
        _drop_databases(settings)
        env = Env(name, settings, urls(settings))
        try:
            replace_with_template(env)
            yield env
        finally:
            teardown(env)


def replace_with_template(env: Env) -> None:
    """Make `env`'s warehouse a copy of the template: its database and its home's files."""
    template = ensure_template()
    admin = EmbeddedPostgres(env.settings).superuser_url("postgres")
    with file_lock(TEMPLATE), psycopg.connect(admin, autocommit=True) as conn:
        db = sql.Identifier(env.settings.warehouse_db)
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(db))
        conn.execute(
            sql.SQL("create database {} template {} strategy file_copy").format(
                db, sql.Identifier(template.warehouse_db)
            )
        )
    for relative in HOME_FILES:
        source, target = template.home / relative, env.settings.home / relative
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env.urls = bootstrap(env.settings)


def teardown(env: Env) -> None:
    simulator.stop(env.settings)
    with contextlib.suppress(psycopg.Error):
        _drop_databases(env.settings)
    shutil.rmtree(env.settings.home, ignore_errors=True)


def build_template_in_background(log: Path) -> subprocess.Popen[bytes]:
    """Start building the template in a process of its own, so that the first modules that
    need it find it (nearly) ready while the workers run the tests that do not."""
    from chiso.core.config import REPO_ROOT

    return subprocess.Popen(
        [sys.executable, "-m", "tests.warehouses"],
        cwd=REPO_ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


MartRows = dict[tuple[str, str, str, date], tuple]


def read_mart(url: str, month: date | None = None) -> MartRows:
    """The published monthly mart keyed by (agency, indicator, calendar, month), as a BI tool
    reads it, so that tests can compare publications before and after a step."""
    query = (
        "select agency_code, indicator_code, calendar, period_month, numerator, denominator,"
        " value, published_at from marts.mart_kpi_monthly"
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            query + (" where period_month = %s" if month else ""), (month,) if month else ()
        ).fetchall()
    return {(a, i, c, m): (n, d, v, p) for a, i, c, m, n, d, v, p in rows}


if __name__ == "__main__":
    # pytest ends this process with SIGTERM when the run finishes before the template does:
    # exit through the finally blocks, so the simulator it started is stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_template()


def build_lock(url: str) -> tuple[int, int]:
    """(sessions holding, sessions waiting for) the dbt build lock of the warehouse `url`
    connects to (chiso.transform.dbt.BUILD_LOCK)."""
    from chiso.transform.dbt import BUILD_LOCK

    with psycopg.connect(url) as conn:
        return conn.execute(  # type: ignore[return-value]
            "select count(*) filter (where granted), count(*) filter (where not granted)"
            " from pg_locks where locktype = 'advisory'"
            " and database = (select oid from pg_database where datname = current_database())"
            " and ((classid::bigint << 32) | objid::bigint) = hashtext(%s)::bigint",
            (BUILD_LOCK,),
        ).fetchone()
