"""What a new version of the reference files changes, and which periods must be rebuilt.

The candidate tables (validated) are compared with the loaded ones, row by row. Each table's
changed rows (added, removed, or both for an edited row) touch, by what the file is
(chiso/reference/files.py, ``touches``):

- a target or an annual index: the changed rows' years, and nothing else, since they are
  joined to periods already computed: the periods within those years are rebuilt;
- a declared break: the changed rows' months (it changes no number: the rebuild refreshes what
  the gate and the next publication read);
- an agency version, a unit, their lineage, a holiday or a make-up day: every period. Each
  record was assigned its agency version, and each dossier its due date, when it was first
  computed: a change here reassigns records of any month (a code's first version covers the
  days before it; a holiday moves the due dates of the dossiers open over it), so the rebuild
  is a full one.

An agency code that a load adds is also reported, for the records ingest parked because their
code was unknown (chiso/ingest/agency_codes.py): their months are pulled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from chiso.core.months import add_months
from chiso.reference.files import REFERENCE_FILES, ReferenceFile
from chiso.reference.load import CANDIDATE, LIVE, typed_columns


@dataclass(frozen=True)
class TableChange:
    table: str
    added: int
    removed: int
    first_day: date | None  # the touched days, for a change bounded in time
    last_day: date | None

    @property
    def bounded(self) -> bool:
        return self.first_day is not None and self.last_day is not None


@dataclass(frozen=True)
class Changes:
    tables: tuple[TableChange, ...]
    added_agency_codes: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.tables)

    @property
    def everything(self) -> bool:
        """Whether the change touches every period (a full rebuild)."""
        return any(not t.bounded for t in self.tables)

    @property
    def days(self) -> tuple[date, date] | None:
        """The days whose periods a bounded change touches (None: none, or everything)."""
        if not self.tables or self.everything:
            return None
        return (
            min(t.first_day for t in self.tables if t.first_day),
            max(t.last_day for t in self.tables if t.last_day),
        )

    def summary(self) -> dict[str, object]:
        """As ops.reference_versions.changes records it."""
        days = self.days
        return {
            "tables": {t.table: {"added": t.added, "removed": t.removed} for t in self.tables},
            "rebuild": "none" if not self.any else "all" if self.everything else "days",
            "days": [d.isoformat() for d in days] if days else None,
            "added_agency_codes": list(self.added_agency_codes),
        }


def compare(conn: psycopg.Connection) -> Changes:
    """The validated candidates against the loaded reference (an empty one before the first
    load: everything is added)."""
    tables = []
    for spec in REFERENCE_FILES:
        added = _difference(conn, spec, CANDIDATE, LIVE)
        removed = _difference(conn, spec, LIVE, CANDIDATE)
        if not added and not removed:
            continue
        first, last = touched_days(spec, added + removed)
        tables.append(TableChange(spec.table, len(added), len(removed), first, last))
    codes = conn.execute(
        sql.SQL(
            "select distinct agency_code from {} where agency_code is not null"
            " except select agency_code from {} order by 1"
        ).format(sql.Identifier(CANDIDATE, "agencies"), sql.Identifier(LIVE, "agencies"))
    ).fetchall()
    return Changes(tuple(tables), tuple(c for (c,) in codes))


def _difference(
    conn: psycopg.Connection, spec: ReferenceFile, left: str, right: str
) -> list[dict[str, object]]:
    """Rows of `left` that `right` does not hold (as many times), as typed values."""

    def rows(schema: str) -> sql.Composable:
        if schema == CANDIDATE:
            return sql.SQL("select {} from {}").format(
                typed_columns(spec), sql.Identifier(schema, spec.table)
            )
        return sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(map(sql.Identifier, spec.column_names)),
            sql.Identifier(schema, spec.table),
        )

    query = sql.SQL("{} except all {}").format(rows(left), rows(right))
    cursor = conn.execute(query)
    names = [d.name for d in cursor.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def touched_days(spec: ReferenceFile, rows: list[dict[str, object]]) -> tuple[date | None, ...]:
    """The first and last day whose periods the changed `rows` of `spec`'s table touch, by
    what the file is (the module's docstring); (None, None): every period."""
    if spec.touches == "months":
        months = [row["break_month"] for row in rows]
        first: date = min(months)  # type: ignore[type-var,assignment]
        last: date = max(months)  # type: ignore[type-var,assignment]
        return first.replace(day=1), add_months(last.replace(day=1), 1) - timedelta(days=1)
    if spec.touches != "years":
        return None, None
    years: list[int] = []
    for row in rows:
        if "year" in row:
            years.append(int(row["year"]))  # type: ignore[call-overload]
        else:
            years += [int(row["year_from"]), int(row["year_to"])]  # type: ignore[call-overload]
    return date(min(years), 1, 1), date(max(years), 12, 31)
