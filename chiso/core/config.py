"""Where chiso keeps its state and how it reaches the warehouse.

Everything mutable lives under one directory, ``CHISO_HOME`` (default ``<repo>/.var``,
git-ignored), so a test run can point at a throwaway directory and never touch the demo's data.

The embedded PostgreSQL server (its data directory, port and role passwords) lives in
``CHISO_SERVER_HOME``, by default the same directory. Several homes can share one embedded
server by pointing ``CHISO_SERVER_HOME`` at it and naming their own databases
(``CHISO_WAREHOUSE_DB``, ``CHISO_AIRFLOW_DB``): a second warehouse for trying a change beside
the demo's, and the test suite, which starts one server for all its warehouses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGS_DIR = REPO_ROOT / "dags"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# the project's reference files (chiso/reference/files.py); a deployment has its own copy
REFERENCE_DIR = REPO_ROOT / "reference"


def project_csv(name: str) -> Path:
    """A CSV of the project by name: a reference file (reference/) or a seed of the product's
    catalogue (dbt_project/seeds/: the indicators, the QĐ 766 items)."""
    reference = REFERENCE_DIR / name
    return reference if reference.exists() else SEEDS_DIR / name


DOCS_DIR = REPO_ROOT / "docs"

DEFAULT_WAREHOUSE_DB = "chiso"
DEFAULT_AIRFLOW_DB = "chiso_airflow"
DEFAULT_BI_DB = "chiso_superset"


def _path(value: str | os.PathLike[str]) -> Path:
    return Path(value).expanduser().resolve()


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _formats(value: str | None) -> tuple[str, ...]:
    """A comma-separated list (None: the report's default formats)."""
    if value is None:
        return ("html", "xlsx", "pdf")
    return tuple(f.strip().lower() for f in value.split(",") if f.strip())


@dataclass(frozen=True)
class Settings:
    """Paths and connection choices, resolved from the environment once per process."""

    home: Path
    external_url: str | None
    pg_port_hint: int
    airflow_port: int
    simulator_port: int
    server_home: Path | None = None
    warehouse_db: str = DEFAULT_WAREHOUSE_DB
    airflow_db: str = DEFAULT_AIRFLOW_DB
    # GX Data Docs rendered after every validation (CHISO_DATA_DOCS=false skips them)
    data_docs: bool = True
    # The report's formats besides the overview page (CHISO_REPORT_FORMATS, comma-separated
    # html, xlsx, pdf; empty: the overview page only) and whether each province and tier gets
    # its own files, delivered (CHISO_REPORT_SCOPED; chiso/report/render.py)
    report_formats: tuple[str, ...] = ("html", "xlsx", "pdf")
    report_scoped: bool = True
    # The provinces (codes) that get files of their own (CHISO_REPORT_PROVINCES, comma-
    # separated; unset or empty: every province of the month): a province's deployment
    # reports its own
    report_provinces: tuple[str, ...] | None = None
    # An inbox file modified in the last N seconds may still be being written (an SFTP
    # upload, a copy): it waits for the next run (CHISO_INBOX_SETTLE_SECONDS)
    inbox_settle_seconds: float = 60.0
    # Where the sender writes a marker when a file is complete (e.g. ".done": `x.csv` waits
    # until `x.csv.done` exists; CHISO_INBOX_DONE_MARKER), none by default
    inbox_done_marker: str | None = None
    # How long raw, the archive and the quarantine keep personal data, in months
    # (CHISO_PERSONAL_DATA_MONTHS; `chiso privacy retain`): a deployment's decision under its
    # records schedule, 24 by default
    personal_data_months: int = 24
    # Apache Superset, the leaders' dashboard (`chiso bi up`): its port (CHISO_BI_PORT) and
    # its metadata database on the warehouse's server (CHISO_BI_DB)
    bi_port: int = 8088
    bi_db: str = DEFAULT_BI_DB
    # The embedded server's memory (CHISO_PG_SHARED_BUFFERS, CHISO_PG_WORK_MEM, in
    # PostgreSQL's units, e.g. 512MB); unset: chiso/runtime/embedded_postgres.py decides
    pg_shared_buffers: str | None = None
    pg_work_mem: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        home = _path(os.environ.get("CHISO_HOME", REPO_ROOT / ".var"))
        server_home = os.environ.get("CHISO_SERVER_HOME")
        return cls(
            home=home,
            external_url=os.environ.get("CHISO_WAREHOUSE_URL") or None,
            pg_port_hint=int(os.environ.get("CHISO_PG_PORT", "54329")),
            airflow_port=int(os.environ.get("CHISO_AIRFLOW_PORT", "8080")),
            simulator_port=int(os.environ.get("CHISO_SIMULATOR_PORT", "8765")),
            server_home=_path(server_home) if server_home else None,
            warehouse_db=os.environ.get("CHISO_WAREHOUSE_DB") or DEFAULT_WAREHOUSE_DB,
            airflow_db=os.environ.get("CHISO_AIRFLOW_DB") or DEFAULT_AIRFLOW_DB,
            data_docs=_flag("CHISO_DATA_DOCS", True),
            report_formats=_formats(os.environ.get("CHISO_REPORT_FORMATS")),
            report_scoped=_flag("CHISO_REPORT_SCOPED", True),
            report_provinces=_formats(os.environ.get("CHISO_REPORT_PROVINCES") or "") or None,
            inbox_settle_seconds=float(os.environ.get("CHISO_INBOX_SETTLE_SECONDS") or 60),
            inbox_done_marker=os.environ.get("CHISO_INBOX_DONE_MARKER") or None,
            personal_data_months=int(os.environ.get("CHISO_PERSONAL_DATA_MONTHS") or 24),
            bi_port=int(os.environ.get("CHISO_BI_PORT") or 8088),
            bi_db=os.environ.get("CHISO_BI_DB") or DEFAULT_BI_DB,
            pg_shared_buffers=os.environ.get("CHISO_PG_SHARED_BUFFERS") or None,
            pg_work_mem=os.environ.get("CHISO_PG_WORK_MEM") or None,
        )

    @property
    def server_dir(self) -> Path:
        """Where the embedded server keeps its data, state, socket, log and role passwords."""
        return self.server_home or self.home

    @property
    def pgdata(self) -> Path:
        return self.server_dir / "pgdata"

    @property
    def server_run_dir(self) -> Path:
        """The server's Unix socket (short path: socket names are limited to ~100 bytes)."""
        return self.server_dir / "run"

    @property
    def server_secrets_dir(self) -> Path:
        return self.server_dir / "secrets"

    @property
    def run_dir(self) -> Path:
        """Pid files of the processes this home started (simulator, Airflow)."""
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def bi_home(self) -> Path:
        """Superset's home: its data folder and the dashboard bundle chiso imports."""
        return self.home / "superset"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def site_dir(self) -> Path:
        """The static docs site: GX Data Docs per month, dbt docs, reports (chiso docs)."""
        return self.home / "site"

    @property
    def data_docs_dir(self) -> Path:
        """Where the gate writes GX Data Docs (when `data_docs` is on), one folder per month."""
        return self.site_dir / "data-docs"

    @property
    def reference_dir(self) -> Path:
        """The reference files this deployment loads: ``CHISO_REFERENCE_DIR`` (an operator's
        copy under version control, made by ``chiso reference init``), else the project's."""
        configured = os.environ.get("CHISO_REFERENCE_DIR")
        return _path(configured) if configured else REFERENCE_DIR

    @property
    def gate_parameters_file(self) -> Path:
        """The deployment's gate bounds (JSON), over expectations/parameters.json."""
        return self.home / "gate-parameters.json"

    def ensure_dirs(self) -> None:
        for d in (self.home, self.run_dir, self.log_dir, self.secrets_dir, self.reports_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.chmod(0o700)


def settings() -> Settings:
    return Settings.from_env()
