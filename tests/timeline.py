"""Where a test run's time went: each module's span on its xdist worker and the CPU it used,
printed at the end.

`make test` has fifteen minutes on two cores, and its end-to-end modules keep both busy: what
bounds the run is the CPU its work costs, more than any one test's duration. The slowest tests
(--durations) do not say which modules overlap, which wait for the built warehouse, which
worker ends last, or what costs the CPU: this table does, from the reports' start and stop
stamps and the CPU each worker used (itself and the children it waited for: dbt, Airflow's
processes) between reports. The run's shared PostgreSQL server is counted apart (its
backends' CPU, which no test process sees).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CPU = "cpu_seconds"


@dataclass
class Span:
    worker: str
    start: float
    stop: float
    tests: set[str] = field(default_factory=set)
    cpu: float = 0.0


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class WorkerCpu:
    """Registered in every test process: each report carries the CPU used since the last."""

    def __init__(self) -> None:
        self.last = _cpu()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        now = _cpu()
        report.user_properties.append((CPU, round(now - self.last, 2)))
        self.last = now
        return report


class Timeline:
    """Registered by tests/conftest.py in the controlling process."""

    def __init__(self, server_pidfile: Path) -> None:
        self.began = time.time()
        self.modules: dict[str, Span] = {}
        self.server_pidfile = server_pidfile

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # the xdist worker that ran it
        worker = node.workerinput["workerid"] if node is not None else "main"
        module = report.nodeid.split("::")[0]
        span = self.modules.setdefault(module, Span(worker, report.start, report.stop))
        span.start, span.stop = min(span.start, report.start), max(span.stop, report.stop)
        span.tests.add(report.nodeid)
        span.cpu += sum(v for k, v in report.user_properties if k == CPU)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        spans = [(m, s) for m, s in self.modules.items() if s.stop - s.start >= 20]
        if not spans:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "modules of 20 s and more, by start (minutes:seconds)")
        write("worker  from → to      span   CPU   tests  module")
        for module, s in sorted(spans, key=lambda item: item[1].start):
            write(
                f"{s.worker:>6}  {_clock(s.start - self.began)} → {_clock(s.stop - self.began)}"
                f"  {_clock(s.stop - s.start)}  {_clock(s.cpu)}  {len(s.tests):>3}  {module}"
            )
        ends: dict[str, float] = {}
        for s in self.modules.values():
            ends[s.worker] = max(ends.get(s.worker, s.stop), s.stop)
        last = ", ".join(f"{w} {_clock(t - self.began)}" for w, t in sorted(ends.items()))
        write(f"workers' last test ended at: {last}")
        total = sum(s.cpu for s in self.modules.values())
        server = _server_cpu(self.server_pidfile)
        write(
            f"CPU: the test processes and their children {_clock(total)}; the shared server"
            f" {_clock(server) if server is not None else 'unknown'}; elapsed"
            f" {_clock(time.time() - self.began)} on {os.cpu_count()} CPUs"
        )


def _server_cpu(pidfile: Path) -> float | None:
    """The CPU of the server's postmaster and every process it reaped (its backends)."""
    try:
        pid = int(pidfile.read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after "pid (comm)"
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60:>2}:{seconds % 60:02d}"
