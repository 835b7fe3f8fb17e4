"""A pipeline task that fails for good alerts the operators through the local SMTP server and
webhook (Airflow connections in AIRFLOW_CONN_*); a failed gate, which alerted already, does not
alert twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from chiso.orchestration.tasks import alert_task_failure
from chiso.quality.results import GateFailed, GateOutcome
from tests.alert_receivers import html_body, receiving, subject, wait_for


@pytest.fixture
def receivers(monkeypatch):
    with receiving(monkeypatch) as both:
        yield both


def _context(exception: BaseException) -> dict:
    ti = SimpleNamespace(
        dag_id="monthly_kpi", task_id="transform", try_number=2, log_url="http://af/log"
    )
    # 17:00 UTC on 31 January is midnight of 1 February in Hà Nội: the run of February
    return {
        "ti": ti,
        "exception": exception,
        "data_interval_start": datetime(2020, 1, 31, 17, tzinfo=UTC),
    }


def test_a_failed_task_alerts_by_mail_and_webhook(receivers) -> None:
    mailbox, webhook = receivers
    alert_task_failure(_context(RuntimeError("dbt build failed: stg_one_stop__dossiers")))
    assert wait_for(lambda: mailbox.messages and webhook.received)
    recipients, message = mailbox.messages[-1]
    assert recipients == ["van-hanh@example.vn"]
    assert subject(message) == (
        "[chiso] Lỗi pipeline monthly_kpi.transform (tháng 2020-02): số liệu chưa được công bố"
    )
    assert "dbt build failed: stg_one_stop__dossiers" in html_body(message)
    path, _, payload = webhook.received[-1]
    assert path == "/hooks/chiso"
    assert payload["event"] == "chiso.task_failed" and payload["month"] == "2020-02"
    assert payload["try_number"] == 2 and "RuntimeError" in payload["error"]


def test_a_failed_gate_is_not_alerted_twice(receivers) -> None:
    mailbox, webhook = receivers
    outcome = GateOutcome("g", date(2020, 2, 1), False, "", None)
    alert_task_failure(_context(GateFailed("2020-02 failed validation", outcome)))
    alert_task_failure(_context(ValueError("then a real error")))
    assert wait_for(lambda: mailbox.messages and webhook.received)
    assert len(mailbox.messages) == 1 and "ValueError" in html_body(mailbox.messages[0][1])


def test_an_alert_carries_no_personal_datum_or_credential_of_the_error(receivers) -> None:
    """A task's exception may quote data (PostgreSQL's context of a failed statement quotes
    the row) or a URL with its credentials: the mail and the webhook carry it scrubbed."""
    mailbox, webhook = receivers
    error = RuntimeError(
        'invalid input syntax for type bigint: "001099012345"\n'
        'CONTEXT: COPY one_stop__dossiers, line 7: "H.7,Nguyễn Văn Ánh,001099012345,an@mail.vn"'
        "\nwhile posting to https://hooks:s3cret-token@chat.example.vn/hook"
    )
    alert_task_failure(_context(error))
    assert wait_for(lambda: mailbox.messages and webhook.received)
    sent = html_body(mailbox.messages[-1][1]) + json.dumps(webhook.received[-1][2])
    for datum in ("001099012345", "an@mail.vn", "s3cret-token", "Nguyễn Văn Ánh"):
        assert datum not in sent
    assert "line 7" in sent and "chat.example.vn" in sent  # what the operator needs stays
