"""Apache Superset for the leaders' dashboard: its environment, metadata database and server.

Superset lives in a virtualenv of its own (``.venv-superset``, made by `make setup` from
infra/superset/requirements.txt), because its pins fight Airflow's; chiso runs its programs,
never imports it. Its metadata (users, the dashboard) is a database of the warehouse's
server, ``chiso_superset``, owned by the role ``chiso_superset``. Its configuration is
infra/superset/superset_config.py, which takes everything deployment-specific from the
environment given here.

`up` prepares it (migrations, the admin, roles: infra/superset/prepare.py), imports the
dashboard kept as code in infra/superset/dashboard/ (the connection filled in with this
deployment's warehouse and its BI reader, no password: Superset asks the configuration for
it at each connection), then starts gunicorn on 127.0.0.1 and waits for `/health`.

The admin's password is generated once per home (`chiso bi password` prints it); Superset's
secret key too. Neither is ever on a command line or in a file Superset writes.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import psycopg
import yaml

from chiso.core.config import REPO_ROOT, Settings
from chiso.core.environment import inherited
from chiso.core.files import replace_atomically
from chiso.runtime.processes import alive, stop_groups
from chiso.runtime.secrets import home_secret
from chiso.runtime.warehouse import ensure_owned_database, sqlalchemy_url, urls

VENV = REPO_ROOT / ".venv-superset"
INFRA = REPO_ROOT / "infra" / "superset"
CONFIG_FILE = INFRA / "superset_config.py"
PREPARE = INFRA / "prepare.py"
DASHBOARD = INFRA / "dashboard"
DASHBOARD_SLUG = "chiso-lanh-dao"
ADMIN_USER = "admin"
# the database connection of the bundle, filled in per deployment
DATABASE_FILE = "databases/chiso_marts.yaml"
DASHBOARD_FILE = "dashboards/chiso_lanh_dao.yaml"
# the filter whose default is the deployment's province
PROVINCE_COLUMN = "province_name"
# gunicorn: a leaders' dashboard has few readers at once; each worker holds ~330 MB
WORKERS_ENV = "CHISO_BI_WORKERS"


class SupersetError(RuntimeError):
    """Superset could not be prepared or did not come up."""


def installed() -> bool:
    return (VENV / "bin" / "superset").exists()


def admin_password(settings: Settings) -> str:
    """The password of Superset's ``admin`` (generated once per home)."""
    return home_secret(settings, "superset_admin_password")


def url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.bi_port}"


def dashboard_url(settings: Settings) -> str:
    return f"{url(settings)}/superset/dashboard/{DASHBOARD_SLUG}/"


def superset_env(settings: Settings) -> dict[str, str]:
    """Environment of Superset's processes: the configuration's inputs and no other secret
    of the shell (the warehouse's admin URL, the personal-data key stay out)."""
    roles = urls(settings)
    reader = urlsplit(roles.bi_reader)
    return {
        **inherited(),
        "SUPERSET_CONFIG_PATH": str(CONFIG_FILE),
        "SUPERSET_HOME": str(settings.bi_home),
        "FLASK_APP": "superset",
        "CHISO_SUPERSET_METADATA_URL": sqlalchemy_url(roles.bi_metadata, "psycopg2"),
        "CHISO_SUPERSET_SECRET_KEY": home_secret(settings, "superset_secret_key"),
        "CHISO_SUPERSET_WAREHOUSE_USER": unquote(reader.username or ""),
        "CHISO_SUPERSET_WAREHOUSE_PASSWORD": unquote(reader.password or ""),
        "PATH": os.pathsep.join([str(VENV / "bin"), os.environ.get("PATH", "")]),
        "NO_PROXY": "*",
    }


def warehouse_uri(settings: Settings) -> str:
    """The dashboard's connection: the BI reader's URL for SQLAlchemy, without its password."""
    parts = urlsplit(sqlalchemy_url(urls(settings).bi_reader, "psycopg2"))
    host = parts.hostname or "127.0.0.1"
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def default_province(settings: Settings) -> str | None:
    """The province the dashboard opens on: the deployment's own (the first of
    CHISO_REPORT_PROVINCES), else the one with the most agencies in the latest published
    month; None before any publication."""
    query = (
        "select province_code, province_name from marts.mart_kpi_monthly"
        " where period_month = (select max(period_month) from marts.kpi_publications"
        " where is_current)"
        " group by province_code, province_name"
        " order by count(distinct agency_key) desc, province_name"
    )
    try:
        with psycopg.connect(urls(settings).bi_reader) as conn:
            provinces = conn.execute(query).fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    names = dict(provinces)
    for code in settings.report_provinces or ():
        if code in names:
            return names[code]
    return provinces[0][1] if provinces else None


def _with_province(text: str, province: str | None) -> str:
    """The dashboard's YAML with `province` as its province filter's default (without one
    it keeps Superset's "first value", which Superset 6.1 shows but does not apply)."""
    if province is None:
        return text
    config = yaml.safe_load(text)
    for native in config["metadata"]["native_filter_configuration"]:
        if native["targets"][0]["column"]["name"] == PROVINCE_COLUMN:
            native["controlValues"]["defaultToFirstItem"] = False
            native["defaultDataMask"] = {
                "extraFormData": {
                    "filters": [{"col": PROVINCE_COLUMN, "op": "IN", "val": [province]}]
                },
                "filterState": {"value": [province]},
                "ownState": {},
            }
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def bundle(settings: Settings, province: str | None) -> bytes:
    """The dashboard kept as code (infra/superset/dashboard/), as the zip Superset imports,
    with this deployment's connection and `province` as the province filter's default."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(DASHBOARD.rglob("*.yaml")):
            name = path.relative_to(DASHBOARD).as_posix()
            text = path.read_text(encoding="utf-8")
            if name == DATABASE_FILE:
                config = yaml.safe_load(text)
                config["sqlalchemy_uri"] = warehouse_uri(settings)
                text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
            elif name == DASHBOARD_FILE:
                text = _with_province(text, province)
            # a fixed time: the same dashboard and deployment give the same bytes
            info = zipfile.ZipInfo(f"chiso_dashboard/{name}", date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info, text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def prepare(settings: Settings, timeout: float = 600) -> None:
    """Superset's metadata database migrated, its admin and roles, the dashboard imported."""
    if not installed():
        raise SupersetError(f"Superset is not installed in {VENV}: run `make setup`")
    if not settings.external_url:
        ensure_owned_database(settings, settings.bi_db, "superset")
    settings.bi_home.mkdir(parents=True, exist_ok=True)
    settings.ensure_dirs()
    path = settings.bi_home / "dashboard.zip"
    replace_atomically(path, bundle(settings, default_province(settings)), 0o644)
    env = {**superset_env(settings), "CHISO_SUPERSET_ADMIN_PASSWORD": admin_password(settings)}
    log = settings.log_dir / "superset-prepare.log"
    with log.open("ab") as out:
        proc = subprocess.run(
            [str(VENV / "bin" / "python"), str(PREPARE), str(path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            cwd=settings.bi_home,
            check=False,
        )
    if proc.returncode != 0:
        raise SupersetError(f"Superset's preparation failed; see {log}")


def _pidfile(settings: Settings) -> Path:
    return settings.run_dir / "superset.pid"


def pid(settings: Settings) -> int | None:
    """The server's pid, when it runs."""
    path = _pidfile(settings)
    if not path.exists():
        return None
    value = int(path.read_text())
    return value if alive(value) else None


def down(settings: Settings, timeout: float = 30) -> None:
    """Stop the server this home started (also one left by an interrupted run)."""
    running = pid(settings)
    if running:
        stop_groups([running], timeout)
    _pidfile(settings).unlink(missing_ok=True)


def serve(settings: Settings, timeout: float = 180) -> str:
    """Start gunicorn with Superset on 127.0.0.1 and wait until it answers `/health`."""
    down(settings)
    settings.ensure_dirs()
    workers = os.environ.get(WORKERS_ENV) or "2"
    args = [
        str(VENV / "bin" / "gunicorn"),
        "--workers", workers, "--threads", "4", "--worker-class", "gthread",
        "--timeout", "120", "--bind", f"127.0.0.1:{settings.bi_port}",
        "--access-logfile", "-", "superset.app:create_app()",
    ]  # fmt: skip
    log = (settings.log_dir / "superset.log").open("ab")
    with log:
        proc = subprocess.Popen(
            args,
            env=superset_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=settings.bi_home,
        )
    _pidfile(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc.pid):
            raise SupersetError(f"Superset exited; see {settings.log_dir}/superset.log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url(settings)}/health", timeout=2).status_code == 200:
                return url(settings)
        time.sleep(0.5)
    raise SupersetError(f"Superset did not answer on {url(settings)} within {timeout:.0f}s")


def up(settings: Settings) -> str:
    """Prepare Superset, import the dashboard and serve it; returns the dashboard's URL."""
    down(settings)
    prepare(settings)
    serve(settings)
    return dashboard_url(settings)
