"""The monthly report as an HTML page: a chapter per province for the whole report, or one
chapter for a province's or a tier's report (chiso/report/model.py says what each shows).

The trend charts are inline PNGs, so the page is one file that opens offline and travels as
an attachment.
"""

from __future__ import annotations

import base64
import unicodedata
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from chiso.core import formatting as fmt
from chiso.report.model import LIGHT_LABELS, ScopeReport

TEMPLATES = Path(__file__).with_name("templates")


def html_text(report: ScopeReport, chapters: list[ScopeReport], charts: dict[str, bytes]) -> str:
    """The page: `report`'s front matter (publication, changes, data quality) over the
    `chapters`; `charts` maps a chapter's scope slug to its trend PNG."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    env.filters.update(percent=fmt.percent, count=fmt.count, measure=fmt.measure, score=fmt.score)
    env.globals.update(change=fmt.points_change, lights=LIGHT_LABELS)
    images = {slug: base64.b64encode(png).decode("ascii") for slug, png in charts.items()}
    page = env.get_template("monthly.html.j2").render(
        doc=report,
        chapters=chapters,
        charts=images,
        province_names=", ".join(c.scope.title for c in chapters),
    )
    return unicodedata.normalize("NFC", page)
