"""A real Airflow 3 for the project: environment, services, and waiting on runs.

AIRFLOW_HOME lives under CHISO_HOME; the metadata database is `chiso_airflow` on the warehouse
server; the executor is LocalExecutor. Airflow 3 tasks talk to the api-server's execution API,
so the api-server, scheduler, dag-processor and triggerer are started together, and share one
JWT secret (generated once, kept in CHISO_HOME/secrets).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg

from chiso.config import DAGS_DIR, REPO_ROOT, Settings
from chiso.db.bootstrap import sqlalchemy_url, urls

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
DAG_ID = "monthly_kpi"


class AirflowError(RuntimeError):
    """An Airflow service or run did not behave as expected."""


def _secret(settings: Settings, name: str) -> str:
    settings.ensure_dirs()
    path = settings.secrets_dir / "airflow.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    if name not in data:
        data[name] = secrets.token_urlsafe(32)
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
    return data[name]


def simulator_token(settings: Settings) -> str:
    """Bearer token of the local one-stop simulator (a demo secret, never committed)."""
    return _secret(settings, "one_stop_simulator_token")


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every Airflow process and CLI call of this project."""
    port = settings.airflow_port
    systems = {
        "one_stop": "One-stop system API",
        "documents": "Document-management system API",
        "portal": "Public-service portal API",
    }
    # In the demo all three systems are the local simulator; a province points each
    # connection at its vendor's system (AIRFLOW_CONN_CHISO_<SOURCE>_API or the UI).
    api_conns = {
        f"AIRFLOW_CONN_CHISO_{source.upper()}_API": json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": settings.simulator_port,
                "schema": "http",
                "password": simulator_token(settings),
                "description": f"{label} (local simulator in the demo)",
            }
        )
        for source, label in systems.items()
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(settings.airflow_home),
        "CHISO_HOME": str(settings.home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(
            urls(settings).airflow_metadata, "psycopg2"
        ),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": _secret(settings, "api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(settings, "jwt_secret"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
        # Scheduled (cron) runs are off by default: the demo's source data is a fixed past
        # period, run through backfills. Production sets CHISO_AIRFLOW_SCHEDULED_RUNS=True.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": os.environ.get(
            "CHISO_AIRFLOW_SCHEDULED_RUNS", "False"
        ),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        **{k: v for k, v in api_conns.items() if k not in os.environ},
        "GX_ANALYTICS_ENABLED": "false",
        "NO_PROXY": "*",
    }
    return env


def airflow_cli(settings: Settings, *args: str, check: bool = True, timeout: float = 600) -> str:
    cmd = [str(Path(sys.executable).with_name("airflow")), *args]
    proc = subprocess.run(
        cmd,
        env=airflow_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )
    if check and proc.returncode != 0:
        raise AirflowError(
            f"airflow {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def migrate(settings: Settings) -> None:
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    airflow_cli(settings, "db", "migrate")


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int | None
    alive: bool


def _pidfile(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"airflow-{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of this process counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def status(settings: Settings) -> list[ServiceState]:
    out = []
    for name in SERVICES:
        pf = _pidfile(settings, name)
        pid = int(pf.read_text()) if pf.exists() else None
        out.append(ServiceState(name, pid, bool(pid and _alive(pid))))
    return out


def down(settings: Settings, timeout: float = 30) -> None:
    """Stop every service this project started (also ones left by an interrupted run)."""
    for st in status(settings):
        if st.pid and st.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(st.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for st in status(settings):
        while st.pid and _alive(st.pid) and time.monotonic() < deadline:
            time.sleep(0.3)
        if st.pid and _alive(st.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(st.pid, signal.SIGKILL)
        _pidfile(settings, st.name).unlink(missing_ok=True)


def up(settings: Settings, timeout: float = 180) -> str:
    """Start the four services in the background and wait until the API answers."""
    down(settings)
    migrate(settings)
    env = airflow_env(settings)
    exe = str(Path(sys.executable).with_name("airflow"))
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        args = [exe, name]
        if name == "api-server":
            args += ["--port", str(settings.airflow_port), "--host", "127.0.0.1"]
        log = open(settings.log_dir / f"airflow-{name}.log", "ab")  # noqa: SIM115 (child owns it)
        proc = subprocess.Popen(
            args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
        _pidfile(settings, name).write_text(str(proc.pid))
    url = f"http://127.0.0.1:{settings.airflow_port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [s.name for s in status(settings) if not s.alive]
        if dead:
            raise AirflowError(
                f"Airflow {', '.join(dead)} exited; see {settings.log_dir}/airflow-*.log"
            )
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AirflowError(f"Airflow API did not answer on {url} within {timeout:.0f}s")


def _metadata(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(urls(settings).airflow_metadata, autocommit=True)


def wait_for_dag(settings: Settings, dag_id: str = DAG_ID, timeout: float = 180) -> None:
    """Wait until the dag-processor has parsed and stored the DAG."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _metadata(settings) as conn:
            row = conn.execute(
                "select 1 from serialized_dag where dag_id = %s", (dag_id,)
            ).fetchone()
            errors = conn.execute("select filename, stacktrace from import_error").fetchall()
        if errors:
            raise AirflowError("DAG import errors:\n" + "\n".join(f"{f}: {e}" for f, e in errors))
        if row:
            return
        time.sleep(2)
    raise AirflowError(f"DAG {dag_id} was not parsed within {timeout:.0f}s")


def reset_dag(settings: Settings, dag_id: str = DAG_ID) -> None:
    """Forget earlier runs of the DAG (runs, task instances, backfills).

    An interrupted demo leaves runs `running` and a backfill open, which would block a new
    backfill for the same months; the warehouse side is idempotent, so starting the
    orchestration history afresh is safe. The dag-processor re-registers the DAG.
    """
    with _metadata(settings) as conn:
        known = conn.execute("select 1 from dag where dag_id = %s", (dag_id,)).fetchone()
        # Runs whose processes were killed stay `running` and `dags delete` refuses them;
        # the demo owns these runs, so close them as failed first.
        conn.execute(
            "update task_instance set state = 'failed' where dag_id = %s and state in"
            " ('running', 'queued', 'scheduled', 'up_for_retry', 'up_for_reschedule',"
            " 'restarting', 'deferred')",
            (dag_id,),
        )
        conn.execute(
            "update dag_run set state = 'failed' where dag_id = %s and state in"
            " ('running', 'queued')",
            (dag_id,),
        )
    if known:
        airflow_cli(settings, "dags", "delete", dag_id, "--yes")


def backfill(settings: Settings, first: date, last: date, dag_id: str = DAG_ID) -> None:
    """Create runs for the months first..last; the scheduler executes them one at a time."""
    airflow_cli(settings, "dags", "unpause", dag_id)
    airflow_cli(
        settings,
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        "--max-active-runs",
        "1",
        "--reprocess-behavior",
        "completed",
    )


def run_states(settings: Settings, dag_id: str = DAG_ID) -> dict[date, str]:
    """State of the latest run per month (the month is the run's data interval start)."""
    with _metadata(settings) as conn:
        rows = conn.execute(
            "select distinct on (month) month, state from ("
            "  select (data_interval_start at time zone 'Asia/Ho_Chi_Minh')::date as month,"
            "         state, run_after from dag_run where dag_id = %s) r"
            " order by month, run_after desc",
            (dag_id,),
        ).fetchall()
    return {m: s for m, s in rows}


def failed_tasks(settings: Settings, dag_id: str = DAG_ID) -> list[tuple[str, str]]:
    with _metadata(settings) as conn:
        return conn.execute(
            "select run_id, task_id from task_instance where dag_id = %s and state = 'failed'",
            (dag_id,),
        ).fetchall()


def run_months(
    settings: Settings, months: list[date], dag_id: str = DAG_ID, on_progress=None
) -> dict[date, str]:
    """Start Airflow if needed and run the DAG for `months` through the scheduler."""
    if not all(st.alive for st in status(settings)):
        up(settings)
    reset_dag(settings, dag_id)
    wait_for_dag(settings, dag_id)
    backfill(settings, months[0], months[-1], dag_id)
    return wait_for_months(settings, months, dag_id, on_progress=on_progress)


def wait_for_months(
    settings: Settings,
    months: list[date],
    dag_id: str = DAG_ID,
    timeout: float = 1800,
    on_progress=None,
) -> dict[date, str]:
    """Block until every month's run has finished; returns the final states."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = run_states(settings, dag_id)
        mine = {m: states.get(m) for m in months}
        if on_progress:
            on_progress(mine)
        if all(s in ("success", "failed") for s in mine.values()):
            return mine
        dead = [s.name for s in status(settings) if not s.alive]
        if dead:
            raise AirflowError(
                f"Airflow {', '.join(dead)} exited; see {settings.log_dir}/airflow-*.log"
            )
        time.sleep(3)
    raise AirflowError(f"runs did not finish within {timeout:.0f}s: {run_states(settings, dag_id)}")
