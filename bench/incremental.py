"""Benchmark: a monthly incremental dbt build against a full refresh, and against history.

    make bench                                       # with the loader benchmark
    .venv/bin/python -m bench.incremental            # five years of Hải Phòng (30 + 31)
    .venv/bin/python -m bench.incremental --dossiers-per-agency-month 500

Five years (60 months, 11/2021–10/2026, across the 1 July 2025 merger) of one province are
pulled from the simulator into a throwaway embedded PostgreSQL the way the DAG pulls them,
month by month, at a provincial volume (DOSSIERS_PER_AGENCY_MONTH below says where the figure
comes from). Then, in one run:

1. the first 59 months are built, month 60 is pulled, and the monthly build of month 60
   (`chiso.transform.dbt.build(settings, month)`, what `chiso run-month` and the DAG run) is
   timed; then a full refresh of the same 60 months (`build(settings, full=True)`) is timed.
   Goal: incremental ≤ 10% of full.
2. in a second warehouse holding only the last 12 months, the same monthly build of month 60
   is timed. Goal: incremental at 60 months ≤ 1.5 × incremental at 12 months.

Method. In production a month passes between two monthly builds, so autovacuum has vacuumed
and analysed what the previous build wrote. Timed seconds after a build that wrote millions
of rows, the next build shares the two cores with autovacuum and is planned from stale
statistics, which measures the benchmark, not the pipeline. So after the history is built the
warehouse is settled (`VACUUM ANALYZE`, what autovacuum does in that month), then month 60 is
pulled as the DAG would pull it, and the warehouse is kept as a template database. The monthly
build is timed `--repeats` times, each on a fresh copy of that template (the same state every
time: a second build on the same copy would find nothing new), and the median is reported with
every run. The full refresh is timed once, after the monthly builds, on the same 60 months.

Each build is what the pipeline runs (source freshness, then `dbt build` of seeds, models,
snapshots, data and unit tests; a monthly build skips the unchanged reference nodes), timed as
wall clock around `chiso.transform.dbt.build`, dbt's start-up included. Results go to bench/results/
(git-ignored) as JSON, with the per-node timings of the slowest nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

HERE = Path(__file__).resolve().parent

# Volume: the one figure in the seeds is Hà Giang's one-stop system in 2019, 30,163 dossiers
# received from January to July, about 4,300 a month (../shared/seeds/, report on 2019
# administrative reform). The simulator's default of 60 dossiers per agency and month gives
# about 1,900 a month for Hải Phòng and Hải Dương together; 270 gives about 8,600, Hà Giang's
# 2019 rate for each of the two. That is a floor for two larger lowland provinces several years
# further into online service, and the benchmark is about a province's real volume.
DOSSIERS_PER_AGENCY_MONTH = 270
TEMPLATE_DB = "chiso_bench_before"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _months(first: date, count: int) -> list[date]:
    from chiso.core.months import add_months

    return [add_months(first, i) for i in range(count)]


class Warehouse:
    """An embedded PostgreSQL and a simulator serving `months` of the provinces, in a temp home."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix=f"chiso-bench-{label}-"))
        os.environ.update(
            CHISO_HOME=str(self.home),
            CHISO_PG_PORT=str(_free_port()),
            CHISO_SIMULATOR_PORT=str(_free_port()),
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


def main() -> int:
    from chiso_sim.config import SimulatorConfig

    defaults = SimulatorConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provinces", default="30,31", help="province codes (default Hải Phòng)")
    ap.add_argument("--first-month", type=date.fromisoformat, default=date(2021, 11, 1))
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--short-history", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3, help="timed monthly builds (median)")
    ap.add_argument(
        "--dossiers-per-agency-month",
        type=int,
        default=DOSSIERS_PER_AGENCY_MONTH,
        help=f"default {DOSSIERS_PER_AGENCY_MONTH}: see the module docstring",
    )
    ap.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    args = ap.parse_args()
    months = _months(args.first_month, args.months)
    last = months[-1]
    report: dict = {"provinces": args.provinces, "months": f"{months[0]:%Y-%m}..{last:%Y-%m}"}
    report["dossiers_per_agency_month"] = args.dossiers_per_agency_month

    long = Warehouse(args, "60")
    try:
        t = time.perf_counter()
        report["rows_pulled"] = long.pull(months[:-1])
        report["first_build"] = long.build(months[-2])
        long.settle()
        report["rows_pulled"] += long.pull([last])
        report["pull_seconds"] = round(time.perf_counter() - t, 1)
        long.keep_as_template()
        report["incremental_long"] = long.timed_monthly_builds(last, args.repeats)
        report["full_refresh"] = long.build(full=True)
        report["rows"] = long.row_counts()
    finally:
        long.close()

    short = Warehouse(args, "12")
    try:
        history = months[-args.short_history :]
        short.pull(history[:-1])
        short.build(history[-2])
        short.settle()
        short.pull([last])
        short.keep_as_template()
        report["incremental_short"] = short.timed_monthly_builds(last, args.repeats)
    finally:
        short.close()

    inc, full = report["incremental_long"]["seconds"], report["full_refresh"]["seconds"]
    inc_short = report["incremental_short"]["seconds"]
    report["incremental_over_full"] = round(inc / full, 3)
    report["incremental_60_over_12"] = round(inc / inc_short, 3)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(
        f"\nfull refresh of {args.months} months: {full:.1f} s;"
        f" monthly incremental: {inc:.1f} s = {inc / full:.0%} of full (goal ≤ 10%)"
        f"\nmonthly incremental with {args.months} vs {args.short_history} months of history:"
        f" {inc:.1f} s vs {inc_short:.1f} s = {inc / inc_short:.2f}× (goal ≤ 1.5×)"
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "dbt_incremental.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
