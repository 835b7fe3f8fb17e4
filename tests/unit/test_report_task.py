"""The report DAG's task: which months the triggering published-mart events name."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from chiso.orchestration import tasks
from chiso.orchestration.assets import KPI_MART


class _Events(dict):
    """A stand-in for Airflow's triggering-events accessor: a mapping that raises KeyError
    for an asset without events, as Airflow's does."""


@pytest.fixture
def rendered(monkeypatch):
    months: list[date] = []

    def report(_settings, month: date) -> Path:
        months.append(month)
        return Path(f"bao-cao-{month:%Y-%m}.html")

    monkeypatch.setattr(tasks.pipeline, "report", report)
    monkeypatch.setattr(tasks, "settings", lambda: None)
    return months


def _event(*months: str) -> SimpleNamespace:
    return SimpleNamespace(extra={"months": list(months)})


def test_every_month_the_events_name_is_reported_once_oldest_first(rendered):
    events = _Events({KPI_MART: [_event("2020-02", "2020-01"), _event("2020-02")]})
    paths = tasks.report_published(events)
    assert rendered == [date(2020, 1, 1), date(2020, 2, 1)]
    assert paths == ["bao-cao-2020-01.html", "bao-cao-2020-02.html"]


def test_a_manual_run_reports_its_months_and_an_empty_event_nothing(rendered):
    assert tasks.report_published(_Events(), ["2020-03"]) == ["bao-cao-2020-03.html"]
    assert tasks.report_published(_Events({KPI_MART: [_event()]})) == []
    assert tasks.report_published(None) == []
    assert rendered == [date(2020, 3, 1)]
