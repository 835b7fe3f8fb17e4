"""Where lineage goes: OpenLineage events of Airflow's tasks and of dbt's nodes
(docs/lineage.md).

By default each producer appends JSON lines to a file of the home's ``lineage/`` folder
(``airflow.jsonl``, ``dbt.jsonl``): nothing to run, and readable with `jq`. A deployment with
a lineage server (Marquez, or any OpenLineage HTTP endpoint) names it with
``CHISO_LINEAGE_URL``; ``CHISO_LINEAGE=off`` turns lineage off. Events carry job, run and
dataset names, SQL and schemas, never a row of data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chiso.core.config import Settings

NAMESPACE = "chiso"


def enabled() -> bool:
    return os.environ.get("CHISO_LINEAGE", "on").strip().lower() not in ("off", "false", "0")


def folder(settings: Settings) -> Path:
    return settings.home / "lineage"


def transport(settings: Settings, producer: str) -> dict[str, Any]:
    """The OpenLineage transport for `producer` (``airflow`` or ``dbt``)."""
    url = os.environ.get("CHISO_LINEAGE_URL")
    if url:
        return {"type": "http", "url": url}
    return {
        "type": "file",
        "log_file_path": str(folder(settings) / f"{producer}.jsonl"),
        "append": True,
    }
