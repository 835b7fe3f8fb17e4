"""Reference KPI computation on hand-made dossiers with known answers."""

from __future__ import annotations

from datetime import date

import pytest

from chiso.reference_kpis import (
    EARLY_RATE,
    INDICATORS,
    LATE_RATE,
    ONLINE_RATE_L34,
    compute_monthly_kpis,
)
from chiso.simulator.one_stop import SimulatorConfig, generate_dossiers

JAN, FEB = date(2020, 1, 1), date(2020, 2, 1)


def dossier(
    agency: str = "A",
    level: str = "3",
    channel: str | None = "1",
    status: str = "4",
    received: str | None = "20200110090000",
    due: str | None = "20200117170000",
    finished: str | None = None,
    returned: str | None = None,
) -> dict:
    return {
        "MaHoSo": f"{agency}-{received}-{status}-{finished}",
        "MucDo": level,
        "DonViXuLy": agency,
        "KenhThucHien": channel,
        "TrangThaiHoSo": status,
        "NgayTiepNhan": received,
        "NgayHenTra": due,
        "NgayKetThucXuLy": finished,
        "NgayTra": returned,
    }


def test_early_on_time_late_thirds() -> None:
    rows = [
        dossier(status="9", finished="20200116100000"),  # early
        dossier(status="10", finished="20200117163000", returned="20200120090000"),  # on time
        dossier(status="10", finished="20200120080000", returned="20200120090000"),  # late
    ]
    kpis = compute_monthly_kpis(rows, [JAN], ["A"])
    assert kpis[("A", EARLY_RATE, JAN)] == (1, 3, pytest.approx(1 / 3))
    assert kpis[("A", LATE_RATE, JAN)] == (1, 3, pytest.approx(1 / 3))


def test_on_time_compares_dates_not_times() -> None:
    # Finished at 18:00 on the due date (due 17:00): on time, not late.
    rows = [dossier(status="9", finished="20200117180000")]
    kpis = compute_monthly_kpis(rows, [JAN], ["A"])
    assert kpis[("A", LATE_RATE, JAN)] == (0, 1, 0.0)
    assert kpis[("A", EARLY_RATE, JAN)] == (0, 1, 0.0)


def test_finish_month_and_fallback_to_ngaytra() -> None:
    rows = [
        # Received in January, finished late in February.
        dossier(status="9", finished="20200203090000"),
        # No NgayKetThucXuLy: NgayTra is the finish time (early, February).
        dossier(status="10", due="20200210170000", returned="20200205090000"),
        # Not resolved: withdrawn / stopped / open never count, whatever their dates.
        dossier(status="7", finished="20200115090000"),
        dossier(status="8", finished="20200204090000"),
        dossier(status="4"),
    ]
    kpis = compute_monthly_kpis(rows, [JAN, FEB], ["A"])
    assert kpis[("A", EARLY_RATE, JAN)] == (0, 0, None)
    assert kpis[("A", LATE_RATE, FEB)] == (1, 2, 0.5)
    assert kpis[("A", EARLY_RATE, FEB)] == (1, 2, 0.5)


def test_online_rate_levels_and_channels() -> None:
    rows = [
        dossier(level="3", channel="2"),
        dossier(level="4", channel="2"),
        dossier(level="4", channel="1"),
        dossier(level="3", channel=None),  # null channel = direct
        dossier(level="3", channel="3"),  # BCCI is not online
        dossier(level="2", channel="2"),  # level 2 is outside the indicator
        dossier(level="3", channel="2", received=None),
        dossier(level="3", channel="2", received="20200201080000"),  # February
        dossier(agency="B", level="3", channel="2"),
    ]
    kpis = compute_monthly_kpis(rows, [JAN, FEB], ["A"])
    assert kpis[("A", ONLINE_RATE_L34, JAN)] == (2, 5, 0.4)
    assert kpis[("A", ONLINE_RATE_L34, FEB)] == (1, 1, 1.0)
    assert not any(agency == "B" for agency, _, _ in kpis)


def test_every_cell_present_with_none_when_empty() -> None:
    kpis = compute_monthly_kpis([], [JAN, FEB], ["A", "B"])
    assert len(kpis) == 2 * 2 * len(INDICATORS)
    assert set(kpis.values()) == {(0, 0, None)}


def test_generated_data_sums_match_direct_counts() -> None:
    dossiers = generate_dossiers(SimulatorConfig(months=3))
    months = [JAN, FEB, date(2020, 3, 1)]
    agencies = sorted({d["DonViXuLy"] for d in dossiers})
    kpis = compute_monthly_kpis(dossiers, months, agencies)
    resolved = [
        d
        for d in dossiers
        if d["TrangThaiHoSo"] in {"9", "10"} and d["NgayKetThucXuLy"][:6] <= "202003"
    ]
    early_den = sum(v[1] for (_, ind, _), v in kpis.items() if ind == EARLY_RATE)
    early_num = sum(v[0] for (_, ind, _), v in kpis.items() if ind == EARLY_RATE)
    assert early_den == len(resolved)
    assert early_num == sum(d["NgayKetThucXuLy"][:8] < d["NgayHenTra"][:8] for d in resolved)
    online_den = sum(v[1] for (_, ind, _), v in kpis.items() if ind == ONLINE_RATE_L34)
    assert online_den == sum(d["MucDo"] in {"3", "4"} for d in dossiers)
