"""The write-audit-publish gate: validate one month with Great Expectations before publishing.

dbt builds ``staging`` and ``audit``; only when this gate passes may the monthly KPI mart be
copied into ``marts`` (the schema BI tools read). The gate therefore answers one question for one
month — "is it safe to publish?" — and, when it is not, says which expectation failed and shows a
few offending rows so an operator can act without opening GX's HTML docs.

Design choices, and why:

- The suites live as JSON files in ``expectations/`` so they are reviewed like code; the values
  that change every month (valid agency codes, indicator catalogue, expected row count) are GX
  suite parameters (``{"$PARAMETER": ...}``) supplied at run time.
- Each suite's JSON ``meta`` names the table and its month column; the gate validates a GX *query
  asset* ``SELECT * FROM <table> WHERE <month column> = DATE '<month>'`` so the month filter runs in
  PostgreSQL (GX wraps the query as a sub-select and computes every metric in SQL; nothing is
  loaded into pandas), and other months — good or bad — cannot influence the verdict.
  GX quirk: to learn a query asset's column names GX 1.24 runs the query once *unwrapped* (no
  LIMIT), so one month's rows of each table cross the wire once per run. Acceptable at our
  volumes (one province-month); a server-side cursor (``stream_results``) would avoid it but
  breaks GX's own metric queries ("cursor does not exist"), so it is deliberately not used.
- The GX context is ephemeral: nothing is written to disk, and every call starts from the files.
- Sample rows are fetched with a plain SQL query per failing expectation rather than through GX's
  ``unexpected_index_list`` — that needs per-suite index columns, does not cover every expectation
  type and can materialise every unexpected row.
- ``great_expectations`` is imported lazily: Airflow parses the DAG files that import this module
  every few seconds, and importing GX costs seconds and pulls in pandas, SQLAlchemy and more.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chiso.config import EXPECTATIONS_DIR

if TYPE_CHECKING:  # pragma: no cover - typing only
    from psycopg import sql as pg_sql

log = logging.getLogger(__name__)

SUITE_FILES = ("one_stop_staging.json", "kpi_monthly.json", "kpi_monthly_rates.json")
SAMPLE_LIMIT = 5
SAMPLE_TIMEOUT_MS = 30_000

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
# Columns worth showing in the one-line summary when present in a sample row, besides the ones
# the expectation is about: they identify the row for a human.
_KEY_COLUMNS = ("dossier_id", "agency_code", "agency_name", "indicator_code")


class GateConfigError(RuntimeError):
    """A suite file is malformed: the gate refuses to run rather than silently check less."""


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation, with enough context to fix the data without re-running GX."""

    suite: str
    expectation_type: str
    column: str | None
    kwargs: dict
    observed: object
    sample_rows: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        """One line: which check failed, what GX observed and one offending row."""
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items() if k != "column")
        params = ", ".join(p for p in (self.column or "", args) if p)
        line = f"[{self.suite}] {self.expectation_type}({params})"
        line += f" — observed: {_format_observed(self.observed)}"
        if self.sample_rows:
            line += f"; e.g. {_format_row(self.sample_rows[0], self._involved_columns())}"
            if len(self.sample_rows) > 1:
                line += f" (+{len(self.sample_rows) - 1} more sample rows)"
        return line

    def _involved_columns(self) -> list[str]:
        cols = [self.column] if self.column else []
        for key in ("column_A", "column_B"):
            if isinstance(self.kwargs.get(key), str):
                cols.append(self.kwargs[key])
        cols.extend(c for c in self.kwargs.get("column_list") or [] if isinstance(c, str))
        return cols


@dataclass(frozen=True)
class GateResult:
    """The verdict for one month: publish only when ``success`` is True."""

    month: date
    success: bool
    failures: list[ExpectationFailure]
    evaluated: int  # number of expectations evaluated, over all suites

    def summary(self) -> str:
        """Human-readable verdict: a headline, then one line per failed expectation."""
        head = f"Quality gate {self.month:%Y-%m}: "
        if self.success:
            return head + f"PASSED ({self.evaluated} expectations)"
        lines = [head + f"FAILED ({len(self.failures)} of {self.evaluated} expectations failed)"]
        lines.extend("  ✗ " + f.describe() for f in self.failures)
        return "\n".join(lines)


@dataclass(frozen=True)
class _SuiteSpec:
    """A suite file plus the table slice it validates."""

    name: str
    schema: str
    table: str
    month_column: str
    document: dict[str, Any]
    # meta.filter: {column: value} equalities narrowing the slice (e.g. unit = 'ratio')
    row_filter: tuple[tuple[str, str], ...] = ()

    def batch_query(self, month: date) -> str:
        # Identifiers and filter values were checked against _IDENT and the month is a `date`:
        # no injection surface.
        where = [f"\"{self.month_column}\" = DATE '{month.isoformat()}'"]
        where += [f"\"{column}\" = '{value}'" for column, value in self.row_filter]
        return f'SELECT * FROM "{self.schema}"."{self.table}" WHERE ' + " AND ".join(where)


# -- public API -----------------------------------------------------------------------------------


def validate_month(
    url: str,
    month: date,
    *,
    valid_agency_codes: list[str],
    indicator_codes: list[str],
    expected_rows: int,
) -> GateResult:
    """Validate the staging dossiers and the audit KPI mart of ``month`` (any day of it).

    ``url`` is a plain libpq URL with a host (GX's Postgres datasource rejects host-less URLs).
    The parameters are the month-dependent facts the suites compare against: agency codes valid
    that month, the indicator catalogue and ``active agencies x indicators``.

    Bad data returns ``success=False`` with one failure per broken expectation. An expectation GX
    could not evaluate (table or column missing) is a failure too, with ``observed={"error": ...}``:
    the gate fails closed. Malformed suite files raise GateConfigError.
    """
    month = month.replace(day=1)
    specs = load_suite_specs()
    params: dict[str, Any] = {
        "valid_agency_codes": list(valid_agency_codes),
        "indicator_codes": list(indicator_codes),
        "expected_rows": int(expected_rows),
    }
    results = _run_gx(url, month, specs, params)

    failures: list[ExpectationFailure] = []
    evaluated = 0
    for spec, suite_results in results:
        for res in suite_results:
            evaluated += 1
            if res.success:
                continue
            failures.append(_failure(url, month, spec, res, params))
    return GateResult(month=month, success=not failures, failures=failures, evaluated=evaluated)


def load_suite_specs(directory: Path | None = None) -> list[_SuiteSpec]:
    """Read and sanity-check the suite files (no GX needed, so tests and CI can lint them)."""
    directory = directory or EXPECTATIONS_DIR
    specs = []
    for filename in SUITE_FILES:
        path = directory / filename
        doc = json.loads(path.read_text(encoding="utf-8"))
        meta = doc.get("meta") or {}
        qualified = str(meta.get("table", ""))
        schema, _, table = qualified.partition(".")
        month_column = str(meta.get("month_column", ""))
        if not (_IDENT.match(schema) and _IDENT.match(table) and _IDENT.match(month_column)):
            raise GateConfigError(
                f"{path}: meta.table / meta.month_column missing or not plain identifiers"
            )
        if not doc.get("name") or not doc.get("expectations"):
            raise GateConfigError(f"{path}: a suite needs a name and at least one expectation")
        row_filter = tuple((str(k), str(v)) for k, v in (meta.get("filter") or {}).items())
        if not all(_IDENT.match(k) and _IDENT.match(v) for k, v in row_filter):
            raise GateConfigError(f"{path}: meta.filter must map plain identifiers to plain words")
        specs.append(_SuiteSpec(doc["name"], schema, table, month_column, doc, row_filter))
    return specs


# -- Great Expectations ---------------------------------------------------------------------------


def _quiet_gx() -> None:
    """No analytics calls home, no INFO chatter in Airflow task logs (tqdm bars: see _run_gx).

    Called before *and* after importing GX: some GX modules pin their own logger to INFO at import
    time (``data_context.types.base`` does), which overrides the parent's WARNING.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith("great_expectations.")
            and isinstance(logger, logging.Logger)
            and logger.level != logging.NOTSET
            and logger.level < logging.WARNING
        ):
            logger.setLevel(logging.WARNING)


def _run_gx(
    url: str, month: date, specs: list[_SuiteSpec], params: dict[str, Any]
) -> list[tuple[_SuiteSpec, Any]]:
    """Run all suites in one Checkpoint over an ephemeral context.

    Returns each suite's expectation results, suites and expectations in file order.
    """
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from chiso.db.bootstrap import sqlalchemy_url

    _quiet_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_postgres(
        name="warehouse", connection_string=sqlalchemy_url(url)
    )

    validation_definitions = []
    file_order: dict[str, int] = {}  # expectation id -> position in its file
    for spec in specs:
        suite = gx.ExpectationSuite(**spec.document)
        if len(suite.expectations) != len(spec.document["expectations"]):
            # GX logs and *drops* an expectation whose configuration it cannot parse; a gate that
            # quietly checks less than its file says is worse than one that does not run.
            raise GateConfigError(
                f"suite {spec.name}: GX accepted {len(suite.expectations)} of "
                f"{len(spec.document['expectations'])} expectations; see the GX error above"
            )
        suite = context.suites.add(suite)
        file_order.update({str(e.id): i for i, e in enumerate(suite.expectations)})
        asset = datasource.add_query_asset(
            name=f"{spec.name}_{month:%Y_%m}", query=spec.batch_query(month)
        )
        batch_definition = asset.add_batch_definition_whole_table(name="month")
        validation_definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
            )
        )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"kpi_gate_{month:%Y_%m}",
            validation_definitions=validation_definitions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_LIMIT},
        )
    )
    outcome = checkpoint.run(expectation_parameters=params)

    by_suite = {r.suite_name: r for r in outcome.run_results.values()}
    missing = [s.name for s in specs if s.name not in by_suite]
    if missing:
        raise RuntimeError(f"GX returned no result for suite(s) {missing}")
    # GX returns results in its own order; report them in the order of the reviewed files.
    return [
        (
            spec,
            sorted(
                by_suite[spec.name].results,
                key=lambda r: file_order.get(str(r.expectation_config.id), len(file_order)),
            ),
        )
        for spec in specs
    ]


def _failure(
    url: str, month: date, spec: _SuiteSpec, res: Any, params: Mapping[str, Any]
) -> ExpectationFailure:
    config = res.expectation_config
    kwargs = {k: _resolve(v, params) for k, v in dict(config.kwargs).items() if k != "batch_id"}
    result = dict(res.result or {})
    errors = _error_messages(res.exception_info)
    if errors:
        # Not evaluated (missing table or column, SQL error): still a failure — the gate fails
        # closed — but reported as an error, never as a data finding, and without samples.
        observed: object = {"error": "; ".join(errors)}
    elif "observed_value" in result:
        observed = result["observed_value"]
    else:
        observed = {
            k: result[k]
            for k in ("unexpected_count", "unexpected_percent", "partial_unexpected_list")
            if k in result
        }
    column = kwargs.get("column")
    return ExpectationFailure(
        suite=spec.name,
        expectation_type=config.type,
        column=column if isinstance(column, str) else None,
        kwargs=kwargs,
        observed=observed,
        sample_rows=[] if errors else _sample_rows(url, month, spec, config.type, kwargs),
    )


def _error_messages(exception_info: object) -> list[str]:
    """Messages of metrics GX failed to compute.

    GX 1.x reports them as ``{str(MetricConfigurationID): {"raised_exception": ..., ...}}``;
    older paths use one flat dict. Both are accepted; the messages are de-duplicated because one
    missing column breaks several metrics of the same expectation.
    """
    if not isinstance(exception_info, Mapping):
        return []
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, Mapping))]
    messages = [
        _first_line(str(info.get("exception_message") or "unknown error"))
        for info in infos
        if info.get("raised_exception")
    ]
    return list(dict.fromkeys(messages))


def _first_line(message: str, limit: int = 300) -> str:
    """SQLAlchemy errors span several lines (SQL, caret, link): keep the cause, on one line."""
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), message)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    """Substitute ``{"$PARAMETER": name}`` so failures show the values actually checked."""
    if isinstance(value, Mapping) and set(value) == {"$PARAMETER"}:
        return params.get(value["$PARAMETER"], value)
    return value


# -- sample rows ----------------------------------------------------------------------------------


def _offending_predicate(
    expectation_type: str, kwargs: Mapping[str, Any]
) -> tuple[pg_sql.Composable, list[Any], list[str]] | None:
    """SQL (over the CTE ``batch``) selecting the rows that break an expectation, its parameters
    and the columns to order by; None for table-level expectations, which have no offending row."""
    from psycopg import sql

    def ident(name: str) -> sql.Identifier:
        return sql.Identifier(name)

    column = kwargs.get("column")
    if expectation_type == "expect_column_values_to_not_be_null":
        return sql.SQL("{} IS NULL").format(ident(column)), [], []
    if expectation_type == "expect_column_values_to_be_unique":
        c = ident(column)
        stmt = sql.SQL("{c} IN (SELECT {c} FROM batch GROUP BY {c} HAVING count(*) > 1)")
        return stmt.format(c=c), [], [column]
    if expectation_type == "expect_column_values_to_be_in_set":
        value_set = kwargs.get("value_set")
        if not isinstance(value_set, list | tuple | set):
            return None
        # Compare as text: the set may mix types with the column's (ints vs smallint, ...).
        stmt = sql.SQL("{c} IS NOT NULL AND NOT ({c}::text = ANY(%s::text[]))").format(
            c=ident(column)
        )
        return stmt, [[str(v) for v in value_set]], [column]
    if expectation_type == "expect_column_values_to_be_between":
        c = ident(column)
        parts: list[sql.Composable] = []
        args: list[Any] = []
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is not None:
            parts.append(sql.SQL("{} <= %s" if kwargs.get("strict_min") else "{} < %s").format(c))
            args.append(low)
        if high is not None:
            parts.append(sql.SQL("{} >= %s" if kwargs.get("strict_max") else "{} > %s").format(c))
            args.append(high)
        if not parts:
            return None
        return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)), args, [column]
    if expectation_type == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kwargs["column_A"], kwargs["column_B"]
        op = sql.SQL(">=" if kwargs.get("or_equal") else ">")
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        keep = {
            "either_value_is_missing": "{a} IS NOT NULL AND {b} IS NOT NULL AND ",
            "both_values_are_missing": "({a} IS NOT NULL OR {b} IS NOT NULL) AND ",
        }.get(ignore, "")
        stmt = sql.SQL(keep + "NOT coalesce({a} {op} {b}, false)").format(
            a=ident(a), b=ident(b), op=op
        )
        return stmt, [], [a, b]
    if expectation_type == "expect_compound_columns_to_be_unique":
        cols = sql.SQL(", ").join(ident(c) for c in kwargs["column_list"])
        stmt = sql.SQL("({cols}) IN (SELECT {cols} FROM batch GROUP BY {cols} HAVING count(*) > 1)")
        return stmt.format(cols=cols), [], list(kwargs["column_list"])
    return None


def _sample_rows(
    url: str, month: date, spec: _SuiteSpec, expectation_type: str, kwargs: Mapping[str, Any]
) -> list[dict]:
    """Up to SAMPLE_LIMIT rows of the validated month breaking the expectation.

    Best effort: samples are for humans, so a failure here is logged and never hides the verdict.
    """
    try:
        predicate = _offending_predicate(expectation_type, kwargs)
    except (KeyError, TypeError):
        return []
    if predicate is None:
        return []
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    where, args, order = predicate
    stmt = sql.SQL(
        "WITH batch AS ({base}) SELECT * FROM batch WHERE {where}{order} LIMIT {limit}"
    ).format(
        # sql.SQL wants a literal string; this one is built from checked identifiers and a date.
        base=sql.SQL(spec.batch_query(month)),  # type: ignore[arg-type]
        where=where,
        order=sql.SQL(" ORDER BY ") + sql.SQL(", ").join(sql.Identifier(c) for c in order)
        if order
        else sql.SQL(""),
        limit=sql.Literal(SAMPLE_LIMIT),
    )
    try:
        with psycopg.connect(
            url,
            autocommit=True,
            row_factory=dict_row,
            options=f"-c statement_timeout={SAMPLE_TIMEOUT_MS}",
        ) as conn:
            return [dict(r) for r in conn.execute(stmt, args).fetchall()]
    except psycopg.Error as exc:
        log.warning("could not fetch sample rows for %s %s: %s", spec.name, expectation_type, exc)
        return []


# -- formatting -----------------------------------------------------------------------------------


def _short(value: Any, limit: int = 8) -> str:
    if isinstance(value, list | tuple | set) and len(value) > limit:
        return f"<{len(value)} values>"
    return repr(value)


def _format_observed(observed: object) -> str:
    if isinstance(observed, Mapping) and "error" in observed:
        return f"NOT EVALUATED: {observed['error']}"
    if isinstance(observed, Mapping) and "unexpected_count" in observed:
        text = f"{observed['unexpected_count']} unexpected"
        pct = observed.get("unexpected_percent")
        if isinstance(pct, int | float):
            text += f" ({pct:.2f}%)"
        values = list(observed.get("partial_unexpected_list") or [])[:SAMPLE_LIMIT]
        if values:
            text += " e.g. [" + ", ".join(_value(v) for v in values) + "]"
        return text
    return repr(observed)


def _format_row(row: Mapping[str, Any], involved: Iterable[str]) -> str:
    """The identifying and involved columns of a row; str() keeps Vietnamese text readable."""
    wanted = [c for c in (*_KEY_COLUMNS, *involved) if c in row]
    columns = list(dict.fromkeys(wanted)) or list(row)[:6]
    return "{" + ", ".join(f"{c}: {_value(row[c])}" for c in columns) + "}"


def _value(value: Any) -> str:
    """SQL-ish rendering: readable dates and decimals, unescaped Vietnamese, null for None."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)
