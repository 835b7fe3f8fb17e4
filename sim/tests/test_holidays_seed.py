"""The generated public-holiday seed, and the dbt working-day rule it feeds.

dbt computes working days as Monday–Friday minus ``ref_public_holidays``, then
``ref_holiday_overrides`` (which wins). That rule, read from the committed CSVs only, must give
the same days as the Python ``WorkingCalendar`` the simulator uses.
"""

from __future__ import annotations

import csv
import unicodedata
from datetime import date, timedelta
from pathlib import Path

from chiso_sim.calendar import HOLIDAY_OVERRIDES_CSV, WorkingCalendar, load_overrides
from chiso_sim.generate import holidays as holidays_seed

PUBLIC_HOLIDAYS_CSV = holidays_seed.PUBLIC_HOLIDAYS_CSV


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _sql_style_working_days(first: date, last: date) -> set[date]:
    """Mon–Fri minus ref_public_holidays, then ref_holiday_overrides: what dbt will compute."""
    public = {date.fromisoformat(r["day"]) for r in _read_csv(PUBLIC_HOLIDAYS_CSV)}
    overrides = {
        date.fromisoformat(r["day"]): r["is_day_off"].strip().lower() == "true"
        for r in _read_csv(HOLIDAY_OVERRIDES_CSV)
    }
    days = set()
    day = first
    while day <= last:
        off = day.weekday() >= 5 or day in public
        off = overrides.get(day, off)
        if not off:
            days.add(day)
        day += timedelta(days=1)
    return days


def test_seed_shape() -> None:
    rows = _read_csv(PUBLIC_HOLIDAYS_CSV)
    assert rows, "empty seed"
    assert tuple(rows[0]) == holidays_seed.COLUMNS
    days = [r["day"] for r in rows]
    assert len(days) == len(set(days)), "a day is listed twice"
    assert days == sorted(days)
    years = {date.fromisoformat(d).year for d in days}
    assert years == set(holidays_seed.YEARS)
    source = holidays_seed.source_label()
    for row in rows:
        assert row["holiday_name"]
        assert unicodedata.is_normalized("NFC", row["holiday_name"])
        assert row["source"] == source


def test_csv_calendar_equals_working_calendar_over_the_calendar_range() -> None:
    first = date(holidays_seed.FIRST_YEAR, 1, 1)
    last = date(holidays_seed.LAST_YEAR, 12, 31)
    from_csvs = _sql_style_working_days(first, last)
    python = set(WorkingCalendar(load_overrides()).working_days_between(first, last))
    only_csv = sorted(from_csvs - python)
    only_python = sorted(python - from_csvs)
    assert not only_csv and not only_python, (
        f"working only per the CSVs: {only_csv[:10]}; only per WorkingCalendar: {only_python[:10]}"
    )
    # Sanity: a year has roughly 250 working days, so the comparison is not vacuous.
    years = holidays_seed.LAST_YEAR - holidays_seed.FIRST_YEAR + 1
    assert years >= 26  # 2015–2040: the data's years, and a decade and more ahead
    assert years * 240 < len(python) < years * 255


def test_tet_2020_is_in_the_seed() -> None:
    by_day = {r["day"]: r["holiday_name"] for r in _read_csv(PUBLIC_HOLIDAYS_CSV)}
    tet = [date(2020, 1, 23) + timedelta(days=i) for i in range(7)]  # 23–29 Jan 2020
    for day in tet:
        assert day.isoformat() in by_day, f"{day} (Tết 2020) missing"
    assert by_day["2020-01-25"] == "Tết Nguyên Đán"
    assert "2020-01-22" not in by_day and "2020-01-30" not in by_day
    assert by_day["2020-09-02"] == "Quốc khánh"


def test_check_flag(tmp_path: Path) -> None:
    assert holidays_seed.main(["--out", str(tmp_path), "--check"]) == 1  # missing file
    assert not (tmp_path / holidays_seed.FILENAME).exists()
    assert holidays_seed.main(["--out", str(tmp_path)]) == 0
    assert holidays_seed.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / holidays_seed.FILENAME).write_text("day,holiday_name,source\n", encoding="utf-8")
    assert holidays_seed.main(["--out", str(tmp_path), "--check"]) == 1
