"""The facts a month's validation compares against, read from the built warehouse."""

from __future__ import annotations

from datetime import date

import psycopg

from chiso.core.months import WINDOWS


def gate_parameters(url: str, month: date) -> tuple[list[str], list[str], int]:
    """Agency codes allowed in the month, the computed indicators, and the rows expected.

    The month is built in two calendars: the calendar month and the official window from the
    15th of the previous month to the 14th. Every agency version overlapping a calendar's
    window must have a row per indicator there, and so must a version that ended before but
    still has activity (dossiers it accepted, resolved later; a document due after its last
    day: anything counted, in a numerator or a denominator), which the mart lists. The codes
    also include the successors of those versions (their handed-over dossiers carry them).
    """
    with psycopg.connect(url) as conn:
        pairs: set[tuple[str, str]] = set()
        codes: set[str] = set()
        for calendar, window in WINDOWS.items():
            first, last = window(month)
            for key, code in conn.execute(
                "select agency_key, agency_code from audit.dim_agency"
                " where valid_from <= %s and coalesce(valid_to, '9999-12-31') >= %s",
                (last, first),
            ):
                pairs.add((calendar, key))
                codes.add(code)
        # a dossier of the month handed to a successor when its agency ended (1 March, 1 July
        # 2025) carries the successor's code by the close: the successors' codes are allowed
        first = min(window(month)[0] for window in WINDOWS.values())
        last = max(window(month)[1] for window in WINDOWS.values())
        for (code,) in conn.execute(
            "with recursive chain (agency_key) as ("
            " select agency_key from audit.dim_agency"
            " where valid_from <= %s and coalesce(valid_to, '9999-12-31') >= %s"
            " union select lineage.to_agency_key from audit.ref_agency_lineage as lineage"
            " inner join chain on lineage.from_agency_key = chain.agency_key)"
            " select distinct agency.agency_code from chain"
            " inner join audit.dim_agency as agency on agency.agency_key = chain.agency_key",
            (last, first),
        ):
            codes.add(code)
        for calendar, key, code in conn.execute(
            "select distinct calendar, agency_key, agency_code from audit.mart_kpi_monthly"
            " where period_month = %s and (numerator <> 0 or denominator <> 0)",
            (month,),
        ):
            pairs.add((calendar, key))
            codes.add(code)
        indicators = [
            r[0]
            for r in conn.execute(
                "select indicator_code from audit.dim_indicator where in_mart order by 1"
            )
        ]
    return sorted(codes), indicators, len(pairs) * len(indicators)
