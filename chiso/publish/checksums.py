"""Checksums of what the marts publish: two warehouses publishing the same numbers have the
same checksums, whatever order their months were built in, by which runs, or when.

Each published mart (its current revisions, as BI reads it) and each published dimension gets
its row count and the MD5 of its rows' text, sorted, without the columns that record the
bookkeeping of a build or a publication (when, by which run or commit): a backfill and the same
months closed one by one differ there, and only there. With `everything`, every relation of
`marts` is checked with every column, revision history and publication log included: a
restored backup must equal its source to the byte.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from chiso.publish.marts import DIMENSIONS, INTERNAL_COLUMNS, MARTS, columns, tuples

# what a build or a publication stamps on a row, besides INTERNAL_COLUMNS
BOOKKEEPING = frozenset({*INTERNAL_COLUMNS, "publication_id", "revision", "published_at"})


def _relations(conn: psycopg.Connection, everything: bool) -> list[str]:
    if not everything:
        return sorted([*DIMENSIONS, *(m.name for m in MARTS)])
    rows = tuples(conn).execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relkind in ('r', 'v', 'p', 'm') order by 1"
    )
    return [name for (name,) in rows]


def mart_checksums(url: str, *, everything: bool = False) -> dict[str, tuple[int, str]]:
    """Relation → (rows, MD5 of its sorted rows), as the login of `url` sees them."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        for name in _relations(conn, everything):
            kept = [
                c for c, _ in columns(conn, "marts", name) if everything or c not in BOOKKEEPING
            ]
            row = sql.SQL("({})::text").format(
                sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in kept)
            )
            query = sql.SQL(
                "select count(*), coalesce(md5(string_agg(r, E'\\n' order by r)), '')"
                " from (select {row} as r from {rel} as t) as rows"
            ).format(row=row, rel=sql.Identifier("marts", name))
            count, digest = tuples(conn).execute(query).fetchone()  # type: ignore[misc]
            out[name] = (int(count), str(digest))
    return out
