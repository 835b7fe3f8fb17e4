"""HTTP face of the simulator: paged JSON APIs of all three systems and file downloads.

It mimics what vendors' systems offer an integrator (bearer token, date-window and
changed-since filters, paging, "Xuất Excel" downloads) so the ingest code is exercised against
the same shapes it will meet for real, including their failures: with a
:class:`~chiso_sim.faults.FaultConfig` the server answers 5xx and 429, responds too slowly,
repeats items across pages and (opt-in) answers short pages, always transiently, so a correct
client still gets complete, exact data.

**The clock.** Every answer shows the systems as they stood at an instant (naive local time,
Asia/Ho_Chi_Minh; :mod:`chiso_sim.clock`): the server's clock, or a request's own ``as_of``.
The clock starts at ``create_simulator_app(..., as_of=)`` / ``chiso-sim serve --as-of`` /
``$CHISO_SIMULATOR_AS_OF``, by default the end of the config's horizon (everything generated,
as before the clock existed). At an instant, a record exists once received (accepted, sent),
and each later change shows once its system *recorded* it; officers record some events days
late and backdated (the generators' docstrings give the shares), so a month read early changes
afterwards, its last-change stamp (``NgayCapNhat``, ``ngay_cap_nhat``) moving forward, and the
portal's usage ratings keep arriving for 20 days after a month.

``create_simulator_app(cfg, token, faults)`` generates each month of every source on demand,
once whatever the instant, and keeps recent months in an LRU cache. Its endpoints (bearer
token on all but /health; paged ones answer ``{"items", "page", "page_size", "total",
"total_pages"}``, ``page_size`` ≤ 1000, ``total`` counting the whole answer; windows
half-open ``[from, to)``; ``as_of`` = ``YYYY-MM-DDTHH:MM:SS`` local, a bare date meaning its
midnight, an explicit offset converted; unreadable → 422):

* ``GET /health`` — also shows the clock
* ``GET /api/v1/clock`` → ``{"as_of": "YYYY-MM-DDTHH:MM:SS"}``; ``PUT /api/v1/clock`` with
  JSON ``{"as_of": "..."}`` moves it (either way; answers the new value). Token required,
  never faulted.
* ``GET /api/v1/dossiers`` — DVCQG dossiers with nested ``DanhSachHoSoBoSung`` /
  ``CapNhatTienDo``, by ``MaHoSo``; exactly one window (400 otherwise, or when to < from):
  ``received_from=&received_to=`` (dates, on ``NgayTiepNhan``) or
  ``changed_from=&changed_to=`` (local date-times, on ``NgayCapNhat``); optional ``as_of``.
* ``GET /api/v1/documents`` — ``documents.movements`` by ``(don_vi, ma_van_ban, huong)``;
  ``date_from=&date_to=`` (on ``ngay_gui_nhan``) or ``changed_from=&changed_to=`` (on
  ``ngay_cap_nhat``), as for dossiers; optional ``as_of``.
* ``GET /api/v1/service-catalogue?day=YYYY-MM-DD[&as_of=]`` — the portal's catalogue snapshot
  of ``day`` as recorded by the instant (empty while ``day`` has not ended); the original form
  ``?as_of=YYYY-MM-DD`` (a bare date, no ``day``) still names the snapshot day, read at the
  server's clock.
* ``GET /api/v1/usage?month=YYYY-MM[&as_of=]`` — portal usage per agency (no rows before the
  month began)
* ``/provinces/{code}/api/v1/…`` — the same four data endpoints (dossiers, documents,
  service-catalogue, usage) as province ``code``'s own installation serves them: the records
  of its agencies only (the province the agencies file gives an agency; a dossier by the
  agency holding it), for a deployment that pulls each province's systems
  (``CHISO_SOURCE_PROVINCES``); 404 for a province the config does not simulate
* ``GET /api/v1/provinces?month=YYYY-MM`` — ``[{code, name}]`` of the provinces with an
  agency in the month (whose summary reports a close can ask for); never faulted
* ``GET /api/v1/exports/{source}/YYYY-MM.{xlsx|xls|csv|json}`` — files in vendor layouts
  (:mod:`chiso_sim.exports`); ``source`` is one of :data:`EXPORT_SOURCES`; query
  ``variant``, ``agency``, ``date_style``, ``delimiter``, ``bom``, ``wrapped``,
  ``two_row_header``, ``sections``, ``total_row``, ``pathologies`` (FileFaults names),
  for the aggregate report ``province`` and ``mismatch`` (total|row), and ``as_of``.

A change window is answered from every month that can hold a record changed in it (received
before ``changed_to`` and the instant); a month already generated whose latest recorded change
is before ``changed_from`` is skipped without projecting it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from chiso_sim.clock import Timeline, format_instant, parse_instant, start_of
from chiso_sim.config import SimulatorConfig
from chiso_sim.faults import (
    FAULT_KINDS,
    OPT_IN_KINDS,
    Fault,
    FaultConfig,
    FaultInjector,
    short_page,
    with_duplicates,
)

DEFAULT_TOKEN = "chiso-dev-token"
TOKEN_ENV = "CHISO_SIMULATOR_TOKEN"
FAULTS_ENV = "CHISO_SIMULATOR_FAULTS"  # e.g. "5xx,429" (kinds) for `chiso-sim serve`
FAULT_RATE_ENV = "CHISO_SIMULATOR_FAULT_RATE"
AS_OF_ENV = "CHISO_SIMULATOR_AS_OF"  # the clock `chiso-sim serve` starts at
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 500
_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
_EXPORT_NAME_RE = re.compile(r"^(\d{4})-(\d{2})\.(xlsx|xls|csv|json)$")

Item = dict[str, Any]
PageNumber = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]

# Download slugs → canonical entity (the aggregate report is built from dossiers).
EXPORT_SOURCES: dict[str, str] = {
    "one_stop": "one_stop.dossiers",
    "one_stop_aggregate": "one_stop.aggregate_reports",
    "supplements": "one_stop.supplements",
    "progress_events": "one_stop.progress_events",
    "documents": "documents.movements",
    "portal_catalogue": "portal.service_catalogue",
    "portal_usage": "portal.usage",
}


# --- shared pieces ---------------------------------------------------------------------------


def _token_dependency(token: str) -> Callable[..., None]:
    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_token


def _page(items: Sequence[Item], page: int, page_size: int) -> dict[str, Any]:
    total = len(items)
    start = (page - 1) * page_size
    return {
        "page": page,
        "page_size": page_size,
        "total": total,
        "total_pages": math.ceil(total / page_size),
        "items": list(items[start : start + page_size]),
    }


def _month_of(period: str) -> date:
    match = _PERIOD_RE.match(period)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise HTTPException(status_code=404, detail=f"expected a month YYYY-MM, got {period!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


# --- on-demand data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Generators:
    """Where the data comes from; injectable so tests can serve small fakes.

    ``dossiers`` and ``documents`` give a month's records through time
    (:class:`~chiso_sim.clock.Timeline`, independent of any instant: generated once per
    month); ``catalogue`` and ``usage`` give a snapshot day's or a month's rows as at an
    instant (``(cfg, day_or_month, as_of)``).
    """

    dossiers: Callable[[Any, date], Timeline]
    documents: Callable[[Any, date], Timeline]
    catalogue: Callable[[Any, date, datetime], list[Item]]
    usage: Callable[[Any, date, datetime], list[Item]]


def _dossiers_month(cfg: Any, month: date) -> Timeline:
    from chiso_sim.one_stop import month_history

    return month_history(cfg, month)


def _documents_month(cfg: Any, month: date) -> Timeline:
    from chiso_sim.documents import month_history

    return month_history(cfg, month)


def _catalogue_day(cfg: Any, day: date, as_of: datetime) -> list[Item]:
    from chiso_sim.portal import catalogue_snapshot

    return catalogue_snapshot(cfg, day, as_of)


def _usage_month(cfg: Any, month: date, as_of: datetime) -> list[Item]:
    from chiso_sim.portal import usage_month

    return usage_month(cfg, month, as_of)


def default_generators() -> Generators:
    """The real generators, imported on first use (a missing one fails only its endpoint)."""
    return Generators(_dossiers_month, _documents_month, _catalogue_day, _usage_month)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _sort_key(*fields: str) -> Callable[[Item], tuple[str, ...]]:
    return lambda item: tuple(str(item.get(f) or "") for f in fields)


# Each source's order, so paging is stable.
_ORDER: dict[str, Callable[[Item], tuple[str, ...]]] = {
    "dossiers": _sort_key("MaHoSo"),
    "documents": _sort_key("don_vi", "ma_van_ban", "huong"),
    "catalogue": _sort_key("don_vi", "ma_tthc"),
    "usage": _sort_key("don_vi"),
}
Window = Literal["received", "changed"]
# the field naming the agency a record belongs to (a dossier: the one holding it)
_AGENCY_FIELD = {
    "dossiers": "DonViXuLy",
    "documents": "don_vi",
    "catalogue": "don_vi",
    "usage": "don_vi",
}


class MonthlyData:
    """Each source's data as it stood at an instant: the server's clock unless a request
    names its own ``as_of``.

    Dossiers and documents are kept per month as a :class:`~chiso_sim.clock.Timeline`
    (generated once, LRU-cached, independent of any instant) and projected per request; the
    latest recorded change of every month generated so far is remembered beyond the LRU, so a
    change window skips the months that cannot match. Catalogue and usage answers are cached
    per (day or month, instant), and the latest few window answers too (paging re-asks them).

    Only the configured horizon exists: outside it every window is empty, as a system that
    was not yet in use has nothing to export.
    """

    def __init__(
        self,
        cfg: Any,
        generators: Generators,
        cache_size: int = 32,
        as_of: datetime | None = None,
    ) -> None:
        self.cfg = cfg
        first = cfg.start_month.replace(day=1)
        months = [first]
        for _ in range(max(0, cfg.months - 1)):
            months.append(_next_month(months[-1]))
        self.months: tuple[date, ...] = tuple(months[: max(0, cfg.months)])
        self.start = self.months[0] if self.months else first
        self.end = _next_month(self.months[-1]) if self.months else first
        self.horizon_end = start_of(self.end)
        self.clock: datetime = as_of or self.horizon_end
        g = generators
        self._timelines: dict[str, Callable[[date], Timeline]] = {
            "dossiers": lru_cache(maxsize=cache_size)(lambda m: g.dossiers(cfg, m)),
            "documents": lru_cache(maxsize=cache_size)(lambda m: g.documents(cfg, m)),
        }
        self._last_change: dict[tuple[str, date], datetime | None] = {}
        self._catalogue = lru_cache(maxsize=cache_size)(
            lambda d, t: sorted(g.catalogue(cfg, d, t), key=_ORDER["catalogue"])
        )
        self._usage = lru_cache(maxsize=cache_size)(
            lambda m, t: sorted(g.usage(cfg, m, t), key=_ORDER["usage"])
        )
        self._answers = lru_cache(maxsize=8)(self._answer)
        self._provinces: dict[str, str] | None = None

    # -- each province's installation

    def of_province(self, source: str, items: list[Item], province: str | None) -> list[Item]:
        """`items` of `source` as `province`'s installation serves them (all, for None): those
        of its agencies. An unknown province is a 404, as a wrong host would be."""
        if province is None:
            return items
        provinces = self._agency_provinces()
        simulated = set(self.cfg.provinces) or set(provinces.values())
        if province not in simulated:
            raise HTTPException(status_code=404, detail=f"no installation for province {province}")
        field = _AGENCY_FIELD[source]
        return [i for i in items if provinces.get(str(i.get(field) or "").strip()) == province]

    def _agency_provinces(self) -> dict[str, str]:
        if self._provinces is None:
            from chiso_sim.one_stop import load_agencies

            self._provinces = {
                a.code: a.province_code for a in load_agencies(Path(self.cfg.agencies_csv))
            }
        return self._provinces

    # -- the clock

    def now(self, as_of: datetime | None = None) -> datetime:
        """The instant a request sees: its own ``as_of``, else the server's clock."""
        return as_of or self.clock

    def set_clock(self, as_of: datetime) -> None:
        self.clock = as_of

    def in_horizon(self, day: date) -> bool:
        return self.start <= day < self.end

    # -- dossiers and documents

    def timeline(self, source: str, month: date) -> Timeline:
        """A month's records through time (generated on first use)."""
        found = self._timelines[source](month)
        self._last_change[(source, month)] = found.last_change
        return found

    def _answer(
        self, source: str, window: Window, lo: datetime, hi: datetime, as_of: datetime
    ) -> tuple[Item, ...]:
        out: list[Item] = []
        for month in self.months:
            first = start_of(month)
            if first >= hi or first >= as_of:
                continue  # nothing in it was received in the window, or by as_of
            if window == "received":
                if start_of(_next_month(month)) > lo:
                    out.extend(self.timeline(source, month).at(as_of, lo, hi))
                continue
            key = (source, month)
            if key in self._last_change:
                known = self._last_change[key]
                if known is None or known < lo:
                    continue  # generated before: no record of it changed at or after lo
            out.extend(self.timeline(source, month).changed(lo, hi, as_of))
        return tuple(sorted(out, key=_ORDER[source]))

    def answer(
        self, source: str, window: Window, lo: datetime, hi: datetime, as_of: datetime | None
    ) -> list[Item]:
        """``source``'s records in a window as at ``as_of`` (the clock), in its order:
        received (appeared) in ``[lo, hi)``, or last changed in ``[lo, hi)``."""
        return list(self._answers(source, window, lo, hi, self.now(as_of)))

    def dossiers_between(self, lo: date, hi: date, as_of: datetime | None = None) -> list[Item]:
        """Dossiers with NgayTiepNhan in [lo, hi), by MaHoSo, as at ``as_of`` (the clock)."""
        return self.answer("dossiers", "received", start_of(lo), start_of(hi), as_of)

    def documents_between(self, lo: date, hi: date, as_of: datetime | None = None) -> list[Item]:
        """Movements with ngay_gui_nhan in [lo, hi), by (don_vi, ma_van_ban, huong)."""
        return self.answer("documents", "received", start_of(lo), start_of(hi), as_of)

    def dossiers_changed(
        self, lo: datetime, hi: datetime, as_of: datetime | None = None
    ) -> list[Item]:
        """Dossiers as at ``as_of`` whose NgayCapNhat is in [lo, hi), by MaHoSo."""
        return self.answer("dossiers", "changed", lo, hi, as_of)

    def documents_changed(
        self, lo: datetime, hi: datetime, as_of: datetime | None = None
    ) -> list[Item]:
        """Movements as at ``as_of`` whose ngay_cap_nhat is in [lo, hi)."""
        return self.answer("documents", "changed", lo, hi, as_of)

    def dossiers(self, month: date, as_of: datetime | None = None) -> list[Item]:
        """The month's dossiers as at ``as_of`` (the clock), by MaHoSo."""
        found = self.timeline("dossiers", month).at(self.now(as_of))
        return sorted(found, key=_ORDER["dossiers"])

    def dossiers_through(self, month: date, as_of: datetime | None = None) -> list[Item]:
        """Every dossier of the horizon up to ``month`` (the aggregate needs carried-over)."""
        return [d for m in self.months if m <= month for d in self.dossiers(m, as_of)]

    # -- the portal

    def catalogue(self, day: date, as_of: datetime | None = None) -> list[Item]:
        """The snapshot of ``day`` as recorded by ``as_of`` (the clock); empty outside the
        horizon and while ``day`` has not ended."""
        at = self.now(as_of)
        if not self.in_horizon(day) or day >= at.date():
            return []
        return list(self._catalogue(day, at))

    def usage(self, month: date, as_of: datetime | None = None) -> list[Item]:
        """The month's usage rows as at ``as_of`` (the clock); none before the month began."""
        at = self.now(as_of)
        if not self.in_horizon(month) or at <= start_of(month):
            return []
        return list(self._usage(month, at))


# --- fault handling --------------------------------------------------------------------------


def _fault_dependency(
    injector: FaultInjector, require_token: Callable[..., None]
) -> Callable[..., Any]:
    """Per request, after authentication: raise or delay as the fault plan says."""
    cfg = injector.cfg

    # Default-value Depends: a closure's name cannot be resolved from a string annotation.
    async def fault_gate(request: Request, _auth: None = Depends(require_token)) -> Fault:
        fault = injector.next(request.url.path, request.query_params.multi_items())
        if fault.kind == "5xx":
            raise HTTPException(
                status_code=fault.status or 503,
                detail=f"simulated server error (attempt {fault.attempt + 1})",
            )
        if fault.kind == "429":
            raise HTTPException(
                status_code=429,
                detail="simulated rate limit: too many requests",
                headers={"Retry-After": str(cfg.retry_after_seconds)},
            )
        if fault.kind == "timeout":
            await asyncio.sleep(cfg.slow_seconds)
        return fault

    return fault_gate


def without_nulls(value: Any) -> Any:
    """A record as a vendor whose serializer omits the keys of null values sends it (nested
    lists of records too): which keys a record carries then varies from one to the next."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _paged_with_faults(
    items: Sequence[Item],
    page: int,
    page_size: int,
    fault: Fault,
    cfg: FaultConfig,
    omit_null_keys: bool = False,
) -> dict[str, Any]:
    body = _page(items, page, page_size)
    if fault.kind == "duplicates" and page > 1:
        previous = _page(items, page - 1, page_size)["items"]
        body["items"] = with_duplicates(previous, body["items"], cfg.duplicate_items)
    elif fault.kind == "short" and page < body["total_pages"]:
        body["items"] = short_page(body["items"])  # more remain after it: it should be full
    if omit_null_keys:  # the page only: the whole window per request would be quadratic
        body["items"] = [without_nulls(item) for item in body["items"]]
    return body


# --- exports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ExportQuery:
    variant: str
    agency: str | None
    date_style: str | None
    delimiter: str
    bom: bool
    wrapped: bool
    two_row_header: bool
    sections: bool
    total_row: bool
    pathologies: str
    province: str | None
    mismatch: str | None
    as_of: str | None


def _export_query(
    variant: Annotated[str | None, Query()] = None,
    agency: Annotated[str | None, Query()] = None,
    date_style: Annotated[str | None, Query()] = None,
    delimiter: Annotated[str, Query(pattern="^[,;|\t]$")] = ",",
    bom: bool = True,
    wrapped: bool = False,
    two_row_header: bool = False,
    sections: bool = False,
    total_row: bool = False,
    pathologies: str = "",
    province: Annotated[str | None, Query()] = None,
    mismatch: Annotated[str | None, Query(pattern="^(total|row)$")] = None,
    as_of: Annotated[str | None, Query()] = None,
) -> _ExportQuery:
    return _ExportQuery(
        variant or "",
        agency,
        date_style,
        delimiter,
        bom,
        wrapped,
        two_row_header,
        sections,
        total_row,
        pathologies,
        province,
        mismatch,
        as_of,
    )


def _export_rows(
    data: MonthlyData, slug: str, month: date, agency: str | None, at: datetime
) -> list[Item]:
    from chiso.core.months import last_day as month_end
    from chiso_sim.exports import flatten_progress, flatten_supplements

    nxt = _next_month(month)
    if slug in ("one_stop", "supplements", "progress_events"):
        dossiers = data.dossiers_between(month, nxt, at)
        if agency:
            dossiers = [d for d in dossiers if d.get("DonViXuLy") == agency]
        if slug == "supplements":
            return flatten_supplements(dossiers)
        if slug == "progress_events":
            return flatten_progress(dossiers)
        return dossiers
    if slug == "documents":
        rows = data.documents_between(month, nxt, at)
    elif slug == "portal_catalogue":
        rows = data.catalogue(month_end(month), at)
    else:
        rows = data.usage(month, at)
    return [r for r in rows if r.get("don_vi") == agency] if agency else rows


def _export_file(data: MonthlyData, slug: str, name: str, q: _ExportQuery) -> Response:
    from chiso_sim import aggregate, exports

    match = _EXPORT_NAME_RE.match(name)
    if slug not in EXPORT_SOURCES or not match or not 1 <= int(match.group(2)) <= 12:
        raise HTTPException(
            status_code=404,
            detail=f"expected /api/v1/exports/<{'|'.join(EXPORT_SOURCES)}>/YYYY-MM.<ext>",
        )
    month, ext = date(int(match.group(1)), int(match.group(2)), 1), match.group(3)
    if not data.in_horizon(month):
        raise HTTPException(status_code=404, detail=f"{month:%Y-%m} is outside the simulation")
    at = data.now(_instant(q.as_of, "as_of"))
    try:
        faults = exports.FileFaults.parse(q.pathologies)
        if slug == "one_stop_aggregate":
            if ext not in ("xlsx", "xls"):
                raise ValueError("the aggregate report is only offered as .xlsx or .xls")
            content = aggregate.aggregate_report_bytes(
                data.cfg,
                month,
                province_code=q.province,
                dossiers=data.dossiers_through(month, at),
                variant=q.variant or "standard",  # type: ignore[arg-type]
                fmt=ext,  # type: ignore[arg-type]
                mismatch=q.mismatch,  # type: ignore[arg-type]
                faults=faults,
            )
        else:
            options = exports.ExportOptions(
                fmt=ext,  # type: ignore[arg-type]
                variant=q.variant or ("dvcqg" if ext == "json" else "vi"),  # type: ignore[arg-type]
                date_style=q.date_style,  # type: ignore[arg-type]
                two_row_header=q.two_row_header,
                sections=q.sections,
                total_row=q.total_row,
                csv_delimiter=q.delimiter,
                csv_bom=q.bom,
                json_wrapped=q.wrapped,
            )
            rows = _export_rows(data, slug, month, q.agency, at)
            content = exports.export_bytes(EXPORT_SOURCES[slug], rows, month, options, faults)
    except (ValueError, KeyError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    media = exports.MEDIA_TYPES[ext]
    if ext in ("csv", "json"):
        media += "; charset=windows-1252" if faults.legacy else "; charset=utf-8"
    filename = f"{slug}_{q.agency + '_' if q.agency else ''}{month:%Y-%m}.{ext}"
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the simulator app -----------------------------------------------------------------------


class ClockSetting(BaseModel):
    """Body of ``PUT /api/v1/clock``."""

    as_of: str


def _instant(text: str | None, name: str) -> datetime | None:
    """A query's local date-time (None when absent); 422 when unreadable."""
    if text is None or not text.strip():
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise HTTPException(
            status_code=422,
            detail=f"{name}: expected a local date-time YYYY-MM-DDTHH:MM:SS, got {text!r}",
        ) from None


def _window_of(
    prefix: str,
    day_from: date | None,
    day_to: date | None,
    changed_from: str | None,
    changed_to: str | None,
) -> tuple[Window, datetime, datetime]:
    """Exactly one pair: ``{prefix}_from``/``{prefix}_to`` (dates: what the record's own date
    says) or ``changed_from``/``changed_to`` (local date-times, on its last-change stamp)."""
    dates = day_from is not None or day_to is not None
    changes = changed_from is not None or changed_to is not None
    pairs = f"{prefix}_from/{prefix}_to or changed_from/changed_to"
    if dates == changes:
        raise HTTPException(status_code=400, detail=f"give exactly one window: {pairs}")
    if dates:
        if day_from is None or day_to is None:
            raise HTTPException(status_code=400, detail=f"give both {prefix}_from and {prefix}_to")
        _check_window(day_from, day_to, prefix)
        return "received", start_of(day_from), start_of(day_to)
    lo, hi = _instant(changed_from, "changed_from"), _instant(changed_to, "changed_to")
    if lo is None or hi is None:
        raise HTTPException(status_code=400, detail="give both changed_from and changed_to")
    if hi < lo:
        raise HTTPException(status_code=400, detail="changed_to is before changed_from")
    return "changed", lo, hi


def _snapshot_of(day: date | None, as_of: str | None) -> tuple[date, datetime | None]:
    """The catalogue's snapshot day and the request's instant.

    ``day`` names the snapshot; ``as_of`` then overrides the clock. Without ``day``, a bare
    date ``as_of=YYYY-MM-DD`` is the snapshot day, read at the server's clock (the original
    form of this endpoint, which the warehouse's monthly pull uses).
    """
    if day is not None:
        return day, _instant(as_of, "as_of")
    text = (as_of or "").strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text), None
        except ValueError:
            pass
    raise HTTPException(
        status_code=422,
        detail="name the snapshot: day=YYYY-MM-DD (and as_of=<local date-time> to override the "
        "clock), or as_of=YYYY-MM-DD alone",
    )


def create_simulator_app(
    cfg: SimulatorConfig,
    token: str,
    faults: FaultConfig | None = None,
    *,
    generators: Generators | None = None,
    cache_size: int = 32,
    as_of: datetime | None = None,
    omit_null_keys: bool = False,
) -> FastAPI:
    """Serve every source of ``cfg`` (months generated on demand), optionally with faults,
    as the systems stood at the server's clock: ``as_of``, by default the end of the horizon,
    moved with ``PUT /api/v1/clock`` (module docstring).

    Paged endpoints answer ``{"items", "page", "page_size", "total", "total_pages"}``; windows
    are half-open ``[from, to)``. ``omit_null_keys``: records leave out the keys of null values,
    as many vendors' serializers do (:func:`without_nulls`).
    """
    faults = faults or FaultConfig()
    data = MonthlyData(cfg, generators or default_generators(), cache_size, as_of)
    injector = FaultInjector(faults)
    require_token = _token_dependency(token)
    gate = _fault_dependency(injector, require_token)
    app = FastAPI(title="chiso source-system simulator", version="3")
    app.state.data = data
    app.state.faults = injector

    faulty = Depends(gate)  # per-app dependency: authentication, then the fault plan
    authenticated = Depends(require_token)  # the clock: authentication only, never faulted

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "months": [f"{m:%Y-%m}" for m in data.months],
            "sources": sorted(EXPORT_SOURCES),
            "faults": list(faults.enabled_kinds),
            "as_of": format_instant(data.clock),
        }

    @app.get("/api/v1/clock")
    def get_clock(_auth: None = authenticated) -> dict[str, str]:
        return {"as_of": format_instant(data.clock)}

    @app.put("/api/v1/clock")
    def put_clock(setting: ClockSetting, _auth: None = authenticated) -> dict[str, str]:
        instant = _instant(setting.as_of, "as_of")
        if instant is None:
            raise HTTPException(status_code=422, detail="as_of: a local date-time is required")
        data.set_clock(instant)
        return {"as_of": format_instant(data.clock)}

    @app.get("/api/v1/dossiers")
    @app.get("/provinces/{province}/api/v1/dossiers")
    def list_dossiers(
        province: str | None = None,
        received_from: Annotated[date | None, Query()] = None,
        received_to: Annotated[date | None, Query()] = None,
        changed_from: Annotated[str | None, Query()] = None,
        changed_to: Annotated[str | None, Query()] = None,
        as_of: Annotated[str | None, Query()] = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        at = _instant(as_of, "as_of")
        window, lo, hi = _window_of(
            "received", received_from, received_to, changed_from, changed_to
        )
        items = data.of_province("dossiers", data.answer("dossiers", window, lo, hi, at), province)
        return _paged_with_faults(items, page, page_size, fault, faults, omit_null_keys)

    @app.get("/api/v1/documents")
    @app.get("/provinces/{province}/api/v1/documents")
    def list_documents(
        province: str | None = None,
        date_from: Annotated[date | None, Query()] = None,
        date_to: Annotated[date | None, Query()] = None,
        changed_from: Annotated[str | None, Query()] = None,
        changed_to: Annotated[str | None, Query()] = None,
        as_of: Annotated[str | None, Query()] = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        at = _instant(as_of, "as_of")
        window, lo, hi = _window_of("date", date_from, date_to, changed_from, changed_to)
        items = data.of_province(
            "documents", data.answer("documents", window, lo, hi, at), province
        )
        return _paged_with_faults(items, page, page_size, fault, faults, omit_null_keys)

    @app.get("/api/v1/service-catalogue")
    @app.get("/provinces/{province}/api/v1/service-catalogue")
    def service_catalogue(
        province: str | None = None,
        day: Annotated[date | None, Query()] = None,
        as_of: Annotated[str | None, Query()] = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        snapshot, at = _snapshot_of(day, as_of)
        items = data.of_province("catalogue", data.catalogue(snapshot, at), province)
        return _paged_with_faults(items, page, page_size, fault, faults, omit_null_keys)

    @app.get("/api/v1/usage")
    @app.get("/provinces/{province}/api/v1/usage")
    def usage(
        month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        province: str | None = None,
        as_of: Annotated[str | None, Query()] = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        items = data.of_province(
            "usage", data.usage(_month_of(month), _instant(as_of, "as_of")), province
        )
        return _paged_with_faults(items, page, page_size, fault, faults, omit_null_keys)

    @app.get("/api/v1/provinces")
    def provinces(
        month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        _auth: None = authenticated,
    ) -> list[dict[str, str]]:
        from chiso_sim.aggregate import report_provinces

        return [
            {"code": code, "name": name}
            for code, name in report_provinces(data.cfg, _month_of(month))
        ]

    @app.get("/api/v1/exports/{source}/{name}")
    def file_export(
        source: str,
        name: str,
        q: Annotated[_ExportQuery, Depends(_export_query)],
        _fault: Fault = faulty,
    ) -> Response:
        return _export_file(data, source, name, q)

    return app


def _check_window(lo: date, hi: date, prefix: str) -> None:
    if hi < lo:
        raise HTTPException(status_code=400, detail=f"{prefix}_to is before {prefix}_from")


# --- running it ------------------------------------------------------------------------------


def faults_from_env(environ: Mapping[str, str] | None = None) -> FaultConfig:
    """``CHISO_SIMULATOR_FAULTS=5xx,429`` (+ ``CHISO_SIMULATOR_FAULT_RATE``) for the managed
    simulator, which `chiso simulator start` launches without extra flags."""
    env = os.environ if environ is None else environ
    kinds = env.get(FAULTS_ENV, "").strip()
    if not kinds:
        return FaultConfig()
    return FaultConfig.from_kinds(kinds, float(env.get(FAULT_RATE_ENV) or 0.3))


def as_of_from_env(environ: Mapping[str, str] | None = None) -> datetime | None:
    """``CHISO_SIMULATOR_AS_OF=2020-02-06T08:00:00``: the managed simulator's starting clock."""
    env = os.environ if environ is None else environ
    text = env.get(AS_OF_ENV, "").strip()
    return parse_instant(text) if text else None


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    cfg: SimulatorConfig | None = None,
    token: str | None = None,
    faults: FaultConfig | None = None,
    as_of: datetime | None = None,
    omit_null_keys: bool = False,
) -> None:
    """Serve every source for ``cfg`` until interrupted (blocking); the clock starts at
    ``as_of``, else ``$CHISO_SIMULATOR_AS_OF``, else the end of the horizon."""
    import uvicorn

    token = token or os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN
    faults = faults if faults is not None else faults_from_env()
    as_of = as_of or as_of_from_env()
    app = create_simulator_app(
        cfg or SimulatorConfig(), token, faults, as_of=as_of, omit_null_keys=omit_null_keys
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _month_arg(text: str) -> date:
    return date.fromisoformat(f"{text}-01") if len(text) == 7 else date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    defaults = SimulatorConfig()
    fault_defaults = FaultConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    parser.add_argument(
        "--as-of",
        type=parse_instant,
        default=None,
        help="the clock, a local date-time YYYY-MM-DDTHH:MM:SS: serve every system as it stood "
        f"then (default: ${AS_OF_ENV}, else the end of the horizon; PUT /api/v1/clock moves it)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start-month", type=_month_arg, default=defaults.start_month)
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument(
        "--provinces", default="", help="province codes to simulate, comma-separated (all)"
    )
    parser.add_argument(
        "--agencies",
        type=Path,
        default=defaults.agencies_csv,
        help="the agency register the source systems hold (ref_agencies.csv's columns; default:"
        " the project's): an agency here and not in the warehouse's reference data is one a"
        " vendor already serves and the operator has not yet added",
    )
    parser.add_argument(
        "--dossiers-per-agency-month", type=int, default=defaults.dossiers_per_agency_month
    )
    parser.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    parser.add_argument(
        "--procedures-per-province",
        type=int,
        default=defaults.procedures_per_province,
        help="size of each province's procedure catalogue (the portal's service catalogue)",
    )
    parser.add_argument(
        "--faults",
        default="",
        help=f"fault kinds to inject, comma-separated: {','.join(FAULT_KINDS)} or 'all' "
        f"(= those), plus the opt-in {','.join(OPT_IN_KINDS)} (a truncated page: fewer items "
        "than page_size although more remain, total unchanged)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.3, help="probability per attempt")
    parser.add_argument("--fault-seed", type=int, default=fault_defaults.seed)
    parser.add_argument(
        "--faulty-attempts",
        type=int,
        default=fault_defaults.faulty_attempts,
        help="a request can only fault on its first N attempts (faults are transient)",
    )
    parser.add_argument("--retry-after", type=int, default=fault_defaults.retry_after_seconds)
    parser.add_argument("--slow-seconds", type=float, default=fault_defaults.slow_seconds)
    parser.add_argument("--duplicate-items", type=int, default=fault_defaults.duplicate_items)
    parser.add_argument(
        "--omit-null-keys",
        action="store_true",
        help="leave the keys of null values out of every record, as many vendors do",
    )
    return parser


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    if not args.faults:
        return faults_from_env()
    return FaultConfig.from_kinds(
        args.faults,
        args.fault_rate,
        seed=args.fault_seed,
        faulty_attempts=args.faulty_attempts,
        retry_after_seconds=args.retry_after,
        slow_seconds=args.slow_seconds,
        duplicate_items=args.duplicate_items,
    )


def main(argv: list[str] | None = None) -> None:
    """`chiso-sim serve …`: serve every source until interrupted."""
    args = build_parser().parse_args(argv)
    provinces = tuple(p.strip() for p in args.provinces.split(",") if p.strip())
    cfg = SimulatorConfig(
        seed=args.seed,
        start_month=args.start_month,
        months=args.months,
        provinces=provinces,
        agencies_csv=args.agencies,
        dossiers_per_agency_month=args.dossiers_per_agency_month,
        documents_per_agency_month=args.documents_per_agency_month,
        procedures_per_province=args.procedures_per_province,
    )
    try:
        faults = faults_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"--faults: {exc}") from exc
    serve(args.host, args.port, cfg, args.token, faults, args.as_of, args.omit_null_keys)


if __name__ == "__main__":
    main()
