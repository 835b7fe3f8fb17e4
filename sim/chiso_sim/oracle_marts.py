"""What the published marts add to the indicator values, computed independently: the target
of each row, whether it is met, the rank among the province's agencies of the same tier, and
the province and tier roll-ups (docs/indicator-rules.md, "Targets", "Ranks", "Roll-ups").

Everything here starts from the oracle's own indicator values (:mod:`chiso_sim.oracle`) and
from the reference files an operator edits (``dbt_project/seeds``: agencies, provinces,
indicators, targets), never from the warehouse's output, so a mart that drifts from the rules
is caught by the end-to-end tests.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

from chiso.core.config import project_csv
from chiso_sim.oracle import CatalogueRow, DossierFact, Result

SIX = Decimal("0.000001")
FOUR = Decimal("0.0001")


def _rows(name: str) -> list[dict[str, str]]:
    with project_csv(name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class RefAgency:
    """An agency version as ref_agencies.csv lists it."""

    code: str
    tier: str
    province_code: str
    valid_from: date
    valid_to: date | None


@lru_cache(maxsize=1)
def reference_agencies() -> tuple[RefAgency, ...]:
    return tuple(
        RefAgency(
            r["agency_code"],
            r["tier"],
            r["province_code"],
            date.fromisoformat(r["valid_from"]),
            _day(r["valid_to"]),
        )
        for r in _rows("ref_agencies.csv")
    )


@lru_cache(maxsize=1)
def _versions_by_code() -> dict[str, tuple[RefAgency, ...]]:
    out: dict[str, list[RefAgency]] = defaultdict(list)
    for agency in reference_agencies():
        out[agency.code].append(agency)
    return {code: tuple(sorted(v, key=lambda a: a.valid_from)) for code, v in out.items()}


def agency_on(code: str, day: date) -> RefAgency | None:
    """The version of ``code`` valid on ``day`` (the first version also covers the days before
    it, a version that ended the days after it until the next one starts)."""
    versions = _versions_by_code().get(code, ())
    chosen = None
    for a in versions:
        if chosen is None or a.valid_from <= day:
            chosen = a
    return chosen


@lru_cache(maxsize=1)
def _province_units() -> tuple[tuple[str, date, date | None, str], ...]:
    return tuple(
        (r["unit_code"], date.fromisoformat(r["valid_from"]), _day(r["valid_to"]), r["unit_key"])
        for r in _rows("ref_admin_units.csv")
        if r["unit_level"] == "province"
    )


def province_unit(code: str, day: date) -> str | None:
    """The province unit a code named on ``day`` (codes were reused in 2025)."""
    for unit_code, start, end, key in _province_units():
        if unit_code == code and start <= day and (end is None or day <= end):
            return key
    return None


@dataclass(frozen=True)
class RefIndicator:
    unit: str
    direction: str
    target_period: str


@lru_cache(maxsize=1)
def reference_indicators() -> dict[str, RefIndicator]:
    return {
        r["indicator_code"]: RefIndicator(r["unit"], r["direction"], r["target_period"])
        for r in _rows("ref_indicators.csv")
    }


@dataclass(frozen=True)
class Target:
    value: Decimal
    comparator: str


@lru_cache(maxsize=1)
def _target_rows() -> tuple[dict[str, str], ...]:
    return tuple(_rows("ref_indicator_targets.csv"))


def target_for(indicator: str, agency: RefAgency, year: int, period_type: str) -> Target | None:
    """The target of an as-reported row: the province's own plan for the agency's tier and
    the year (a plan binds the province unit its code named when the plan began), else the
    national one; none for an indicator judged on years only outside year rows."""
    ref = reference_indicators()[indicator]
    if ref.target_period == "year" and period_type != "year":
        return None
    own = province_unit(agency.province_code, agency.valid_from)
    province, national = None, None
    for t in _target_rows():
        if t["indicator_code"] != indicator or t["tier"] != agency.tier:
            continue
        if not int(t["year_from"]) <= year <= int(t["year_to"]):
            continue
        target = Target(Decimal(t["target_value"]), t["comparator"])
        if not t["province_code"]:
            national = target
        elif province_unit(t["province_code"], date(int(t["year_from"]), 1, 1)) == own:
            province = target
    return province or national


def ratio_value(indicator: str, numerator: int, denominator: int | None) -> Decimal | None:
    """The value a mart stores: a count as is, a ratio rounded to 6 decimals (half up)."""
    if reference_indicators()[indicator].unit == "count":
        return Decimal(numerator)
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(SIX, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MonthlyRow:
    """What mart_kpi_monthly adds to an as-reported month row."""

    value: Decimal | None
    target_value: Decimal | None
    target_met: bool | None
    rank_in_tier: int | None
    ranked_in_tier: int | None


def monthly_rows(result: Result, month_day: Mapping[str, date]) -> dict[tuple, MonthlyRow]:
    """Per (agency_code, indicator, calendar, period_key) of the month rows of ``result``
    (``month_day``: period_key → a day of the period, to find each agency's version): value,
    target, whether it is met, and the rank among the agencies of its province and tier (best
    first by the indicator's direction, ties sharing a rank; neutral indicators unranked)."""
    rows: dict[tuple, MonthlyRow] = {}
    groups: dict[tuple, list[tuple[tuple, Decimal | None]]] = defaultdict(list)
    for key, (num, den, _) in result.items():
        agency_code, indicator, calendar, period_key = key
        if period_key not in month_day:
            continue
        agency = agency_on(agency_code, month_day[period_key])
        if agency is None:
            continue
        value = ratio_value(indicator, num, den)
        target = target_for(indicator, agency, int(period_key[:4]), "month")
        met = None
        if target is not None and value is not None:
            met = value >= target.value if target.comparator == ">=" else value <= target.value
        rows[key] = MonthlyRow(
            value, target.value.quantize(FOUR) if target else None, met, None, None
        )
        groups[(indicator, calendar, period_key, agency.province_code, agency.tier)].append(
            (key, value)
        )
    for (indicator, *_), members in groups.items():
        direction = reference_indicators()[indicator].direction
        if direction == "neutral":
            continue
        values = [v for _, v in members if v is not None]
        for key, value in members:
            rank = None
            if value is not None:
                sign = 1 if direction == "higher_is_better" else -1
                rank = 1 + sum(1 for v in values if sign * (v - value) > 0)
            r = rows[key]
            rows[key] = MonthlyRow(r.value, r.target_value, r.target_met, rank, len(values))
    return rows


def rollups(
    result: Result, day_of: Mapping[str, date], agencies: Iterable[str]
) -> dict[tuple, tuple[int, int | None, Decimal | None]]:
    """Province and tier roll-ups of the as-reported values: per (level, province_code, tier
    or None, indicator, calendar, period_key), the sums of numerators and denominators over
    the agencies and the value they give (a count's sum for counts)."""
    wanted = frozenset(agencies)
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for (agency_code, indicator, calendar, period_key), (num, den, _) in result.items():
        if agency_code not in wanted or period_key not in day_of:
            continue
        agency = agency_on(agency_code, day_of[period_key])
        if agency is None:
            continue
        for level, tier in (("province", None), ("tier", agency.tier)):
            total = sums[(level, agency.province_code, tier, indicator, calendar, period_key)]
            total[0] += num
            total[1] += den or 0
    out = {}
    for key, (num, den) in sums.items():
        indicator = key[3]
        is_count = reference_indicators()[indicator].unit == "count"
        out[key] = (num, None if is_count else den, ratio_value(indicator, num, den))
    return out


# --- the restated basis --------------------------------------------------------------------
@lru_cache(maxsize=1)
def _successors() -> dict[str, tuple[tuple[str, date], ...]]:
    """Each agency version's successors and the day it passed its work on (ref_agency_lineage)."""
    out: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for r in _rows("ref_agency_lineage.csv"):
        out[r["from_agency_key"]].append(
            (r["to_agency_key"], date.fromisoformat(r["effective_date"]))
        )
    return {k: tuple(sorted(v)) for k, v in out.items()}


@lru_cache(maxsize=1)
def _agency_keys() -> tuple[str, ...]:
    return tuple(r["agency_key"] for r in _rows("ref_agencies.csv"))


Successors = Mapping[str, tuple[tuple[str, date], ...]]


def split_shares(
    dossiers: Iterable[DossierFact],
    catalogue: Iterable[CatalogueRow],
    successors: Successors | None = None,
) -> dict[tuple[str, str], Fraction]:
    """(predecessor, successor) → the share of the predecessor's figures the successor takes
    in the restated basis (docs/indicator-rules.md, "Restated series"), agencies as version
    keys. A split agency's figures go where its own dossiers went: a dossier handed over
    (its first handover) to the successor it names; else to the successors whose catalogue,
    from the split on, lists its procedure (its field), shared among them; equal shares only
    when no dossier of the agency says. A single successor takes everything. ``successors``:
    the lineage (default: ref_agency_lineage.csv)."""
    successors = _successors() if successors is None else successors
    listed: dict[tuple[str, str], list[date]] = defaultdict(list)
    for row in catalogue:
        if row.offered:
            listed[(row.agency, row.procedure)].append(row.snapshot)
    weights: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
    for f in dossiers:
        after = successors.get(f.agency, ())
        if len(after) < 2:
            continue
        keys = {key for key, _ in after}
        if f.custody and f.custody[0][1] in keys:
            weights[(f.agency, f.custody[0][1])] += 1
            continue
        lists = [
            key
            for key, effective in after
            if any(day >= effective for day in listed.get((key, f.procedure or ""), ()))
        ]
        for key in lists:
            weights[(f.agency, key)] += Fraction(1, len(lists))
    out: dict[tuple[str, str], Fraction] = {}
    for before, after in successors.items():
        total = sum((weights[(before, key)] for key, _ in after), Fraction(0))
        for key, _ in after:
            if len(after) == 1:
                out[(before, key)] = Fraction(1)
            elif total:
                out[(before, key)] = weights[(before, key)] / total
            else:
                out[(before, key)] = Fraction(1, len(after))
    return out


def restatement_map(
    shares: Mapping[tuple[str, str], Fraction],
    successors: Successors | None = None,
    keys: Iterable[str] | None = None,
) -> dict[str, dict[str, Fraction]]:
    """Every agency version of ref_agencies.csv → the agencies of today that take its figures
    and the share each takes: the lineage followed to its end, shares multiplied along it
    (an agency with no successor keeps its own; a successor that takes nothing is skipped).
    ``successors`` and ``keys``: the lineage and the versions (default: the reference files)."""
    successors = _successors() if successors is None else successors

    def ends(key: str, share: Fraction, out: dict[str, Fraction], hops: int = 0) -> None:
        after = [(to, shares[(key, to)]) for to, _ in successors.get(key, ())]
        if not after or hops > 10:
            out[key] = out.get(key, Fraction(0)) + share
            return
        for to, part in after:
            if part > 0:
                ends(to, share * part, out, hops + 1)

    out: dict[str, dict[str, Fraction]] = {}
    for key in _agency_keys() if keys is None else keys:
        out[key] = {}
        ends(key, Fraction(1), out[key])
    return out


def restated(
    result: Result,
    shares: Mapping[tuple[str, str], Fraction],
    successors: Successors | None = None,
    keys: Iterable[str] | None = None,
) -> dict[tuple[str, str, str, str], tuple[Fraction, Fraction | None, Fraction | None]]:
    """The restated basis of version-keyed values: each version's numerators and denominators
    moved to today's agencies by :func:`restatement_map`, ratios recomputed from the sums
    (a count's value is its numerator; an empty ratio has none)."""
    moved = restatement_map(shares, successors, keys)
    sums: dict[tuple[str, str, str, str], list[Fraction]] = defaultdict(
        lambda: [Fraction(0), Fraction(0)]
    )
    for (agency, indicator, calendar, period_key), (num, den, _) in result.items():
        for current, share in moved.get(agency, {agency: Fraction(1)}).items():
            total = sums[(current, indicator, calendar, period_key)]
            total[0] += num * share
            total[1] += (den or 0) * share
    out = {}
    for key, (num, den) in sums.items():
        if reference_indicators()[key[1]].unit == "count":
            out[key] = (num, None, num)
        else:
            out[key] = (num, den, num / den if den else None)
    return out
