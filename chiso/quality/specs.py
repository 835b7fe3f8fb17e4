"""The gate's suite files: where they are, what slice of which table each validates, and the
values the suites take as parameters. Plain Python (no GX), so tests and lint read them cheaply.

Suites live in ``expectations/<layer>/*.json`` (layers ``raw``, ``staging``, ``kpi``, validated in
that order). Each is a GX 1.x ``ExpectationSuite`` document whose ``meta`` says what it validates:

- ``table`` and ``month_column`` (and optionally ``filter``, equalities on plain words): the batch
  is ``SELECT * FROM <table> WHERE <month_column> = DATE '<month>' [AND col = 'word' …]``; or
- ``query``: a SELECT over the warehouse for derived batches (volume against the previous
  month), with the placeholders below.

Placeholders, in ``query`` and in an ``unexpected_rows_expectation``'s ``unexpected_rows_query``
(GX's own ``{batch}`` is left for GX): ``{month}``, ``{previous_month}``, ``{next_month}`` (DATE
literals) and ``{param:<name>}`` (a number from the parameters). Every value substituted is a
``date`` or a checked number, never free text, so the SQL has no injection surface.

Parameters: ``expectations/parameters.json`` holds the reviewed defaults (volume bounds …);
``CHISO_GATE_<NAME>`` in the environment overrides one for a deployment (an Airflow worker's
environment, a shell). The caller adds the month's facts (valid agencies, expected rows).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from chiso.core.config import EXPECTATIONS_DIR
from chiso.core.months import next_month, previous_month

LAYERS = ("raw", "staging", "kpi")
PARAMETERS_FILE = "parameters.json"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{(month|previous_month|next_month|param:[a-z_][a-z0-9_]*)\}")


class GateConfigError(RuntimeError):
    """A suite or parameter file is malformed: the gate refuses to run rather than check less."""


@dataclass(frozen=True)
class SuiteSpec:
    """A suite file plus the slice of the warehouse it validates."""

    name: str
    layer: str
    path: Path
    document: dict[str, Any]
    table: str | None = None  # schema.table
    month_column: str | None = None
    row_filter: tuple[tuple[str, str], ...] = ()
    query: str | None = None
    # Columns shown in sample rows (raw keeps personal data: its suites show only the fields
    # they check, the row number and the delivery). None: every column.
    sample_columns: tuple[str, ...] | None = None

    def batch_query(self, month: date, params: dict[str, Any]) -> str:
        if self.query is not None:
            # GX accepts a query asset only when it starts with SELECT (not WITH)
            return f"SELECT * FROM ({render(self.query, month, params)}) AS derived"
        schema, table = (self.table or "").split(".")
        where = [f"\"{self.month_column}\" = DATE '{month.isoformat()}'"]
        where += [f"\"{column}\" = '{value}'" for column, value in self.row_filter]
        return f'SELECT * FROM "{schema}"."{table}" WHERE ' + " AND ".join(where)


def month_literals(month: date) -> dict[str, str]:
    previous, following = previous_month(month), next_month(month)
    return {
        "month": f"DATE '{month.isoformat()}'",
        "previous_month": f"DATE '{previous.isoformat()}'",
        "next_month": f"DATE '{following.isoformat()}'",
    }


def render(text: str, month: date, params: dict[str, Any]) -> str:
    """Substitute the placeholders (module docstring); unknown ones raise GateConfigError."""
    literals = month_literals(month)

    def substitute(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("param:"):
            name = token.removeprefix("param:")
            value = params.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise GateConfigError(f"placeholder {{{token}}}: parameter {name!r} is no number")
            return repr(value)
        return literals[token]

    return _PLACEHOLDER.sub(substitute, text)


def load_parameters(
    directory: Path | None = None, overrides_file: Path | None = None
) -> dict[str, Any]:
    """The reviewed defaults of ``expectations/parameters.json``, then the deployment's own
    values (``overrides_file``: ``<home>/gate-parameters.json``, a JSON object of name → value,
    read at every validation, so a change needs no restart), then ``CHISO_GATE_<NAME>``
    environment variables."""
    path = (directory or EXPECTATIONS_DIR) / PARAMETERS_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    params = {k: v["value"] for k, v in doc.items()}
    if overrides_file is not None and overrides_file.exists():
        params.update(_overrides(overrides_file, params))
    for name, default in list(params.items()):
        raw = os.environ.get(f"CHISO_GATE_{name.upper()}")
        if raw is None:
            continue
        try:
            params[name] = type(default)(raw)
        except ValueError as exc:
            raise GateConfigError(
                f"CHISO_GATE_{name.upper()}={raw!r}: expected a {type(default).__name__}"
            ) from exc
    _check_parameters(params)
    return params


def _overrides(path: Path, defaults: dict[str, Any]) -> dict[str, Any]:
    """The deployment's values, each a known parameter of the default's type."""
    try:
        values = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise GateConfigError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(values, dict):
        raise GateConfigError(f"{path}: expected a JSON object of parameter → value")
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults))
        raise GateConfigError(f"{path}: unknown gate parameter(s) {unknown} (known: {known})")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GateConfigError(f"{path}: {name} = {value!r}: expected a number")
        out[name] = type(defaults[name])(value)
    return out


def _check_parameters(params: dict[str, Any]) -> None:
    """Finite numbers, each `<x>_min` ≤ its `<x>_max`: a wrong override must say so, not make
    every month fail (min > max) or break the SQL (inf, nan)."""
    for name, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise GateConfigError(f"gate parameter {name} = {value!r}: expected a finite number")
        if name.endswith("_min") and f"{name[:-4]}_max" in params:
            top = params[f"{name[:-4]}_max"]
            if value > top:
                raise GateConfigError(
                    f"gate parameters: {name} = {value!r} is above {name[:-4]}_max = {top!r}"
                )


def load_suite_specs(
    directory: Path | None = None, layers: tuple[str, ...] = LAYERS
) -> list[SuiteSpec]:
    """Read and sanity-check every suite file, layer by layer, files in name order: the
    gate's layers, or others (``reference``: the reference files' candidates)."""
    directory = directory or EXPECTATIONS_DIR
    specs = []
    for layer in layers:
        for path in sorted((directory / layer).glob("*.json")):
            specs.append(_spec(path, layer))
    if not specs:
        raise GateConfigError(f"no suite files under {directory}/{{{','.join(layers)}}}/")
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise GateConfigError(f"suite names must be unique; repeated: {duplicated}")
    return specs


def _spec(path: Path, layer: str) -> SuiteSpec:
    doc = json.loads(path.read_text(encoding="utf-8"))
    meta = doc.get("meta") or {}
    if not doc.get("name") or not doc.get("expectations"):
        raise GateConfigError(f"{path}: a suite needs a name and at least one expectation")
    sample_columns = meta.get("sample_columns")
    if sample_columns is not None and not all(_IDENT.match(str(c)) for c in sample_columns):
        raise GateConfigError(f"{path}: meta.sample_columns must be plain identifiers")
    common = {
        "name": doc["name"],
        "layer": layer,
        "path": path,
        "document": doc,
        "sample_columns": tuple(sample_columns) if sample_columns is not None else None,
    }
    if "query" in meta:
        query = str(meta["query"])
        if not re.match(r"^\s*(select|with)\b", query, re.IGNORECASE) or ";" in query:
            raise GateConfigError(f"{path}: meta.query must be one SELECT statement")
        return SuiteSpec(**common, query=query)
    schema, _, table = str(meta.get("table", "")).partition(".")
    month_column = str(meta.get("month_column", ""))
    if not (_IDENT.match(schema) and _IDENT.match(table) and _IDENT.match(month_column)):
        raise GateConfigError(
            f"{path}: meta.table / meta.month_column missing or not plain identifiers"
        )
    row_filter = tuple((str(k), str(v)) for k, v in (meta.get("filter") or {}).items())
    if not all(_IDENT.match(k) and _IDENT.match(v) for k, v in row_filter):
        raise GateConfigError(f"{path}: meta.filter must map plain identifiers to plain words")
    return SuiteSpec(
        **common, table=f"{schema}.{table}", month_column=month_column, row_filter=row_filter
    )
