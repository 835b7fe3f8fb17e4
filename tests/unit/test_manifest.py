"""The sidecars a sender writes beside a file (chiso.ingest.manifest): what is read from
them, and what makes one unreadable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chiso.ingest.manifest import (
    ManifestError,
    check_bytes,
    check_records,
    is_sidecar,
    read_manifest,
)

DIGEST = hashlib.sha256(b"ma_ho_so\r\n1\r\n").hexdigest()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "hs_2025-03.csv"
    path.write_bytes(b"ma_ho_so\r\n1\r\n")
    return path


def _beside(path: Path, suffix: str, text: str) -> Path:
    sidecar = path.with_name(path.name + suffix)
    sidecar.write_text(text, encoding="utf-8")
    return sidecar


def test_a_file_without_sidecars_has_no_manifest(data: Path) -> None:
    assert read_manifest(data) is None


def test_manifest_and_checksum_are_read_together(data: Path) -> None:
    _beside(data, ".manifest.json", json.dumps({"file": data.name, "so_ban_ghi": 1}))
    _beside(data, ".sha256", f"{DIGEST.upper()} *{data.name}\n")
    manifest = read_manifest(data)
    assert manifest is not None
    assert (manifest.records, manifest.sha256) == (1, DIGEST)
    assert manifest.describe() == f"{data.name}.manifest.json and {data.name}.sha256"
    check_bytes(data, manifest, DIGEST)
    with pytest.raises(ManifestError, match="its sha256 is not the one"):
        check_bytes(data, manifest, "0" * 64)


def test_the_bare_hex_of_a_checksum_file_is_enough(data: Path) -> None:
    _beside(data, ".sha256", DIGEST)
    manifest = read_manifest(data)
    assert manifest is not None and manifest.records is None and manifest.sha256 == DIGEST


@pytest.mark.parametrize(
    ("suffix", "text", "error"),
    [
        (".manifest.json", '{"records": 3, "sha', "line 1: not JSON"),
        (".manifest.json", "[1]", "expected a JSON object"),
        (".manifest.json", '{"records": true}', "field records: not a count"),
        (".manifest.json", '{"records": -1}', "field records: not a count"),
        (".manifest.json", '{"sha256": "abc"}', "field sha256: not 64 hexadecimal"),
        (".manifest.json", '{"file": "other.csv"}', "describes other.csv"),
        (".sha256", "abc  hs_2025-03.csv", "not a sha256"),
        (".sha256", f"{DIGEST}  other.csv", "names other.csv"),
        (".sha256", f"{DIGEST}\n{DIGEST}\n", "expected one line"),
    ],
)
def test_a_sidecar_that_cannot_be_read_is_named(data: Path, suffix, text, error) -> None:
    _beside(data, suffix, text)
    with pytest.raises(ManifestError, match=error) as caught:
        read_manifest(data)
    assert str(caught.value).startswith(data.name + suffix)


def test_two_sidecars_declaring_different_checksums_are_refused(data: Path) -> None:
    _beside(data, ".manifest.json", json.dumps({"sha256": DIGEST}))
    _beside(data, ".sha256", "f" * 64)
    with pytest.raises(ManifestError, match="declare different checksums"):
        read_manifest(data)


def test_a_symlinked_sidecar_is_never_read(data: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text('{"records": 1}')
    data.with_name(data.name + ".manifest.json").symlink_to(secret)
    with pytest.raises(ManifestError, match="symbolic link"):
        read_manifest(data)


def test_records_checked_both_ways() -> None:
    assert check_records("x.csv", "m", 3, 3) is None
    assert "part of the delivery is missing" in (check_records("x.csv", "m", 3, 2) or "")
    assert "more records than were sent" in (check_records("x.csv", "m", 3, 4) or "")
    assert is_sidecar(Path("x.csv.sha256")) and not is_sidecar(Path("x.csv"))
