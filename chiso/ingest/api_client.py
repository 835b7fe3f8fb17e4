"""Client of the source systems' paged APIs (dossiers, documents, the portal's catalogue and
usage), as the monthly pulls use it.

Vendor APIs time out, answer 5xx/429 and sometimes repeat items across pages; a pull needs one
call that survives the transient failures, fails loudly (with URL, page and status) on the
permanent ones, and yields each record exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 300.0


class SourceApiError(RuntimeError):
    """The API refused the request or kept failing after all retries."""

    def __init__(self, message: str, *, url: str, page: int, status: int | None) -> None:
        super().__init__(message)
        self.url = url
        self.page = page
        self.status = status


def _sleep(seconds: float) -> None:
    """Indirection so tests can skip or record waits."""
    if seconds > 0:
        time.sleep(seconds)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value.strip()), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _fetch_page(
    client: httpx.Client,
    url: str,
    params: dict[str, str | int],
    headers: dict[str, str],
    page: int,
    max_retries: int,
    backoff_seconds: float,
) -> dict[str, Any]:
    shown_url = str(httpx.URL(url, params=params))
    last_problem = "no attempt made"
    last_status: int | None = None
    for attempt in range(max_retries + 1):
        delay = backoff_seconds * (2**attempt)
        try:
            response = client.get(url, params=params, headers=headers)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last_problem, last_status = f"{type(exc).__name__}: {exc}", None
        else:
            status = response.status_code
            last_status = status
            if status == 429 or status >= 500:
                last_problem = f"HTTP {status}"
                retry_after = _retry_after(response)
                if retry_after is not None:
                    delay = retry_after
            elif status >= 400:
                raise SourceApiError(
                    f"source API refused GET {shown_url} (page {page}): HTTP {status}: "
                    f"{response.text[:300]}",
                    url=shown_url,
                    page=page,
                    status=status,
                )
            else:
                try:
                    payload = response.json()
                    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
                        raise ValueError("response has no 'items' list")
                    return payload
                except ValueError as exc:  # truncated or malformed body: worth a retry
                    last_problem = f"bad JSON body: {exc}"
        if attempt < max_retries:
            _sleep(delay)
    raise SourceApiError(
        f"source API failed GET {shown_url} (page {page}) after {max_retries + 1} attempts; "
        f"last status {last_status}: {last_problem}",
        url=shown_url,
        page=page,
        status=last_status,
    )


def iter_records(
    base_url: str,
    token: str,
    path: str,
    query: dict[str, str],
    *,
    key: tuple[str, ...],
    page_size: int = 500,
    client: httpx.Client | None = None,
    max_retries: int = 5,
    backoff_seconds: float = 1.0,
) -> Iterator[dict[str, Any]]:
    """Yield the items of a paged endpoint, each `key` once.

    Pages are followed until ``total_pages``; transient failures (timeouts, connection errors,
    5xx, 429 with Retry-After, a page cut short) are retried with exponential backoff; an item
    repeated on a later page (vendors re-serve a page when paging shifts under them) is
    dropped. The answer must hold as many distinct records as the API's own ``total`` says:
    a short or empty answer raises :class:`SourceApiError` after the last page, so a pull
    that loads while it reads (COPY) rolls back and lands nothing.
    """
    url = base_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    own_client = client is None
    http = client or httpx.Client(timeout=DEFAULT_TIMEOUT_SECONDS)
    seen: set[tuple[Any, ...]] = set()
    yielded = 0
    try:
        page = 1
        total: int | None = None
        while True:
            params: dict[str, str | int] = {**query, "page": page, "page_size": page_size}
            payload = _full_page(http, url, params, headers, page, max_retries, backoff_seconds)
            if total is None:
                total = _int_or_none(payload.get("total"))
            for item in payload["items"]:
                ident = tuple(item.get(k) for k in key)
                if any(v is not None for v in ident):
                    if ident in seen:
                        continue
                    seen.add(ident)
                yielded += 1
                yield item
            total_pages = int(payload.get("total_pages") or 0)
            if page >= total_pages:
                break
            page += 1
        if total is not None and yielded != total:
            shown = str(httpx.URL(url, params=query))
            raise SourceApiError(
                f"source API answered GET {shown} with {yielded} distinct records, but its"
                f" total says {total}: a short answer; nothing of it is kept",
                url=shown,
                page=page,
                status=None,
            )
    finally:
        if own_client:
            http.close()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _full_page(
    client: httpx.Client,
    url: str,
    params: dict[str, str | int],
    headers: dict[str, str],
    page: int,
    max_retries: int,
    backoff_seconds: float,
) -> dict[str, Any]:
    """A page that is not the last must be full: a page cut short while more remain (a
    truncated answer some vendors give under load) is fetched again."""
    payload: dict[str, Any] = {}
    for attempt in range(max_retries + 1):
        payload = _fetch_page(client, url, params, headers, page, max_retries, backoff_seconds)
        total_pages = int(payload.get("total_pages") or 0)
        if page >= total_pages or len(payload["items"]) >= int(params["page_size"]):
            return payload
        if attempt < max_retries:
            _sleep(backoff_seconds * (2**attempt))
    return payload  # still short: the total check after the last page names the shortfall
