"""Validate one built month: run the gate, record the verdict, alert when it fails.

The gate (chiso/quality/gate.py) answers whether the month is safe to publish; this module
puts that answer in the warehouse (ops.gate_results, with the fingerprint of the audit rows it
read) and tells the operators when it is no. Recording comes before alerting: a notifier
that breaks must not lose the failing expectations.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

import psycopg

from chiso.core.config import Settings
from chiso.notify import alerts
from chiso.publish.fingerprint import audit_fingerprint
from chiso.quality import results
from chiso.quality.alert import gate_failure_alert
from chiso.quality.gate import GateResult, validate_month
from chiso.quality.parameters import gate_parameters
from chiso.quality.results import GateFailed, GateOutcome
from chiso.runtime.warehouse import urls
from chiso.transform.dbt import latest_build_invocation

log = logging.getLogger(__name__)


def validate(
    settings: Settings,
    month: date,
    *,
    dbt_invocation_id: str | None = None,
    raise_on_failure: bool = True,
) -> GateOutcome:
    """Run the GX gate for the month and record the outcome in ops.gate_results (failing
    expectations with sample rows, the Data Docs written, the alerts sent). On failure the
    operators are alerted and GateFailed is raised, unless `raise_on_failure` is False
    (`chiso publish` decides itself)."""
    url = urls(settings).transformer
    with psycopg.connect(url) as conn:
        # before the gate reads them: a rebuild during validation makes publishing refuse
        fingerprint = audit_fingerprint(conn, month)
        dbt_invocation_id = dbt_invocation_id or latest_build_invocation(conn)
    agencies, indicators, expected_rows = gate_parameters(url, month)
    result = validate_month(
        url,
        month,
        valid_agency_codes=agencies,
        indicator_codes=indicators,
        expected_rows=expected_rows,
        data_docs_dir=settings.data_docs_dir if settings.data_docs else None,
        parameters_file=settings.gate_parameters_file,
    )
    gate_run_id = str(uuid.uuid4())
    data_docs = str(result.data_docs) if result.data_docs else None
    results.record(
        url,
        gate_run_id=gate_run_id,
        month=month,
        success=result.success,
        evaluated=result.evaluated,
        failures=[_failure_record(f) for f in result.failures],
        warnings=[_failure_record(w) for w in result.warnings],
        dbt_invocation_id=dbt_invocation_id,
        data_docs=data_docs,
        audit_fingerprint=fingerprint,
    )
    sent = None
    if not result.success:
        sent = _alert(url, result, gate_run_id, data_docs)
        results.record_alerts(url, gate_run_id, sent)
    outcome = GateOutcome(
        gate_run_id, month, result.success, result.summary(), data_docs, sent,
        dbt_invocation_id, fingerprint,
    )  # fmt: skip
    if not result.success:
        message = f"{month:%Y-%m} failed validation; not published:\n{result.summary()}"
        if raise_on_failure:
            raise GateFailed(message, outcome)
        log.warning(message)
    else:
        log.info("%s passed validation (%s expectations)", f"{month:%Y-%m}", result.evaluated)
    if result.success and result.warnings:  # a failure's message above holds them already
        log.warning("%s", result.summary())
    return outcome


def _failure_record(failure: Any) -> dict[str, Any]:
    return {
        "suite": failure.suite,
        "expectation": failure.expectation_type,
        "description": failure.description,
        "column": failure.column,
        "observed": failure.observed,
        "summary": failure.describe(),
        "sample_rows": failure.sample_rows,
    }


def _alert(url: str, result: GateResult, gate_run_id: str, data_docs: str | None) -> dict:
    """Alert the operators of a failed gate; returns what was sent, skipped and failed.

    Never raises: the gate's outcome is what stops the month, and an alert that could not be
    built or sent is recorded as failed (ops.gate_results.alerts) and logged.
    """
    try:
        with psycopg.connect(url) as conn:
            revision = conn.execute(
                "select max(revision) from ops.publications where period_month = %s",
                (result.month,),
            ).fetchone()[0]
        alert = gate_failure_alert(
            result, gate_run_id=gate_run_id, published_revision=revision, data_docs=data_docs
        )
        return asdict(alerts.send(alert))
    except Exception as exc:  # any notifier error is recorded, not raised
        log.exception("alert for the failed gate of %s could not be sent", f"{result.month:%Y-%m}")
        return asdict(alerts.Delivery(failed={"alert": f"{type(exc).__name__}: {exc}"}))
