"""The alert for a pipeline task that failed for good (its retries spent), in Vietnamese
first (sent by chiso/notify/alerts.py)."""

from __future__ import annotations

import html

from chiso.core.redact import scrub
from chiso.notify.alerts import Alert


def task_failure_alert(
    *,
    dag_id: str,
    task_id: str,
    month: str | None,
    try_number: int | None,
    error: str,
    log_url: str | None = None,
) -> Alert:
    """The alert for a pipeline task that failed for good (its retries spent): a source that
    could not be pulled, a dbt build that broke. The month is not published; what was
    published before stays."""
    where = f"tháng {month}" if month else "kỳ chạy"
    subject = f"[chiso] Lỗi pipeline {dag_id}.{task_id} ({where}): số liệu chưa được công bố"
    # what a task's exception says can quote data (a database error's context, a URL with
    # credentials): the alert carries it scrubbed (chiso/core/redact.py)
    error = scrub(error.strip()[:2000])
    attempt = f" sau {try_number} lần thử" if try_number else ""
    text = "\n".join(
        [
            f"Tác vụ {task_id} của {dag_id} ({where}) thất bại{attempt}.",
            "Số liệu của kỳ này chưa được công bố; bản công bố trước (nếu có) được giữ nguyên.",
            f"Lỗi: {error}",
            *([f"Nhật ký: {log_url}"] if log_url else []),
            "Xử lý: xem docs/runbook.md, sửa nguyên nhân rồi chạy lại tác vụ (Clear)"
            " trong Airflow.",
        ]
    )
    body = (
        f"<p><b>Tác vụ {html.escape(task_id)}</b> của {html.escape(dag_id)} ({html.escape(where)})"
        f" thất bại{html.escape(attempt)}. Số liệu của kỳ này chưa được công bố; bản công bố"
        f" trước (nếu có) được giữ nguyên.</p><pre>{html.escape(error)}</pre>"
        + (f'<p><a href="{html.escape(log_url)}">Nhật ký</a></p>' if log_url else "")
    )
    payload = {
        "event": "chiso.task_failed",
        "dag_id": dag_id,
        "task_id": task_id,
        "month": month,
        "try_number": try_number,
        "error": error,
        "log_url": log_url,
        "text": f"{subject}\n{text}",
    }
    return Alert(subject, text, f"<html><body>{body}</body></html>", payload)
