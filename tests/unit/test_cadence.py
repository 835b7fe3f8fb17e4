"""The cadence knobs come from the environment and refuse values that make no sense."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from chiso.core.cadence import Cadence


def test_defaults_and_environment(monkeypatch):
    for name in (
        "CHISO_HISTORY_START",
        "CHISO_CHANGE_WINDOW_DAYS",
        "CHISO_CHANGE_OVERLAP_MINUTES",
        "CHISO_LOOKBACK_MONTHS",
        "CHISO_CLOSE_GRACE_DAYS",
        "CHISO_REPUBLISH_MONTHS",
        "CHISO_PUBLISH_DEADLINE_DAY",
        "CHISO_CLOSE_DEADLINE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    assert Cadence.from_env() == Cadence()
    monkeypatch.setenv("CHISO_HISTORY_START", "2021-03-01")
    monkeypatch.setenv("CHISO_CHANGE_WINDOW_DAYS", "7")
    monkeypatch.setenv("CHISO_CHANGE_OVERLAP_MINUTES", "0")
    monkeypatch.setenv("CHISO_LOOKBACK_MONTHS", "12")
    assert Cadence.from_env() == Cadence(date(2021, 3, 1), timedelta(days=7), timedelta(0), 12)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHISO_CHANGE_WINDOW_DAYS", "0", "must be > 0"),
        ("CHISO_LOOKBACK_MONTHS", "-1", ">= 0"),
        ("CHISO_LOOKBACK_MONTHS", "ba", "whole number"),
        ("CHISO_CLOSE_GRACE_DAYS", "40", "0–27"),
        # on or before the close (day 6 with the default grace), or past February's end
        ("CHISO_PUBLISH_DEADLINE_DAY", "6", "after the close"),
        ("CHISO_PUBLISH_DEADLINE_DAY", "29", "by the 28th"),
    ],
)
def test_nonsense_is_refused(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Cadence.from_env()


def test_close_instant_and_republication_window():
    c = Cadence(grace=timedelta(days=5))
    assert c.close_instant(date(2020, 1, 1)) == datetime(2020, 2, 6)
    assert c.close_instant(date(2020, 12, 1)) == datetime(2021, 1, 6)
    assert c.republish_from(date(2020, 3, 1)) == date(2020, 1, 1)
    assert Cadence(republish_months=6).republish_from(date(2020, 3, 1)) == date(2019, 9, 1)


def test_the_publication_deadline_and_how_long_a_close_may_take(monkeypatch):
    """A month is due by the deadline day of the next month; a close queued at the close
    instant may take until then, or CHISO_CLOSE_DEADLINE_SECONDS (a drill)."""
    from chiso.orchestration.doctor import due_month

    c = Cadence(grace=timedelta(days=5), publish_deadline_day=10)
    assert c.publish_deadline(date(2020, 12, 1)) == datetime(2021, 1, 10)
    assert c.close_deadline() == timedelta(days=4)
    assert c.close_instant(date(2020, 1, 1)) + c.close_deadline() == datetime(2020, 2, 10)
    assert Cadence(close_deadline_seconds=90).close_deadline() == timedelta(seconds=90)
    monkeypatch.setenv("CHISO_PUBLISH_DEADLINE_DAY", "15")
    monkeypatch.setenv("CHISO_CLOSE_GRACE_DAYS", "3")
    assert Cadence.from_env().close_deadline() == timedelta(days=11)
    # the latest month due: October once 10 November has begun, September just before
    assert due_month(c, datetime(2026, 11, 10, 0, 0)) == date(2026, 10, 1)
    assert due_month(c, datetime(2026, 11, 9, 23, 59)) == date(2026, 9, 1)
    assert due_month(c, datetime(2027, 1, 31)) == date(2026, 12, 1)


def test_a_close_created_after_its_deadline_day_gets_the_allowance_from_then():
    """The monthly close's deadline reference: October's close is due on 10 November (local
    time); a run of October created on 3 December (a backfill, a late close) has the close's
    four days from then; a drill counts its seconds from the run's creation."""
    from zoneinfo import ZoneInfo

    from chiso.orchestration.deadline import publication_deadline

    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    c = Cadence(grace=timedelta(days=5), publish_deadline_day=10)
    october = date(2026, 10, 1)
    on_time = datetime(2026, 11, 6, tzinfo=hcm)
    assert publication_deadline(october, on_time, c) == datetime(2026, 11, 10, tzinfo=hcm)
    late = datetime(2026, 12, 3, 9, 30, tzinfo=hcm)
    assert publication_deadline(october, late, c) == late + timedelta(days=4)
    drill = Cadence(close_deadline_seconds=60)
    assert publication_deadline(october, on_time, drill) == on_time + timedelta(seconds=60)
