"""The static docs site (`chiso docs`): one folder of HTML an operator opens or serves.

    .var/site/
      index.html          what is here, and each month's latest validation and publication
      docs/*.html         the project's documentation (docs/*.md rendered)
      dbt/                dbt docs (`dbt docs generate`: models, lineage, columns, tests)
      data-docs/YYYY-MM/  GX Data Docs of the month's latest validation (written by the gate)
      reports/            the monthly reports (bao-cao-YYYY-MM.html)

The gate writes the Data Docs itself after every validation; this module assembles the rest
around them. Markdown is rendered with markdown-it-py (already installed with rich), so the
site needs no server, no build tool and no internet.
"""

from __future__ import annotations

import html
import re
import shutil
from datetime import date
from pathlib import Path

import psycopg

from chiso.core.config import REPO_ROOT, Settings

DOCS_DIR = REPO_ROOT / "docs"
STYLE = (
    "body{font-family:system-ui,'Noto Sans',sans-serif;max-width:60rem;margin:2rem auto;"
    "padding:0 1rem;color:#111}table{border-collapse:collapse}td,th{border:1px solid #bbb;"
    "padding:.25rem .5rem}code,pre{background:#f4f4f4}pre{padding:.5rem;overflow:auto}"
    ".fail{color:#a01010}.ok{color:#0a6b2f}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def render_markdown_docs(target: Path) -> list[Path]:
    """docs/*.md → target/*.html, links between the documents kept working."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(DOCS_DIR.glob("*.md")):
        text = source.read_text(encoding="utf-8")
        body = re.sub(r'href="([\w-]+)\.md(#[^"]*)?"', r'href="\1.html\2"', md.render(text))
        headings = (ln.lstrip("# ") for ln in text.splitlines() if ln.startswith("#"))
        title = next(headings, source.stem)
        path = target / f"{source.stem}.html"
        path.write_text(_page(title, body), encoding="utf-8")
        written.append(path)
    return written


def build_dbt_docs(settings: Settings, target: Path) -> bool:
    """`dbt docs generate` against the warehouse, its static files copied into the site."""
    from chiso.transform.dbt import DbtError, run_dbt

    try:
        run_dbt(settings, "docs", "generate")
    except DbtError:
        return False
    built = settings.home / "dbt" / "target"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "manifest.json", "catalog.json"):
        shutil.copy2(built / name, target / name)
    return True


def _validations(url: str) -> list[tuple[date, bool, int, object, int | None, str | None]]:
    """Per month: the latest validation (success, failed count, when) and current revision."""
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('ops.gate_results') is null").fetchone()[0]:
            return []
        has_publications = conn.execute(
            "select to_regclass('ops.publication_heads') is not null"
        ).fetchone()[0]
        heads = (
            "(select h.revision from ops.publication_heads h where h.period_month = g.period_month)"
            if has_publications
            else "null::int"
        )
        reason = (
            "(select p.forced_reason from ops.publication_heads h join ops.publications p"
            " using (publication_id) where h.period_month = g.period_month)"
            if has_publications
            else "null::text"
        )
        return conn.execute(
            "select distinct on (period_month) period_month, success,"
            " jsonb_array_length(failures), validated_at,"
            f" {heads}, {reason} from ops.gate_results g"
            " order by period_month desc, validated_at desc"
        ).fetchall()


def build(settings: Settings, *, dbt_docs: bool = True) -> Path:
    """Assemble the site; returns its index page."""
    from chiso.runtime.warehouse import urls

    site = settings.site_dir
    site.mkdir(parents=True, exist_ok=True)
    docs = render_markdown_docs(site / "docs")
    has_dbt = build_dbt_docs(settings, site / "dbt") if dbt_docs else (site / "dbt").exists()
    reports = site / "reports"
    reports.mkdir(exist_ok=True)
    for report in sorted(settings.reports_dir.glob("bao-cao-*.html")):
        shutil.copy2(report, reports / report.name)
    rows = []
    for month, success, failed, validated_at, revision, forced in _validations(
        urls(settings).transformer
    ):
        data_docs = site / "data-docs" / f"{month:%Y-%m}" / "index.html"
        report = reports / f"bao-cao-{month:%Y-%m}.html"
        verdict = (
            '<span class="ok">đạt</span>'
            if success
            else f'<span class="fail">không đạt ({failed} kỳ vọng)</span>'
        )
        published = f"lần {revision}" if revision else "chưa công bố"
        if forced:
            published += f' <span class="fail">(bắt buộc: {html.escape(forced)})</span>'
        rows.append(
            f"<tr><td>{month:%Y-%m}</td><td>{verdict}</td><td>{validated_at:%Y-%m-%d %H:%M}</td>"
            + (
                f'<td><a href="data-docs/{month:%Y-%m}/index.html">Data Docs</a></td>'
                if data_docs.exists()
                else "<td>–</td>"
            )
            + f"<td>{published}</td>"
            + (
                f'<td><a href="reports/{report.name}">báo cáo</a></td>'
                if report.exists()
                else "<td>–</td>"
            )
            + "</tr>"
        )
    body = [
        "<h1>chiso — tài liệu và kiểm định dữ liệu</h1>",
        "<h2>Tài liệu</h2><ul>",
        *(f'<li><a href="docs/{p.name}">{p.stem}</a></li>' for p in docs),
        "</ul>",
        '<p><a href="dbt/index.html">dbt docs</a>: models, lineage, columns, tests.</p>'
        if has_dbt
        else "<p>dbt docs: not built (the warehouse was not reachable).</p>",
        "<h2>Kiểm định và công bố theo tháng</h2>",
        "<p>Lần kiểm định gần nhất của mỗi tháng (Great Expectations Data Docs), bản công bố"
        " hiện hành và báo cáo.</p>",
        "<table><tr><th>Tháng</th><th>Kiểm định</th><th>Lúc (UTC)</th><th>Data Docs</th>"
        "<th>Công bố</th><th>Báo cáo</th></tr>",
        *rows,
        "</table>",
    ]
    index = site / "index.html"
    index.write_text(_page("chiso — docs", "".join(body)), encoding="utf-8")
    return index
