"""The monthly slice as plain functions: ingest → transform → validate → publish → report.

The Airflow DAG calls these one per task; `chiso run-month` calls them in a row. Each step is
idempotent for its month, so a retried task or a re-run month converges to the same state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

from chiso.config import Settings
from chiso.sources.canonical import SOURCES

log = logging.getLogger(__name__)


GATE_RESULTS_DDL = """
create table if not exists ops.gate_results (
    validated_at   timestamptz not null default now(),
    period_month   date not null,
    success        boolean not null,
    evaluated      integer not null,
    failures       jsonb not null
);
alter table ops.gate_results
    add column if not exists gate_run_id uuid,
    add column if not exists dbt_invocation_id text,
    add column if not exists data_docs text,
    add column if not exists alerts jsonb,
    add column if not exists audit_fingerprint text;
create unique index if not exists gate_results__run_idx on ops.gate_results (gate_run_id);
"""


class GateFailed(RuntimeError):
    """The month failed validation; it was not published."""

    def __init__(self, message: str, outcome: GateOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class GateOutcome:
    """One validation of a month, as recorded in ops.gate_results."""

    gate_run_id: str
    month: date
    success: bool
    summary: str
    data_docs: str | None
    alerts: dict | None = None
    dbt_invocation_id: str | None = None
    # chiso.publish.audit_fingerprint of the rows validated: what the publisher compares
    audit_fingerprint: str | None = None


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    token: str


def month_start(value: date) -> date:
    return date(value.year, value.month, 1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def parse_month(text: str) -> date:
    """'2020-01' → date(2020, 1, 1), with an error that says what was expected."""
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise ValueError(f"month must look like YYYY-MM, got {text!r}") from exc


def ingest_api(settings: Settings, source: str, month: date, api: ApiSettings) -> int:
    """Pull every entity of `source` for the month from its API; returns rows landed."""
    from chiso.db.bootstrap import urls
    from chiso.ingest.pulls import SOURCE_PULLS, pull_month

    rows = 0
    for entity_name in SOURCE_PULLS[source]:
        result = pull_month(urls(settings).loader, entity_name, month, api.base_url, api.token)
        rows += result.rows
    return rows


def ingest_inbox(settings: Settings, source: str) -> list:
    """Load every file waiting in the source's inbox folder (quarantining bad ones)."""
    from chiso.db.bootstrap import urls
    from chiso.ingest.files import ingest_inbox as _ingest_inbox

    return _ingest_inbox(urls(settings).loader, settings.inbox_dir, source)


def transform(settings: Settings, month: date | None = None) -> str | None:
    """Build every dbt model and run its tests; returns the dbt invocation id. With `month`,
    the indicator facts and marts rebuild only the periods overlapping it (incremental)."""
    from chiso.transform.dbt import build

    return build(settings, month).invocation_id


def _gate_parameters(url: str, month: date) -> tuple[list[str], list[str], int]:
    """Agency codes allowed in the month, the computed indicators, and the rows expected.

    The month is built in two calendars: the calendar month and the official window from the
    15th of the previous month to the 14th. Every agency version overlapping a calendar's
    window must have a row per indicator there, and so must a version that ended before but
    still has activity (dossiers it accepted, resolved later), which the mart lists.
    """
    windows = {
        "calendar": (month, next_month(month) - timedelta(days=1)),
        "official": (previous_month(month) + timedelta(days=14), month + timedelta(days=13)),
    }
    with psycopg.connect(url) as conn:
        pairs: set[tuple[str, str]] = set()
        codes: set[str] = set()
        for calendar, (first, last) in windows.items():
            for key, code in conn.execute(
                "select agency_key, agency_code from audit.dim_agency"
                " where valid_from <= %s and coalesce(valid_to, '9999-12-31') >= %s",
                (last, first),
            ):
                pairs.add((calendar, key))
                codes.add(code)
        for calendar, key, code in conn.execute(
            "select distinct calendar, agency_key, agency_code from audit.mart_kpi_monthly"
            " where period_month = %s and numerator > 0",
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


def validate(
    settings: Settings,
    month: date,
    *,
    dbt_invocation_id: str | None = None,
    raise_on_failure: bool = True,
) -> GateOutcome:
    """Run the GX gate for the month and record the outcome in ops.gate_results (failing
    expectations with sample rows, the Data Docs written, the alerts sent). On failure the
    operators are alerted (chiso/alerts.py) and GateFailed is raised, unless
    `raise_on_failure` is False (`chiso publish` decides itself)."""
    import uuid

    from chiso.db.bootstrap import urls
    from chiso.publish import audit_fingerprint
    from chiso.quality.gate import validate_month
    from chiso.transform.dbt import latest_build_invocation

    url = urls(settings).transformer
    with psycopg.connect(url) as conn:
        # before the gate reads them: a rebuild during validation makes publishing refuse
        fingerprint = audit_fingerprint(conn, month)
        dbt_invocation_id = dbt_invocation_id or latest_build_invocation(conn)
    agencies, indicators, expected_rows = _gate_parameters(url, month)
    result = validate_month(
        url,
        month,
        valid_agency_codes=agencies,
        indicator_codes=indicators,
        expected_rows=expected_rows,
        data_docs_dir=settings.data_docs_dir,
    )
    gate_run_id = str(uuid.uuid4())
    data_docs = str(result.data_docs) if result.data_docs else None
    failures = [
        {
            "suite": f.suite,
            "expectation": f.expectation_type,
            "description": f.description,
            "column": f.column,
            "observed": f.observed,
            "summary": f.describe(),
            "sample_rows": f.sample_rows,
        }
        for f in result.failures
    ]
    # Recorded before alerting: a notifier that breaks must not lose the failing expectations.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(GATE_RESULTS_DDL)
        conn.execute(
            "insert into ops.gate_results (period_month, success, evaluated, failures,"
            " gate_run_id, dbt_invocation_id, data_docs, audit_fingerprint)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                month,
                result.success,
                result.evaluated,
                json.dumps(failures, default=str, ensure_ascii=False),
                gate_run_id,
                dbt_invocation_id,
                data_docs,
                fingerprint,
            ),
        )
    alerts = None
    if not result.success:
        alerts = _alert(url, result, gate_run_id, data_docs)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "update ops.gate_results set alerts = %s where gate_run_id = %s",
                (json.dumps(alerts), gate_run_id),
            )
    outcome = GateOutcome(
        gate_run_id, month, result.success, result.summary(), data_docs, alerts,
        dbt_invocation_id, fingerprint,
    )  # fmt: skip
    if not result.success:
        message = f"{month:%Y-%m} failed validation; not published:\n{result.summary()}"
        if raise_on_failure:
            raise GateFailed(message, outcome)
        log.warning(message)
    else:
        log.info("%s passed validation (%s expectations)", f"{month:%Y-%m}", result.evaluated)
    return outcome


def _alert(url: str, result, gate_run_id: str, data_docs: str | None) -> dict:
    """Alert the operators of a failed gate; returns what was sent, skipped and failed.

    Never raises: the gate's outcome is what stops the month, and an alert that could not be
    built or sent is recorded as failed (ops.gate_results.alerts) and logged.
    """
    from dataclasses import asdict

    from chiso import alerts

    try:
        revision = None
        with psycopg.connect(url) as conn:
            if _table_exists(conn, "ops.publications"):
                revision = conn.execute(
                    "select max(revision) from ops.publications where period_month = %s",
                    (result.month,),
                ).fetchone()[0]
        alert = alerts.gate_failure_alert(
            result,
            gate_run_id=gate_run_id,
            published_revision=revision,
            data_docs=data_docs,
        )
        return asdict(alerts.send(alert))
    except Exception as exc:  # any notifier error is recorded, not raised
        log.exception("alert for the failed gate of %s could not be sent", f"{result.month:%Y-%m}")
        return asdict(alerts.Delivery(failed={"alert": f"{type(exc).__name__}: {exc}"}))


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def gate_outcome(settings: Settings, gate_run_id: str) -> GateOutcome:
    """A recorded validation, by id (what the DAG's publish task receives from validate)."""
    from chiso.db.bootstrap import urls

    with psycopg.connect(urls(settings).transformer) as conn:
        row = conn.execute(
            "select period_month, success, failures, data_docs, alerts, dbt_invocation_id,"
            " audit_fingerprint from ops.gate_results where gate_run_id = %s",
            (gate_run_id,),
        ).fetchone()
    if row is None:
        raise LookupError(f"no validation {gate_run_id} in ops.gate_results")
    month, success, failures, data_docs, alerts, dbt_id, fingerprint = row
    summary = "\n".join(f.get("summary", "") for f in failures)
    return GateOutcome(gate_run_id, month, success, summary, data_docs, alerts, dbt_id, fingerprint)


def publish(
    settings: Settings,
    month: date,
    dbt_invocation_id: str | None,
    gate_run_id: str,
    *,
    forced_reason: str | None = None,
):
    """Publish the month's audit rows as a revision (chiso/publish.py). The gate outcome is
    read from ops.gate_results by id, not taken from the caller."""
    from chiso.db.bootstrap import urls
    from chiso.publish import publish_month

    outcome = gate_outcome(settings, gate_run_id)
    if outcome.month != month:
        raise ValueError(f"validation {gate_run_id} is of {outcome.month:%Y-%m}, not {month:%Y-%m}")
    if outcome.audit_fingerprint is None:
        raise ValueError(
            f"validation {gate_run_id} did not record which rows it read; validate the month again"
        )
    return publish_month(
        urls(settings).transformer,
        month,
        dbt_invocation_id=dbt_invocation_id or outcome.dbt_invocation_id,
        gate_success=outcome.success,
        gate_run_id=gate_run_id,
        forced_reason=forced_reason,
        validated_fingerprint=outcome.audit_fingerprint,
    )


def report(settings: Settings, month: date) -> Path:
    from chiso.db.bootstrap import urls
    from chiso.report.monthly import render

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
