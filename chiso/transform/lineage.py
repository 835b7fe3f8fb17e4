"""OpenLineage events of a dbt build: one job per model, snapshot and test, with the tables
it read and wrote as datasets (``postgres://host:port``, ``<db>.<schema>.<table>``), their
schemas, column lineage and SQL (docs/lineage.md).

dbt is run as a child process, one or several commands at once
(chiso/transform/dbt_steps.py), so the OpenLineage dbt integration's wrapper (``dbt-ol``) does
not fit; its artifact processor does the same from what the run leaves behind
(``manifest.json`` and ``run_results.json``), after the run. Inside an Airflow task, the
task's run is the events' parent (``OPENLINEAGE_PARENT_ID``, set by
chiso/orchestration/tasks.py), so a lineage tool shows the dbt nodes under the task that
built them. Best effort: lineage that cannot be written is logged, and never fails a build.
"""

from __future__ import annotations

import logging
from pathlib import Path

from chiso.core.config import DBT_PROJECT_DIR, Settings
from chiso.runtime import lineage

log = logging.getLogger(__name__)

PRODUCER = "https://github.com/chiso-project/chiso"
# the commands the artifact processor understands
COMMANDS = ("run", "build", "test", "seed", "snapshot")


def emit_dbt_lineage(settings: Settings, target: Path, env: dict[str, str], succeeded: bool) -> int:
    """Emit the events of the dbt run whose artifacts are in `target`: the run's own (a job
    ``dbt-run-chiso``, under the Airflow task when there is one) and each node's under it.
    `env` is the run's environment (profiles.yml reads its connection from it). Returns the
    events emitted."""
    if not lineage.enabled() or not (target / "run_results.json").exists():
        return 0
    try:
        return _emit(settings, target, env, succeeded)
    except Exception:  # lineage never fails a build
        log.warning("dbt lineage not written", exc_info=True)
        return 0


def _emit(settings: Settings, target: Path, env: dict[str, str], succeeded: bool) -> int:
    from jinja2 import Environment
    from openlineage.client import OpenLineageClient
    from openlineage.common.provider.dbt.facets import ParentRunMetadata
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor
    from openlineage.common.provider.dbt.utils import get_parent_run_metadata
    from openlineage.dbt import dbt_run_event_end, dbt_run_event_failed, dbt_run_event_start

    class Processor(DbtLocalArtifactProcessor):
        """Renders profiles.yml with the dbt run's environment, not this process's."""

        def setup_jinja(self) -> Environment:  # type: ignore[override]
            jinja = DbtLocalArtifactProcessor.setup_jinja()

            def env_var(name: str, default: str | None = None) -> str:
                if name in env:
                    return env[name]
                if default is not None:
                    return default
                raise KeyError(f"profiles.yml needs {name}")

            jinja.globals["env_var"] = env_var
            return jinja

    processor = Processor(
        producer=PRODUCER,
        job_namespace=lineage.NAMESPACE,
        project_dir=str(DBT_PROJECT_DIR),
        target_path=str(target),
        skip_errors=True,
    )
    processor.should_raise_on_unsupported_command = False
    parent = get_parent_run_metadata()  # the Airflow task's run, inside a task
    start = dbt_run_event_start(processor.job_name, lineage.NAMESPACE, parent)
    # the nodes' parent is this build; their root, the Airflow DAG run (or the build itself)
    if parent is None:
        root = (start.run.runId, start.job.name, start.job.namespace)
    elif parent.root_parent_run_id and parent.root_parent_job_name:
        root = (
            parent.root_parent_run_id,
            parent.root_parent_job_name,
            parent.root_parent_job_namespace or parent.job_namespace,
        )
    else:
        root = (parent.run_id, parent.job_name, parent.job_namespace)
    processor.dbt_run_metadata = ParentRunMetadata(
        run_id=start.run.runId,
        job_name=start.job.name,
        job_namespace=start.job.namespace,
        root_parent_run_id=root[0],
        root_parent_job_name=root[1],
        root_parent_job_namespace=root[2],
    )
    nodes = processor.parse().events()
    end = (dbt_run_event_end if succeeded else dbt_run_event_failed)(
        start.run.runId, start.job.namespace, start.job.name, parent
    )
    lineage.folder(settings).mkdir(parents=True, exist_ok=True)
    client = OpenLineageClient(config={"transport": lineage.transport(settings, "dbt")})
    for event in [start, *nodes, end]:
        client.emit(event)
    return len(nodes) + 2
