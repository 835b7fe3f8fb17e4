"""Match a vendor's column headers to canonical fields through the alias table.

Headers differ by vendor, by upgrade and by typist ("Ngày tiếp nhận", "NGÀY TIẾP NHẬN",
"NgayTiepNhan", "Ngày  tiếp nhận "). Both sides are *folded* before comparing: legacy font
text converted, NFC, diacritics and case dropped, đ→d, camelCase split, punctuation collapsed.
The alias table itself is data (``chiso/sources/aliases.yaml``, with the deployment's own
additions: :mod:`chiso.ingest.alias_files`), so supporting a new vendor spelling is a one-line
change reviewed like any other data. Abbreviated words ("Mã ĐD cơ quan", "Ngày TN") are spelt
out before a second lookup. A required field no header matches is reported with the headers
seen and the nearest of them (:meth:`HeaderMatch.missing_message`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from chiso.core.text_codec import fix_text
from chiso.ingest.alias_files import (
    AliasFileError,
    deployment_file,
    deployment_sections,
    deployment_stamp,
    read_yaml,
)
from chiso.sources.canonical import ALIASES_YAML, ENTITIES, Entity

ABBREVIATIONS = "abbreviations"  # the alias file's section of abbreviated header words
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
    """Folded alias → canonical field, per entity; abbreviations vendors use in headers."""

    by_entity: dict[str, dict[str, str]]
    abbreviations: dict[str, str] = field(default_factory=dict)
    deployment_file: Path | None = None

    def expand(self, folded: str) -> str:
        """'ma dd co quan' → 'ma dinh danh co quan' (each abbreviated word spelt out)."""
        return " ".join(self.abbreviations.get(w, w) for w in folded.split())

    def lookup(self, entity: Entity, label: str) -> str | None:
        table = self.by_entity[entity.qualified_name]
        key = fold(label)
        return table.get(key) or table.get(self.expand(key))


def load_aliases(path: Path = ALIASES_YAML) -> AliasTable:
    """The package's alias table with the deployment's additions (section ``headers:`` of its
    alias file, :mod:`chiso.ingest.alias_files`; re-read when that file changes)."""
    return _load_aliases(path, deployment_stamp())


@lru_cache(maxsize=4)
def _load_aliases(path: Path, deployment: tuple[str, float] | None) -> AliasTable:
    # libyaml's loader when present: the alias table is read on every ingest process start.
    package = read_yaml(path)
    extra_path = Path(deployment[0]) if deployment else None
    extra = deployment_sections(deployment)["headers"]
    abbreviations = {
        fold(k): fold(v)
        for source in (package, extra)
        for k, v in (source.get(ABBREVIATIONS) or {}).items()
    }
    known = {e.qualified_name for e in ENTITIES}
    for origin, data in ((path, package), (extra_path, extra)):
        unknown = sorted(set(data) - known - {ABBREVIATIONS})
        if unknown:
            raise AliasFileError(f"{origin}: no entity {unknown[0]!r}; known: {sorted(known)}")
    by_entity: dict[str, dict[str, str]] = {}
    for ent in ENTITIES:
        table: dict[str, str] = {}
        for name in ent.columns:
            table[fold(name)] = name
        for origin, data in ((path, package), (extra_path, extra)):
            for name, aliases in (data.get(ent.qualified_name) or {}).items():
                if name not in ent.columns:
                    raise AliasFileError(f"{origin}: {ent.qualified_name} has no field {name!r}")
                for alias in aliases or ():
                    key = fold(alias)
                    if table.get(key, name) != name:
                        raise AliasFileError(
                            f"{origin}: alias {alias!r} of {ent.qualified_name}.{name} already "
                            f"names {table[key]}"
                        )
                    table[key] = name
        # an alias written with abbreviations matches its spelt-out form too
        for key, name in list(table.items()):
            table.setdefault(" ".join(abbreviations.get(w, w) for w in key.split()), name)
        by_entity[ent.qualified_name] = table
    return AliasTable(by_entity, abbreviations, extra_path)


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

    def missing_message(self, missing: Sequence[str], aliases: AliasTable | None = None) -> str:
        """Why the table cannot load: each required field in `missing` with the headers seen
        nearest to its spellings, every header seen, and where to add a vendor's spelling."""
        aliases = aliases or load_aliases()
        table = aliases.by_entity[self.entity.qualified_name]
        unmatched = [lbl for lbl, f in zip(self.labels, self.fields, strict=True) if not f and lbl]
        parts = []
        for name in missing:
            spellings = [key for key, field_name in table.items() if field_name == name]
            near = nearest(unmatched, spellings, aliases)
            hint = ", ".join(f"{lbl!r} ({score:.0%})" for lbl, score in near) or "none close"
            parts.append(
                f"required field {name} ({self.entity.field(name).description}) matches no"
                f" header; nearest: {hint}"
            )
        where = "chiso/sources/aliases.yaml"
        where += f" or section headers: of {aliases.deployment_file or deployment_file()}"
        seen = ", ".join(repr(lbl) for lbl in self.labels if lbl)
        return (
            f"{self.entity.qualified_name}: {'; '.join(parts)}. Headers seen: {seen}."
            f" Add the vendor's spelling to {where}"
        )


def nearest(
    labels: Sequence[str], spellings: Sequence[str], aliases: AliasTable, limit: int = 3
) -> list[tuple[str, float]]:
    """The labels most like any of a field's folded spellings (similarity ≥ 0.5), best first."""
    scored = []
    for label in labels:
        key = aliases.expand(fold(label))
        score = max((SequenceMatcher(None, key, s).ratio() for s in spellings), default=0.0)
        if score >= 0.5:
            scored.append((label, score))
    return sorted(scored, key=lambda x: -x[1])[:limit]


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
