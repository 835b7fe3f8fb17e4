"""Benchmark: where a national monthly close's work goes, on Airflow's CeleryExecutor with 1, 2
and 4 workers.

    make bench                                         # with the other benchmarks
    .venv/bin/python -m bench.national                 # 34 provinces; 1, 2 and 4 workers
    .venv/bin/python -m bench.national --provinces 4 --workers 2   # a quick look

A ministry's warehouse pulls every province's own installation of the three systems
(``CHISO_SOURCE_PROVINCES``, docs/deploy.md «National scale»): 34 × 3 pull tasks, then one
build, one gate, one publication of the whole country's month.

**Set up once, not timed:** a reference folder of the 34 provinces of 1 July 2025, each with
its seven departments and ``--communes`` communes (chiso_sim/national.py); a warehouse with
it loaded, kept as a template; the simulator serving July and August 2025 of every province,
each province's installation under ``/provinces/<code>`` (one process standing in for 102
systems), its months generated beforehand; a Redis (tests/redis_server.py).

**Per worker count:** Airflow restarted with that many Celery workers (each with the
deployment's default of 2 slots), the warehouse restored from the template, the simulator's
clock at July's close instant, and July closed by ``monthly_kpi`` as a one-month backfill
(as bench/overhead.py does), with the report run its published-mart event triggers; timed
from the close run's queueing to the report's end, with Airflow's own stamps (REST API).

Reported per worker count: the wall time; per phase, the span (first start to last end) and
the sum of the tasks' durations; the pull phase's parallelism achieved (sum ÷ span); the
workers that ran tasks. The chart (``--chart``, default docs/images/national-close.png)
draws every task instance on its worker's slot. Results go to bench/results/national.json
(git-ignored). This machine has two cores: the chart shows what the work's shape allows and
where this machine stops it, not a cluster's times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bench.airflow_runs import close_runs, stamp
from bench.warehouse import Warehouse, write_results

JULY = date(2025, 7, 1)
CHART = Path(__file__).resolve().parent.parent / "docs" / "images" / "national-close.png"
# task id prefix → phase, in the order a close runs them
PHASES = {
    "pull_": "pull (province × source)",
    "inbox_": "inbox files",
    "transform": "build (dbt)",
    "validate": "gate (GX)",
    "publish": "publish",
    "republish": "republish",
    "report": "report",
}
COLOURS = {
    "pull (province × source)": "#4C72B0",
    "inbox files": "#8172B2",
    "build (dbt)": "#DD8452",
    "gate (GX)": "#C44E52",
    "publish": "#55A868",
    "republish": "#64B5CD",
    "report": "#937860",
}


def phase_of(dag_id: str, task_id: str) -> str:
    if dag_id != "monthly_kpi":
        return "report"
    for prefix, phase in PHASES.items():
        if task_id.startswith(prefix):
            return phase
    return task_id


def close_on_celery(wh: Warehouse, workers: int, month: date) -> dict[str, Any]:
    """`month` closed through Airflow with `workers` Celery workers: the close's wall time and
    every task instance (phase, worker, start and end in seconds from the run's queueing)."""
    from chiso.core.cadence import Cadence
    from chiso.orchestration import airflow as af
    from chiso.runtime import airflow as services
    from chiso.runtime import simulator

    services.down(wh.settings)
    os.environ["CHISO_CELERY_WORKERS"] = str(workers)
    wh.restore()
    services.up(wh.settings)
    simulator.stand_at_close(wh.settings, month, Cadence.from_env().close_instant(month))
    states = af.run_months(wh.settings, [month])
    if states[month] != "success":
        raise RuntimeError(f"{month:%Y-%m} on {workers} workers: {states[month]}")
    reports = af.wait_for_reports(wh.settings, month)
    close, timed, instances = close_runs(wh.settings, month, reports)
    zero = stamp(close["queued_at"])
    assert zero is not None
    tasks = []
    for dag_id, t in instances:
        start, end = stamp(t.get("start_date")), stamp(t.get("end_date"))
        if start is None or end is None:
            continue
        tasks.append(
            {
                "dag": dag_id,
                "task": t["task_id"],
                "map": t.get("rendered_map_index") or None,
                "phase": phase_of(dag_id, t["task_id"]),
                "host": t.get("hostname") or "?",
                "start": round((start - zero).total_seconds(), 2),
                "end": round((end - zero).total_seconds(), 2),
            }
        )
    end = max(stamp(run["end_date"]) for _, run in timed)  # type: ignore[type-var]
    return {
        "workers": workers,
        "seconds": round((end - zero).total_seconds(), 1),  # type: ignore[operator]
        "tasks": sorted(tasks, key=lambda t: (t["start"], t["task"])),
    }


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """Per phase: span, sum of durations, tasks; the pull phase's parallelism; the hosts."""
    phases: dict[str, dict[str, float]] = {}
    for t in run["tasks"]:
        first = {"first": t["start"], "last": t["end"], "sum": 0.0, "n": 0}
        p = phases.setdefault(t["phase"], first)
        p["first"], p["last"] = min(p["first"], t["start"]), max(p["last"], t["end"])
        p["sum"] += t["end"] - t["start"]
        p["n"] += 1
    out = {
        name: {
            "tasks": int(p["n"]),
            "span_seconds": round(p["last"] - p["first"], 1),
            "task_seconds": round(p["sum"], 1),
        }
        for name, p in phases.items()
    }
    pulls = out.get(PHASES["pull_"])
    return {
        "workers": run["workers"],
        "seconds": run["seconds"],
        "hosts": sorted({t["host"] for t in run["tasks"]}),
        "phases": out,
        "pull_parallelism": round(pulls["task_seconds"] / pulls["span_seconds"], 2)
        if pulls and pulls["span_seconds"]
        else None,
    }


def _slots(tasks: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Each task's row: its host and the lowest slot of that host free when it started."""
    busy: dict[str, list[float]] = {}
    rows = []
    for t in tasks:
        ends = busy.setdefault(t["host"], [])
        slot = next((i for i, e in enumerate(ends) if e <= t["start"]), len(ends))
        if slot == len(ends):
            ends.append(t["end"])
        else:
            ends[slot] = t["end"]
        rows.append((t["host"], slot))
    return rows


def draw(runs: list[dict[str, Any]], path: Path, provinces: int) -> None:
    """One panel per worker count: every task instance as a bar on its worker's slot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    heights = [max(2, len({r for r in _slots(run["tasks"])})) for run in runs]
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(11, 1.2 + 0.45 * sum(heights)), sharex=True,
        gridspec_kw={"height_ratios": heights}, squeeze=False,
    )  # fmt: skip
    for ax, run in zip(axes[:, 0], runs, strict=True):
        rows = _slots(run["tasks"])
        labels = sorted(set(rows))
        for t, row in zip(run["tasks"], rows, strict=True):
            ax.barh(
                labels.index(row), t["end"] - t["start"], left=t["start"], height=0.8,
                color=COLOURS.get(t["phase"], "#999999"), edgecolor="white", linewidth=0.3,
            )  # fmt: skip
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels([f"{h.split('@')[0]} · {s + 1}" for h, s in labels], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(
            f"{run['workers']} worker{'s' if run['workers'] > 1 else ''}: {run['seconds']:.0f} s",
            fontsize=9, loc="left",
        )  # fmt: skip
    axes[-1, 0].set_xlabel("seconds from the close's queueing")
    axes[0, 0].legend(
        handles=[Patch(color=c, label=p) for p, c in COLOURS.items()],
        loc="lower left", bbox_to_anchor=(0, 1.25), ncol=7, fontsize=7, frameon=False,
        handlelength=1.2, columnspacing=1.0,
    )  # fmt: skip
    fig.suptitle(
        f"Closing July 2025 for {provinces} provinces on CeleryExecutor: where each task ran"
        " (2 slots per worker, 2 CPUs)",
        fontsize=10,
    )  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@contextmanager
def national_deployment(args: argparse.Namespace) -> Iterator[Warehouse]:
    """The reference folder, the environment of a deployment of every province, the
    warehouse (reference loaded, kept as the template) and the simulator, warmed up."""
    from chiso_sim.national import write_folder

    from chiso import pipeline
    from tests.redis_server import redis

    work = Path(tempfile.mkdtemp(prefix="chiso-bench-national-"))
    codes = write_folder(work / "reference", args.communes, args.province_count)
    os.environ.update(
        CHISO_REFERENCE_DIR=str(work / "reference"),
        CHISO_SOURCE_PROVINCES=",".join(codes),
        CHISO_HISTORY_START=f"{JULY:%Y-%m-%d}",
        CHISO_AIRFLOW_EXECUTOR="CeleryExecutor",
    )
    args.provinces = ",".join(codes)  # what the simulator serves
    with redis(work / "redis") as broker:
        os.environ["CHISO_CELERY_BROKER_URL"] = broker
        wh = Warehouse(
            args,
            "national",
            simulator_options=[
                "--agencies", str(work / "reference" / "ref_agencies.csv"),
                "--procedures-per-province", str(args.procedures_per_province),
            ],
        )  # fmt: skip
        try:
            pipeline.ensure_reference(wh.settings)
            wh.settle()
            wh.keep_as_template()
            _warm_up(wh)
            yield wh
        finally:
            from chiso.runtime import airflow as services

            services.down(wh.settings)
            wh.close()


def _warm_up(wh: Warehouse) -> None:
    """Have the simulator generate both months of every province before anything is timed."""
    import httpx

    for path, params in (
        ("/api/v1/dossiers", {"received_from": "2025-07-01", "received_to": "2025-09-01"}),
        ("/api/v1/documents", {"date_from": "2025-07-01", "date_to": "2025-09-01"}),
    ):
        httpx.get(
            wh.api.base_url + path,
            params={**params, "page_size": 1},
            headers={"Authorization": f"Bearer {wh.api.token}"},
            timeout=600,
        ).raise_for_status()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,4", help="Celery worker counts, in order")
    ap.add_argument(
        "--provinces", type=int, default=34, dest="province_count",
        help="the first N of the 34 (by code)",
    )  # fmt: skip
    ap.add_argument("--communes", type=int, default=2, help="communes per province")
    ap.add_argument("--dossiers-per-agency-month", type=int, default=20)
    ap.add_argument("--documents-per-agency-month", type=int, default=10)
    ap.add_argument("--procedures-per-province", type=int, default=300)
    ap.add_argument("--chart", type=Path, default=CHART)
    ap.add_argument(
        "--redraw", type=Path, metavar="RESULTS",
        help="only draw the chart again from a results file (bench/results/national.json)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.redraw:
        kept = json.loads(args.redraw.read_text())
        runs = [{**run, "tasks": kept["tasks"][str(run["workers"])]} for run in kept["runs"]]
        for run in runs:  # a report run of an earlier close (results before bench/airflow_runs
            # kept only the runs a close triggered)
            run["tasks"] = [t for t in run["tasks"] if t["start"] >= 0]
        draw(runs, args.chart, kept["provinces"])
        print(json.dumps([summary(run) for run in runs], indent=1, ensure_ascii=False))
        return 0
    # stopped (a timeout, a kill): unwind, so Airflow, the simulator, Redis and PostgreSQL stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.first_month, args.months = JULY, 2
    counts = [int(n) for n in args.workers.split(",")]
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with national_deployment(args) as wh:
        for n in counts:
            runs.append(close_on_celery(wh, n, JULY))
            print(f"{n} worker(s): {runs[-1]['seconds']} s", flush=True)
            _report(args, runs, started)  # kept as each run ends: a long run stopped keeps some
    report = _report(args, runs, started)
    print(json.dumps(report["runs"], indent=2, ensure_ascii=False))
    print(f"chart: {args.chart}")
    return 0


def _report(args: argparse.Namespace, runs: list[dict[str, Any]], started: float) -> dict:
    report = {
        "provinces": len(args.provinces.split(",")),
        "agencies_per_province": 7 + args.communes,
        "dossiers_per_agency_month": args.dossiers_per_agency_month,
        "documents_per_agency_month": args.documents_per_agency_month,
        "cpus": os.cpu_count(),
        "bench_seconds": round(time.perf_counter() - started),
        "runs": [summary(run) for run in runs],
        "tasks": {run["workers"]: run["tasks"] for run in runs},
    }
    write_results("national", report, echo=False)  # every task: too long to print
    draw(runs, args.chart, report["provinces"])
    return report


if __name__ == "__main__":
    sys.exit(main())
