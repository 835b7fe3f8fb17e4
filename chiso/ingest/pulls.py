"""API pulls: one data interval (a calendar month) of one entity into raw.

Each pull is a delivery covering every agency for the month, so it replaces the month's rows
of that entity (a later per-agency file still replaces its agency). Dossiers arrive with
their supplements and progress events nested; those land in their own tables in the same
transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import httpx
import psycopg

from chiso.core.months import last_day, next_month
from chiso.ingest.api_client import iter_records
from chiso.ingest.files import CHILD_LISTS, record_parts
from chiso.ingest.holds import mark_repulled, months_to_repull
from chiso.ingest.loader import Delivery, DeliveryResult, load_delivery, prepare
from chiso.ingest.rejects import park_month_rejects
from chiso.sources.canonical import entity


@dataclass(frozen=True)
class Pull:
    entity: str
    path: str
    query: Callable[[date], dict[str, str]]
    key: tuple[str, ...]


PULLS: dict[str, Pull] = {
    "one_stop.dossiers": Pull(
        "one_stop.dossiers",
        "/api/v1/dossiers",
        lambda m: {"received_from": m.isoformat(), "received_to": next_month(m).isoformat()},
        ("MaHoSo",),
    ),
    "documents.movements": Pull(
        "documents.movements",
        "/api/v1/documents",
        lambda m: {"date_from": m.isoformat(), "date_to": next_month(m).isoformat()},
        ("don_vi", "ma_van_ban", "huong"),
    ),
    "portal.service_catalogue": Pull(
        "portal.service_catalogue",
        "/api/v1/service-catalogue",
        lambda m: {"as_of": last_day(m).isoformat()},
        ("don_vi", "ma_tthc"),
    ),
    "portal.usage": Pull(
        "portal.usage",
        "/api/v1/usage",
        lambda m: {"month": f"{m:%Y-%m}"},
        ("thang", "don_vi"),
    ),
}

SOURCE_PULLS: dict[str, tuple[str, ...]] = {
    "one_stop": ("one_stop.dossiers",),
    "documents": ("documents.movements",),
    "portal": ("portal.service_catalogue", "portal.usage"),
}


def pull_month(
    url: str,
    entity_name: str,
    month: date,
    base_url: str,
    token: str,
    *,
    client: httpx.Client | None = None,
    backoff_seconds: float = 1.0,
    even_if_loaded: bool = False,
    province: str | None = None,
) -> DeliveryResult:
    """Pull one month of `entity_name` from the source API and land it (see module docs).

    The same answer as an earlier pull is recorded as a duplicate and not landed again,
    unless `even_if_loaded` (a re-pull after a correction hold was released, which must put
    the source's rows back although the source answers as before); an answer is compared with
    the earlier answers for the same month only. With `province`, the API is that province's
    installation (a deployment of several): its answer replaces the month of that province's
    agencies only, and is compared with that installation's earlier answers only. `client` and
    `backoff_seconds` exist for callers that need other timeouts or waits (tests against a
    simulator with faults); the defaults suit a vendor's API."""
    pull = PULLS[entity_name]
    ent = entity(entity_name)
    query = pull.query(month)
    origin = f"{base_url.rstrip('/')}{pull.path}?" + "&".join(f"{k}={v}" for k, v in query.items())
    records = iter_records(
        base_url,
        token,
        pull.path,
        query,
        key=pull.key,
        client=client,
        backoff_seconds=backoff_seconds,
    )
    # the same answer to the same question: an empty May is not April's empty answer again,
    # nor one province's empty month another's (either may replace rows it had)
    digest = hashlib.sha256(f"{entity_name} {month:%Y-%m} {province or ''}\n".encode())
    parts = record_parts(origin, records, [ent], digest=digest)
    delivery = Delivery(
        source=ent.source,
        channel="api",
        origin=origin,
        month=month,
        whole_month=True,
        province=province,
    )
    # a stray bad record is parked (chiso/ingest/rejects.py), not a reason to fail the pull
    return load_delivery(
        url,
        delivery,
        parts,
        content_digest=None if even_if_loaded else digest.hexdigest,
        park=park_month_rejects,
    )


# Child entities landed with their parent's pull (a dossier's supplements and events).
CHILDREN: dict[str, tuple[str, ...]] = {"one_stop.dossiers": tuple(CHILD_LISTS.values())}


def repull_released(
    url: str,
    entity_name: str,
    base_url: str,
    token: str,
    *,
    client: httpx.Client | None = None,
    backoff_seconds: float = 1.0,
    province: str | None = None,
) -> list[DeliveryResult]:
    """Pull again, whole, every month of `entity_name` whose correction hold an operator
    released (chiso/ingest/holds.py): the source's version replaces the file's. With
    `province`, from that province's installation, the months of its agencies."""
    prepare(url)
    with psycopg.connect(url) as conn:
        months = months_to_repull(conn, entity_name, province)
    results = []
    for month in months:
        results.append(
            pull_month(
                url,
                entity_name,
                month,
                base_url,
                token,
                client=client,
                backoff_seconds=backoff_seconds,
                even_if_loaded=True,
                province=province,
            )
        )
        with psycopg.connect(url) as conn:
            for name in (entity_name, *CHILDREN.get(entity_name, ())):
                mark_repulled(conn, name, month, province)
    return results
