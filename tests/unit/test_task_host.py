"""`chiso-airflow` loads the task code once where Airflow forks task processes, so that a task
process imports nothing of its own (chiso/orchestration/task_host.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chiso.core.config import DAGS_DIR
from chiso.orchestration.task_host import forks_tasks, run_dag_files

# What a task process of a close does before its task's work: Airflow's task runner parses the
# DAG file, the task imports chiso's tasks module, and the gate's tasks open a GX context.
CHILD = textwrap.dedent(
    """
    import json, os, runpy, sys
    before = set(sys.modules)
    runpy.run_path(sys.argv[1], run_name="dag_file")
    from chiso.orchestration import tasks
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    gx.get_context(mode="ephemeral")
    new = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] in ("chiso", "great_expectations", "airflow", "psycopg"))
    print(json.dumps(new), flush=True)
    """
)
# An Airflow worker process (it has the task runner loaded) forks a task process, then loads
# the task code the way `chiso-airflow` does and forks a second one.
HOST = textwrap.dedent(
    """
    import os, sys
    import airflow.sdk.execution_time.task_runner
    from chiso.orchestration.task_host import preload

    def fork_a_task():
        pid = os.fork()
        if pid == 0:
            exec(sys.argv[2])
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

    fork_a_task()
    preload()
    fork_a_task()
    """
)


def _imported_by_forked_tasks(home: Path) -> tuple[list[str], list[str]]:
    """The modules a task process forked from a worker imports: before and after the preload."""
    proc = subprocess.run(
        [sys.executable, "-c", HOST, str(DAGS_DIR / "monthly_kpi.py"), CHILD],
        capture_output=True,
        text=True,
        timeout=300,
        env={"GX_ANALYTICS_ENABLED": "false", "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain, preloaded = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    return plain, preloaded


@pytest.mark.parametrize(
    ("args", "forks"),
    [
        (["scheduler"], True),
        (["scheduler", "--num-runs", "3"], True),
        (["celery", "worker", "--celery-hostname", "worker1@%h"], True),
        (["celery", "flower"], False),
        (["api-server", "--port", "8080"], False),
        (["dag-processor"], False),
        (["triggerer"], False),
        (["dags", "list"], False),
        ([], False),
    ],
)
def test_only_the_commands_that_fork_tasks_preload(args, forks):
    assert forks_tasks(args) is forks


def test_a_task_forked_from_the_host_imports_nothing_of_its_own(tmp_path):
    """Without the preload, the forked task imports chiso's pipeline and GX (the cost the host
    removes); with it, none of them."""
    plain, preloaded = _imported_by_forked_tasks(tmp_path)
    assert {"chiso.pipeline", "great_expectations"} <= set(plain)
    assert preloaded == []


def test_a_broken_dag_file_does_not_keep_the_service_from_starting(tmp_path):
    """The preload runs the DAG files; one that raises is named and skipped (Airflow reports
    its import error), and the others are loaded."""
    (tmp_path / "broken.py").write_text("raise RuntimeError('an operator typo')\n")
    (tmp_path / "fine.py").write_text("import json\nVALUE = json.dumps(1)\n")
    assert run_dag_files(tmp_path) == ["broken.py: RuntimeError"]
