"""When chiso's DAGs run by themselves: cron data intervals, and the switch that lets the
scheduler create those runs or not.

A deployment runs its DAGs on their schedule. This project's own Airflow (the demo, the tests)
closes a fixed past period through backfills instead, and must never see a cron run of today
appear beside them. Airflow's own switch for that, ``[scheduler] use_job_schedule``, also
stops the runs that assets trigger (the report DAG runs on the published-mart asset), so
chiso's DAGs take their cron schedule from `ScheduledCron`: a cron timetable that offers the
scheduler no next run while ``CHISO_AIRFLOW_SCHEDULED_RUNS`` is false. Backfills and manual
runs still get their data intervals from it, and asset-triggered runs go on.

The switch defaults to on: an Airflow of a deployment schedules unless told otherwise;
`chiso airflow up` turns it off unless the environment turns it on
(chiso/runtime/airflow.py).
"""

from __future__ import annotations

import os

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

SCHEDULED_RUNS = "CHISO_AIRFLOW_SCHEDULED_RUNS"


def scheduled_runs() -> bool:
    """Whether the scheduler may create the DAGs' cron runs (``CHISO_AIRFLOW_SCHEDULED_RUNS``,
    true unless set to false, 0, no or off)."""
    return os.environ.get(SCHEDULED_RUNS, "true").strip().lower() not in ("false", "0", "no", "off")


class ScheduledCron(CronDataIntervalTimetable):
    """A cron schedule of data intervals whose next scheduled run waits for the switch.

    The scheduler and the dag-processor ask for the next run with an open-ended restriction
    (the DAG's start date, no end); a backfill asks for the intervals between two dates. While
    scheduled runs are off, the first question gets no answer and the second its intervals.
    Registered by chiso's Airflow plugin: the scheduler rebuilds it from the serialized DAG.
    """

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if restriction.latest is None and not scheduled_runs():
            return None
        return super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )
