"""`chiso` command line: the warehouse server, the simulator, Airflow, and monthly runs.

Only the command line lives here: each command parses its arguments, calls one function of
the package that does the work, and prints what came back.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import shlex
import sys
import time
import traceback
from datetime import date
from pathlib import Path

from chiso.core.config import Settings, settings
from chiso.core.months import month_range, parse_month
from chiso.core.redact import scrub

ROLES = ("admin", "loader", "transformer", "bi_reader", "airflow_metadata", "bi_metadata")


def _print(msg: str) -> None:
    print(msg, flush=True)


def _error(msg: str, code: int = 1) -> int:
    print(f"error: {msg}", file=sys.stderr, flush=True)
    return code


def _province(text: str) -> str:
    from chiso.sources.systems import province_code

    try:
        return province_code(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _month(text: str) -> date:
    """A month argument: argparse answers a bad one with the usage and what was expected."""
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# "12:00:01  12 of 278 OK created sql view model audit.stg_x ...... [CREATE VIEW in 0.12s]"
_DBT_NODE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|ERROR|FAIL|WARN|SKIP|NO-OP)\b(.*)")


class _Progress:
    """A long command's progress on stdout, one line per step, as plain lines a log keeps
    (a spinner shows nothing in a pipe or a CI log): each step with the time since the
    command began, and a dbt build every tenth of its nodes, its failures and warnings."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._shown = -1

    def step(self, text: str) -> None:
        self._shown = -1
        _print(f"[{time.monotonic() - self._t0:5.0f}s] {text}")

    def dbt_line(self, line: str) -> None:
        found = _DBT_NODE.search(line)
        if not found:
            return
        done, total, status = int(found[1]), int(found[2]), found[3]
        if status in ("ERROR", "FAIL", "WARN"):
            what = re.sub(r"\s*\.{3,}\s*", " ", found[4]).strip()
            _print(f"        dbt {status}: {what}")
        tenth = done * 10 // max(total, 1)
        if tenth > self._shown:
            self._shown = tenth
            _print(f"[{time.monotonic() - self._t0:5.0f}s]   dbt: {done} of {total} nodes done")


# -- db ----------------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace) -> int:
    from chiso.runtime.embedded_postgres import EmbeddedPostgres
    from chiso.runtime.warehouse import bootstrap, urls

    s = settings()
    if args.action == "url":
        if s.external_url and args.role != "admin":
            # handing a BI tool "the bi_reader URL" would hand it the operator's own
            return _error(
                f"with CHISO_WAREHOUSE_URL every part connects as that URL's user: there is no"
                f" separate {args.role} role to hand out. Create one on your server"
                " (docs/runbook.md, 'Using your own PostgreSQL') and give its URL instead",
                2,
            )
        _print(urls(s).for_role(args.role))
        return 0
    if s.external_url:
        if args.action in ("start", "bootstrap"):
            bootstrap(s)
            _print("external warehouse (CHISO_WAREHOUSE_URL): control plane migrated")
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


# -- simulator ---------------------------------------------------------------------------------
def cmd_simulator(args: argparse.Namespace) -> int:
    from chiso.runtime import simulator

    s = settings()
    if args.action == "start":
        try:
            _print(f"simulator on {simulator.start(s, options=args.options)}")
        except simulator.SimulatorError as exc:
            return _error(str(exc))
    else:
        simulator.stop(s)
    return 0


# -- monthly runs ------------------------------------------------------------------------------
def cmd_run_month(args: argparse.Namespace) -> int:
    from chiso.pipeline import run_month
    from chiso.runtime.simulator import api_settings
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    progress = _Progress()
    progress.step("starting the warehouse")
    bootstrap(s)
    path = run_month(s, args.month, api_settings(s), progress=progress)
    _print(f"published {args.month:%Y-%m}; report: {path}")
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    from chiso.transform.dbt import build

    if args.new_pii_key and not args.full_refresh:
        return _error("--new-pii-key rebuilds every hashed column: add --full-refresh", 2)
    progress = _Progress()
    progress.step("dbt build" + (f" of {args.month:%Y-%m}" if args.month else ""))
    result = build(
        settings(),
        args.month,
        full=args.full_refresh,
        new_pii_key=args.new_pii_key,
        on_line=progress.dbt_line,
    )
    if result.skipped:
        _print(f"nothing new since dbt build {result.invocation_id}: dbt not run")
    else:
        _print(f"dbt build {result.statuses} in {result.elapsed_seconds or 0:.1f}s")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Validate the month's audit area, then publish it as a revision, or refuse.

    A failed gate is published only with --force and a non-empty --reason, recorded in
    ops.publications and shown in the report.
    """
    from chiso import pipeline
    from chiso.publish.revisions import PublishError

    reason = (args.reason or "").strip()
    if args.force and not reason:
        return _error('--force needs --reason "why the month must go out anyway"', 2)
    if reason and not args.force:
        return _error("--reason only goes with --force", 2)
    s = settings()
    month = args.month
    gate = pipeline.validate(s, month, raise_on_failure=False)
    _print(gate.summary)
    if gate.data_docs:
        _print(f"Data Docs: {gate.data_docs}")
    if not gate.success and not args.force:
        return _error(
            f"{month:%Y-%m} failed validation and was not published; the published version"
            " stays. Fix the data and run again, or publish anyway with"
            ' --force --reason "…"'
        )
    if args.force and gate.success:
        _print("the gate passed: publishing normally, --force and its reason are not recorded")
    forced = reason if args.force and not gate.success else None
    try:
        pub = pipeline.publish(s, month, None, gate.gate_run_id, forced_reason=forced)
    except (PublishError, LookupError, ValueError) as exc:
        return _error(f"{exc}; the published version stays")
    if not pub.created:
        _print(f"{month:%Y-%m} unchanged: revision {pub.revision} stays current")
    else:
        changed = "" if pub.changed_rows is None else f", {pub.changed_rows} rows changed"
        forced_note = f", FORCED: {pub.forced_reason}" if pub.forced_reason else ""
        _print(f"published {month:%Y-%m} as revision {pub.revision}{changed}{forced_note}")
    _print(f"report: {pipeline.report(s, month)}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from chiso.report.site import build

    _print(f"docs site: {build(settings(), dbt_docs=not args.no_dbt)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from chiso.pipeline import report
    from chiso.report.render import rendered_month

    s = settings()
    html = report(s, args.month)
    _print(str(html))
    if html.with_suffix(".xlsx").exists():
        _print(str(html.with_suffix(".xlsx")))  # the overview's workbook, written beside it
    scoped = rendered_month(s.reports_dir, args.month)
    if scoped is not None and scoped.files:
        _print(f"{len(scoped.files)} files per province and tier in {scoped.files[0].path.parent}")
    return 0


def cmd_corrections(args: argparse.Namespace) -> int:
    """List the agency-months held by an operator's corrected file, or release one."""
    from chiso.ingest.holds import holds, release
    from chiso.runtime.warehouse import bootstrap

    u = bootstrap(settings())
    if args.action == "list":
        found = holds(u.loader, include_released=args.all)
        if not found:
            _print("no correction holds")
        for h in found:
            state = (
                f"released {h.released_at:%Y-%m-%d %H:%M} by {h.released_by}"
                if h.released_at
                else "held"
            )
            _print(f"{h.entity:28} {h.agency_code:16} {h.extract_month:%Y-%m}  {state}")
        return 0
    if not (args.agency and args.month):
        return _error("release needs --agency and --month")
    by = args.by or os.environ.get("USER") or "operator"
    n = release(u.loader, agency=args.agency, month=args.month, entity=args.entity, by=by)
    if n == 0:
        return _error(f"no active hold for {args.agency} {args.month:%Y-%m}")
    _print(f"released {n} hold(s); the next pull of the source re-pulls {args.month:%Y-%m}")
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    """The reference files: copy the project's to start a deployment's, check them, load
    them (and rebuild and republish what they change), or show the versions loaded."""
    import shutil

    from chiso.core.config import REFERENCE_DIR
    from chiso.pipeline import ReferenceInvalid, load_reference, rebuild_reference
    from chiso.reference.files import REFERENCE_FILES
    from chiso.reference.load import ReferenceFileError
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    if args.action == "init":
        if not args.dir:
            return _error("init needs --dir: the folder to copy the project's files into")
        target = Path(args.dir)
        target.mkdir(parents=True, exist_ok=True)
        for spec in REFERENCE_FILES:
            if (target / spec.file_name).exists():
                return _error(f"{target / spec.file_name} exists: nothing copied")
        for spec in REFERENCE_FILES:
            shutil.copy2(REFERENCE_DIR / spec.file_name, target / spec.file_name)
        _print(f"copied {len(REFERENCE_FILES)} reference files to {target}")
        _print(f"set CHISO_REFERENCE_DIR={target.resolve()} and keep the folder under git")
        return 0
    u = bootstrap(s)
    if args.action == "status":
        import psycopg

        with psycopg.connect(u.transformer) as conn:
            rows = conn.execute(
                "select version_id, loaded_at, loaded_by, origin, changes, rebuilt_at"
                " from ops.reference_versions order by version_id desc limit 10"
            ).fetchall()
        if not rows:
            _print("no reference data loaded yet")
        for version, at, by, origin, changes, rebuilt in rows:
            tables = ", ".join(
                f"{t} +{c['added']}/-{c['removed']}" for t, c in changes["tables"].items()
            )
            state = f"rebuilt {rebuilt:%Y-%m-%d %H:%M}" if rebuilt else "NOT REBUILT"
            _print(
                f"v{version} {at:%Y-%m-%d %H:%M} {by} ({origin}): {tables or 'no rows'}; {state}"
            )
        return 0
    if args.action == "rebuild":
        for pub in rebuild_reference(s, on_line=_print):
            _print(f"republished {pub.period_month:%Y-%m} as revision {pub.revision}")
        return 0
    folder = Path(args.dir) if args.dir else s.reference_dir
    try:
        loaded = load_reference(s, folder, origin=f"chiso reference load {folder}")
    except ReferenceFileError as exc:
        return _error(str(exc))
    except ReferenceInvalid as exc:
        return _error(exc.verdict.summary())
    if loaded.version_id is None:
        _print(f"{folder}: the files are those loaded already; nothing to do")
    else:
        assert loaded.changes is not None
        summary = loaded.changes.summary()
        _print(f"loaded reference version {loaded.version_id} from {folder}: {summary['tables']}")
        if loaded.released or loaded.files:
            _print(
                f"{loaded.released} parked record(s) will be pulled again, {len(loaded.files)}"
                " quarantined file(s) are back in the inbox (their agency is known now)"
            )
    if args.no_rebuild:
        _print("not rebuilt (--no-rebuild): `chiso reference rebuild` or the next load does it")
        return 0
    republished = rebuild_reference(s, on_line=_print)
    for pub in republished:
        _print(f"republished {pub.period_month:%Y-%m} as revision {pub.revision}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load files (one, or the source's inbox folder) or pull a month from the source's API."""
    from chiso.ingest.files import IngestError, describe, ingest_file, ingest_inbox
    from chiso.ingest.loader import LoadError
    from chiso.ingest.readers import ReadError
    from chiso.pipeline import ingest_api
    from chiso.runtime.simulator import api_settings
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    month = args.month
    if args.file and not Path(args.file).is_file():
        return _error(f"{args.file}: no such file", 2)
    u = bootstrap(s)
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
            return _error(str(exc))
        _print(describe([result]).rstrip())
        for w in result.warnings:
            _print(f"  warning: {w}")
        return 0
    if args.api:
        if month is None:
            return _error("--api needs --month YYYY-MM", 2)
        api = api_settings(s, args.source)
        rows = ingest_api(s, args.source, month, api, province=args.province)
        of = f" of province {args.province}" if args.province else ""
        _print(f"loaded {rows} rows of {args.source} for {month:%Y-%m} from the API{of}")
        return 0
    results = ingest_inbox(
        u.loader,
        s.inbox_dir,
        args.source,
        encoding=args.encoding,
        settle_seconds=s.inbox_settle_seconds,
        done_marker=s.inbox_done_marker,
    )
    _print(describe(results).rstrip() or f"nothing waiting in {s.inbox_dir / args.source}")
    return 1 if any(r.status == "quarantined" for r in results) else 0


# -- personal data -----------------------------------------------------------------------------
def cmd_privacy(args: argparse.Namespace) -> int:
    """Retention of personal data past its period, or erasure of one person on request."""
    from chiso.core.months import add_months, month_start
    from chiso.core.pii import pii_key
    from chiso.ingest import personal_data
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    u = bootstrap(s)
    if args.action == "retain":
        months = args.months if args.months is not None else s.personal_data_months
        before = add_months(month_start(date.today()), -months)
        done = personal_data.retain(u.loader, pii_key(s), s.inbox_dir, before)
        _print(f"personal data before {before:%Y-%m} ({months} months): {done.describe()}")
        return 0
    id_number = sys.stdin.readline().strip() if args.id in (None, "-") else args.id
    if not id_number:
        return _error("erase needs the person's ID number: --id NUMBER, or on stdin", 2)
    done = personal_data.erase(u.loader, u.transformer, pii_key(s), s.inbox_dir, id_number)
    _print(f"erased: {done.describe()}")
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    """Scoped BI logins (chiso/publish/access.py)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    from chiso.publish import access
    from chiso.runtime.secrets import write_private
    from chiso.runtime.warehouse import bootstrap, role_name

    s = settings()
    u = bootstrap(s)
    if args.action == "list":
        for scope in access.scopes(u.admin):
            _print(f"{scope.role_name:32} {scope.describe()}")
        return 0
    if not args.name:
        return _error(f"access {args.action} needs the login's name", 2)
    folder = s.secrets_dir / "access"
    kept = folder / f"{args.name}.url"
    if args.action == "revoke":
        if not access.revoke(u.admin, args.name):
            return _error(f"no scoped login {args.name}: `chiso access list` shows them", 1)
        kept.unlink(missing_ok=True)
        _print(f"revoked {args.name}")
        return 0
    try:
        password = access.grant(
            u.admin, role_name("transformer"), args.name, province=args.province,
            agency=args.agency,
        )  # fmt: skip
    except access.AccessError as exc:
        return _error(str(exc), 2)
    base = urlsplit(u.bi_reader)
    netloc = f"{quote(args.name)}:{quote(password)}@{base.hostname}:{base.port}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(kept, urlunsplit(base._replace(netloc=netloc)) + "\n")
    scope = access.Scope(args.name, args.province, args.agency).describe()
    _print(f"granted {args.name}: sees the marts' rows of {scope} only; its URL is in {kept}")
    return 0


# -- airflow -----------------------------------------------------------------------------------
def cmd_airflow(args: argparse.Namespace) -> int:
    from chiso.runtime import airflow, simulator
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    if args.action == "up":
        bootstrap(s)
        simulator.start(s)
        _print(
            f"Airflow UI: {airflow.up(s)}  (user {airflow.ADMIN_USER}, password: `chiso airflow"
            " password`; stop with `make stop`)"
        )
    elif args.action == "down":
        airflow.down(s)
        simulator.stop(s)
    elif args.action == "status":
        for st in airflow.status(s):
            _print(f"{st.name:14} {'running' if st.alive else 'stopped'} {st.pid or ''}")
    elif args.action == "env":
        # for `eval "$(chiso airflow env)"`: no secret is printed (chiso/runtime/airflow.py)
        for k, v in sorted(airflow.shell_env(s).items()):
            _print(f"export {k}={shlex.quote(v)}")
    elif args.action == "secret":
        if args.name not in airflow.SECRET_SETTINGS.values():
            return _error(
                f"airflow secret needs one of {sorted(airflow.SECRET_SETTINGS.values())}", 2
            )
        _print(airflow.secret_setting(s, args.name))
    elif args.action == "password":
        _print(airflow.admin_password(s))  # asked for by name: the UI's login
    return 0


# -- bi ----------------------------------------------------------------------------------------
def cmd_bi(args: argparse.Namespace) -> int:
    """Apache Superset with the leaders' dashboard (chiso/runtime/superset.py)."""
    from chiso.runtime import superset
    from chiso.runtime.warehouse import bootstrap

    s = settings()
    if args.action == "up":
        bootstrap(s)
        dashboard = superset.up(s)
        _print(
            f"Leaders' dashboard: {dashboard}  (user {superset.ADMIN_USER}, password:"
            " `chiso bi password`; stop with `make stop`)"
        )
        if not _published_months(s):
            _print("No month is published yet: run `make demo` (or `chiso run-month`) first.")
    elif args.action == "down":
        superset.down(s)
    elif args.action == "status":
        running = superset.pid(s)
        _print(f"superset       {'running' if running else 'stopped'} {running or ''}")
    elif args.action == "url":
        _print(superset.dashboard_url(s))
    elif args.action == "password":
        _print(superset.admin_password(s))  # asked for by name: the dashboard's login
    return 0


def _published_months(s: Settings) -> int:
    """How many months the marts publish, as the BI reader sees them."""
    import psycopg

    from chiso.runtime.warehouse import urls

    with psycopg.connect(urls(s).bi_reader) as conn:
        row = conn.execute(
            "select count(*) from marts.kpi_publications where is_current"
        ).fetchone()
    return int(row[0]) if row else 0


def cmd_backup(args: argparse.Namespace) -> int:
    """A backup of the warehouse and of the personal-data key (chiso/orchestration/backup.py)."""
    from chiso.orchestration.maintenance import Retention, back_up

    s = settings()
    retention = Retention.from_env(s)
    if args.into:
        retention = dataclasses.replace(retention, backup_dir=args.into)
    done = back_up(s, retention)
    key = f"key {done.key}" if done.key else "key kept by CHISO_PII_KEY, not copied"
    _print(f"backup {done.dump} ({done.size / 1024**2:.1f} MiB); {key};"
           f" check value {done.check_value}")  # fmt: skip
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into this deployment's fresh, empty warehouse."""
    from chiso.orchestration.backup import restore

    done = restore(settings(), args.dump, args.key)
    _print(f"restored {done['dump']} (made {done.get('created_at', '?')});"
           f" key check value {done['key_check_value']}")  # fmt: skip
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the deployment (chiso/orchestration/doctor.py): 0 when nothing fails."""
    from chiso.orchestration.doctor import FAIL, diagnose

    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    findings = diagnose(settings())
    for f in findings:
        _print(f"{marks[f.status]} {f.check:<14} {f.detail}")
    failed = [f for f in findings if f.status == FAIL]
    _print(f"{len(failed)} problem(s)" if failed else "nothing wrong found")
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Set up everything and run several months through the real Airflow scheduler."""
    from chiso.orchestration import demo

    months = month_range(args.first, args.last)
    if not months:
        return _error(f"--first {args.first:%Y-%m} comes after --last {args.last:%Y-%m}", 2)
    return 0 if demo.run(settings(), months, keep_running=args.keep_running).success else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chiso", description=__doc__.splitlines()[0])
    p.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("CHISO_DEBUG", "") not in ("", "0", "false"),
        help="on an error, show the Python traceback too (or set CHISO_DEBUG=1)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the warehouse server")
    db.add_argument("action", choices=["start", "stop", "status", "url", "bootstrap"])
    db.add_argument("--role", choices=ROLES, default="bi_reader", help="role for `url`")
    db.set_defaults(func=cmd_db)

    sim = sub.add_parser("simulator", help="the local source-system simulator (demo and tests)")
    sim.add_argument("action", choices=["start", "stop"])
    sim.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="with start: the simulator's own flags (chiso-sim serve --help)",
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
    ing.add_argument(
        "--month", type=_month, help="reporting month YYYY-MM (default: title or file name)"
    )
    ing.add_argument("--agency", help="agency identifier when the file has no agency column")
    ing.add_argument(
        "--province",
        type=_province,
        help="with --api in a deployment of several provinces: the API is that province's"
        " installation (its agencies' month is replaced, the others' kept)",
    )
    ing.add_argument(
        "--encoding",
        choices=["auto", "tcvn3", "vni", "none"],
        default="auto",
        help="legacy-font text in the file (auto: detect per value)",
    )
    ing.set_defaults(func=cmd_ingest)

    corr = sub.add_parser(
        "corrections", help="agency-months held by an operator's corrected file (list, release)"
    )
    corr.add_argument("action", choices=["list", "release"])
    corr.add_argument("--agency", help="agency identifier (release)")
    corr.add_argument("--month", type=_month, help="YYYY-MM (release)")
    corr.add_argument("--entity", help="one entity only, e.g. one_stop.dossiers (release)")
    corr.add_argument("--by", help="who releases (default: $USER)")
    corr.add_argument("--all", action="store_true", help="list released holds too")
    corr.set_defaults(func=cmd_corrections)

    ref = sub.add_parser(
        "reference",
        help="the reference files (agencies, units, holidays, targets, indices): load, status",
    )
    ref.add_argument(
        "action",
        choices=["init", "load", "rebuild", "status"],
        help="init: copy the project's files to --dir; load: validate and load them, then"
        " rebuild and republish what they change; rebuild: only that; status: the versions",
    )
    ref.add_argument(
        "--dir", help="the files' folder (default: $CHISO_REFERENCE_DIR or the project's)"
    )
    ref.add_argument("--no-rebuild", action="store_true", help="load only (the rebuild waits)")
    ref.set_defaults(func=cmd_reference)

    rm = sub.add_parser("run-month", help="run the monthly slice for one month without Airflow")
    rm.add_argument("month", type=_month, help="YYYY-MM")
    rm.set_defaults(func=cmd_run_month)

    tr = sub.add_parser(
        "transform",
        help="build the dbt project: every period, or with --month only the periods overlapping it",
    )
    tr.add_argument(
        "--month", type=_month, help="YYYY-MM: incremental build of that month's periods"
    )
    tr.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental marts from scratch"
    )
    tr.add_argument(
        "--new-pii-key",
        action="store_true",
        help="with --full-refresh: rotate the personal-data key on purpose (docs/runbook.md)",
    )
    tr.set_defaults(func=cmd_transform)

    pb = sub.add_parser(
        "publish",
        help="validate the month built in the audit area and publish it as a new revision",
    )
    pb.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    pb.add_argument(
        "--force", action="store_true", help="publish even though the gate fails (needs --reason)"
    )
    pb.add_argument("--reason", help="why a failed month must be published anyway (recorded)")
    pb.set_defaults(func=cmd_publish)

    rp = sub.add_parser(
        "report", help="render the monthly reports from the published marts and deliver them"
    )
    rp.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    rp.set_defaults(func=cmd_report)

    dc = sub.add_parser(
        "docs", help="build the static docs site: docs, dbt docs, GX Data Docs, reports"
    )
    dc.add_argument("--no-dbt", action="store_true", help="skip `dbt docs generate`")
    dc.set_defaults(func=cmd_docs)

    pv = sub.add_parser(
        "privacy", help="personal data: retention past its period, erasure of one person"
    )
    pv.add_argument("action", choices=["retain", "erase"])
    pv.add_argument(
        "--months",
        type=int,
        help="retain: keep personal data this many months (default CHISO_PERSONAL_DATA_MONTHS)",
    )
    pv.add_argument(
        "--id",
        help="erase: the person's ID number in any spelling; '-' or none reads it from stdin"
        " (kept out of the shell's history)",
    )
    pv.set_defaults(func=cmd_privacy)

    ac = sub.add_parser(
        "access", help="BI logins that see one province's or one agency's rows of the marts"
    )
    ac.add_argument("action", choices=["grant", "revoke", "list"])
    ac.add_argument("name", nargs="?", help="grant/revoke: the login's name (e.g. bi_so_y_te)")
    scope = ac.add_mutually_exclusive_group()
    scope.add_argument("--province", help="grant: the province's code (e.g. 30)")
    scope.add_argument("--agency", help="grant: the agency's code (e.g. 000.00.02.H23)")
    ac.set_defaults(func=cmd_access)

    af = sub.add_parser("airflow", help="the project's Airflow services")
    af.add_argument("action", choices=["up", "down", "status", "env", "secret", "password"])
    af.add_argument(
        "name",
        nargs="?",
        help="with secret: which (for Airflow's AIRFLOW__…_CMD settings `env` prints)",
    )
    af.set_defaults(func=cmd_airflow)

    bi = sub.add_parser("bi", help="Apache Superset with the leaders' dashboard (make bi)")
    bi.add_argument("action", choices=["up", "down", "status", "url", "password"])
    bi.set_defaults(func=cmd_bi)

    bk = sub.add_parser("backup", help="back up the warehouse (pg_dump) and the personal-data key")
    bk.add_argument(
        "--into", type=Path, help="the folder (default CHISO_BACKUP_DIR, else <home>/backups)"
    )
    bk.set_defaults(func=cmd_backup)

    rs = sub.add_parser("restore", help="restore a backup into a fresh, empty warehouse")
    rs.add_argument("dump", type=Path, help="a chiso-<stamp>.dump written by `chiso backup`")
    rs.add_argument("--key", type=Path, help="the key file (default: the one the backup names)")
    rs.set_defaults(func=cmd_restore)

    doc = sub.add_parser(
        "doctor",
        help="check a deployment: scheduler, DAG, connections, publications, disk, key",
    )
    doc.set_defaults(func=cmd_doctor)

    demo = sub.add_parser("demo", help="set up and run the demo months through Airflow")
    demo.add_argument("--first", type=_month, default="2020-01")
    demo.add_argument("--last", type=_month, default="2020-04")
    demo.add_argument("--keep-running", action="store_true", help="leave Airflow up afterwards")
    demo.set_defaults(func=cmd_demo)
    return p


def explain(exc: BaseException) -> str:
    """One line for an error a command could not get past: what happened and what to do.
    The text is scrubbed (no credentials, no personal datum): errors get pasted into
    tickets and chats."""
    from chiso.core.config import settings as current
    from chiso.report.model import ReportError
    from chiso.transform.dbt import DbtError

    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or folder"
    if isinstance(exc, PermissionError) and exc.filename:
        return f"{exc.filename}: permission denied (check the folder's owner and mode)"
    if _unreachable(exc):
        s = current()
        what = _first_line(exc)
        if s.external_url:
            return (
                f"cannot reach the warehouse named by CHISO_WAREHOUSE_URL ({what}): check that"
                " the server is up and the URL, user and password are right"
            )
        return (
            f"cannot reach the embedded warehouse ({what}): start it with `chiso db start`"
            " (`chiso db status` says whether it runs)"
        )
    if isinstance(exc, DbtError):
        log_file = current().home / "dbt" / "logs" / "dbt.log"
        failing = "; ".join(str(exc).splitlines()[:4])
        return f"{failing} — nothing was published; the full log is {log_file}"
    if isinstance(exc, ReportError):
        return f"{_first_line(exc)}: publish the month first (`chiso publish --month YYYY-MM`)"
    if type(exc).__module__.startswith("chiso."):
        # the project's own errors say what went wrong and what to do
        return _first_line(exc)
    return f"{type(exc).__name__}: {_first_line(exc)} (run again with --debug for the traceback)"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(exc).__name__)


def _unreachable(exc: BaseException) -> bool:
    """Whether the database could not be reached (psycopg's OperationalError, or one that
    SQLAlchemy or GX wrapped): a refused connection is not the user's data at fault."""
    import psycopg

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, psycopg.OperationalError) and "connect" in str(seen).lower():
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("CHISO_LOG_LEVEL", "WARNING"))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print(
            "\ninterrupted: services this command started were stopped; running the same"
            " command again picks up cleanly.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # the command line's last word on any failure
        if args.debug:
            traceback.print_exc()
        return _error(explain(exc))


if __name__ == "__main__":
    sys.exit(main())
