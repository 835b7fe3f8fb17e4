"""Validations as records: what the gate decided about a month, kept in ``ops.gate_results``.

The DAG's publish task receives only a validation's id from the validate task and reads the
outcome back from the warehouse, never from the caller: a publication can be traced to the
validation that allowed it, and nothing but a recorded verdict can allow one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg


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
    # chiso.publish.fingerprint.audit_fingerprint of the rows validated: what publishing checks
    audit_fingerprint: str | None = None


class GateFailed(RuntimeError):
    """The month failed validation; it was not published."""

    def __init__(self, message: str, outcome: GateOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def record(
    url: str,
    *,
    gate_run_id: str,
    month: date,
    success: bool,
    evaluated: int,
    failures: list[dict[str, Any]],
    dbt_invocation_id: str | None,
    data_docs: str | None,
    audit_fingerprint: str,
    warnings: list[dict[str, Any]] | None = None,
) -> None:
    """Store a validation (before any alert is sent: a notifier that breaks must not lose it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into ops.gate_results (period_month, success, evaluated, failures,"
            " warnings, gate_run_id, dbt_invocation_id, data_docs, audit_fingerprint)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                month,
                success,
                evaluated,
                json.dumps(failures, default=str, ensure_ascii=False),
                json.dumps(warnings or [], default=str, ensure_ascii=False),
                gate_run_id,
                dbt_invocation_id,
                data_docs,
                audit_fingerprint,
            ),
        )


def record_alerts(url: str, gate_run_id: str, alerts: dict[str, Any]) -> None:
    """Add what happened to the validation's alert (sent, skipped, failed per channel)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update ops.gate_results set alerts = %s where gate_run_id = %s",
            (json.dumps(alerts), gate_run_id),
        )


def outcome(url: str, gate_run_id: str) -> GateOutcome:
    """A recorded validation, by id."""
    with psycopg.connect(url) as conn:
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
