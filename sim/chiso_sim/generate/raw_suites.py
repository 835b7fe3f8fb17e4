"""Generate the raw-layer suites (``expectations/raw/*.json``) from the canonical schemas.

    python -m chiso_sim.generate.raw_suites          # rewrite the files
    python -m chiso_sim.generate.raw_suites --check  # exit 1 if a file differs (a test runs this)

Raw keeps what each source sent, all text (chiso/sources/canonical.py). What a raw table must
satisfy follows from its entity: exactly the canonical columns plus the loader's lineage
columns (schema), required fields filled, typed fields parseable by the SQL functions
ingest and staging share (types: ``raw.is_malformed``, the one definition of a valid value), and
the entity's key unique within the month. Written by hand, the suites would drift from the
schemas; generated, a reviewer reads them as files and a test keeps them in sync.

A failing row is shown by delivery (the ledger's origin: a file name or an API pull), row
number and field, never by the rest of the row: raw holds personal data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chiso.core.config import EXPECTATIONS_DIR
from chiso.ingest.raw_tables import META_COLUMNS
from chiso.sources.canonical import ENTITIES, Entity

# What the loader adds to every landing table.
LINEAGE_COLUMNS = tuple(name for name, _ in META_COLUMNS)
TYPED = ("int", "decimal", "percent", "bool", "date", "timestamp")


def _field_rows_query(entity: Entity, names: list[str], condition: str) -> str:
    """Rows of the batch where a listed field meets `condition` (on `field_value`), one
    result row per field, identified by delivery and row number."""
    types = {f.name: f.type for f in entity.fields}
    values = ", ".join(f"('{n}', '{types[n]}', raw_row.{n})" for n in names)
    return (
        "SELECT ledger.origin AS delivery, raw_row._row_number AS row_number,"
        " fields.field_name AS field, fields.field_value AS value"
        " FROM {batch} AS raw_row"
        f" CROSS JOIN LATERAL (VALUES {values}) AS fields (field_name, field_type, field_value)"
        " LEFT JOIN raw.ingest_batches AS ledger ON ledger.batch_id = raw_row._batch_id"
        f" WHERE {condition}"
        " ORDER BY raw_row._row_number, fields.field_name"
    )


def suite(entity: Entity) -> dict:
    required = [f.name for f in entity.fields if f.required]
    typed = [f.name for f in entity.fields if f.type in TYPED and not f.pii]
    expectations: list[dict] = [
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {
                "column_set": [*entity.columns, *LINEAGE_COLUMNS],
                "exact_match": True,
            },
            "meta": {"why": "the landing table's schema: canonical fields plus lineage"},
        },
        {
            "type": "unexpected_rows_expectation",
            "description": f"Required fields of {entity.qualified_name} are filled",
            "kwargs": {
                "unexpected_rows_query": _field_rows_query(
                    entity, required, "btrim(coalesce(fields.field_value, '')) = ''"
                )
            },
            "meta": {"why": "a record without its id, agency or reporting date cannot be counted"},
        },
    ]
    if typed:
        expectations.append(
            {
                "type": "unexpected_rows_expectation",
                "description": (
                    f"Typed fields of {entity.qualified_name} parse"
                    " (raw.is_malformed: the layouts ingest and staging accept)"
                ),
                "kwargs": {
                    "unexpected_rows_query": _field_rows_query(
                        entity, typed, "raw.is_malformed(fields.field_value, fields.field_type)"
                    )
                },
                "meta": {"why": "staging would turn an unparseable value into a silent null"},
            }
        )
    key = list(entity.key)
    expectations.append(
        {
            "type": "expect_compound_columns_to_be_unique"
            if len(key) > 1
            else "expect_column_values_to_be_unique",
            "kwargs": {"column_list": key} if len(key) > 1 else {"column": key[0]},
            "meta": {"why": "one record per key and month: a repeat would be counted twice"},
        }
    )
    return {
        "name": f"raw_{entity.table}",
        "meta": {
            "generated_by": "make generate (from chiso/sources/canonical.py)",
            "description": f"raw.{entity.table}: {entity.description}",
            "table": f"raw.{entity.table}",
            "month_column": "_extract_month",
            "sample_columns": [*key, "_row_number", "_batch_id"],
        },
        "expectations": expectations,
    }


def render(entity: Entity) -> str:
    return json.dumps(suite(entity), ensure_ascii=False, indent=2) + "\n"


def outputs(directory: Path = EXPECTATIONS_DIR / "raw") -> dict[Path, str]:
    """The committed files this generator owns, with the text each should hold."""
    return {directory / f"{entity.table}.json": render(entity) for entity in ENTITIES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files out of date")
    parser.add_argument("--directory", type=Path, default=EXPECTATIONS_DIR / "raw")
    args = parser.parse_args(argv)
    stale = []
    args.directory.mkdir(parents=True, exist_ok=True)
    for entity in ENTITIES:
        path = args.directory / f"{entity.table}.json"
        text = render(entity)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    expected = {f"{e.table}.json" for e in ENTITIES}
    extra = [p for p in args.directory.glob("*.json") if p.name not in expected]
    for path in stale + extra:
        print(("out of date: " if path in stale else "not generated: ") + str(path))
    return 1 if args.check and (stale or extra) else 0


if __name__ == "__main__":
    sys.exit(main())
