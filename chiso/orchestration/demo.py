"""`chiso demo`: set everything up on a fresh machine and run months through Airflow.

The embedded PostgreSQL, the source simulator and Airflow's four services are started by the
project's own code; the months are closed one after another through the real scheduler, as a
province's operator would run them, with the simulator's clock at each month's close instant
(its end plus the grace period), so the records that change after their month are pulled again
and the months they change are republished. Progress is shown as it goes, then what landed
and what was published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import httpx
import psycopg
from rich.console import Console

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.orchestration import airflow as af
from chiso.runtime import airflow as services
from chiso.runtime import simulator, superset
from chiso.runtime.warehouse import bootstrap


@dataclass(frozen=True)
class DemoResult:
    states: dict[date, str | None]

    @property
    def success(self) -> bool:
        return all(v == "success" for v in self.states.values())


class _TaskLines:
    """One line per task of a month's run as it finishes, with the time since the demo
    began: a spinner alone shows nothing where the output is a pipe or a CI log, and the
    closes take minutes."""

    def __init__(self, settings: Settings, console: Console) -> None:
        self._settings = settings
        self._console = console
        self._t0 = time.monotonic()
        self._shown: dict[tuple[date, str], str | None] = {}

    def update(self, runs: dict[date, str | None]) -> None:
        for month, state in runs.items():
            if state not in ("running", "success", "failed"):
                continue
            try:
                states = af.task_states(self._settings, month)
            except (httpx.HTTPError, af.AirflowError):  # progress is shown, never fatal
                continue
            if states.get("republish") == "success":
                # the reports: the run of monthly_report the close's published-mart event made
                try:
                    reports = af.report_states(self._settings, month)
                except (httpx.HTTPError, af.AirflowError):
                    reports = {}
                if reports and all(st in FINISHED_TASK for st in reports.values()):
                    ok = all(st == "success" for st in reports.values())
                    states[f"report ({af.REPORT_DAG_ID})"] = "success" if ok else "failed"
            for task, task_state in states.items():
                key = (month, task)
                if task_state in FINISHED_TASK and self._shown.get(key) != task_state:
                    self._shown[key] = task_state
                    mark = "[green]✓[/]" if task_state == "success" else "[red]✗[/]"
                    elapsed = time.monotonic() - self._t0
                    self._console.print(
                        f"  [{elapsed:5.0f}s] {month:%Y-%m} {mark} {task}: {task_state}"
                    )


FINISHED_TASK = ("success", "failed", "upstream_failed", "skipped")


def run(settings: Settings, months: list[date], *, keep_running: bool = False) -> DemoResult:
    console = Console()
    cadence = Cadence.from_env()
    with console.status("Starting the embedded PostgreSQL and creating the warehouse…"):
        u = bootstrap(settings)
    where = "external" if settings.external_url else "embedded"
    console.print(f"[green]✓[/] PostgreSQL ready ({where})")
    with console.status("Starting the source-system simulator…"):
        api = simulator.start(settings)
    console.print(
        f"[green]✓[/] simulator of the one-stop system, document management and portal on {api}"
    )
    try:
        with console.status("Migrating Airflow's metadata DB and starting its services…"):
            ui = services.up(settings)
        console.print(
            f"[green]✓[/] Airflow api-server, scheduler, dag-processor, triggerer on {ui}"
        )
        tasks = _TaskLines(settings, console)
        with console.status(
            f"Closing {months[0]:%Y-%m} … {months[-1]:%Y-%m} through the scheduler…"
        ) as status:

            def progress(st: dict[date, str | None]) -> None:
                status.update(
                    "Closes: " + "  ".join(f"{m:%Y-%m} {v or 'pending'}" for m, v in st.items())
                )
                tasks.update(st)

            states = af.run_months(
                settings,
                months,
                on_progress=progress,
                # the sources stand as they would when each close runs: records received in a
                # month keep changing after it, and some are recorded late; the provinces'
                # summary reports of the month wait in the inbox
                before_month=lambda m: simulator.stand_at_close(
                    settings, m, cadence.close_instant(m)
                ),
            )
    finally:
        if not keep_running:
            services.down(settings)
            simulator.stop(settings)
    for m, st in states.items():
        mark = "[green]✓[/]" if st == "success" else "[red]✗[/]"
        console.print(f"{mark} {m:%Y-%m}: {st}")
    with psycopg.connect(u.loader) as conn:
        landed = conn.execute(
            "select entity, count(distinct extract_month), sum(row_count)"
            " from raw.ingest_batches where status = 'loaded' group by 1 order by 1"
        ).fetchall()
    console.print("\n[bold]Landed in raw[/] (all three source systems, ledger raw.ingest_batches):")
    for entity, n_months, n_rows in landed:
        console.print(f"  {entity}: {n_rows:,} rows over {n_months} month(s)".replace(",", "."))
    with psycopg.connect(u.bi_reader) as conn:
        rows = conn.execute(
            "select period_month, count(*) from marts.mart_kpi_monthly group by 1 order by 1"
        ).fetchall()
    console.print("\n[bold]Published mart[/] marts.mart_kpi_monthly:")
    for m, n in rows:
        console.print(f"  {m:%Y-%m}: {n} rows (agency × indicator)")
    console.print('  connect as the BI reader: psql "$(.venv/bin/chiso db url --role bi_reader)"')
    console.print("\n[bold]Reports[/]:")
    for m in months:
        p = settings.reports_dir / f"bao-cao-{m:%Y-%m}.html"
        if p.exists():
            console.print(f"  {p}")
        scoped = settings.reports_dir / f"{m:%Y-%m}"
        if scoped.is_dir():
            pdfs = sorted(scoped.glob("*.pdf"))
            console.print(
                f"    per province and tier: {len(pdfs)} PDF, with XLSX and HTML, in {scoped}/"
            )
    console.print(
        "\n[bold]Airflow UI[/]: run `make airflow`, then open http://127.0.0.1:"
        f"{settings.airflow_port} (DAG monthly_kpi) and log in as admin with the password"
        " `.venv/bin/chiso airflow password` prints; `make stop` stops everything."
    )
    console.print(
        "[bold]Leaders' dashboard[/] (Apache Superset): run `make bi`, then open"
        f" {superset.dashboard_url(settings)} and log in as admin with the password"
        " `.venv/bin/chiso bi password` prints."
    )
    return DemoResult(states)
