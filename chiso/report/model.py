"""What the monthly report says, read once from the published marts as the BI reader and cut
into scopes: the whole report, each province, and each tier of a province.

Every renderer (HTML, PDF, workbook) draws the same `ScopeReport`, so the three formats never
disagree. Province and tier lines are ratios of sums of the agencies' numerators and
denominators (averaging agency rates would be wrong and never appears); counts add up;
averages in working days are total days over total dossiers.

Traffic lights compare a line with its target: green when it meets it, amber when it misses by
less than `NEAR_POINTS`, red otherwise, grey without a target or a value. Targets are set per
tier (the province's plan), so a province's own line has none.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

from chiso.core import formatting as fmt
from chiso.core.months import LOCAL_TZ, add_months, previous_month

TIER_ORDER = {"province_dept": 1, "district": 2, "commune": 3}
TIER_SLUGS = {"province_dept": "so-nganh", "district": "cap-huyen", "commune": "cap-xa"}
TREND_MONTHS = 12
# A line that misses its target by less than five percentage points is amber, not red.
NEAR_POINTS = Decimal("0.05")
# Charted whatever their targets: the headline rates of the three systems.
HEADLINE = (
    "dossier.ontime_rate",
    "dossier.online_rate_l34",
    "doc.official_electronic_rate",
    "doc.signed_rate",
    "pay.online_rate",
)
CALENDAR_LABELS = {"calendar": "tháng dương lịch", "official": "kỳ báo cáo 15→14"}
LIGHT_LABELS = {"green": "Đạt", "amber": "Gần đạt", "red": "Chưa đạt", "none": "–"}
MAX_CHANGES_SHOWN = 200
MAX_CHECKS_SHOWN = 100


class ReportError(RuntimeError):
    """Nothing is published for the requested month."""


@dataclass(frozen=True)
class Scope:
    """Whom a report is for: every province (the whole report), one province, or one tier of
    a province."""

    province_code: str | None = None
    province_name: str | None = None
    tier: str | None = None
    tier_name: str | None = None

    @property
    def title(self) -> str:
        if self.province_name is None:
            return "Các tỉnh"
        province = f"Tỉnh {self.province_name}"
        return f"{province} – {self.tier_name}" if self.tier else province

    @property
    def slug(self) -> str:
        """An ASCII file-name part ('tinh-hai-duong-cap-xa'): mail clients and shared drives
        mangle diacritics in file names."""
        if self.province_name is None:
            return "tat-ca"
        slug = f"tinh-{ascii_slug(self.province_name)}"
        return f"{slug}-{TIER_SLUGS.get(self.tier or '', self.tier)}" if self.tier else slug

    def holds(self, row: dict) -> bool:
        return (self.province_code is None or row["province_code"] == self.province_code) and (
            self.tier is None or row["tier"] == self.tier
        )


def ascii_slug(text: str) -> str:
    """'Hải Dương' → 'hai-duong' (đ is a letter of its own, not a d with a mark)."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split())


def light(value: Decimal | None, target: Decimal | None, direction: str | None) -> str:
    """green / amber / red / none for a value against its target, by the indicator's
    direction (a lower late rate is better)."""
    if value is None or target is None or direction not in ("higher_is_better", "lower_is_better"):
        return "none"
    gap = value - target if direction == "higher_is_better" else target - value
    if gap >= 0:
        return "green"
    return "amber" if -gap < NEAR_POINTS else "red"


@dataclass
class Line:
    """One line of the report: an agency, a tier or a province, for one indicator."""

    label: str
    numerator: Decimal
    denominator: Decimal | None
    unit: str = "ratio"
    target: Decimal | None = None
    previous: Decimal | None = None
    rank: int | None = None
    ranked: int | None = None
    light: str = "none"

    @property
    def value(self) -> Decimal | None:
        if self.unit == "count":
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None

    @property
    def change(self) -> Decimal | None:
        value = self.value
        return None if value is None or self.previous is None else value - self.previous


@dataclass
class SummaryRow:
    """An indicator at one level (the province or a tier) in both calendars."""

    code: str
    name: str
    unit: str
    direction: str
    level: str
    calendar: Line
    official: Line | None


@dataclass
class IndicatorDetail:
    """An indicator agency by agency (calendar months), tier by tier."""

    code: str
    name: str
    direction: str
    total: Line
    tiers: list[tuple[Line, list[Line]]]


@dataclass(frozen=True)
class RankedAgency:
    rank: int
    name: str
    met: int
    near: int
    with_target: int


@dataclass(frozen=True)
class TrendSeries:
    """One line of a trend chart: a level's rate per month (None where nothing was
    published), and its target when the level has one."""

    label: str
    values: tuple[Decimal | None, ...]
    target: Decimal | None


@dataclass(frozen=True)
class Trend:
    code: str
    name: str
    series: tuple[TrendSeries, ...]


@dataclass(frozen=True)
class Change:
    """One published value that a republication changed (marts.kpi_revision_changes)."""

    agency_code: str
    agency: str
    indicator: str
    calendar: str
    unit: str
    change: str
    old: Decimal | None
    new: Decimal | None


@dataclass(frozen=True)
class Publication:
    revision: int
    published_at: datetime
    git_sha: str | None
    gate_success: bool
    forced_reason: str | None
    published_by: str | None
    previous_revision: int | None


@dataclass(frozen=True)
class Drifted:
    month_label: str
    pending_rows: int
    in_window: bool
    note: str | None


@dataclass(frozen=True)
class ReportCheck:
    """A check of the month's summary report that did not hold
    (marts.mart_aggregate_report_checks): both numbers, as printed and as expected."""

    reporting_unit: str
    agency_code: str | None
    kind: str
    row_label: str
    check_label: str
    printed: Decimal | None
    expected: Decimal | None
    difference: Decimal | None


@dataclass(frozen=True)
class GateWarning:
    """An unmet warning-severity expectation of the publication's gate."""

    description: str
    observed: str | None


@dataclass(frozen=True)
class Break:
    """A declared break (marts.dim_indicator_break): the month's indicator is not comparable
    with the month before, in every province (no code) or in one."""

    indicator_code: str
    indicator_name: str
    province_code: str | None
    description: str
    legal_basis: str

    def covers(self, row: dict) -> bool:
        return self.indicator_code == row["indicator_code"] and self.province_code in (
            None,
            row["province_code"],
        )


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


CHECK_KINDS = {
    "identity": "báo cáo không cộng đúng",
    "total_row": "dòng tổng không khớp các dòng",
    "dossiers": "khác số liệu hồ sơ",
    "unresolved_row": "không xác định được đơn vị",
}
SCORE_STATUS = {
    "not_in_sources": "không có trong dữ liệu nguồn",
    "not_yet_computed": "chưa tính",
    "not_scored": "không tính điểm",
}


@dataclass
class ScopeReport:
    """Everything one report file shows."""

    month: date
    scope: Scope
    publication: Publication | None
    summary: list[SummaryRow]
    details: list[IndicatorDetail]
    ranking: list[tuple[str, list[RankedAgency]]]
    trends: list[Trend]
    trend_months: list[date]
    changes: list[Change]
    drift: list[Drifted]
    checks: list[ReportCheck]
    warnings: list[GateWarning]
    scorecard: Scorecard | None
    agency_count: int
    breaks: list[Break] = field(default_factory=list)

    @property
    def month_label(self) -> str:
        return fmt.month_label(self.month)

    @property
    def previous_label(self) -> str:
        return fmt.month_label(previous_month(self.month))

    @property
    def breaks_note(self) -> str:
        """The month's declared breaks, as one note under the summary."""
        said = " ".join(
            f"{b.indicator_name}: {b.description} ({b.legal_basis})." for b in self.breaks
        )
        return (
            f"Không so sánh với {self.previous_label} (thay đổi theo quy định, không phải do"
            f" số liệu): {said}"
        )

    @property
    def changed_rows(self) -> int:
        return len(self.changes)

    @property
    def changes_shown(self) -> list[Change]:
        """The first changes, for the page (the PDF shows fewer, the workbook all)."""
        return self.changes[:MAX_CHANGES_SHOWN]

    @property
    def checks_total(self) -> int:
        return len(self.checks)

    @property
    def checks_shown(self) -> list[ReportCheck]:
        return self.checks[:MAX_CHECKS_SHOWN]


@dataclass
class MonthData:
    """What the marts hold for a month's report, read once (then cut by `scoped`)."""

    month: date
    rows: list[dict]
    rollups: list[dict]
    directions: dict[str, str]
    publication: Publication | None
    changes: list[Change]
    drift: list[Drifted]
    checks: list[ReportCheck]
    warnings: list[GateWarning]
    scorecards: dict[str, Scorecard]
    breaks: list[Break] = field(default_factory=list)

    def scopes(self) -> list[Scope]:
        """Each province of the month, then each of its tiers."""
        found: list[Scope] = []
        current = [r for r in self.rows if r["period_month"] == self.month]
        for code, name in sorted({(r["province_code"], r["province_name"]) for r in current}):
            found.append(Scope(code, name))
            tiers = {(r["tier"], r["tier_name_vi"]) for r in current if r["province_code"] == code}
            for tier, tier_name in sorted(tiers, key=lambda t: TIER_ORDER.get(t[0], 9)):
                found.append(Scope(code, name, tier, tier_name))
        return found

    def provinces(self) -> list[Scope]:
        return [s for s in self.scopes() if s.tier is None]


def load(url: str, month: date) -> MonthData:
    """Read the month's report from the marts (as whoever `url` logs in as: the BI reader
    for the monthly report, a scoped login for its own rows)."""
    first = add_months(month, -(TREND_MONTHS - 1))
    with psycopg.connect(url, row_factory=dict_row) as conn:
        # one snapshot for every read: a republication committing halfway would otherwise
        # put one revision's numbers under another's number
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        rows = conn.execute(
            "select * from marts.mart_kpi_monthly where period_month in (%s, %s)",
            (month, previous_month(month)),
        ).fetchall()
        if not any(r["period_month"] == month for r in rows):
            raise ReportError(f"nothing is published for {month:%Y-%m} in marts.mart_kpi_monthly")
        rollups = conn.execute(
            "select closing_month, rollup_level, province_code, tier, indicator_code,"
            " numerator, denominator, value from marts.mart_kpi_rollups"
            " where basis = 'as_reported' and calendar = 'calendar' and period_type = 'month'"
            " and unit = 'ratio' and closing_month between %s and %s",
            (first, month),
        ).fetchall()
        directions = {
            r["indicator_code"]: r["direction"]
            for r in conn.execute("select indicator_code, direction from marts.dim_indicator")
        }
        publication, changes = _publication(conn, month)
        return MonthData(
            month,
            rows,
            rollups,
            directions,
            publication,
            changes,
            _drift(conn),
            _report_checks(conn, month),
            _warnings(conn, month),
            _scorecards(conn, month),
            _breaks(conn, month),
        )


def scoped(data: MonthData, scope: Scope) -> ScopeReport:
    """The report of one scope (or of every province, for `Scope()`)."""
    month = data.month
    breaks = [
        b
        for b in data.breaks
        if scope.province_code is None or b.province_code in (None, scope.province_code)
    ]
    rows = _not_compared_across(breaks, [r for r in data.rows if scope.holds(r)], month)
    current = [r for r in rows if r["period_month"] == month]
    agencies = {r["agency_code"] for r in current}
    # a summary report is a province's (its code) or an agency's own (the agency's code)
    checks = [
        c
        for c in data.checks
        if scope.province_code is None
        or c.agency_code in agencies
        or (scope.tier is None and c.reporting_unit in (scope.province_code, *agencies))
    ]
    changes = [c for c in data.changes if scope.province_code is None or c.agency_code in agencies]
    chaptered = scope.province_code is not None
    return ScopeReport(
        month=month,
        scope=scope,
        publication=data.publication,
        # the whole report's front matter only: its chapters are the provinces' reports
        summary=_summary(rows, month, scope, data.directions) if chaptered else [],
        details=_details(rows, month, data.directions) if chaptered else [],
        ranking=_ranking(current, data.directions) if chaptered else [],
        trends=_trends(data, scope),
        trend_months=[add_months(month, -i) for i in range(TREND_MONTHS - 1, -1, -1)],
        changes=changes,
        drift=data.drift,
        checks=checks,
        warnings=data.warnings,
        scorecard=data.scorecards.get(scope.province_code or "") if scope.tier is None else None,
        agency_count=len(agencies),
        breaks=breaks,
    )


def _not_compared_across(breaks: list[Break], rows: list[dict], month: date) -> list[dict]:
    """The rows without what would compare a declared break's month with the month before:
    the previous month's rows of its indicator (in its province) and the previous value and
    change the current rows carry. Every line of the indicator then shows no change."""
    if not breaks:
        return rows
    out = []
    for r in rows:
        if any(b.covers(r) for b in breaks):
            if r["period_month"] != month:
                continue
            r = {**r, "previous_value": None, "value_change": None}
        out.append(r)
    return out


def _sum(label: str, rows: list[dict], unit: str) -> Line:
    numerator = sum((r["numerator"] or Decimal(0) for r in rows), Decimal(0))
    denominators = [r["denominator"] for r in rows if r["denominator"] is not None]
    denominator = sum(denominators, Decimal(0)) if denominators else None
    return Line(label, numerator, denominator, unit)


def _level_line(
    label: str, cur: list[dict], prev: list[dict], unit: str, direction: str, *, tier: bool
) -> Line:
    """A tier's or a province's line. Targets are set per tier: a tier's line has its
    agencies' target when they share one (agency versions of different units may not), a
    province's line has none."""
    line = _sum(label, cur, unit)
    line.previous = _sum(label, prev, unit).value if prev else None
    targets = {r["target_value"] for r in cur}
    line.target = targets.pop() if tier and len(targets) == 1 else None
    line.light = light(line.value, line.target, direction)
    return line


def _summary(rows: list[dict], month: date, scope: Scope, directions: dict) -> list[SummaryRow]:
    current = [r for r in rows if r["period_month"] == month]
    names = {r["indicator_code"]: (r["indicator_name_vi"], r["unit"]) for r in current}
    out: list[SummaryRow] = []
    for code in sorted(names, key=_indicator_order):
        name, unit = names[code]
        direction = directions.get(code, "neutral")

        tiers = sorted(
            {(r["tier"], r["tier_name_vi"]) for r in current if r["indicator_code"] == code},
            key=lambda t: TIER_ORDER.get(t[0], 9),
        )
        mine = [r for r in rows if r["indicator_code"] == code]
        levels = [("Toàn tỉnh", None)] if scope.tier is None else []
        for label, tier in levels + [(tier_name, tier) for tier, tier_name in tiers]:
            calendar, official = (
                _level(
                    label,
                    [r for r in mine if tier is None or r["tier"] == tier],
                    cal,
                    month,
                    unit,
                    direction,
                    tier=tier is not None,
                )
                for cal in ("calendar", "official")
            )
            if calendar is None:  # published for the 15→14 period only
                continue
            out.append(SummaryRow(code, name, unit, direction, label, calendar, official))
    return out


def _level(
    label: str,
    rows: list[dict],
    calendar: str,
    month: date,
    unit: str,
    direction: str,
    *,
    tier: bool,
) -> Line | None:
    mine = [r for r in rows if r["calendar"] == calendar]
    cur = [r for r in mine if r["period_month"] == month]
    prev = [r for r in mine if r["period_month"] != month]
    return _level_line(label, cur, prev, unit, direction, tier=tier) if cur else None


def _indicator_order(code: str) -> tuple[int, str]:
    return (0 if code.startswith(("dossier.", "bcci.", "digit.")) else 1, code)


def _details(rows: list[dict], month: date, directions: dict) -> list[IndicatorDetail]:
    """Agency by agency, calendar months, for the rates."""
    cal = [r for r in rows if r["calendar"] == "calendar" and r["unit"] == "ratio"]
    current = [r for r in cal if r["period_month"] == month]
    prev = [r for r in cal if r["period_month"] != month]
    details = []
    for code in sorted({r["indicator_code"] for r in current}, key=_indicator_order):
        cur_i = [r for r in current if r["indicator_code"] == code]
        prev_i = [r for r in prev if r["indicator_code"] == code]
        direction = directions.get(code, "neutral")
        total = _level_line("Toàn tỉnh", cur_i, prev_i, "ratio", direction, tier=False)
        tiers = []
        by_tier: dict[str, list[dict]] = defaultdict(list)
        for r in cur_i:
            by_tier[r["tier"]].append(r)
        for tier in sorted(by_tier, key=lambda t: TIER_ORDER.get(t, 9)):
            tier_rows = by_tier[tier]
            tier_line = _level_line(
                tier_rows[0]["tier_name_vi"],
                tier_rows,
                [r for r in prev_i if r["tier"] == tier],
                "ratio",
                direction,
                tier=True,
            )
            agencies = [
                Line(
                    r["agency_name"],
                    r["numerator"],
                    r["denominator"],
                    "ratio",
                    r["target_value"],
                    r["previous_value"],
                    r["rank_in_tier"],
                    r["ranked_in_tier"],
                    light(r["value"], r["target_value"], direction),
                )
                for r in sorted(tier_rows, key=lambda r: r["agency_name"])
            ]
            tiers.append((tier_line, agencies))
        details.append(
            IndicatorDetail(code, cur_i[0]["indicator_name_vi"], direction, total, tiers)
        )
    return details


def _ranking(current: list[dict], directions: dict) -> list[tuple[str, list[RankedAgency]]]:
    """Within each tier, the agencies by the targets they met (calendar month), then by the
    ones they nearly met: how leaders compare agencies held to the same targets."""
    tally: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    tiers: dict[str, str] = {}
    for r in current:
        if r["calendar"] != "calendar":
            continue
        tiers[r["tier"]] = r["tier_name_vi"]
        # by agency version: two units of the same name (before and after a merger) stay two
        counts = tally[(r["tier"], r["agency_key"], r["agency_name"])]
        state = light(r["value"], r["target_value"], directions.get(r["indicator_code"]))
        if r["target_value"] is not None and r["value"] is not None:
            counts[2] += 1
            counts[0] += state == "green"
            counts[1] += state == "amber"
    out = []
    for tier in sorted(tiers, key=lambda t: TIER_ORDER.get(t, 9)):
        mine = [(name, key, c) for (t, key, name), c in tally.items() if t == tier and c[2]]
        mine.sort(key=lambda item: (-item[2][0] / item[2][2], -item[2][1], item[0], item[1]))
        ranked, rank, last = [], 0, None
        for position, (name, _, (met, near, with_target)) in enumerate(mine, start=1):
            key = (met / with_target, near)
            rank = rank if key == last else position
            last = key
            ranked.append(RankedAgency(rank, name, met, near, with_target))
        if ranked:
            out.append((tiers[tier], ranked))
    return out


def _trends(data: MonthData, scope: Scope) -> list[Trend]:
    """The rates with a target in the scope, and the headline ones, month by month."""
    months = [add_months(data.month, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
    current = [r for r in data.rows if r["period_month"] == data.month and scope.holds(r)]
    names = {r["indicator_code"]: r["indicator_name_vi"] for r in current if r["unit"] == "ratio"}
    found: dict[tuple[str, str], set[Decimal]] = defaultdict(set)
    for r in current:
        if r["target_value"] is not None and r["calendar"] == "calendar":
            found[(r["indicator_code"], r["tier"])].add(r["target_value"])
    # a tier's target line only where its agencies share one
    targets = {key: values.pop() for key, values in found.items() if len(values) == 1}
    tier_names = {r["tier"]: r["tier_name_vi"] for r in current}
    charted = sorted(
        ({code for code, _ in found} | set(HEADLINE)) & set(names), key=_indicator_order
    )
    if scope.province_code is None:
        return []  # the whole report charts each province in its chapter
    values: dict[tuple[str, str | None, date], Decimal | None] = {
        (r["indicator_code"], r["tier"], r["closing_month"]): r["value"]
        for r in data.rollups
        if r["province_code"] == scope.province_code
    }
    trends = []
    for code in charted:
        levels: list[tuple[str, str | None]] = []
        if scope.tier is None:
            levels.append(("Toàn tỉnh", None))
            levels += [
                (tier_names[t], t) for t in sorted(tier_names, key=lambda t: TIER_ORDER.get(t, 9))
            ]
        else:
            levels.append((scope.tier_name or scope.tier, scope.tier))
        series = tuple(
            TrendSeries(
                label,
                tuple(values.get((code, tier, m)) for m in months),
                targets.get((code, tier)) if tier else None,
            )
            for label, tier in levels
        )
        trends.append(Trend(code, names[code], series))
    return trends


def _publication(conn: psycopg.Connection, month: date) -> tuple[Publication | None, list[Change]]:
    """The month's current revision and, for a republication, the values it changed (not
    only a label or the previous month's value)."""
    row = conn.execute(
        "select * from marts.kpi_publications where period_month = %s and is_current", (month,)
    ).fetchone()
    if row is None:
        return None, []
    changes = conn.execute(
        "select * from marts.kpi_revision_changes where period_month = %s and revision = %s"
        " and mart = 'mart_kpi_monthly' and (old_value is distinct from new_value"
        " or old_numerator is distinct from new_numerator"
        " or old_denominator is distinct from new_denominator)"
        " order by agency_name, agency_code, indicator_code, calendar, row_key::text",
        (month, row["revision"]),
    ).fetchall()
    publication = Publication(
        revision=row["revision"],
        published_at=row["published_at"].astimezone(LOCAL_TZ),
        git_sha=row["git_sha"],
        gate_success=row["gate_success"],
        forced_reason=row["forced_reason"],
        published_by=row["published_by"],
        previous_revision=row["previous_revision"],
    )
    return publication, [
        Change(
            c["agency_code"],
            c["agency_name"] or c["agency_code"],
            c["indicator_name_vi"] or c["indicator_code"],
            CALENDAR_LABELS.get(c["calendar"], c["calendar"]),
            c["unit"],
            c["change"],
            c["old_numerator"] if c["unit"] == "count" else c["old_value"],
            c["new_numerator"] if c["unit"] == "count" else c["new_value"],
        )
        for c in changes
    ]


def _drift(conn: psycopg.Connection) -> list[Drifted]:
    """Published months that differ from the warehouse now (marts.kpi_publication_drift):
    late records changed them and they were not republished (outside the republication
    window, or their gate failed)."""
    rows = conn.execute(
        "select period_month, pending_rows, in_window, note"
        " from marts.kpi_publication_drift order by period_month"
    ).fetchall()
    return [
        Drifted(fmt.month_label(r["period_month"]), r["pending_rows"], r["in_window"], r["note"])
        for r in rows
    ]


def _report_checks(conn: psycopg.Connection, month: date) -> list[ReportCheck]:
    """The checks of the month's summary reports that failed: the report's own sums first,
    then the largest differences."""
    rows = conn.execute(
        "select * from marts.mart_aggregate_report_checks"
        " where report_month = %s and not is_consistent order by array_position("
        "array['identity', 'total_row', 'unresolved_row', 'dossiers'], check_kind),"
        " abs(difference) desc nulls first, row_label, check_name, check_id",
        (month,),
    ).fetchall()
    return [
        ReportCheck(
            r["reporting_unit_code"],
            r["agency_code"],
            CHECK_KINDS.get(r["check_kind"], r["check_kind"]),
            r["agency_name"] or r["row_label"],
            r["check_label"],
            r["printed_value"],
            r["expected_value"],
            r["difference"],
        )
        for r in rows
    ]


def _warnings(conn: psycopg.Connection, month: date) -> list[GateWarning]:
    rows = conn.execute(
        "select description, observed from marts.kpi_publication_warnings"
        " where period_month = %s and is_current order by description, suite, expectation",
        (month,),
    ).fetchall()
    return [GateWarning(r["description"], r["observed"]) for r in rows]


def _breaks(conn: psycopg.Connection, month: date) -> list[Break]:
    """The breaks declared for the month (none before a publication made the table)."""
    present = conn.execute(
        "select to_regclass('marts.dim_indicator_break') is not null as present"
    ).fetchone()
    if not (present and present["present"]):
        return []
    rows = conn.execute(
        "select indicator_code, indicator_name_vi, province_code, description, legal_basis"
        " from marts.dim_indicator_break where break_month = %s"
        " order by indicator_code, province_code nulls first",
        (month,),
    ).fetchall()
    return [
        Break(
            r["indicator_code"],
            r["indicator_name_vi"] or r["indicator_code"],
            r["province_code"],
            r["description"],
            r["legal_basis"],
        )
        for r in rows
    ]


def _scorecards(conn: psycopg.Connection, month: date) -> dict[str, Scorecard]:
    """Each province's index for the calendar month, with its agencies ranked."""
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
