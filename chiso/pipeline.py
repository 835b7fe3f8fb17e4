"""The monthly slice, step by step: ingest → transform → validate → publish → report.

Only the sequence lives here; each step is one call into the package of its stage. The Airflow
DAG calls the steps one per task (chiso/orchestration/tasks.py); `chiso run-month` calls
`run_month`. Each step is idempotent for its month, so a retried task or a re-run month
converges to the same state.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from chiso.core.config import Settings
from chiso.ingest.files import FileResult
from chiso.ingest.files import ingest_inbox as load_inbox
from chiso.ingest.pulls import SOURCE_PULLS, pull_month, repull_released
from chiso.publish.revisions import Publication, publish_month
from chiso.quality import results
from chiso.quality.results import GateOutcome
from chiso.quality.validation import validate
from chiso.report.monthly import render
from chiso.runtime.warehouse import urls
from chiso.sources.systems import SOURCES, ApiSettings
from chiso.transform.dbt import build

__all__ = ["ingest_api", "ingest_inbox", "publish", "report", "run_month", "transform", "validate"]


def ingest_api(settings: Settings, source: str, month: date, api: ApiSettings) -> int:
    """Pull every entity of `source` for the month from its API, and again every month an
    operator released from a correction hold; returns rows landed."""
    loader = urls(settings).loader
    rows = 0
    for entity in SOURCE_PULLS[source]:
        rows += pull_month(loader, entity, month, api.base_url, api.token).rows
        rows += sum(r.rows for r in repull_released(loader, entity, api.base_url, api.token))
    return rows


def ingest_inbox(settings: Settings, source: str) -> list[FileResult]:
    """Load every file waiting in the source's inbox folder (quarantining bad ones)."""
    return load_inbox(urls(settings).loader, settings.inbox_dir, source)


def transform(settings: Settings, month: date | None = None) -> str | None:
    """Build every dbt model and run its tests; returns the dbt invocation id. With `month`,
    the incremental models rebuild only the periods overlapping it."""
    return build(settings, month).invocation_id


def publish(
    settings: Settings,
    month: date,
    dbt_invocation_id: str | None,
    gate_run_id: str,
    *,
    forced_reason: str | None = None,
) -> Publication:
    """Publish the month's audit rows as a revision, as the recorded validation `gate_run_id`
    allows (its verdict and fingerprint are read from ops.gate_results, not taken from the
    caller)."""
    url = urls(settings).transformer
    outcome: GateOutcome = results.outcome(url, gate_run_id)
    if outcome.month != month:
        raise ValueError(f"validation {gate_run_id} is of {outcome.month:%Y-%m}, not {month:%Y-%m}")
    if outcome.audit_fingerprint is None:
        raise ValueError(
            f"validation {gate_run_id} did not record which rows it read; validate the month again"
        )
    return publish_month(
        url,
        month,
        dbt_invocation_id=dbt_invocation_id or outcome.dbt_invocation_id,
        gate_success=outcome.success,
        gate_run_id=gate_run_id,
        forced_reason=forced_reason,
        validated_fingerprint=outcome.audit_fingerprint,
    )


def report(settings: Settings, month: date) -> Path:
    """Render the month's report from the published mart, as the BI reader."""
    return render(urls(settings).bi_reader, month, settings.reports_dir)


def run_month(settings: Settings, month: date, api: ApiSettings) -> Path:
    """The whole slice for one month, in order, outside Airflow (one API for every source,
    as the simulator serves them all): pull each source, load its inbox, then build."""
    for source in SOURCES:
        ingest_api(settings, source, month, api)
        ingest_inbox(settings, source)
    invocation = transform(settings, month)
    gate = validate(settings, month, dbt_invocation_id=invocation)
    publish(settings, month, invocation, gate.gate_run_id)
    return report(settings, month)
