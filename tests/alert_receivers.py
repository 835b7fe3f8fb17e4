"""Local receivers for the alerts the gate sends: an SMTP server and a webhook endpoint,
both on loopback, keeping what they receive for the tests to read."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.warehouses import free_port


class Mailbox:
    """An SMTP server on loopback (aiosmtpd) keeping every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"

    def connection(self, to: str) -> dict:
        """The Airflow connection (conn_type smtp) that sends to this mailbox."""
        return {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": self.port,
            "extra": {
                "from_email": "chiso@so-tttt.example.vn",
                "to": [to],
                "disable_ssl": True,
                "disable_tls": True,
                "retry_limit": 0,
            },
        }


def subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def html_body(message) -> str:
    return "".join(
        part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        for part in message.walk()
        if part.get_content_type() == "text/html"
    )


class Webhook:
    """An HTTP endpoint on loopback keeping every JSON body posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def wait_for(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@contextlib.contextmanager
def receiving(monkeypatch) -> Iterator[tuple[Mailbox, Webhook]]:
    """Both receivers running, and the alert connections (AIRFLOW_CONN_CHISO_ALERT_SMTP and
    _WEBHOOK) pointing at them."""
    mailbox, webhook = Mailbox(), Webhook()
    mailbox.controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_CHISO_ALERT_SMTP", json.dumps(mailbox.connection("van-hanh@example.vn"))
    )
    hook = {"conn_type": "http", "host": "127.0.0.1", "port": webhook.port, "schema": "http",
            "extra": {"endpoint": "/hooks/chiso"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_CHISO_ALERT_WEBHOOK", json.dumps(hook))
    try:
        yield mailbox, webhook
    finally:
        mailbox.controller.stop()
        webhook.server.shutdown()
