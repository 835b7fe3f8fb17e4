"""The key of the keyed hash (HMAC-SHA256) that replaces personal data downstream of raw.

Raw keeps what a source sent. Staging replaces an identifier that is needed as a join key
(a citizen ID, an officer's name) by ``HMAC-SHA256(key, value)`` and drops the rest, so no
name, ID number, phone or e-mail reaches the marts in clear. A plain hash would not do: ID
numbers and phone numbers are short enough to enumerate.

The key never enters the database. It comes from ``CHISO_PII_KEY`` (an operator's secret
store) or, for the embedded default, from ``<home>/secrets/pii.key`` generated once with mode
0600. dbt gets it per session as two settings (``chiso.pii_ikey`` and ``chiso.pii_okey``: the
key XOR the HMAC inner and outer pads) through ``PGOPTIONS``, so the SQL written in models,
logs and ``dbt docs`` only ever names the settings. PostgreSQL's built-in ``sha256()`` then
computes the standard HMAC (RFC 2104) without pgcrypto, which the embedded server lacks.

Rotating the key changes every hashed value: rebuild staging and marts in full after it
(`chiso transform --full-refresh --new-pii-key`); a build with any other key than the one the
warehouse was built with is refused (chiso/transform/key_check.py).

An ID number is hashed in its canonical form (:func:`canonical_id`, and ``raw.canonical_id``
in SQL), so the spellings one number arrives in give one key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata

from chiso.core.config import Settings

ENV_VAR = "CHISO_PII_KEY"
BLOCK = 64  # SHA-256 block size in bytes


def pii_key(settings: Settings) -> bytes:
    """The key: from the environment, else the embedded default's key file (made once)."""
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR].encode("utf-8")
    path = settings.secrets_dir / "pii.key"
    if not path.exists():
        settings.ensure_dirs()
        path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
    return path.read_text().strip().encode("utf-8")


def pads(key: bytes) -> tuple[str, str]:
    """(key ⊕ ipad, key ⊕ opad) as hex, the two halves PostgreSQL needs for the HMAC."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return inner.hex(), outer.hex()


def pgoptions(settings: Settings) -> str:
    """libpq ``options`` that set the key's pads for one session."""
    inner, outer = pads(pii_key(settings))
    return f"-c chiso.pii_ikey={inner} -c chiso.pii_okey={outer}"


def keyed_hash(key: bytes, value: str) -> str:
    """What ``{{ pii_hash(...) }}`` computes in SQL, for tests and for operators' lookups."""
    return hmac.new(key, value.strip(" ").encode("utf-8"), hashlib.sha256).hexdigest()


# what separates a number's groups when a clerk types it ("001 099 012 345", "001.099.012.345")
_ID_SEPARATORS = re.compile(r"[\s.\-]")


def canonical_id(value: str) -> str:
    """An ID number (citizen ID, tax number, passport) in the one form it is hashed in.

    The same number arrives spelled several ways: typed with spaces or dots between groups,
    in full-width digits, and, from a spreadsheet that stored it as a number, without its
    leading zeros (every citizen ID starts with 0: ``001099012345`` becomes ``1099012345``).
    So: NFKC (full-width and no-break characters to plain ones), no separators, upper case,
    and an all-digit number without leading zeros. ``raw.canonical_id`` does the same in SQL
    (chiso/migrations/R__parsing_functions.sql); a test holds them equal.
    """
    text = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    if text.isascii() and text.isdigit():
        return text.lstrip("0") or "0"
    return text
