"""Render the monthly KPI report (HTML) from `marts.mart_kpi_monthly`.

The report reads only what was published, as the BI reader role, so it can never show a
number that did not pass the gate. Province and tier lines are ratios of sums of numerators
and denominators; averaging agency rates would be wrong and never appears.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg.rows import dict_row

from chiso.core import formatting as fmt
from chiso.core.months import LOCAL_TZ, previous_month

TEMPLATES = Path(__file__).with_name("templates")
TIER_ORDER = {"province_dept": 1, "district": 2, "commune": 3}


class ReportError(RuntimeError):
    """Nothing is published for the requested month."""


@dataclass
class Line:
    label: str
    numerator: int
    denominator: int
    target: Decimal | None = None
    target_met: bool | None = None
    previous: Decimal | None = None

    @property
    def value(self) -> Decimal | None:
        return Decimal(self.numerator) / Decimal(self.denominator) if self.denominator else None


@dataclass
class IndicatorSection:
    code: str
    name: str
    province: Line
    tiers: list[Line] = field(default_factory=list)
    agencies: list[tuple[str, list[Line]]] = field(default_factory=list)


@dataclass
class Change:
    """One published value that a republication changed (marts.kpi_revision_changes)."""

    agency: str
    indicator: str
    calendar: str
    unit: str
    change: str
    old: Decimal | None
    new: Decimal | None


@dataclass
class PublicationInfo:
    revision: int
    published_at: object
    git_sha: str | None
    gate_success: bool
    forced_reason: str | None
    published_by: str | None
    previous_revision: int | None
    changed_rows: int | None
    changes: list[Change] = field(default_factory=list)


CALENDAR_LABELS = {"calendar": "tháng dương lịch", "official": "kỳ báo cáo 15→14"}
MAX_CHANGES_SHOWN = 200


def _publication(url: str, month: date) -> PublicationInfo | None:
    """The month's current revision and, for a republication, what it changed."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        exists = conn.execute("select to_regclass('marts.kpi_publications') as r").fetchone()
        if exists["r"] is None:
            return None
        row = conn.execute(
            "select * from marts.kpi_publications where period_month = %s and is_current",
            (month,),
        ).fetchone()
        if row is None:
            return None
        # the indicator values that changed (not only a label or the previous month's value)
        where = (
            " from marts.kpi_revision_changes where period_month = %s and revision = %s"
            " and mart = 'mart_kpi_monthly' and (old_value is distinct from new_value"
            " or old_numerator is distinct from new_numerator"
            " or old_denominator is distinct from new_denominator)"
        )
        changed = conn.execute("select count(*) as n" + where, (month, row["revision"]))
        n_changed = changed.fetchone()["n"]
        changes = conn.execute(
            "select *" + where + " order by agency_name, indicator_code, calendar limit %s",
            (month, row["revision"], MAX_CHANGES_SHOWN),
        ).fetchall()
    return PublicationInfo(
        revision=row["revision"],
        published_at=row["published_at"].astimezone(LOCAL_TZ),
        git_sha=row["git_sha"],
        gate_success=row["gate_success"],
        forced_reason=row["forced_reason"],
        published_by=row["published_by"],
        previous_revision=row["previous_revision"],
        changed_rows=n_changed,
        changes=[
            Change(
                c["agency_name"] or c["agency_code"],
                c["indicator_name_vi"] or c["indicator_code"],
                CALENDAR_LABELS.get(c["calendar"], c["calendar"]),
                c["unit"],
                c["change"],
                c["old_value"] if c["unit"] == "ratio" else c["old_numerator"],
                c["new_value"] if c["unit"] == "ratio" else c["new_numerator"],
            )
            for c in changes
        ],
    )


@dataclass(frozen=True)
class Drifted:
    month_label: str
    pending_rows: int
    in_window: bool
    note: str | None


def _drift(url: str) -> list[Drifted]:
    """Published months that differ from the warehouse now (marts.kpi_publication_drift):
    late records changed them and they were not republished (outside the republication
    window, or their gate failed)."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        exists = conn.execute("select to_regclass('marts.kpi_publication_drift') as r").fetchone()
        if exists["r"] is None:
            return []
        rows = conn.execute(
            "select period_month, pending_rows, in_window, note"
            " from marts.kpi_publication_drift order by period_month"
        ).fetchall()
    return [
        Drifted(fmt.month_label(r["period_month"]), r["pending_rows"], r["in_window"], r["note"])
        for r in rows
    ]


@dataclass(frozen=True)
class ReportCheck:
    """A check of the month's summary report that did not hold
    (marts.mart_aggregate_report_checks): both numbers, as printed and as expected."""

    kind: str
    row_label: str
    check_label: str
    printed: Decimal | None
    expected: Decimal | None
    difference: Decimal | None


CHECK_KINDS = {
    "identity": "báo cáo không cộng đúng",
    "total_row": "dòng tổng không khớp các dòng",
    "dossiers": "khác số liệu hồ sơ",
    "unresolved_row": "không xác định được đơn vị",
}
MAX_CHECKS_SHOWN = 100


def _report_checks(url: str, month: date) -> tuple[int, list[ReportCheck]]:
    """How many checks of the month's summary reports failed, and the first of them: the
    report's own sums first, then the largest differences."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        exists = conn.execute(
            "select to_regclass('marts.mart_aggregate_report_checks') as r"
        ).fetchone()
        if exists["r"] is None:
            return 0, []
        where = (
            " from marts.mart_aggregate_report_checks where report_month = %s and not is_consistent"
        )
        total = conn.execute("select count(*) as n" + where, (month,)).fetchone()["n"]
        rows = conn.execute(
            "select *" + where + " order by array_position("
            "array['identity', 'total_row', 'unresolved_row', 'dossiers'], check_kind),"
            " abs(difference) desc nulls first, row_label, check_name limit %s",
            (month, MAX_CHECKS_SHOWN),
        ).fetchall()
    return total, [
        ReportCheck(
            CHECK_KINDS.get(r["check_kind"], r["check_kind"]),
            r["agency_name"] or r["row_label"],
            r["check_label"],
            r["printed_value"],
            r["expected_value"],
            r["difference"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class ScoreItem:
    """One item of a unit's QĐ 766 index for the month."""

    group: str
    code: str
    name: str
    ratio: Decimal | None
    points: Decimal | None
    max_points: Decimal
    status: str


@dataclass
class Scorecard:
    """A province's QĐ 766 index for the month (marts.mart_qd766_scorecard, calendar month):
    its points over the points its scored items could earn, the items, the items the sources
    cannot support, and its agencies ranked by their share of their possible points."""

    points: Decimal
    possible: Decimal
    items: list[ScoreItem]
    unscored_points: Decimal
    ranking: list[tuple[int, str, Decimal, Decimal]] = field(default_factory=list)

    @property
    def share(self) -> Decimal | None:
        return self.points / self.possible if self.possible else None


SCORE_STATUS = {
    "not_in_sources": "không có trong dữ liệu nguồn",
    "not_yet_computed": "chưa tính",
    "not_scored": "không tính điểm",
}


def _scorecards(url: str, month: date) -> dict[str, Scorecard]:
    """Each province's index for the calendar month, with its agencies ranked."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        exists = conn.execute("select to_regclass('marts.mart_qd766_scorecard') as r").fetchone()
        if exists["r"] is None:
            return {}
        rows = conn.execute(
            "select * from marts.mart_qd766_scorecard where closing_month = %s"
            " and calendar = 'calendar' and period_type = 'month'"
            " order by group_code, item_code",
            (month,),
        ).fetchall()
    cards: dict[str, Scorecard] = {}
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in rows:
        if r["scope"] == "agency":
            if r["points"] is not None:
                total = totals[(r["province_code"], r["agency_name"])]
                total[0] += r["points"]
                total[1] += r["max_points"]
            continue
        card = cards.setdefault(
            r["province_code"], Scorecard(Decimal(0), Decimal(0), [], Decimal(0))
        )
        card.items.append(
            ScoreItem(
                r["group_name_vi"],
                r["item_code"],
                r["item_name_vi"],
                r["ratio"],
                r["points"],
                r["max_points"],
                SCORE_STATUS.get(r["status"], ""),
            )
        )
        if r["points"] is not None:
            card.points += r["points"]
            card.possible += r["max_points"]
        elif r["status"] != "scored":
            card.unscored_points += r["max_points"]
    for code, card in cards.items():
        mine = sorted(
            (
                (name, pts, possible)
                for (p, name), (pts, possible) in totals.items()
                if p == code and possible
            ),
            key=lambda t: (-(t[1] / t[2]), t[0]),
        )
        card.ranking = [(i, name, pts, possible) for i, (name, pts, possible) in enumerate(mine, 1)]
    return cards


def _fetch(url: str, month: date) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            # The leaders' report shows the rates of calendar months; counts, averages and the
            # official 15→14 windows are in the same mart for BI (docs/bi-guide.md).
            "select * from marts.mart_kpi_monthly where period_month in (%s, %s)"
            " and calendar = 'calendar' and unit = 'ratio'",
            (month, previous_month(month)),
        ).fetchall()


@dataclass
class ProvinceReport:
    """One province's chapter: its own 'Toàn tỉnh' lines, tiers and agencies."""

    code: str
    name: str
    sections: list[IndicatorSection]
    agency_count: int
    scorecard: Scorecard | None = None


def _sum_line(label: str, rows: list[dict], prev_rows: list[dict]) -> Line:
    line = Line(label, sum(r["numerator"] for r in rows), sum(r["denominator"] for r in rows))
    pn, pd = sum(r["numerator"] for r in prev_rows), sum(r["denominator"] for r in prev_rows)
    line.previous = Decimal(pn) / Decimal(pd) if pd else None
    return line


def build_sections(rows: list[dict], month: date) -> list[IndicatorSection]:
    current = [r for r in rows if r["period_month"] == month]
    prev = [r for r in rows if r["period_month"] != month]
    sections = []
    for code in sorted({r["indicator_code"] for r in current}):
        cur_i = [r for r in current if r["indicator_code"] == code]
        prev_i = [r for r in prev if r["indicator_code"] == code]
        sec = IndicatorSection(
            code, cur_i[0]["indicator_name_vi"], _sum_line("Toàn tỉnh", cur_i, prev_i)
        )
        by_tier: dict[str, list[dict]] = defaultdict(list)
        for r in cur_i:
            by_tier[r["tier"]].append(r)
        prev_by_agency = {r["agency_key"]: r for r in prev_i}
        for tier in sorted(by_tier, key=lambda t: TIER_ORDER.get(t, 9)):
            tier_rows = by_tier[tier]
            tline = _sum_line(
                tier_rows[0]["tier_name_vi"], tier_rows, [r for r in prev_i if r["tier"] == tier]
            )
            tline.target = tier_rows[0]["target_value"]
            sec.tiers.append(tline)
            agency_lines = []
            for r in sorted(tier_rows, key=lambda r: r["agency_name"]):
                p = prev_by_agency.get(r["agency_key"])
                agency_lines.append(
                    Line(
                        r["agency_name"],
                        r["numerator"],
                        r["denominator"],
                        r["target_value"],
                        r["target_met"],
                        p["value"] if p else None,
                    )
                )
            sec.agencies.append((tier_rows[0]["tier_name_vi"], agency_lines))
        sections.append(sec)
    return sections


def render(url: str, month: date, out_dir: Path) -> Path:
    """Write `bao-cao-YYYY-MM.html` for a published month, a chapter per province."""
    rows = _fetch(url, month)
    current = [r for r in rows if r["period_month"] == month]
    if not current:
        raise ReportError(f"nothing is published for {month:%Y-%m} in marts.mart_kpi_monthly")
    provinces = []
    scorecards = _scorecards(url, month)
    for code, name in sorted({(r["province_code"], r["province_name"]) for r in current}):
        mine = [r for r in rows if r["province_code"] == code]
        provinces.append(
            ProvinceReport(
                code,
                name,
                build_sections(mine, month),
                len({r["agency_code"] for r in mine if r["period_month"] == month}),
                scorecards.get(code),
            )
        )
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    env.filters.update(percent=fmt.percent, count=fmt.count, measure=fmt.measure, score=fmt.score)
    env.globals.update(change=fmt.points_change)
    html = env.get_template("monthly.html.j2").render(
        month=month,
        month_label=fmt.month_label(month),
        previous_label=fmt.month_label(previous_month(month)),
        province_names=", ".join(f"Tỉnh {p.name}" for p in provinces),
        provinces=provinces,
        published_at=max(
            r["published_at"] for r in current if r["published_at"] is not None
        ).astimezone(LOCAL_TZ),
        publication=_publication(url, month),
        drift=_drift(url),
        report_checks=_report_checks(url, month),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bao-cao-{month:%Y-%m}.html"
    path.write_text(unicodedata.normalize("NFC", html), encoding="utf-8")
    return path
