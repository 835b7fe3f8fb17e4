"""The three source systems by name, and how chiso reaches a system's API.

A province deployment reaches one installation of each system. A national (or regional)
deployment reaches one per province: each province runs its own one-stop system,
document-management system and portal, so ``CHISO_SOURCE_PROVINCES`` lists the provinces
(codes as in the reference data) and each (system, province) has its own Airflow connection,
watermark and pull task (docs/deploy.md «National scale»).

Kept tiny and free of imports beyond the standard library: the Airflow DAG file imports it to
lay out one pull and one inbox task per system, and Airflow parses DAG files every few seconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

# the one-stop system, the document-management system, the public-service portal
SOURCES: tuple[str, ...] = ("one_stop", "documents", "portal")


@dataclass(frozen=True)
class ApiSettings:
    """Where a source system's API answers and the bearer token it expects."""

    base_url: str
    token: str


def api_settings_of(
    host: str, *, schema: str | None, port: int | None, password: str | None
) -> ApiSettings:
    """A source API's settings from an Airflow connection's fields. The scheme defaults to
    https: the bearer token must not cross a network in clear because a connection left the
    field empty (the demo's local simulator says `http` itself). A host may carry its own
    scheme (``https://dvc.example.vn``); a missing port is the scheme's."""
    if "://" in host:
        scheme, _, host = host.partition("://")
    else:
        scheme = schema or "https"
    # a host may carry a path (``gw.example.vn/tinh-31``: one gateway serving many
    # installations): the port goes between the host and the path
    host, slash, path = host.rstrip("/").partition("/")
    return ApiSettings(
        base_url=f"{scheme}://{host}" + (f":{port}" if port else "") + (slash + path),
        token=password or "",
    )


def api_conn_id(source: str, province: str | None = None) -> str:
    """Airflow connection of a source system's API: ``chiso_one_stop_api`` and so on; in a
    deployment of several provinces, that province's installation: ``chiso_one_stop_api_31``."""
    return f"chiso_{source}_api" + (f"_{province}" if province else "")


_PROVINCE_CODE = re.compile(r"^\d{2}$")


def province_code(text: str) -> str:
    """`text` as a province code (two digits, as in the reference data), or a ValueError
    naming it."""
    code = text.strip()
    if not _PROVINCE_CODE.match(code):
        raise ValueError(f"{code!r} is not a two-digit province code")
    return code


def source_provinces(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The provinces whose own systems the deployment pulls, from ``CHISO_SOURCE_PROVINCES``
    (comma-separated two-digit codes, in the order given, duplicates dropped); empty: one
    installation of each system for the whole deployment. A malformed code raises, naming
    it: a typo would otherwise leave a province silently unpulled."""
    text = (os.environ if environ is None else environ).get("CHISO_SOURCE_PROVINCES", "")
    codes: list[str] = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            code = province_code(item)
        except ValueError as exc:
            raise ValueError(f"CHISO_SOURCE_PROVINCES: {exc}") from None
        if code not in codes:
            codes.append(code)
    return tuple(codes)
