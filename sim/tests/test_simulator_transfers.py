"""Open dossiers of an agency that ends pass to its successor (1 March and 1 July 2025)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from chiso_sim import one_stop
from chiso_sim.config import SimulatorConfig

CFG = SimulatorConfig(start_month=date(2025, 2, 1), months=6)
JULY = datetime(2025, 7, 1, 7, 30)


def _agencies() -> dict[str, list[one_stop.Agency]]:
    out: dict[str, list[one_stop.Agency]] = {}
    for a in one_stop.agencies_for(CFG):
        out.setdefault(a.code, []).append(a)
    return out


def test_every_dossier_open_when_its_agency_ends_passes_to_a_successor_that_exists() -> None:
    versions = _agencies()
    lives = [
        life for m in (date(2025, 5, 1), date(2025, 6, 1)) for life in one_stop.month_lives(CFG, m)
    ]
    ended = [life for life in lives if str(life.base["DonViXuLy"]).split(".")[-1] != "H08"]
    moved = 0
    for life in ended:
        holder = next(a for a in versions[life.base["DonViXuLy"]] if a.valid_on(date(2025, 6, 1)))
        closing = next((e.at for e in life.events if e.status in {"3", "7", "8", "9", "10"}), None)
        still_open = holder.valid_to is not None and (closing is None or closing >= JULY)
        assert bool(life.transfers) == still_open, life.key
        if still_open:
            moved += 1
            new = life.transfers[-1]
            assert any(a.valid_on(JULY.date()) for a in versions[new.code])
            assert life.events[new.event].step == one_stop.TRANSFER_STEP
            assert life.events[new.event].at == JULY
    assert moved > 100


def test_a_transferred_dossier_shows_its_successor_from_the_transfer_on() -> None:
    lives = one_stop.month_lives(CFG, date(2025, 6, 1))
    life = next(
        life for life in lives if life.transfers and life.base["DonViXuLy"].startswith("000.00.3")
    )
    before = one_stop.dossier_at(life, datetime(2025, 6, 30, 18))
    after = one_stop.dossier_at(life, datetime(2025, 12, 31))
    assert before is not None and after is not None
    assert before["DonViXuLy"] == life.base["DonViXuLy"] != after["DonViXuLy"]
    assert after["DonViXuLy"] == life.transfers[-1].code
    assert (before["MaHoSo"], before["NgayTiepNhan"]) == (after["MaHoSo"], after["NgayTiepNhan"])
    rows = after["CapNhatTienDo"]
    moved_at = life.transfers[-1].event
    assert {r["DonViXuLy"] for r in rows[:moved_at]} == {life.base["DonViXuLy"]}
    assert {r["DonViXuLy"] for r in rows[moved_at:]} == {after["DonViXuLy"]}


def test_a_march_merger_hands_over_and_july_hands_over_again() -> None:
    """KH&ĐT ends on 28/02/2025: its dossiers open on 1 March go to the province's Sở Tài
    chính, and those still open on 1 July on to the merged province's."""
    lives = one_stop.month_lives(CFG, date(2025, 2, 1))
    planning = [life for life in lives if life.base["DonViXuLy"].startswith("000.00.04.")]
    moved = [life for life in planning if life.transfers]
    assert moved, "some of KH&ĐT's February dossiers are still open on 1 March"
    for life in moved:
        first = life.transfers[0]
        assert first.code.startswith("000.00.05.") and life.events[first.event].at == datetime(
            2025, 3, 1, 7, 30
        )
        assert first.code[-3:] == life.base["DonViXuLy"][-3:]  # the same old province


def test_citizens_do_not_vanish_when_their_agencies_merge() -> None:
    """Demand is conserved across 1 March and 1 July 2025: the agencies of the day after
    serve what those of the day before served (a successor takes its predecessors' demand,
    shared among a split's successors; a department that absorbed another keeps its own), so
    a province's dossier volume does not drop by the agencies the reform removed."""
    from pathlib import Path

    path = Path(CFG.agencies_csv)
    agencies = one_stop.agencies_for(CFG)

    def demand(day: date) -> float:
        return sum(
            one_stop._demand(CFG.seed, path, one_stop._agency_key(a), day)
            for a in agencies
            if a.valid_on(day)
        )

    for before, after in (
        (date(2025, 2, 28), date(2025, 3, 1)),
        (date(2025, 6, 30), date(2025, 7, 1)),
    ):
        assert demand(after) == pytest.approx(demand(before))
        assert sum(1 for a in agencies if a.valid_on(after)) < sum(
            1 for a in agencies if a.valid_on(before)
        )
    # and the dossiers follow: July's volume is within the month-to-month noise of June's
    june = len(one_stop.month_lives(CFG, date(2025, 6, 1)))
    july = len(one_stop.month_lives(CFG, date(2025, 7, 1)))
    assert 0.85 < july / june < 1.15


def test_correspondence_follows_the_agencies_that_took_the_work_over() -> None:
    """The document system scales each agency's volume by the work its predecessors passed
    to it (one_stop.workload_scale): a merged city's departments write and receive what the
    two provinces' did, so July's documents stay within the month-to-month swing of June's."""
    from chiso_sim.documents import generate_month

    cfg = SimulatorConfig(start_month=date(2025, 6, 1), months=2, provinces=("30", "31"))
    june = len(generate_month(cfg, date(2025, 6, 1)))
    july = len(generate_month(cfg, date(2025, 7, 1)))
    assert 0.8 < july / june < 1.25
