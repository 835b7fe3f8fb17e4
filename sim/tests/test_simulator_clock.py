"""The simulator's clock (chiso_sim.clock): every source as it stood at an instant, with events
recorded late (backdated). The server's side of it: test_simulator_server.py."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from chiso_sim import documents, one_stop, portal
from chiso_sim.clock import Timeline, parse_instant
from chiso_sim.config import SimulatorConfig
from chiso_sim.one_stop import (
    DOSSIER_KEYS,
    Event,
    Life,
    dossier_at,
    format_ts,
    generate_month,
    horizon_end,
    is_working_day,
    month_lives,
    parse_ts,
    working_days_between,
)
from chiso_sim.oracle import compute_indicators, period_containing, periods_between

# Jan–Mar 2020 of one small province: enough late recordings to find every case, quick.
CFG = SimulatorConfig(
    start_month=date(2020, 1, 1),
    months=3,
    provinces=("30",),
    dossiers_per_agency_month=30,
    documents_per_agency_month=15,
    procedures_per_province=240,
)
MONTHS = (date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1))
END = horizon_end(CFG)  # 2020-04-01 00:00
FINISHING = {"7", "8", "9", "10"}


def dossiers_at(as_of: datetime | None) -> list[dict[str, Any]]:
    return [d for m in MONTHS for d in generate_month(CFG, m, as_of)]


def documents_at(as_of: datetime | None) -> list[dict[str, Any]]:
    return [r for m in MONTHS for r in documents.generate_month(CFG, m, as_of)]


def by_key(records: list[dict[str, Any]], *key: str) -> dict[tuple, dict[str, Any]]:
    return {tuple(r[k] for k in key): r for r in records}


def dumped(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


# --- one dossier, by hand: the projection rules ------------------------------------------


def hand_life(finished: datetime, finish_recorded: datetime) -> Life:
    """Accepted 28 Jan, handed over an hour later, resolved ``finished``, recorded then."""
    accepted = datetime(2020, 1, 28, 9, 0)
    intake = accepted + timedelta(hours=1)
    base = dict.fromkeys(DOSSIER_KEYS)
    base |= {"MaHoSo": "X-200128-0001", "DonViXuLy": "X", "NgayTiepNhan": format_ts(accepted)}
    events = [
        Event("Tiếp nhận hồ sơ", "2", accepted, "A"),
        Event("Chuyển xử lý", "4", intake, "B"),
        Event("Hoàn thành xử lý hồ sơ", "9", finished, "B"),
    ]
    recorded = (accepted, intake, finish_recorded)
    return Life(base, datetime(2020, 2, 10, 17), events, [], False, recorded)


FEB_1, FEB_4 = datetime(2020, 2, 1), datetime(2020, 2, 4)


def test_a_dossier_finished_after_a_month_end_is_open_before_and_resolved_after() -> None:
    finished = datetime(2020, 2, 3, 10, 15)
    life = hand_life(finished, finished)
    assert dossier_at(life, datetime(2020, 1, 28, 9, 0)) is None  # not accepted yet
    early = dossier_at(life, FEB_1)
    late = dossier_at(life, FEB_4)
    assert early is not None and late is not None
    assert early["TrangThaiHoSo"] == "4" and early["NgayKetThucXuLy"] is None
    assert len(early["CapNhatTienDo"]) == 2
    assert late["TrangThaiHoSo"] == "9" and late["NgayKetThucXuLy"] == "20200203101500"
    assert early["NgayCapNhat"] == "20200128100000" < late["NgayCapNhat"] == "20200203101500"


def test_a_backdated_finish_changes_the_past_when_recorded() -> None:
    finished, recorded = datetime(2020, 1, 30, 15, 0), datetime(2020, 2, 3, 8, 40)
    life = hand_life(finished, recorded)
    early, late = dossier_at(life, FEB_1), dossier_at(life, FEB_4)
    assert early is not None and late is not None
    # At 1 Feb the finish has happened but nobody recorded it: still in progress.
    assert early["TrangThaiHoSo"] == "4" and early["NgayKetThucXuLy"] is None
    # At 4 Feb it is resolved on 30 Jan, the event keeps its own time, NgayCapNhat the recording.
    assert late["TrangThaiHoSo"] == "9" and late["NgayKetThucXuLy"] == "20200130150000"
    assert late["CapNhatTienDo"][-1]["ThoiDiem"] == "20200130150000"
    assert late["NgayCapNhat"] == "20200203084000"
    assert dossier_at(life, recorded) == early  # visible strictly after its recording instant
    assert dossier_at(life, recorded + timedelta(seconds=1)) == late


# --- generated dossiers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lives() -> list[Life]:
    return [life for m in MONTHS for life in month_lives(CFG, m)]


def test_recording_lag_shares_and_shape(lives: list[Life]) -> None:
    late: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    crossing = 0
    for life in lives:
        assert life.recorded[0] == life.events[0].at  # exists from its acceptance
        assert list(life.recorded) == sorted(life.recorded)
        pairs = zip(life.events[1:], life.recorded[1:], life.recorded[:-1], strict=True)
        for event, recorded, previous in pairs:
            kind = "finish" if event.status in FINISHING else "other"
            seen[kind] += 1
            assert recorded >= event.at
            if recorded == event.at:
                continue
            late[kind] += 1
            # 1–12 working days late, during office hours on a working day; or held back by
            # the event before it, recorded late, and recorded with it
            assert time(7, 30) <= recorded.time() <= time(17, 0)
            assert is_working_day(recorded.date())
            days = len(working_days_between(event.at.date(), recorded.date())) - 1
            assert (1 if recorded != previous else 0) <= days <= 12
            crossing += (event.at.year, event.at.month) != (recorded.year, recorded.month)
    # ~6% of finishing events and ~3% of the others (a little more: a late event holds back
    # the ones after it)
    assert 0.035 < late["finish"] / seen["finish"] < 0.11, late
    assert 0.015 < late["other"] / seen["other"] < 0.07, late
    assert crossing > 5


def test_none_is_the_end_of_the_horizon() -> None:
    assert datetime(2020, 4, 1) == END
    for m in MONTHS:
        assert generate_month(CFG, m) == generate_month(CFG, m, END)
        assert documents.generate_month(CFG, m) == documents.generate_month(CFG, m, END)
        assert portal.usage_month(CFG, m) == portal.usage_month(CFG, m, END)
    day = date(2020, 3, 31)
    assert portal.catalogue_snapshot(CFG, day) == portal.catalogue_snapshot(CFG, day, END)
    assert one_stop.generate_dossiers(CFG) == one_stop.generate_dossiers(CFG, END)


def test_a_record_exists_from_its_receipt_on() -> None:
    feb = generate_month(CFG, date(2020, 2, 1))
    first = parse_ts(feb[len(feb) // 2]["NgayTiepNhan"])
    assert first is not None
    at = generate_month(CFG, date(2020, 2, 1), first)
    after = generate_month(CFG, date(2020, 2, 1), first + timedelta(seconds=1))
    assert all(parse_ts(d["NgayTiepNhan"]) < first for d in at)  # type: ignore[operator]
    new = {d["MaHoSo"] for d in after} - {d["MaHoSo"] for d in at}
    assert new and all(d["NgayTiepNhan"] == format_ts(first) for d in after if d["MaHoSo"] in new)
    assert generate_month(CFG, date(2020, 3, 1), datetime(2020, 3, 1)) == []

    rows = documents.generate_month(CFG, date(2020, 2, 1))
    sent = datetime.fromisoformat(rows[len(rows) // 2]["ngay_gui_nhan"])
    before = documents.generate_month(CFG, date(2020, 2, 1), sent)
    assert all(r["ngay_gui_nhan"] < sent.isoformat(sep=" ") for r in before)
    assert len(documents.generate_month(CFG, date(2020, 2, 1), sent + timedelta(seconds=1))) > len(
        before
    )


def test_a_generated_backdated_finish_reopens_nothing_and_resolves_the_past(
    lives: list[Life],
) -> None:
    """A finish recorded after the month end it happened before: open when the month is
    first read, resolved in the earlier month when read again."""
    found = 0
    for life in lives:
        for n, (event, recorded) in enumerate(zip(life.events, life.recorded, strict=True)):
            boundary = datetime(recorded.year, recorded.month, 1)
            if event.status != "9" or not event.at < boundary <= recorded or life.omits:
                continue
            month = date(life.events[0].at.year, life.events[0].at.month, 1)
            key = life.key
            before = by_key(generate_month(CFG, month, boundary), "MaHoSo")[(key,)]
            after = by_key(generate_month(CFG, month, recorded + timedelta(seconds=1)), "MaHoSo")[
                (key,)
            ]
            assert before["TrangThaiHoSo"] not in FINISHING and before["NgayKetThucXuLy"] is None
            assert len(before["CapNhatTienDo"]) <= n
            assert after["TrangThaiHoSo"] in {"9", "10"}  # the result may follow at once
            assert after["NgayKetThucXuLy"] == format_ts(event.at) < format_ts(boundary)
            assert before["NgayCapNhat"] < format_ts(boundary) <= after["NgayCapNhat"]
            found += 1
    assert found >= 3


INSTANTS = (
    datetime(2020, 1, 10, 12),
    datetime(2020, 1, 31, 23, 59, 59),
    datetime(2020, 2, 1),
    datetime(2020, 2, 3, 10, 30),
    datetime(2020, 2, 14, 16, 45),
    datetime(2020, 3, 2, 7, 0),
    datetime(2020, 3, 20, 12),
    END,
    END + timedelta(days=25),
)


@pytest.mark.parametrize(
    ("source", "key", "stamp"),
    [
        ("dossiers", ("MaHoSo",), "NgayCapNhat"),
        ("documents", ("don_vi", "ma_van_ban", "huong"), "ngay_cap_nhat"),
    ],
)
def test_records_only_move_forward(source: str, key: tuple[str, ...], stamp: str) -> None:
    """NgayCapNhat never goes back; a record whose stamp did not move is byte-identical; one
    that changed carries a stamp in between the two instants."""
    read = dossiers_at if source == "dossiers" else documents_at
    previous: dict[tuple, dict[str, Any]] = {}
    moved = 0
    for t0, t1 in zip((None, *INSTANTS), INSTANTS, strict=False):
        now = by_key(read(t1), *key)
        assert set(previous) <= set(now)
        for k, old in previous.items():
            new = now[k]
            assert old[stamp] <= new[stamp]
            if old[stamp] == new[stamp]:
                assert dumped(old) == dumped(new)
            else:
                assert dumped(old) != dumped(new)
                assert t0 is not None and t0 <= parse_instant_any(new[stamp]) < t1
                moved += 1
        previous = now
    assert moved > 50


def parse_instant_any(text: str) -> datetime:
    """A stamp in either source's format."""
    return parse_ts(text) if text.isdigit() else parse_instant(text)  # type: ignore[return-value]


def test_every_visible_fact_is_at_or_before_its_stamp() -> None:
    t = datetime(2020, 2, 14, 16, 45)
    for d in dossiers_at(t):
        stamp = d["NgayCapNhat"]
        assert stamp < format_ts(t)
        times = [e["ThoiDiem"] for e in d["CapNhatTienDo"]]
        times += [s["NgayBoSung"] or s["NgayYeuCau"] for s in d["DanhSachHoSoBoSung"]]
        assert max(times) <= stamp
    for r in documents_at(t):
        assert r["ngay_gui_nhan"] <= r["ngay_cap_nhat"] < t.isoformat(sep=" ")
        assert r["ngay_xu_ly"] is None or r["ngay_xu_ly"] <= r["ngay_cap_nhat"]


# --- change windows, straight on the timelines ---------------------------------------------


def chain(seed: int, n: int = 7) -> list[datetime]:
    """``n`` random instants from before the horizon to a month after it (whole seconds)."""
    rng = random.Random(seed)
    lo, hi = datetime(2020, 1, 1), END + timedelta(days=30)
    span = int((hi - lo).total_seconds())
    return sorted({lo + timedelta(seconds=rng.randrange(span)) for _ in range(n - 1)} | {hi})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("history", "key"),
    [
        (one_stop.month_history, ("MaHoSo",)),
        (documents.month_history, ("don_vi", "ma_van_ban", "huong")),
    ],
)
def test_chained_change_windows_rebuild_the_state_exactly(
    seed: int, history: Any, key: tuple[str, ...]
) -> None:
    timelines: list[Timeline] = [history(CFG, m) for m in MONTHS]
    held: dict[tuple, dict[str, Any]] = {}
    start = datetime(2019, 12, 1)
    for t in chain(seed):
        for timeline in timelines:
            for record in timeline.changed(start, t, t):
                held[tuple(record[k] for k in key)] = record
        state = by_key([r for tl in timelines for r in tl.at(t)], *key)
        assert {k: dumped(v) for k, v in held.items()} == {k: dumped(v) for k, v in state.items()}
        start = t
    assert held


# --- the portal ---------------------------------------------------------------------------


def test_usage_ratings_arrive_until_twenty_days_after_the_month() -> None:
    feb = date(2020, 2, 1)

    def totals(at: datetime) -> tuple[int, int, int]:
        rows = portal.usage_month(CFG, feb, at)
        return (
            sum(int(r["luot_danh_gia"]) for r in rows),
            sum(int(r["luot_hai_long"]) for r in rows),
            sum(int(r["ho_so_truc_tuyen"]) for r in rows),
        )

    assert portal.usage_month(CFG, feb, datetime(2020, 2, 1)) == []  # not begun
    assert portal.usage_month(CFG, feb, datetime(2020, 2, 1, 0, 0, 1))  # the row exists
    month_end = datetime(2020, 3, 1)
    instants = [datetime(2020, 2, 10), month_end] + [
        month_end + timedelta(days=d) for d in (3, 10, 19)
    ]
    series = [totals(t) for t in instants]
    assert series == sorted(series)  # only ever grows
    assert series[0][2] < series[1][2]  # online dossiers grow during the month
    assert series[1][2] == series[-1][2]  # and not after it
    assert series[1][0] < series[-1][0]  # ratings keep arriving after the month
    final = totals(month_end + timedelta(days=20))
    assert final[0] > series[-1][0] or final == series[-1]
    assert final == totals(month_end + timedelta(days=45)) == totals(END)  # then stop
    rows = portal.usage_month(CFG, feb, month_end + timedelta(days=5))
    for r in rows:
        assert (r["ty_le_hai_long"] is None) == (r["luot_danh_gia"] == "0")


def test_a_catalogue_snapshot_reread_after_a_backdated_change_differs() -> None:
    """NĐ 42/2022 regraded every offering on 1 August 2022; about 15% of the changes were
    recorded days late, so a snapshot of 4 August first read on 5 August still shows some old
    1–4 levels, and re-read later shows them regraded."""
    day = date(2022, 8, 4)
    first = portal.catalogue_snapshot(CFG, day, datetime(2022, 8, 5, 8))
    later = portal.catalogue_snapshot(CFG, day, datetime(2022, 9, 1))
    assert [(r["don_vi"], r["ma_tthc"]) for r in first] == [
        (r["don_vi"], r["ma_tthc"]) for r in later
    ]
    stale = [a for a, b in zip(first, later, strict=True) if a != b]
    assert 0.05 * len(first) < len(stale) < 0.3 * len(first)
    assert {r["muc_do"] for r in stale} <= {"1", "2", "3", "4"}
    assert {r["muc_do"] for r in later} == {"toan_trinh", "mot_phan"}
    # every stale row shows the state recorded before: that of 31 July
    june = by_key(
        portal.catalogue_snapshot(CFG, date(2022, 7, 31), datetime(2022, 9, 1)), "don_vi", "ma_tthc"
    )
    for r in stale:
        old = june[(r["don_vi"], r["ma_tthc"])]
        assert {k: r[k] for k in ("muc_do", "tich_hop_dvcqg", "thanh_toan_truc_tuyen")} == {
            k: old[k] for k in ("muc_do", "tich_hop_dvcqg", "thanh_toan_truc_tuyen")
        }
    # a day that has not ended has no snapshot
    assert portal.catalogue_snapshot(CFG, day, datetime(2022, 8, 4, 23, 59)) == []
    assert portal.catalogue_snapshot(CFG, day, datetime(2022, 8, 5)) != []


# --- the oracle ---------------------------------------------------------------------------


def test_oracle_at_the_horizon_end_is_the_default_when_every_month_is_pulled() -> None:
    agencies = sorted(a.code for a in one_stop.agencies_for(CFG))
    periods = periods_between(MONTHS[0], MONTHS[-1])
    assert compute_indicators(CFG, periods, agencies, as_of=END) == compute_indicators(
        CFG, periods, agencies
    )


def test_oracle_at_an_instant_holds_everything_received_by_then() -> None:
    agencies = sorted(a.code for a in one_stop.agencies_for(CFG))
    jan, feb = (period_containing("calendar", "month", m) for m in MONTHS[:2])
    early = datetime(2020, 2, 3, 12)
    # Only February pulled, but pulling by change the warehouse holds January too.
    result = compute_indicators(CFG, [jan, feb], agencies, data_months=[MONTHS[1]], as_of=early)
    default = compute_indicators(CFG, [jan, feb], agencies, data_months=[MONTHS[1]])

    def total(res: dict, code: str, p: Any) -> int:
        return sum(res[(a, code, p.calendar, p.period_key)][0] for a in agencies)

    received = {d["MaHoSo"] for d in dossiers_at(early)}
    assert total(result, "dossier.received", jan) == sum(
        d["NgayTiepNhan"].startswith("202001") for d in dossiers_at(early)
    )
    assert total(result, "dossier.received", feb) == len(received) - total(
        result, "dossier.received", jan
    )
    assert (
        total(result, "dossier.carried_over", feb)
        > 0
        == total(default, "dossier.carried_over", feb)
    )
    # January's numbers are not final on 3 February: backdated finishes arrive later.
    final = compute_indicators(CFG, [jan], agencies, data_months=[MONTHS[0]], as_of=END)
    assert total(result, "dossier.resolved", jan) < total(final, "dossier.resolved", jan)
