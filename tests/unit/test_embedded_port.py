"""The embedded server keeps its port across a crash (chiso/runtime/embedded_postgres.py).

A server that stops as a crash does closes its clients' connections first, leaving them in
TIME_WAIT on its port for a minute. The free-port check used to bind without SO_REUSEADDR,
which those sockets refuse, so the restarted server moved to another port, away from every
client's URL (found by tests/e2e/test_build_faults.py). It now binds as PostgreSQL does.
"""

from __future__ import annotations

import socket

import pytest

from chiso.runtime.embedded_postgres import port_free


def test_a_port_left_in_time_wait_by_a_crashed_server_is_free_again() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server's side closes first: TIME_WAIT on the server's port
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):  # what the old check saw
        plain.bind(("127.0.0.1", port))
    assert port_free(port)


def test_a_port_something_listens_on_is_taken() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        assert not port_free(other.getsockname()[1])
