"""Records held back because their agency code was unknown, and released when it is known.

Ingest parks an API record whose agency code no version of the loaded reference data has
(chiso/ingest/loader.py, ``unknown_agency_check``; chiso/ingest/rejects.py), and quarantines a
file that carries one, naming row and field: a vendor serves an agency the operator has not
added yet, and the rest of the month goes on without it. When a reference load adds the code
(chiso/reference/changes.py), :func:`request_repulls` asks for the parked records' months to
be pulled again whole (ops.repull_requests, read by the next pull of each source), and
:func:`release_quarantined_files` puts the quarantined files back in their inbox.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import psycopg

from chiso.ingest.files import INBOX_SKIP
from chiso.ingest.loader import UNKNOWN_AGENCY
from chiso.ingest.pulls import CHILDREN

log = logging.getLogger(__name__)

PARENT = {child: parent for parent, children in CHILDREN.items() for child in children}


def request_repulls(conn: psycopg.Connection, codes: Sequence[str]) -> int:
    """Ask for every month holding a record parked for one of `codes` to be pulled again (the
    month of its pull's primary entity: a parked progress update comes back with its dossier).
    Returns how many parked records that covers."""
    if not codes:
        return 0
    # the province the reference data now places each code in: in a deployment of several,
    # that province's installation pulls the month again (chiso/sources/systems.py)
    rows = conn.execute(
        "select r.entity, r.record_month, a.province_code, count(*)"
        " from raw.rejected_records as r left join lateral (select min(province_code)"
        " as province_code from reference.agencies where agency_code = trim(r.record ->> r.field))"
        " as a on true"
        " where r.field is not null and r.problem like %s and trim(r.record ->> r.field) = any(%s)"
        " group by 1, 2, 3",
        (f"{UNKNOWN_AGENCY}%", list(codes)),
    ).fetchall()
    for entity, month, province, _ in rows:
        conn.execute(
            "insert into ops.repull_requests (entity, extract_month, province_code, reason)"
            " values (%s, %s, %s, %s) on conflict (entity, extract_month,"
            " coalesce(province_code, '')) where repulled_at is null do nothing",
            (PARENT.get(entity, entity), month, province, "a reference load added the agency code"),
        )
    return sum(n for *_, n in rows)


def release_quarantined_files(inbox: Path, codes: Sequence[str]) -> list[Path]:
    """Move back into their inbox folder the quarantined files whose error was an unknown
    agency code among `codes`; returns where they went."""
    if not codes:
        return []
    wanted = re.compile(
        re.escape(UNKNOWN_AGENCY) + r": '(" + "|".join(re.escape(c) for c in codes) + r")'"
    )
    released = []
    for note in sorted((inbox / "quarantine").glob("*/*.error.txt")):
        if not wanted.search(note.read_text(encoding="utf-8", errors="replace")):
            continue
        source = note.parent.name
        held = note.with_name(note.name.removesuffix(".error.txt"))
        if source in INBOX_SKIP or not held.exists():
            continue
        target = inbox / source / held.name
        if target.exists():
            log.warning("not released: %s is in the inbox already", target.name)
            continue
        shutil.move(held, target)
        note.unlink()
        released.append(target)
    return released
