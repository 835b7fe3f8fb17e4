"""docs/sources.md is generated from the canonical schemas and alias table: keep it in sync."""

from chiso.ingest.headers import load_aliases
from chiso.sources.canonical import ENTITIES
from chiso.sources.docs import DOC, render


def test_committed_doc_matches_a_fresh_render() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m chiso.sources.docs"


def test_every_field_is_documented_and_the_alias_table_loads() -> None:
    text = render()
    load_aliases()  # raises on an alias naming two fields or an unknown field
    for ent in ENTITIES:
        assert f"`raw.{ent.table}`" in text
        for f in ent.fields:
            assert f"| `{f.name}` |" in text
