"""The three source systems by name, and how chiso reaches a system's API.

Kept tiny and free of imports beyond the standard library: the Airflow DAG file imports it to
lay out one pull and one inbox task per system, and Airflow parses DAG files every few seconds.
"""

from __future__ import annotations

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
    host = host.rstrip("/")
    return ApiSettings(
        base_url=f"{scheme}://{host}" + (f":{port}" if port else ""), token=password or ""
    )


def api_conn_id(source: str) -> str:
    """Airflow connection of a source system's API: ``chiso_one_stop_api`` and so on."""
    return f"chiso_{source}_api"
