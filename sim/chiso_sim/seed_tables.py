"""Typed access to the reference seeds (admin units, agencies and their lineage).

Python code (simulators, tests, restatement helpers) reads the same CSVs dbt loads, so there is
one copy of the reference data. Codes are reused across the 1 July 2025 restructuring, so every
lookup that must be unambiguous goes through the surrogate keys (``unit_key``, ``agency_key``)
or a (code, day) pair, never through a code alone.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from chiso.core.config import REFERENCE_DIR

ADMIN_UNITS_CSV = REFERENCE_DIR / "ref_admin_units.csv"
UNIT_LINEAGE_CSV = REFERENCE_DIR / "ref_admin_unit_lineage.csv"
AGENCIES_CSV = REFERENCE_DIR / "ref_agencies.csv"
AGENCY_LINEAGE_CSV = REFERENCE_DIR / "ref_agency_lineage.csv"

UNIT_LEVELS = ("province", "district", "commune")
CODE_SYSTEMS = ("pre_2025", "post_2025")
TIERS = ("province_dept", "district", "commune")
AGENCY_KINDS = ("department", "district_committee", "commune_committee")
RELATIONS = ("whole", "part")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _day(text: str | None) -> date | None:
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def _required_day(text: str | None, what: str) -> date:
    value = _day(text)
    if value is None:
        raise ValueError(f"{what} is empty")
    return value


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _check(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{what} {value!r} not in {allowed}")
    return value


class _Validity:
    """Inclusive [valid_from, valid_to] interval; ``valid_to`` None = still valid."""

    valid_from: date
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        """True if the row describes reality on ``day`` (both bounds inclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class AdminUnit(_Validity):
    """One version of an administrative unit; a code reused after 2025 is a different unit."""

    unit_key: str
    unit_code: str
    unit_name: str
    unit_level: str
    parent_unit_key: str | None
    valid_from: date
    valid_to: date | None
    code_system: str


@dataclass(frozen=True)
class UnitLineage:
    """``from`` ended and (all of it, or a part) continued as ``to`` from ``effective_date``."""

    from_unit_key: str
    to_unit_key: str
    relation: str
    effective_date: date


@dataclass(frozen=True)
class Agency(_Validity):
    """One agency (sở, UBND huyện, UBND xã) over one validity interval."""

    agency_code: str
    agency_name: str
    tier: str
    province_code: str
    province_name: str
    parent_agency_code: str | None
    valid_from: date
    valid_to: date | None
    agency_key: str
    unit_key: str
    agency_kind: str


@dataclass(frozen=True)
class AgencyLineage:
    """Workload of ``from`` moved (wholly or partly) to ``to`` from ``effective_date``."""

    from_agency_key: str
    to_agency_key: str
    relation: str
    effective_date: date


def load_admin_units(path: Path | None = None) -> list[AdminUnit]:
    """Rows of ref_admin_units.csv, in file order."""
    units = []
    for row in _rows(path or ADMIN_UNITS_CSV):
        key = row["unit_key"]
        units.append(
            AdminUnit(
                unit_key=key,
                unit_code=row["unit_code"],
                unit_name=_nfc(row["unit_name"]),
                unit_level=_check(row["unit_level"], UNIT_LEVELS, f"{key}: unit_level"),
                parent_unit_key=row["parent_unit_key"] or None,
                valid_from=_required_day(row["valid_from"], f"{key}: valid_from"),
                valid_to=_day(row["valid_to"]),
                code_system=_check(row["code_system"], CODE_SYSTEMS, f"{key}: code_system"),
            )
        )
    return units


def load_unit_lineage(path: Path | None = None) -> list[UnitLineage]:
    """Rows of ref_admin_unit_lineage.csv, in file order."""
    return [
        UnitLineage(
            from_unit_key=row["from_unit_key"],
            to_unit_key=row["to_unit_key"],
            relation=_check(row["relation"], RELATIONS, "relation"),
            effective_date=_required_day(row["effective_date"], "effective_date"),
        )
        for row in _rows(path or UNIT_LINEAGE_CSV)
    ]


def load_agencies(path: Path | None = None) -> list[Agency]:
    """Rows of ref_agencies.csv, in file order."""
    agencies = []
    for row in _rows(path or AGENCIES_CSV):
        key = row["agency_key"]
        agencies.append(
            Agency(
                agency_code=row["agency_code"],
                agency_name=_nfc(row["agency_name"]),
                tier=_check(row["tier"], TIERS, f"{key}: tier"),
                province_code=row["province_code"],
                province_name=_nfc(row["province_name"]),
                parent_agency_code=row["parent_agency_code"] or None,
                valid_from=_required_day(row["valid_from"], f"{key}: valid_from"),
                valid_to=_day(row["valid_to"]),
                agency_key=key,
                unit_key=row["unit_key"],
                agency_kind=_check(row["agency_kind"], AGENCY_KINDS, f"{key}: agency_kind"),
            )
        )
    return agencies


def load_agency_lineage(path: Path | None = None) -> list[AgencyLineage]:
    """Rows of ref_agency_lineage.csv, in file order."""
    return [
        AgencyLineage(
            from_agency_key=row["from_agency_key"],
            to_agency_key=row["to_agency_key"],
            relation=_check(row["relation"], RELATIONS, "relation"),
            effective_date=_required_day(row["effective_date"], "effective_date"),
        )
        for row in _rows(path or AGENCY_LINEAGE_CSV)
    ]


def agency_on(agencies: Iterable[Agency], code: str, day: date) -> Agency | None:
    """The agency that carried ``code`` on ``day``: the only safe way to resolve a code.

    Raises if two agencies claim the code on the same day (the seed tests forbid that).
    """
    hits = [a for a in agencies if a.agency_code == code and a.valid_on(day)]
    if len(hits) > 1:
        raise ValueError(f"{code} is ambiguous on {day}: {[a.agency_key for a in hits]}")
    return hits[0] if hits else None
