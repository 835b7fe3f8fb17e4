"""Vendor words for coded fields: check every value a delivery brings, record what it means.

Exports print words where the national sync format has codes ("Đã trả kết quả" for status 10,
"Trực tuyến" for channel 2, "x" for paid online). Raw keeps what the source sent; this module
decides, while the delivery's transaction is open, what each distinct value of a coded field
means, from ``chiso/sources/vocabularies.yaml`` and the deployment's alias file
(:mod:`chiso.ingest.alias_files`), and records it in ``raw.value_codes`` for staging to join.
A value nobody listed stops the delivery with an error naming the file, the first row that
carries it, the field, the value and where to add it: an unknown word never reaches a build,
where a cast would fail the whole warehouse's run, and is never guessed into a code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from chiso.core.redact import quoted
from chiso.ingest.alias_files import (
    AliasFileError,
    deployment_file,
    deployment_sections,
    deployment_stamp,
    read_yaml,
)
from chiso.ingest.headers import fold
from chiso.sources.canonical import ENTITIES, Entity

VOCABULARIES_YAML = Path(__file__).parents[1] / "sources" / "vocabularies.yaml"
_INTEGRAL = re.compile(r"^[+-]?\d+(?:[.,]0+)?$")  # 10, 10.0 (a number cell read as float)


@dataclass(frozen=True)
class Vocabulary:
    """Per ``entity.field``: the codes, and folded word → code."""

    codes: dict[str, frozenset[str]]
    words: dict[str, dict[str, str]]
    deployment_file: Path | None

    def fields(self, entity: Entity) -> list[str]:
        prefix = entity.qualified_name + "."
        return [k.removeprefix(prefix) for k in self.codes if k.startswith(prefix)]

    def code(self, entity: Entity, field: str, value: str) -> str | None:
        """The code `value` stands for in `entity.field`; None when nobody listed it."""
        key = f"{entity.qualified_name}.{field}"
        text = value.strip()
        if _INTEGRAL.match(text):
            number = str(int(text.replace(",", ".").split(".")[0].lstrip("+")))
            if number in self.codes[key]:
                return number
        return self.words[key].get(fold(text))


def load_vocabulary() -> Vocabulary:
    """The package's vocabularies with the deployment's additions (re-read when it changes)."""
    return _load(deployment_stamp())


@lru_cache(maxsize=4)
def _load(deployment: tuple[str, float] | None) -> Vocabulary:
    codes: dict[str, set[str]] = {}
    words: dict[str, dict[str, str]] = {}
    _add(VOCABULARIES_YAML, read_yaml(VOCABULARIES_YAML), codes, words)
    path = Path(deployment[0]) if deployment else None
    if path is not None:
        _add(path, deployment_sections(deployment)["values"], codes, words)
    return Vocabulary({k: frozenset(v) for k, v in codes.items()}, words, path)


def _add(
    path: Path, data: dict[str, Any], codes: dict[str, set[str]], words: dict[str, dict[str, str]]
) -> None:
    known = {e.qualified_name: e for e in ENTITIES}
    for entity_name, by_field in data.items():
        entity = known.get(entity_name)
        if entity is None:
            raise AliasFileError(f"{path}: no entity {entity_name!r}; known: {sorted(known)}")
        for field, by_code in (by_field or {}).items():
            if field not in entity.columns:
                raise AliasFileError(f"{path}: {entity_name} has no field {field!r}")
            key = f"{entity_name}.{field}"
            table = words.setdefault(key, {})
            for code, listed in (by_code or {}).items():
                code = str(code)
                codes.setdefault(key, set()).add(code)
                for word in listed or ():
                    if not isinstance(word, str):  # yes/no/on/off unquoted: YAML booleans
                        raise AliasFileError(f"{path}: {key}: quote the word {word!r}")
                    folded = fold(word)
                    if not folded:
                        raise AliasFileError(f"{path}: {key}: an empty word for code {code}")
                    if table.get(folded, code) != code:
                        raise AliasFileError(
                            f"{path}: {key}: {word!r} already means {table[folded]}, not {code}"
                        )
                    table[folded] = code


class UnknownValue(ValueError):
    """A coded field holds a value no vocabulary lists."""

    def __init__(self, message: str, *, row: int, field: str):
        super().__init__(message)
        self.row = row
        self.field = field


def record_codes(
    conn: psycopg.Connection,
    entity: Entity,
    columns: list[str],
    table: sql.Composable,
    batch_id: object,
    origin: str,
    row_of: Any,
    *,
    seen: dict[str, set[str]] | None = None,
) -> int:
    """Check every distinct value of `entity`'s coded fields among the batch's rows in `table`
    and record their codes in raw.value_codes; raise :class:`UnknownValue` at the first row
    (in load order) of a value no vocabulary knows. `row_of(load_seq, row_number)` turns a
    row into the delivery's row number. `seen`: the distinct trimmed values per field when
    the caller has them already (the CSV pre-check), sparing a scan of the batch. Returns
    how many values were recorded."""
    vocabulary = load_vocabulary()
    fields = [f for f in vocabulary.fields(entity) if f in columns]
    if not fields:
        return 0
    if seen is not None and all(f in seen for f in fields):
        found: Any = [sorted(seen[f]) for f in fields]
    else:
        distinct = sql.SQL(", ").join(
            sql.SQL("array_agg(distinct btrim({}))").format(sql.Identifier(f)) for f in fields
        )
        found = conn.execute(
            sql.SQL("select {} from {} where _batch_id = %s").format(distinct, table),
            (batch_id,),
        ).fetchone()
    recorded: list[tuple[str, str, str]] = []
    for field, values in zip(fields, found or (), strict=True):
        for value in values or ():
            if not value:
                continue  # empty: staging's default (a missing channel is direct, etc.)
            code = vocabulary.code(entity, field, value)
            if code is None:
                _raise_unknown(conn, entity, field, value, table, batch_id, origin, row_of)
            recorded.append((f"{entity.qualified_name}.{field}", value, str(code)))
    if recorded:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.value_codes (field, value, code) values (%s, %s, %s)"
                " on conflict (field, value) do update set code = excluded.code,"
                " recorded_at = now() where raw.value_codes.code is distinct from excluded.code",
                recorded,
            )
    return len(recorded)


def _raise_unknown(
    conn: psycopg.Connection,
    entity: Entity,
    field: str,
    value: str,
    table: sql.Composable,
    batch_id: object,
    origin: str,
    row_of: Any,
) -> None:
    load_seq, row_number = conn.execute(
        sql.SQL(
            "select _load_seq, _row_number from {} where _batch_id = %s and btrim({}) = %s"
            " order by _load_seq limit 1"
        ).format(table, sql.Identifier(field)),
        (batch_id, value),
    ).fetchone()  # type: ignore[misc]
    row = row_of(load_seq, row_number)
    vocabulary = load_vocabulary()
    key = f"{entity.qualified_name}.{field}"
    codes = sorted(vocabulary.codes[key], key=lambda c: (len(c), c))
    where = f"{VOCABULARIES_YAML.name} in the package"
    where += f", or section values: of {vocabulary.deployment_file or deployment_file()}"
    raise UnknownValue(
        f"{origin}: row {row}: field {field}: value {quoted(value)} is not a code"
        f" ({', '.join(codes)}) or a word of the {key} vocabulary; add it to {where}",
        row=row,
        field=field,
    )
