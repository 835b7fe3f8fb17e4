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


_PERSONAL_TOKEN = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\S*\d{6,}\S*")
# PostgreSQL's context of a failed COPY quotes the whole line, names and all
_COPY_LINE = re.compile(r'(COPY [^,\n]+, line \d+(?:, column [^:\n]+)?): ".*?"(?=\n|$)', re.M)
# a URL's user:password@ part
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def scrub(text: str) -> str:
    """Free text (an exception's message) as an error or a log may show it: credentials in a
    URL and the line a failed COPY quotes dropped, and every token that could be a personal
    datum (six digits or more, an e-mail) replaced by its shape. For messages whose values
    are not delimited, where :func:`quoted` cannot be applied to the value alone."""
    text = _COPY_LINE.sub(r'\1: "…"', text)
    text = _URL_CREDENTIALS.sub(r"\g<scheme>…@", text)
    return _PERSONAL_TOKEN.sub(lambda m: shape(m.group(0)), text)
