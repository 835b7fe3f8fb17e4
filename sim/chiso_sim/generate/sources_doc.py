"""Render docs/sources.md from the canonical schemas and the alias table.

The document is generated so it cannot drift from what ingest actually accepts; the test suite
fails when the committed file differs from a fresh render (`make generate` rewrites it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from chiso.core.config import DOCS_DIR
from chiso.ingest.vocabulary import VOCABULARIES_YAML
from chiso.sources.canonical import ALIASES_YAML, ENTITIES, SOURCES

DOC = DOCS_DIR / "sources.md"

INTRO = """# Source systems: canonical schemas, header aliases and value words

Generated from `chiso/sources/canonical.py`, `chiso/sources/aliases.yaml` and
`chiso/sources/vocabularies.yaml` by `make generate` (chiso_sim.generate.sources_doc); do not
edit by hand.

Every delivery (API page or file) is mapped onto one of these entities before it lands in
`raw.<source>__<entity>` (one text column per field, as sent, plus `_extra` for unknown
columns and load metadata). Headers match a field when, after folding (legacy TCVN3/VNI text
converted, accents, case and punctuation dropped, camelCase split), they equal the field's
name or one of its aliases. Under a merged header the label is "parent child".

Types say how ingest validates a value before committing and how staging casts it; the
layouts accepted are those of the parsing functions in
`chiso/migrations/R__parsing_functions.sql` (day-first dates, yyyyMMddHHmmss, ISO 8601, Excel
serial days; thousands dot and decimal comma; 1/0, có/không, x).
Fields marked PII are personal data: they exist in `raw` only.

JSON records (files and API pages) need not carry the same keys: many vendors leave out the
keys of null values. The first record chooses the entity; each record then lands every key in
its field's column, whichever record first shows the key, nested supplements and progress rows
alike; a key no field knows goes to `_extra`, never lost. An API pull's content digest covers
the fields, the extras and the nested records, not the order of the keys.

Replacement: a corrected re-delivery of a month replaces that month's rows *for the agencies
it contains* (scope `agency_month`), or the whole month (scope `month`, and every API pull).

Abbreviated header words are spelt out before a second lookup ({abbreviations}). A required
field no header matches stops the file with the headers seen and the nearest ones.

Coded fields (status, channel, result by post, applicant kind, paid online) accept their codes
and the words vendors print for them (tables "Words for codes" below, folded as headers are).
Ingest records what each value it loaded stands for in `raw.value_codes`, which staging joins;
a value in neither stops its delivery (a file is quarantined) with an error naming the file,
row, field and value.

A deployment adds header spellings, abbreviations and words without editing the package, in
its own alias file `<CHISO_HOME>/aliases.yaml` (or the file `CHISO_ALIASES_FILE` names), with
sections `headers:` (the shape of `aliases.yaml`) and `values:` (the shape of
`vocabularies.yaml`); an entry contradicting the package's is refused.
"""


def render() -> str:
    aliases = yaml.safe_load(ALIASES_YAML.read_text(encoding="utf-8")) or {}
    words = yaml.safe_load(VOCABULARIES_YAML.read_text(encoding="utf-8")) or {}
    short = aliases.get("abbreviations") or {}
    out = [INTRO.format(abbreviations=", ".join(f"{k} = {v}" for k, v in short.items()))]
    for source in SOURCES:
        for ent in (e for e in ENTITIES if e.source == source):
            out.append(f"\n## `{ent.qualified_name}` → `raw.{ent.table}`\n")
            out.append(f"{ent.description}\n")
            out.append(
                f"Key: {', '.join(ent.key)}. Agency field: {ent.agency_field or '–'}. "
                f"Month from: {ent.period_field or 'the delivery'}. "
                f"Replacement scope: {ent.replace_scope}.\n"
            )
            out.append("| field | type | req. | PII | description | aliases |")
            out.append("|---|---|---|---|---|---|")
            table = aliases.get(ent.qualified_name) or {}
            for f in ent.fields:
                names = ", ".join(str(a) for a in table.get(f.name) or []) or "–"
                out.append(
                    f"| `{f.name}` | {f.type} | {'yes' if f.required else ''} | "
                    f"{'PII' if f.pii else ''} | {f.description} | {names} |"
                )
            coded = words.get(ent.qualified_name) or {}
            if coded:
                out.append("\nWords for codes:\n")
                out.append("| field | code | words |")
                out.append("|---|---|---|")
                for name, by_code in coded.items():
                    for code, listed in by_code.items():
                        out.append(f"| `{name}` | {code} | {', '.join(listed)} |")
    return "\n".join(out) + "\n"


def outputs() -> dict[Path, str]:
    """The committed file this generator owns, with the text it should hold."""
    return {DOC: render()}


def main() -> int:
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
