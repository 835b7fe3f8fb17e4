"""Match a vendor's column headers to canonical fields through the alias table.

Headers differ by vendor, by upgrade and by typist ("Ngày tiếp nhận", "NGÀY TIẾP NHẬN",
"NgayTiepNhan", "Ngày  tiếp nhận "). Both sides are *folded* before comparing: legacy font
text converted, NFC, diacritics and case dropped, đ→d, camelCase split, punctuation collapsed.
The alias table itself is data (``chiso/sources/aliases.yaml``), so supporting a new vendor
spelling is a one-line change reviewed like any other data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from chiso.core.text_codec import fix_text
from chiso.sources.canonical import ALIASES_YAML, ENTITIES, Entity

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(label: object) -> str:
    """Comparable form of a header: 'Ngày Tiếp Nhận' / 'NgayTiepNhan' → 'ngay tiep nhan'."""
    if label is None:
        return ""
    return _fold(str(label))


@lru_cache(maxsize=8192)
def _fold(label: str) -> str:
    text = fix_text(label)
    text = _CAMEL.sub(" ", text)
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped.lower()).strip()


@dataclass(frozen=True)
class AliasTable:
    """Folded alias → canonical field, per entity."""

    by_entity: dict[str, dict[str, str]]

    def lookup(self, entity: Entity, label: str) -> str | None:
        return self.by_entity[entity.qualified_name].get(fold(label))


@lru_cache(maxsize=4)
def load_aliases(path: Path = ALIASES_YAML) -> AliasTable:
    # libyaml's loader when present: the alias table is read on every ingest process start.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    by_entity: dict[str, dict[str, str]] = {}
    for ent in ENTITIES:
        table: dict[str, str] = {}
        for name in ent.columns:
            table[fold(name)] = name
        for name, aliases in (raw.get(ent.qualified_name) or {}).items():
            if name not in ent.columns:
                raise ValueError(f"{path}: {ent.qualified_name} has no field {name!r}")
            for alias in aliases or ():
                key = fold(alias)
                if table.get(key, name) != name:
                    raise ValueError(
                        f"{path}: alias {alias!r} of {ent.qualified_name}.{name} already "
                        f"names {table[key]}"
                    )
                table[key] = name
        by_entity[ent.qualified_name] = table
    return AliasTable(by_entity)


@dataclass
class HeaderMatch:
    """Where each canonical field sits in a table's columns."""

    entity: Entity
    labels: list[str]
    # column index → canonical field (None: not a canonical field → goes to _extra)
    fields: list[str | None]
    missing_required: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(1 for f in self.fields if f)

    @property
    def extras(self) -> list[str]:
        return [lbl for lbl, f in zip(self.labels, self.fields, strict=True) if not f and lbl]

    @property
    def index_of(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.fields) if f}


def match_headers(
    entity: Entity,
    labels: Sequence[str],
    parents: Sequence[str] | None = None,
    aliases: AliasTable | None = None,
) -> HeaderMatch:
    """Map column labels to fields; under merged headers try "parent child", then the child.

    A field claimed by two columns keeps the first and the second goes to ``_extra``: a
    silent overwrite would lose data.
    """
    aliases = aliases or load_aliases()
    fields: list[str | None] = []
    seen: set[str] = set()
    for i, label in enumerate(labels):
        parent = (parents[i] if parents else "") or ""
        candidates = [f"{parent} {label}".strip(), label] if parent else [label]
        if parent and not str(label).strip():
            candidates = [parent]
        found = None
        for cand in candidates:
            name = aliases.lookup(entity, cand)
            if name and name not in seen:
                found = name
                break
        if found:
            seen.add(found)
        fields.append(found)
    combined = [
        f"{(parents[i] if parents else '') or ''} {lbl}".strip() for i, lbl in enumerate(labels)
    ]
    missing = [f.name for f in entity.fields if f.required and f.name not in seen]
    return HeaderMatch(entity, combined, fields, missing)


def best_entity(
    candidates: Sequence[Entity], labels: Sequence[str], parents: Sequence[str] | None = None
) -> HeaderMatch:
    """The candidate entity whose fields the headers match best (most matches, then fewest
    missing required fields)."""
    matches = [match_headers(e, labels, parents) for e in candidates]
    return max(matches, key=lambda m: (not m.missing_required, m.matched, -len(m.extras)))
