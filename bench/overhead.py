"""Benchmark: what Airflow costs the monthly close, and how fast the DAG folder parses.

    make bench                                    # with the other benchmarks
    .venv/bin/python -m bench.overhead            # 4 months of Hải Phòng (30 + 31)
    .venv/bin/python -m bench.overhead --repeats 1 --dossiers-per-agency-month 60   # quick

1. **The close through Airflow, against its steps run directly.** A warehouse holding
   `--months` - 1 months closed (directly, `chiso.pipeline.close_month`) is kept as a template;
   then, `--repeats` times each and alternating which goes first, from a fresh copy of it and
   with the simulator's clock at the last month's close instant:
   - *direct*: `close_month` in this process, the steps one after the other (pull each source
     by change, the inbox, the dbt build, the gate, publication, republication, the reports);
   - *Airflow*: the same month closed by `monthly_kpi` on the project's Airflow (LocalExecutor,
     started once beforehand, not timed), as a one-month backfill; timed from the run being
     queued to the end of the report run its published-mart asset event triggered (Airflow's
     own stamps, REST API), which holds the scheduler's latency and each task's process start.
   Goal: Airflow ≤ 1.5 × direct (medians). The sum of the tasks' own durations is reported too:
   it shows how much is the tasks' start-up and how much the scheduling between them.
2. **Parse time.** Each DAG file is imported in a fresh interpreter that has imported Airflow
   already (what the dag-processor pays per file and parse), `--parses` times (median); the
   folder's time is the sum. Airflow's own DagBag of the folder is timed the same way. Goal:
   the folder ≤ 1 s.

Timings are wall clock. Results go to bench/results/overhead.json (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from typing import Any

from bench.airflow_runs import close_runs, stamp
from bench.incremental import DOSSIERS_PER_AGENCY_MONTH
from bench.warehouse import Warehouse, months_from, run_header, write_results

GOAL_RATIO = 1.5
GOAL_PARSE_SECONDS = 1.0

_PARSE = """
import sys, time, runpy
import airflow.sdk  # paid once by the dag-processor, not per file
t = time.perf_counter()
runpy.run_path(sys.argv[1])
print(time.perf_counter() - t)
"""

_DAGBAG = """
import sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
t = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(time.perf_counter() - t)
"""


def _seconds(code: str, arg: str) -> float:
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", code, arg], capture_output=True, text=True, check=True, env=env
    )
    return float(proc.stdout.strip().splitlines()[-1])


def parse_times(parses: int) -> dict[str, Any]:
    from chiso.core.config import DAGS_DIR

    files = sorted(DAGS_DIR.glob("*.py"))
    per_file = {
        f.name: round(statistics.median(_seconds(_PARSE, str(f)) for _ in range(parses)), 3)
        for f in files
    }
    dagbag = statistics.median(_seconds(_DAGBAG, str(DAGS_DIR)) for _ in range(parses))
    folder = sum(per_file.values())
    return {
        "per_file_seconds": per_file,
        "folder_seconds": round(folder, 3),
        "dagbag_seconds": round(dagbag, 3),
        "goal": {"seconds": GOAL_PARSE_SECONDS, "pass": max(folder, dagbag) <= GOAL_PARSE_SECONDS},
    }


def _at_close(wh: Warehouse, month: date) -> None:
    from chiso.core.cadence import Cadence
    from chiso.runtime import simulator

    simulator.stand_at_close(wh.settings, month, Cadence.from_env().close_instant(month))


def direct_close(wh: Warehouse, month: date) -> float:
    from chiso import pipeline

    wh.restore()
    _at_close(wh, month)
    start = time.perf_counter()
    pipeline.close_month(wh.settings, month, wh.api)
    return time.perf_counter() - start


def airflow_close(wh: Warehouse, month: date) -> dict[str, float]:
    """The month closed by monthly_kpi, with the report run its published-mart event
    triggered (monthly_report): from the close run's queueing to the report's end."""
    from chiso.orchestration import airflow as af

    wh.restore()
    _at_close(wh, month)
    states = af.run_months(wh.settings, [month])
    if states[month] != "success":
        raise RuntimeError(f"the close of {month:%Y-%m} through Airflow: {states[month]}")
    reports = af.wait_for_reports(wh.settings, month)
    latest, timed, instances = close_runs(wh.settings, month, reports)
    end = max(stamp(run["end_date"]) for _, run in timed)
    return {
        "queued_to_end": (end - stamp(latest["queued_at"])).total_seconds(),
        "start_to_end": (end - stamp(latest["start_date"])).total_seconds(),
        "tasks_sum": sum(t.get("duration") or 0 for _, t in instances),
    }


def main() -> int:
    from chiso_sim.config import SimulatorConfig

    from chiso import pipeline
    from chiso.runtime import airflow as services

    defaults = SimulatorConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provinces", default="30,31", help="province codes (default Hải Phòng)")
    ap.add_argument("--first-month", type=date.fromisoformat, default=date(2024, 1, 1))
    ap.add_argument("--months", type=int, default=4, help="months closed; the last is timed")
    ap.add_argument(
        "--dossiers-per-agency-month", type=int, default=DOSSIERS_PER_AGENCY_MONTH,
        help=f"default {DOSSIERS_PER_AGENCY_MONTH}: see bench/incremental.py",
    )  # fmt: skip
    ap.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    ap.add_argument("--repeats", type=int, default=2, help="timed closes per side")
    ap.add_argument("--parses", type=int, default=5, help="cold parses per DAG file")
    args = ap.parse_args()
    months = months_from(args.first_month, args.months)
    report: dict[str, Any] = {**run_header(args, months), "parse": parse_times(args.parses)}
    wh = Warehouse(args, "overhead")
    try:
        for month in months[:-1]:
            _at_close(wh, month)
            pipeline.close_month(wh.settings, month, wh.api)
        wh.settle()
        wh.keep_as_template()
        services.up(wh.settings)
        direct: list[float] = []
        through: list[dict[str, float]] = []
        for i in range(args.repeats):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for side in order:
                if side == 0:
                    direct.append(direct_close(wh, months[-1]))
                else:
                    through.append(airflow_close(wh, months[-1]))
    finally:
        services.down(wh.settings)
        wh.close()
    d = statistics.median(direct)
    a = statistics.median(r["queued_to_end"] for r in through)
    report["close"] = {
        "month": f"{months[-1]:%Y-%m}",
        "direct_seconds": [round(x, 1) for x in direct],
        "airflow": [{k: round(v, 1) for k, v in r.items()} for r in through],
        "ratio": round(a / d, 2),
        "goal": {"ratio": GOAL_RATIO, "pass": a / d <= GOAL_RATIO},
    }
    write_results("overhead", report)
    close, parse = report["close"], report["parse"]
    verdict = {True: "PASS", False: "FAIL"}
    print(
        f"\nthe close of {close['month']}: direct {d:.1f} s, through Airflow {a:.1f} s"
        f" = {close['ratio']:.2f}× (goal ≤ {GOAL_RATIO}×): {verdict[close['goal']['pass']]}"
        f"\nthe DAG folder parses in {parse['folder_seconds']:.2f} s"
        f" (per file {parse['per_file_seconds']}), Airflow's DagBag in"
        f" {parse['dagbag_seconds']:.2f} s (goal ≤ {GOAL_PARSE_SECONDS:.0f} s):"
        f" {verdict[parse['goal']['pass']]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
