"""A real Redis for the tests: the distribution's `redis-server`, installed with apt-get when
missing and the tests run as root (as CI does), started on a free loopback port in the
foreground of a process the test owns, persisting nothing (a broker's queue the scheduler
refills after a restart)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.warehouses import file_lock, free_port

PACKAGE = "redis-server"


class RedisMissing(RuntimeError):
    """redis-server is not installed and cannot be installed here."""


def ensure_redis() -> Path:
    """The redis-server program, installed from the distribution's package when missing."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    if os.geteuid() != 0:
        raise RedisMissing(
            f"redis-server is missing: `sudo apt-get install --no-install-recommends {PACKAGE}`"
            " (the tests install it themselves when run as root)"
        )
    with file_lock("apt"):
        if not shutil.which("redis-server"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE],
            ):
                subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=900)
    found = shutil.which("redis-server")
    if not found:
        raise RedisMissing("apt-get installed redis-server but it is still not on PATH")
    return Path(found)


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def redis(folder: Path) -> Iterator[str]:
    """A Redis on a free loopback port for the block; yields its URL (database 0)."""
    server = ensure_redis()
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "redis.log", "ab")  # noqa: SIM115 (the server owns it)
    proc = subprocess.Popen(
        [str(server), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RedisMissing(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
        log.close()
