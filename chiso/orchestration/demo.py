"""`chiso demo`: set everything up on a fresh machine and run months through Airflow.

The embedded PostgreSQL, the source simulator and Airflow's four services are started by the
project's own code; the months are closed one after another through the real scheduler, as a
province's operator would run them, with the simulator's clock at each month's close instant
(its end plus the grace period), so the records that change after their month are pulled again
and the months they change are republished. Progress is shown as it goes, then what landed
and what was published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from rich.console import Console

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.orchestration import airflow as af
from chiso.runtime import airflow as services
from chiso.runtime import simulator
from chiso.runtime.warehouse import bootstrap


@dataclass(frozen=True)
class DemoResult:
    states: dict[date, str | None]

    @property
    def success(self) -> bool:
        return all(v == "success" for v in self.states.values())


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
        with console.status(
            f"Closing {months[0]:%Y-%m} … {months[-1]:%Y-%m} through the scheduler…"
        ) as status:
            states = af.run_months(
                settings,
                months,
                on_progress=lambda st: status.update(
                    "Closes: " + "  ".join(f"{m:%Y-%m} {v or 'pending'}" for m, v in st.items())
                ),
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
    console.print(
        "\n[bold]Airflow UI[/]: run `make airflow`, then open http://127.0.0.1:"
        f"{settings.airflow_port} (DAG monthly_kpi); `make stop` stops everything."
    )
    return DemoResult(states)
