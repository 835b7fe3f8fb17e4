"""The monthly slice, step by step: ingest → transform → validate → publish → report.

Only the sequence lives here; each step is one call into the package of its stage. The Airflow
DAG calls the steps one per task (chiso/orchestration/tasks.py); `chiso run-month` calls
`close_month`. Each step is idempotent for its month, so a retried task or a re-run month
converges to the same state.

A *close* (docs/architecture.md, "Records that change") pulls what changed up to the close
instant (the month's end plus a grace period), builds, validates and publishes the month,
then republishes every earlier month whose numbers the new data changed, within the
republication window, and records the months that still differ (chiso/publish/drift.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import psycopg

from chiso.core.cadence import Cadence
from chiso.core.config import Settings
from chiso.ingest.agency_codes import release_quarantined_files, request_repulls
from chiso.ingest.changes import CHANGE_FEEDS, pull_changes, pull_lookback
from chiso.ingest.files import FileResult
from chiso.ingest.files import ingest_inbox as load_inbox
from chiso.ingest.pulls import SOURCE_PULLS, pull_month, repull_released
from chiso.notify import alerts
from chiso.publish import drift
from chiso.publish.drift import Drift
from chiso.publish.revisions import Publication, publish_month
from chiso.quality import results
from chiso.quality.reference import ReferenceVerdict, reference_failure_alert, validate_reference
from chiso.quality.results import GateOutcome
from chiso.quality.validation import validate
from chiso.reference.changes import Changes, compare
from chiso.reference.files import catalogue_codes
from chiso.reference.load import loaded_fingerprint, read_folder, stage
from chiso.reference.load import publish as publish_reference
from chiso.report.delivery import deliver
from chiso.report.render import render_month
from chiso.runtime.warehouse import urls
from chiso.sources.systems import SOURCES, ApiSettings
from chiso.transform.dbt import build

__all__ = [
    "Close",
    "Progress",
    "ReferenceInvalid",
    "ReferenceLoad",
    "close_month",
    "ensure_reference",
    "ingest_api",
    "ingest_changes",
    "ingest_inbox",
    "load_reference",
    "publish",
    "pull_requested",
    "rebuild_reference",
    "report",
    "republish_changed",
    "run_month",
    "transform",
    "validate",
]


def ingest_api(
    settings: Settings, source: str, month: date, api: ApiSettings, province: str | None = None
) -> int:
    """Pull every entity of `source` for the month from its API, and again every month an
    operator released from a correction hold; returns rows landed. With `province`, `api` is
    that province's installation and its agencies' months are replaced."""
    ensure_reference(settings)
    loader = urls(settings).loader
    rows = 0
    for entity in SOURCE_PULLS[source]:
        rows += pull_month(loader, entity, month, api.base_url, api.token, province=province).rows
        released = repull_released(loader, entity, api.base_url, api.token, province=province)
        rows += sum(r.rows for r in released)
    return rows


def pull_requested(
    settings: Settings, source: str, api: ApiSettings, province: str | None = None
) -> int:
    """Pull again, whole, the months of `source` asked for: records parked for an agency code
    a reference load has since added, correction holds an operator released (with
    `province`, those of its agencies, from its installation). Returns rows landed. (Each
    close does this too, after its pulls.)"""
    loader = urls(settings).loader
    return sum(
        r.rows
        for entity in SOURCE_PULLS[source]
        for r in repull_released(loader, entity, api.base_url, api.token, province=province)
    )


def ingest_inbox(settings: Settings, source: str) -> list[FileResult]:
    """Load every file waiting in the source's inbox folder (quarantining bad ones); a file
    still being written (modified within `inbox_settle_seconds`, or without its done marker
    when one is configured) waits for the next run."""
    ensure_reference(settings)
    return load_inbox(
        urls(settings).loader,
        settings.inbox_dir,
        source,
        settle_seconds=settings.inbox_settle_seconds,
        done_marker=settings.inbox_done_marker,
    )


def transform(
    settings: Settings, month: date | None = None, on_line: Callable[[str], None] | None = None
) -> str | None:
    """Build every dbt model and run its tests; returns the dbt invocation id. With `month`,
    the incremental models rebuild only the periods overlapping it. `on_line` gets dbt's
    output as it comes."""
    ensure_reference(settings)
    return build(settings, month, on_line=on_line).invocation_id


def publish(
    settings: Settings,
    month: date,
    dbt_invocation_id: str | None,
    gate_run_id: str,
    *,
    forced_reason: str | None = None,
) -> Publication:
    """Publish the month's audit rows as a revision, as the recorded validation `gate_run_id`
    allows (its verdict and fingerprint are read from ops.gate_results, not taken from the
    caller)."""
    url = urls(settings).transformer
    outcome: GateOutcome = results.outcome(url, gate_run_id)
    if outcome.month != month:
        raise ValueError(f"validation {gate_run_id} is of {outcome.month:%Y-%m}, not {month:%Y-%m}")
    if outcome.audit_fingerprint is None:
        raise ValueError(
            f"validation {gate_run_id} did not record which rows it read; validate the month again"
        )
    return publish_month(
        url,
        month,
        dbt_invocation_id=dbt_invocation_id or outcome.dbt_invocation_id,
        gate_success=outcome.success,
        gate_run_id=gate_run_id,
        forced_reason=forced_reason,
        validated_fingerprint=outcome.audit_fingerprint,
    )


def report(settings: Settings, month: date) -> Path:
    """Render the month's reports from the published marts, as the BI reader, and deliver
    them (chiso/report/): the overview page (returned), and each province's and tier's
    report in the configured formats, copied to the report folder and e-mailed when those
    channels are configured. A rerun of the same revision delivers nothing twice."""
    u = urls(settings)
    rendered = render_month(
        u.bi_reader,
        month,
        settings.reports_dir,
        settings.report_formats,
        scoped_files=settings.report_scoped,
        provinces=settings.report_provinces,
    )
    deliver(u.transformer, rendered)
    return rendered.overview


def ingest_changes(
    settings: Settings,
    source: str,
    api: ApiSettings,
    until: datetime,
    cadence: Cadence | None = None,
    *,
    changes_until: datetime | None = None,
    province: str | None = None,
) -> int:
    """Pull from `source`'s API what changed up to `until` (source local time): by change
    stamp where the source has one (up to `changes_until` instead, when given: a backfill
    takes the sources as they stand now), by a look-back of the whole months `until` ends
    where it has none, and the months an operator released from a correction hold; returns
    rows landed. With `province`, `api` is that province's installation (a deployment of
    several, chiso/sources/systems.py): its own watermarks, its agencies' months."""
    ensure_reference(settings)
    cadence = cadence or Cadence.from_env()
    loader = urls(settings).loader
    rows = 0
    for entity in SOURCE_PULLS[source]:
        if entity in CHANGE_FEEDS:
            pulled = pull_changes(
                loader, entity, api.base_url, api.token, until=changes_until or until,
                cadence=cadence, province=province,
            )  # fmt: skip
            rows += sum(r.rows for r in pulled)
        else:
            looked = pull_lookback(
                loader, entity, api.base_url, api.token, until=until, cadence=cadence,
                province=province,
            )  # fmt: skip
            rows += sum(r.rows for r in looked)
        released = repull_released(loader, entity, api.base_url, api.token, province=province)
        rows += sum(r.rows for r in released)
    return rows


def republish_changed(
    settings: Settings, month: date, cadence: Cadence | None = None, *, reports: bool = True
) -> tuple[list[Publication], list[Drift]]:
    """After `month`'s build: every other published month whose audit rows now differ from
    its current revision is validated and republished (revision N+1 with its diff) if it is
    within the republication window and passes its gate; otherwise the difference is
    recorded for operators. Each republication's reports are rendered and delivered, unless
    `reports` is false (in Airflow the report DAG does it). Returns the republications and
    what was recorded."""
    cadence = cadence or Cadence.from_env()
    return _republish(
        settings, cadence.republish_from(month), checked_by=month, besides=month, reports=reports
    )


def _republish(
    settings: Settings,
    window_from: date,
    *,
    checked_by: date,
    besides: date | None = None,
    reports: bool = True,
) -> tuple[list[Publication], list[Drift]]:
    """Validate and republish every published month (but `besides`) from `window_from` on
    whose audit rows differ from its current revision; record what differs and is not
    republished (outside the window, or its gate failed)."""
    url = urls(settings).transformer
    with psycopg.connect(url) as conn:
        others = [m for m in drift.published_months(conn) if m != besides]
    republished: list[Publication] = []
    found: list[Drift] = []
    for other, checked in drift.check(url, others).items():
        in_window, pending, stamp = other >= window_from, checked.pending_rows, checked.stamp
        if pending and not in_window:
            note = "outside the republication window"
            found.append(Drift(other, pending, False, note=note, stamp=stamp))
            continue
        if pending:
            gate = validate(settings, other, raise_on_failure=False)
            if not gate.success:
                note = f"changed, but its gate failed (validation {gate.gate_run_id})"
                found.append(Drift(other, pending, True, note=note, stamp=stamp))
                continue
            republished.append(publish(settings, other, None, gate.gate_run_id))
            if reports:
                report(settings, other)
            stamp = None  # another publication now: its first check compares it
        found.append(Drift(other, 0, in_window, stamp=stamp))
    drift.record(url, found, checked_by)
    return republished, [d for d in found if d.pending_rows]


@dataclass(frozen=True)
class Close:
    month: date
    until: datetime
    publication: Publication
    report: Path
    republished: list[Publication]
    drift: list[Drift]


def close_month(
    settings: Settings,
    month: date,
    api: ApiSettings,
    *,
    until: datetime | None = None,
    cadence: Cadence | None = None,
    progress: Progress | None = None,
) -> Close:
    """Close `month` outside Airflow (one API for every source, as the simulator serves them
    all): pull every source up to `until` (default: the month's close instant) and load its
    inbox, build, validate, publish and report the month, then republish what changed.
    `progress` hears of each step as it starts, and of dbt's output (a command line shows
    them: a close takes minutes)."""
    cadence = cadence or Cadence.from_env()
    until = until or cadence.close_instant(month)
    say = progress or _Quiet()
    for source in SOURCES:
        say.step(f"pulling {source}: what changed up to {until:%Y-%m-%d %H:%M}")
        ingest_changes(settings, source, api, until, cadence)
        say.step(f"loading {source}'s inbox")
        ingest_inbox(settings, source)
    say.step(f"building {month:%Y-%m} with dbt")
    invocation = transform(settings, month, on_line=say.dbt_line)
    say.step(f"validating {month:%Y-%m} (the gate)")
    gate = validate(settings, month, dbt_invocation_id=invocation)
    say.step(f"publishing {month:%Y-%m}")
    publication = publish(settings, month, invocation, gate.gate_run_id)
    say.step("republishing earlier months the new data changed")
    republished, drifted = republish_changed(settings, month, cadence)
    say.step(f"rendering the report of {month:%Y-%m}")
    path = report(settings, month)  # after the check: its data-quality section lists the drift
    return Close(month, until, publication, path, republished, drifted)


def run_month(
    settings: Settings, month: date, api: ApiSettings, progress: Progress | None = None
) -> Path:
    """The whole slice for one month, outside Airflow: its close (:func:`close_month`)."""
    return close_month(settings, month, api, progress=progress).report


class Progress(Protocol):
    """Where a close reports how it goes (the command line prints it)."""

    def step(self, text: str) -> None:
        """A step starts."""

    def dbt_line(self, line: str) -> None:
        """A line of dbt's output."""


class _Quiet:
    def step(self, text: str) -> None:
        pass

    def dbt_line(self, line: str) -> None:
        pass


# -- reference data (chiso/reference/, docs/reference-data.md "Changing reference data") --------

# one load or rebuild of the reference at a time per warehouse (the DAG, an operator's command)
REFERENCE_LOCK = "chiso.reference"


class ReferenceInvalid(RuntimeError):
    """The reference files failed their suites: nothing was loaded; the verdict names each
    file, row and field."""

    def __init__(self, verdict: ReferenceVerdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.summary())


@dataclass(frozen=True)
class ReferenceLoad:
    """What a load did: the version loaded (None: the files were those loaded already)."""

    version_id: int | None
    changes: Changes | None = None
    released: int = 0  # parked records whose agency code the load added: pulled again
    files: tuple[Path, ...] = ()  # quarantined files put back in the inbox for the same reason


def load_reference(
    settings: Settings, folder: Path | None = None, *, origin: str = "chiso reference load"
) -> ReferenceLoad:
    """Read the reference files (`folder`, default the deployment's), validate them staged,
    and load them if they pass and differ from what is loaded; record the version and what it
    changes. Raises ReferenceFileError (a file cannot be read) or ReferenceInvalid (a value
    fails its suite, after alerting the operators): the warehouse keeps the version it had.
    The rebuild of what the change touches is :func:`rebuild_reference`."""
    folder = folder or settings.reference_dir
    refset = read_folder(folder)
    u = urls(settings)
    with _reference_lock(u.loader), psycopg.connect(u.loader) as conn:
        if loaded_fingerprint(conn) == refset.fingerprint:
            return ReferenceLoad(None)
        stage(conn, refset)
        conn.commit()
        verdict = validate_reference(u.transformer, catalogue_codes())
        if not verdict.success:
            alerts.send(reference_failure_alert(verdict, folder))
            raise ReferenceInvalid(verdict)
        changes = compare(conn)
        version = publish_reference(conn, refset, changes.summary(), origin)
        released = request_repulls(conn, changes.added_agency_codes)
    files = release_quarantined_files(settings.inbox_dir, changes.added_agency_codes)
    return ReferenceLoad(version, changes, released, tuple(files))


def ensure_reference(settings: Settings) -> None:
    """Load the deployment's reference files if the warehouse has none yet (a new warehouse:
    its first load changes nothing that was built, so nothing is rebuilt)."""
    with psycopg.connect(urls(settings).loader) as conn:
        if loaded_fingerprint(conn) is not None:
            return
    load_reference(settings, origin="first load")
    with psycopg.connect(urls(settings).loader) as conn:
        conn.execute(
            "update ops.reference_versions set rebuilt_at = now() where rebuilt_at is null"
        )


def rebuild_reference(
    settings: Settings, on_line: Callable[[str], None] | None = None, *, reports: bool = True
) -> list[Publication]:
    """Rebuild what the reference versions loaded since the last rebuild touch (the years of a
    changed target or index; every period for agencies, units, lineage and holidays), then
    republish every published month whose numbers changed, whatever the republication window:
    a reference change is an operator's deliberate correction. A month whose gate fails keeps
    its revision and is recorded as drift. Returns the republications, their reports
    rendered and delivered unless `reports` is false (in Airflow the report DAG does it)."""
    u = urls(settings)
    with _reference_lock(u.loader):
        with psycopg.connect(u.transformer) as conn:
            pending = conn.execute(
                "select version_id, changes from ops.reference_versions where rebuilt_at is null"
                " order by version_id"
            ).fetchall()
            built = conn.execute("select exists (select 1 from ops.dbt_builds)").fetchone()
        if not pending:
            return []
        kinds = {c["rebuild"] for _, c in pending}
        republished: list[Publication] = []
        if built and built[0] and kinds != {"none"}:
            if "all" in kinds:
                build(settings, full=True, on_line=on_line)
            else:
                spans = [c["days"] for _, c in pending if c["rebuild"] == "days"]
                first = min(date.fromisoformat(s[0]) for s in spans)
                last = max(date.fromisoformat(s[1]) for s in spans)
                build(settings, days=(first, last), on_line=on_line)
            with psycopg.connect(u.transformer) as conn:
                latest = max(drift.published_months(conn), default=None)
            if latest is not None:
                republished, _ = _republish(settings, date.min, checked_by=latest, reports=reports)
        with psycopg.connect(u.transformer) as conn:
            conn.execute(
                "update ops.reference_versions set rebuilt_at = now() where version_id = any(%s)",
                ([v for v, _ in pending],),
            )
    return republished


@contextmanager
def _reference_lock(url: str) -> Iterator[None]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (REFERENCE_LOCK,))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (REFERENCE_LOCK,))
