"""chiso's cron timetable: no scheduled run while scheduled runs are off, the same intervals
for backfills either way."""

from __future__ import annotations

import pendulum
import pytest
from airflow.timetables.base import TimeRestriction

from chiso.orchestration.schedule import ScheduledCron, scheduled_runs

TZ = "Asia/Ho_Chi_Minh"
CLOSE = ScheduledCron("0 0 6 * *", timezone=TZ)
START = pendulum.datetime(2019, 1, 1, tz=TZ)


def _next(restriction: TimeRestriction):
    return CLOSE.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)


@pytest.mark.parametrize(
    ("value", "on"),
    [(None, True), ("True", True), ("1", True), ("False", False), ("off", False), ("no", False)],
)
def test_the_switch_reads_the_environment_and_is_on_by_default(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv("CHISO_AIRFLOW_SCHEDULED_RUNS", raising=False)
    else:
        monkeypatch.setenv("CHISO_AIRFLOW_SCHEDULED_RUNS", value)
    assert scheduled_runs() is on


def test_the_scheduler_gets_no_next_run_while_scheduled_runs_are_off(monkeypatch):
    scheduler = TimeRestriction(earliest=START, latest=None, catchup=False)
    monkeypatch.setenv("CHISO_AIRFLOW_SCHEDULED_RUNS", "False")
    assert _next(scheduler) is None
    monkeypatch.setenv("CHISO_AIRFLOW_SCHEDULED_RUNS", "True")
    nxt = _next(scheduler)
    assert nxt is not None and nxt.data_interval.start.in_timezone(TZ).day == 6


@pytest.mark.parametrize("switch", ["False", "True"])
def test_a_backfill_gets_every_close_interval_either_way(monkeypatch, switch):
    monkeypatch.setenv("CHISO_AIRFLOW_SCHEDULED_RUNS", switch)
    backfill = TimeRestriction(
        earliest=pendulum.datetime(2020, 1, 6, tz=TZ),
        latest=pendulum.datetime(2025, 12, 6, tz=TZ),
        catchup=True,
    )
    starts, last = [], None
    while info := CLOSE.next_dagrun_info(last_automated_data_interval=last, restriction=backfill):
        starts.append(info.data_interval.start.in_timezone(TZ).date())
        last = info.data_interval
    assert len(starts) == 72  # 2020-01 … 2025-12, five years and the restructuring's
    assert starts[0].isoformat() == "2020-01-06" and starts[-1].isoformat() == "2025-12-06"


def test_it_survives_serialization():
    again = ScheduledCron.deserialize(CLOSE.serialize())
    assert type(again) is ScheduledCron
    assert again.summary == CLOSE.summary
