"""How ingest follows records that change (docs/architecture.md, "Records that change").

Records change after their month was pulled (a dossier received on 28 January is resolved on
3 February; an officer records a resolution a week late, dated back). So ingest pulls what
changed since the last pull (chiso/ingest/changes.py), a month is closed once it has ended
and a grace period has passed, and a close republishes the earlier months the new data
changed, within a window (chiso/pipeline.py, close_month). Each knob is an environment
variable, read when a process asks for it:

``CHISO_HISTORY_START``          first day a change pull asks for, when an entity has no
                                 watermark yet (default 2019-01-01);
``CHISO_CHANGE_WINDOW_DAYS``     the longest window one change delivery covers (31): a first
                                 pull over years lands as a resumable series of windows;
``CHISO_CHANGE_OVERLAP_MINUTES`` how far before the watermark the next window starts (120), so
                                 a record stamped just before a pull but committed just after
                                 it is read again (landing is idempotent);
``CHISO_LOOKBACK_MONTHS``        months re-pulled whole for entities without a change timestamp
                                 (the portal's catalogue snapshots and monthly usage) (3);
``CHISO_CLOSE_GRACE_DAYS``       days after a month ends before it is closed (5): late records
                                 of the month's last days are in by then;
``CHISO_REPUBLISH_MONTHS``       how far back a close republishes a month whose numbers the new
                                 data changed (0, the default: back to January of the closed
                                 month's year); changes to older months are reported, not
                                 published;
``CHISO_PUBLISH_DEADLINE_DAY``   the day of the next month by which a month must be published
                                 (10): a close still unfinished then alerts the operators
                                 (dags/monthly_kpi.py, chiso/orchestration/deadline.py), and
                                 `chiso doctor` reports a month unpublished past it;
``CHISO_CLOSE_DEADLINE_SECONDS`` the deadline counted from the close's start instead, in
                                 seconds (unset: from the day above): an alert drill, or a
                                 backfill's runs held to a shorter time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from chiso.core.months import add_months, next_month


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


@dataclass(frozen=True)
class Cadence:
    history_start: date = date(2019, 1, 1)
    change_window: timedelta = timedelta(days=31)
    overlap: timedelta = timedelta(minutes=120)
    lookback_months: int = 3
    grace: timedelta = timedelta(days=5)
    republish_months: int = 0
    publish_deadline_day: int = 10
    close_deadline_seconds: int | None = None

    @classmethod
    def from_env(cls) -> Cadence:
        start = os.environ.get("CHISO_HISTORY_START", "").strip()
        cadence = cls(
            history_start=date.fromisoformat(start) if start else cls.history_start,
            change_window=timedelta(days=_int("CHISO_CHANGE_WINDOW_DAYS", 31)),
            overlap=timedelta(minutes=_int("CHISO_CHANGE_OVERLAP_MINUTES", 120)),
            lookback_months=_int("CHISO_LOOKBACK_MONTHS", 3),
            grace=timedelta(days=_int("CHISO_CLOSE_GRACE_DAYS", 5)),
            republish_months=_int("CHISO_REPUBLISH_MONTHS", 0),
            publish_deadline_day=_int("CHISO_PUBLISH_DEADLINE_DAY", 10),
            close_deadline_seconds=_int("CHISO_CLOSE_DEADLINE_SECONDS", 0) or None,
        )
        if cadence.change_window <= timedelta(0) or cadence.lookback_months < 0:
            raise ValueError("CHISO_CHANGE_WINDOW_DAYS must be > 0, CHISO_LOOKBACK_MONTHS >= 0")
        if not timedelta(0) <= cadence.grace <= timedelta(days=27):
            raise ValueError("CHISO_CLOSE_GRACE_DAYS must be within 0–27")
        if not cadence.grace.days + 1 < cadence.publish_deadline_day <= 28:
            raise ValueError(
                "CHISO_PUBLISH_DEADLINE_DAY must fall after the close"
                f" (day {cadence.grace.days + 1} of the next month) and by the 28th"
            )
        return cadence

    def close_instant(self, month: date) -> datetime:
        """When `month` may be closed: its end plus the grace period (source local time).
        Its official 15→14 window ended on its 14th, before that."""
        return datetime.combine(next_month(month), time.min) + self.grace

    def publish_deadline(self, month: date) -> datetime:
        """When `month` must be published by (source local time): the start of the deadline
        day of the next month."""
        return datetime.combine(next_month(month).replace(day=self.publish_deadline_day), time.min)

    def close_deadline(self) -> timedelta:
        """How long a close may take from its start (when the scheduler queues it, at the
        close instant) before the operators are alerted: to the deadline day, unless
        CHISO_CLOSE_DEADLINE_SECONDS says otherwise."""
        if self.close_deadline_seconds:
            return timedelta(seconds=self.close_deadline_seconds)
        return timedelta(days=self.publish_deadline_day - 1) - self.grace

    def republish_from(self, month: date) -> date:
        """The earliest month a close of `month` republishes."""
        if self.republish_months <= 0:
            return month.replace(month=1, day=1)
        return add_months(month.replace(day=1), -self.republish_months)
