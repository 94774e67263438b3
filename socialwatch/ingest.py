"""One poll of one source: fetch pages, assess them, store each page with its cursor.

Each page is committed in one transaction together with the cursor it carries, so a
crash at any point leaves the database at a page boundary: re-polling fetches again
what was not committed, and the unique key drops what was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from socialwatch.models import Assessment, Item, Processed, Reject, has_lone_surrogates, repair_item, utcnow
from socialwatch.ops import crashpoints
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sources.base import Page, RateLimit, Source
from socialwatch.store import author_history, inbox, reply_outbox, streams
from socialwatch.store.db import Store

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    source: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    alerts: int = 0
    rejected: int = 0
    pages: int = 0
    first_poll: bool = False
    rate_limit: RateLimit | None = None
    new_item_ids: list[int] = field(default_factory=list)


def poll(
    source: Source,
    store: Store,
    pipeline: Pipeline,
    *,
    backfill: timedelta,
    now: datetime | None = None,
    alerts: bool = True,
) -> PollResult:
    """Fetch everything new from ``source`` and store it. Raises the source's errors after
    committing whatever complete pages came before the failure."""
    now = now or utcnow()
    cursor = streams.cursor(store, source.key)
    result = PollResult(source.key, first_poll=cursor is None)
    since = now - backfill
    for page in source.fetch(cursor, since=since):
        _make_storable(source, page)
        _drop_our_replies(store, source, page)
        histories = author_history.histories(store, [item.author_key for item in page.items])
        processed = []
        for item, assessment in pipeline.assess_batch(page.items, histories):
            processed.append(
                Processed(
                    item=item,
                    assessment=assessment,
                    alert=alerts and assessment.needs_attention and _worth_alerting(result.first_poll, assessment, now),
                    source=source.key,
                )
            )
        try:
            stored = inbox.ingest(store, source.key, processed, page.cursor, rejects=page.rejects, now=now)
        except UnicodeEncodeError:
            # Text the repair did not foresee: the page rolled back. Store it item by item, what still fails
            # goes to rejects, and the cursor moves with the last write, so one bad text cannot block a stream.
            stored = _ingest_one_by_one(store, source.key, processed, page, now)
        crashpoints.hit(f"ingest.page_committed.{source.stream}")
        crashpoints.hit(f"ingest.page_committed.{source.platform}.{source.stream}")  # streams share names
        result.pages += 1
        result.fetched += len(page.items)
        result.new += stored.new
        result.duplicates += stored.duplicates
        result.alerts += stored.alerts
        result.rejected += len(page.rejects)
        result.new_item_ids.extend(stored.new_item_ids)
        if page.rate_limit is not None:
            result.rate_limit = page.rate_limit
    if result.new or result.rejected:
        log.info(
            "%s: %d new, %d already stored, %d alerts, %d rejected, %d pages",
            source.key,
            result.new,
            result.duplicates,
            result.alerts,
            result.rejected,
            result.pages,
        )
    return result


def _make_storable(source: Source, page: Page) -> None:
    """Lone surrogates (legal JSON, impossible UTF-8) repaired to U+FFFD in texts and names; an item whose
    *id* carries one cannot be matched again, so it is kept aside in ``rejects``, the stream goes on."""
    items: list[Item] = []
    for item in page.items:
        if has_lone_surrogates(item.native_id) or has_lone_surrogates(item.author.id):
            page.rejects.append(Reject("id with a lone surrogate (invalid UTF-8)", _escaped_json(item.raw)))
            continue
        fixed = repair_item(item)
        if fixed.repaired:
            log.warning(
                "%s: %s stored with U+FFFD for lone surrogates in %s (raw payload kept escaped)",
                source.key,
                item.key,
                ", ".join(fixed.repaired),
            )
        items.append(fixed)
    page.items = items


def _escaped_json(raw: dict[str, object]) -> str:
    return json.dumps(raw, default=str)  # ensure_ascii: a surrogate is written "\\ud83d", faithfully


def _ingest_one_by_one(
    store: Store, source_key: str, processed: list[Processed], page: Page, now: datetime
) -> inbox.IngestResult:
    new_ids: list[int] = []
    duplicates = alerts = 0
    rejects = list(page.rejects)
    for entry in processed:
        try:
            one = inbox.ingest(store, source_key, [entry], None, now=now)
        except UnicodeEncodeError as exc:
            log.error("%s: %s kept in rejects: %s", source_key, entry.item.key, exc)
            rejects.append(Reject(f"not storable: {exc}", _escaped_json(entry.item.raw)))
            continue
        new_ids.extend(one.new_item_ids)
        duplicates += one.duplicates
        alerts += one.alerts
    inbox.ingest(store, source_key, [], page.cursor, rejects=rejects, now=now)
    page.rejects = rejects
    return inbox.IngestResult(len(new_ids), duplicates, alerts, tuple(new_ids))


def _drop_our_replies(store: Store, source: Source, page: Page) -> None:
    """A reply we posted, read back from the platform, is our own words even when the platform does not say
    who wrote it (Graph withholds ``from``): never a customer's item."""
    ours = reply_outbox.posted_reply_ids(store, source.platform, [item.native_id for item in page.items])
    if ours:
        log.debug("%s: %d of our own replies read back, skipped", source.key, len(ours))
        page.items = [item for item in page.items if item.native_id not in ours]


def _worth_alerting(first_poll: bool, assessment: Assessment, now: datetime) -> bool:
    """The first poll backfills history: store it all, but alert only what can still be answered in time."""
    if not first_poll:
        return True
    due = assessment.sla_due_at
    return due is not None and due > now
