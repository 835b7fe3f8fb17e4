"""The reference files' gate: the GX suites of ``expectations/reference/`` on the staged
candidates (chiso/reference/load.py), run before a load replaces what dbt and ingest read.

They check what an operator editing the files can get wrong and a CSV cannot say: a date or
number that does not parse, two versions of an agency (or unit) valid on the same day, a
code or key that resolves to nothing (a unit, a parent, a province, a lineage's agencies, an
indicator the catalogue lacks), a target without the plan it comes from, two targets for the
same year. Each problem is reported with its file, row and field.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from chiso.notify.alerts import Alert
from chiso.quality.gate import ExpectationFailure, _failure, _run_gx
from chiso.quality.specs import load_suite_specs

LAYER = "reference"


@dataclass(frozen=True)
class ReferenceVerdict:
    success: bool
    evaluated: int
    failures: list[ExpectationFailure]
    problems: list[str]  # one line per offending row (or per check, without rows)

    def summary(self) -> str:
        if self.success:
            return f"reference files: PASSED ({self.evaluated} expectations)"
        lines = [f"reference files: FAILED ({len(self.failures)} of {self.evaluated} checks)"]
        return "\n".join([*lines, *(f"  ✗ {p}" for p in self.problems)])


def validate_reference(
    url: str, indicator_codes: list[str], expectations_dir: Path | None = None
) -> ReferenceVerdict:
    """Run every reference suite on the candidates in the warehouse of `url`."""
    specs = load_suite_specs(expectations_dir, layers=(LAYER,))
    params = {"indicator_codes": list(indicator_codes)}
    today = date.today()  # the suites take no month: their queries have no placeholder
    results = _run_gx(url, today, specs, params)
    failures: list[ExpectationFailure] = []
    problems: list[str] = []
    evaluated = 0
    for spec, suite_results in results:
        file_name = str(spec.document.get("meta", {}).get("file", spec.name))
        for res in suite_results:
            evaluated += 1
            if res.success:
                continue
            found = _failure(url, today, spec, res, params)
            failures.append(found)
            problems += _named(file_name, found, _fields(spec.document, found))
    return ReferenceVerdict(not failures, evaluated, failures, problems)


def _fields(document: dict, failure: ExpectationFailure) -> list[str]:
    """The fields a failed expectation is about: its column(s), or for a query, the fields its
    suite file names in ``meta.fields``."""
    if failure.column:
        return [failure.column]
    listed = [str(c) for c in failure.kwargs.get("column_list") or () if isinstance(c, str)]
    if listed:
        return listed
    for expectation in document.get("expectations", []):
        if expectation.get("description") == failure.description and failure.description:
            return [str(f) for f in (expectation.get("meta") or {}).get("fields", [])]
    return []


def _named(file_name: str, failure: ExpectationFailure, fields: list[str]) -> list[str]:
    """The failure as lines naming file, row and field(s), with the values the row holds."""
    what = f"breaks «{failure.description}»" if failure.description else _what(failure)
    observed = failure.observed if isinstance(failure.observed, dict) else {}
    if "error" in observed:
        return [f"{file_name}: the check «{what}» could not run: {observed['error']}"]
    rows = [r for r in failure.sample_rows if "_row" in r]
    if not rows:
        return [f"{file_name}: {failure.describe()}"]
    count = observed.get("unexpected_count")
    lines = []
    for row in rows:
        shown = ", ".join(
            f"{f} = {row[f]!r}" if row.get(f) is not None else f"{f} empty" for f in fields
        )
        lines.append(f"{file_name} row {row['_row']}{', ' + shown if shown else ''}: {what}")
    if isinstance(count, int) and count > len(rows):
        lines.append(f"{file_name}: … {count - len(rows)} more row(s) like these")
    return lines


def _what(failure: ExpectationFailure) -> str:
    kind = failure.expectation_type
    if kind == "expect_column_values_to_not_be_null":
        return "a value is required"
    if kind == "expect_column_values_to_be_in_set":
        values = failure.kwargs.get("value_set")
        if isinstance(values, list) and len(values) <= 8:
            return "expected one of " + ", ".join(map(str, values))
        return "not a code the catalogue knows"
    if kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        return "another row has the same value(s)"
    return kind


def reference_failure_alert(verdict: ReferenceVerdict, folder: Path) -> Alert:
    """The operators' alert for reference files that failed their suites: nothing was loaded,
    and each problem is named (file, row, field; codes and dates, never personal data)."""
    subject = f"[chiso] Tệp dữ liệu tham chiếu KHÔNG được nạp: {len(verdict.problems)} lỗi"
    intro = (
        f"Các tệp tham chiếu trong {folder} không qua kiểm tra; kho dữ liệu giữ phiên bản đang"
        " dùng. Sửa các dòng dưới đây rồi nạp lại (chiso reference load)."
    )
    listed = verdict.problems[:100]
    text = "\n".join([intro, "", *(f"- {p}" for p in listed)])
    items = "".join(f"<li>{html.escape(p)}</li>" for p in listed)
    body = f"<html><body><p>{html.escape(intro)}</p><ul>{items}</ul></body></html>"
    payload = {
        "event": "chiso.reference_invalid",
        "folder": str(folder),
        "problems": listed,
        "failed_checks": len(verdict.failures),
    }
    return Alert(subject, text, body, payload)
