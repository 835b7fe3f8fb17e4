"""How ingest follows records that change (docs/architecture.md, "Records that change").

Records change after their month was pulled (a dossier received on 28 January is resolved on
3 February; an officer records a resolution a week late, dated back). So ingest pulls what
changed since the last pull (chiso/ingest/changes.py). Each knob is an environment
variable, read when a process asks for it:

``CHISO_HISTORY_START``          first day a change pull asks for, when an entity has no
                                 watermark yet (default 2019-01-01);
``CHISO_CHANGE_WINDOW_DAYS``     the longest window one change delivery covers (31): a first
                                 pull over years lands as a resumable series of windows;
``CHISO_CHANGE_OVERLAP_MINUTES`` how far before the watermark the next window starts (120), so
                                 a record stamped just before a pull but committed just after
                                 it is read again (landing is idempotent);
``CHISO_LOOKBACK_MONTHS``        months re-pulled whole for entities without a change timestamp
                                 (the portal's catalogue snapshots and monthly usage) (3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta


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

    @classmethod
    def from_env(cls) -> Cadence:
        start = os.environ.get("CHISO_HISTORY_START", "").strip()
        cadence = cls(
            history_start=date.fromisoformat(start) if start else cls.history_start,
            change_window=timedelta(days=_int("CHISO_CHANGE_WINDOW_DAYS", 31)),
            overlap=timedelta(minutes=_int("CHISO_CHANGE_OVERLAP_MINUTES", 120)),
            lookback_months=_int("CHISO_LOOKBACK_MONTHS", 3),
        )
        if cadence.change_window <= timedelta(0) or cadence.lookback_months < 0:
            raise ValueError("CHISO_CHANGE_WINDOW_DAYS must be > 0, CHISO_LOOKBACK_MONTHS >= 0")
        return cadence
