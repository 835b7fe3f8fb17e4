"""The cadence knobs come from the environment and refuse values that make no sense."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chiso.core.cadence import Cadence


def test_defaults_and_environment(monkeypatch):
    for name in ("CHISO_HISTORY_START", "CHISO_CHANGE_WINDOW_DAYS", "CHISO_LOOKBACK_MONTHS"):
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
    ],
)
def test_nonsense_is_refused(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Cadence.from_env()
