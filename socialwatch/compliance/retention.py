"""Retention: personal data is purged after a configured age, and the audit chain stays whole.

Texts, names and links (items, replies, authors, the audit log's side table) and raw
platform payloads go; scores, categories, decisions, times and the audit entries with
their hashes stay. ``daily_job`` is what the daemon schedules once a day: it applies
``[retention]`` and writes the audit head to the log, so that the head reaches the
journal (an anchor outside the database for ``audit verify --anchor``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from socialwatch import audit
from socialwatch.config.schema import RetentionConfig
from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log, erasure
from socialwatch.store.db import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    texts: bool
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def render(self) -> str:
        what = "texts, names and raw payloads" if self.texts else "raw payloads"
        parts = ", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in self.counts.items())
        return f"purged {what} older than {iso(self.cutoff)} ({parts})"


def purge(
    store: Store,
    older_than_days: float,
    *,
    texts: bool = True,
    now: datetime | None = None,
    actor_id: str = audit.SYSTEM,
    actor_name: str = audit.SYSTEM,
) -> PurgeReport:
    """Purge what is older than ``older_than_days``: texts and raw payloads, or raw payloads only."""
    if older_than_days <= 0:
        raise ValueError("older_than_days must be positive; 0 would purge everything up to now")
    now = now or utcnow()
    cutoff = now - timedelta(days=older_than_days)
    counts = erasure.purge_personal_data(
        store, cutoff, texts=texts, raw=True, now=now, actor_id=actor_id, actor_name=actor_name
    )
    report = PurgeReport(cutoff, texts, counts)
    if report.total:
        log.info("retention: %s", report.render())
    return report


def apply_config(store: Store, config: RetentionConfig, *, now: datetime | None = None) -> list[PurgeReport]:
    """Apply ``[retention]``: the longer-lived raw payloads first, then texts (which take raw along)."""
    now = now or utcnow()
    reports: list[PurgeReport] = []
    if config.purge_raw_after_days > 0:
        reports.append(purge(store, config.purge_raw_after_days, texts=False, now=now))
    if config.purge_texts_after_days > 0:
        reports.append(purge(store, config.purge_texts_after_days, texts=True, now=now))
    return reports


def daily_job(store: Store, config: RetentionConfig, clock: Callable[[], datetime] = utcnow) -> None:
    """The daemon's daily compliance job; never raises (a scheduled job must not kill the scheduler)."""
    try:
        apply_config(store, config, now=clock())
    except Exception:
        log.exception("retention purge failed; it will be tried again tomorrow")
    try:
        head = audit_log.audit_head(store)
        if head is not None:
            # Journald keeps this line outside the database: a later `audit verify --anchor` proves
            # that nobody with write access to the database rewrote the log up to here.
            log.info("audit head %s (ts %s)", head.render(), head.ts or "-")
    except Exception:
        log.exception("could not read the audit head")
