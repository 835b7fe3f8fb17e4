"""Run several dbt commands in one child process, with one import of dbt and one parse.

    python -m chiso.transform.dbt_steps '[["source", "freshness"], ["build"]]' --project-dir …

A monthly build is `dbt source freshness` then `dbt build`. As two `dbt` processes, each paid
for importing dbt (about 3.5 s here) and loading the project (about 1.5 s), a large part of a
monthly build that is otherwise a few seconds of SQL. Here dbt is imported once, the project
is parsed once, and each step reuses that manifest (dbtRunner(manifest=…), dbt's documented
way to skip re-parsing). It stays a child process of `chiso.transform.dbt` for the reasons
given there. Steps run in order; the first that fails stops the rest, and its name is printed
after FAILED_STEP_MARKER for the parent to report. The trailing arguments (project, target
and log paths) are added to every step.
"""

from __future__ import annotations

import json
import sys

FAILED_STEP_MARKER = "chiso-dbt-failed-step:"


def main(argv: list[str]) -> int:
    steps: list[list[str]] = json.loads(argv[0])
    common = argv[1:]
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", *common])
    if not parsed.success:
        print(f"{FAILED_STEP_MARKER} parse", flush=True)
        return 2
    runner = dbtRunner(manifest=parsed.result)
    for step in steps:
        result = runner.invoke([*step, *common])
        if not result.success:
            print(f"{FAILED_STEP_MARKER} {' '.join(step)}", flush=True)
            return 1 if result.exception is None else 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
