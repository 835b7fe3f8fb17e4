"""Generate ``ref_public_holidays.csv``: Vietnam's statutory holidays for dbt.

dbt cannot call Python, so the holidays that ``chiso_sim.calendar.WorkingCalendar`` takes
from the ``holidays`` package are written out as a seed. SQL that computes working days must use
the same rule as ``WorkingCalendar``: Monday–Friday, minus the days in ``ref_public_holidays``,
then ``ref_holiday_overrides`` (which always wins, in both directions).

The rows are exactly ``holidays.country_holidays("VN", years=year)`` for each year of the dbt
project's calendar range (vars ``calendar_first_day`` and ``calendar_last_day`` in
``dbt_project/dbt_project.yml``: the working-day calendar covers the same days),
queried one year at a time like ``WorkingCalendar`` does, with the package's Vietnamese names
(``language="vi"``, the package's original language: without it the names would follow the
process locale) normalised to NFC. Weekend holidays are kept: the list is the package's, the
Monday–Friday rule makes them irrelevant to working-day counts. ``source`` records the
``holidays`` version, because new releases add announced day-off swaps; regenerate after
upgrading the package.

Re-run (from the repository root)::

    .venv/bin/python -m chiso_sim.generate.holidays          # write
    .venv/bin/python -m chiso_sim.generate.holidays --check  # exit 1 if the seed is stale
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import metadata
from pathlib import Path

import holidays
import yaml

from chiso.core.config import DBT_PROJECT_DIR, REFERENCE_DIR

FILENAME = "ref_public_holidays.csv"
PUBLIC_HOLIDAYS_CSV = REFERENCE_DIR / FILENAME


def _calendar_years() -> tuple[int, int]:
    """The first and last year of the dbt project's calendar range (its vars)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    variables = project["vars"]
    return (
        date.fromisoformat(str(variables["calendar_first_day"])).year,
        date.fromisoformat(str(variables["calendar_last_day"])).year,
    )


FIRST_YEAR, LAST_YEAR = _calendar_years()
YEARS = range(FIRST_YEAR, LAST_YEAR + 1)
COUNTRY = "VN"
LANGUAGE = "vi"
COLUMNS = ("day", "holiday_name", "source")


def source_label() -> str:
    """``holidays <version>`` of the installed package."""
    return f"holidays {metadata.version('holidays')}"


def holiday_rows(years: Iterable[int] = YEARS) -> list[dict[str, str]]:
    """One row per statutory holiday of ``years``, sorted by day."""
    source = source_label()
    rows = []
    for year in years:
        # One year per call, as in WorkingCalendar._compute_year.
        statutory = holidays.country_holidays(COUNTRY, years=year, language=LANGUAGE)
        for day, name in sorted(statutory.items()):
            if day.year != year:  # WorkingCalendar only asks this year's object about its days
                continue
            rows.append(
                {
                    "day": day.isoformat(),
                    "holiday_name": unicodedata.normalize("NFC", name),
                    "source": source,
                }
            )
    return rows


def render(years: Iterable[int] = YEARS) -> str:
    """The seed's text: comma CSV, header row, LF line ends, UTF-8 NFC, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(holiday_rows(years))
    return buffer.getvalue()


def outputs() -> dict[Path, str]:
    """The committed file this generator owns, with the text it should hold."""
    return {PUBLIC_HOLIDAYS_CSV: render()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="reference directory")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the committed seed differs"
    )
    args = parser.parse_args(argv)
    text = render()
    path = args.out / FILENAME
    current = path.read_text(encoding="utf-8") if path.exists() else None
    stale = current != text
    if stale and not args.check:
        path.write_text(text, encoding="utf-8")
    note = " (changed)" if stale else ""
    print(f"{FILENAME}: {text.count(chr(10)) - 1} rows, {source_label()}{note}")
    if args.check and stale:
        print(
            f"holidays_seed: {path} is out of date; run python -m chiso_sim.generate.holidays",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
