"""Render a published month's reports, in every format asked for, read once from the marts:

    reports/
      bao-cao-YYYY-MM.html, .xlsx            every province (the operators' overview)
      YYYY-MM/
        bao-cao-YYYY-MM-tinh-<tỉnh>.{html,pdf,xlsx}           one province
        bao-cao-YYYY-MM-tinh-<tỉnh>-<cấp>.{html,pdf,xlsx}     one tier of a province
        index.json                                            the revision, each file's
                                                              scope and sha256 (delivery)

A file is written only when its bytes changed (a rerun for the same revision leaves the files
as they were) and each through a temporary name, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chiso.core.files import replace_atomically
from chiso.report.charts import trend_png
from chiso.report.html import html_text
from chiso.report.model import MonthData, Scope, load, scoped
from chiso.report.pdf import pdf_bytes
from chiso.report.workbook import workbook_bytes

FORMATS = ("html", "xlsx", "pdf")


@dataclass(frozen=True)
class RenderedFile:
    path: Path
    province_code: str | None
    tier: str | None
    kind: str
    sha256: str


@dataclass
class RenderedMonth:
    """What a month's rendering wrote: the overview page (always) and the scoped files."""

    month: date
    revision: int | None
    overview: Path
    files: list[RenderedFile] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[RenderedFile]:
        return [f for f in self.files if f.kind == kind]


def render_month(
    url: str,
    month: date,
    out_dir: Path,
    formats: tuple[str, ...] = FORMATS,
    *,
    scoped_files: bool = True,
    provinces: Collection[str] | None = None,
) -> RenderedMonth:
    """Write the month's reports: the overview page always, its workbook when `formats` has
    xlsx, and with `scoped_files` each province's and tier's report in each of `formats`
    (of the `provinces` by code, or of all)."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}: use {', '.join(FORMATS)}")
    data = load(url, month)
    whole = scoped(data, Scope())
    reports = [
        scoped(data, s) for s in data.scopes() if provinces is None or s.province_code in provinces
    ]
    rendered_scopes = {r.scope: r for r in reports}
    chapters = [rendered_scopes.get(s) or scoped(data, s) for s in data.provinces()]
    charts = {}
    if scoped_files and ("html" in formats or "pdf" in formats):
        charts = {r.scope.slug: png for r in reports if (png := trend_png(r)) is not None}
    # the overview charts the provinces it has charts of (those rendered on their own)
    stem = f"bao-cao-{month:%Y-%m}"
    overview = _write(out_dir / f"{stem}.html", html_text(whole, chapters, charts).encode())
    rendered = RenderedMonth(
        month, whole.publication.revision if whole.publication else None, overview
    )
    if "xlsx" in formats:
        _write(out_dir / f"{stem}.xlsx", workbook_bytes(whole, chapters, _rows(data, Scope())))
    folder = out_dir / f"{month:%Y-%m}"
    for report in reports if scoped_files else []:
        name = f"{stem}-{report.scope.slug}"
        for kind in formats:
            if kind == "html":
                content = html_text(report, [report], charts).encode()
            elif kind == "xlsx":
                content = workbook_bytes(report, [report], _rows(data, report.scope))
            else:
                content = pdf_bytes(report, charts.get(report.scope.slug))
            path = _write(folder / f"{name}.{kind}", content)
            scope = report.scope
            digest = hashlib.sha256(content).hexdigest()
            rendered.files.append(RenderedFile(path, scope.province_code, scope.tier, kind, digest))
    if rendered.files:
        _write(folder / INDEX, _index(rendered))
    return rendered


INDEX = "index.json"


def _index(rendered: RenderedMonth) -> bytes:
    entries = [
        {
            "file": f.path.name,
            "kind": f.kind,
            "province_code": f.province_code,
            "tier": f.tier,
            "sha256": f.sha256,
        }
        for f in rendered.files
    ]
    index = {"month": f"{rendered.month:%Y-%m}", "revision": rendered.revision, "files": entries}
    return json.dumps(index, ensure_ascii=False, indent=1).encode()


def rendered_month(out_dir: Path, month: date) -> RenderedMonth | None:
    """What the last rendering of `month` wrote (its index), or None."""
    folder = out_dir / f"{month:%Y-%m}"
    if not (folder / INDEX).exists():
        return None
    index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    files = [
        RenderedFile(folder / e["file"], e["province_code"], e["tier"], e["kind"], e["sha256"])
        for e in index["files"]
    ]
    return RenderedMonth(month, index["revision"], out_dir / f"bao-cao-{month:%Y-%m}.html", files)


def _rows(data: MonthData, scope: Scope) -> list[dict]:
    return [r for r in data.rows if scope.holds(r)]


def _write(path: Path, content: bytes) -> Path:
    """Write `content` to `path` unless it holds it already (a report is for readers: 0644)."""
    if not (path.exists() and path.read_bytes() == content):
        replace_atomically(path, content, 0o644)
    return path
