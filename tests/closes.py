"""What a series of closes published, checked against the independent oracle.

A close (chiso/pipeline.py close_month, or the monthly_kpi DAG) publishes its month and
republishes the earlier months its new records changed. Run with the simulator's clock at each
close instant, every revision a close published must equal `chiso_sim.oracle` computed on the
sources as they stood at that instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import psycopg
from chiso_sim.config import SimulatorConfig
from chiso_sim.oracle import compute_indicators, period_containing, reports_as_delivered


def close(got: Decimal | None, want: float | None) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return abs(got - Decimal(str(want))) < Decimal("0.000001")


def revisions_by_close(url: str, months: Sequence[date]) -> dict[object, int]:
    """publication id → index of the close that published it. A close starts with its month's
    first revision; what follows, until the next close's, is its own."""
    with psycopg.connect(url) as conn:
        pubs = conn.execute(
            "select publication_id, period_month, revision from ops.publications"
            " order by published_at"
        ).fetchall()
    out, k = {}, -1
    for pid, month, revision in pubs:
        if revision == 1 and k + 1 < len(months) and month == months[k + 1]:
            k += 1
        out[pid] = k
    assert k == len(months) - 1, f"expected {len(months)} closes, found {k + 1}"
    return out


def mismatches_with_oracle(
    url: str,
    months: Sequence[date],
    instants: Sequence[datetime],
    cfg: SimulatorConfig | None = None,
) -> list[tuple]:
    """Rows of every revision of marts.mart_kpi_monthly that differ from the oracle on the
    sources at the instant of the close that published them (empty: all equal), agency
    versions told apart by key (2025 reused codes). Each close
    found its month's summary reports in the inbox, as `simulator.stand_at_close` puts them."""
    close_of = revisions_by_close(url, months)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select publication_id, agency_key, indicator_code, calendar, period_month,"
            " numerator, denominator, value from marts.mart_kpi_monthly__revisions"
        ).fetchall()
    agencies = sorted({r[1] for r in rows})
    cfg = cfg or SimulatorConfig()
    # each close delivered its month's summary reports (simulator.stand_at_close), once
    delivered = reports_as_delivered(cfg, zip(months, instants, strict=True))
    out = []
    for k, instant in enumerate(instants):
        periods = {
            (c, m): period_containing(c, "month", m)
            for c in ("calendar", "official")
            for m in months[: k + 1]
        }
        reports = {m.replace(day=1): delivered[m.replace(day=1)] for m in months[: k + 1]}
        expected = compute_indicators(
            cfg, list(periods.values()), agencies, as_of=instant, reports=reports, by_version=True
        )
        mine = [r for r in rows if close_of[r[0]] == k]
        assert mine, f"close {instant} published nothing"
        for _, agency, indicator, calendar, month, num, den, value in mine:
            want = expected[(agency, indicator, calendar, periods[(calendar, month)].period_key)]
            same = num == want[0] and (den is None) == (want[1] is None)
            if not (same and (den is None or den == want[1]) and close(value, want[2])):
                out.append((instant, (agency, indicator, calendar, month), want, (num, den, value)))
    return out
