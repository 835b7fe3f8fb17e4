"""The tree reads as the data's path, and stays that way.

- `chiso` (what a province deploys) never imports `chiso_sim` (the test harness: simulators,
  oracle, generators) nor the harness's web stack, and does not depend on it;
- no import cycles, between packages or modules;
- each stage imports only the stages and foundations below it (the layers in pyproject.toml);
- tests and benchmarks use public functions, not the CLI's or a module's private names.

The first three are import-linter contracts (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from chiso.core.config import REPO_ROOT


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_the_product_does_not_depend_on_the_harness() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = {
        dep.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
        for dep in project["project"]["dependencies"]
    }
    assert not names & {"chiso-sim", "fastapi", "uvicorn"}
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["chiso"]
    assert not (REPO_ROOT / "chiso" / "simulator").exists()


def _imports_from(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    ]


def test_tests_and_benchmarks_use_public_functions() -> None:
    offenders = []
    for folder in ("tests", "bench", "sim/tests"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for module, name in _imports_from(path):
                if not module.startswith(("chiso.", "chiso_sim")):
                    continue
                if (module == "chiso.cli" and name != "main") or name.startswith("_"):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}: from {module} import {name}")
    assert not offenders, "\n".join(offenders)
