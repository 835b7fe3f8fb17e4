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
