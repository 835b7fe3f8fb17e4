"""HTTP face of the simulator: a paged JSON API and monthly XLSX downloads.

It mimics what a vendor's one-stop system offers an integrator (bearer token, date-window
filter, paging) so the ingest code is exercised against the same shape it will meet for real.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response

from chiso.simulator.one_stop import SimulatorConfig, generate_dossiers
from chiso.simulator.xlsx_export import XLSX_MEDIA_TYPE, write_month_xlsx

DEFAULT_TOKEN = "chiso-dev-token"
TOKEN_ENV = "CHISO_SIMULATOR_TOKEN"
MAX_PAGE_SIZE = 1000
_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


def create_app(dossiers: list[dict[str, Any]], token: str) -> FastAPI:
    """Build the app over a fixed list of dossiers (sorted once here, served read-only)."""
    ordered = sorted(dossiers, key=lambda d: d.get("MaHoSo") or "")
    received = [(d.get("NgayTiepNhan") or "")[:8] for d in ordered]
    app = FastAPI(title="chiso one-stop simulator", version="1")

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

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "dossiers": len(ordered)}

    @app.get("/api/v1/dossiers", dependencies=[Depends(require_token)])
    def list_dossiers(
        received_from: Annotated[date, Query()],
        received_to: Annotated[date, Query()],
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 500,
    ) -> dict[str, Any]:
        if received_to < received_from:
            raise HTTPException(status_code=400, detail="received_to is before received_from")
        lo, hi = received_from.strftime("%Y%m%d"), received_to.strftime("%Y%m%d")
        matched = [d for d, day in zip(ordered, received, strict=True) if day and lo <= day < hi]
        total = len(matched)
        start = (page - 1) * page_size
        return {
            "page": page,
            "page_size": page_size,
            "total": total,
            "total_pages": math.ceil(total / page_size),
            "items": matched[start : start + page_size],
        }

    @app.get("/api/v1/exports/{period}.xlsx", dependencies=[Depends(require_token)])
    def month_export(period: str) -> Response:
        match = _PERIOD_RE.match(period)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise HTTPException(status_code=404, detail="expected /api/v1/exports/YYYY-MM.xlsx")
        month = date(int(match.group(1)), int(match.group(2)), 1)
        buffer = io.BytesIO()
        write_month_xlsx(ordered, month, buffer)
        filename = f"ho-so-{period}.xlsx"
        return Response(
            content=buffer.getvalue(),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    cfg: SimulatorConfig | None = None,
    token: str | None = None,
) -> None:
    """Generate dossiers for ``cfg`` and serve them until interrupted (blocking)."""
    import uvicorn

    token = token or os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN
    app = create_app(generate_dossiers(cfg or SimulatorConfig()), token)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _month_arg(text: str) -> date:
    return date.fromisoformat(f"{text}-01") if len(text) == 7 else date.fromisoformat(text)


def main(argv: list[str] | None = None) -> None:
    """``python -m chiso.simulator.server`` for running the simulator by hand."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start-month", type=_month_arg, default=defaults.start_month)
    parser.add_argument("--months", type=int, default=defaults.months)
    args = parser.parse_args(argv)
    cfg = SimulatorConfig(seed=args.seed, start_month=args.start_month, months=args.months)
    serve(args.host, args.port, cfg)


if __name__ == "__main__":
    main()
