"""The webhook address from the forms of Airflow connection an operator writes."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from chiso.notify.alerts import webhook_url


def _conn(**fields) -> Connection:
    extra = fields.pop("extra", None)
    return Connection(
        conn_id="chiso_alert_webhook", extra=json.dumps(extra) if extra else None, **fields
    )


@pytest.mark.parametrize(
    ("connection", "url"),
    [
        # the documented form: scheme in schema, path in extra endpoint
        (
            _conn(conn_type="http", host="127.0.0.1", port=8099, schema="http",
                  extra={"endpoint": "/hook"}),
            "http://127.0.0.1:8099/hook",
        ),
        # a URI: Airflow puts the path in schema
        (
            Connection.from_uri("https://chat.example.vn/hooks/abc", conn_id="w"),
            "https://chat.example.vn/hooks/abc",
        ),
        (
            Connection.from_uri("http://127.0.0.1:8099/hook", conn_id="w"),
            "http://127.0.0.1:8099/hook",
        ),
        # the whole URL pasted into host
        (
            _conn(conn_type="http", host="https://chat.example.vn", extra={"endpoint": "a/b"}),
            "https://chat.example.vn/a/b",
        ),
        (_conn(conn_type="generic", host="chat.example.vn"), "https://chat.example.vn/"),
    ],
)  # fmt: skip
def test_webhook_url(connection: Connection, url: str) -> None:
    assert webhook_url(connection) == url
