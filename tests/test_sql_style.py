"""The dbt project's SQL is sqlfluff-clean under the project's rules (dbt_project/.sqlfluff).

`make lint` runs the same command. The jinja templater renders every model and singular test
with dbt's builtins emulated and the project's macros loaded, with no database. The dbt
templater (the section kept in .sqlfluff, for a run against a warehouse) renders as dbt does
but costs twice the CPU, most of it compiling each file through dbt: the suite's fifteen
minutes on two cores had no room for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chiso.core.config import DBT_PROJECT_DIR


def test_the_dbt_project_is_sqlfluff_clean():
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run(
        [str(sqlfluff), "lint", "models", "tests", "--disable-progress-bar"],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
