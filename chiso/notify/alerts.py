"""Alerts to operators (a month that failed the gate, a pipeline task that failed for good):
sending them by e-mail over SMTP and/or a webhook. What an alert says is written by the stage
that raises it (chiso/quality/alert.py, chiso/orchestration/failure_alert.py).

Both channels are Airflow connections, configured where operators configure the rest (the
UI, `airflow connections add`, a secrets backend, or an ``AIRFLOW_CONN_<ID>`` environment
variable, which also serves `chiso run-month` and `chiso publish` outside Airflow):

Outside Airflow only the environment variables (and a secrets backend configured by the
environment) are read, not Airflow's metadata database.

- ``chiso_alert_smtp`` (type ``smtp``): host, port, login and password of the mail relay;
  extra ``from_email``, ``to`` (a list or comma-separated addresses) and Airflow's SMTP
  options (``disable_ssl``, ``disable_tls``, ``timeout``, ``retry_limit``). Sent with Airflow's
  own ``SmtpHook`` (apache-airflow-providers-smtp).
- ``chiso_alert_webhook`` (type ``http``): schema, host, port; extra ``endpoint`` (path) and
  ``headers``; the password, when set, goes as a bearer token. The body is JSON with a
  ``text`` field (what chat tools such as Mattermost, Slack or Google Chat display) and the
  failures in structured form.

A channel that is not configured is skipped. A configured channel that fails is reported
(logged and returned) but never hides the gate's verdict: the month stays unpublished either
way. The text is Vietnamese first, for the province's operators, with the expectation names
as the suites spell them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SMTP_CONN_ID = "chiso_alert_smtp"
WEBHOOK_CONN_ID = "chiso_alert_webhook"


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str
    html: str
    payload: dict[str, Any]


@dataclass
class Delivery:
    """What happened to an alert: the channels reached, skipped (not configured), failed."""

    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def send(alert: Alert) -> Delivery:
    """Send `alert` on every configured channel."""
    delivery = Delivery()
    for conn_id, sender in ((SMTP_CONN_ID, _send_smtp), (WEBHOOK_CONN_ID, _send_webhook)):
        try:
            found = connection(conn_id)
        # defined but unreadable (malformed URI or JSON, secrets backend down): a channel that
        # should have carried the alert and did not, so failed, not skipped
        except Exception as exc:
            log.error("could not look up Airflow connection %s: %s", conn_id, exc)
            delivery.failed[conn_id] = f"connection lookup: {type(exc).__name__}: {exc}"
            continue
        if found is None:
            delivery.skipped.append(conn_id)
            continue
        try:
            sender(conn_id, found, alert)
        # any failure of a channel is reported, and the verdict stands anyway
        except Exception as exc:
            log.error("alert via %s failed: %s", conn_id, exc)
            delivery.failed[conn_id] = f"{type(exc).__name__}: {exc}"
        else:
            log.info("alert sent via %s", conn_id)
            delivery.sent.append(conn_id)
    if not delivery.sent and not delivery.failed:
        log.warning(
            "no alert channel configured (Airflow connections %s, %s): the failure is only"
            " in the task log and ops.gate_results",
            SMTP_CONN_ID,
            WEBHOOK_CONN_ID,
        )
    return delivery


def _airflow_outside_a_task() -> None:
    """Outside Airflow (`chiso run-month`, `chiso publish`) Airflow finds the channels in
    AIRFLOW_CONN_* variables (and any secrets backend the environment configures); its home
    is the project's, so importing it writes nothing under ~/airflow. Inside a task Airflow is
    configured already and left alone."""
    if "airflow" in sys.modules or "AIRFLOW_HOME" in os.environ:
        return
    from chiso.core.config import settings

    os.environ["AIRFLOW_HOME"] = str(settings().airflow_home)


def connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined anywhere Airflow looks; any
    other error of the lookup is raised."""
    _airflow_outside_a_task()
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def webhook_url(connection: Any) -> str:
    """The address to post to. Accepts the forms an operator writes: a host with the scheme
    in `schema` (or `conn_type` http/https), a host that is already a URL, and an endpoint
    in extra `endpoint` or in the path of a URI-style connection (which lands in `schema`)."""
    extra = connection.extra_dejson
    host = (connection.host or "").strip()
    schema = (connection.schema or "").strip()
    endpoint = str(extra.get("endpoint") or "").strip()
    if "://" in host:
        base = host.rstrip("/")
        if connection.port and base.count(":") == 1:
            base = f"{base}:{connection.port}"
    else:
        if schema in ("http", "https"):
            scheme = schema
        else:
            scheme = connection.conn_type if connection.conn_type in ("http", "https") else "https"
            # `http://host/hooks/abc` as a URI keeps `hooks/abc` in schema: it is the path
            endpoint = endpoint or schema
        port = f":{connection.port}" if connection.port else ""
        base = f"{scheme}://{host}{port}"
    return f"{base}/{endpoint.lstrip('/')}"


def recipients(extra: dict[str, Any], key: str = "to") -> list[str]:
    """The addresses of an extra field: a list, or one string separated by commas or
    semicolons."""
    to = extra.get(key) or []
    if isinstance(to, str):
        to = [a.strip() for a in to.replace(";", ",").split(",")]
    return [a for a in to if a]


def _send_smtp(conn_id: str, connection: Any, alert: Alert) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = recipients(connection.extra_dejson)
    if not to:
        raise ValueError(f"connection {conn_id} has no recipients (extra 'to')")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to, subject=alert.subject, html_content=alert.html)


def _send_webhook(conn_id: str, connection: Any, alert: Alert) -> None:
    import httpx

    extra = connection.extra_dejson
    url = webhook_url(connection)
    headers = {"Content-Type": "application/json; charset=utf-8", **(extra.get("headers") or {})}
    if connection.password:
        headers["Authorization"] = f"Bearer {connection.password}"
    transport = httpx.HTTPTransport(retries=3)
    with httpx.Client(transport=transport, timeout=float(extra.get("timeout", 30))) as client:
        response = client.post(
            url, content=json.dumps(alert.payload, ensure_ascii=False).encode(), headers=headers
        )
        response.raise_for_status()
