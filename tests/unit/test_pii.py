"""The personal-data hash key: where it comes from, and that the SQL recipe is real HMAC."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import stat

import pytest

from chiso.core.config import Settings
from chiso.core.pii import ENV_VAR, keyed_hash, pads, pgoptions, pii_key


def _sql_recipe(key: bytes, value: str) -> str:
    """What the pii_hash macro computes: sha256(okey || sha256(ikey || value))."""
    inner, outer = (bytes.fromhex(h) for h in pads(key))
    digest = hashlib.sha256(inner + value.strip(" ").encode()).digest()
    return hashlib.sha256(outer + digest).hexdigest()


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 100, "khóa bí mật".encode()])
def test_pads_give_standard_hmac(key):
    for value in ["001234567890", " Nguyễn Văn Ánh ", "a@b.vn"]:
        expected = hmac.new(key, value.strip(" ").encode(), hashlib.sha256).hexdigest()
        assert _sql_recipe(key, value) == expected == keyed_hash(key, value)


def test_key_file_is_generated_once_private_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    s = dataclasses.replace(Settings.from_env(), home=tmp_path)
    first = pii_key(s)
    assert len(first) == 64 and pii_key(s) == first
    mode = stat.S_IMODE((tmp_path / "secrets" / "pii.key").stat().st_mode)
    assert mode == 0o600
    monkeypatch.setenv(ENV_VAR, "from-the-vault")
    assert pii_key(s) == b"from-the-vault"
    assert "from-the-vault" not in pgoptions(s)  # only the pads travel, as hex
