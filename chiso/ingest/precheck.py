"""Pre-check a streamed CSV at C speed while COPY runs, so SQL re-checks only odd rows.

The loader's SQL checks (``raw.is_malformed`` and friends in ``sql/parsing.sql``) are the one
definition of a valid value, shared with dbt staging; they cost a few microseconds per value,
more than COPY itself. Most values in a vendor export are in one plain layout, so this module
reads the same file with Arrow's CSV reader and vectorised RE2 patterns, in a thread on the
other core while PostgreSQL parses the COPY stream, and returns the record indexes whose
values it cannot *vouch for*. Only those rows go through the SQL checks.

The patterns here only ever *accept*: each accepts a strict subset of what the SQL functions
accept (a test holds them to that against the database), so a value this module passes is a
value SQL would pass, and anything else is left to SQL to judge and to name. Each
layout, the calendar days (29–31 by month; 29 February goes to SQL) and the month check are
spelled out.

Memory stays flat: the file is read in blocks of 1 MB and only suspect indexes and the
distinct agency codes are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from chiso.sources.canonical import Entity, Field

BLOCK_BYTES = 1 << 20

_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1\d|2[0-8])"
    r"|(?:0[13-9]|1[0-2])(?:29|30)"
    r"|(?:0[13578]|1[02])31)"
)
_HMS = r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
_DAY_MONTH = (
    r"(?:(?:0?[1-9]|1\d|2[0-8])/(?:0?[1-9]|1[0-2])"
    r"|(?:29|30)/(?:0?[13-9]|1[0-2])"
    r"|31/(?:0?[13578]|1[02]))"
)
_CLOCK = r"(?: (?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?"
_ISO_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
)
_ISO_CLOCK = r"(?:[ T](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?"
_YEAR = r"(?:19|20)\d\d"

# Layouts vouched for, per canonical type (see raw.parse_vn_* for everything accepted).
TIMESTAMP = (
    rf"^(?:{_YEAR}{_MONTH_DAY}(?:{_HMS})?"
    rf"|{_DAY_MONTH}/{_YEAR}{_CLOCK}"
    rf"|{_YEAR}-{_ISO_DAY}{_ISO_CLOCK})$"
)
INT = r"^[+-]?\d{1,18}$"
DECIMAL = r"^[+-]?\d{1,15}(?:[.,]\d{1,12})?$"
PERCENT = r"^[+-]?\d{1,15}(?:[.,]\d{1,12})?%?$"
BOOL_TOKENS = ("0", "1", "true", "false", "x", "có", "không", "co", "khong", "yes", "no")
PATTERNS = {"timestamp": TIMESTAMP, "date": TIMESTAMP, "int": INT, "decimal": DECIMAL}
PATTERNS["percent"] = PERCENT


def bool_tokens() -> list[str]:
    """The tokens in lower, upper and title case (ASCII only: SQL's lower() of a non-ASCII
    capital depends on the database's locale)."""
    out: set[str] = set()
    for t in BOOL_TOKENS:
        out |= {t, t.upper(), t.capitalize()} if t.isascii() else {t}
    return sorted(out)


# A regex, not a value set: building an Arrow array from a Python list imports pandas (~1 s).
BOOL = "^(?:" + "|".join(bool_tokens()) + ")$"


def month_pattern(month: date) -> str:
    """Values of the period field vouched to fall in `month` (they also pass TIMESTAMP)."""
    day = r"(?:0?[1-9]|[12]\d|3[01])"
    return (
        rf"^(?:{month:%Y%m}\d{{2}}(?:\d{{6}})?$"
        rf"|{day}/0?{month.month}/{month:%Y}(?: |$)"
        rf"|{month:%Y-%m}-)"
    )


@dataclass
class PreCheck:
    """What the pre-check found: rows it could not vouch for, and the agencies seen."""

    rows: int = 0
    suspects: list[int] = field(default_factory=list)  # 0-based record indexes
    agencies: set[str] = field(default_factory=set)
    # distinct trimmed values of the coded fields asked for (chiso/ingest/vocabulary.py), so
    # that checking them against the vocabularies costs no scan of the landed rows
    values: dict[str, set[str]] = field(default_factory=dict)
    error: BaseException | None = None  # the reader failed: fall back to checking every row


def _checked_fields(entity: Entity, columns: Sequence[str]) -> list[tuple[int, Field]]:
    out = []
    for i, name in enumerate(columns):
        f = entity.field(name)
        if f.required or f.type in PATTERNS or f.type == "bool" or name == entity.period_field:
            out.append((i, f))
    return out


def _ok(values: pa.Array, f: Field, entity: Entity, month: date) -> pa.Array | None:
    """True where the value is vouched for; None when the field needs no check."""
    checks: list[pa.Array] = []
    if f.required:
        checks.append(pc.match_substring_regex(values, "[^ ]"))
    typed = None
    if f.type == "bool":
        typed = pc.match_substring_regex(values, BOOL)
    elif f.type in PATTERNS:
        typed = pc.match_substring_regex(values, PATTERNS[f.type])
    if f.name == entity.period_field:
        in_month = pc.match_substring_regex(values, month_pattern(month))
        typed = in_month if typed is None else pc.and_(typed, in_month)
    if typed is not None:
        checks.append(
            typed if f.required else pc.or_(pc.match_substring_regex(values, "^$"), typed)
        )
    if not checks:
        return None
    ok = checks[0]
    for c in checks[1:]:
        ok = pc.and_(ok, c)
    return ok


def precheck_csv(
    path: Path,
    entity: Entity,
    columns: Sequence[str],
    *,
    delimiter: str,
    month: date,
    coded: Sequence[str] = (),
) -> PreCheck:
    """Scan `path` (header row first, then one record per row in `columns` order); collect
    the distinct values of the `coded` fields present."""
    checked = _checked_fields(entity, columns)
    agency_at = columns.index(entity.agency_field) if entity.agency_field in columns else None
    coded_at = {name: columns.index(name) for name in coded if name in columns}
    wanted = sorted(
        {i for i, _ in checked}
        | ({agency_at} if agency_at is not None else set())
        | set(coded_at.values())
    )
    names = [f"c{i}" for i in range(len(columns))]
    result = PreCheck(values={name: set() for name in coded_at})
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=BLOCK_BYTES, skip_rows=1, column_names=names
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=[names[i] for i in wanted],
            column_types={names[i]: pa.string() for i in wanted},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    offset = 0
    for batch in reader:
        n = batch.num_rows
        good: pa.Array | None = None
        for i, f in checked:
            ok = _ok(batch.column(names[i]), f, entity, month)
            if ok is None:
                continue
            good = ok if good is None else pc.and_(good, ok)
        if good is not None:
            bad = pc.indices_nonzero(pc.invert(good)).to_pylist()
            result.suspects.extend(offset + b for b in bad)
        if agency_at is not None:
            codes = pc.unique(pc.utf8_trim(batch.column(names[agency_at]), " "))
            result.agencies.update(c for c in codes.to_pylist() if c)
        for name, i in coded_at.items():
            distinct = pc.unique(pc.utf8_trim(batch.column(names[i]), " "))
            result.values[name].update(v for v in distinct.to_pylist() if v)
        offset += n
    result.rows = offset
    return result


class PreCheckThread:
    """Run :func:`precheck_csv` beside the COPY; Arrow releases the GIL while it works."""

    def __init__(self, *args: object, **kwargs: object):
        self._result = PreCheck()
        self._thread = threading.Thread(
            target=self._run, args=args, kwargs=kwargs, name="chiso-precheck", daemon=True
        )

    def _run(self, *args: object, **kwargs: object) -> None:
        try:
            self._result = precheck_csv(*args, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:
            self._result = PreCheck(error=exc)

    def start(self) -> PreCheckThread:
        self._thread.start()
        return self

    def result(self) -> PreCheck:
        self._thread.join()
        return self._result
