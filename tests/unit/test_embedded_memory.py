"""The embedded server's memory settings (chiso/runtime/embedded_postgres.py): a quarter of the
machine's memory for its buffers within bounds, an operator's values when set, and nothing but
a size on the server's command line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from chiso.core.config import Settings
from chiso.runtime.embedded_postgres import (
    EmbeddedPostgresError,
    default_shared_buffers,
    memory_options,
)

SETTINGS = Settings(
    home=Path("/nonexistent"), external_url=None, pg_port_hint=0, airflow_port=0,
    simulator_port=0,
)  # fmt: skip


def _megabytes(option: str, name: str) -> int:
    match = re.search(rf"-c {name}=(\d+)MB", option)
    assert match, option
    return int(match[1])


def test_the_buffers_take_a_quarter_of_the_memory_within_bounds(monkeypatch) -> None:
    page = 4096
    for memory_mb, expected in ((256, 128), (4096, 1024), (24576, 2048)):
        pages = memory_mb * 2**20 // page
        monkeypatch.setattr(
            "os.sysconf", lambda name, p=pages: page if name == "SC_PAGE_SIZE" else p
        )
        assert default_shared_buffers() == f"{expected}MB"
        assert _megabytes(memory_options(SETTINGS), "shared_buffers") == expected
    assert _megabytes(memory_options(SETTINGS), "work_mem") == 32


def test_an_operators_values_win() -> None:
    chosen = dataclasses.replace(SETTINGS, pg_shared_buffers="6GB", pg_work_mem="256kB")
    assert memory_options(chosen) == "-c shared_buffers=6GB -c work_mem=256kB"


@pytest.mark.parametrize("value", ["2 GB", "1GB -c fsync=off", "lots", "", "-1MB"])
def test_a_value_that_is_not_a_size_is_refused_by_name(value: str) -> None:
    chosen = dataclasses.replace(SETTINGS, pg_shared_buffers=value or "x")
    with pytest.raises(EmbeddedPostgresError, match="CHISO_PG_SHARED_BUFFERS must be a size"):
        memory_options(chosen)
