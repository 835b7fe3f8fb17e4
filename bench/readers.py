"""Benchmark: the leaders' dashboard's queries on the published marts, against the facts.

    make bench                                       # with the other benchmarks
    .venv/bin/python -m bench.readers                # five years of Hải Phòng (30 + 31)
    .venv/bin/python -m bench.readers --months 6 --dossiers-per-agency-month 60   # a quick run
    .venv/bin/python -m bench.readers --variant-sql proposed.sql --explain

Five years (60 months, 11/2021–10/2026, across the 1 July 2025 merger) of one province are
pulled from the simulator into a throwaway embedded PostgreSQL at the provincial volume of
bench/incremental.py (DOSSIERS_PER_AGENCY_MONTH), built by dbt (a full build), and every month
is published into `marts` as a close publishes it (chiso.publish.revisions.publish_month: the
revision tables, their indexes, the views of the current revisions), the published dimensions
it rewrote then vacuumed, as autovacuum does in the month before the next close. The Great
Expectations gate is skipped: each month is published as if it had passed
(`gate_success=True`), which changes no published row. Then the warehouse is settled
(`VACUUM ANALYZE`, bench/warehouse.py) and, in one run:

1. **The dashboard, from the marts.** The queries Superset runs for the leaders' dashboard,
   built from infra/superset/dashboard/ at run time (the dataset's SQL and metrics, the six
   charts, the native filters and the charts each one leaves out), the way Superset 6 writes
   them: `SELECT <columns, or metrics> FROM (<dataset SQL>) AS virtual_table WHERE <the
   chart's own filters> AND <col> IN (<value>) … [GROUP BY …] [ORDER BY …] LIMIT <n>`, values
   inlined. They run as the BI reader, the login the dashboard uses (the marts' row-level
   security policies are evaluated for it as for any login). A *load* is the six charts'
   queries for one choice a leader makes in the filters: the province (`--province`), a scope
   (the whole province or one tier), one of the indicators below, a calendar, and a month
   (months spread over the five years, and the filter's default 'Mới nhất', the latest). The
   queries filling the five filters' lists (`SELECT col … GROUP BY col ORDER BY col LIMIT
   1000`, run when the dashboard opens) are timed apart.
2. **The same answers, from the facts.** For the indicators whose numerator and denominator
   are counts of dossiers (MEASURES: the early, on-time and late rates on the finish date, for
   the agency holding the dossier then; the online rate of level-3/4 procedures on the receipt
   date, as dbt's int_indicator_counts__dossiers counts them), four charts' answers are
   computed from the row-level dossiers (`audit.fct_dossiers` with the agency, period and
   indicator dimensions), as the transformer: the scope's value in the month (a ratio of sums
   over its agencies, as reported), its trend over every month (as reported), the four
   indicators' values for the scope in the month (the indicators table's other rows are not
   computed), and the ranking of the scope's agencies (value, rank within the tier). The facts'
   queries read the months they need through fct_dossiers' month indexes. Every answer is
   checked against the marts' (values to 1e-9, ranks equal; where nothing was counted, a
   month, an agency or a tier without a value, there is nothing to compare): a difference is
   printed and the benchmark fails. The targets, and the agencies meeting them, come from the
   tiers' plans, not from facts: those two charts have no counterpart.

Method. Each query runs on an open autocommit connection, timed as wall clock around execute
and fetchall (`time.perf_counter`). One load of each side runs first, untimed (a dashboard is
read from a warm cache); then `--samples` choices, each timed as the filters' lists, then a
load of each side, alternating which side goes first. Reported: p50 and p95 of each query
kind on each side and each kind's p95 ratio; the median load of the four charts answered on
both sides, on each side, and of all six charts from the marts. Goals: every chart's query
from the marts at p95 < 200 ms; the median load from the facts at least 100× the marts' (the
same four charts: the marts' indicators table answers every indicator, the facts' four, so
the ratio errs against the marts). The filters' lists are held to 200 ms too, reported apart.

`--variant-sql FILE` measures a variant of the dataset's SQL as well, in the same run, on the
same choices, and checks that every chart answers with it as with the dataset's SQL;
`--explain` prints EXPLAIN ANALYZE of the marts' queries of the first choice. Results go to
bench/results/readers.json (git-ignored).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from bench.incremental import DOSSIERS_PER_AGENCY_MONTH
from bench.warehouse import Warehouse, months_from, run_header, write_results

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "infra" / "superset" / "dashboard"
DATASET = DASHBOARD_DIR / "datasets" / "chiso_marts" / "leaders_kpi.yaml"
DASHBOARD = DASHBOARD_DIR / "dashboards" / "chiso_lanh_dao.yaml"

GOAL_P95_MS = 200.0
GOAL_RATIO = 100.0
TOLERANCE = Decimal("1e-9")
WHOLE_PROVINCE = "Toàn tỉnh"  # the dataset's scope of the province's totals
# Superset's defaults: a query without a row limit of its own (big numbers) gets ROW_LIMIT,
# a native filter's list NATIVE_FILTER_DEFAULT_ROW_LIMIT (superset/config.py)
ROW_LIMIT = 50000
FILTER_ROW_LIMIT = 1000
# Superset's PostgreSQL time grains (superset/db_engine_specs/postgres.py)
TIME_GRAINS = {
    "P1D": "DATE_TRUNC('day', {})",
    "P1W": "DATE_TRUNC('week', {})",
    "P1M": "DATE_TRUNC('month', {})",
    "P3M": "DATE_TRUNC('quarter', {})",
    "P1Y": "DATE_TRUNC('year', {})",
}


# --- the dashboard as code, and the SQL Superset writes for it -------------------------------


@dataclass(frozen=True)
class Chart:
    name: str  # the chart file's name: the query kind in the report
    uuid: str
    params: dict[str, Any]


@dataclass(frozen=True)
class NativeFilter:
    column: str
    ascending: bool
    excluded: frozenset[str]  # uuids of the charts out of its scope
    sql: str  # the SQL of the dataset its list comes from (its own small one)


@dataclass(frozen=True)
class Dashboard:
    sql: str
    metrics: dict[str, str]  # saved metric → its SQL expression
    charts: tuple[Chart, ...]
    filters: tuple[NativeFilter, ...]


def load_dashboard(dataset_sql: Path | None) -> Dashboard:
    """The dataset, charts and native filters of the leaders' dashboard, from their YAML."""
    dataset = yaml.safe_load(DATASET.read_text())
    board = yaml.safe_load(DASHBOARD.read_text())
    charts = []
    for path in sorted((DASHBOARD_DIR / "charts").glob("*.yaml")):
        chart = yaml.safe_load(path.read_text())
        charts.append(Chart(path.stem, chart["uuid"], chart["params"]))
    chart_uuids = {
        item["meta"]["chartId"]: item["meta"]["uuid"]
        for item in board["position"].values()
        if isinstance(item, dict) and item.get("type") == "CHART"
    }
    datasets = {
        d["uuid"]: d
        for d in map(yaml.safe_load, map(Path.read_text, DATASET.parent.glob("*.yaml")))
    }
    filters = tuple(
        NativeFilter(
            column=f["targets"][0]["column"]["name"],
            ascending=f["controlValues"].get("sortAscending", True),
            excluded=frozenset(chart_uuids[i] for i in f["scope"]["excluded"]),
            sql=datasets[f["targets"][0]["datasetUuid"]]["sql"].strip().rstrip(";"),
        )
        for f in board["metadata"]["native_filter_configuration"]
    )
    text = dataset_sql.read_text() if dataset_sql else dataset["sql"]
    metrics = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}
    return Dashboard(text.strip().rstrip(";"), metrics, tuple(charts), filters)


def _from(dashboard: Dashboard) -> sql.Composable:
    return sql.SQL("FROM ({}) AS virtual_table").format(sql.SQL(dashboard.sql))  # type: ignore[arg-type]


def _adhoc_filter(f: dict[str, Any]) -> sql.Composable | None:
    column = sql.Identifier(f["subject"])
    operator, value = f["operator"], f.get("comparator")
    if operator == "TEMPORAL_RANGE" and value == "No filter":
        return None
    if operator == "==":
        return sql.SQL("{} = {}").format(column, sql.Literal(value))
    if operator == "!=":
        return sql.SQL("{} != {}").format(column, sql.Literal(value))
    if operator == "IN":
        return sql.SQL("{} IN ({})").format(column, sql.SQL(", ").join(map(sql.Literal, value)))
    raise ValueError(f"adhoc filter {f} is not emulated")


def _where(dashboard: Dashboard, chart: Chart, choice: Mapping[str, str]) -> list[sql.Composable]:
    """The chart's own filters, then the native filters whose scope reaches it."""
    own = [_adhoc_filter(f) for f in chart.params.get("adhoc_filters", [])]
    native = [
        sql.SQL("{} IN ({})").format(sql.Identifier(f.column), sql.Literal(choice[f.column]))
        for f in dashboard.filters
        if chart.uuid not in f.excluded and f.column in choice
    ]
    return [c for c in own if c is not None] + native


def _metric(dashboard: Dashboard, name: str) -> sql.Composable:
    return sql.SQL("{} AS {}").format(sql.SQL(dashboard.metrics[name]), sql.Identifier(name))  # type: ignore[arg-type]


def chart_query(dashboard: Dashboard, chart: Chart, choice: Mapping[str, str]) -> sql.Composed:
    """The SQL Superset runs for the chart with these native filter values."""
    p = chart.params
    select: list[sql.Composable]
    group: list[sql.Composable] = []
    order: list[sql.Composable] = []
    if p["viz_type"] == "big_number_total":
        select, limit = [_metric(dashboard, p["metric"])], ROW_LIMIT
    elif p["viz_type"] == "table" and p.get("query_mode") == "raw":
        select, limit = [sql.Identifier(c) for c in p["all_columns"]], p["row_limit"]
        for column, ascending in map(json.loads, p.get("order_by_cols", [])):
            order.append(sql.SQL("{} {}").format(sql.Identifier(column), _direction(ascending)))
    elif p["viz_type"] == "echarts_timeseries_line":
        x_axis = sql.SQL(TIME_GRAINS[p["time_grain_sqla"]]).format(sql.Identifier(p["x_axis"]))  # type: ignore[arg-type]
        series = [sql.Identifier(c) for c in p.get("groupby", [])]
        metrics = p["metrics"]
        select = [
            sql.SQL("{} AS {}").format(x_axis, sql.Identifier(p["x_axis"])),
            *series,
            *(_metric(dashboard, m) for m in metrics),
        ]
        group, limit = [x_axis, *series], p["row_limit"]
        order = [
            sql.SQL("{} {}").format(
                sql.SQL(dashboard.metrics[metrics[0]]),  # type: ignore[arg-type]
                _direction(not p.get("order_desc", True)),
            )
        ]
    else:
        raise ValueError(f"chart {chart.name}: {p['viz_type']} is not emulated")
    parts = [sql.SQL("SELECT {}").format(sql.SQL(", ").join(select)), _from(dashboard)]
    where = _where(dashboard, chart, choice)
    if where:
        parts.append(sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(where)))
    if group:
        parts.append(sql.SQL("GROUP BY {}").format(sql.SQL(", ").join(group)))
    if order:
        parts.append(sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(order)))
    parts.append(sql.SQL("LIMIT {}").format(sql.Literal(limit)))
    return sql.SQL("\n").join(parts)


def _direction(ascending: bool) -> sql.Composable:
    return sql.SQL("ASC" if ascending else "DESC")


def filter_values_query(f: NativeFilter) -> sql.Composed:
    """What Superset runs to fill a native filter's list (no cascading parent), on the
    filter's own dataset."""
    column = sql.Identifier(f.column)
    return sql.SQL("SELECT {c} {src}\nGROUP BY {c}\nORDER BY {c} {d}\nLIMIT {n}").format(
        c=column,
        src=sql.SQL("FROM ({}) AS virtual_table").format(sql.SQL(f.sql)),  # type: ignore[arg-type]
        d=_direction(f.ascending),
        n=sql.Literal(FILTER_ROW_LIMIT),
    )


# --- the same answers from the facts ---------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """How a dossier rate is counted per agency version and period, as dbt's
    int_indicator_counts__dossiers counts it."""

    day: str  # the date placing a dossier in a period
    month: str  # the indexed month of that date: narrows the scan to the periods read
    agency: str  # the agency version the dossier counts for
    numerator: str
    denominator: str


_FINISHED = {"day": "finish_date", "month": "finished_month", "agency": "finish_agency_key"}
_ACCEPTED_L34 = "status is distinct from 'not_accepted' and effective_level in (3, 4)"
MEASURES = {
    "dossier.early_rate": Measure(
        **_FINISHED, numerator="timeliness = 'early'", denominator="outcome = 'resolved'"
    ),
    "dossier.ontime_rate": Measure(
        **_FINISHED, numerator="timeliness = 'on_time'", denominator="outcome = 'resolved'"
    ),
    "dossier.late_rate": Measure(
        **_FINISHED, numerator="timeliness = 'late'", denominator="outcome = 'resolved'"
    ),
    "dossier.online_rate_l34": Measure(
        day="received_date",
        month="received_month",
        agency="agency_key",
        numerator=f"{_ACCEPTED_L34} and is_online",
        denominator=_ACCEPTED_L34,
    ),
}


def _counts(measure: Measure) -> sql.Composed:
    """Numerator and denominator per agency version and month of the calendar, from the
    dossiers, for the months %(first)s to %(last)s."""
    return sql.SQL(
        """
        select
            d.{agency} as agency_key, p.closing_month, p.period_start, p.period_end,
            count(*) filter (where {numerator}) as numerator,
            count(*) filter (where {denominator}) as denominator
        from audit.fct_dossiers as d
        inner join audit.dim_period as p
            on d.{day} between p.period_start and p.period_end
        where
            p.period_type = 'month' and p.calendar = %(calendar)s
            and p.closing_month between %(first)s and %(last)s
            and d.{month} between %(scan_from)s and %(last)s
        group by 1, 2, 3, 4
        """
    ).format(
        agency=sql.Identifier(measure.agency),
        day=sql.Identifier(measure.day),
        month=sql.Identifier(measure.month),
        numerator=sql.SQL(measure.numerator),  # type: ignore[arg-type]
        denominator=sql.SQL(measure.denominator),  # type: ignore[arg-type]
    )


_IN_SCOPE = (
    "a.province_name = %(province)s and (%(tier)s::text is null or a.tier_name_vi = %(tier)s)"
)


def _scope_value(measure: Measure, by_month: bool) -> sql.Composed:
    """The scope's ratio of sums (the roll-up's value), for the month or for each month."""
    return sql.SQL(
        """
        with counts as ({counts})
        select {month} round(sum(counts.numerator)::numeric
            / nullif(sum(counts.denominator), 0), 6) as value
        from counts
        inner join audit.dim_agency as a on counts.agency_key = a.agency_key
        where {scope}
        {group}
        """
    ).format(
        counts=_counts(measure),
        month=sql.SQL("counts.closing_month," if by_month else ""),
        scope=sql.SQL(_IN_SCOPE),
        group=sql.SQL("group by counts.closing_month" if by_month else ""),
    )


def facts_value(code: str) -> sql.Composed:
    return _scope_value(MEASURES[code], by_month=False)


def facts_trend(code: str) -> sql.Composed:
    return _scope_value(MEASURES[code], by_month=True)


def facts_indicators() -> sql.Composed:
    """Each measured indicator's value for the scope in the month, with its name."""
    blocks = [
        sql.SQL("select {} as indicator_code, ({}) as value").format(
            sql.Literal(code), _scope_value(measure, by_month=False)
        )
        for code, measure in MEASURES.items()
    ]
    return sql.SQL(
        "select i.indicator_name_vi, v.value from ({}) as v"
        " inner join audit.dim_indicator as i on v.indicator_code = i.indicator_code"
    ).format(sql.SQL(" union all ").join(blocks))


def facts_ranking(code: str) -> sql.Composed:
    """The province's agency versions in the month (those active in the period, and those
    with dossiers counted in it), their value and rank within their tier, for the scope."""
    return sql.SQL(
        """
        with counts as ({counts}),
        indicator as (
            select direction = 'lower_is_better' as lower_is_better
            from audit.dim_indicator where indicator_code = {code}
        ),
        period as (
            select period_start, period_end from audit.dim_period
            where period_type = 'month' and calendar = %(calendar)s and closing_month = %(first)s
        ),
        agencies as (
            select a.agency_key, a.agency_name, a.tier, a.tier_name_vi
            from audit.dim_agency as a
            cross join period
            where
                a.province_name = %(province)s
                and (
                    (a.valid_from <= period.period_end
                        and coalesce(a.valid_to, '9999-12-31') >= period.period_start)
                    or a.agency_key in (select counts.agency_key from counts)
                )
        ),
        valued as (
            select
                agencies.*,
                round(counts.numerator::numeric / nullif(counts.denominator, 0), 6) as value
            from agencies
            left join counts on agencies.agency_key = counts.agency_key
        ),
        ranked as (
            select
                valued.*,
                case when valued.value is not null then rank() over (
                    partition by valued.tier
                    order by
                        case when indicator.lower_is_better then valued.value end asc nulls last,
                        case when not indicator.lower_is_better then valued.value end
                            desc nulls last
                ) end as rank_in_tier
            from valued cross join indicator
        )
        select ranked.rank_in_tier, ranked.agency_name, ranked.tier_name_vi, ranked.value
        from ranked
        where %(tier)s::text is null or ranked.tier_name_vi = %(tier)s
        order by ranked.rank_in_tier nulls last, ranked.agency_name
        """
    ).format(counts=_counts(MEASURES[code]), code=sql.Literal(code))


# --- choices, answers, and their comparison --------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What a leader picks in the native filters, and what the facts' queries need of it."""

    filters: dict[str, str]  # native filter column → value
    indicator_code: str
    calendar: str
    month: date
    as_reported: str  # the dataset's basis_name of the as-reported series
    measured: frozenset[str]  # the names of the indicators in MEASURES

    def params(self, first: date, last: date) -> dict[str, Any]:
        """The facts' query parameters: the months `first` to `last` of the calendar."""
        from chiso.core.months import add_months

        scope = self.filters["scope_name"]
        return {
            "calendar": self.calendar,
            "first": first,
            "last": last,
            "scan_from": add_months(first, -1),  # an official window starts the month before
            "province": self.filters["province_name"],
            "tier": None if scope == WHOLE_PROVINCE else scope,
        }


Rows = list[tuple[Any, ...]]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal | float) and isinstance(b, Decimal | float):
        return abs(Decimal(a) - Decimal(b)) <= TOLERANCE
    return a == b


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return _close(a, b)


def _month(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _ranking(rows: Rows) -> list[tuple[Any, ...]]:
    """(agency, tier, value, rank) of the agencies with a value, in a fixed order."""
    return sorted(
        (agency, tier, value, rank) for rank, agency, tier, value, *_ in rows if value is not None
    )


@dataclass(frozen=True)
class Comparison:
    """A chart answered from the facts: its query, its parameters' months, and how each
    side's rows become the answer compared."""

    chart: str
    facts: Callable[[Choice], sql.Composed]
    whole_history: bool  # every month (the trend), or the chosen month
    marts_answer: Callable[[Rows, Choice], Any]
    facts_answer: Callable[[Rows, Choice], Any]


COMPARISONS = (
    Comparison(
        "gia_tri",
        lambda c: facts_value(c.indicator_code),
        False,
        lambda rows, c: rows[0][0],
        lambda rows, c: rows[0][0],
    ),
    Comparison(
        "xu_huong",
        lambda c: facts_trend(c.indicator_code),
        True,
        lambda rows, c: {
            _month(m): v for m, basis, v in rows if basis == c.as_reported and v is not None
        },
        lambda rows, c: {m: v for m, v in rows if v is not None},
    ),
    Comparison(
        "chi_so",
        lambda c: facts_indicators(),
        False,
        lambda rows, c: {
            name: value for name, value, *_ in rows if name in c.measured and value is not None
        },
        lambda rows, c: {name: value for name, value in rows if value is not None},
    ),
    Comparison(
        "xep_hang",
        lambda c: facts_ranking(c.indicator_code),
        False,
        lambda rows, c: _ranking(rows),
        lambda rows, c: _ranking(rows),
    ),
)


# --- running and timing ----------------------------------------------------------------------


def timed(
    conn: psycopg.Connection, query: sql.Composable, params: Any = None
) -> tuple[float, Rows]:
    start = time.perf_counter()
    rows = conn.execute(query, params).fetchall()  # type: ignore[arg-type]
    return time.perf_counter() - start, rows


Load = dict[str, float]  # query kind → seconds, for one load


@dataclass
class Measured:
    """Every timed load of one dataset SQL, on both sides, and what its answers were."""

    marts: list[Load] = field(default_factory=list)
    facts: list[Load] = field(default_factory=list)
    lists: list[Load] = field(default_factory=list)
    answers: list[dict[str, Rows]] = field(default_factory=list)  # the marts', per load
    different: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0


class Bench:
    """The two connections, and what a dashboard load runs on each side."""

    def __init__(
        self, marts: psycopg.Connection, facts: psycopg.Connection, dashboard: Dashboard,
        months: tuple[date, date],
    ) -> None:  # fmt: skip
        self.marts, self.facts, self.dashboard = marts, facts, dashboard
        self.first, self.last = months

    def marts_load(self, choice: Choice) -> tuple[Load, dict[str, Rows]]:
        seconds, answers = {}, {}
        for chart in self.dashboard.charts:
            query = chart_query(self.dashboard, chart, choice.filters)
            seconds[chart.name], answers[chart.name] = timed(self.marts, query)
        return seconds, answers

    def facts_load(self, choice: Choice) -> tuple[Load, dict[str, Rows]]:
        seconds, answers = {}, {}
        for c in COMPARISONS:
            first, last = (self.first, self.last) if c.whole_history else (choice.month,) * 2
            params = choice.params(first, last)
            seconds[c.chart], answers[c.chart] = timed(self.facts, c.facts(choice), params)
        return seconds, answers

    def filter_lists(self) -> tuple[Load, dict[str, list[str]]]:
        seconds, values = {}, {}
        for f in self.dashboard.filters:
            kind = f"filter:{f.column}"
            seconds[kind], rows = timed(self.marts, filter_values_query(f))
            values[f.column] = [r[0] for r in rows]
        return seconds, values

    def explain(self, choice: Choice) -> None:
        """Print EXPLAIN ANALYZE of every marts query of a load and of the filters' lists."""
        d = self.dashboard
        queries = [
            *((c.name, chart_query(d, c, choice.filters)) for c in d.charts),
            *((f"filter:{f.column}", filter_values_query(f)) for f in d.filters),
        ]
        for name, query in queries:
            explained = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) {}").format(query)
            plan = "\n".join(r[0] for r in self.marts.execute(explained).fetchall())
            print(f"\n--- {name}\n{plan}")


def compare(
    measured: Measured, choice: Choice, marts: dict[str, Rows], facts: dict[str, Rows]
) -> None:
    """The facts' answers against the marts' (COMPARISONS); differences are kept and printed."""
    for c in COMPARISONS:
        want, got = c.marts_answer(marts[c.chart], choice), c.facts_answer(facts[c.chart], choice)
        measured.checked += 1
        if not same(want, got):
            measured.different.append(
                {"chart": c.chart, "filters": choice.filters, "marts": str(want),
                 "facts": str(got)}
            )  # fmt: skip
            print(f"DIFFERENT ANSWERS: {c.chart} {choice.filters}\n  marts: {want}\n  facts: {got}")


def run_loads(bench: Bench, picked: list[Choice]) -> Measured:
    """One load of each side untimed, then for each choice the filters' lists and a load of
    each side, alternating which side goes first; every answer compared."""
    measured = Measured()
    bench.marts_load(picked[0])
    bench.facts_load(picked[0])
    for i, choice in enumerate(picked):
        measured.lists.append(bench.filter_lists()[0])
        if i % 2:
            facts, facts_answers = bench.facts_load(choice)
            marts, marts_answers = bench.marts_load(choice)
        else:
            marts, marts_answers = bench.marts_load(choice)
            facts, facts_answers = bench.facts_load(choice)
        measured.marts.append(marts)
        measured.facts.append(facts)
        measured.answers.append(marts_answers)
        compare(measured, choice, marts_answers, facts_answers)
        print(
            f"load {i + 1}/{len(picked)}: marts {sum(marts.values()) * 1000:.0f} ms,"
            f" facts {sum(facts.values()) * 1000:.0f} ms ({choice.filters['scope_name']},"
            f" {choice.indicator_code}, {choice.calendar}, {choice.filters['month_name']})",
            flush=True,
        )
    return measured


def _canonical(rows: Rows) -> Rows:
    """A result set in a fixed order (the charts' own orders leave ties)."""
    return sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])


def variant_differences(
    reference: Measured, variant: Measured, picked: list[Choice]
) -> list[dict[str, Any]]:
    """The charts whose answers from a variant of the dataset's SQL differ from the
    dataset's own, for the same choices."""
    different = []
    for choice, want, got in zip(picked, reference.answers, variant.answers, strict=True):
        for chart in want:
            if not same(_canonical(want[chart]), _canonical(got[chart])):
                different.append({"chart": chart, "filters": choice.filters})
                print(f"VARIANT ANSWERS DIFFER: {chart} {choice.filters}")
    return different


def quantiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ms[-1], 1),
        "n": len(ms),
    }


def _by_kind(loads: list[Load]) -> dict[str, dict[str, float]]:
    return {kind: quantiles([load[kind] for load in loads]) for kind in loads[0]}


def _median_ms(loads: list[Load], kinds: Iterable[str]) -> float:
    return round(statistics.median(sum(load[k] for k in kinds) for load in loads) * 1000, 1)


def summarise(measured: Measured) -> dict[str, Any]:
    """p50/p95 per query kind on each side, the ratios, the goals."""
    marts, facts = _by_kind(measured.marts), _by_kind(measured.facts)
    both = list(facts)  # the charts answered on both sides
    load_marts = _median_ms(measured.marts, both)
    load_facts = _median_ms(measured.facts, both)
    worst = max(marts, key=lambda k: marts[k]["p95_ms"])
    lists = _by_kind(measured.lists)
    worst_list = max(lists, key=lambda k: lists[k]["p95_ms"])
    return {
        "marts": marts,
        "facts": facts,
        "p95_ratio_facts_over_marts": {
            k: round(facts[k]["p95_ms"] / marts[k]["p95_ms"], 1) for k in both
        },
        "filter_lists": lists,
        "load_median_ms": {
            "marts_all_charts": _median_ms(measured.marts, marts),
            "marts_charts_answered_from_facts": load_marts,
            "facts": load_facts,
        },
        "goals": {
            "marts_p95_under_200_ms": {
                "pass": marts[worst]["p95_ms"] < GOAL_P95_MS,
                "slowest": worst,
                "p95_ms": marts[worst]["p95_ms"],
            },
            "facts_over_marts_at_least_100x": {
                "pass": load_facts / load_marts >= GOAL_RATIO,
                "ratio": round(load_facts / load_marts, 1),
            },
            "filter_lists_p95_under_200_ms": {
                "pass": lists[worst_list]["p95_ms"] < GOAL_P95_MS,
                "slowest": worst_list,
                "p95_ms": lists[worst_list]["p95_ms"],
            },
        },
        "answers_checked": measured.checked,
        "answers_different": measured.different,
    }


def choices(bench: Bench, values: dict[str, list[str]], province: str, count: int) -> list[Choice]:
    """`count` choices of the filters, spread over every scope, measured indicator, calendar
    and a few months across the history (with the month filter's values that are not a month,
    such as its default 'Mới nhất', standing for the latest month), in a fixed pseudo-random
    order."""
    names = dict(
        bench.marts.execute(
            "select indicator_code, indicator_name_vi from marts.dim_indicator"
            " where indicator_code = any(%s)",
            (list(MEASURES),),
        ).fetchall()
    )
    calendars = dict(_distinct(bench, "calendar_name", "calendar"))
    as_reported = dict(_distinct(bench, "basis", "basis_name"))["as_reported"]
    months = _months(values["month_name"])
    dated = sorted(m for m in months if m[0].isdigit())
    step = max(1, (len(dated) - 1) // 5)
    picked = sorted({*dated[::step], dated[-1], *(m for m in months if not m[0].isdigit())})
    combos = list(
        itertools.product(values["scope_name"], sorted(names), values["calendar_name"], picked)
    )
    random.Random(0).shuffle(combos)
    return [
        Choice(
            filters={
                "province_name": province,
                "scope_name": scope,
                "indicator_name_vi": names[code],
                "calendar_name": calendar,
                "month_name": month,
            },
            indicator_code=code,
            calendar=calendars[calendar],
            month=months[month],
            as_reported=as_reported,
            measured=frozenset(names.values()),
        )
        for scope, code, calendar, month in itertools.islice(itertools.cycle(combos), count)
    ]


def _months(values: list[str]) -> dict[str, date]:
    """The month filter's values and the month each stands for: a 'YYYY-MM' its month, any
    other value (the dataset's 'Mới nhất') the latest month."""
    dated = {v: date.fromisoformat(f"{v}-01") for v in values if re.fullmatch(r"\d{4}-\d{2}", v)}
    latest = max(dated.values())
    return {v: dated.get(v, latest) for v in values}


def _distinct(bench: Bench, key: str, value: str) -> Rows:
    """Pairs of two of the dataset's columns (e.g. a calendar's code and its label)."""
    query = sql.SQL("SELECT DISTINCT {}, {} {}").format(
        sql.Identifier(key), sql.Identifier(value), _from(bench.dashboard)
    )
    return bench.marts.execute(query).fetchall()


def measure(urls: Any, args: argparse.Namespace, months: list[date]) -> dict[str, Any]:
    """Time the dashboard's loads on the published marts and the facts (see the docstring),
    with the dataset's SQL and with each variant of it."""
    sqls = {"dataset": load_dashboard(None)}
    sqls.update({str(path): load_dashboard(path) for path in args.variant_sql})
    results: dict[str, Any] = {}
    with (
        psycopg.connect(urls.bi_reader, autocommit=True) as marts,
        psycopg.connect(urls.transformer, autocommit=True) as facts,
    ):
        reference = Bench(marts, facts, sqls["dataset"], (months[0], months[-1]))
        province = marts.execute(
            "select province_name from marts.dim_agency where province_code = %s"
            " order by valid_from desc limit 1",
            (args.province,),
        ).fetchone()[0]  # type: ignore[index]
        picked = choices(reference, reference.filter_lists()[1], province, args.samples)
        measured = {}
        for label, dashboard in sqls.items():
            print(f"\n{label}:", flush=True)
            bench = Bench(marts, facts, dashboard, (months[0], months[-1]))
            if args.explain:
                bench.explain(picked[0])
            measured[label] = run_loads(bench, picked)
            results[label] = summarise(measured[label])
            if label != "dataset":
                results[label]["answers_differ_from_dataset"] = variant_differences(
                    measured["dataset"], measured[label], picked
                )
        return {"province": province, "rows": _rows(marts, facts), "results": results}


def _rows(marts: psycopg.Connection, facts: psycopg.Connection) -> dict[str, int]:
    counted = {
        marts: ("marts.mart_kpi_monthly", "marts.mart_kpi_monthly__revisions",
                "marts.mart_kpi_rollups", "marts.mart_kpi_rollups__revisions",
                "marts.mart_kpi_dashboard"),
        facts: ("audit.fct_dossiers",),
    }  # fmt: skip
    return {
        table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
        for conn, tables in counted.items()
        for table in tables
    }


# --- the warehouse ---------------------------------------------------------------------------


def prepare(warehouse: Warehouse, months: list[date]) -> dict[str, Any]:
    """Pull and build the months, publish each (its gate taken as passed), settle."""
    from chiso.publish.marts import DIMENSIONS
    from chiso.publish.revisions import publish_month
    from chiso.runtime.warehouse import urls

    u = urls(warehouse.settings)
    t = time.perf_counter()
    rows = warehouse.pull(months)
    pulled = time.perf_counter() - t
    built = warehouse.build(full=True)
    t = time.perf_counter()
    # A publication rewrites the published dimensions; in the month before the next one,
    # autovacuum frees the rows it deleted. Published back to back, they would hold every
    # month's dead rows, and each dashboard query reads them through.
    dimensions = sql.SQL(", ").join(sql.Identifier("marts", d) for d in DIMENSIONS)
    with psycopg.connect(u.admin, autocommit=True) as admin:
        for month in months:
            publish_month(u.transformer, month, dbt_invocation_id=None, gate_success=True)
            admin.execute(sql.SQL("vacuum {}").format(dimensions))
    published = time.perf_counter() - t
    warehouse.settle()
    return {
        "rows_pulled": rows,
        "pull_seconds": round(pulled, 1),
        "build_seconds": built["seconds"],
        "publish_seconds": round(published, 1),
    }


def print_summary(label: str, result: dict[str, Any]) -> None:
    print(f"\n{label}")
    print(f"{'query':<26} {'marts p50 / p95 ms':>20} {'facts p50 / p95 ms':>20} {'p95 ratio':>10}")
    for kind, m in {**result["marts"], **result["filter_lists"]}.items():
        f = result["facts"].get(kind)
        facts = f"{f['p50_ms']:.1f} / {f['p95_ms']:.1f}" if f else "-"
        ratio = result["p95_ratio_facts_over_marts"].get(kind)
        marts = f"{m['p50_ms']:.1f} / {m['p95_ms']:.1f}"
        print(f"{kind:<26} {marts:>20} {facts:>20} {'' if ratio is None else f'{ratio:.0f}×':>10}")
    goals, load = result["goals"], result["load_median_ms"]
    p95, ratio = goals["marts_p95_under_200_ms"], goals["facts_over_marts_at_least_100x"]
    lists = goals["filter_lists_p95_under_200_ms"]
    print(
        f"charts from the marts, slowest p95: {p95['slowest']} {p95['p95_ms']:.1f} ms"
        f" (goal < {GOAL_P95_MS:.0f} ms): {_verdict(p95)}"
        f"\na load of the charts answered on both sides, median: marts"
        f" {load['marts_charts_answered_from_facts']:.1f} ms, facts {load['facts']:.1f} ms"
        f" = {ratio['ratio']:.0f}× (goal ≥ {GOAL_RATIO:.0f}×): {_verdict(ratio)}"
        f"\nthe whole dashboard's charts from the marts, median: {load['marts_all_charts']:.1f} ms"
        f"\nthe filters' lists, slowest p95: {lists['slowest']} {lists['p95_ms']:.1f} ms"
        f" (< {GOAL_P95_MS:.0f} ms): {_verdict(lists)}"
        f"\nanswers from the facts compared: {result['answers_checked']},"
        f" different: {len(result['answers_different'])}"
    )
    if "answers_differ_from_dataset" in result:
        print(f"charts answering otherwise than the dataset's SQL:"
              f" {len(result['answers_differ_from_dataset'])}")  # fmt: skip


def _verdict(goal: dict[str, Any]) -> str:
    return "PASS" if goal["pass"] else "FAIL"


def _failed(results: dict[str, Any]) -> bool:
    """Answers that differ: from the facts, or a variant's from the dataset's SQL."""
    return any(
        r["answers_different"] or r.get("answers_differ_from_dataset") for r in results.values()
    )


def main() -> int:
    from chiso_sim.config import SimulatorConfig

    from chiso.runtime.warehouse import urls

    defaults = SimulatorConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--provinces", default="30,31", help="province codes (default Hải Phòng)")
    ap.add_argument("--province", default="31", help="the province the leader picks (its code)")
    ap.add_argument("--first-month", type=date.fromisoformat, default=date(2021, 11, 1))
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument(
        "--dossiers-per-agency-month",
        type=int,
        default=DOSSIERS_PER_AGENCY_MONTH,
        help=f"default {DOSSIERS_PER_AGENCY_MONTH}: see bench/incremental.py",
    )
    ap.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    ap.add_argument("--samples", type=int, default=20, help="timed dashboard loads per side")
    ap.add_argument(
        "--variant-sql",
        type=Path,
        action="append",
        default=[],
        help="also measure this variant of the dataset's SQL (a file; may be repeated)",
    )
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the marts' queries")
    args = ap.parse_args()
    months = months_from(args.first_month, args.months)
    report: dict[str, Any] = {
        **run_header(args, months),
        "dataset": str(DATASET.relative_to(DASHBOARD_DIR.parents[2])),
    }
    warehouse = Warehouse(args, "readers")
    try:
        report["warehouse"] = prepare(warehouse, months)
        report.update(measure(urls(warehouse.settings), args, months))
    finally:
        warehouse.close()
    write_results("readers", report)
    for label, result in report["results"].items():
        print_summary(label, result)
    return 1 if _failed(report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
