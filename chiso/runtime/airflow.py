"""A real Airflow 3 for the project: its environment, CLI and services.

AIRFLOW_HOME lives under CHISO_HOME; the metadata database is `chiso_airflow` on the warehouse
server. Airflow 3 tasks talk to the api-server's execution API, so the api-server, scheduler,
dag-processor and triggerer are started together, and share one JWT secret (generated once,
kept in CHISO_HOME/secrets).

The executor is LocalExecutor, or Airflow's CeleryExecutor with ``CHISO_AIRFLOW_EXECUTOR=
CeleryExecutor``: then ``CHISO_CELERY_BROKER_URL`` names the broker (Redis), the results go to
the metadata database, and `up` starts ``CHISO_CELERY_WORKERS`` workers (2) on this machine
beside the other services, each with its own Celery node name, log-server port and the name
its task instances record as their host (worker1, worker2 …; chiso/runtime/worker_name.py).
Workers on other machines run `chiso-airflow celery worker` with the same environment
(docs/deploy.md). Every service starts through `chiso-airflow`, Airflow's command line with
chiso's task code loaded first where task processes are forked (the scheduler, Celery workers:
chiso/orchestration/task_host.py).

Its UI and REST API require a login, the demo's included: the simple auth manager with one
user, ``admin``, whose password chiso generates once into CHISO_HOME/secrets (`chiso airflow
password` prints it) and writes into the manager's passwords file there, so Airflow never
generates one itself (it would print it into its log). chiso's own client logs in with it
(chiso/orchestration/airflow.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from chiso.core.config import DAGS_DIR, REPO_ROOT, Settings
from chiso.core.environment import inherited, is_secret_name
from chiso.runtime import lineage
from chiso.runtime.processes import alive, stop_groups
from chiso.runtime.secrets import home_secret, simulator_token, write_private
from chiso.runtime.warehouse import sqlalchemy_url, urls
from chiso.sources.systems import api_conn_id, source_provinces

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# the command the services run: `airflow`, preloading chiso's task code where tasks fork
TASK_HOST = "chiso-airflow"
CELERY = "CeleryExecutor"
# each Celery worker's log server (Airflow's default 8793 for the first)
WORKER_LOG_PORT = 8793
# secrets Airflow's processes inherit: their own configuration and connections, and the
# project's settings their tasks read (an external warehouse's URL, the personal-data key)
CHILD_SECRETS = ("AIRFLOW*", "CHISO_*")
# Airflow's settings that hold a secret, and the name `chiso airflow secret` knows each by:
# `chiso airflow env` prints an AIRFLOW__…_CMD for each (Airflow runs the command when it
# needs the value), so the printed environment carries none of them
SECRET_SETTINGS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sql_alchemy_conn",
    "AIRFLOW__API__SECRET_KEY": "api_secret_key",
    "AIRFLOW__API_AUTH__JWT_SECRET": "jwt_secret",
}


ADMIN_USER = "admin"
PASSWORDS_FILE = "airflow_passwords.json"


class AirflowError(RuntimeError):
    """An Airflow service or run did not behave as expected."""


def executor() -> str:
    return os.environ.get("CHISO_AIRFLOW_EXECUTOR") or "LocalExecutor"


def celery_workers() -> int:
    """How many Celery workers `up` starts here (none with LocalExecutor)."""
    if executor() != CELERY:
        return 0
    return int(os.environ.get("CHISO_CELERY_WORKERS") or 2)


def services() -> tuple[str, ...]:
    """The processes `up` starts: Airflow's four, and the Celery workers."""
    return (*SERVICES, *(f"celery-worker{i}" for i in range(1, celery_workers() + 1)))


def _lineage_env(settings: Settings) -> dict[str, str]:
    """The OpenLineage provider's settings: chiso's transport and namespace, or lineage off;
    an operator's own AIRFLOW__OPENLINEAGE__* wins."""
    if not lineage.enabled():
        return {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    lineage.folder(settings).mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW__OPENLINEAGE__NAMESPACE": os.environ.get(
            "AIRFLOW__OPENLINEAGE__NAMESPACE", lineage.NAMESPACE
        ),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": os.environ.get(
            "AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(lineage.transport(settings, "airflow"))
        ),
    }


def _celery_env(settings: Settings) -> dict[str, str]:
    if executor() != CELERY:
        return {}
    broker = os.environ.get("CHISO_CELERY_BROKER_URL")
    if not broker:
        raise AirflowError("CeleryExecutor needs CHISO_CELERY_BROKER_URL (redis://host:port/0)")
    metadata = sqlalchemy_url(urls(settings).airflow_metadata, "psycopg2")
    return {
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
        # Celery's default (16 per worker) is far more dbt builds than two cores hold
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get(
            "AIRFLOW__CELERY__WORKER_CONCURRENCY", "2"
        ),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "chiso.runtime.worker_name.hostname",
    }


def admin_password(settings: Settings) -> str:
    """The password of Airflow's ``admin`` (generated once per home)."""
    return home_secret(settings, "airflow_admin_password")


def passwords_file(settings: Settings) -> Path:
    """The simple auth manager's passwords file (``{"admin": "…"}``, mode 0600), written by
    chiso before Airflow reads it: a user already in it gets no password generated (and
    printed into a log) by Airflow."""
    path = settings.secrets_dir / PASSWORDS_FILE
    wanted = json.dumps({ADMIN_USER: admin_password(settings)})
    if not path.exists() or path.read_text().strip() != wanted:
        write_private(path, wanted + "\n")
    return path


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every Airflow process and CLI call of this project."""
    port = settings.airflow_port
    systems = {
        "one_stop": "One-stop system API",
        "documents": "Document-management system API",
        "portal": "Public-service portal API",
    }
    # In the demo all three systems are the local simulator; a province points each
    # connection at its vendor's system (AIRFLOW_CONN_CHISO_<SOURCE>_API or the UI). A
    # deployment of several provinces has one per province's installation, which the
    # simulator serves under /provinces/<code>.
    api_conns = {
        f"AIRFLOW_CONN_{api_conn_id(source, province).upper()}": json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1" + (f"/provinces/{province}" if province else ""),
                "port": settings.simulator_port,
                "schema": "http",
                "password": simulator_token(settings),
                "description": f"{label}{f' of province {province}' if province else ''}"
                " (local simulator in the demo)",
            }
        )
        for source, label in systems.items()
        for province in source_provinces() or (None,)
    }
    env = {
        # the project's and Airflow's own settings, secrets included (the tasks connect with
        # them), and no other secret of the shell that started it
        **inherited(keep=CHILD_SECRETS),
        "AIRFLOW_HOME": str(settings.airflow_home),
        "CHISO_HOME": str(settings.home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__EXECUTOR": executor(),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # a login for the UI and the API, the demo's included (module docstring)
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(
            urls(settings).airflow_metadata, "psycopg2"
        ),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": home_secret(settings, "api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": home_secret(settings, "jwt_secret"),
        # how often the DAG folder is listed and a DAG file parsed again (the environment's
        # own AIRFLOW__* value wins: the test suite parses more often)
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": os.environ.get(
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30"
        ),
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": os.environ.get(
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL", "30"
        ),
        # Cron runs are off by default: the demo's source data is a fixed past period, run
        # through backfills. Production sets CHISO_AIRFLOW_SCHEDULED_RUNS=True. The scheduler
        # itself always creates runs: the DAGs' timetable offers it none while the switch is
        # off (chiso/orchestration/schedule.py), and the runs assets trigger go on.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
        "CHISO_AIRFLOW_SCHEDULED_RUNS": os.environ.get("CHISO_AIRFLOW_SCHEDULED_RUNS", "False"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # OpenLineage events of every DAG run and task run (docs/lineage.md)
        **_lineage_env(settings),
        **{k: v for k, v in api_conns.items() if k not in os.environ},
        **_celery_env(settings),
        "GX_ANALYTICS_ENABLED": "false",
        "NO_PROXY": "*",
    }
    return env


def shell_env(settings: Settings) -> dict[str, str]:
    """What `chiso airflow env` prints for a shell to run the `airflow` CLI on this project's
    Airflow: its settings, with every secret one read by Airflow through a command
    (``AIRFLOW__…_CMD``) rather than printed. Nothing else of the environment (the services'
    connections, which carry API tokens, stay the services' own)."""
    full = airflow_env(settings)
    chiso = str(Path(sys.executable).with_name("chiso"))
    out = {
        k: v
        for k, v in full.items()
        if k in ("AIRFLOW_HOME", "CHISO_HOME", "PYTHONPATH")
        or (k.startswith("AIRFLOW__") and not is_secret_name(k) and k not in SECRET_SETTINGS)
    }
    for name, alias in SECRET_SETTINGS.items():
        out[f"{name}_CMD"] = f"{chiso} airflow secret {alias}"
    return out


def secret_setting(settings: Settings, alias: str) -> str:
    """The value of one of SECRET_SETTINGS, for Airflow's ``_CMD`` to read."""
    names = {v: k for k, v in SECRET_SETTINGS.items()}
    return airflow_env(settings)[names[alias]]


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


def status(settings: Settings) -> list[ServiceState]:
    """Each service `up` starts, and any worker an earlier `up` started and left running."""
    left = {p.name[len("airflow-") : -len(".pid")] for p in
            settings.run_dir.glob("airflow-celery-worker*.pid")}  # fmt: skip
    out = []
    for name in sorted(set(services()) | left, key=_order):
        pf = _pidfile(settings, name)
        pid = int(pf.read_text()) if pf.exists() else None
        out.append(ServiceState(name, pid, bool(pid and alive(pid))))
    return out


def _order(name: str) -> tuple[int, str]:
    return (SERVICES.index(name), "") if name in SERVICES else (len(SERVICES), name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def down(settings: Settings, timeout: float = 30) -> None:
    """Stop every service this project started (also ones left by an interrupted run)."""
    states = status(settings)
    stop_groups([st.pid for st in states if st.pid], timeout)
    for st in states:
        _pidfile(settings, st.name).unlink(missing_ok=True)


def up(settings: Settings, timeout: float = 180) -> str:
    """Start the services in the background and wait until the API answers."""
    down(settings)
    migrate(settings)
    env = airflow_env(settings)
    # Airflow's CLI, with the task code loaded first in the processes that fork the tasks
    # (chiso/orchestration/task_host.py): a task process then imports nothing of its own
    exe = str(Path(sys.executable).with_name(TASK_HOST))
    settings.ensure_dirs()
    for name in services():
        args, own = [exe, name], {}
        if name == "api-server":
            args += ["--port", str(settings.airflow_port), "--host", "127.0.0.1"]
        elif name.startswith("celery-worker"):
            worker = name.removeprefix("celery-")
            # its own Celery node, log server and host name for the task instances it runs
            args = [exe, "celery", "worker", "--celery-hostname", f"{worker}@%h"]
            own = {"CHISO_WORKER_NAME": worker,
                   "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port())}  # fmt: skip
        log = open(settings.log_dir / f"airflow-{name}.log", "ab")  # noqa: SIM115 (child owns it)
        proc = subprocess.Popen(
            args,
            env={**env, **own},
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
