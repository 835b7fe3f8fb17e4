"""Whether the personal-data key is the one the warehouse's hashed columns were made with.

Staging replaces personal identifiers with HMAC-SHA256 under a key kept outside the database
(chiso/core/pii.py). Built with another key, the same citizen gets another hash, so months
built before and after a change would no longer join, and nothing would say so: a key file
lost and regenerated, a secret store pointing at another key, a restored warehouse with the
wrong home. Each build therefore compares the key's *check value* (an HMAC of a fixed text
under the key: it identifies the key without revealing it) with the one recorded in the
build state by the first build, and refuses to build with another key. Rotating the key on
purpose is a full rebuild that says so (`chiso transform --full-refresh --new-pii-key`).
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg

from chiso.transform.reference_state import read_state, write_state

ITEM = "pii_key_check"  # in ops.dbt_build_state, beside the reference fingerprint
_CHECK_TEXT = b"chiso personal-data key check value"


class PiiKeyMismatch(RuntimeError):
    """The personal-data key is not the one the warehouse's hashed columns were made with."""


def check_value(key: bytes) -> str:
    """A key's check value: 16 hex digits of HMAC-SHA256(key, a fixed text), in groups of
    four (``8185-6217-0e50-48a4``: read aloud over the phone, and never mistaken for an ID
    number by the scrubbing of error texts)."""
    digits = hmac.new(key, _CHECK_TEXT, hashlib.sha256).hexdigest()[:16]
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def verify_key(conn: psycopg.Connection, key: bytes, *, rotate: bool = False) -> str:
    """Refuse a build with another key than the warehouse's (PiiKeyMismatch, naming both
    check values), unless none is recorded yet or the build rotates the key on purpose (a
    full rebuild of every hashed column). Returns the key's check value, for
    :func:`record_key` once the build has succeeded."""
    current = check_value(key)
    recorded = read_state(conn, ITEM)
    if recorded in (None, current) or rotate:
        return current
    raise PiiKeyMismatch(
        f"the personal-data key (check value {current}) is not the one this warehouse's"
        f" hashed columns were made with (check value {recorded}); nothing was built."
        " Restore the key (secrets/pii.key of the home, or CHISO_PII_KEY) from its backup;"
        " to change the key on purpose, rebuild everything with"
        " `chiso transform --full-refresh --new-pii-key`"
    )


def record_key(conn: psycopg.Connection, value: str) -> None:
    """Record the check value of the key a successful build hashed with."""
    if read_state(conn, ITEM) != value:
        write_state(conn, ITEM, value)
