"""`chiso` command line: manage the embedded warehouse, the simulator, Airflow, and monthly runs."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from chiso.config import REPO_ROOT, Settings, settings

ROLES = ("admin", "loader", "transformer", "bi_reader", "airflow_metadata")


def _print(msg: str) -> None:
    print(msg, flush=True)


# -- db --------------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace) -> int:
    from chiso.db.bootstrap import bootstrap, urls
    from chiso.db.embedded import EmbeddedPostgres

    s = settings()
    if args.action == "url":
        _print(urls(s).for_role(args.role))
        return 0
    if s.external_url:
        if args.action in ("start", "bootstrap"):
            bootstrap(s)
            _print("external warehouse (CHISO_WAREHOUSE_URL): schemas ensured")
        else:
            _print("external warehouse (CHISO_WAREHOUSE_URL): nothing to manage here")
        return 0
    pg = EmbeddedPostgres(s)
    if args.action in ("start", "bootstrap"):
        bootstrap(s)
        _print(f"PostgreSQL {pg.status().describe()}")
    elif args.action == "stop":
        _print(f"PostgreSQL {pg.stop().describe()}")
    elif args.action == "status":
        st = pg.status()
        _print(f"PostgreSQL {st.describe()}")
        return 0 if st.running else 3
    return 0


# -- simulator -------------------------------------------------------------------------------
def _simulator_pidfile(s: Settings) -> Path:
    return s.run_dir / "simulator.pid"


def simulator_start(s: Settings, timeout: float = 60, options: Sequence[str] = ()) -> str:
    """Start the source-system simulator in the background (replacing a stale one).

    `options` are the simulator's own flags (`python -m chiso.simulator.server --help`:
    months, provinces, volume, faults), e.g. for the benchmarks.
    """
    import httpx

    simulator_stop(s)
    s.ensure_dirs()
    log = open(s.log_dir / "simulator.log", "ab")  # noqa: SIM115 (child owns it)
    cmd = [sys.executable, "-m", "chiso.cli", "simulator", "serve"]
    cmd += ["--port", str(s.simulator_port), *options]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "CHISO_HOME": str(s.home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO_ROOT,
    )
    _simulator_pidfile(s).write_text(str(proc.pid))
    url = f"http://127.0.0.1:{s.simulator_port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited; see {s.log_dir / 'simulator.log'}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"simulator did not answer on {url}")


def simulator_stop(s: Settings) -> None:
    pf = _simulator_pidfile(s)
    if not pf.exists():
        return
    pid = int(pf.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pf.unlink(missing_ok=True)


def cmd_simulator(args: argparse.Namespace) -> int:
    s = settings()
    if args.action == "serve":
        from chiso.orchestration.airflow import simulator_token
        from chiso.simulator.server import TOKEN_ENV
        from chiso.simulator.server import main as serve

        # the warehouse's token, whatever the environment says; options as the simulator's own
        os.environ[TOKEN_ENV] = simulator_token(s)
        serve(["--port", str(args.port or s.simulator_port), *args.options])
    elif args.action == "start":
        _print(f"simulator on {simulator_start(s, options=args.options)}")
    elif args.action == "stop":
        simulator_stop(s)
    return 0


# -- monthly runs ----------------------------------------------------------------------------
def _api(s: Settings, source: str = "one_stop"):
    """A source system's API: CHISO_<SOURCE>_API_URL / _TOKEN, else the local simulator."""
    from chiso.orchestration.airflow import simulator_token
    from chiso.pipeline import ApiSettings

    prefix = f"CHISO_{source.upper()}_API"
    return ApiSettings(
        base_url=os.environ.get(f"{prefix}_URL", f"http://127.0.0.1:{s.simulator_port}"),
        token=os.environ.get(f"{prefix}_TOKEN") or simulator_token(s),
    )


def cmd_run_month(args: argparse.Namespace) -> int:
    from chiso.db.bootstrap import bootstrap
    from chiso.pipeline import parse_month, run_month

    s = settings()
    bootstrap(s)
    path = run_month(s, parse_month(args.month), _api(s))
    _print(f"published {args.month}; report: {path}")
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    from chiso.pipeline import parse_month
    from chiso.transform.dbt import build

    month = parse_month(args.month) if args.month else None
    result = build(settings(), month, full=args.full_refresh)
    _print(f"dbt build {result.statuses} in {result.elapsed_seconds or 0:.1f}s")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Validate the month's audit area, then publish it as a revision, or refuse.

    A failed gate is published only with --force and a non-empty --reason, recorded in
    ops.publications and shown in the report.
    """
    from chiso.pipeline import parse_month, publish, report, validate
    from chiso.publish import PublishError

    reason = (args.reason or "").strip()
    if args.force and not reason:
        print('error: --force needs --reason "why the month must go out anyway"', file=sys.stderr)
        return 2
    if reason and not args.force:
        print("error: --reason only goes with --force", file=sys.stderr)
        return 2
    s = settings()
    month = parse_month(args.month)
    gate = validate(s, month, raise_on_failure=False)
    _print(gate.summary)
    if gate.data_docs:
        _print(f"Data Docs: {gate.data_docs}")
    if not gate.success and not args.force:
        print(
            f"error: {args.month} failed validation and was not published; the published"
            " version stays. Fix the data and run again, or publish anyway with"
            ' --force --reason "…"',
            file=sys.stderr,
        )
        return 1
    if args.force and gate.success:
        _print("the gate passed: publishing normally, --force and its reason are not recorded")
    forced = reason if args.force and not gate.success else None
    try:
        pub = publish(s, month, None, gate.gate_run_id, forced_reason=forced)
    except (PublishError, LookupError, ValueError) as exc:
        print(f"error: {exc}; the published version stays", file=sys.stderr)
        return 1
    if not pub.created:
        _print(f"{args.month} unchanged: revision {pub.revision} stays current")
    else:
        changed = "" if pub.changed_rows is None else f", {pub.changed_rows} rows changed"
        forced = f", FORCED: {pub.forced_reason}" if pub.forced_reason else ""
        _print(f"published {args.month} as revision {pub.revision}{changed}{forced}")
    _print(f"report: {report(s, month)}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from chiso.site import build

    _print(f"docs site: {build(settings(), dbt_docs=not args.no_dbt)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from chiso.pipeline import parse_month, report

    _print(str(report(settings(), parse_month(args.month))))
    return 0


# -- airflow ---------------------------------------------------------------------------------
def cmd_airflow(args: argparse.Namespace) -> int:
    from chiso.db.bootstrap import bootstrap
    from chiso.orchestration import airflow as af

    s = settings()
    if args.action == "up":
        bootstrap(s)
        simulator_start(s)
        url = af.up(s)
        _print(f"Airflow UI: {url}  (stop with `make stop`)")
    elif args.action == "down":
        af.down(s)
        simulator_stop(s)
    elif args.action == "status":
        for st in af.status(s):
            _print(f"{st.name:14} {'running' if st.alive else 'stopped'} {st.pid or ''}")
    elif args.action == "env":
        for k, v in sorted(af.airflow_env(s).items()):
            if k.startswith(("AIRFLOW", "CHISO")) and "SECRET" not in k and "CONN" not in k:
                _print(f"export {k}={v!r}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load files (one, or the source's inbox folder) or pull a month from the source's API."""
    from chiso.db.bootstrap import bootstrap
    from chiso.ingest.files import IngestError, describe, ingest_file, ingest_inbox
    from chiso.ingest.loader import LoadError
    from chiso.ingest.readers import ReadError
    from chiso.pipeline import ingest_api, parse_month

    s = settings()
    u = bootstrap(s)
    month = parse_month(args.month) if args.month else None
    if args.file:
        try:
            result = ingest_file(
                u.loader,
                args.source,
                Path(args.file),
                entity=args.entity,
                month=month,
                agency=args.agency,
                encoding=args.encoding,
            )
        except (IngestError, LoadError, ReadError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _print(describe([result]).rstrip())
        for w in result.warnings:
            _print(f"  warning: {w}")
        return 0
    if args.api:
        if month is None:
            print("error: --api needs --month YYYY-MM", file=sys.stderr)
            return 2
        rows = ingest_api(s, args.source, month, _api(s, args.source))
        _print(f"loaded {rows} rows of {args.source} for {month:%Y-%m} from the API")
        return 0
    results = ingest_inbox(u.loader, s.inbox_dir, args.source, encoding=args.encoding)
    _print(describe(results).rstrip() or f"nothing waiting in {s.inbox_dir / args.source}")
    return 1 if any(r.status == "quarantined" for r in results) else 0


def _month_range(first: date, last: date) -> list[date]:
    from chiso.pipeline import next_month

    months, m = [], first
    while m <= last:
        months.append(m)
        m = next_month(m)
    return months


def cmd_demo(args: argparse.Namespace) -> int:
    """Set up everything and run several months through the real Airflow scheduler."""
    import psycopg
    from rich.console import Console

    from chiso.db.bootstrap import bootstrap
    from chiso.orchestration import airflow as af
    from chiso.pipeline import parse_month

    console = Console()
    s = settings()
    months = _month_range(parse_month(args.first), parse_month(args.last))
    with console.status("Starting the embedded PostgreSQL and creating the warehouse…"):
        u = bootstrap(s)
    console.print(f"[green]✓[/] PostgreSQL ready ({'external' if s.external_url else 'embedded'})")
    with console.status("Starting the source-system simulator…"):
        api = simulator_start(s)
    console.print(
        f"[green]✓[/] simulator of the one-stop system, document management and portal on {api}"
    )
    try:
        with console.status("Migrating Airflow's metadata DB and starting its services…"):
            ui = af.up(s)
        console.print(
            f"[green]✓[/] Airflow api-server, scheduler, dag-processor, triggerer on {ui}"
        )
        with console.status(
            f"Backfilling {months[0]:%Y-%m} … {months[-1]:%Y-%m} through the scheduler…"
        ) as status:
            states = af.run_months(
                s,
                months,
                on_progress=lambda st: status.update(
                    "Runs: " + "  ".join(f"{m:%Y-%m} {v or 'pending'}" for m, v in st.items())
                ),
            )
    finally:
        if not args.keep_running:
            af.down(s)
            simulator_stop(s)
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
        p = s.reports_dir / f"bao-cao-{m:%Y-%m}.html"
        if p.exists():
            console.print(f"  {p}")
    console.print(
        "\n[bold]Airflow UI[/]: run `make airflow`, then open http://127.0.0.1:"
        f"{s.airflow_port} (DAG monthly_kpi); `make stop` stops everything."
    )
    return 0 if all(v == "success" for v in states.values()) else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("CHISO_LOG_LEVEL", "WARNING"))
    p = argparse.ArgumentParser(prog="chiso", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the warehouse server")
    db.add_argument("action", choices=["start", "stop", "status", "url", "bootstrap"])
    db.add_argument("--role", choices=ROLES, default="bi_reader", help="role for `url`")
    db.set_defaults(func=cmd_db)

    sim = sub.add_parser("simulator", help="the one-stop system simulator")
    sim.add_argument("action", choices=["serve", "start", "stop"])
    sim.add_argument("--port", type=int)
    sim.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="with serve: the simulator's own flags (python -m chiso.simulator.server --help)",
    )
    sim.set_defaults(func=cmd_simulator)

    ing = sub.add_parser(
        "ingest", help="load a file, the inbox folder, or a month from a source's API"
    )
    ing.add_argument("source", choices=["one_stop", "documents", "portal"])
    how = ing.add_mutually_exclusive_group()
    how.add_argument("--file", help="one file (XLSX, HTML-as-.xls, CSV or JSON)")
    how.add_argument("--api", action="store_true", help="pull --month from the source's API")
    ing.add_argument("--entity", help="e.g. one_stop.aggregate_reports (default: by headers)")
    ing.add_argument("--month", help="reporting month YYYY-MM (default: title or file name)")
    ing.add_argument("--agency", help="agency identifier when the file has no agency column")
    ing.add_argument(
        "--encoding",
        choices=["auto", "tcvn3", "vni", "none"],
        default="auto",
        help="legacy-font text in the file (auto: detect per value)",
    )
    ing.set_defaults(func=cmd_ingest)

    rm = sub.add_parser("run-month", help="run the monthly slice for one month without Airflow")
    rm.add_argument("month", help="YYYY-MM")
    rm.set_defaults(func=cmd_run_month)

    tr = sub.add_parser(
        "transform",
        help="build the dbt project: every period, or with --month only the periods overlapping it",
    )
    tr.add_argument("--month", help="YYYY-MM: incremental build of that month's periods")
    tr.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental marts from scratch"
    )
    tr.set_defaults(func=cmd_transform)

    pb = sub.add_parser(
        "publish",
        help="validate the month built in the audit area and publish it as a new revision",
    )
    pb.add_argument("--month", required=True, help="YYYY-MM")
    pb.add_argument(
        "--force", action="store_true", help="publish even though the gate fails (needs --reason)"
    )
    pb.add_argument("--reason", help="why a failed month must be published anyway (recorded)")
    pb.set_defaults(func=cmd_publish)

    rp = sub.add_parser("report", help="render the monthly report from the published mart")
    rp.add_argument("--month", required=True, help="YYYY-MM")
    rp.set_defaults(func=cmd_report)

    dc = sub.add_parser(
        "docs", help="build the static docs site: docs, dbt docs, GX Data Docs, reports"
    )
    dc.add_argument("--no-dbt", action="store_true", help="skip `dbt docs generate`")
    dc.set_defaults(func=cmd_docs)

    af = sub.add_parser("airflow", help="the project's Airflow services")
    af.add_argument("action", choices=["up", "down", "status", "env"])
    af.set_defaults(func=cmd_airflow)

    demo = sub.add_parser("demo", help="set up and run the demo months through Airflow")
    demo.add_argument("--first", default="2020-01")
    demo.add_argument("--last", default="2020-04")
    demo.add_argument("--keep-running", action="store_true", help="leave Airflow up afterwards")
    demo.set_defaults(func=cmd_demo)

    args = p.parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print(
            "\ninterrupted: services this command started were stopped; running the same"
            " command again picks up cleanly.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
