"""docs/sources.md is generated from the canonical schemas and alias table (that the
committed file is current: test_generated_files.py)."""

from chiso_sim.generate.sources_doc import render

from chiso.ingest.headers import load_aliases
from chiso.sources.canonical import ENTITIES


def test_every_field_is_documented_and_the_alias_table_loads() -> None:
    text = render()
    load_aliases()  # raises on an alias naming two fields or an unknown field
    for ent in ENTITIES:
        assert f"`raw.{ent.table}`" in text
        for f in ent.fields:
            assert f"| `{f.name}` |" in text
