"""Deliver a month's rendered reports: copied to a folder (a shared drive the province's office
reads) and e-mailed with the PDFs attached.

- **Folder**: ``CHISO_REPORT_FOLDER``. Each file goes to ``<folder>/YYYY-MM/`` through a
  temporary name, so a reader of the share never opens half a file.
- **E-mail**: the Airflow connection ``chiso_report_smtp`` (type ``smtp``: host, port, login,
  password; extra ``from_email``, Airflow's SMTP options), configured where operators
  configure the alert channels (chiso/notify/alerts.py). Its extra ``to`` receives every
  province's PDF in one message; ``to_by_province`` (``{"30": ["...", ...]}``) sends a
  province its own PDFs (the province's and its tiers').

Each file delivered is recorded in ``ops.report_deliveries`` with the revision: a rerun of the
same revision (a retried task, a second close) mails nothing twice, while a republication (a
new revision) is delivered anew. The folder always holds the latest rendering: a file whose
bytes changed within a revision (the previous month was republished since) is copied again.
Deliveries of a month are serialised by an advisory lock, so a manual `chiso report` beside
the DAG's task cannot send twice. Every channel and recipient group is tried; the failures are
raised together at the end. Addresses are recorded as a hash, never in clear, and no address
reaches a log line or an error text.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from chiso.core import formatting as fmt
from chiso.core.files import replace_atomically
from chiso.report.render import RenderedFile, RenderedMonth

log = logging.getLogger(__name__)

MAIL_CONN_ID = "chiso_report_smtp"
FOLDER_ENV = "CHISO_REPORT_FOLDER"


class DeliveryError(RuntimeError):
    """A configured channel could not deliver (the task fails and retries)."""


@dataclass
class DeliveryResult:
    """What a delivery did: files copied, messages sent, and what was delivered before."""

    copied: list[str] = field(default_factory=list)
    mailed: int = 0
    already: int = 0
    skipped: list[str] = field(default_factory=list)


def deliver(url: str, rendered: RenderedMonth, folder: Path | None = None) -> DeliveryResult:
    """Deliver `rendered` on every configured channel (`url`: a role that writes the
    ledger, the transformer). A channel that is not configured is skipped."""
    result = DeliveryResult()
    if rendered.revision is None or not rendered.files:
        result.skipped.append("nothing rendered per province")
        return result
    target = folder or (Path(os.environ[FOLDER_ENV]) if os.environ.get(FOLDER_ENV) else None)
    failures: list[str] = []
    with psycopg.connect(url, autocommit=True) as lock:
        lock.execute("select pg_advisory_lock(hashtext(%s))", (f"{LOCK}:{rendered.month}",))
        if target is None:
            result.skipped.append("folder")
        else:
            try:
                _to_folder(url, rendered, target, result)
            except DeliveryError as exc:
                failures.append(str(exc))
        failures += _by_mail(url, rendered, result)
    if result.skipped:
        log.info("report delivery of %s: not configured: %s", rendered.month, result.skipped)
    if failures:
        raise DeliveryError("; ".join(failures))
    return result


LOCK = "chiso report delivery"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _delivered(url: str, rendered: RenderedMonth, channel: str, target: str) -> set[str]:
    """The files of this revision already delivered on the channel to the target."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select file_name from ops.report_deliveries where period_month = %s"
            " and revision = %s and channel = %s and target_hash = %s",
            (rendered.month, rendered.revision, channel, _hash(target)),
        ).fetchall()
    return {name for (name,) in rows}


def _record(
    url: str, rendered: RenderedMonth, channel: str, target: str, files: list[RenderedFile]
) -> None:
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(
            "insert into ops.report_deliveries (period_month, revision, channel, target_hash,"
            " file_name, sha256) values (%s, %s, %s, %s, %s, %s) on conflict (period_month,"
            " revision, channel, target_hash, file_name) do update set sha256 = excluded.sha256,"
            " delivered_at = now()",
            [
                (rendered.month, rendered.revision, channel, _hash(target), f.path.name, f.sha256)
                for f in files
            ],
        )


def _to_folder(url: str, rendered: RenderedMonth, folder: Path, result: DeliveryResult) -> None:
    destination = folder / f"{rendered.month:%Y-%m}"
    copied = []
    try:
        destination.mkdir(parents=True, exist_ok=True)
        for f in rendered.files:
            there = destination / f.path.name
            if there.exists() and hashlib.sha256(there.read_bytes()).hexdigest() == f.sha256:
                result.already += 1
                continue
            replace_atomically(there, f.path.read_bytes(), 0o644)
            copied.append(f)
    except OSError as exc:
        raise DeliveryError(
            f"could not copy the reports of {rendered.month:%Y-%m} to the report folder"
            f" ({FOLDER_ENV}): {exc.strerror or exc}"
        ) from exc
    finally:
        if copied:
            _record(url, rendered, "folder", str(folder.resolve()), copied)
    result.copied += [f.path.name for f in copied]
    log.info("reports of %s copied to the report folder: %d file(s)", rendered.month, len(copied))


def _groups(extra: dict[str, Any], rendered: RenderedMonth) -> list[tuple[list[str], list]]:
    """Who receives which PDFs: `to` every province's (not the tiers': they are in the
    province's), `to_by_province` its own province's and tiers'."""
    from chiso.notify.alerts import recipients

    pdfs = rendered.of_kind("pdf")
    groups = []
    everyone = recipients(extra)
    if everyone:
        groups.append((everyone, [f for f in pdfs if f.tier is None]))
    for code, addresses in sorted((extra.get("to_by_province") or {}).items()):
        mine = [f for f in pdfs if f.province_code == str(code)]
        to = recipients({"to": addresses})
        if to and mine:
            groups.append((to, mine))
    return groups


def _by_mail(url: str, rendered: RenderedMonth, result: DeliveryResult) -> list[str]:
    """Mail each recipient group the files it has not had for this revision; returns what
    failed (every group is tried)."""
    from chiso.notify.alerts import connection

    found = connection(MAIL_CONN_ID)
    if found is None:
        result.skipped.append("e-mail")
        return []
    groups = _groups(found.extra_dejson, rendered)
    if not groups:
        return [f"connection {MAIL_CONN_ID} has no recipients (extra 'to' or 'to_by_province')"]
    failures = []
    for number, (to, files) in enumerate(groups, start=1):
        target = ",".join(sorted(to))
        done = _delivered(url, rendered, "email", target)
        due = [f for f in files if f.path.name not in done]
        result.already += len(files) - len(due)
        if not due:
            continue
        try:
            _send(to, rendered, due)
        # the SMTP error may quote an address back: name the group, not its members
        except Exception as exc:
            failures.append(
                f"could not e-mail the reports of {rendered.month:%Y-%m} to recipient group"
                f" {number} of {len(groups)} ({MAIL_CONN_ID}): {type(exc).__name__}"
            )
            continue
        _record(url, rendered, "email", target, due)
        result.mailed += 1
    log.info("reports of %s e-mailed: %d message(s)", rendered.month, result.mailed)
    return failures


def _send(to: list[str], rendered: RenderedMonth, files: list[RenderedFile]) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    month = fmt.month_label(rendered.month)
    subject = f"Báo cáo chỉ số chuyển đổi số {month}"
    if rendered.revision and rendered.revision > 1:
        subject += f" (điều chỉnh, lần công bố thứ {rendered.revision})"
    names = "".join(f"<li>{f.path.name}</li>" for f in files)
    html = (
        f"<p>Kính gửi các đồng chí,</p><p>Gửi kèm báo cáo kết quả thực hiện chỉ số chuyển đổi số"
        f" {month} (lần công bố thứ {rendered.revision}), số liệu đã kiểm định và công bố từ kho"
        f" dữ liệu:</p><ul>{names}</ul><p>Bảng tính (.xlsx) và trang HTML cùng kỳ có trong thư"
        f" mục báo cáo.</p>"
    )
    with SmtpHook(smtp_conn_id=MAIL_CONN_ID) as hook:
        hook.send_email_smtp(
            to=to, subject=subject, html_content=html, files=[str(f.path) for f in files]
        )
