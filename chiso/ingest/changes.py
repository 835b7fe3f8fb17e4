"""Pull by change: every record changed since the entity's watermark, window by window.

A monthly pull by date of receipt sees each record once, in the state it had that day: a
dossier received on 28 January and resolved on 3 February stays open in raw for ever. So
entities whose source stamps each change (``NgayCapNhat`` of a dossier, ``ngay_cap_nhat`` of
a document movement) are pulled by that stamp instead: each pull asks for the records
changed in ``[watermark - overlap, until)`` and lands them where they belong
(chiso/ingest/change_loader.py), and the watermark moves to ``until`` in the same
transaction. Windows are chained, so a record's latest version always falls in a later
window than the one that brought its previous version; an entity without a watermark starts
at ``CHISO_HISTORY_START``, in windows of at most ``CHISO_CHANGE_WINDOW_DAYS`` each committed
on its own (a first pull over years can stop and resume).

Entities whose source has no change stamp (the portal's catalogue snapshots and monthly
usage) are re-pulled whole for the last ``CHISO_LOOKBACK_MONTHS`` months instead
(:func:`pull_lookback`); an unchanged month is recognised by its content and not landed
again. See chiso/core/cadence.py for the knobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import httpx
import psycopg

from chiso.core.cadence import Cadence
from chiso.core.months import add_months, month_range
from chiso.ingest.api_client import iter_records
from chiso.ingest.change_loader import ChangeResult, ChangeWindow, load_changes
from chiso.ingest.files import record_parts
from chiso.ingest.loader import DeliveryResult, prepare
from chiso.ingest.pulls import pull_month
from chiso.sources.canonical import entity

STAMP = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class ChangeFeed:
    """How a source serves one entity's changes."""

    entity: str
    path: str
    key: tuple[str, ...]  # the API's key fields, to drop an item repeated across pages
    change_field: str  # the landing column holding the source's change stamp


CHANGE_FEEDS: dict[str, ChangeFeed] = {
    "one_stop.dossiers": ChangeFeed(
        "one_stop.dossiers", "/api/v1/dossiers", ("MaHoSo",), "ngay_cap_nhat"
    ),
    "documents.movements": ChangeFeed(
        "documents.movements",
        "/api/v1/documents",
        ("don_vi", "ma_van_ban", "huong"),
        "ngay_cap_nhat",
    ),
}
# Entities without a change stamp: re-pulled whole over the look-back.
LOOKBACK_ENTITIES = ("portal.service_catalogue", "portal.usage")


def watermark(url: str, entity_name: str, province: str | None = None) -> datetime | None:
    """The end of the entity's last committed change window (source local time), from
    `province`'s installation in a deployment of several."""
    prepare(url)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select changed_to from ops.ingest_watermarks where entity = %s and province = %s",
            (entity_name, province or ""),
        ).fetchone()
    return row[0] if row else None


def windows(start: datetime, until: datetime, cadence: Cadence) -> list[ChangeWindow]:
    """[start, until) cut into windows of at most ``cadence.change_window``."""
    out: list[ChangeWindow] = []
    lo = start
    while lo < until:
        hi = min(lo + cadence.change_window, until)
        out.append(ChangeWindow(lo, hi))
        lo = hi
    return out


def pull_changes(
    url: str,
    entity_name: str,
    base_url: str,
    token: str,
    *,
    until: datetime,
    cadence: Cadence,
    client: httpx.Client | None = None,
    backoff_seconds: float = 1.0,
    page_size: int = 500,
    province: str | None = None,
) -> list[ChangeResult]:
    """Pull and land the records of `entity_name` changed since its watermark, up to `until`
    (source local time), one committed window after another. Nothing to do when the
    watermark is already there. A window whose answer is short (fewer records than the API's
    total) or holds a bad row raises, leaving raw and the watermark where the previous window
    left them. With `province`, the API is that province's installation, with its own
    watermark."""
    feed = CHANGE_FEEDS[entity_name]
    ent = entity(entity_name)
    mark = watermark(url, entity_name, province)
    start = mark - cadence.overlap if mark else datetime.combine(cadence.history_start, time.min)
    if mark is not None and mark >= until:
        return []
    results = []
    for window in windows(start, until, cadence):
        assert window.changed_from is not None
        query = {
            "changed_from": window.changed_from.strftime(STAMP),
            "changed_to": window.changed_to.strftime(STAMP),
        }
        origin = f"{base_url.rstrip('/')}{feed.path}?" + "&".join(
            f"{k}={v}" for k, v in query.items()
        )
        records = iter_records(
            base_url,
            token,
            feed.path,
            query,
            key=feed.key,
            page_size=page_size,
            client=client,
            backoff_seconds=backoff_seconds,
        )
        parts = record_parts(origin, records, [ent])
        results.append(
            load_changes(
                url,
                source=ent.source,
                origin=origin,
                window=window,
                parts=parts,
                change_field=feed.change_field,
                watermark_entity=entity_name,
                province=province,
            )
        )
    return results


def lookback_months(until: datetime, cadence: Cadence) -> list[date]:
    """The months ended by `until` that a look-back re-pulls: the last one and the
    ``cadence.lookback_months`` before it, oldest first. A month still running is not
    pulled: its catalogue snapshot (its last day) does not exist yet."""
    last = add_months(until.date().replace(day=1), -1)
    return month_range(add_months(last, -cadence.lookback_months), last)


def pull_lookback(
    url: str,
    entity_name: str,
    base_url: str,
    token: str,
    *,
    until: datetime,
    cadence: Cadence,
    client: httpx.Client | None = None,
    backoff_seconds: float = 1.0,
    province: str | None = None,
) -> list[DeliveryResult]:
    """Re-pull the look-back months (:func:`lookback_months`) whole, for an entity whose
    source stamps no change: a month the source revised replaces its earlier pull; an
    unchanged one is recorded as a duplicate and not landed again. With `province`, from
    that province's installation, for its agencies."""
    return [
        pull_month(
            url,
            entity_name,
            m,
            base_url,
            token,
            client=client,
            backoff_seconds=backoff_seconds,
            province=province,
        )
        for m in lookback_months(until, cadence)
    ]
