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
import sys
import time
from datetime import date

from bench.warehouse import Warehouse, months_from, write_results

# Volume: the one figure in the seeds is Hà Giang's one-stop system in 2019, 30,163 dossiers
# received from January to July, about 4,300 a month (../shared/seeds/, report on 2019
# administrative reform). The simulator's default of 60 dossiers per agency and month gives
# about 1,900 a month for Hải Phòng and Hải Dương together; 270 gives about 8,600, Hà Giang's
# 2019 rate for each of the two. That is a floor for two larger lowland provinces several years
# further into online service, and the benchmark is about a province's real volume.
DOSSIERS_PER_AGENCY_MONTH = 270


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
    months = months_from(args.first_month, args.months)
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
    write_results("dbt_incremental", report)
    print(
        f"\nfull refresh of {args.months} months: {full:.1f} s;"
        f" monthly incremental: {inc:.1f} s = {inc / full:.0%} of full (goal ≤ 10%)"
        f"\nmonthly incremental with {args.months} vs {args.short_history} months of history:"
        f" {inc:.1f} s vs {inc_short:.1f} s = {inc / inc_short:.2f}× (goal ≤ 1.5×)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
