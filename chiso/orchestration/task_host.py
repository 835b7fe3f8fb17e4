"""`chiso-airflow`: Airflow's command line, with chiso's task code loaded first in the
processes that fork task processes.

Airflow 3 runs every task instance in a process forked from a long-lived one: LocalExecutor's
workers are forked from the scheduler, and a Celery worker's pool processes from the worker.
Each task process then imports the DAG file and the task code it calls. For chiso that is the
whole pipeline (ingest, dbt's wrapper, the reports' renderers) and, for the gate's tasks,
Great Expectations: about a CPU second per task and four more per validation, paid again by
every task of every close (a monthly close runs ten tasks; a five-year backfill, 720). Loaded
once in the process they are forked from, they cost nothing per task: the forked process
finds the modules already in memory. Measured with a forked child of a process that has
Airflow's task runner loaded: 1.1 s CPU for the task code and 3.7 s for a GX context, against
0.02 s and 0.04 s with them loaded first.

Only imports happen here (the DAG files are run as their task processes parse them: they do no
work at the top), no connection and no file is opened (nothing a fork would share),
and only for the commands that fork tasks: ``scheduler`` (its LocalExecutor) and ``celery
worker``. Every other command is Airflow's own, unchanged. The project's services start
through it (chiso/runtime/airflow.py), and so do the images' scheduler and workers
(infra/compose/docker-compose.yml, infra/helm/values.yaml).
"""

from __future__ import annotations

import logging
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# the Airflow commands whose process forks the task processes
FORKS_TASKS = (("scheduler",), ("celery", "worker"))


def forks_tasks(args: Sequence[str]) -> bool:
    """Whether the Airflow command `args` (without the program) runs task processes it forks."""
    words = tuple(a for a in args if not a.startswith("-"))
    return any(words[: len(command)] == command for command in FORKS_TASKS)


def run_dag_files(folder: Path) -> list[str]:
    """Run each DAG file of `folder` as a task process parses it, loading what it imports;
    the files that failed, with why. A broken DAG file is Airflow's to report (an import
    error of that DAG): it must not keep the scheduler from starting."""
    failed = []
    for path in sorted(folder.glob("*.py")):
        try:
            runpy.run_path(str(path), run_name=f"chiso_preload_{path.stem}")
        except Exception as exc:  # any error of a DAG file: Airflow reports it
            failed.append(f"{path.name}: {type(exc).__name__}")
    return failed


def preload() -> None:
    """Import what chiso's task processes import: what the DAG files use (a task process
    parses its DAG file first; running them here loads Airflow's decorators and providers
    as they use them, a list that cannot fall behind the files), the tasks and all the
    pipeline behind them, and GX for the gate. What fails to load is left to the task
    processes (each imports it again, and fails there as it would have): the service starts."""
    from chiso.core.config import DAGS_DIR

    failed = run_dag_files(DAGS_DIR)
    try:
        from chiso.orchestration import tasks  # noqa: F401  (loaded for the forked tasks)
        from chiso.quality.gate import import_gx

        import_gx()
    except Exception as exc:  # the task processes import it again and say why
        failed.append(f"task code: {type(exc).__name__}")
    if failed:
        log.warning("not preloaded, the task processes import it themselves: %s", failed)


def main() -> int | None:
    """`chiso-airflow ARGS`: `airflow ARGS`, with the task code preloaded where tasks fork."""
    if forks_tasks(sys.argv[1:]):
        preload()
    from airflow.__main__ import main as airflow_main

    return airflow_main()


if __name__ == "__main__":
    sys.exit(main())
