"""Benchmark: a day's changes pulled and built, against a month's close.

    make bench                                   # with the other benchmarks
    .venv/bin/python -m bench.daily              # 12 months of Hải Phòng (30 + 31)
    .venv/bin/python -m bench.daily --days 5 --dossiers-per-agency-month 500

Ingest runs daily and pulls what changed since its watermark (docs/architecture.md, "Records
that change after their month"); the monthly close then builds what a month of such pulls
landed. This benchmark measures, at a provincial volume (bench/incremental.py says where the
figure comes from), in one run:

1. **the close**: from a warehouse holding `--months` - 1 closed months, the simulator's clock
   moves to the last month's close instant, every source is pulled by change up to it and the
   month is built (`chiso.transform.dbt.build(settings, month)`), timed `--repeats` times on a
   fresh copy of the same settled state (median);
2. **a day**: then, day after day for `--days` working days, the clock moves one day on, that
   day's changes are pulled and the warehouse is built for the current month, as a daily
   build would (median of the days).

Goal: a day's changes ≤ 0.2 × the close. What runs each day is the pull (the daily_ingest
DAG); the close builds once what the month's pulls landed. The build after a day's changes
is measured too, for an operator who would build between closes: it costs about what the
close's build costs, since a build has a fixed part (dbt's start, source freshness, the
tests) and rebuilds whole periods, from the earliest day a change touched (a day's changes
reach into the previous month as surely as a month's do). So the report gives both ratios:
`day_pull_over_close` (the daily work) and `day_over_close` (pull and build).

Between two timed steps the warehouse is settled (`VACUUM ANALYZE`, what autovacuum does
between two runs a day apart; see bench/incremental.py, "Method"). Timings are wall clock
around the product's calls, dbt's start-up included. Results go to bench/results/daily.json
(git-ignored).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime, timedelta

from bench.incremental import DOSSIERS_PER_AGENCY_MONTH
from bench.warehouse import Warehouse, months_from, write_results

GOAL = 0.2


def _working_days(after: datetime, count: int) -> list[datetime]:
    """The ends of the first `count` working days (Monday to Friday) after `after`: a daily
    pull at midnight takes the day before it."""
    days: list[datetime] = []
    day = after
    while len(days) < count:
        day += timedelta(days=1)
        if (day - timedelta(days=1)).weekday() < 5:
            days.append(day)
    return days


def _step(wh: Warehouse, until: datetime, month: date, cadence) -> dict:
    """Pull every source by change up to `until`, then build for `month`; both timed."""
    start = time.perf_counter()
    rows = wh.pull_changes(until, cadence)
    pulled = time.perf_counter() - start
    built = wh.build(month)
    return {
        "until": until.isoformat(),
        "rows_pulled": rows,
        "pull_seconds": round(pulled, 1),
        "build_seconds": built["seconds"],
        "seconds": round(pulled + built["seconds"], 1),
        "slowest": built["slowest"],
    }


def _median(runs: list[dict]) -> dict:
    median = statistics.median(r["seconds"] for r in runs)
    typical = min(runs, key=lambda r: abs(r["seconds"] - median))
    return {**typical, "seconds": median, "runs": [r["seconds"] for r in runs]}


def main() -> int:
    from chiso_sim.config import SimulatorConfig

    from chiso.core.cadence import Cadence
    from chiso.core.months import add_months

    defaults = SimulatorConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provinces", default="30,31", help="province codes (default Hải Phòng)")
    ap.add_argument("--first-month", type=date.fromisoformat, default=date(2025, 11, 1))
    ap.add_argument("--months", type=int, default=12, help="closed months, the timed one last")
    ap.add_argument("--days", type=int, default=3, help="timed days after the close")
    ap.add_argument("--repeats", type=int, default=3, help="timed closes (median)")
    ap.add_argument("--dossiers-per-agency-month", type=int, default=DOSSIERS_PER_AGENCY_MONTH)
    ap.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    args = ap.parse_args()
    months = months_from(args.first_month, args.months)
    last = months[-1]
    cadence = Cadence(history_start=args.first_month)
    # the simulator serves one month more: the days after the last close fall in it
    served = argparse.Namespace(**{**vars(args), "months": args.months + 1})
    report: dict = {"provinces": args.provinces, "months": f"{months[0]:%Y-%m}..{last:%Y-%m}"}
    report["dossiers_per_agency_month"] = args.dossiers_per_agency_month

    wh = Warehouse(served, "daily")
    try:
        history_until = cadence.close_instant(months[-2])
        report["history_rows"] = wh.pull_changes(history_until, cadence)
        wh.build(months[-2])
        wh.settle()
        wh.keep_as_template()
        closes = []
        for i in range(args.repeats):
            if i:
                wh.restore()
            closes.append(_step(wh, cadence.close_instant(last), last, cadence))
        report["close"] = _median(closes)
        current = add_months(last, 1)
        days = []
        for until in _working_days(cadence.close_instant(last), args.days):
            wh.settle()
            days.append(_step(wh, until, current, cadence))
        report["day"] = _median(days)
        report["days"] = days
    finally:
        wh.close()

    close, day = report["close"], report["day"]
    report["day_pull_over_close"] = round(day["pull_seconds"] / close["seconds"], 3)
    report["day_over_close"] = round(day["seconds"] / close["seconds"], 3)
    report["day_build_over_close_build"] = round(day["build_seconds"] / close["build_seconds"], 3)
    write_results("daily", report)
    print(
        f"\nclose of {last:%Y-%m}: pull {close['pull_seconds']:.1f} s"
        f" ({close['rows_pulled']} rows) + build {close['build_seconds']:.1f} s"
        f"\na day's pull (the daily DAG): {day['pull_seconds']:.1f} s ({day['rows_pulled']} rows)"
        f" = {report['day_pull_over_close']:.0%} of the close (goal ≤ {GOAL:.0%})"
        f"\na day's pull and a build after it: {day['seconds']:.1f} s"
        f" = {report['day_over_close']:.0%} of the close"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
