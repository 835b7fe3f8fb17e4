"""The assets chiso's DAGs update and run on: Airflow's lineage between tasks and DAGs
(docs/lineage.md). Only Airflow's SDK here: DAG files and task code both import it.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from chiso.sources.systems import SOURCES

RAW = {
    source: Asset(name=f"raw.{source}", uri=f"chiso://warehouse/raw/{source}") for source in SOURCES
}
# A close's publications, once they are all made: the month closed and the earlier months it
# republished (the event's extra: {"months": ["YYYY-MM", …]}), or the months a reference
# change republished. The report DAG runs on it.
KPI_MART = Asset(name="marts.mart_kpi_monthly", uri="chiso://warehouse/marts/mart_kpi_monthly")
REPORT = Asset(name="report.monthly_kpi", uri="chiso://reports/monthly_kpi")
# A task that may publish nothing (a reference rebuild that changed no month) announces through
# this alias: a KPI_MART event is added to it only when months were republished, so the report
# DAG does not run for nothing every morning.
REPUBLISHED = AssetAlias(name="chiso.kpi_republished")
