"""Sidecars a sender delivers beside a file to say what it sent: a manifest or a checksum.

A transfer that stops at a line boundary leaves a CSV (or JSON lines, or a re-saved sheet)
that reads as a whole, shorter month; nothing in the file tells. When the sender writes down
what it sent, the loader checks the file against it before anything lands:

- ``<file>.manifest.json``: ``{"file": "x.csv", "records": 1234, "sha256": "…"}``
  (``rows`` or ``so_ban_ghi`` for ``records``; every key optional);
- ``<file>.sha256``: the line ``sha256sum`` prints (``<hex>  x.csv``) or the hex alone.

A file whose bytes differ from the declared sha256, or whose records differ in number from
the declared count, is quarantined with the reason: a file cut short never loads as a
shorter month. A sidecar that cannot be read quarantines its file too (what it would have
said is unknown). The sidecars travel with their file to the archive or the quarantine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

MANIFEST_SUFFIX = ".manifest.json"
CHECKSUM_SUFFIX = ".sha256"
SIDECAR_SUFFIXES = (MANIFEST_SUFFIX, CHECKSUM_SUFFIX)
_MAX_SIDECAR_BYTES = 64 << 10
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_COUNT_KEYS = ("records", "rows", "so_ban_ghi", "record_count", "row_count")


class ManifestError(ValueError):
    """A sidecar that cannot be read, or a file that does not match it."""


@dataclass(frozen=True)
class Manifest:
    """What the sender declared of one file: its record count and sha256 (either may be
    unknown), and the sidecars that said so."""

    records: int | None
    sha256: str | None
    sidecars: tuple[Path, ...]

    def describe(self) -> str:
        return " and ".join(p.name for p in self.sidecars)


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIXES)


def sidecars_of(path: Path) -> list[Path]:
    """The sidecars lying beside ``path`` now."""
    return [
        path.with_name(path.name + suffix)
        for suffix in SIDECAR_SUFFIXES
        if path.with_name(path.name + suffix).is_file()
    ]


def read_manifest(path: Path) -> Manifest | None:
    """What the sidecars beside ``path`` declare (None: it has none). Raises ManifestError
    naming the sidecar when one cannot be read or two disagree."""
    found = sidecars_of(path)
    if not found:
        return None
    records: int | None = None
    digests: list[tuple[Path, str]] = []
    for sidecar in found:
        text = _text_of(sidecar)
        if sidecar.name.endswith(MANIFEST_SUFFIX):
            count, digest = _manifest_values(sidecar, text, path.name)
            records = count
            if digest:
                digests.append((sidecar, digest))
        else:
            digests.append((sidecar, _checksum_value(sidecar, text, path.name)))
    if len({d for _, d in digests}) > 1:
        raise ManifestError(
            f"{path.name}: {' and '.join(p.name for p, _ in digests)} declare different"
            " checksums: ask the sender which is right"
        )
    return Manifest(records, digests[0][1] if digests else None, tuple(found))


def check_bytes(path: Path, manifest: Manifest, sha256: str) -> None:
    """Refuse a file whose bytes are not the ones its sender declared."""
    if manifest.sha256 is not None and manifest.sha256 != sha256:
        raise ManifestError(
            f"{path.name}: its sha256 is not the one {manifest.describe()} declares: the file"
            " was cut short or changed on its way (or is still being copied); ask for it again"
        )


def check_records(origin: str, manifest_name: str, declared: int, landed: int) -> str | None:
    """Why ``landed`` records do not match the ``declared`` count (None: they do)."""
    if declared == landed:
        return None
    what = (
        "part of the delivery is missing"
        if landed < declared
        else "it holds more records than were sent"
    )
    return (
        f"{origin}: the file holds {landed} records, {manifest_name} declares {declared}:"
        f" {what} (cut short or re-exported?); ask for the file again"
    )


def _text_of(sidecar: Path) -> str:
    if sidecar.is_symlink():  # it may point anywhere on the machine: never read
        raise ManifestError(f"{sidecar.name}: a symbolic link, not a delivered file: refused")
    data = sidecar.read_bytes()[: _MAX_SIDECAR_BYTES + 1]
    if len(data) > _MAX_SIDECAR_BYTES:
        raise ManifestError(f"{sidecar.name}: over {_MAX_SIDECAR_BYTES} bytes: not a sidecar")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{sidecar.name}: byte {exc.start}: not UTF-8 text") from None


def _manifest_values(sidecar: Path, text: str, file_name: str) -> tuple[int | None, str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{sidecar.name}: line {exc.lineno}: not JSON ({exc.msg}): cut short or still"
            " being written?"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(f"{sidecar.name}: expected a JSON object")
    named = data.get("file")
    if named is not None and str(named) != file_name:
        raise ManifestError(f"{sidecar.name}: describes {named!s:.80}, not {file_name}")
    count = next((data[k] for k in _COUNT_KEYS if k in data), None)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise ManifestError(f"{sidecar.name}: field records: not a count")
    digest = data.get("sha256")
    if digest is not None and not (isinstance(digest, str) and _HEX.match(digest)):
        raise ManifestError(f"{sidecar.name}: field sha256: not 64 hexadecimal digits")
    return count, digest.lower() if isinstance(digest, str) else None


def _checksum_value(sidecar: Path, text: str, file_name: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ManifestError(f"{sidecar.name}: expected one line '<sha256>  {file_name}'")
    digest, _, named = lines[0].strip().partition(" ")
    named = named.strip().lstrip("*")  # sha256sum marks binary mode with '*'
    if not _HEX.match(digest):
        raise ManifestError(f"{sidecar.name}: line 1: not a sha256 (64 hexadecimal digits)")
    if named and named != file_name:
        raise ManifestError(f"{sidecar.name}: line 1: names {named:.80}, not {file_name}")
    return digest.lower()
