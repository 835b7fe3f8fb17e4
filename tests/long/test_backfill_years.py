"""Five years of two provinces backfilled through Airflow give the marts the same months give
closed one by one.

`airflow backfill create` over 2020-01 → 2025-12 of Hải Dương and Hải Phòng (the province
merged into the other in July 2025, departments merged in March, districts ended in July),
with the sources as they stand at December 2025's close and every month's summary reports in
the inbox, against the same 72 months closed one after another with the simulator's clock at
each close instant (chiso.pipeline.close_month, the close's steps). Records change after
their month was closed: the months closed one by one republish every month a later record
changes (`CHISO_REPUBLISH_MONTHS` covers the five years), while the backfill takes the
sources as they stand now (its change pulls go up to the present: chiso.pipeline.
ingest_changes, `changes_until`), so it publishes each month once. By the end both have
pulled the same records, and the current revision of every mart and dimension has the same
checksum.

Hours on two cores, the two warehouses closing their 72 months side by side. Measured on
16fb964 (before the republication check kept its stamps and the embedded server got its
memory), passed in 2 h 43 min: the backfill's 72 months in 7,779 s by Airflow's stamps, 42 s
a month in 2020 and 95 s in 2024 (dbt's build and the gate, whatever the volume; its first run
builds the five years raw, then holds: docs/runbook.md, «Backfill»), and its two restructuring
closes republished 62 and 66 months, 16 and 20 minutes each. The months closed one by one took
9,693 s: they republish the whole history at four closes of 2025 (February, March, June and
July, 10 to 25 minutes each). A `make test` at nice 19 ran beside both from 1 h 45 min to
2 h 21 min. The server used 145 CPU-minutes, the test's processes 56.
`make test-long`, outside `make test`'s fifteen minutes.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from chiso import pipeline
from chiso.core.cadence import Cadence
from chiso.core.months import add_months
from chiso.orchestration import airflow as af
from chiso.publish.checksums import mart_checksums
from chiso.runtime import airflow as services
from chiso.runtime import simulator
from tests.warehouses import fresh

pytestmark = [pytest.mark.e2e, pytest.mark.airflow, pytest.mark.long, pytest.mark.timeout(4 * 3600)]

FIRST, LAST = date(2020, 1, 1), date(2025, 12, 1)
MONTHS = [add_months(FIRST, k) for k in range(72)]
assert MONTHS[-1] == LAST
# both provinces of the July 2025 merger, at the lightest volume that still has every kind of
# record in every agency's month: the builds cost the same at any volume
SOURCES = [
    *("--start-month", f"{FIRST:%Y-%m}", "--months", str(len(MONTHS))),
    *("--provinces", "30,31", "--dossiers-per-agency-month", "3"),
    *("--documents-per-agency-month", "3"),
]
REPUBLISH_ALL = {"CHISO_REPUBLISH_MONTHS": str(len(MONTHS) + 1), "CHISO_RETRY_DELAY_SECONDS": "5"}


def _close_one_by_one(name: str) -> dict:
    """The months closed one after another on warehouse `name`: the marts' checksums."""
    with fresh(name) as env:
        s = env.settings
        simulator.start(s, options=SOURCES)
        try:
            api, cadence = simulator.api_settings(s), Cadence.from_env()
            for month in MONTHS:
                simulator.stand_at_close(s, month, cadence.close_instant(month))
                pipeline.close_month(s, month, api, cadence=cadence)
            return mart_checksums(env.urls.admin)
        finally:
            simulator.stop(s)


def _backfill_seconds(s) -> float:
    """From the first run's start to the last run's end, by Airflow's stamps."""
    with af.AirflowApi(s) as api:
        runs = api.paged(f"/dags/{af.DAG_ID}/dagRuns", "dag_runs")
    starts = [datetime.fromisoformat(r["start_date"]) for r in runs if r["start_date"]]
    ends = [datetime.fromisoformat(r["end_date"]) for r in runs if r["end_date"]]
    return (max(ends) - min(starts)).total_seconds()


def test_five_years_backfilled_equal_the_months_closed_one_by_one(monkeypatch):
    for key, value in REPUBLISH_ALL.items():
        monkeypatch.setenv(key, value)
    with fresh("test_backfill_years_airflow") as env:
        s = env.settings
        simulator.start(s, options=SOURCES)
        try:
            cadence = Cadence.from_env()
            # the sources as they stand at the last close; every month's reports delivered
            for month in MONTHS:
                simulator.stand_at_close(s, month, cadence.close_instant(month))
            services.up(s)
            af.wait_for_dag(s)
            services.airflow_cli(s, "dags", "unpause", af.DAG_ID)
            services.airflow_cli(
                s, "backfill", "create", "--dag-id", af.DAG_ID,
                "--from-date", f"{af.interval_start(FIRST):%Y-%m-%d}",
                "--to-date", f"{af.interval_start(LAST):%Y-%m-%d}",
                "--max-active-runs", "1", "--reprocess-behavior", "completed",
            )  # fmt: skip
            # while Airflow's processes work through the backfill, this process closes the
            # same months one by one on a second warehouse (its own home and environment)
            started = time.monotonic()
            one_by_one = _close_one_by_one("test_backfill_years_monthly")
            print(f"\n72 months closed one by one in {time.monotonic() - started:.0f} s")
            states = af.wait_for_months(s, MONTHS, timeout=3 * 3600)
            print(f"72 months backfilled through Airflow in {_backfill_seconds(s):.0f} s")
            failed = {m: st for m, st in states.items() if st != "success"}
            assert not failed, (failed, af.failed_tasks(s))
            through_airflow = mart_checksums(env.urls.admin)
        finally:
            services.down(s)
            simulator.stop(s)
    assert through_airflow["mart_kpi_monthly"][0] > 0
    assert through_airflow == one_by_one
