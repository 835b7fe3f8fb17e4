"""Every generated file committed to the repository equals a fresh render of its generator
(the reference seeds, the public-holiday seed, the raw GX suites, the generated parts of
docs/): `make generate` rewrites them, and this fails until the result is committed."""

from __future__ import annotations

from pathlib import Path

from chiso_sim.generate import committed


def test_committed_generated_files_are_current() -> None:
    stale = committed.stale()
    assert not stale, f"run `make generate` and commit: {stale}"


def test_a_stale_file_is_found_and_rewritten(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "sources.md"
    target.write_text("hand-edited\n", encoding="utf-8")
    monkeypatch.setattr(committed, "GENERATORS", {"doc": lambda: {target: "generated\n"}})
    assert committed.stale() == {"doc": [target]}
    assert committed.write() == [target]
    assert target.read_text(encoding="utf-8") == "generated\n"
    assert committed.stale() == {}
