"""The alert for a month that failed the quality gate: what failed, what stays published,
and what the operator can do, in Vietnamese first (sent by chiso/notify/alerts.py)."""

from __future__ import annotations

import html

from chiso.core.formatting import month_label
from chiso.notify.alerts import Alert
from chiso.quality.gate import GateResult

MAX_FAILURES_LISTED = 20


def gate_failure_alert(
    result: GateResult,
    *,
    gate_run_id: str,
    published_revision: int | None,
    data_docs: str | None = None,
) -> Alert:
    """The alert for a month that failed validation and was not published."""
    month = f"{result.month:%Y-%m}"
    label = month_label(result.month)
    kept = (
        f"Bản công bố hiện hành (lần {published_revision}) được giữ nguyên."
        if published_revision
        else "Tháng này chưa có bản công bố nào."
    )
    subject = (
        f"[chiso] {label.capitalize()}: KHÔNG công bố — kiểm định dữ liệu không đạt "
        f"({len(result.failures)}/{result.evaluated} kỳ vọng)"
    )
    listed = result.failures[:MAX_FAILURES_LISTED]
    lines = [f"- {f.describe()}" for f in listed]
    if len(result.failures) > len(listed):
        lines.append(f"- … và {len(result.failures) - len(listed)} kỳ vọng khác")
    actions = (
        "Xử lý: sửa dữ liệu nguồn (nạp lại tệp vào inbox hoặc kéo lại từ API) rồi chạy lại tháng"
        f" (`chiso run-month {month}` hoặc chạy lại DAG monthly_kpi); hoặc, nếu phải công bố"
        f' dù không đạt, `chiso publish --month {month} --force --reason "…"` (lý do được ghi'
        " lại và hiện trong báo cáo). Xem docs/runbook.md."
    )
    text = "\n".join(
        [
            f"Kiểm định dữ liệu {label} không đạt: số liệu tháng {month} KHÔNG được công bố.",
            kept,
            f"Mã lần kiểm định (ops.gate_results.gate_run_id): {gate_run_id}",
            *([f"Data Docs: {data_docs}"] if data_docs else []),
            "",
            f"Kỳ vọng không đạt ({len(result.failures)} trên {result.evaluated}):",
            *lines,
            "",
            actions,
        ]
    )
    body = "".join(
        [
            f"<p><b>Kiểm định dữ liệu {html.escape(label)} không đạt</b>: số liệu tháng "
            f"{month} <b>không</b> được công bố. {html.escape(kept)}</p>",
            f"<p>Mã lần kiểm định: <code>{gate_run_id}</code>",
            f"<br>Data Docs: {html.escape(data_docs)}" if data_docs else "",
            "</p><ul>",
            *(f"<li><code>{html.escape(f.describe())}</code></li>" for f in listed),
            "</ul>",
            f"<p>{html.escape(actions)}</p>",
        ]
    )
    payload = {
        "event": "chiso.gate_failed",
        "month": month,
        "gate_run_id": gate_run_id,
        "published_revision_kept": published_revision,
        "evaluated": result.evaluated,
        "failed": len(result.failures),
        "failures": [
            {
                "suite": f.suite,
                "expectation": f.expectation_type,
                "column": f.column,
                "description": f.description,
                "summary": f.describe(),
            }
            for f in result.failures
        ],
        "data_docs": data_docs,
        "text": f"{subject}\n{text}",
    }
    return Alert(subject, text, f"<html><body>{body}</body></html>", payload)
