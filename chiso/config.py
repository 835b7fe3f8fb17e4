"""Where chiso keeps its state and how it reaches the warehouse.

Everything mutable lives under one directory, ``CHISO_HOME`` (default ``<repo>/.var``, git-ignored),
so a test run can point at a throwaway directory and never touch the demo's data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGS_DIR = REPO_ROOT / "dags"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

WAREHOUSE_DB = "chiso"
AIRFLOW_DB = "chiso_airflow"

# Schemas of the warehouse, in load order. dbt writes staging/intermediate/audit; only the
# publish step writes `marts`, the schema BI tools read (write-audit-publish).
SCHEMAS = ("raw", "staging", "intermediate", "snapshots", "audit", "marts", "ops")


@dataclass(frozen=True)
class Settings:
    """Paths and connection choices, resolved from the environment once per process."""

    home: Path
    external_url: str | None
    pg_port_hint: int
    airflow_port: int
    simulator_port: int

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("CHISO_HOME", REPO_ROOT / ".var")).expanduser().resolve()
        return cls(
            home=home,
            external_url=os.environ.get("CHISO_WAREHOUSE_URL") or None,
            pg_port_hint=int(os.environ.get("CHISO_PG_PORT", "54329")),
            airflow_port=int(os.environ.get("CHISO_AIRFLOW_PORT", "8080")),
            simulator_port=int(os.environ.get("CHISO_SIMULATOR_PORT", "8765")),
        )

    @property
    def embedded(self) -> bool:
        return self.external_url is None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def run_dir(self) -> Path:
        """Unix sockets and pid files (short path: socket names are limited to ~100 bytes)."""
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
        return self.site_dir / "data-docs"

    def ensure_dirs(self) -> None:
        for d in (self.home, self.run_dir, self.log_dir, self.secrets_dir, self.reports_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.chmod(0o700)


def settings() -> Settings:
    return Settings.from_env()
