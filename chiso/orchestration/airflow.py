"""Talking to a running Airflow through its public REST API (``/api/v2``): is the DAG parsed,
start a backfill of months, follow the runs, list what failed.

Never SQL on Airflow's metadata tables: their layout is Airflow's business and changes between
versions, while the REST API is its public, versioned interface. The project's own Airflow
(chiso/runtime/airflow.py) uses the simple auth manager with every user an admin, whose
``GET /auth/token`` hands out a token without credentials; a production Airflow behind another
auth manager gives chiso a token through ``CHISO_AIRFLOW_TOKEN``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.core.months import LOCAL_TZ, month_of
from chiso.runtime import airflow as services
from chiso.runtime.airflow import AirflowError

DAG_ID = "monthly_kpi"
# runs on the published-mart asset's events, which the close's last task emits
# (dags/monthly_report.py)
REPORT_DAG_ID = "monthly_report"
KPI_MART_ASSET = "marts.mart_kpi_monthly"  # chiso.orchestration.dags.KPI_MART's name
FINISHED = ("success", "failed")
PAGE = 100
RETRIES = 3


def base_url(settings: Settings) -> str:
    """Where Airflow's API server answers: this project's own, or ``CHISO_AIRFLOW_URL`` (a
    deployment's Airflow elsewhere, with ``CHISO_AIRFLOW_TOKEN``)."""
    return (
        os.environ.get("CHISO_AIRFLOW_URL") or f"http://127.0.0.1:{settings.airflow_port}"
    ).rstrip("/")


# calls that may be sent again after a server error without doing anything twice
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AirflowApi:
    """A small client of the endpoints chiso needs, with a token fetched on first use."""

    def __init__(self, settings: Settings, timeout: float = 30) -> None:
        self.base = base_url(settings)
        self.settings = settings
        self.http = httpx.Client(base_url=self.base, timeout=timeout)
        self._token = os.environ.get("CHISO_AIRFLOW_TOKEN") or None

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            credentials = {
                "username": services.ADMIN_USER,
                "password": services.admin_password(self.settings),
            }
            response = self.http.post("/auth/token", json=credentials)
            self._check(response, "POST /auth/token")
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.is_error:
            raise AirflowError(
                f"Airflow {what}: HTTP {response.status_code}: {response.text[:500]}"
            )

    def request(
        self,
        method: str,
        path: str,
        what: str | None = None,
        *,
        retry: bool | None = None,
        **kw: Any,
    ) -> Any:
        """One call. A server error is tried again a few times (a scheduler that just started
        can hold the rows a call changes, and Airflow answers that with a 500), but only for a
        call that may be repeated: GET, PUT, PATCH and DELETE, or one whose caller says so
        (`retry`). A POST that failed with a 500 may still have been carried out, and a second
        one would create its run or backfill twice; its caller checks what happened instead."""
        again = method.upper() in IDEMPOTENT if retry is None else retry
        for attempt in range(RETRIES + 1):
            response = self.http.request(method, f"/api/v2{path}", headers=self._headers(), **kw)
            if response.status_code < 500 or attempt == RETRIES or not again:
                break
            time.sleep(2**attempt)
        self._check(response, what or f"{method} {path}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def paged(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list endpoint."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, limit=PAGE, offset=len(items), **params)
            items += page[key]
            if not page[key] or len(items) >= page.get("total_entries", len(items)):
                return items

    def exists(self, path: str) -> bool:
        response = self.http.get(f"/api/v2{path}", headers=self._headers())
        if response.status_code == 404:
            return False
        self._check(response, f"GET {path}")
        return True


def import_errors(api: AirflowApi) -> list[str]:
    return [
        f"{e['filename']}: {e['stack_trace']}" for e in api.paged("/importErrors", "import_errors")
    ]


def wait_for_dag(settings: Settings, dag_id: str = DAG_ID, timeout: float = 180) -> None:
    """Wait until the dag-processor has parsed the DAG (an import error fails at once)."""
    deadline = time.monotonic() + timeout
    with AirflowApi(settings) as api:
        while time.monotonic() < deadline:
            errors = import_errors(api)
            if errors:
                raise AirflowError("DAG import errors:\n" + "\n".join(errors))
            if api.exists(f"/dags/{dag_id}/details"):
                return
            time.sleep(1)
    raise AirflowError(f"DAG {dag_id} was not parsed within {timeout:.0f}s")


def _runs(api: AirflowApi, dag_id: str) -> list[dict[str, Any]]:
    return api.paged(f"/dags/{dag_id}/dagRuns", "dag_runs", order_by="run_after")


def _month(run: dict[str, Any]) -> date | None:
    start = run.get("data_interval_start")
    return month_of(datetime.fromisoformat(start)) if start else None


def run_states(settings: Settings, dag_id: str = DAG_ID) -> dict[date, str]:
    """State of the latest run per month (the month is the run's data interval start)."""
    with AirflowApi(settings) as api:
        states: dict[date, str] = {}
        for run in _runs(api, dag_id):  # ordered by run_after: the latest run wins
            month = _month(run)
            if month is not None:
                states[month] = run["state"]
        return states


def _latest_run_id(api: AirflowApi, month: date, dag_id: str) -> str | None:
    """The id of the month's latest run of the DAG (None when it has none)."""
    runs = [r for r in _runs(api, dag_id) if _month(r) == month]
    return runs[-1]["dag_run_id"] if runs else None


def _latest_instances(settings: Settings, month: date, dag_id: str) -> list[dict[str, Any]]:
    """The task instances of the month's latest run (none when it has no run)."""
    with AirflowApi(settings) as api:
        run_id = _latest_run_id(api, month, dag_id)
        if run_id is None:
            return []
        return api.paged(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")


def task_states(settings: Settings, month: date, dag_id: str = DAG_ID) -> dict[str, str | None]:
    """Task id → state in the latest run of the month (empty when it has no run)."""
    return {ti["task_id"]: ti["state"] for ti in _latest_instances(settings, month, dag_id)}


def retried_tasks(settings: Settings, month: date, dag_id: str = DAG_ID) -> dict[str, int]:
    """Task id → try number of the tasks of the month's latest run that needed more than one
    try: retries keep a run going, and they can hide a defect (a deadlock between sibling
    tasks passes on the second try), so operators and tests look at them."""
    return {
        ti["task_id"]: ti["try_number"]
        for ti in _latest_instances(settings, month, dag_id)
        if (ti.get("try_number") or 0) > 1
    }


def failed_tasks(settings: Settings, dag_id: str = DAG_ID) -> list[tuple[str, str]]:
    """(run id, task id) of every failed task instance of the DAG."""
    with AirflowApi(settings) as api:
        failed = api.paged(
            f"/dags/{dag_id}/dagRuns/~/taskInstances", "task_instances", state="failed"
        )
    return [(ti["dag_run_id"], ti["task_id"]) for ti in failed]


def clear_failed_tasks(
    settings: Settings, month: date, task_ids: list[str], dag_id: str = DAG_ID
) -> list[str]:
    """Run the month's failed `task_ids` again (Airflow's "Clear"), as an operator does after
    fixing what made them fail; their downstream tasks follow. Returns the tasks cleared."""
    with AirflowApi(settings) as api:
        run_id = _latest_run_id(api, month, dag_id)
        if run_id is None:
            raise AirflowError(f"no run of {dag_id} for {month:%Y-%m}")
        cleared = api.request(
            "POST",
            f"/dags/{dag_id}/clearTaskInstances",
            retry=True,  # clearing what is already cleared changes nothing
            json={
                "dry_run": False,
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "only_failed": True,
                "include_downstream": True,
                "reset_dag_runs": True,
            },
        )
    return [ti["task_id"] for ti in cleared.get("task_instances", [])]


def settle_interrupted(settings: Settings, dag_id: str = DAG_ID) -> list[str]:
    """Close what an Airflow that stopped left open: its runs still queued or running are
    marked failed (their task processes died with it), and the scheduler then closes the
    backfills they belonged to. Nothing is deleted: the runs stay in Airflow's history, and a
    backfill over their months runs them again (`backfill` reprocesses failed and completed
    runs). Call it only right after starting Airflow again, when no run can be genuinely in
    progress. Returns the runs marked failed."""
    with AirflowApi(settings) as api:
        if not api.exists(f"/dags/{dag_id}"):
            return []
        stale = [r["dag_run_id"] for r in _runs(api, dag_id) if r["state"] not in FINISHED]
        for run_id in stale:
            api.request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
        return stale


def interval_start(month: date) -> date:
    """The data interval start of `month`'s close run: the day its grace period ends
    (dags/monthly_kpi.py schedules the close on that day of the next month)."""
    return month + Cadence.from_env().grace


def backfill(
    settings: Settings,
    first: date,
    last: date,
    dag_id: str = DAG_ID,
    *,
    replay: bool = False,
) -> None:
    """Create the close runs of the months first..last; the scheduler runs them one at a time.
    Each pulls the sources as they stand now, or, with `replay`, as they stood at its close
    instant (a source whose clock is there: the simulator's, in the demo and tests)."""
    body = {
        "dag_id": dag_id,
        "from_date": _instant(interval_start(first)).isoformat(),
        "to_date": _instant(interval_start(last)).isoformat(),
        "max_active_runs": 1,
        "reprocess_behavior": "completed",
        "run_backwards": False,
        "dag_run_conf": {"sources_as_of": "close"} if replay else {},
    }
    with AirflowApi(settings) as api:
        api.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        for attempt in range(RETRIES + 1):
            try:
                api.request("POST", "/backfills", json=body)
                return
            except AirflowError as error:
                # a 500 may have created the backfill all the same: posting it again would be
                # refused (409) or, once it finished, run the months twice
                if "HTTP 5" not in str(error) or attempt == RETRIES:
                    raise
                if _open_backfill(api, dag_id, first, last):
                    return
                time.sleep(2**attempt)


def _open_backfill(api: AirflowApi, dag_id: str, first: date, last: date) -> bool:
    """Whether a backfill of the DAG over first..last is open."""
    wanted = (_instant(interval_start(first)), _instant(interval_start(last)))
    return any(
        b.get("completed_at") is None
        and (datetime.fromisoformat(b["from_date"]), datetime.fromisoformat(b["to_date"])) == wanted
        for b in api.paged("/backfills", "backfills", dag_id=dag_id)
    )


def _instant(day: date) -> datetime:
    """Midnight of `day` in Vietnam, as the backfill's dates are given."""
    return datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)


def wait_for_backfills(settings: Settings, dag_id: str = DAG_ID, timeout: float = 300) -> None:
    """Block until the DAG has no open backfill."""
    deadline = time.monotonic() + timeout
    with AirflowApi(settings) as api:
        while True:
            open_ = [
                b
                for b in api.paged("/backfills", "backfills", dag_id=dag_id)
                if b.get("completed_at") is None
            ]
            if not open_:
                return
            if time.monotonic() > deadline:
                raise AirflowError(f"backfill {open_[0]['id']} of {dag_id} is still open")
            time.sleep(1)


def _report_runs(api: AirflowApi, month: date, dag_id: str) -> tuple[bool, dict[str, str]]:
    """The report runs the month's latest close triggered (run id → state), and whether each
    of its published-mart events has its run yet (the scheduler creates it on its next loop;
    a later event may join the run an earlier one created)."""
    run_id = _latest_run_id(api, month, dag_id)
    if run_id is None:
        return True, {}
    events = [
        e
        for e in api.paged(
            "/assets/events", "asset_events", source_dag_id=dag_id, source_run_id=run_id
        )
        if e["name"] == KPI_MART_ASSET  # the raw assets' events run nothing
    ]
    runs = {
        r["run_id"]: r["state"]
        for e in events
        for r in e["created_dagruns"]
        if r["dag_id"] == REPORT_DAG_ID
    }
    return all(e["created_dagruns"] for e in events), runs


def report_states(settings: Settings, month: date, dag_id: str = DAG_ID) -> dict[str, str]:
    """Run id → state of the report runs the month's latest close triggered so far."""
    with AirflowApi(settings) as api:
        return _report_runs(api, month, dag_id)[1]


def wait_for_reports(
    settings: Settings, month: date, dag_id: str = DAG_ID, timeout: float = 600
) -> dict[str, str]:
    """Block until the report runs that the month's latest close triggered have finished:
    the runs Airflow created for its published-mart asset events (none if it published
    nothing). Returns run id → state."""
    deadline = time.monotonic() + timeout
    with AirflowApi(settings) as api:
        while True:
            created, runs = _report_runs(api, month, dag_id)
            if created and all(st in FINISHED for st in runs.values()):
                return runs
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"the reports of {month:%Y-%m} ({REPORT_DAG_ID}) did not finish within"
                    f" {timeout:.0f}s: {runs or 'no run created'}"
                )
            time.sleep(2)


def run_months(
    settings: Settings,
    months: list[date],
    dag_id: str = DAG_ID,
    on_progress: Callable[[dict[date, str | None]], None] | None = None,
    before_month: Callable[[date], None] | None = None,
) -> dict[date, str | None]:
    """Start Airflow if needed and close `months` through the scheduler, in order, one
    backfill each; a month closed before is closed again (its run cleared and re-run, Airflow
    keeps its history). `before_month` runs before each month's (the demo and the tests move
    the local simulator's clock to the month's close instant there). A month is done when its
    reports are (the report DAG, which its close's published-mart event runs): its state is
    the close's, or the report's if that failed. Airflow found stopped is started, and what it
    left in flight when it stopped is settled first."""
    restarted = not all(st.alive for st in services.status(settings))
    if restarted:
        services.up(settings)
    wait_for_dag(settings, dag_id)
    wait_for_dag(settings, REPORT_DAG_ID)
    if restarted:
        settle_interrupted(settings, dag_id)
        settle_interrupted(settings, REPORT_DAG_ID)
    with AirflowApi(settings) as api:
        api.request("PATCH", f"/dags/{REPORT_DAG_ID}", json={"is_paused": False})
    states: dict[date, str | None] = dict.fromkeys(months)

    def progress(current: dict[date, str | None]) -> None:
        states.update(current)
        if on_progress:
            on_progress(dict(states))

    for month in months:
        if before_month:
            before_month(month)
        # Airflow marks a backfill completed a little after its last run finished, and takes
        # one open backfill per DAG: the next month's waits for the previous one to close
        wait_for_backfills(settings, dag_id)
        backfill(settings, month, month, dag_id, replay=True)
        states.update(wait_for_months(settings, [month], dag_id, on_progress=progress))
        if states[month] == "success":
            reports = wait_for_reports(settings, month, dag_id)
            if any(st != "success" for st in reports.values()):
                states[month] = "failed"
            progress({month: states[month]})
    return states


def wait_for_months(
    settings: Settings,
    months: list[date],
    dag_id: str = DAG_ID,
    timeout: float = 1800,
    on_progress: Callable[[dict[date, str | None]], None] | None = None,
) -> dict[date, str | None]:
    """Block until every month's run has finished; returns the final states."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = run_states(settings, dag_id)
        mine = {m: states.get(m) for m in months}
        if on_progress:
            on_progress(mine)
        if all(s in FINISHED for s in mine.values()):
            return mine
        dead = [s.name for s in services.status(settings) if not s.alive]
        if dead:
            raise AirflowError(
                f"Airflow {', '.join(dead)} exited; see {settings.log_dir}/airflow-*.log"
            )
        time.sleep(2)
    raise AirflowError(f"runs did not finish within {timeout:.0f}s: {run_states(settings, dag_id)}")
