"""chiso's Airflow plugin: what every Airflow component must find by name when it reads a DAG
that uses it. Registered through the ``airflow.plugins`` entry point (pyproject.toml), so any
Airflow installed with chiso loads it, the project's own and a deployment's image alike.

- `PublicationDeadline`, the monthly close's deadline reference (chiso/orchestration/
  deadline.py): the scheduler and the API server rebuild it from the serialized DAG when they
  create a run, and Airflow looks custom references up among the plugins'.
- `ScheduledCron`, the DAGs' cron timetable that schedules only where scheduled runs are on
  (chiso/orchestration/schedule.py): the scheduler and the dag-processor rebuild it from the
  serialized DAG, and Airflow looks custom timetables up among the plugins'.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from chiso.orchestration.deadline import PublicationDeadline
from chiso.orchestration.schedule import ScheduledCron


class ChisoPlugin(AirflowPlugin):
    name = "chiso"
    deadline_references = [PublicationDeadline]  # noqa: RUF012 (Airflow's class attribute)
    timetables = [ScheduledCron]  # noqa: RUF012
