"""Where a test run's time went: each module's span on its xdist worker, printed at the end.

`make test` has fifteen minutes on two cores. The slowest tests (--durations) do not say which
modules overlap, which wait for the built warehouse, or which worker ends last: this table
does, from the reports' start and stop stamps (setup, call and teardown of every test), so a
run that outgrows its budget shows where.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest


@dataclass
class Span:
    worker: str
    start: float
    stop: float
    tests: set[str] = field(default_factory=set)


class Timeline:
    """Registered by tests/conftest.py in the controlling process."""

    def __init__(self) -> None:
        self.began = time.time()
        self.modules: dict[str, Span] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # the xdist worker that ran it
        worker = node.workerinput["workerid"] if node is not None else "main"
        module = report.nodeid.split("::")[0]
        span = self.modules.get(module)
        if span is None:
            self.modules[module] = Span(worker, report.start, report.stop, {report.nodeid})
            return
        span.start, span.stop = min(span.start, report.start), max(span.stop, report.stop)
        span.tests.add(report.nodeid)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        spans = [(m, s) for m, s in self.modules.items() if s.stop - s.start >= 20]
        if not spans:
            return
        terminalreporter.write_sep("=", "modules of 20 s and more, by start (minutes:seconds)")
        for module, s in sorted(spans, key=lambda item: item[1].start):
            terminalreporter.write_line(
                f"{s.worker:>4}  {_clock(s.start - self.began)} → {_clock(s.stop - self.began)}"
                f"  {_clock(s.stop - s.start)}  {len(s.tests):>3} tests  {module}"
            )
        ends = {s.worker: s.stop for _, s in sorted(self.modules.items(), key=lambda i: i[1].stop)}
        last = ", ".join(f"{w} {_clock(t - self.began)}" for w, t in sorted(ends.items()))
        terminalreporter.write_line(f"workers' last test ended at: {last}")


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60:>2}:{seconds % 60:02d}"
