"""Hand-made cases for the oracle of what the marts add: targets, ranks and roll-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from chiso_sim.oracle import CatalogueRow, DossierFact
from chiso_sim.oracle_marts import (
    agency_on,
    monthly_rows,
    reference_indicators,
    restated,
    restatement_map,
    rollups,
    split_shares,
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


def _fact(agency: str, procedure: str, custody: tuple[tuple[date, str], ...] = ()) -> DossierFact:
    return DossierFact(
        agency=agency, procedure=procedure, received=date(2025, 6, 2), outcome="open",
        finish=None, due=None, level=3, channel="1", by_post=False, fee_positive=False,
        paid_online=False, digitised=False, e_result=False, reuse=False, vneid=False,
        supplements=(), processing_days=0, custody=custody,
    )  # fmt: skip


def _listing(agency: str, procedure: str, day: str) -> CatalogueRow:
    return CatalogueRow(agency, date.fromisoformat(day), procedure, 3, True, False, False)


def test_split_shares_follow_the_dossiers() -> None:
    """The dbt unit tests test_split_shares_follow_the_dossiers and
    test_restatement_shares_follow_lineage_transitively: P split into S1, S2 and S3 on
    1 July 2025; two dossiers were handed over (the first handover counts), F1 only S1
    lists after the split, F2 both S1 and S2, F3 S3 only before it, F4 nobody: S1 2.5, S2
    1.5, S3 0 of 4. One successor takes all; no evidence, equal shares. Restated, P's
    figures follow those shares (S3, which takes nothing, gets no row of P's) and a chain
    multiplies them."""
    split = date(2025, 7, 1)
    lineage = {
        "P": (("S1", split), ("S2", split), ("S3", split)),
        "Q": (("T", split),),
        "R": (("U1", split), ("U2", split)),
    }
    dossiers = [
        _fact("P", "F9", ((split, "S1"),)),
        _fact("P", "F1", ((split, "S2"), (date(2025, 9, 1), "X"))),
        _fact("P", "F1"), _fact("P", "F2"), _fact("P", "F3"), _fact("P", "F4"),
        _fact("R", "F1"), _fact("Q", "F1"),
    ]  # fmt: skip
    catalogue = [
        _listing("S1", "F1", "2025-07-31"),
        _listing("S1", "F2", "2025-07-31"),
        _listing("S2", "F2", "2025-08-31"),
        _listing("S3", "F3", "2025-06-30"),
    ]
    shares = split_shares(dossiers, catalogue, lineage)
    assert shares == {
        ("P", "S1"): Fraction(5, 8), ("P", "S2"): Fraction(3, 8), ("P", "S3"): 0,
        ("Q", "T"): 1, ("R", "U1"): Fraction(1, 2), ("R", "U2"): Fraction(1, 2),
    }  # fmt: skip
    keys = ["P", "Q", "R", "S1", "S2", "S3", "T", "U1", "U2"]
    moved = restatement_map(shares, lineage, keys)
    assert moved["P"] == {"S1": Fraction(5, 8), "S2": Fraction(3, 8)}
    assert moved["S3"] == {"S3": 1} and moved["Q"] == {"T": 1}
    result = {
        ("P", "dossier.ontime_rate", "calendar", "2025-06"): (8, 16, 0.5),
        ("S1", "dossier.ontime_rate", "calendar", "2025-06"): (1, 4, 0.25),
        ("P", "dossier.received", "calendar", "2025-06"): (16, None, 16),
    }
    got = restated(result, shares, lineage, keys)
    assert got[("S1", "dossier.ontime_rate", "calendar", "2025-06")] == (6, 14, Fraction(3, 7))
    assert got[("S2", "dossier.ontime_rate", "calendar", "2025-06")] == (3, 6, Fraction(1, 2))
    assert got[("S1", "dossier.received", "calendar", "2025-06")] == (10, None, 10)
    assert ("S3", "dossier.ontime_rate", "calendar", "2025-06") not in got
