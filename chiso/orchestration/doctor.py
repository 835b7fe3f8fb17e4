"""`chiso doctor`: is this deployment able to close next month on time? Each check says what
is wrong and what to do, in one line.

- the warehouse answers, and its latest due month is published: a month past its deadline day
  (chiso/core/cadence.py) without a publication is what nobody noticed, since Airflow's
  deadline alerts only watch runs that exist (a paused DAG, a dead scheduler create none);
- Airflow answers, and its scheduler, dag-processor and triggerer have a recent heartbeat
  (``/api/v2/monitor/health``);
- the monthly close's DAG and the report DAG are parsed without errors and not paused, and
  this project's Airflow schedules runs (``CHISO_AIRFLOW_SCHEDULED_RUNS``);
- the connections the close reads exist: each source system's API, and an alert channel;
- the disks holding the home and the embedded server's data have room;
- the personal-data key is there, private, and the one the warehouse was built with.

Airflow is asked through its REST API (chiso/orchestration/airflow.py), never its metadata
tables. Nothing printed holds a secret: connections are named, not shown; the key is named
by its check value.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.core.months import LOCAL_TZ, add_months
from chiso.notify.alerts import SMTP_CONN_ID, WEBHOOK_CONN_ID
from chiso.orchestration.airflow import (
    DAG_ID,
    REPORT_DAG_ID,
    AirflowApi,
    base_url,
    import_errors,
)
from chiso.orchestration.schedule import SCHEDULED_RUNS
from chiso.publish.revisions import published_revisions
from chiso.runtime import airflow as services
from chiso.runtime.warehouse import urls
from chiso.sources.systems import SOURCES, api_conn_id, source_provinces

OK, WARN, FAIL = "ok", "warn", "fail"
# a component whose latest heartbeat is older than this is taken for dead
HEARTBEAT_SECONDS = 120
# free space below which a disk fails the check, or warns
MIN_FREE = (2 * 1024**3, 0.05)
LOW_FREE = (10 * 1024**3, 0.15)


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, warn or fail
    detail: str


def _now() -> datetime:
    return datetime.now(LOCAL_TZ).replace(tzinfo=None)


def due_month(cadence: Cadence, now: datetime) -> date:
    """The latest month whose deadline has passed at `now` (source local time)."""
    month = add_months(now.date().replace(day=1), -1)
    while cadence.publish_deadline(month) > now:
        month = add_months(month, -1)
    return month


def check_publications(settings: Settings, cadence: Cadence, now: datetime) -> Finding:
    try:
        published = published_revisions(urls(settings).transformer)
    except psycopg.Error as exc:
        return Finding("warehouse", FAIL, f"cannot read the warehouse: {type(exc).__name__}")
    due = due_month(cadence, now)
    if not published:
        return Finding(
            "publications",
            WARN,
            f"nothing published yet (the latest month due is {due:%Y-%m}, deadline"
            f" {cadence.publish_deadline(due):%d/%m/%Y})",
        )
    latest = max(published)
    if latest < due:
        return Finding(
            "publications",
            FAIL,
            f"{due:%Y-%m} is not published and its deadline"
            f" {cadence.publish_deadline(due):%d/%m/%Y} has passed (latest published:"
            f" {latest:%Y-%m} revision {published[latest]}): see docs/runbook.md, «A month"
            " missed its deadline»",
        )
    return Finding(
        "publications", OK, f"latest published {latest:%Y-%m} revision {published[latest]}"
    )


def check_airflow(settings: Settings) -> Iterator[Finding]:
    try:
        # this project's own Airflow: the environment chiso starts it with (none elsewhere)
        own = services.airflow_env(settings) if "CHISO_AIRFLOW_URL" not in os.environ else {}
    except services.AirflowError as exc:
        yield Finding("airflow", FAIL, f"its settings are incomplete: {exc}")
        return
    try:
        with AirflowApi(settings, timeout=10) as api:
            health = api.get("/monitor/health")
            yield from _components(health)
            yield from _dag(api, own)
            yield _connections(api, own)
    except Exception as exc:  # refused, timed out, a login refused: Airflow is not usable
        yield Finding(
            "airflow",
            FAIL,
            f"Airflow's API at {base_url(settings)} does not answer"
            f" ({type(exc).__name__}): start it (`chiso airflow up`, `make airflow`) or set"
            " CHISO_AIRFLOW_URL",
        )


def _components(health: dict) -> Iterator[Finding]:
    for name in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        part = health.get(name) or {}
        status = part.get("status")
        beat = next((v for k, v in part.items() if k.endswith("heartbeat") and v), None)
        age = None
        if beat:
            age = (datetime.now(UTC) - datetime.fromisoformat(beat)).total_seconds()
        if status == "healthy" and (age is None or age < HEARTBEAT_SECONDS):
            yield Finding(name, OK, "alive" + (f", heartbeat {age:.0f} s ago" if age else ""))
        else:
            since = f", last heartbeat {age / 60:.0f} min ago" if age else ", no heartbeat"
            yield Finding(name, FAIL, f"{status or 'absent'}{since}: start it (docs/runbook.md)")


def _dag(api: AirflowApi, own: dict[str, str]) -> Iterator[Finding]:
    errors = import_errors(api)
    if errors:
        yield Finding("dag", FAIL, f"{len(errors)} DAG file(s) fail to import: {errors[0][:300]}")
    # the close, and the report DAG its published-mart asset runs
    for dag_id in (DAG_ID, REPORT_DAG_ID):
        if not api.exists(f"/dags/{dag_id}"):
            yield Finding("dag", FAIL, f"{dag_id} is not parsed: is dags/ Airflow's DAG folder?")
        elif api.get(f"/dags/{dag_id}").get("is_paused"):
            unpause = f"`airflow dags unpause {dag_id}`"
            yield Finding("dag", FAIL, f"{dag_id} is paused: it runs nothing ({unpause})")
        else:
            yield Finding("dag", OK, f"{dag_id} unpaused")
    # this project's own Airflow: its DAGs are scheduled only when told to (a deployment's
    # schedules unless CHISO_AIRFLOW_SCHEDULED_RUNS is false in its environment)
    if own and own[SCHEDULED_RUNS].lower() != "true":
        yield Finding(
            "schedule",
            FAIL,
            "the scheduler creates no scheduled runs: set CHISO_AIRFLOW_SCHEDULED_RUNS=True"
            " and restart Airflow (`chiso airflow up`)",
        )
    elif own:
        yield Finding("schedule", OK, "scheduled runs on")


def _connections(api: AirflowApi, own: dict[str, str]) -> Finding:
    """The connections the close reads: in Airflow's metadata, or in the environment of the
    Airflow processes (AIRFLOW_CONN_<ID>). This project's own Airflow points a source that has
    neither at the local simulator: fine for the demo, named for a deployment."""

    def variable(conn_id: str) -> str:
        return f"AIRFLOW_CONN_{conn_id.upper()}"

    def defined(conn_id: str) -> bool:
        return variable(conn_id) in os.environ or api.exists(f"/connections/{conn_id}")

    sources = [api_conn_id(s, p) for s in SOURCES for p in source_provinces() or (None,)]
    simulated = [c for c in sources if not defined(c) and variable(c) in own]
    missing = [c for c in sources if not defined(c) and c not in simulated]
    channels = [c for c in (SMTP_CONN_ID, WEBHOOK_CONN_ID) if defined(c)]
    if missing:
        return Finding(
            "connections",
            FAIL,
            f"missing {', '.join(missing)}: the close cannot pull those systems"
            " (docs/runbook.md, «Pointing at the province's systems»)",
        )
    if not channels:
        return Finding(
            "connections",
            FAIL,
            f"no alert channel ({SMTP_CONN_ID} or {WEBHOOK_CONN_ID}): a failed or late month"
            " would alert nobody",
        )
    if simulated:
        return Finding(
            "connections",
            WARN,
            f"{', '.join(simulated)} point at the local simulator (the demo's): set"
            f" {', '.join(variable(c) for c in simulated)} to the province's systems",
        )
    return Finding("connections", OK, f"sources and alerts via {', '.join(channels)}")


def check_disks(settings: Settings) -> Iterator[Finding]:
    places = {"home": settings.home}
    if not settings.external_url:
        places["warehouse data"] = settings.pgdata
    seen: set[int] = set()
    for label, path in places.items():
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
        device = existing.stat().st_dev
        if device in seen:
            continue
        seen.add(device)
        usage = shutil.disk_usage(existing)
        free, share = usage.free, usage.free / usage.total
        text = f"{label}: {free / 1024**3:.1f} GiB free ({share:.0%}) at {existing}"
        if free < MIN_FREE[0] or share < MIN_FREE[1]:
            yield Finding("disk", FAIL, text + ": free space before the next close")
        elif free < LOW_FREE[0] or share < LOW_FREE[1]:
            yield Finding("disk", WARN, text)
        else:
            yield Finding("disk", OK, text)


def check_key(settings: Settings) -> Finding:
    from chiso.core.pii import ENV_VAR
    from chiso.transform.key_check import ITEM, check_value
    from chiso.transform.reference_state import read_state

    path = settings.secrets_dir / "pii.key"
    if os.environ.get(ENV_VAR):
        key, where = os.environ[ENV_VAR].encode("utf-8"), ENV_VAR
    elif path.exists():
        if path.stat().st_mode & 0o077:
            return Finding("key", FAIL, f"{path} is readable by others: chmod 600 {path}")
        key, where = path.read_text().strip().encode("utf-8"), str(path)
    else:
        return Finding(
            "key",
            FAIL,
            f"no personal-data key ({ENV_VAR} or {path}): restore it from its backup"
            " before the next build (docs/runbook.md, «Backup and restore»)",
        )
    value = check_value(key)
    try:
        with psycopg.connect(urls(settings).transformer) as conn:
            recorded = read_state(conn, ITEM)
    except psycopg.Error:
        recorded = None  # the warehouse check says why
    if recorded not in (None, value):
        return Finding(
            "key",
            FAIL,
            f"the key in {where} (check value {value}) is not the warehouse's ({recorded}):"
            " the next build would be refused; restore the right key",
        )
    return Finding("key", OK, f"{where}, check value {value}")


def check_reference(settings: Settings) -> Finding:
    """The reference data: loaded, rebuilt, and the deployment's files the ones loaded."""
    from chiso.reference.load import ReferenceFileError, loaded_fingerprint, read_folder

    folder = settings.reference_dir
    try:
        with psycopg.connect(urls(settings).transformer) as conn:
            loaded = loaded_fingerprint(conn)
            pending = conn.execute(
                "select count(*) from ops.reference_versions where rebuilt_at is null"
            ).fetchone()
    except psycopg.Error:
        return Finding("reference", WARN, "cannot read the warehouse (see its check)")
    if loaded is None:
        return Finding("reference", WARN, "none loaded yet: the first close loads it")
    if pending and pending[0]:
        return Finding(
            "reference",
            FAIL,
            f"{pending[0]} loaded version(s) not rebuilt: `chiso reference rebuild`",
        )
    try:
        current = read_folder(folder).fingerprint
    except (ReferenceFileError, OSError) as exc:
        return Finding("reference", FAIL, f"{folder}: {str(exc).splitlines()[0]}")
    if current != loaded:
        return Finding(
            "reference",
            WARN,
            f"{folder} differs from the version loaded: `chiso reference load` (or wait for"
            " the reference_data DAG)",
        )
    return Finding("reference", OK, f"{folder} loaded and rebuilt")


def diagnose(settings: Settings, now: datetime | None = None) -> list[Finding]:
    """Every check's findings, in order."""
    cadence = Cadence.from_env()
    return [
        check_publications(settings, cadence, now or _now()),
        *check_airflow(settings),
        *check_disks(settings),
        check_key(settings),
        check_reference(settings),
    ]
