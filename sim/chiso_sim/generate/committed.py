"""Every generated file committed to the repository, and whether each is current.

One list of generators, so `make generate` rewrites all of them and the test suite (and
`make generate-check`) fails when any committed output differs from a fresh render: a seed,
a generated document or a generated GX suite can never drift from what produces it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chiso_sim.generate import holidays, indicators_doc, raw_suites, seeds, sources_doc

# name → the files it owns with the text each should hold; each generator's module says why
GENERATORS: dict[str, Callable[[], dict[Path, str]]] = {
    "reference seeds (chiso_sim.generate.seeds)": seeds.outputs,
    "public holidays seed (chiso_sim.generate.holidays)": holidays.outputs,
    "raw GX suites (chiso_sim.generate.raw_suites)": raw_suites.outputs,
    "docs/sources.md (chiso_sim.generate.sources_doc)": sources_doc.outputs,
    "docs/indicators.md catalogue (chiso_sim.generate.indicators_doc)": indicators_doc.outputs,
}


def stale() -> dict[str, list[Path]]:
    """Generator → committed files that differ from a fresh render (empty when all current)."""
    found: dict[str, list[Path]] = {}
    for name, outputs in GENERATORS.items():
        paths = [
            path
            for path, text in outputs().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        if paths:
            found[name] = paths
    return found


def write() -> list[Path]:
    """Rewrite every generated file that is out of date; returns those rewritten."""
    written: list[Path] = []
    for outputs in GENERATORS.values():
        for path, text in outputs().items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                written.append(path)
    return written
