"""The reference indicator computation on hand-made records with known answers.

Each case pins one rule of ``docs/indicator-rules.md``; the generated-data cases check the
identities that must hold whatever the draws.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import agencies_for, generate_dossiers
from chiso_sim.oracle import (
    COUNT_INDICATORS,
    INDICATORS,
    AgencyVersions,
    Period,
    compute_indicators,
    compute_monthly_kpis,
    coverage_indicators,
    document_indicators,
    dossier_fact,
    dossier_indicators,
    effective_level,
    nth_working_day,
    period_containing,
    periods_between,
    procedures_without_result,
    qd766_scorecard,
    scorecard_items,
    service_indicators,
    states_a_result,
    time_limit_days,
    usage_indicators,
    working_days,
)
from chiso_sim.portal import usage_month

JAN, FEB, MAR, APR = (date(2020, m, 1) for m in (1, 2, 3, 4))
Q1 = "2020-Q1"


# --- builders ------------------------------------------------------------------------------
def ts(day: str, clock: str = "090000") -> str:
    """'2020-01-10' → '20200110090000' (the one-stop timestamp format)."""
    return day.replace("-", "") + clock


def supplement(requested: str, supplied: str | None = None) -> dict[str, Any]:
    return {
        "LanBoSung": "1",
        "NgayYeuCau": ts(requested),
        "NgayBoSung": ts(supplied) if supplied else None,
        "NgayHenTraCu": None,
        "NgayHenTraMoi": None,
    }


def dossier(
    received: str = "2020-01-10",
    *,
    status: str = "4",
    due: str | None = "2020-01-17",
    finished: str | None = None,
    returned: str | None = None,
    supplements: tuple[dict[str, Any], ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """An open level-3 over-the-counter dossier of agency A unless told otherwise."""
    record: dict[str, Any] = {
        "MaHoSo": f"A-{received}-{status}-{finished}",
        "MaTTHC": "P1",
        "MucDo": "3",
        "DonViXuLy": "A",
        "NgayTiepNhan": ts(received),
        "NgayHenTra": ts(due, "170000") if due else None,
        "NgayKetThucXuLy": ts(finished, "100000") if finished else None,
        "NgayTra": ts(returned, "110000") if returned else None,
        "TrangThaiHoSo": status,
        "KenhThucHien": "1",
        "HinhThucTra": "0",
        "DuocThanhToanTrucTuyen": "0",
        "PhiLePhi": "0",
        "HoSoCoThanhPhanSoHoa": "0",
        "CoKetQuaDienTu": "0",
        "TaiSuDungDuLieuSoHoa": "0",
        "TaiKhoanDuocXacThucVoiVNeID": "0",
        "DanhSachHoSoBoSung": list(supplements),
    }
    record.update(fields)
    return record


def resolved(received: str, finished: str, due: str | None, **fields: Any) -> dict[str, Any]:
    return dossier(received, status="9", finished=finished, due=due, **fields)


def period(key: str, calendar: str = "calendar") -> Period:
    """The period named ``key`` ('2020-01', '2020-Q1', '2020-H1', '2020') of ``calendar``."""
    year = int(key[:4])
    if len(key) == 4:
        return period_containing(calendar, "year", date(year, 1, 1))
    if key[5] == "Q":
        return period_containing(calendar, "quarter", date(year, 3 * int(key[6]), 1))
    if key[5] == "H":
        return period_containing(calendar, "half", date(year, 6 * int(key[6]), 1))
    return period_containing(calendar, "month", date(year, int(key[5:7]), 1))


def dossiers_in(records: list[dict[str, Any]], *periods: Period) -> dict:
    return dossier_indicators(records, periods, ["A"])


def at(result: dict, code: str, p: Period, agency: str = "A") -> tuple:
    return result[(agency, code, p.calendar, p.period_key)]


def fraction(result: dict, code: str, p: Period) -> tuple[int, int | None]:
    return at(result, code, p)[:2]


def offering(
    procedure: str,
    level: str,
    *,
    day: str = "2020-01-31",
    agency: str = "A",
    status: str = "dang_cong_khai",
    eligible: str = "0",
    integrated: str = "0",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "ngay_chot": day,
        "don_vi": agency,
        "ma_tthc": procedure,
        "muc_do": level,
        "du_dieu_kien_toan_trinh": eligible,
        "tich_hop_dvcqg": integrated,
        "trang_thai": status,
        **fields,
    }


def document(day: str, direction: str = "di", **fields: Any) -> dict[str, Any]:
    """A non-secret official electronic document of agency A."""
    record: dict[str, Any] = {
        "don_vi": "A",
        "huong": direction,
        "ngay_gui_nhan": f"{day} 09:30:00",
        "hinh_thuc": "dien_tu",
        "co_chu_ky_so": "0",
        "qua_truc_lien_thong": "0",
        "noi_bo": "0",
        "do_mat": "0",
        "han_xu_ly": None,
        "ngay_xu_ly": None,
        "ma_ho_so_cong_viec": None,
        "xu_ly_tren_mang": None,
    }
    record.update(fields)
    return record


# --- periods -------------------------------------------------------------------------------
def test_periods_between_lists_months_and_their_containing_periods_in_both_calendars() -> None:
    periods = periods_between(JAN, APR)
    names = [(p.calendar, p.period_type, p.period_key) for p in periods]
    per_calendar = [
        ("month", "2020-01"),
        ("month", "2020-02"),
        ("month", "2020-03"),
        ("month", "2020-04"),
        ("quarter", "2020-Q1"),
        ("quarter", "2020-Q2"),
        ("half", "2020-H1"),
        ("year", "2020"),
    ]
    assert names == [(c, t, k) for c in ("calendar", "official") for t, k in per_calendar]
    windows = {(p.calendar, p.period_key): (p.start, p.end) for p in periods}
    assert windows[("calendar", "2020-02")] == (date(2020, 2, 1), date(2020, 2, 29))
    assert windows[("calendar", "2020-Q2")] == (date(2020, 4, 1), date(2020, 6, 30))
    assert windows[("official", "2020-01")] == (date(2019, 12, 15), date(2020, 1, 14))
    assert windows[("official", "2020-Q1")] == (date(2019, 12, 15), date(2020, 3, 14))
    assert windows[("official", "2020-Q2")] == (date(2020, 3, 15), date(2020, 6, 14))
    assert windows[("official", "2020-H1")] == (date(2019, 12, 15), date(2020, 6, 14))
    assert windows[("official", "2020")] == (date(2019, 12, 15), date(2020, 12, 14))
    # one month only: its quarter, half and year, nothing else
    assert {p.period_key for p in periods_between(MAR, MAR)} == {"2020-03", Q1, "2020-H1", "2020"}
    assert period("2020-H2", "official").start == date(2020, 6, 15)


# --- dossiers: timeliness ------------------------------------------------------------------
def test_early_on_time_late_compare_dates_and_a_missing_due_date_counts_as_resolved() -> None:
    jan = period("2020-01")
    records = [
        resolved("2020-01-10", "2020-01-16", due="2020-01-17"),  # early
        # on time: finished at 18:00 on the due date, promised for 17:00 (dates compare)
        resolved(
            "2020-01-10", "2020-01-17", "2020-01-17", NgayKetThucXuLy=ts("2020-01-17", "180000")
        ),
        resolved("2020-01-10", "2020-01-20", due="2020-01-17"),  # late
        resolved("2020-01-10", "2020-01-20", due=None),  # no due date: none of the three
        dossier("2020-01-10"),  # open: not resolved
    ]
    result = dossiers_in(records, jan)
    assert fraction(result, "dossier.early_rate", jan) == (1, 4)
    assert fraction(result, "dossier.ontime_rate", jan) == (1, 4)
    assert fraction(result, "dossier.late_rate", jan) == (1, 4)
    assert at(result, "dossier.resolved", jan) == (4, None, 4.0)


def test_finish_date_falls_back_to_ngaytra_then_to_the_acceptance_date() -> None:
    jan, feb = period("2020-01"), period("2020-02")
    records = [
        dossier("2020-01-20", status="10", returned="2020-02-03"),  # NgayTra: February
        dossier("2020-01-20", status="3", returned="2020-02-03"),  # refused: acceptance day
        dossier("2020-01-21", status="7"),  # withdrawn without dates: acceptance day
        dossier("2020-01-22", status="8", finished="2020-02-04"),  # stopped in February
    ]
    result = dossiers_in(records, jan, feb)
    assert at(result, "dossier.resolved", jan)[0] == 0
    assert at(result, "dossier.resolved", feb)[0] == 1
    assert at(result, "dossier.returned", jan)[0] == 1
    assert at(result, "dossier.returned", feb)[0] == 1
    assert at(result, "dossier.withdrawn", jan)[0] == 1
    assert at(result, "dossier.in_progress", jan)[0] == 2


def test_timely_766_counts_open_dossiers_and_at_most_one_supplement() -> None:
    jan = period("2020-01")
    two = (supplement("2020-01-13", "2020-01-14"), supplement("2020-01-15", "2020-01-16"))
    records = [
        # resolved in January
        resolved("2020-01-10", "2020-01-17", "2020-01-17", DanhSachHoSoBoSung=[two[0]]),  # yes
        resolved(
            "2020-01-10",
            "2020-01-16",
            "2020-01-17",
            DanhSachHoSoBoSung=[two[0], supplement("2020-01-16", "2020-01-16")],  # on finish: no
        ),
        resolved(
            "2020-01-10",
            "2020-01-14",
            "2020-01-17",
            DanhSachHoSoBoSung=[two[0], supplement("2020-01-15")],  # 2nd after finish: yes
        ),
        resolved("2020-01-10", "2020-01-20", "2020-01-17"),  # late: no
        # open at the end of January
        dossier("2020-01-27", due="2020-02-05"),  # yes
        dossier("2020-01-27", due="2020-01-31"),  # due on the last day: yes
        dossier("2020-01-20", due="2020-01-30"),  # overdue: no
        dossier(
            "2020-01-20",
            due="2020-02-05",
            supplements=(two[0], supplement("2020-01-31")),  # 2nd on the last day: no
        ),
        dossier(
            "2020-01-20",
            due="2020-02-05",
            supplements=(two[0], supplement("2020-02-03")),  # 2nd after the end: yes
        ),
        resolved("2020-01-28", "2020-02-03", "2020-02-04"),  # open at the end of Jan: yes
    ]
    result = dossiers_in(records, jan)
    assert fraction(result, "dossier.timely_766", jan) == (6, 10)


def test_stocks_at_the_end_of_a_period_and_carried_over_into_the_next() -> None:
    jan, feb = period("2020-01"), period("2020-02")
    records = [
        # open and overdue at the end of January, resolved in February
        resolved("2020-01-20", "2020-02-10", "2020-01-30"),
        # paused at the end of January (supplied in February), resolved in February
        resolved(
            "2020-01-28",
            "2020-02-11",
            "2020-02-12",
            DanhSachHoSoBoSung=[supplement("2020-01-31", "2020-02-03")],  # asked on the last day
        ),
        # supplied within January: open, not paused; still open at the end of February
        dossier(
            "2020-01-29", due="2020-03-02", supplements=(supplement("2020-01-30", "2020-01-31"),)
        ),
        # due on the last day of January: open, not overdue then; overdue at the end of February
        dossier("2020-01-30", due="2020-01-31"),
        # finished on 31 January: neither in progress nor carried over
        resolved("2020-01-10", "2020-01-31", "2020-02-03"),
    ]
    result = dossiers_in(records, jan, feb)
    assert at(result, "dossier.in_progress", jan)[0] == 4
    assert at(result, "dossier.open_overdue", jan)[0] == 1
    assert at(result, "dossier.paused", jan)[0] == 1
    assert at(result, "dossier.carried_over", jan)[0] == 0
    assert at(result, "dossier.carried_over", feb)[0] == 4
    assert at(result, "dossier.in_progress", feb)[0] == 2
    assert at(result, "dossier.open_overdue", feb)[0] == 1
    assert at(result, "dossier.paused", feb)[0] == 0
    assert at(result, "dossier.resolved", feb)[0] == 2


def test_balance_identity_holds_on_generated_data() -> None:
    cfg = SimulatorConfig(months=2, provinces=("30",))
    records = generate_dossiers(cfg)
    agencies = sorted({d["DonViXuLy"] for d in records})
    periods = periods_between(JAN, FEB)
    result = dossier_indicators(records, periods, agencies)

    def n(agency: str, code: str, p: Period) -> int:
        return result[(agency, code, p.calendar, p.period_key)][0]

    for agency in agencies:
        for p in periods:
            inflow = n(agency, "dossier.carried_over", p) + n(agency, "dossier.received", p)
            outflow = sum(
                n(agency, f"dossier.{c}", p)
                for c in ("resolved", "withdrawn", "returned", "in_progress")
            )
            assert inflow == outflow, (agency, p)
    feb = period("2020-02")
    assert sum(n(a, "dossier.carried_over", feb) for a in agencies) > 0
    assert sum(n(a, "dossier.received", feb) for a in agencies) == sum(
        d["NgayTiepNhan"][:6] == "202002" for d in records
    )


# --- periods: official windows, distinct counts --------------------------------------------
def test_official_month_ends_on_the_14th_and_the_next_starts_on_the_15th() -> None:
    cal_jan = period("2020-01")
    off_jan, off_feb = period("2020-01", "official"), period("2020-02", "official")
    off_q1, off_q2 = period(Q1, "official"), period("2020-Q2", "official")
    records = [
        dossier("2020-01-14", due="2020-01-21"),
        dossier("2020-01-15"),
        resolved("2020-03-02", "2020-03-14", "2020-03-16"),
        resolved("2020-03-02", "2020-03-16", "2020-03-16"),
    ]
    result = dossiers_in(records, cal_jan, off_jan, off_feb, off_q1, off_q2)
    assert at(result, "dossier.received", cal_jan)[0] == 2
    assert at(result, "dossier.received", off_jan)[0] == 1
    assert at(result, "dossier.received", off_feb)[0] == 1
    # the dossier of the 14th is still open at the end of the 14th: carried into February
    assert at(result, "dossier.carried_over", off_feb)[0] == 1
    assert at(result, "dossier.resolved", off_q1)[0] == 1
    assert at(result, "dossier.resolved", off_q2)[0] == 1


def test_bcci_procedure_rate_of_a_quarter_is_a_distinct_count_not_a_sum() -> None:
    months = [period(f"2020-0{m}") for m in (1, 2, 3)]
    q1 = period(Q1)
    records = [
        dossier("2020-01-10", MaTTHC="P1", KenhThucHien="3"),
        dossier("2020-02-10", MaTTHC="P1", KenhThucHien="3"),
        dossier("2020-01-10", MaTTHC="P2"),
        dossier("2020-03-10", MaTTHC="P2"),
        dossier("2020-03-11", MaTTHC="P3", HinhThucTra="1"),  # result by post
    ]
    result = dossiers_in(records, *months, q1)
    assert [fraction(result, "bcci.procedure_rate", m) for m in months] == [(1, 2), (1, 1), (1, 2)]
    assert fraction(result, "bcci.procedure_rate", q1) == (2, 3)


def test_svc_used_of_a_quarter_counts_each_offering_once_against_the_quarter_end_snapshot() -> None:
    months = [period(f"2020-0{m}") for m in (1, 2, 3)]
    q1 = period(Q1)
    catalogue = [
        offering(proc, "3", day=day)
        for day in ("2020-01-31", "2020-02-29", "2020-03-31")
        for proc in ("P1", "P2")
    ]
    records = [
        dossier("2020-01-10", MaTTHC="P1", KenhThucHien="2"),
        dossier("2020-02-10", MaTTHC="P1", KenhThucHien="2"),
        dossier("2020-03-10", MaTTHC="P2", KenhThucHien="1"),  # not online: not used
        dossier("2020-01-10", MaTTHC="P9", KenhThucHien="2"),  # not an offering
    ]
    result = service_indicators(catalogue, records, [*months, q1], ["A"])
    assert [fraction(result, "svc.l3_used", m) for m in months] == [(1, 2), (1, 2), (0, 2)]
    assert fraction(result, "svc.l3_used", q1) == (1, 2)


# --- working days --------------------------------------------------------------------------
def test_working_days_skip_weekends_and_tet_2020() -> None:
    # Tết Canh Tý: 23–29 January 2020 off; 30 January is the first working day after it
    assert working_days(date(2020, 1, 22), date(2020, 1, 30)) == 1
    assert working_days(date(2020, 1, 22), date(2020, 1, 29)) == 0
    assert working_days(date(2020, 1, 17), date(2020, 1, 20)) == 1  # Friday → Monday
    assert working_days(date(2020, 1, 20), date(2020, 1, 20)) == 0  # a < d ≤ b
    assert working_days(date(2020, 1, 21), date(2020, 1, 20)) == 0
    assert working_days(date(2019, 12, 31), date(2020, 1, 3)) == 2  # 1 January is a holiday


def test_avg_processing_days_counts_working_days_after_acceptance() -> None:
    jan = period("2020-01")
    records = [
        resolved("2020-01-22", "2020-01-31", "2020-02-05"),  # 30, 31 January: 2
        resolved("2020-01-20", "2020-01-21", "2020-01-22"),  # 1
        resolved("2020-01-20", "2020-01-20", "2020-01-22"),  # same day: 0
        resolved("2020-01-17", "2020-01-22", "2020-01-22"),  # Mon 20, Tue 21, Wed 22: 3
    ]
    result = dossiers_in(records, jan)
    assert at(result, "dossier.avg_processing_days", jan) == (6, 4, 1.5)


def test_a_dossier_waiting_for_a_supplement_is_paused_not_overdue_and_not_behind() -> None:
    """At the period's end the clock of a dossier waiting for the applicant is stopped: it
    counts as paused, not as overdue, and QĐ 766 2.1 holds it within its deadline (a second
    request still counts as late)."""
    jan = period("2020-01")
    records = [
        # due passed while the applicant holds the dossier: paused, not overdue, timely
        dossier("2020-01-10", due="2020-01-20", supplements=(supplement("2020-01-15"),)),
        # the same with a second request: paused, not overdue, but late for 766
        dossier(
            "2020-01-10",
            due="2020-01-20",
            supplements=(supplement("2020-01-13", "2020-01-14"), supplement("2020-01-16")),
        ),
        # answered before the end and overdue: overdue, not timely
        dossier(
            "2020-01-10", due="2020-01-20", supplements=(supplement("2020-01-13", "2020-01-14"),)
        ),
        # no request, overdue
        dossier("2020-01-11", due="2020-01-21"),
    ]
    result = dossiers_in(records, jan)
    assert at(result, "dossier.in_progress", jan)[0] == 4
    assert at(result, "dossier.paused", jan)[0] == 2
    assert at(result, "dossier.open_overdue", jan)[0] == 2
    assert fraction(result, "dossier.timely_766", jan) == (1, 4)


def test_avg_processing_days_leave_out_the_days_the_applicant_held_the_dossier() -> None:
    """Working days from acceptance to finish, less each supplement's working days from the
    request to the answer (to the finish when no answer came; never past it)."""
    feb = period("2020-02")  # no holiday (January 2020 has Tết)
    records = [
        # Mon 3 → Fri 14: 9 working days; held 5 → 7 (Thu 6, Fri 7): 2 → 7
        resolved("2020-02-03", "2020-02-14", "2020-02-19",
                 DanhSachHoSoBoSung=[supplement("2020-02-05", "2020-02-07")]),
        # Mon 3 → Fri 14: 9; asked Wed 12, never answered: held Thu 13, Fri 14 → 7
        resolved("2020-02-03", "2020-02-14", "2020-02-19",
                 DanhSachHoSoBoSung=[supplement("2020-02-12")]),
        # Mon 3 → Wed 5: 2; answer recorded after the finish: held to the finish (Wed 5): 1
        resolved("2020-02-03", "2020-02-05", "2020-02-07",
                 DanhSachHoSoBoSung=[supplement("2020-02-04", "2020-02-11")]),
    ]  # fmt: skip
    result = dossiers_in(records, feb)
    assert fraction(result, "dossier.avg_processing_days", feb) == (15, 3)


def test_end_and_due_dates_a_vendor_left_empty_come_from_what_else_the_record_says() -> None:
    """A closed dossier without NgayKetThucXuLy and NgayTra ends when its progress updates say
    it closed, else at its last change (NgayCapNhat), never silently on its acceptance date
    while something later says otherwise. An empty NgayHenTra does not lose the deadline: the
    first request's NgayHenTraCu moved by the working days it paused is the due date (not
    the new date the request printed, which moved it further)."""
    feb = period("2020-02")

    def event(status: str, day: str) -> dict[str, Any]:
        return {"ThuTu": status, "TrangThai": status, "ThoiDiem": ts(day)}

    records = [
        # resolved 07 Feb per its progress updates (due 10 Feb: early); accepted in January
        dossier("2020-01-31", status="10", due="2020-02-10", NgayCapNhat=ts("2020-02-20"),
                CapNhatTienDo=[event("2", "2020-01-31"), event("9", "2020-02-07"),
                               event("10", "2020-02-12")]),
        # withdrawn, no end date and no updates: it had ended by its last change, 11 Feb
        dossier("2020-01-30", status="7", due="2020-02-10", NgayCapNhat=ts("2020-02-11")),
        # resolved 12 Feb with NgayHenTra empty: 07 Feb (Fri) moved by the 1 day paused is
        # 10 Feb, so late (the request's own 14 Feb would have said early)
        resolved("2020-02-03", "2020-02-12", None, DanhSachHoSoBoSung=[{
            **supplement("2020-02-05", "2020-02-06"),
            "NgayHenTraCu": ts("2020-02-07"), "NgayHenTraMoi": ts("2020-02-14")}]),
    ]  # fmt: skip
    result = dossiers_in(records, feb)
    assert at(result, "dossier.resolved", feb)[0] == 2
    assert at(result, "dossier.withdrawn", feb)[0] == 1
    assert fraction(result, "dossier.early_rate", feb) == (1, 2)
    assert fraction(result, "dossier.late_rate", feb) == (1, 2)
    assert at(result, "dossier.carried_over", feb)[0] == 2


@pytest.mark.parametrize(
    ("printed", "days"),
    [
        ("15", 15),
        ("15 ngày làm việc", 15),
        ("05 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ", 5),
        ("Không quá 10 NGÀY LÀM VIỆC", 10),
        ("Trong ngày", 0),
        ("30 ngày", None),  # calendar days: not a working-day limit
        ("04 giờ", None),
        ("", None),
        (None, None),
    ],
)
def test_a_printed_time_limit_gives_its_working_days(printed: str | None, days: int | None) -> None:
    assert time_limit_days(printed) == days


def test_the_nth_working_day_skips_weekends_and_holidays() -> None:
    # 2020-01-23 Thu … Tết 24–29 Jan (holidays), 25–26 weekend: the next working day is 30 Jan
    assert nth_working_day(date(2020, 1, 23), 1) == date(2020, 1, 30)
    assert nth_working_day(date(2020, 1, 3), 1) == date(2020, 1, 6)  # Fri → Mon
    assert nth_working_day(date(2020, 1, 4), 0) == date(2020, 1, 3)  # Sat, 0 → the Fri before
    assert nth_working_day(date(2020, 1, 6), 0) == date(2020, 1, 6)
    assert nth_working_day(date(2019, 12, 31), 2) == date(2020, 1, 3)  # 1 Jan is a holiday


def test_timeliness_is_judged_on_the_rules_never_on_a_date_rewritten_after_an_apology() -> None:
    """The official due date is acceptance + the procedure's legal time limit (the agency's
    catalogue) + the working days the answered supplement requests paused; a NgayHenTra the
    vendor rewrote after a delay apology (Mẫu 04) neither makes a late dossier on time nor an
    open one not overdue. Without a limit, the first appointment moved by the pauses."""
    feb = period("2020-02")

    def listed(snapshot: str, procedure: str, limit: str | None) -> dict[str, Any]:
        return {"ngay_chot": snapshot, "don_vi": "A", "ma_tthc": procedure,
                "thoi_han_giai_quyet": limit}  # fmt: skip

    catalogue = [
        listed("2020-01-31", "P1", "3 ngày làm việc"),
        # P2's limit is stated only in a later snapshot: the earliest that states one is used
        listed("2020-01-31", "P2", None),
        listed("2020-02-29", "P2", "05"),
    ]
    records = [
        # 03 Feb + 3 = 06 Feb; finished 11 Feb after an apology moved NgayHenTra to 12 Feb: late
        resolved("2020-02-03", "2020-02-11", "2020-02-12"),
        # 03 Feb + 3 + 2 paused (05 → 07 Feb) = 10 Feb; finished 10 Feb: on time
        resolved("2020-02-03", "2020-02-10", "2020-02-10",
                 DanhSachHoSoBoSung=[supplement("2020-02-05", "2020-02-07")]),
        # P2: 04 Feb + 5 = 11 Feb; finished 10 Feb: early (NgayHenTra says 20 Feb)
        resolved("2020-02-04", "2020-02-10", "2020-02-20", MaTTHC="P2"),
        # P3, in no catalogue: the first appointment 07 Feb; finished 07 Feb: on time
        resolved("2020-02-03", "2020-02-07", "2020-02-07", MaTTHC="P3"),
        # open at the end of February: 17 Feb + 3 = 20 Feb passed, whatever the rewritten 05 Mar
        dossier("2020-02-17", due="2020-03-05"),
    ]  # fmt: skip
    result = dossier_indicators(records, [feb], ["A"], catalogue=catalogue)
    assert fraction(result, "dossier.late_rate", feb) == (1, 4)
    assert fraction(result, "dossier.ontime_rate", feb) == (2, 4)
    assert fraction(result, "dossier.early_rate", feb) == (1, 4)
    assert at(result, "dossier.open_overdue", feb)[0] == 1
    # without the catalogue the first appointments judge: the apology's 12 Feb says early
    blind = dossier_indicators(records, [feb], ["A"])
    assert fraction(blind, "dossier.late_rate", feb) == (0, 4)
    assert at(blind, "dossier.open_overdue", feb)[0] == 0


def test_a_dossier_refused_at_the_desk_is_received_but_in_no_rate() -> None:
    """Status 3 (refused at the desk) counts in dossier.received and dossier.returned (the
    balance identity) but was never accepted: it is in no rate's denominator."""
    jan = period("2020-01")
    records = [
        dossier("2020-01-10", status="3", due=None, KenhThucHien="2", MucDo="4", PhiLePhi="50000",
                HoSoCoThanhPhanSoHoa="1"),
        dossier("2020-01-10", status="3", due=None, KenhThucHien="3"),
        dossier("2020-01-13", KenhThucHien="2", MucDo="4", PhiLePhi="50000",
                DuocThanhToanTrucTuyen="2"),
        dossier("2020-01-14", KenhThucHien="3", MucDo="2"),
    ]  # fmt: skip
    result = dossiers_in(records, jan)
    assert at(result, "dossier.received", jan)[0] == 4
    assert at(result, "dossier.returned", jan)[0] == 2
    assert fraction(result, "dossier.online_rate_l34", jan) == (1, 1)
    assert fraction(result, "bcci.received_rate", jan) == (1, 2)
    assert fraction(result, "bcci.resolved_rate", jan) == (0, 1)
    assert fraction(result, "pay.online_rate", jan) == (1, 1)  # 2: the provincial gateway
    assert fraction(result, "digit.dossier_rate", jan) == (0, 2)
    assert fraction(result, "id.vneid_rate", jan) == (0, 1)


# --- service level -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "mapped", "unmapped"),
    [("1", 1, 1), ("4", 4, 4), ("toan_trinh", 4, None), ("mot_phan", 3, None), (None, None, None)],
)
def test_effective_level(level: str | None, mapped: int | None, unmapped: int | None) -> None:
    assert effective_level(level) == mapped
    assert effective_level(level, map_levels=False) == unmapped


def test_post_2022_grades_count_as_levels_4_and_3_only_when_mapped() -> None:
    aug = period("2022-08")
    catalogue = [
        offering(p, lv, day="2022-08-31")
        for p, lv in (("P1", "toan_trinh"), ("P2", "mot_phan"), ("P3", "mot_phan"))
    ]
    records = [
        dossier("2022-08-10", MucDo="toan_trinh", KenhThucHien="2"),
        dossier("2022-08-10", MucDo="mot_phan"),
        dossier("2022-08-10", MucDo="2", KenhThucHien="2"),
    ]
    mapped = service_indicators(catalogue, records, [aug], ["A"])
    assert fraction(mapped, "svc.l4_provision", aug) == (1, 3)
    assert fraction(mapped, "svc.l3_provision", aug) == (3, 3)
    unmapped = service_indicators(catalogue, records, [aug], ["A"], map_levels=False)
    assert fraction(unmapped, "svc.l3_provision", aug) == (0, 3)
    assert fraction(dossiers_in(records, aug), "dossier.online_rate_l34", aug) == (1, 2)
    without = dossier_indicators(records, [aug], ["A"], map_levels=False)
    assert fraction(without, "dossier.online_rate_l34", aug) == (0, 0)


# --- catalogue -----------------------------------------------------------------------------
def test_catalogue_snapshot_of_a_period_is_the_agencys_latest_on_or_before_its_end() -> None:
    off_jan, off_feb, cal_feb = (
        period("2020-01", "official"),
        period("2020-02", "official"),
        period("2020-02"),
    )
    catalogue = [
        offering("P1", "4", day="2020-01-31", integrated="1"),
        offering("P2", "2", day="2020-01-31"),
        offering("P3", "3", day="2020-01-31", status="dung"),  # discontinued: not offered
        offering("P1", "4", day="2020-02-29", integrated="1"),
        offering("P1", "2", day="2020-01-31", agency="B"),
    ]
    result = service_indicators(catalogue, [], [off_jan, off_feb, cal_feb], ["A", "B"])
    assert at(result, "svc.l3_provision", off_jan) == (0, 0, None)  # no snapshot by 14/01
    assert fraction(result, "svc.l3_provision", off_feb) == (1, 2)  # 31/01 snapshot
    assert fraction(result, "svc.national_integration", off_feb) == (1, 1)
    assert fraction(result, "svc.l4_provision", cal_feb) == (1, 1)  # 29/02 snapshot
    # B has no February snapshot: its January one still stands
    assert at(result, "svc.l3_provision", cal_feb, agency="B")[:2] == (0, 1)


def full_online_catalogue() -> list[dict[str, Any]]:
    """P1 eligible at level 4, P2 eligible at 3, P3 level 4 not eligible, P4 discontinued."""
    return [
        offering("P1", "4", eligible="1"),
        offering("P2", "3", eligible="1"),
        offering("P3", "4", eligible="0"),
        offering("P4", "4", eligible="1", status="dung"),
    ]


def test_full_online_rate_uses_eligibility_and_level_from_the_snapshot() -> None:
    jan = period("2020-01")
    catalogue = full_online_catalogue()
    online = {"KenhThucHien": "2"}
    records = [
        dossier("2020-01-10", MaTTHC="P1", **online),  # numerator
        dossier("2020-01-10", MaTTHC="P1"),  # eligible, not online
        dossier("2020-01-10", MaTTHC="P2", **online),  # eligible, only level 3
        dossier("2020-01-10", MaTTHC="P3", **online),  # not eligible
        dossier("2020-01-10", MaTTHC="P4", **online),  # no longer offered: left out
        dossier("2020-01-10", MaTTHC="P9", **online),  # not in the catalogue
    ]
    result = service_indicators(catalogue, records, [jan], ["A"])
    assert fraction(result, "dossier.full_online_rate", jan) == (1, 3)
    assert fraction(result, "svc.full_online_eligible", jan) == (1, 2)


def test_full_online_share_counts_every_dossier_received_as_qd_942_does() -> None:
    """QĐ 942/QĐ-TTg's 80 % is toàn-trình dossiers over all dossiers: every dossier received
    is in the denominator (not only those of eligible procedures), online ones of a procedure
    offered at level 4 in the numerator; one refused at the desk is in neither ratio."""
    jan = period("2020-01")
    catalogue = full_online_catalogue()
    online = {"KenhThucHien": "2"}
    records = [
        dossier("2020-01-10", MaTTHC="P1", **online),  # toàn trình
        dossier("2020-01-10", MaTTHC="P1"),
        dossier("2020-01-10", MaTTHC="P2", **online),  # level 3
        dossier("2020-01-10", MaTTHC="P3", **online),  # toàn trình, not eligible
        dossier("2020-01-10", MaTTHC="P4", **online),  # no longer offered
        dossier("2020-01-10", MaTTHC="P9", **online),  # in no catalogue
        dossier("2020-01-11", MaTTHC="P1", status="3", **online),  # refused at the desk
    ]
    result = service_indicators(catalogue, records, [jan], ["A"])
    assert fraction(result, "dossier.full_online_share", jan) == (2, 6)
    assert fraction(result, "dossier.full_online_rate", jan) == (1, 3)


@pytest.mark.parametrize(
    ("printed", "stated"),
    [("Giấy phép xây dựng", True), ("Không", False), ("Không có", False),
     ("không có kết quả", False), ("Không quy định.", False), ("Không cấp", False),
     ("Không quá 15 ngày", True), ("", None), (None, None)],
)  # fmt: skip
def test_a_printed_result_says_whether_the_procedure_returns_one(
    printed: str | None, stated: bool | None
) -> None:
    assert states_a_result(printed) is stated


def test_eresult_rate_leaves_out_procedures_that_return_no_result() -> None:
    """QĐ 766 item 4.1 divides by the resolved dossiers of procedures that hand out a result:
    P2's latest statement ("Không có", A's January snapshot) wins over B's December one; P3
    says nothing and is taken to return one."""
    jan = period("2020-01")

    def listed(agency: str, day: str, procedure: str, result: str | None) -> dict[str, Any]:
        return {"ngay_chot": day, "don_vi": agency, "ma_tthc": procedure,
                "ket_qua_thuc_hien": result}  # fmt: skip

    catalogue = [
        listed("A", "2020-01-31", "P1", "Giấy phép"),
        listed("B", "2019-12-31", "P2", "Giấy chứng nhận"),
        listed("A", "2020-01-31", "P2", "Không có"),
        listed("A", "2020-01-31", "P3", None),
    ]
    assert procedures_without_result(catalogue) == {"P2"}
    records = [
        resolved("2020-01-06", "2020-01-09", "2020-01-10", CoKetQuaDienTu="1"),
        resolved("2020-01-06", "2020-01-09", "2020-01-10", MaTTHC="P2"),
        resolved("2020-01-07", "2020-01-09", "2020-01-10", MaTTHC="P3"),
    ]
    result = dossier_indicators(records, [jan], ["A"], catalogue=catalogue)
    assert fraction(result, "digit.eresult_rate", jan) == (1, 2)
    assert fraction(result, "dossier.resolved", jan)[0] == 3
    without = dossier_indicators(records, [jan], ["A"])  # no catalogue: every one returns one
    assert fraction(without, "digit.eresult_rate", jan) == (1, 3)


# --- received-in-P flags -------------------------------------------------------------------
def test_channel_payment_digitisation_and_vneid_rates() -> None:
    jan = period("2020-01")
    records = [
        dossier(KenhThucHien="2", PhiLePhi="50000", DuocThanhToanTrucTuyen="1"),
        dossier(KenhThucHien="2", TaiKhoanDuocXacThucVoiVNeID="1", HoSoCoThanhPhanSoHoa="1"),
        dossier(KenhThucHien=None, PhiLePhi="50000"),  # missing channel = over the counter
        dossier(KenhThucHien="3", MucDo="2", TaiSuDungDuLieuSoHoa="1"),
        dossier(DonViXuLy="B", KenhThucHien="2"),  # another agency
    ]
    result = dossiers_in(records, jan)
    assert fraction(result, "dossier.online_rate_l34", jan) == (2, 3)
    assert fraction(result, "bcci.received_rate", jan) == (1, 4)
    assert fraction(result, "pay.online_rate", jan) == (1, 2)
    assert fraction(result, "id.vneid_rate", jan) == (1, 2)
    assert fraction(result, "digit.dossier_rate", jan) == (1, 4)
    assert fraction(result, "digit.reuse_rate", jan) == (1, 4)
    assert not any(key[0] == "B" for key in result)


def test_bcci_resolved_rate_needs_resolution_by_the_period_end() -> None:
    jan, q1 = period("2020-01"), period(Q1)
    bcci = {"KenhThucHien": "3"}
    records = [
        resolved("2020-01-10", "2020-01-20", "2020-01-24", **bcci),
        resolved("2020-01-27", "2020-02-05", "2020-02-07", **bcci),  # resolved after January
        dossier("2020-01-10", status="7", finished="2020-01-13", **bcci),  # withdrawn
    ]
    result = dossiers_in(records, jan, q1)
    assert fraction(result, "bcci.resolved_rate", jan) == (1, 3)
    assert fraction(result, "bcci.resolved_rate", q1) == (2, 3)


def test_eresult_rate_is_over_resolved_dossiers() -> None:
    jan = period("2020-01")
    records = [
        resolved("2020-01-10", "2020-01-13", "2020-01-17", CoKetQuaDienTu="1"),
        resolved("2020-01-10", "2020-01-13", "2020-01-17"),
        dossier("2020-01-10", CoKetQuaDienTu="1"),  # open: outside the denominator
    ]
    assert fraction(dossiers_in(records, jan), "digit.eresult_rate", jan) == (1, 2)


# --- documents -----------------------------------------------------------------------------
def test_secret_documents_are_left_out_of_every_document_indicator() -> None:
    jan, feb = period("2020-01"), period("2020-02")
    secret = {"do_mat": "1", "hinh_thuc": "giay"}
    records = [
        document("2020-01-10", co_chu_ky_so="1", qua_truc_lien_thong="1"),
        document("2020-01-10", **secret),
        document("2020-01-10", "den", **secret, han_xu_ly="2020-01-15"),
        document("2020-01-10", **secret, ma_ho_so_cong_viec="HS-1", xu_ly_tren_mang="1"),
    ]
    result = document_indicators(records, [jan, feb], ["A"])
    assert fraction(result, "doc.official_electronic_rate", jan) == (1, 1)
    assert fraction(result, "doc.axis_rate", jan) == (1, 1)
    assert fraction(result, "doc.signed_rate", jan) == (1, 1)
    assert fraction(result, "doc.ontime_rate", jan) == (0, 0)
    assert fraction(result, "doc.workfile_online_rate", jan) == (0, 0)


def test_document_forms_signatures_axis_work_files_and_deadlines() -> None:
    jan, feb = period("2020-01"), period("2020-02")
    records = [
        document("2020-01-06", noi_bo="1"),  # internal, electronic only
        document("2020-01-06", "den", noi_bo="1"),  # received: not "internal sent"
        document("2020-01-06", noi_bo="1", hinh_thuc="song_song", co_chu_ky_so="1"),
        document(
            "2020-01-08",
            "den",
            qua_truc_lien_thong="1",
            ma_ho_so_cong_viec="HS-1",
            xu_ly_tren_mang="1",  # one online document makes the work file online
            han_xu_ly="2020-01-10",
            ngay_xu_ly="2020-01-10 16:00:00",
        ),
        document("2020-01-07", hinh_thuc="song_song", ma_ho_so_cong_viec="HS-1"),
        document("2020-01-07", hinh_thuc="giay", ma_ho_so_cong_viec="HS-1"),
        document(
            "2020-01-30",
            "den",
            ma_ho_so_cong_viec="HS-2",
            xu_ly_tren_mang="0",
            han_xu_ly="2020-02-04",  # deadline in February
            ngay_xu_ly="2020-02-05 08:00:00",
        ),
        document("2020-01-31", "den", han_xu_ly="2020-02-06"),  # never handled
    ]
    result = document_indicators(records, [jan, feb], ["A"])
    assert fraction(result, "doc.internal_electronic_rate", jan) == (1, 2)
    assert fraction(result, "doc.official_parallel_rate", jan) == (1, 2)
    assert fraction(result, "doc.official_electronic_rate", jan) == (0, 2)
    assert fraction(result, "doc.signed_rate", jan) == (1, 3)  # paper-only sent ones excluded
    assert fraction(result, "doc.axis_rate", jan) == (1, 5)  # sent and received official
    assert fraction(result, "doc.workfile_online_rate", jan) == (1, 2)
    assert fraction(result, "doc.ontime_rate", jan) == (1, 1)
    assert fraction(result, "doc.ontime_rate", feb) == (0, 2)


# --- portal usage --------------------------------------------------------------------------
def test_sat_rate_sums_counts_of_the_usage_months_whose_first_day_is_in_the_period() -> None:
    rows = [
        {"thang": "2020-01-01", "don_vi": "A", "luot_danh_gia": "10", "luot_hai_long": "9"},
        {"thang": "2020-02-01", "don_vi": "A", "luot_danh_gia": "30", "luot_hai_long": "27"},
        {"thang": "2020-02-01", "don_vi": "B", "luot_danh_gia": "5", "luot_hai_long": "1"},
    ]
    rows[1]["ty_le_hai_long"] = "12,0%"  # a misprinted rate is never read
    off_jan, off_feb, q1 = period("2020-01", "official"), period("2020-02", "official"), period(Q1)
    result = usage_indicators(rows, [off_jan, off_feb, q1, period("2020-03")], ["A"])
    assert at(result, "sat.rate", off_jan) == (9, 10, 0.9)
    assert at(result, "sat.rate", off_feb) == (27, 30, 0.9)
    assert at(result, "sat.rate", q1) == (36, 40, 0.9)
    assert at(result, "sat.rate", period("2020-03")) == (0, 0, None)


# --- completeness and the whole computation ------------------------------------------------
def test_every_agency_indicator_and_period_is_present_even_without_records() -> None:
    periods = [period("2020-01"), period(Q1, "official")]
    result = {
        **dossier_indicators([], periods, ["A", "B"]),
        **service_indicators([], [], periods, ["A", "B"]),
        **usage_indicators([], periods, ["A", "B"]),
        **document_indicators([], periods, ["A", "B"]),
        **coverage_indicators({}, [], periods, ["A", "B"]),
    }
    assert len(result) == 2 * len(periods) * len(INDICATORS)
    assert set(INDICATORS) == {key[1] for key in result}
    for (_, code, _, _), value in result.items():
        assert value == ((0, None, 0.0) if code in COUNT_INDICATORS else (0, 0, None))


def test_compute_indicators_reads_only_the_pulled_months_of_every_source() -> None:
    cfg = SimulatorConfig(months=2, provinces=("30",))
    agencies = sorted(a.code for a in agencies_for(cfg))
    periods = periods_between(FEB, FEB)  # February pulled; January exists but was not pulled
    result = compute_indicators(cfg, periods, agencies)
    assert len(result) == len(agencies) * len(INDICATORS) * len(periods)
    assert {key[1] for key in result} == set(INDICATORS)
    feb, q1, off_feb = period("2020-02"), period(Q1), period("2020-02", "official")

    def total(code: str, p: Period, part: int = 0) -> int:
        return sum(result[(a, code, p.calendar, p.period_key)][part] or 0 for a in agencies)

    # the quarter holds only February's records, although the simulator has January too
    assert total("dossier.received", q1) == total("dossier.received", feb) > 0
    assert total("dossier.carried_over", feb) == 0
    assert total("doc.axis_rate", q1, 1) == total("doc.axis_rate", feb, 1) > 0
    usage = usage_month(cfg, FEB)
    assert total("sat.rate", q1) == sum(int(r["luot_hai_long"] or 0) for r in usage)
    assert total("sat.rate", q1, 1) == sum(int(r["luot_danh_gia"] or 0) for r in usage)
    # the catalogue pull for February is the snapshot of 29/02: nothing by 14/02
    assert total("svc.l3_provision", q1, 1) > 0
    assert total("svc.l3_provision", off_feb, 1) == 0


def test_monthly_wrapper_matches_the_full_computation() -> None:
    records = [
        resolved("2020-01-10", "2020-01-16", "2020-01-17", KenhThucHien="2"),
        resolved("2020-01-10", "2020-02-03", "2020-01-17"),
        dossier("2020-02-10", MucDo="4", KenhThucHien="2"),
    ]
    kpis = compute_monthly_kpis(records, [JAN, FEB], ["A"])
    assert len(kpis) == 2 * 3
    assert kpis[("A", "dossier.early_rate", JAN)] == (1, 1, 1.0)
    assert kpis[("A", "dossier.late_rate", FEB)] == (1, 1, 1.0)
    assert kpis[("A", "dossier.online_rate_l34", JAN)] == (1, 2, 0.5)
    assert kpis[("A", "dossier.online_rate_l34", FEB)] == (1, 1, 1.0)
    assert kpis[("A", "dossier.early_rate", FEB)] == (0, 1, 0.0)


def test_onestop_coverage_counts_the_reported_months_against_the_system() -> None:
    """dossier.onestop_coverage: over the calendar months with a summary-report row for the
    agency, the dossiers the e-one-stop system received over the received count the report
    prints (never below the system's own count); months without a report are in neither, and
    the official 15→14 periods, which no report covers, get 0 / 0."""
    q1, jan, official = period("2020-Q1"), period("2020-01"), period("2020-02", "official")

    def row(agency: str, received: int, kind: str = "body") -> dict[str, Any]:
        return {"loai_dong": kind, "ma_dong": agency, "tiep_nhan_trong_ky": received}

    reports = {
        JAN: [row("A", 4), row("B", 0), row(None, 13, "total")],  # type: ignore[arg-type]
        MAR: [row("A", 2)],
    }
    records = [
        dossier("2020-01-02"), dossier("2020-01-31"), dossier("2020-01-15", status="3", due=None),
        dossier("2020-02-03"), dossier("2020-02-28"),  # February: no report, in neither
        dossier("2020-03-02"), dossier("2020-03-31"),
        dossier("2020-01-20", DonViXuLy="B"),  # B prints 0 but the system holds 1
    ]  # fmt: skip
    result = coverage_indicators(reports, records, [jan, q1, official], ["A", "B"])
    assert at(result, "dossier.onestop_coverage", jan) == (3, 4, 0.75)
    assert at(result, "dossier.onestop_coverage", q1) == (5, 6, 5 / 6)
    assert at(result, "dossier.onestop_coverage", jan, "B") == (1, 1, 1.0)
    assert at(result, "dossier.onestop_coverage", official) == (0, 0, None)


def test_qd766_scorecard_scores_items_and_pools_the_province() -> None:
    """The case of the dbt unit test test_qd766_scorecard_scores_items_and_pools_the_province:
    linear and threshold items, 5.4 from late dossiers and unsatisfied ratings, no points
    without a denominator or for an item the sources do not support, the province pooled."""
    jan = period("2020-01")

    def rows(agency: str, **fractions: tuple[int, int]) -> dict:
        return {(agency, code.replace("_", ".", 1), "calendar", "2020-01"): (n, dn, None)
                for code, (n, dn) in fractions.items()}  # fmt: skip

    result = {
        **rows("a1", dossier_timely_766=(8, 10), id_vneid_rate=(1, 4),
               digit_dossier_rate=(2, 10), digit_reuse_rate=(9, 10),
               dossier_late_rate=(1, 5), sat_rate=(3, 4)),
        **rows("b1", dossier_timely_766=(2, 10), id_vneid_rate=(0, 1), digit_dossier_rate=(0, 5)),
    }  # fmt: skip
    card = qd766_scorecard(result, [jan], {"a1": "30", "b1": "30"})

    def points(unit: str, item: str) -> float | None:
        return card[(unit, item, "calendar", "2020-01")][2]

    expected = {
        "a1": {"1.1": None, "2.1": 16, "3.3": 4.8, "4.3": 2, "5.4": 4},
        "b1": {"1.1": None, "2.1": 4, "3.3": 2.4, "4.3": None, "5.4": None},
        "province:30": {"1.1": None, "2.1": 10, "3.3": 4, "4.3": 2, "5.4": 4},
    }
    for unit, items in expected.items():
        for item, want in items.items():
            got = points(unit, item)
            assert (got is None and want is None) or got == pytest.approx(want), (unit, item, got)
    assert card[("province:30", "2.1", "calendar", "2020-01")][:2] == (10, 20)
    # the items add up to 100; the unsupported ones are never scored
    assert sum(i.max_points for i in scorecard_items()) == 100
    assert all(points("a1", i.code) is None for i in scorecard_items() if i.status != "scored")


def test_procedure_counts_of_qd766_items_3_5_3_5b_and_4_5a() -> None:
    """The dbt unit tests test_procedure_counts_are_distinct_over_the_period and the service
    counts' 3.5 case: distinct procedures among the dossiers received (a refused one in
    neither, one received before the period in neither), and fee-bearing offerings with
    online payment in the period's snapshot."""
    jan = period("2020-01")
    fee, citizen, business = {"PhiLePhi": "50000"}, {"LoaiDoiTuong": "1"}, {"LoaiDoiTuong": "2"}
    records = [
        dossier("2020-01-03", MaTTHC="P1", DuocThanhToanTrucTuyen="1",
                TaiKhoanDuocXacThucVoiVNeID="1", **fee, **citizen),
        dossier("2020-01-05", MaTTHC="P1", **fee, **citizen),
        dossier("2020-01-06", MaTTHC="P2", **fee, **business),
        dossier("2020-01-07", MaTTHC="P3", **citizen),
        dossier("2020-01-08", status="3", MaTTHC="P4", DuocThanhToanTrucTuyen="1",
                TaiKhoanDuocXacThucVoiVNeID="1", **fee, **citizen),
        dossier("2019-12-28", MaTTHC="P5", DuocThanhToanTrucTuyen="2",
                TaiKhoanDuocXacThucVoiVNeID="1", **fee, **citizen),
    ]  # fmt: skip
    result = dossiers_in(records, jan)
    assert fraction(result, "pay.procedure_paid_rate", jan) == (1, 2)
    assert fraction(result, "id.vneid_procedure_rate", jan) == (1, 2)
    catalogue = [
        offering("P1", "4", co_phi="1", thanh_toan_truc_tuyen="1"),
        offering("P2", "4", co_phi="1", thanh_toan_truc_tuyen="0"),
        offering("P3", "3", co_phi="0", thanh_toan_truc_tuyen="1"),
        offering("P4", "3", co_phi="1", thanh_toan_truc_tuyen="1", status="dung"),
    ]
    services = service_indicators(catalogue, [], [jan], ["A"])
    assert fraction(services, "pay.procedure_payment_rate", jan) == (1, 2)


def test_a_dossier_handed_to_a_successor_counts_where_it_was_each_day() -> None:
    """District D ends on 30/06/2025 and hands its open dossier to commune C on 1 July (its
    progress rows name the agency that acted): June counts it received by D and open at D
    (D's last month); July counts it carried over into C and resolved by C. Neither a ghost
    D in July nor a C starting July at 0 carried over."""
    jun, jul = period("2025-06"), period("2025-07")

    def row(n: int, step: str, status: str, day: str, agency: str) -> dict[str, Any]:
        return {"ThuTu": str(n), "BuocXuLy": step, "TrangThai": status,
                "ThoiDiem": ts(day), "DonViXuLy": agency}  # fmt: skip

    record = resolved(
        "2025-06-20", "2025-07-10", "2025-07-15", DonViXuLy="C",
        CapNhatTienDo=[row(1, "Tiếp nhận", "2", "2025-06-20", "D"),
                       row(2, "Chuyển hồ sơ", "4", "2025-07-01", "C"),
                       row(3, "Hoàn thành", "9", "2025-07-10", "C")],
    )  # fmt: skip
    result = dossier_indicators([record], [jun, jul], ["C", "D"])

    def n(code: str, p: Period, agency: str) -> int:
        return at(result, code, p, agency)[0]

    assert (n("dossier.received", jun, "D"), n("dossier.in_progress", jun, "D")) == (1, 1)
    assert (n("dossier.received", jun, "C"), n("dossier.in_progress", jun, "C")) == (0, 0)
    assert n("dossier.carried_over", jul, "C") == 1 and n("dossier.resolved", jul, "C") == 1
    assert n("dossier.carried_over", jul, "D") == 0 and n("dossier.resolved", jul, "D") == 0
    # without progress rows naming agencies the record's DonViXuLy held it throughout
    plain = dossier_indicators([{**record, "CapNhatTienDo": []}], [jun], ["C", "D"])
    assert at(plain, "dossier.received", jun, "C")[0] == 1


def test_custody_follows_agency_versions_that_keep_their_code(tmp_path) -> None:
    """The dbt unit test test_dossier_outcomes_custody_by_version: code A is one agency
    until 30/06/2025 and another from 1 July (a merged city's department kept its code).
    Resolved by the reference file, a dossier open on 1 July passes to the new version by
    its update naming A that morning; one that closed in June and returned its result in
    July under A stays with the old version (nothing is handed over after the close)."""
    header = "agency_code,agency_key,valid_from,valid_to\n"
    rows = "A,agy:A:old,2015-01-01,2025-06-30\nA,agy:A:new,2025-07-01,\n"
    (tmp_path / "ref_agencies.csv").write_text(header + rows, encoding="utf-8")
    versions = AgencyVersions(tmp_path / "ref_agencies.csv")
    jun, jul = period("2025-06"), period("2025-07")

    def row(n: int, status: str, day: str, clock: str = "090000") -> dict[str, Any]:
        return {"ThuTu": str(n), "TrangThai": status, "ThoiDiem": ts(day, clock),
                "DonViXuLy": "A"}  # fmt: skip

    open_on_first = resolved(
        "2025-06-20", "2025-07-10", "2025-07-15", DonViXuLy="A",
        CapNhatTienDo=[row(1, "2", "2025-06-20"), row(2, "4", "2025-07-01", "073000"),
                       row(3, "9", "2025-07-10")],
    )  # fmt: skip
    closed_before = resolved(
        "2025-06-16", "2025-06-30", "2025-07-15", DonViXuLy="A",
        CapNhatTienDo=[row(1, "2", "2025-06-16"), row(2, "9", "2025-06-30"),
                       row(3, "10", "2025-07-03")],
    )  # fmt: skip
    records = [versions.dossier(r) for r in (open_on_first, closed_before)]
    assert versions.key("A", date(2025, 6, 30)) == "agy:A:old"
    assert versions.key("A", date(2015, 1, 1)) == "agy:A:old"
    assert versions.key("A", date(2010, 1, 1)) == "agy:A:old"  # before any: the first
    assert versions.key("Z", date(2025, 7, 1)) == "Z"  # unknown: stays itself
    result = dossier_indicators(records, [jun, jul], ["agy:A:old", "agy:A:new"])

    def n(code: str, p: Period, agency: str) -> int:
        return at(result, code, p, agency)[0]

    assert n("dossier.received", jun, "agy:A:old") == 2
    assert (
        n("dossier.resolved", jun, "agy:A:old"),
        n("dossier.in_progress", jun, "agy:A:old"),
    ) == (1, 1)
    assert n("dossier.carried_over", jul, "agy:A:new") == 1
    assert n("dossier.resolved", jul, "agy:A:new") == 1
    assert n("dossier.resolved", jul, "agy:A:old") == 0
    opened, closed = (dossier_fact(r) for r in records)
    assert opened is not None and opened.custody == ((date(2025, 7, 1), "agy:A:new"),)
    assert closed is not None and closed.custody == ()
    # by code alone the two versions are one agency, and nothing is handed over
    by_code = dossier_indicators([open_on_first], [jul], ["A"])
    assert at(by_code, "dossier.resolved", jul, "A")[0] == 1
