"""Transient API faults for the simulator: 5xx, 429, slow responses, duplicated and short pages.

Real vendor APIs fail in these ways (docs/sources.md); the ingest client must survive them and
still land every record exactly once. The faults here are *deterministic* and *transient*:
whether a request faults depends only on ``(seed, path + sorted query, attempt number)``, and
only the first ``faulty_attempts`` attempts of a given request can fault. A client that retries
(and drops items it has already seen) therefore always ends up with complete, exact data, and a
failing test reproduces bit for bit.

Kinds:

* ``5xx`` — a 500/502/503/504 answer; ``429`` — too many requests, with ``Retry-After``;
* ``timeout`` — the answer comes after ``slow_seconds`` (past a client's timeout);
* ``duplicates`` — a page first repeats the previous page's last ``duplicate_items`` items;
* ``short`` — a truncated answer: a page that is not the last carries fewer items than
  ``page_size`` (the first half of them) although more remain, while ``total`` and
  ``total_pages`` are unchanged. A client must notice (a non-last page shorter than
  ``page_size``, or fewer items received than ``total``) and ask that page again. Paged JSON
  answers only (a last page, and downloads, answer whole).

``short`` is opt-in: ``"all"`` means :data:`FAULT_KINDS` (the kinds a retrying client that
de-duplicates survives without counting); name ``short`` to add it. Everything is off by
default.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Literal
from urllib.parse import urlencode

FaultKind = Literal["5xx", "429", "timeout", "duplicates", "short"]
# What "all" switches on; OPT_IN_KINDS must be named (module docstring).
FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "429", "timeout", "duplicates")
OPT_IN_KINDS: tuple[FaultKind, ...] = ("short",)
KNOWN_KINDS: tuple[FaultKind, ...] = FAULT_KINDS + OPT_IN_KINDS
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503, 504)

# FaultKind → the FaultConfig field holding its rate.
_RATE_FIELD: dict[str, str] = {
    "5xx": "error_rate",
    "429": "throttle_rate",
    "timeout": "slow_rate",
    "duplicates": "duplicate_rate",
    "short": "short_rate",
}


@dataclass(frozen=True)
class FaultConfig:
    """Which faults the simulator injects, and how often; everything is off by default.

    Rates are probabilities per attempt (0–1). When several kinds fire for the same attempt the
    first in ``KNOWN_KINDS`` order wins, so rates are not additive. ``slow_seconds`` defaults
    above the ingest client's 30 s timeout; tests set it (and ``retry_after_seconds``) small.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    slow_rate: float = 0.0
    duplicate_rate: float = 0.0
    short_rate: float = 0.0
    seed: int = 0
    faulty_attempts: int = 2
    retry_after_seconds: int = 1
    slow_seconds: float = 35.0
    duplicate_items: int = 3

    def __post_init__(self) -> None:
        for kind, name in _RATE_FIELD.items():
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} ({kind}) must be within 0–1, got {rate}")
        if self.faulty_attempts < 0:
            raise ValueError("faulty_attempts must be >= 0")
        if self.retry_after_seconds < 0 or self.slow_seconds < 0:
            raise ValueError("retry_after_seconds and slow_seconds must be >= 0")
        if self.duplicate_items < 1:
            raise ValueError("duplicate_items must be >= 1")

    @classmethod
    def from_kinds(
        cls, kinds: str | Iterable[str], rate: float = 0.3, **options: float | int
    ) -> FaultConfig:
        """``FaultConfig.from_kinds("5xx,429", 0.5)``: the listed kinds at ``rate``.

        ``"all"`` means every kind of :data:`FAULT_KINDS` (``"all,short"`` adds the opt-in
        one); unknown names raise so a CLI typo is not silently ignored.
        """
        names = [k.strip() for k in kinds.split(",")] if isinstance(kinds, str) else list(kinds)
        names = [n for n in names if n]
        if "all" in names:
            names = [*FAULT_KINDS, *(n for n in names if n != "all")]
        unknown = sorted(set(names) - set(KNOWN_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(KNOWN_KINDS)}")
        rates = {_RATE_FIELD[n]: rate for n in names}
        return cls(**rates, **options)  # type: ignore[arg-type]

    def rate(self, kind: FaultKind) -> float:
        return float(getattr(self, _RATE_FIELD[kind]))

    @property
    def enabled_kinds(self) -> tuple[FaultKind, ...]:
        return tuple(k for k in KNOWN_KINDS if self.rate(k) > 0 and self.faulty_attempts > 0)

    @property
    def enabled(self) -> bool:
        return bool(self.enabled_kinds)

    def without(self, *kinds: FaultKind) -> FaultConfig:
        """The same config with ``kinds`` switched off."""
        return replace(self, **{_RATE_FIELD[k]: 0.0 for k in kinds})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def request_key(path: str, query: Iterable[tuple[str, str]]) -> str:
    """Identity of a request for fault purposes: path plus the query in sorted order.

    Sorting makes ``?page=2&page_size=10`` and ``?page_size=10&page=2`` the same request, so a
    client that rebuilds its URL on retry still counts as retrying.
    """
    return f"{path}?{urlencode(sorted(query))}"


def _unit(seed: int, key: str, attempt: int, salt: str) -> float:
    """A reproducible draw in [0, 1) (no shared RNG state, so request order does not matter)."""
    digest = hashlib.blake2b(f"{seed}|{key}|{attempt}|{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def decide(cfg: FaultConfig, key: str, attempt: int) -> FaultKind | None:
    """The fault for the ``attempt``-th (0-based) arrival of ``key``, or None."""
    if attempt >= cfg.faulty_attempts:
        return None
    for kind in KNOWN_KINDS:
        rate = cfg.rate(kind)
        if rate > 0 and _unit(cfg.seed, key, attempt, kind) < rate:
            return kind
    return None


def error_status(cfg: FaultConfig, key: str, attempt: int) -> int:
    """Which 5xx a server-error fault answers with (varies, like a real gateway)."""
    pick = _unit(cfg.seed, key, attempt, "status")
    return SERVER_ERROR_STATUSES[int(pick * len(SERVER_ERROR_STATUSES))]


@dataclass(frozen=True)
class Fault:
    """What to do with one request: ``kind`` None means answer normally."""

    kind: FaultKind | None
    key: str
    attempt: int
    status: int | None = None


class FaultInjector:
    """Counts attempts per request key and decides each request's fault (thread-safe)."""

    def __init__(self, cfg: FaultConfig) -> None:
        self.cfg = cfg
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def next(self, path: str, query: Iterable[tuple[str, str]]) -> Fault:
        key = request_key(path, query)
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] += 1
        kind = decide(self.cfg, key, attempt)
        status = error_status(self.cfg, key, attempt) if kind == "5xx" else None
        return Fault(kind, key, attempt, status)

    def attempts(self, path: str, query: Iterable[tuple[str, str]]) -> int:
        with self._lock:
            return self._attempts[request_key(path, query)]

    def totals(self) -> tuple[int, int]:
        """(distinct requests, attempts): more attempts than requests means clients retried."""
        with self._lock:
            return len(self._attempts), sum(self._attempts.values())

    def reset(self) -> None:
        with self._lock:
            self._attempts.clear()


def with_duplicates(
    previous_page: list[dict[str, object]], page_items: list[dict[str, object]], count: int
) -> list[dict[str, object]]:
    """A page that first repeats the last ``count`` items of the previous page.

    Nothing of the page itself is dropped, so a client that de-duplicates by key still gets
    every item exactly once; one that does not will double-count.
    """
    if not previous_page or not page_items:
        return page_items
    return [*previous_page[-count:], *page_items]


def short_page(page_items: list[dict[str, object]]) -> list[dict[str, object]]:
    """A truncated answer: the first half of the page's items (rounded down); the server
    cuts only pages that are not the last.

    The answer's ``total`` is left as it was, so a client that counts what it received (or
    checks a non-last page is full) notices and asks again; one that only follows
    ``total_pages`` loses the rest of the page.
    """
    return page_items[: len(page_items) // 2]
