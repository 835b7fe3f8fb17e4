"""HTTP face of the simulator: paged JSON APIs of all three systems and file downloads.

It mimics what vendors' systems offer an integrator (bearer token, date-window filters,
paging, "Xuất Excel" downloads) so the ingest code is exercised against the same shapes it will
meet for real, including their failures: with a :class:`~chiso_sim.faults.FaultConfig`
the server answers 5xx and 429, responds too slowly and repeats items across pages, always
transiently, so a correct client still gets complete, exact data.

``create_simulator_app(cfg, token, faults)`` generates each month of every source on demand
and keeps recent months in an LRU cache. Its endpoints (bearer token on all but /health;
paged ones answer ``{"items", "page", "page_size", "total", "total_pages"}``, ``page_size`` ≤
1000, date windows half-open ``[from, to)``):

* ``GET /health``
* ``GET /api/v1/dossiers?received_from=&received_to=`` — DVCQG dossiers with nested
  ``DanhSachHoSoBoSung`` / ``CapNhatTienDo``, by ``MaHoSo``
* ``GET /api/v1/documents?date_from=&date_to=`` — ``documents.movements`` by ``ngay_gui_nhan``
* ``GET /api/v1/service-catalogue?as_of=YYYY-MM-DD`` — the portal's catalogue snapshot
* ``GET /api/v1/usage?month=YYYY-MM`` — portal usage per agency
* ``GET /api/v1/exports/{source}/YYYY-MM.{xlsx|xls|csv|json}`` — files in vendor layouts
  (:mod:`chiso_sim.exports`); ``source`` is one of :data:`EXPORT_SOURCES`; query
  ``variant``, ``agency``, ``date_style``, ``delimiter``, ``bom``, ``wrapped``,
  ``two_row_header``, ``sections``, ``total_row``, ``pathologies`` (FileFaults names),
  and for the aggregate report ``province`` and ``mismatch`` (total|row).
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
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response

from chiso_sim.config import SimulatorConfig
from chiso_sim.faults import FAULT_KINDS, Fault, FaultConfig, FaultInjector, with_duplicates

DEFAULT_TOKEN = "chiso-dev-token"
TOKEN_ENV = "CHISO_SIMULATOR_TOKEN"
FAULTS_ENV = "CHISO_SIMULATOR_FAULTS"  # e.g. "5xx,429" (kinds) for `chiso-sim serve`
FAULT_RATE_ENV = "CHISO_SIMULATOR_FAULT_RATE"
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
    """Where the data comes from; injectable so tests can serve small fakes."""

    dossiers: Callable[[Any, date], list[Item]]
    documents: Callable[[Any, date], list[Item]]
    catalogue: Callable[[Any, date], list[Item]]
    usage: Callable[[Any, date], list[Item]]


def _dossiers_month(cfg: Any, month: date) -> list[Item]:
    from chiso_sim.one_stop import generate_month

    return generate_month(cfg, month)


def _documents_month(cfg: Any, month: date) -> list[Item]:
    from chiso_sim.documents import generate_month

    return generate_month(cfg, month)


def _catalogue_day(cfg: Any, day: date) -> list[Item]:
    from chiso_sim.portal import catalogue_snapshot

    return catalogue_snapshot(cfg, day)


def _usage_month(cfg: Any, month: date) -> list[Item]:
    from chiso_sim.portal import usage_month

    return usage_month(cfg, month)


def default_generators() -> Generators:
    """The real generators, imported on first use (a missing one fails only its endpoint)."""
    return Generators(_dossiers_month, _documents_month, _catalogue_day, _usage_month)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _day_key(value: Any) -> str:
    """'YYYYMMDD' of a timestamp in any of the generators' forms ('' when absent)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%Y%m%d")
    text = str(value).strip()
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return text[:4] + text[5:7] + text[8:10]
    if len(text) >= 8 and text[:8].isdigit():
        return text[:8]
    from chiso_sim.exports import parse_temporal

    parsed = parse_temporal(text)
    return parsed.strftime("%Y%m%d") if parsed else ""


def _sort_key(*fields: str) -> Callable[[Item], tuple[str, ...]]:
    return lambda item: tuple(str(item.get(f) or "") for f in fields)


class MonthlyData:
    """Each source's data per month (or snapshot day), generated once and LRU-cached.

    Only the configured horizon exists: outside it every window is empty, as a system that
    was not yet in use has nothing to export.
    """

    def __init__(self, cfg: Any, generators: Generators, cache_size: int = 32) -> None:
        self.cfg = cfg
        first = cfg.start_month.replace(day=1)
        months = [first]
        for _ in range(max(0, cfg.months - 1)):
            months.append(_next_month(months[-1]))
        self.months: tuple[date, ...] = tuple(months[: max(0, cfg.months)])
        self.start = self.months[0] if self.months else first
        self.end = _next_month(self.months[-1]) if self.months else first
        g = generators
        self.dossiers = lru_cache(maxsize=cache_size)(
            lambda m: sorted(g.dossiers(cfg, m), key=_sort_key("MaHoSo"))
        )
        self.documents = lru_cache(maxsize=cache_size)(
            lambda m: sorted(g.documents(cfg, m), key=_sort_key("don_vi", "ma_van_ban", "huong"))
        )
        self.catalogue = lru_cache(maxsize=cache_size)(
            lambda d: sorted(g.catalogue(cfg, d), key=_sort_key("don_vi", "ma_tthc"))
        )
        self.usage = lru_cache(maxsize=cache_size)(
            lambda m: sorted(g.usage(cfg, m), key=_sort_key("don_vi"))
        )

    def in_horizon(self, day: date) -> bool:
        return self.start <= day < self.end

    def _months_between(self, lo: date, hi: date) -> list[date]:
        return [m for m in self.months if m < hi and _next_month(m) > lo]

    def dossiers_between(self, lo: date, hi: date) -> list[Item]:
        """Dossiers with NgayTiepNhan in [lo, hi), by MaHoSo."""
        return self._window(self.dossiers, "NgayTiepNhan", lo, hi, _sort_key("MaHoSo"))

    def documents_between(self, lo: date, hi: date) -> list[Item]:
        """Movements with ngay_gui_nhan in [lo, hi), by (don_vi, ma_van_ban, huong)."""
        key = _sort_key("don_vi", "ma_van_ban", "huong")
        return self._window(self.documents, "ngay_gui_nhan", lo, hi, key)

    def _window(
        self,
        month_items: Callable[[date], list[Item]],
        field: str,
        lo: date,
        hi: date,
        key: Callable[[Item], tuple[str, ...]],
    ) -> list[Item]:
        lo_key, hi_key = lo.strftime("%Y%m%d"), hi.strftime("%Y%m%d")
        out = [
            item
            for month in self._months_between(lo, hi)
            for item in month_items(month)
            if lo_key <= (_day_key(item.get(field)) or "0") < hi_key
        ]
        return sorted(out, key=key)

    def dossiers_through(self, month: date) -> list[Item]:
        """Every dossier of the horizon up to ``month`` (the aggregate needs carried-over)."""
        return [d for m in self.months if m <= month for d in self.dossiers(m)]


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


def _paged_with_faults(
    items: Sequence[Item], page: int, page_size: int, fault: Fault, cfg: FaultConfig
) -> dict[str, Any]:
    body = _page(items, page, page_size)
    if fault.kind == "duplicates" and page > 1:
        previous = _page(items, page - 1, page_size)["items"]
        body["items"] = with_duplicates(previous, body["items"], cfg.duplicate_items)
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
    )


def _export_rows(data: MonthlyData, slug: str, month: date, agency: str | None) -> list[Item]:
    from chiso.core.months import last_day as month_end
    from chiso_sim.exports import flatten_progress, flatten_supplements

    nxt = _next_month(month)
    if slug in ("one_stop", "supplements", "progress_events"):
        dossiers = data.dossiers_between(month, nxt)
        if agency:
            dossiers = [d for d in dossiers if d.get("DonViXuLy") == agency]
        if slug == "supplements":
            return flatten_supplements(dossiers)
        if slug == "progress_events":
            return flatten_progress(dossiers)
        return dossiers
    if slug == "documents":
        rows = data.documents_between(month, nxt)
    elif slug == "portal_catalogue":
        rows = data.catalogue(month_end(month))
    else:
        rows = data.usage(month)
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
    try:
        faults = exports.FileFaults.parse(q.pathologies)
        if slug == "one_stop_aggregate":
            if ext not in ("xlsx", "xls"):
                raise ValueError("the aggregate report is only offered as .xlsx or .xls")
            content = aggregate.aggregate_report_bytes(
                data.cfg,
                month,
                province_code=q.province,
                dossiers=data.dossiers_through(month),
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
            rows = _export_rows(data, slug, month, q.agency)
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


def create_simulator_app(
    cfg: SimulatorConfig,
    token: str,
    faults: FaultConfig | None = None,
    *,
    generators: Generators | None = None,
    cache_size: int = 32,
) -> FastAPI:
    """Serve every source of ``cfg`` (months generated on demand), optionally with faults.

    Paged endpoints answer ``{"items", "page", "page_size", "total", "total_pages"}``; date
    windows are half-open ``[from, to)``.
    """
    faults = faults or FaultConfig()
    data = MonthlyData(cfg, generators or default_generators(), cache_size)
    injector = FaultInjector(faults)
    require_token = _token_dependency(token)
    gate = _fault_dependency(injector, require_token)
    app = FastAPI(title="chiso source-system simulator", version="2")
    app.state.data = data
    app.state.faults = injector

    faulty = Depends(gate)  # per-app dependency: authentication, then the fault plan

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "months": [f"{m:%Y-%m}" for m in data.months],
            "sources": sorted(EXPORT_SOURCES),
            "faults": list(faults.enabled_kinds),
        }

    @app.get("/api/v1/dossiers")
    def list_dossiers(
        received_from: Annotated[date, Query()],
        received_to: Annotated[date, Query()],
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        _check_window(received_from, received_to, "received")
        items = data.dossiers_between(received_from, received_to)
        return _paged_with_faults(items, page, page_size, fault, faults)

    @app.get("/api/v1/documents")
    def list_documents(
        date_from: Annotated[date, Query()],
        date_to: Annotated[date, Query()],
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        _check_window(date_from, date_to, "date")
        items = data.documents_between(date_from, date_to)
        return _paged_with_faults(items, page, page_size, fault, faults)

    @app.get("/api/v1/service-catalogue")
    def service_catalogue(
        as_of: Annotated[date, Query()],
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        items = data.catalogue(as_of) if data.in_horizon(as_of) else []
        return _paged_with_faults(items, page, page_size, fault, faults)

    @app.get("/api/v1/usage")
    def usage(
        month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
        fault: Fault = faulty,
    ) -> dict[str, Any]:
        first = _month_of(month)
        items = data.usage(first) if data.in_horizon(first) else []
        return _paged_with_faults(items, page, page_size, fault, faults)

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


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    cfg: SimulatorConfig | None = None,
    token: str | None = None,
    faults: FaultConfig | None = None,
) -> None:
    """Serve every source for ``cfg`` until interrupted (blocking)."""
    import uvicorn

    token = token or os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN
    faults = faults if faults is not None else faults_from_env()
    app = create_simulator_app(cfg or SimulatorConfig(), token, faults)
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
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start-month", type=_month_arg, default=defaults.start_month)
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument(
        "--provinces", default="", help="province codes to simulate, comma-separated (all)"
    )
    parser.add_argument(
        "--dossiers-per-agency-month", type=int, default=defaults.dossiers_per_agency_month
    )
    parser.add_argument(
        "--documents-per-agency-month", type=int, default=defaults.documents_per_agency_month
    )
    parser.add_argument(
        "--faults",
        default="",
        help=f"fault kinds to inject, comma-separated: {','.join(FAULT_KINDS)} or 'all'",
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
        dossiers_per_agency_month=args.dossiers_per_agency_month,
        documents_per_agency_month=args.documents_per_agency_month,
    )
    try:
        faults = faults_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"--faults: {exc}") from exc
    serve(args.host, args.port, cfg, args.token, faults)


if __name__ == "__main__":
    main()
