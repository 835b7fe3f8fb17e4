"""Find the table inside a report-shaped grid: title, header, numbering, sections, totals, footer.

Exports are printed reports as much as data: a merged title ("… Từ ngày: 01/03/2025 Đến
ngày: 31/03/2025"), one to three merged header rows, sometimes a numbering row
("(1) (2) (3=4+5)"), section rows ("I. Sở, ban, ngành"), a "Tổng số" row and a signature
footer ("Người lập biểu"). The header is the block of rows (within the first rows) whose
labels match the most canonical fields; everything else is classified around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain

from chiso.ingest.headers import HeaderMatch, best_entity, fold
from chiso.ingest.readers import Cell, GridRow, cell_text
from chiso.sources.canonical import Entity

HEADER_SCAN_ROWS = 40
MAX_HEADER_DEPTH = 3

_SECTION = re.compile(r"^\s*([IVXLC]+|[A-Z])\s*[.)/-]\s*\S")
_NUMBER_CELL = re.compile(r"^\(?\s*(\d+)\s*(=\s*[\d\s+\-]+)?\)?$")
_TOTAL_WORDS = ("tong so", "tong cong", "cong", "tong", "toan tinh", "tong chung")
_FOOTER_WORDS = ("nguoi lap bieu", "nguoi lap", "thu truong", "ky ten", "ky, ghi ro", "giam doc")
# Matched against folded text (no diacritics, punctuation as spaces): "tu ngay 01 03 2025 …".
_RANGE = re.compile(
    r"tu ngay (\d{1,2}) (\d{1,2}) (\d{4}).{0,40}?den ngay (\d{1,2}) (\d{1,2}) (\d{4})"
)
_MONTH_YEAR = re.compile(r"thang (\d{1,2}) (?:nam )?(\d{4})")


@dataclass
class Row:
    number: int  # row in the file
    cells: list[Cell]
    kind: str = "body"  # body | total
    section: str | None = None


@dataclass
class Layout:
    header: HeaderMatch
    header_rows: tuple[int, int]  # first and last header row numbers
    title_lines: list[str]
    numbering: list[str] | None
    identities: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)

    def period(self) -> date | None:
        return period_from_text(" ".join(self.title_lines))


def period_from_text(text: str) -> date | None:
    """The reporting month a title names: 'Từ ngày 01/03/2025 Đến ngày 31/03/2025' or
    'Tháng 3 năm 2025'. A range that spans several months names none."""
    text = fold(text)
    m = _RANGE.search(text)
    if m:
        _d1, m1, y1, _d2, m2, y2 = (int(x) for x in m.groups())
        if (y1, m1) == (y2, m2):
            return date(y1, m1, 1)
        return None
    m = _MONTH_YEAR.search(text)
    if m:
        month, year = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12:
            return date(year, month, 1)
    return None


def _filled_levels(block: Sequence[list[Cell]], width: int) -> list[list[str]]:
    """Per header row, labels with horizontal merges filled in (see module docstring)."""
    grid = [[(cell_text(r[c]) if c < len(r) else None) or "" for c in range(width)] for r in block]
    filled = [row[:] for row in grid]
    for k, row in enumerate(filled):
        for c in range(1, width):
            if row[c]:
                continue
            same_above = all(filled[j][c] == filled[j][c - 1] for j in range(k))
            if k == 0:
                has_below = any(grid[j][c] for j in range(1, len(grid)))
                if has_below and row[c - 1]:
                    row[c] = row[c - 1]
            elif same_above and row[c - 1] and any(grid[j][c] for j in range(k + 1, len(grid))):
                row[c] = row[c - 1]
    return filled


def _labels(block: Sequence[list[Cell]], width: int) -> tuple[list[str], list[str]]:
    levels = _filled_levels(block, width)
    labels, parents = [], []
    for c in range(width):
        parts: list[str] = []
        for level in levels:
            if level[c] and (not parts or parts[-1] != level[c]):
                parts.append(level[c])
        labels.append(parts[-1] if parts else "")
        parents.append(" ".join(parts[:-1]))
    return labels, parents


def _parse_numbering(cells: Sequence[Cell]) -> list[str] | None:
    texts = [cell_text(c) for c in cells]
    present = [t for t in texts if t]
    if len(present) < 3:
        return None
    if sum(1 for t in present if _NUMBER_CELL.match(t.replace(" ", ""))) < 0.8 * len(present):
        return None
    if not any(t.startswith("(") or "=" in t for t in present) and not all(
        t.isdigit() for t in present
    ):
        return None
    return [t or "" for t in texts]


def identities_from_numbering(numbering: Sequence[str]) -> list[tuple[int, list[tuple[int, int]]]]:
    """'(3=4+5)' in column c → (c, [(col of 4, +1), (col of 5, +1)])."""
    number_to_col: dict[int, int] = {}
    for c, text in enumerate(numbering):
        m = _NUMBER_CELL.match((text or "").replace(" ", ""))
        if m:
            number_to_col[int(m.group(1))] = c
    out: list[tuple[int, list[tuple[int, int]]]] = []
    for c, text in enumerate(numbering):
        m = _NUMBER_CELL.match((text or "").replace(" ", ""))
        if not m or not m.group(2):
            continue
        terms = re.findall(r"([+-]?)\s*(\d+)", m.group(2)[1:])
        parts = []
        for sign, num in terms:
            if int(num) not in number_to_col:
                parts = []
                break
            parts.append((number_to_col[int(num)], -1 if sign == "-" else 1))
        if parts:
            out.append((c, parts))
    return out


def detect_layout(head: Sequence[GridRow], candidates: Sequence[Entity]) -> tuple[Layout, int]:
    """Find the header in the first rows; returns the layout and how many head rows it used."""
    best: tuple[tuple[int, int, int], int, int, HeaderMatch] | None = None
    width = max((len(r) for _, r in head), default=0)
    for start in range(min(len(head), HEADER_SCAN_ROWS)):
        if not any(cell_text(c) for c in head[start][1]):
            continue
        for depth in range(1, MAX_HEADER_DEPTH + 1):
            if start + depth > len(head):
                break
            block = [r for _, r in head[start : start + depth]]
            labels, parents = _labels(block, width)
            match = best_entity(candidates, labels, parents)
            score = (int(not match.missing_required), match.matched, -depth)
            if best is None or score > best[0]:
                best = (score, start, depth, match)
            if score == (1, width, -1):
                break  # every cell of a one-row header is a known field: nothing scores higher
        if best is not None and best[0] == (1, width, -1):
            break
    if best is None or best[3].matched == 0:
        raise ValueError("no header row matches any known column name")
    _, start, depth, match = best
    title = [
        " ".join(t for t in (cell_text(c) for c in row) if t)
        for _, row in head[:start]
        if any(cell_text(c) for c in row)
    ]
    used = start + depth
    numbering = _parse_numbering(head[used][1]) if used < len(head) else None
    if numbering:
        used += 1
    layout = Layout(
        header=match,
        header_rows=(head[start][0], head[start + depth - 1][0]),
        title_lines=title,
        numbering=numbering,
        identities=identities_from_numbering(numbering) if numbering else [],
    )
    return layout, used


def is_total_or_footer(cells: Sequence[Cell]) -> bool:
    """Whether a row is a total ('Tổng cộng', 'Cộng', …) or a footer line ('Người lập biểu'),
    by its first cells, as :func:`classify_rows` tells them."""
    present = [t for t in (cell_text(c) for c in cells) if t][:3]
    if not present:
        return False
    folded = [fold(t) for t in present]
    return any(f in _TOTAL_WORDS for f in folded) or any(
        folded[0].startswith(w) for w in _FOOTER_WORDS
    )


def classify_rows(rows: Iterator[GridRow], layout: Layout, footer: list[str]) -> Iterator[Row]:
    """Body and total rows with their section; blank rows dropped; stops at the footer."""
    section: str | None = None
    n_fields = len(layout.header.fields)
    for number, cells in rows:
        texts = [cell_text(c) for c in cells[: max(n_fields, len(cells))]]
        present = [(i, t) for i, t in enumerate(texts) if t]
        if not present:
            continue
        first_folded = fold(present[0][1])
        if any(first_folded.startswith(w) for w in _FOOTER_WORDS) or (
            first_folded.startswith("ngay")
            and "thang" in first_folded
            and "nam" in first_folded
            and len(present) <= 2
        ):
            footer.append(" ".join(t for _, t in present))
            for _, rest in rows:
                line = " ".join(t for t in (cell_text(c) for c in rest) if t)
                if line:
                    footer.append(line)
            return
        head_cells = [fold(t) for i, t in present if i < 3]
        if any(h in _TOTAL_WORDS for h in head_cells):
            yield Row(number, cells, "total", None)
            continue
        if (
            len(present) <= 2
            and _SECTION.match(present[-1][1])
            and not any(_looks_numeric(t) for _, t in present[1:])
        ):
            section = " ".join(t for _, t in present if not t.isdigit())
            continue
        yield Row(number, cells, "body", section)


def _looks_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[\d.,%\s-]+", text))


def chain_rows(head: Sequence[GridRow], used: int, rest: Iterator[GridRow]) -> Iterator[GridRow]:
    return chain(head[used:], rest)
