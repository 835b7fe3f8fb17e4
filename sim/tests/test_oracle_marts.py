"""Hand-made cases for the oracle of what the marts add: targets, ranks and roll-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chiso_sim.oracle_marts import (
    agency_on,
    monthly_rows,
    reference_indicators,
    rollups,
    target_for,
)

DAY = date(2020, 1, 31)
A, B, C = "000.00.02.H23", "000.00.03.H23", "000.00.04.H23"  # Hải Dương departments
HG = "000.00.02.H02"  # Hà Giang's Sở Tư pháp


def test_directions_come_from_the_catalogue() -> None:
    directions = {code: ref.direction for code, ref in reference_indicators().items()}
    assert directions["dossier.early_rate"] == "higher_is_better"
    assert directions["dossier.late_rate"] == "lower_is_better"
    assert directions["dossier.received"] == "neutral"


def test_a_provinces_own_plan_binds_its_agencies_and_accumulating_ones_judge_years() -> None:
    hai_duong, ha_giang = agency_on(A, DAY), agency_on(HG, DAY)
    assert hai_duong is not None and ha_giang is not None
    target = target_for("dossier.online_rate_l34", hai_duong, 2020, "month")
    assert target is not None and (target.value, target.comparator) == (Decimal("0.20"), ">=")
    assert target_for("dossier.online_rate_l34", ha_giang, 2020, "month") is None  # no plan
    assert target_for("svc.l3_used", hai_duong, 2020, "month") is None  # years only
    year = target_for("svc.l3_used", hai_duong, 2020, "year")
    assert year is not None and year.value == Decimal("0.50")
    assert target_for("dossier.online_rate_l34", hai_duong, 2022, "month") is None  # plan over


def test_ranks_share_ties_follow_the_direction_and_skip_neutral_and_empty() -> None:
    def rows(code: str, values: dict[str, tuple[int, int | None]]) -> dict:
        return {(a, code, "calendar", "2020-01"): (n, d, None) for a, (n, d) in values.items()}

    result = {
        **rows("dossier.early_rate", {A: (1, 2), B: (7, 10), C: (14, 20)}),
        **rows("dossier.late_rate", {A: (1, 2), B: (7, 10), C: (0, 0)}),
        **rows("dossier.received", {A: (5, None), B: (9, None), C: (1, None)}),
    }
    got = monthly_rows(result, {"2020-01": DAY})
    early = {a: got[(a, "dossier.early_rate", "calendar", "2020-01")] for a in (A, B, C)}
    assert [(early[a].rank_in_tier, early[a].ranked_in_tier) for a in (A, B, C)] == [
        (3, 3), (1, 3), (1, 3)
    ]  # fmt: skip
    late = {a: got[(a, "dossier.late_rate", "calendar", "2020-01")] for a in (A, B, C)}
    assert [(late[a].rank_in_tier, late[a].ranked_in_tier) for a in (A, B, C)] == [
        (1, 2), (2, 2), (None, 2)
    ]  # fmt: skip
    assert late[C].value is None and early[A].value == Decimal("0.500000")
    received = got[(A, "dossier.received", "calendar", "2020-01")]
    assert received.rank_in_tier is None and received.value == 5


def test_rollups_are_ratios_of_sums_never_averages_of_rates() -> None:
    result = {
        (A, "dossier.early_rate", "calendar", "2020-01"): (1, 2, 0.5),
        (B, "dossier.early_rate", "calendar", "2020-01"): (9, 10, 0.9),
        (HG, "dossier.early_rate", "calendar", "2020-01"): (1, 1, 1.0),
    }
    sums = rollups(result, {"2020-01": DAY}, [A, B, HG])
    num, den, value = sums[("province", "30", None, "dossier.early_rate", "calendar", "2020-01")]
    assert (num, den, value) == (10, 12, Decimal("0.833333"))  # not (0,5 + 0,9) / 2
    assert sums[("tier", "02", "province_dept", "dossier.early_rate", "calendar", "2020-01")][
        :2
    ] == (1, 1)
