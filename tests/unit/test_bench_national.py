"""bench/national.py's reading of a close's task instances: phases, slots and parallelism."""

from __future__ import annotations

from bench.national import _slots, phase_of, summary


def _task(task: str, host: str, start: float, end: float, dag: str = "monthly_kpi") -> dict:
    return {"dag": dag, "task": task, "phase": phase_of(dag, task), "host": host,
            "start": start, "end": end}  # fmt: skip


RUN = {
    "workers": 2,
    "seconds": 60.0,
    "tasks": [
        _task("pull_one_stop", "worker1@vm", 0, 10),
        _task("pull_one_stop", "worker1@vm", 1, 9),
        _task("pull_portal", "worker2@vm", 2, 12),
        _task("pull_portal", "worker1@vm", 10, 14),
        _task("inbox_portal", "worker2@vm", 14, 15),
        _task("transform", "worker2@vm", 15, 40),
        _task("validate", "worker1@vm", 41, 45),
        _task("publish", "worker1@vm", 46, 47),
        _task("republish", "worker2@vm", 47, 48),
        _task("report", "worker1@vm", 49, 60, dag="monthly_report"),
    ],
}


def test_each_task_falls_in_its_phase() -> None:
    assert [t["phase"] for t in RUN["tasks"]][3:] == [
        "pull (province × source)", "inbox files", "build (dbt)", "gate (GX)", "publish",
        "republish", "report",
    ]  # fmt: skip


def test_a_task_takes_the_lowest_slot_of_its_worker_free_when_it_starts() -> None:
    rows = _slots(RUN["tasks"][:4])
    # the second pull overlaps the first: slot 1; the fourth starts as the first ends: slot 0
    assert rows == [("worker1@vm", 0), ("worker1@vm", 1), ("worker2@vm", 0), ("worker1@vm", 0)]


def test_the_summary_gives_each_phase_its_span_and_work() -> None:
    got = summary(RUN)
    assert got["hosts"] == ["worker1@vm", "worker2@vm"]
    pulls = got["phases"]["pull (province × source)"]
    assert pulls == {"tasks": 4, "span_seconds": 14.0, "task_seconds": 32.0}
    assert got["pull_parallelism"] == round(32 / 14, 2)
    assert got["phases"]["build (dbt)"] == {"tasks": 1, "span_seconds": 25.0, "task_seconds": 25.0}
