"""The report's 12-month trend charts, drawn offline with matplotlib (no browser, no web
font): one small panel per indicator, a line per level (the province and its tiers), each
tier's target dashed in its colour.

The same PNG goes into the HTML page (inline) and the PDF. matplotlib's own DejaVu Sans has
every Vietnamese glyph, so a fresh machine needs no system font. The PNG carries no time or
version, so the same revision draws the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from decimal import Decimal

from chiso.core import formatting as fmt
from chiso.report.model import ScopeReport, Trend

COLUMNS = 3
PANEL_HEIGHT = 2.1  # inches
WIDTH = 10.0  # inches
DPI = 120
# the province black, then a colour per tier (colour-blind safe: Okabe–Ito)
COLOURS = ("#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7")


def trend_png(report: ScopeReport) -> bytes | None:
    """The scope's trend panels as one PNG, or None when the scope charts nothing."""
    if not report.trends:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display: a worker, a test, a fresh machine
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    rows = -(-len(report.trends) // COLUMNS)
    fig = Figure(figsize=(WIDTH, PANEL_HEIGHT * rows + 0.5), dpi=DPI)
    axes = fig.subplots(rows, COLUMNS, squeeze=False)
    months = [f"{m:%m/%y}" for m in report.trend_months]
    percent = FuncFormatter(lambda v, _pos: fmt.percent(v, 0))
    for ax, trend in zip(axes.flat, report.trends, strict=False):
        _panel(ax, trend, months, percent)
    for ax in list(axes.flat)[len(report.trends) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.subplots_adjust(
        left=0.06, right=0.99, bottom=0.08 / rows, top=1 - 0.5 / fig.get_figheight(), hspace=0.75
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _panel(ax, trend: Trend, months: list[str], percent) -> None:
    x = range(len(months))
    for colour, series in zip(COLOURS, trend.series, strict=False):
        values = [None if v is None else float(v) for v in series.values]
        ax.plot(
            x,
            [float("nan") if v is None else v for v in values],
            color=colour,
            marker="o",
            markersize=2.5,
            linewidth=1.2,
            label=series.label,
        )
        if series.target is not None:
            ax.axhline(float(series.target), color=colour, linestyle="--", linewidth=0.9)
    ax.set_title("\n".join(textwrap.wrap(trend.name, 46)), fontsize=7.5)
    ax.set_ylim(0, _top(trend))
    ax.yaxis.set_major_formatter(percent)
    ax.set_xticks(list(x)[::2], months[::2])
    ax.tick_params(labelsize=6.5)
    ax.grid(axis="y", linewidth=0.3)


def _top(trend: Trend) -> float:
    """Rates are drawn from 0; the top leaves room above the highest line or target."""
    highest = max(
        (
            float(v)
            for s in trend.series
            for v in (*s.values, s.target)
            if isinstance(v, Decimal | float | int)
        ),
        default=1.0,
    )
    return min(1.05, max(0.1, highest * 1.15))
