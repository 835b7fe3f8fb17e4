"""What chiso's DAG files share: the assets they produce and consume (chiso/orchestration/
assets.py), the task defaults (retries with backoff, a timeout, the failure alert) and the
schedule.

Imported when the dag-processor parses the DAG folder: only Airflow's SDK and the standard
library here, nothing that reaches a database or reads a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pendulum

from chiso.orchestration.assets import KPI_MART, RAW, REPORT, REPUBLISHED
from chiso.orchestration.schedule import ScheduledCron

__all__ = [
    "KPI_MART",
    "RAW",
    "REPORT",
    "REPUBLISHED",
    "cron",
    "per_province",
    "start",
    "task_defaults",
]

TIMEZONE = "Asia/Ho_Chi_Minh"


def cron(expression: str) -> ScheduledCron:
    """A cron schedule in Vietnam's time, run by the scheduler only where scheduled runs are
    on (chiso/orchestration/schedule.py)."""
    return ScheduledCron(expression, timezone=TIMEZONE)


def start(year: int, month: int = 1, day: int = 1) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, tz=TIMEZONE)


def alert_on_failure(context: Any) -> None:
    """Every task's on_failure_callback: the operators hear of a task that failed for good."""
    # imported when a task fails, not when the file is parsed
    from chiso.orchestration.tasks import alert_task_failure

    alert_task_failure(context)


def task_defaults(
    *,
    retries: int,
    retry_delay_seconds: int,
    max_retry_delay: timedelta,
    timeout: timedelta,
) -> dict[str, Any]:
    """default_args of a chiso DAG: retries with exponential backoff, a timeout, and the
    alert of a task that failed for good (the gate's own alert is not repeated).
    ``CHISO_RETRY_DELAY_SECONDS`` shortens the first wait where failures are provoked (the
    tests)."""
    delay = int(os.environ.get("CHISO_RETRY_DELAY_SECONDS", str(retry_delay_seconds)))
    return {
        "owner": "chiso",
        "retries": retries,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": True,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": timeout,
        "on_failure_callback": alert_on_failure,
    }


def per_province(
    task: Any, task_id: str, source: str, provinces: Sequence[str], **override: Any
) -> Any:
    """`task` for one source system: one instance, or, in a deployment of several provinces
    (chiso/sources/systems.py), one mapped instance per province's installation, named by
    its province code in the UI (the task puts ``province`` in its context). Those run in
    parallel, as far as the executor's slots allow; each has its own connection, watermark and
    retries, so one province's system down delays none of the others."""
    if not provinces:
        return task.override(task_id=task_id, **override)(source)
    mapped = task.override(task_id=task_id, map_index_template="{{ province }}", **override)
    return mapped.partial(source=source).expand(province=list(provinces))
