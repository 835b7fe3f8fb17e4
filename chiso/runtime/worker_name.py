"""The name a task instance records as its host (Airflow's ``[core] hostname_callable``).

Celery workers on one machine would all record the machine's name, and an operator could not
tell which ran what. chiso starts each worker with ``CHISO_WORKER_NAME`` (worker1, worker2 …)
and points Airflow at `hostname`, so a task instance says which worker ran it; anywhere else
it is the machine's name, as Airflow's default.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("CHISO_WORKER_NAME") or socket.getfqdn()
