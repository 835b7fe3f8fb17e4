"""The write-audit-publish gate: validate one month with Great Expectations before publishing.

dbt builds ``staging`` and ``audit``; only when this gate passes may the monthly KPI mart be
copied into ``marts`` (the schema BI tools read). The gate therefore answers one question for one
month — "is it safe to publish?" — and, when it is not, says which expectation failed and shows a
few offending rows so an operator can act without opening GX's HTML docs.

Design choices, and why:

- The suites live as JSON files in ``expectations/<layer>/`` (raw, staging, kpi) so they are
  reviewed like code (chiso/quality/specs.py reads them); the values that change every month
  (valid agency codes, indicator catalogue, expected row count) and the tunable bounds of
  ``expectations/parameters.json`` are GX suite parameters (``{"$PARAMETER": ...}``).
- Each suite's JSON ``meta`` names the table and its month column (or a query); the gate
  validates a GX *query asset* ``SELECT * FROM <table> WHERE <month column> = DATE '<month>'``
  so the month filter runs in PostgreSQL (GX wraps the query as a sub-select and computes every
  metric in SQL; nothing is loaded into pandas), and other months — good or bad — cannot
  influence the verdict. Checks no built-in expectation states (an agency code valid on the
  record's date, completeness of the agency × indicator grid, reconciliations) are GX
  ``unexpected_rows_expectation``s: SQL over ``{batch}`` returning the offending rows.
- After each run GX renders its Data Docs (static HTML) for the month into the docs site
  (``data_docs_dir``), so the latest validation of every month can be browsed.
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

import copy
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chiso.quality.specs import (
    GateConfigError,
    SuiteSpec,
    load_parameters,
    load_suite_specs,
    render,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from psycopg import sql as pg_sql

log = logging.getLogger(__name__)

SAMPLE_LIMIT = 5
SAMPLE_TIMEOUT_MS = 30_000

# Columns worth showing in the one-line summary when present in a sample row, besides the ones
# the expectation is about: they identify the row for a human.
_KEY_COLUMNS = (
    "delivery", "row_number", "field", "value", "dossier_id", "calendar", "agency_code",
    "agency_name", "indicator_code",
)  # fmt: skip
# SQL kwargs are shown by the expectation's description, not by their text.
_HIDDEN_KWARGS = ("column", "unexpected_rows_query")


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation, with enough context to fix the data without re-running GX."""

    suite: str
    expectation_type: str
    column: str | None
    kwargs: dict
    observed: object
    sample_rows: list[dict] = field(default_factory=list)
    description: str | None = None

    def describe(self) -> str:
        """One line: which check failed, what GX observed and one offending row."""
        args = ", ".join(
            f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in _HIDDEN_KWARGS
        )
        params = ", ".join(p for p in (self.column or "", args) if p)
        line = f"[{self.suite}] {self.expectation_type}({params})"
        if self.description:
            line += f" «{self.description}»"
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
    """The verdict for one month: publish only when ``success`` is True.

    ``warnings`` are the unmet expectations a suite marks ``"severity": "warning"`` (or
    ``"info"``): findings an operator must see, with their numbers, that do not stop the
    month (e.g. a summary report that does not add up: expectations/kpi/
    kpi_aggregate_reports.json). A warning expectation GX could not evaluate is a failure:
    the gate fails closed whatever the severity."""

    month: date
    success: bool
    failures: list[ExpectationFailure]
    evaluated: int  # number of expectations evaluated, over all suites
    data_docs: Path | None = None  # GX Data Docs of this validation, when rendered
    warnings: list[ExpectationFailure] = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable verdict: a headline, then one line per failed expectation and one
        per warning."""
        head = f"Quality gate {self.month:%Y-%m}: "
        noted = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        if self.success:
            lines = [head + f"PASSED ({self.evaluated} expectations{noted})"]
        else:
            failed = f"{len(self.failures)} of {self.evaluated} expectations failed"
            lines = [head + f"FAILED ({failed}{noted})"]
        lines.extend("  ✗ " + f.describe() for f in self.failures)
        lines.extend("  ! " + w.describe() for w in self.warnings)
        return "\n".join(lines)


# -- public API -----------------------------------------------------------------------------------


def validate_month(
    url: str,
    month: date,
    *,
    valid_agency_codes: list[str],
    indicator_codes: list[str],
    expected_rows: int,
    expectations_dir: Path | None = None,
    data_docs_dir: Path | None = None,
    parameters_file: Path | None = None,
) -> GateResult:
    """Validate every suite (raw, staging, KPI) on ``month`` (any day of it).

    ``url`` is a plain libpq URL with a host (GX's Postgres datasource rejects host-less URLs).
    The parameters are the month-dependent facts the suites compare against: agency codes valid
    that month, the indicator catalogue and ``active agencies x indicators``; the tunable
    bounds come from ``expectations/parameters.json``, the deployment's ``parameters_file``
    and CHISO_GATE_* overrides (chiso/quality/specs.py). With
    ``data_docs_dir``, GX's Data Docs of this validation are written to ``<dir>/<YYYY-MM>/``.

    Bad data returns ``success=False`` with one failure per broken expectation. An expectation GX
    could not evaluate (table or column missing) is a failure too, with ``observed={"error": ...}``:
    the gate fails closed. Malformed suite files raise GateConfigError.
    """
    month = month.replace(day=1)
    specs = load_suite_specs(expectations_dir)
    params: dict[str, Any] = {
        **load_parameters(expectations_dir, parameters_file),
        "valid_agency_codes": list(valid_agency_codes),
        "indicator_codes": list(indicator_codes),
        "expected_rows": int(expected_rows),
    }
    docs = data_docs_dir / f"{month:%Y-%m}" if data_docs_dir else None
    results = _run_gx(url, month, specs, params, docs)

    failures: list[ExpectationFailure] = []
    warnings: list[ExpectationFailure] = []
    evaluated = 0
    for spec, suite_results in results:
        for res in suite_results:
            evaluated += 1
            if res.success:
                continue
            found = _failure(url, month, spec, res, params)
            # not evaluated (missing table, SQL error): a failure whatever the severity
            if is_warning(res) and not _error_messages(res.exception_info):
                warnings.append(found)
            else:
                failures.append(found)
    index = docs / "index.html" if docs and (docs / "index.html").exists() else None
    return GateResult(
        month=month,
        success=not failures,
        failures=failures,
        evaluated=evaluated,
        data_docs=index,
        warnings=warnings,
    )


def is_warning(res: Any) -> bool:
    """The expectation's suite marks it "severity": "warning" or "info" (GX 1.x)."""
    severity = getattr(res.expectation_config, "severity", None)
    return str(getattr(severity, "value", severity) or "critical") in ("warning", "info")


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


def import_gx() -> None:
    """Import GX and what the gate's context needs, quietly (no analytics, no INFO chatter).

    The gate imports it lazily on its first run (a few CPU seconds). The Airflow processes
    that fork task processes call this once at start (chiso/orchestration/task_host.py), so
    every validation task they fork starts with GX loaded.
    """
    _quiet_gx()
    import great_expectations  # noqa: F401  (loaded for the forked task processes)
    from great_expectations.data_context.types import base  # noqa: F401  (_run_gx's configs)

    _quiet_gx()


def _rendered(spec: SuiteSpec, month: date, params: dict[str, Any]) -> dict[str, Any]:
    """The suite document with the month and parameters written into its SQL expectations."""
    document = copy.deepcopy(spec.document)
    for expectation in document["expectations"]:
        kwargs = expectation.get("kwargs") or {}
        if isinstance(kwargs.get("unexpected_rows_query"), str):
            kwargs["unexpected_rows_query"] = render(kwargs["unexpected_rows_query"], month, params)
    return document


def gx_suite(spec: SuiteSpec, month: date, params: dict[str, Any]) -> Any:
    """The GX ExpectationSuite of a suite file for the month; GateConfigError when GX would
    not take every expectation of the file."""
    _quiet_gx()
    import great_expectations as gx

    suite = gx.ExpectationSuite(**_rendered(spec, month, params))
    if len(suite.expectations) != len(spec.document["expectations"]):
        # GX logs and *drops* an expectation whose configuration it cannot parse; a gate that
        # quietly checks less than its file says is worse than one that does not run.
        raise GateConfigError(
            f"suite {spec.name}: GX accepted {len(suite.expectations)} of "
            f"{len(spec.document['expectations'])} expectations; see the GX error above"
        )
    return suite


def _run_gx(
    url: str,
    month: date,
    specs: list[SuiteSpec],
    params: dict[str, Any],
    data_docs: Path | None = None,
) -> list[tuple[SuiteSpec, Any]]:
    """Run all suites in one Checkpoint over an ephemeral context (no GX state on disk but
    the Data Docs, when asked for).

    Returns each suite's expectation results, suites and expectations in file order.
    """
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from chiso.runtime.warehouse import sqlalchemy_url

    _quiet_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_postgres(
        name="warehouse", connection_string=sqlalchemy_url(url)
    )

    validation_definitions = []
    file_order: dict[str, int] = {}  # expectation id -> position in its file
    for spec in specs:
        suite = context.suites.add(gx_suite(spec, month, params))
        file_order.update({str(e.id): i for i, e in enumerate(suite.expectations)})
        asset = datasource.add_query_asset(
            name=f"{spec.name}_{month:%Y_%m}", query=spec.batch_query(month, params)
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
    if data_docs is not None:
        _build_data_docs(context, data_docs)

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


def _build_data_docs(context: Any, directory: Path) -> None:
    """Render GX's Data Docs of this run (index, suites, validation results) into `directory`,
    replacing the month's previous ones: the docs site shows each month's latest validation."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    site = "chiso"
    context.add_data_docs_site(
        site_name=site,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(directory),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    context.build_data_docs(site_names=[site])


def _failure(
    url: str, month: date, spec: SuiteSpec, res: Any, params: Mapping[str, Any]
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
        sample_rows=[] if errors else _sample_rows(url, month, spec, config.type, kwargs, params),
        description=getattr(config, "description", None),
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
    url: str,
    month: date,
    spec: SuiteSpec,
    expectation_type: str,
    kwargs: Mapping[str, Any],
    params: Mapping[str, Any],
) -> list[dict]:
    """Up to SAMPLE_LIMIT rows of the validated month breaking the expectation.

    Best effort: samples are for humans, so a failure here is logged and never hides the verdict.
    Only the suite's `sample_columns` are shown when it names them (raw holds personal data).
    """
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    base = spec.batch_query(month, dict(params))
    args: list[Any] = []
    if expectation_type == "unexpected_rows_expectation":
        query = str(kwargs.get("unexpected_rows_query") or "")
        if not query:
            return []
        # the query already holds the month and parameters (rendered with the suite)
        inner = query.replace("{batch}", f"({base})")
        stmt: sql.Composable = sql.SQL("SELECT * FROM ({inner}) AS offending LIMIT {limit}").format(
            inner=sql.SQL(inner),  # type: ignore[arg-type]
            limit=sql.Literal(SAMPLE_LIMIT),
        )
    else:
        try:
            predicate = _offending_predicate(expectation_type, kwargs)
        except (KeyError, TypeError):
            return []
        if predicate is None:
            return []
        where, args, order = predicate
        columns = (
            sql.SQL(", ").join(sql.Identifier(c) for c in spec.sample_columns)
            if spec.sample_columns
            else sql.SQL("*")
        )
        stmt = sql.SQL(
            "WITH batch AS ({base}) SELECT {columns} FROM batch WHERE {where}{order} LIMIT {limit}"
        ).format(
            # sql.SQL wants a literal string; this one is built from checked identifiers and a date.
            base=sql.SQL(base),  # type: ignore[arg-type]
            columns=columns,
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
            rows = [dict(r) for r in conn.execute(stmt, args).fetchall()]
    except psycopg.Error as exc:
        log.warning("could not fetch sample rows for %s %s: %s", spec.name, expectation_type, exc)
        return []
    return _only_sample_columns(rows, spec.sample_columns)


def _only_sample_columns(rows: list[dict], sample_columns: tuple[str, ...] | None) -> list[dict]:
    """A custom query's rows cut to the suite's `sample_columns` (`staged.*` would otherwise
    keep hashed person keys and free text in ops.gate_results). A row with none of them is
    a query's own aggregate (a reconciliation total), kept whole."""
    if not sample_columns:
        return rows
    kept = []
    for row in rows:
        cut = {c: row[c] for c in sample_columns if c in row}
        kept.append(cut or row)
    return kept


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
