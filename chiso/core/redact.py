"""What an error may quote of a delivered value.

Errors reach the ledger, the quarantine notes, task logs and alerts, which operators and
mail servers keep: a quoted value must never be a personal datum. A value that could be one
(a run of six digits or more: a citizen ID, a phone or tax number; an ``@``: an e-mail) is
described by its shape instead (digits as ``9``, letters as ``a``), which still tells an
operator what went wrong ("9999999999/9999" in a date column) without the datum.
"""

from __future__ import annotations

import re
import unicodedata

_PERSONAL = re.compile(r"\d{6,}|@")


def shape(value: str, limit: int = 40) -> str:
    """``value`` with its digits as 9 and its letters as a (punctuation and spaces kept)."""
    out = []
    for ch in value[:limit]:
        if ch.isdigit():
            out.append("9")
        elif unicodedata.category(ch).startswith("L"):
            out.append("a")
        elif not unicodedata.category(ch).startswith("M"):  # combining marks go with their letter
            out.append(ch)
    return "".join(out)


def quoted(value: str, limit: int = 60) -> str:
    """The value as an error quotes it: itself, or its shape when it could be personal."""
    if _PERSONAL.search(value):
        return f"a value shaped {shape(value)!r}"
    return repr(value[:limit])
