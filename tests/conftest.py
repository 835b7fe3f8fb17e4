"""Shared fixtures: an isolated chiso home (embedded PostgreSQL, simulator) per test module.

Each fixture points CHISO_HOME and the service ports at fresh values, so tests never touch the
demo's `.var` and can run while a demo is up.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chiso.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Env:
    settings: Settings
    urls: object


@pytest.fixture(scope="module")
def chiso_env() -> Iterator[Env]:
    """A running, bootstrapped embedded warehouse in a temporary CHISO_HOME.

    Not under pytest's tmp_path: another pytest session resets that tree to mode 0700, which
    would lock out the unprivileged user the server runs as under root.
    """
    from chiso.db.bootstrap import bootstrap
    from chiso.db.embedded import EmbeddedPostgres

    home = Path(tempfile.mkdtemp(prefix="chiso-test-"))
    keys = ("CHISO_HOME", "CHISO_PG_PORT", "CHISO_SIMULATOR_PORT", "CHISO_AIRFLOW_PORT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        CHISO_HOME=str(home),
        CHISO_PG_PORT=str(free_port()),
        CHISO_SIMULATOR_PORT=str(free_port()),
        CHISO_AIRFLOW_PORT=str(free_port()),
    )
    os.environ.pop("CHISO_WAREHOUSE_URL", None)
    settings = Settings.from_env()
    try:
        yield Env(settings, bootstrap(settings))
    finally:
        from chiso.cli import simulator_stop

        simulator_stop(settings)
        EmbeddedPostgres(settings).destroy()
        shutil.rmtree(home, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
