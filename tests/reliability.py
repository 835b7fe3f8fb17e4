"""docs/reliability.md, written by the test run: every fault and bad input the tests try, and
what happened to the data (rows and a checksum of them, before and after).

A test asks for the `reliability` fixture, takes a snapshot of the rows the fault could touch
before it, and records the trial with a snapshot after::

    trial = reliability.trial("Files", "a CSV cut in the middle of a row", rows(url, …))
    …
    trial.done("quarantined, naming the file; the file beside it loaded", rows(url, …))

Each worker appends its trials to the run's folder; at the end of a full, green run
(tests/conftest.py) the controller renders them. The table holds nothing that changes from
run to run (no times, no ids), so the committed document is compared with the rendered one:
a stale document is rewritten and the run fails, to be committed with the change that moved
it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
FOLDER = "reliability"


@dataclass(frozen=True)
class Snapshot:
    """Rows, and the first 12 hex digits of the sha256 of their text in order."""

    rows: int
    checksum: str

    def __str__(self) -> str:
        return f"{self.rows:,} · `{self.checksum}`" if self.rows else "0"


def snapshot_of(lines: list[str]) -> Snapshot:
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return Snapshot(len(lines), digest[:12] if lines else "")


def rows(url: str, table: str, columns: str, where: str = "true", params: tuple = ()) -> Snapshot:
    """The `columns` (an SQL expression list) of `table`'s rows matching `where`, in order."""
    query = sql.SQL("select concat_ws('|', {c}) as line from {t} where {w} order by 1").format(
        c=sql.SQL(columns), t=sql.SQL(table), w=sql.SQL(where)
    )
    with psycopg.connect(url) as conn:
        found = conn.execute(query, params).fetchall()
    return snapshot_of([r[0] for r in found])


@dataclass(frozen=True)
class Trial:
    area: str
    fault: str
    outcome: str
    before: Snapshot
    after: Snapshot
    test: str


class Recorder:
    """Trials of one test, appended to the run's folder (one file per worker)."""

    def __init__(self, folder: Path, test: str) -> None:
        self.folder = folder
        self.test = test

    def trial(self, area: str, fault: str, before: Snapshot) -> _Open:
        return _Open(self, area, fault, before)

    def add(self, trial: Trial) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{os.getpid()}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(trial), ensure_ascii=False) + "\n")


class _Open:
    def __init__(self, recorder: Recorder, area: str, fault: str, before: Snapshot) -> None:
        self.recorder, self.area, self.fault, self.before = recorder, area, fault, before

    def done(self, outcome: str, after: Snapshot) -> None:
        self.recorder.add(
            Trial(self.area, self.fault, outcome, self.before, after, self.recorder.test)
        )


def collected(folder: Path) -> list[Trial]:
    trials = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            data["before"], data["after"] = Snapshot(**data["before"]), Snapshot(**data["after"])
            trials.append(Trial(**data))
    return sorted(trials, key=lambda t: (t.area, t.test, t.fault))


HEADER = """# Reliability: faults and bad inputs tried

Written by the test run (`make test`; tests/reliability.py): each row is a fault or a bad
input a test tried, what chiso did, and the rows it could touch before and after, with the
first 12 hex digits of the sha256 of those rows in order, so "nothing lost, nothing doubled"
reads off the table: a refused input leaves rows and checksum as they were, a retry ends
where a clean run would. A full run rewrites this file when it differs, and fails: commit it
with the change that moved it. Do not edit it by hand.
"""


def render(trials: list[Trial]) -> str:
    out = [HEADER]
    areas = sorted({t.area for t in trials})
    out.append(f"{len(trials)} trials in {len(areas)} areas.\n")
    for area in areas:
        out.append(f"## {area}\n")
        out.append("| Fault or bad input | What happened | Rows before | Rows after | Test |")
        out.append("|---|---|---|---|---|")
        for t in (t for t in trials if t.area == area):
            cells = [t.fault, t.outcome, str(t.before), str(t.after), f"`{t.test}`"]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)
