"""End-to-end across the 2025 restructuring: June and July 2025 closed through the slice.

June's close runs after the July handovers, so the dossiers it re-reads carry their
successors' codes and progress rows naming both agencies; the March 2025 department mergers
have handed dossiers over already. July is the first month of the new agencies: districts
gone, communes merged, Hải Dương's departments in Hải Phòng's, whose departments kept their
codes as new versions. Every revision the three closes published must equal the oracle on the
sources as they stood at each close, agency versions told apart by key
(docs/indicator-rules.md, "A dossier handed to a successor").
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from chiso_sim.config import SimulatorConfig

from chiso import pipeline
from chiso.core.cadence import Cadence
from chiso.runtime import simulator
from tests.closes import mismatches_with_oracle, restated_mismatches

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MONTHS = (date(2025, 6, 1), date(2025, 7, 1))
# Hải Dương and Hải Phòng: a province merged into another whose departments kept their codes,
# departments split by field in March, districts split into communes in July; a lighter
# volume than the default (the suite's time budget), the same rules
PROVINCES = ("30", "31")
VOLUME = 30
CFG = SimulatorConfig(
    start_month=MONTHS[0], months=2, provinces=PROVINCES, dossiers_per_agency_month=VOLUME
)
CADENCE = Cadence()


@pytest.fixture(scope="module")
def closed(chiso_env):
    s = chiso_env.settings
    simulator.start(
        s,
        options=[
            *("--start-month", f"{MONTHS[0]:%Y-%m}", "--months", "2"),
            *("--provinces", ",".join(PROVINCES), "--dossiers-per-agency-month", str(VOLUME)),
        ],
    )
    try:
        api = simulator.api_settings(s)
        for month in MONTHS:
            simulator.stand_at_close(s, month, CADENCE.close_instant(month))
            pipeline.close_month(s, month, api, cadence=CADENCE)
    finally:
        simulator.stop(s)
    return chiso_env


def test_closes_across_the_restructuring_publish_what_the_oracle_computes(closed):
    instants = [CADENCE.close_instant(m) for m in MONTHS]
    bad = mismatches_with_oracle(closed.urls.transformer, MONTHS, instants, cfg=CFG)
    assert not bad, f"{len(bad)} rows differ, e.g. {bad[:5]}"


def test_restated_series_split_agencies_as_their_dossiers_went(closed):
    """The restated month rows after the July close equal the oracle's: every version's values
    moved to today's agencies, a split district's by where its own dossiers went (handed over
    on 1 July, or by the field the successors' catalogues list), not in equal shares; each
    close that moved a share restated the whole history again."""
    instants = [CADENCE.close_instant(m) for m in MONTHS]
    bad = restated_mismatches(closed.urls.transformer, MONTHS, instants, CFG)
    assert not bad, f"{len(bad)} restated rows differ, e.g. {bad[:5]}"
    with psycopg.connect(closed.urls.transformer) as conn:
        bases = dict(
            conn.execute(
                "select share_basis, count(*) from intermediate.int_agencies__split_shares"
                " group by 1"
            ).fetchall()
        )
    # July's districts split by their dossiers; March's departments, whose dossiers predate
    # the months pulled, in equal shares
    assert bases.get("dossiers", 0) > 0 and bases.get("equal", 0) > 0


def test_handed_over_dossiers_are_followed_from_receiver_to_successor(closed):
    with psycopg.connect(closed.urls.transformer) as conn:
        handed, finished_elsewhere = conn.execute(
            "select count(*) filter (where custody_from is not null),"
            " (select count(*) from audit.fct_dossiers"
            "  where finish_agency_key <> agency_key)"
            " from intermediate.int_one_stop__dossier_outcomes"
        ).fetchone()
        july = conn.execute(
            "select count(*) from intermediate.int_one_stop__dossier_outcomes"
            " where custody_from = date '2025-07-01'"
        ).fetchone()[0]
        # a department of Hải Phòng kept its code on 1 July: its open dossiers passed to the
        # new version all the same (custody follows versions, not codes)
        same_code = conn.execute(
            "select count(*) from intermediate.int_one_stop__dossier_outcomes"
            " where custody_from = date '2025-07-01'"
            " and split_part(agency_key, ':', 2) = split_part(custody_path, ':', 2)"
        ).fetchone()[0]
    # July's handovers are visible from June's close on and finish at the successor
    assert handed > 0 and finished_elsewhere > 0 and july > 0 and same_code > 0
