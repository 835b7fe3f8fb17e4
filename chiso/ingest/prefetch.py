"""Read an API delivery whole before its load takes the landing table's lock.

Loads of one raw table are serialised (chiso/ingest/loader.py, ``lock_tables``: the batch's
``_load_seq`` values stay contiguous). A COPY fed straight from the API would hold that lock
while the source pages through its answer, so the pulls of many provinces' installations of
one system (a national deployment, chiso/sources/systems.py) would page one after another,
each waiting for the previous one's HTTP. Prefetched, they page in parallel and queue only for
their COPY and landing.

What a part writes is kept as it would reach COPY, in a spooled temporary file (in memory up
to :data:`SPOOL_MEMORY`, on disk beyond), and replayed under the lock. Files are not
prefetched: reading a local file is as fast as COPY takes it.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar


class _Writer(Protocol):
    """A delivery's part (chiso.ingest.loader.Part, which imports this module): a dataclass
    whose `write` streams its rows into a COPY."""

    write: Any


P = TypeVar("P", bound=_Writer)

SPOOL_MEMORY = 16 * 1024 * 1024
_ROW, _DATA = 0, 1


class _Recorder:
    """Stands in for psycopg's Copy while a part writes; replays what it got into the real one."""

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115

    def write_row(self, row: Sequence[Any]) -> None:
        pickle.dump((_ROW, list(row)), self._spool, protocol=pickle.HIGHEST_PROTOCOL)

    def write(self, data: bytes | bytearray | memoryview | str) -> None:
        kept = data if isinstance(data, str) else bytes(data)
        pickle.dump((_DATA, kept), self._spool, protocol=pickle.HIGHEST_PROTOCOL)

    def replay(self, copy: Any) -> None:
        self._spool.seek(0)
        while True:
            try:
                kind, value = pickle.load(self._spool)  # our own spool, written above
            except EOFError:
                break
            if kind == _ROW:
                copy.write_row(value)
            else:
                copy.write(value)
        self._spool.close()


def prefetched(parts: Sequence[P]) -> list[P]:
    """The same parts, their rows read now (in order: a parent's writer fills its children's
    spools) and written again from the spool when the load runs. A failure of the source or a
    bad record raises here, before the load opens its transaction."""
    out: list[P] = []
    for part in parts:
        recorder = _Recorder()
        part.write(recorder)
        out.append(replace(part, write=recorder.replay))  # type: ignore[type-var]
    return out
