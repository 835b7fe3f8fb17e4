"""The reference files an operator edits, and the tables they load into.

Each file is a CSV with a header row (UTF-8, NFC; a byte-order mark is accepted, as Excel
writes one), one per table of the warehouse's ``reference`` schema
(chiso/migrations/V015__reference_data.sql), read by dbt as the source ``reference`` through
the models of the same name (dbt_project/models/staging/reference/). The project's files,
for the demo's provinces, are in ``reference/`` at the top of the repository; a deployment
keeps its own copy elsewhere (``CHISO_REFERENCE_DIR``, made by ``chiso reference init``) under
version control, and edits that.

``touches`` says what a change to the file can change downstream, so a load rebuilds only
that (chiso/reference/changes.py):

- ``versions``: the days of the changed rows' validity (an agency version);
- ``years``: the changed rows' years (a target, an annual index);
- ``months``: the changed rows' months (a declared break: the gate and the report of that
  month read it);
- ``days_from``: every period from the earliest changed day on (a holiday moves the due dates
  of the dossiers open over it);
- ``history``: all of it (lineage and units restate every period's restated basis).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Literal

from chiso.core.config import SEEDS_DIR

ColumnType = Literal["text", "date", "integer", "numeric", "boolean"]
Touches = Literal["versions", "years", "months", "days_from", "history"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = False


@dataclass(frozen=True)
class ReferenceFile:
    """One file and its table."""

    table: str  # reference.<table>; dbt's model ref_<table>
    columns: tuple[Column, ...]
    touches: Touches
    description: str
    # a file a later version added: a deployment's folder made before it may lack it, which
    # loads as no rows (any other file missing is an error)
    optional: bool = False

    @property
    def file_name(self) -> str:
        return f"ref_{self.table}.csv"

    @property
    def model(self) -> str:
        return f"ref_{self.table}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: ColumnType = "text", required: bool = False) -> Column:
    return Column(name, type_, required)


REFERENCE_FILES: tuple[ReferenceFile, ...] = (
    ReferenceFile(
        "admin_units",
        (
            _c("unit_key", required=True), _c("unit_code", required=True),
            _c("unit_name", required=True), _c("unit_level", required=True),
            _c("parent_unit_key"), _c("valid_from", "date", True), _c("valid_to", "date"),
            _c("code_system", required=True),
        ),
        "history",
        "Provinces, districts and communes, one row per version (validity dates).",
    ),
    ReferenceFile(
        "admin_unit_lineage",
        (
            _c("from_unit_key", required=True), _c("to_unit_key", required=True),
            _c("relation", required=True), _c("effective_date", "date", True),
        ),
        "history",
        "Which unit continues an ended one, whole or in part, from which day.",
    ),
    ReferenceFile(
        "agencies",
        (
            _c("agency_code", required=True), _c("agency_name", required=True),
            _c("tier", required=True), _c("province_code", required=True),
            _c("province_name"), _c("parent_agency_code"), _c("valid_from", "date", True),
            _c("valid_to", "date"), _c("agency_key", required=True),
            _c("unit_key", required=True), _c("agency_kind", required=True),
        ),
        "versions",
        "Agencies, one row per version: a code reused after the 2025 restructuring is a new one.",
    ),
    ReferenceFile(
        "agency_lineage",
        (
            _c("from_agency_key", required=True), _c("to_agency_key", required=True),
            _c("relation", required=True), _c("effective_date", "date", True),
        ),
        "history",
        "Which agency continues an ended one, whole or in part, from which day.",
    ),
    ReferenceFile(
        "public_holidays",
        (_c("day", "date", True), _c("holiday_name", required=True), _c("source", required=True)),
        "days_from",
        "Statutory public holidays, as the `holidays` package lists them.",
    ),
    ReferenceFile(
        "holiday_overrides",
        (
            _c("day", "date", True), _c("is_day_off", "boolean", True), _c("description"),
            _c("legal_basis"),
        ),
        "days_from",
        "Announced day-off swaps and make-up working days; they win over the holidays.",
    ),
    ReferenceFile(
        "indicator_targets",
        (
            # no province: a national target, for every province without one of its own
            _c("indicator_code", required=True), _c("province_code"),
            _c("tier", required=True), _c("year_from", "integer", True),
            _c("year_to", "integer", True), _c("target_value", "numeric", True),
            _c("comparator", required=True), _c("source_document", required=True),
            _c("denominator_in_source", required=True),
        ),
        "years",
        "Each indicator's target per province, tier and years, with the plan that sets it.",
    ),
    ReferenceFile(
        "indicator_breaks",
        (
            # no province: a national break (a decree), for every province
            _c("indicator_code", required=True), _c("province_code"),
            _c("break_month", "date", True), _c("description", required=True),
            _c("legal_basis", required=True),
        ),
        "months",
        "Declared breaks: a month an indicator's definition or scope changed, not comparable"
        " with the month before (the gate's volume check skips it; the report says so).",
        optional=True,
    ),
    ReferenceFile(
        "annual_index_values",
        (
            _c("indicator_code", required=True), _c("province_code", required=True),
            _c("year", "integer", True), _c("index_version", required=True),
            _c("value", "numeric"), _c("rank", "integer"), _c("rank_of", "integer"),
            _c("source_document", required=True),
        ),
        "years",
        "Annual indices (ICT Index, DTI) and ranks per province, with their source.",
    ),
)  # fmt: skip

BY_TABLE = {f.table: f for f in REFERENCE_FILES}


def catalogue_codes() -> list[str]:
    """The indicator codes of the product's catalogue (dbt_project/seeds/ref_indicators.csv),
    which every target and annual index must name."""
    with (SEEDS_DIR / "ref_indicators.csv").open(encoding="utf-8", newline="") as fh:
        return sorted(row["indicator_code"] for row in csv.DictReader(fh))
