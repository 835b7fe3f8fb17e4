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
from pathlib import Path

import psycopg
from chiso_sim.config import SimulatorConfig
from chiso_sim.oracle import (
    catalogue_row,
    compute_indicators,
    dossier_facts,
    period_containing,
    pulled_sources,
    reports_as_delivered,
)
from chiso_sim.oracle_marts import restated, split_shares
from chiso_sim.seed_tables import load_agencies


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
    versions told apart by key (2025 reused codes), and the agencies a revision lacks or has
    in excess: the versions of the reference file valid in the period, and those that ended
    but still count something there (never the warehouse's own list). Each close found its
    month's summary reports in the inbox, as `simulator.stand_at_close` puts them."""
    close_of = revisions_by_close(url, months)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select publication_id, agency_key, indicator_code, calendar, period_month,"
            " numerator, denominator, value from marts.mart_kpi_monthly__revisions"
        ).fetchall()
    cfg = cfg or SimulatorConfig()
    # every version of the reference file: the marts list them all, whichever provinces the
    # simulator serves (the others with zeros)
    versions = load_agencies(Path(cfg.agencies_csv))
    agencies = sorted(a.agency_key for a in versions)
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
        for (calendar, month), p in periods.items():
            published = {r[1] for r in mine if (r[3], r[4]) == (calendar, month)}
            if not published:
                continue  # not republished by this close
            valid = {
                a.agency_key
                for a in versions
                if a.valid_from <= p.end and (a.valid_to is None or a.valid_to >= p.start)
            }
            active = {
                key[0]
                for key, (num, den, _) in expected.items()
                if key[2:] == (calendar, p.period_key) and (num or den)
            }
            if published != valid | active:
                missing, extra = (valid | active) - published, published - (valid | active)
                out.append((instant, (calendar, month), "agencies", (missing, extra)))
        for _, agency, indicator, calendar, month, num, den, value in mine:
            want = expected[(agency, indicator, calendar, periods[(calendar, month)].period_key)]
            same = num == want[0] and (den is None) == (want[1] is None)
            if not (same and (den is None or den == want[1]) and close(value, want[2])):
                out.append((instant, (agency, indicator, calendar, month), want, (num, den, value)))
    return out


def restated_mismatches(
    url: str,
    months: Sequence[date],
    instants: Sequence[datetime],
    cfg: SimulatorConfig,
) -> list[tuple]:
    """Restated month rows of audit.fct_indicator_values (the last build: after the last
    close) that differ from the oracle's restated basis (chiso_sim.oracle_marts.restated) on
    the sources at the last close: every version's values moved to today's agencies by the
    shares its own dossiers give, computed in Python from the records and the reference
    files. Counts and ratios compared to 1e-6 (the shares are stored to 10 decimals)."""
    periods = [period_containing(c, "month", m) for c in ("calendar", "official") for m in months]
    wanted = {(p.calendar, p.period_key) for p in periods}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select basis, agency_key, indicator_code, calendar, period_key, numerator,"
            " denominator, value from audit.fct_indicator_values where period_type = 'month'"
        ).fetchall()
    rows = [r for r in rows if (r[3], r[4]) in wanted]
    keys = sorted({r[1] for r in rows if r[0] == "as_reported"})
    delivered = reports_as_delivered(cfg, zip(months, instants, strict=True))
    src = pulled_sources(cfg, periods, as_of=instants[-1], reports=delivered, by_version=True)
    result = compute_indicators(
        cfg, periods, keys, as_of=instants[-1], by_version=True, sources=src
    )
    catalogue = [row for r in src.catalogue if (row := catalogue_row(r)) is not None]
    shares = split_shares(dossier_facts(src.dossiers), catalogue)
    expected = restated(result, shares)
    out = []
    tolerance = Decimal("0.000001")
    for basis, agency, indicator, calendar, period_key, num, den, value in rows:
        if basis != "restated":
            continue
        want = expected.get((agency, indicator, calendar, period_key))
        got = (num, den, value)
        if want is None:
            out.append(((agency, indicator, calendar, period_key), None, got))
            continue
        pairs = list(zip(want, got, strict=True))
        if any(
            (w is None) != (g is None)
            or (w is not None and abs(Decimal(w.numerator) / w.denominator - g) > tolerance)
            for w, g in pairs
        ):
            out.append(((agency, indicator, calendar, period_key), want, got))
    return out
