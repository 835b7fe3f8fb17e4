"""The simulator's clock: every source is served as it stood at an instant ``as_of``.

Real systems are read while they change, and officers record events late (backdated), so a
record pulled yesterday may look different today although nothing new "happened". The
generators therefore produce each record's whole history once and project it onto an instant:

* a record **appears** at its first stamp (a dossier's acceptance, a document's sending or
  receipt) and is visible at ``as_of`` iff that stamp is before ``as_of``;
* each later change carries the instant its system **recorded** it (never before it happened;
  :func:`chiso_sim.one_stop.recording_instant` draws the lag); a change is visible iff it was
  recorded before ``as_of``, and a record shows the state after its visible changes;
* the record's "last change" field (``NgayCapNhat``, ``ngay_cap_nhat``) is its latest visible
  recorded instant.

:class:`Timeline` holds one month of one source this way: the generation is done once per
month, whatever the instant, and each projection only bisects and renders. Instants are naive
local time (Asia/Ho_Chi_Minh), like every timestamp the simulator emits; ``None`` means the
end of the config's horizon (:func:`chiso_sim.one_stop.horizon_end`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

Item = dict[str, Any]

__all__ = ["LOCAL_ZONE", "Item", "Timeline", "format_instant", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An ISO date or datetime as naive local time.

    ``2020-02-06`` is its midnight; an offset (``+07:00``, ``Z``) is converted to local time.
    Raises ValueError for anything else.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_ZONE).replace(tzinfo=None)
    return value


def format_instant(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (what the clock endpoint answers)."""
    return value.isoformat(timespec="seconds")


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min)


@dataclass(frozen=True, eq=False)
class Timeline:
    """One month of a source's records through time.

    ``stamps[i]`` are record ``i``'s instants in non-decreasing order: when it appeared, then
    when each change was recorded (two changes recorded together share an instant).
    ``render(i, k)`` is record ``i`` after its first ``k`` stamps (``k`` ≥ 1); it must depend on
    ``(i, k)`` only, so a record that did not change between two instants is rendered equal.
    Records keep the order given (the generator's order).
    """

    stamps: tuple[tuple[datetime, ...], ...]
    render: Callable[[int, int], Item]
    last_change: datetime | None = field(init=False)

    def __post_init__(self) -> None:
        latest = max((s[-1] for s in self.stamps if s), default=None)
        object.__setattr__(self, "last_change", latest)

    @classmethod
    def fixed(cls, items: Sequence[Item], appeared: Callable[[Item], datetime]) -> Timeline:
        """Records that never change: each exists from ``appeared(item)`` on."""
        frozen = list(items)
        return cls(tuple((appeared(i),) for i in frozen), lambda i, _k: frozen[i])

    def __len__(self) -> int:
        return len(self.stamps)

    def seen(self, i: int, as_of: datetime) -> int:
        """How many of record ``i``'s stamps are before ``as_of`` (0: it does not exist yet)."""
        return bisect_left(self.stamps[i], as_of)

    def _render(self, picked: Iterable[tuple[int, int]]) -> list[Item]:
        return [self.render(i, k) for i, k in picked]

    def at(
        self,
        as_of: datetime,
        appeared_from: datetime | None = None,
        appeared_to: datetime | None = None,
    ) -> list[Item]:
        """Every record visible at ``as_of``, optionally only those that appeared in
        ``[appeared_from, appeared_to)``."""
        picked = []
        for i, stamps in enumerate(self.stamps):
            first = stamps[0]
            if first >= as_of:
                continue
            if appeared_from is not None and first < appeared_from:
                continue
            if appeared_to is not None and first >= appeared_to:
                continue
            picked.append((i, bisect_left(stamps, as_of)))
        return self._render(picked)

    def changed(self, lo: datetime, hi: datetime, as_of: datetime) -> list[Item]:
        """Records visible at ``as_of`` whose latest visible change is in ``[lo, hi)``."""
        if self.last_change is None or self.last_change < lo:
            return []
        picked = []
        for i, stamps in enumerate(self.stamps):
            if stamps[0] >= as_of or stamps[-1] < lo or stamps[0] >= hi:
                continue
            k = bisect_left(stamps, as_of)
            if lo <= stamps[k - 1] < hi:
                picked.append((i, k))
        return self._render(picked)
