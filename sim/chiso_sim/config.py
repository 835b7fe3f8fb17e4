"""What the simulators generate: one frozen config shared by all three source systems.

Frozen so it can key caches and be shared between threads. Every generator derives its
randomness from ``seed`` plus a string naming what is generated (agency, month, entity), so
two configs that differ only in ``months`` agree on the months they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chiso.core.config import REFERENCE_DIR

DEFAULT_AGENCIES_CSV = REFERENCE_DIR / "ref_agencies.csv"


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 20200101
    start_month: date = date(2020, 1, 1)
    months: int = 6
    dossiers_per_agency_month: int = 60
    documents_per_agency_month: int = 40
    agencies_csv: Path = field(default=DEFAULT_AGENCIES_CSV)
    # Province codes (as in ref_agencies.province_code) to cover; empty = every province.
    provinces: tuple[str, ...] = ()
    # Procedure catalogue (sim/chiso_sim/catalogue.py): size per province and the share
    # eligible for fully online service (Hải Dương 2023: 1,918 procedures, ~600 = 31%).
    procedures_per_province: int = 1900
    full_online_eligible_share: float = 0.31
