"""The benchmarks' warehouse: an embedded PostgreSQL and a simulator in a throwaway home.

bench/incremental.py and bench/daily.py build history in it, keep a settled state as a
template database and time builds on fresh copies of it (the same state every time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from chiso.core.cadence import Cadence

TEMPLATE_DB = "chiso_bench_before"


def write_results(name: str, report: dict, *, echo: bool = True) -> None:
    """Print the report (unless not `echo`) and keep it as bench/results/<name>.json
    (git-ignored)."""
    if echo:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_header(args: argparse.Namespace, months: list[date]) -> dict:
    """What a benchmark's results say it ran on: provinces, months, volume."""
    return {
        "provinces": args.provinces,
        "months": f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}",
        "dossiers_per_agency_month": args.dossiers_per_agency_month,
    }


def months_from(first: date, count: int) -> list[date]:
    from chiso.core.months import add_months

    return [add_months(first, i) for i in range(count)]


class Warehouse:
    """An embedded PostgreSQL and a simulator serving `months` of the provinces, in a temp home
    (`simulator_options`: more of `chiso-sim serve`'s flags)."""

    def __init__(
        self, args: argparse.Namespace, label: str, simulator_options: Sequence[str] = ()
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix=f"chiso-bench-{label}-"))
        os.environ.update(
            CHISO_HOME=str(self.home),
            CHISO_PG_PORT=str(free_port()),
            CHISO_SIMULATOR_PORT=str(free_port()),
        )
        os.environ.pop("CHISO_WAREHOUSE_URL", None)
        from chiso.core.config import Settings
        from chiso.runtime import simulator
        from chiso.runtime.embedded_postgres import EmbeddedPostgres
        from chiso.runtime.warehouse import bootstrap

        self.settings = Settings.from_env()
        self.pg = EmbeddedPostgres(self.settings)
        bootstrap(self.settings)
        simulator.start(
            self.settings,
            options=[
                "--start-month",
                f"{args.first_month:%Y-%m}",
                "--months",
                str(args.months),
                "--provinces",
                args.provinces,
                "--dossiers-per-agency-month",
                str(args.dossiers_per_agency_month),
                "--documents-per-agency-month",
                str(args.documents_per_agency_month),
                *simulator_options,
            ],
        )
        self.api = simulator.api_settings(self.settings)

    def pull(self, months: list[date]) -> int:
        from chiso import pipeline
        from chiso.sources.systems import SOURCES

        rows = 0
        for month in months:
            for source in SOURCES:
                rows += pipeline.ingest_api(self.settings, source, month, self.api)
        return rows

    def pull_changes(self, until: datetime, cadence: Cadence) -> int:
        """What the daily DAG does at `until`: the simulator's clock there, then every
        source pulled by change stamp (look-back where it has none); returns rows landed."""
        from chiso import pipeline
        from chiso.runtime import simulator
        from chiso.sources.systems import SOURCES

        simulator.set_clock(self.settings, until)
        return sum(
            pipeline.ingest_changes(self.settings, source, self.api, until, cadence)
            for source in SOURCES
        )

    def build(self, month: date | None = None, *, full: bool = False) -> dict:
        from chiso.transform.dbt import build

        start = time.perf_counter()
        result = build(self.settings, month, full=full)
        seconds = time.perf_counter() - start
        return {"seconds": round(seconds, 1), "nodes": result.statuses, "slowest": self._slowest()}

    def _slowest(self, n: int = 8) -> list[tuple[str, float]]:
        path = self.home / "dbt" / "target" / "run_results.json"
        results = json.loads(path.read_text())["results"]
        results.sort(key=lambda r: -r["execution_time"])
        return [
            (r["unique_id"].split(".")[-1][:60], round(r["execution_time"], 2)) for r in results[:n]
        ]

    def row_counts(self) -> dict[str, int]:
        import psycopg

        from chiso.runtime.warehouse import urls

        with psycopg.connect(urls(self.settings).admin) as conn:
            return {
                table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
                for table in (
                    "audit.fct_dossiers",
                    "staging.stg_one_stop__progress_events",
                    "audit.fct_documents",
                    "audit.fct_service_offerings",
                    "audit.fct_indicator_values",
                )
            }

    def settle(self) -> None:
        """VACUUM ANALYZE the warehouse: the state a month of autovacuum leaves behind."""
        import psycopg

        from chiso.runtime.warehouse import urls

        with psycopg.connect(urls(self.settings).admin, autocommit=True) as conn:
            conn.execute("vacuum (analyze)")

    def keep_as_template(self) -> None:
        """Copy the warehouse database to a template that restore() starts every run from."""
        with self._server() as conn:
            # a close run in this process (GX's engine) may still hold pooled connections
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
                (self.settings.warehouse_db,),
            )
            conn.execute(f"drop database if exists {TEMPLATE_DB}")
            conn.execute(
                f"create database {TEMPLATE_DB} template {self.settings.warehouse_db}"
                " strategy file_copy"
            )

    def restore(self) -> None:
        """Replace the warehouse database by a copy of the template, grants included."""
        from chiso.runtime.warehouse import bootstrap

        with self._server() as conn:
            conn.execute(f"drop database {self.settings.warehouse_db} with (force)")
            conn.execute(
                f"create database {self.settings.warehouse_db} template {TEMPLATE_DB}"
                " strategy file_copy"
            )
        # Database-level grants are not copied with a template: bootstrap sets them again
        # (chiso/migrations/after_migrate__database_grants.sql).
        bootstrap(self.settings)

    def _server(self) -> psycopg.Connection:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
        import psycopg

        return psycopg.connect(self.pg.superuser_url("postgres"), autocommit=True)

    def timed_monthly_builds(self, month: date, repeats: int) -> dict:
        """The monthly build of `month`, `repeats` times from the template; the median run."""
        runs = []
        for i in range(repeats):
            if i:
                self.restore()
            runs.append(self.build(month))
        median = statistics.median(r["seconds"] for r in runs)
        typical = min(runs, key=lambda r: abs(r["seconds"] - median))
        return {**typical, "seconds": median, "runs": [r["seconds"] for r in runs]}

    def close(self) -> None:
        from chiso.runtime import simulator

        simulator.stop(self.settings)
        self.pg.destroy()
        shutil.rmtree(self.home, ignore_errors=True)
