"""Alert delivery: drain the alert outbox into a channel (Slack, or the console), with retries.

An alert row leaves the outbox only once the channel confirmed it; a failure schedules
the next attempt with exponential backoff (or the channel's own Retry-After). The
outbox lives in the database, so alerts survive restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from socialwatch.models import utcnow
from socialwatch.ops import metrics
from socialwatch.store import alert_outbox
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class Delivered:
    channel: str
    ts: str | None = None
    thread_ts: str | None = None


class DeliveryError(Exception):
    """A channel could not take a message. ``retry_after``: the channel's own wait (a 429), else None;
    ``code``: the channel's error code when it answered (Slack's ``error``), else None (unreachable)."""

    def __init__(self, message: str, retry_after: float | None = None, code: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


class AlertChannel(Protocol):
    def deliver(self, alert: dict[str, Any]) -> Delivered:
        """Post one alert (an items row plus outbox fields); raise DeliveryError to retry later."""
        ...


class Poster(Protocol):
    """What the response-time jobs need from Slack; ``alerts.slack.SlackPoster`` implements it with slack_sdk."""

    def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Post a message (in a thread when ``thread_ts``); returns its ts."""
        ...

    def update(self, channel: str, ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None: ...

    def upload(
        self, channel: str, files: list[tuple[str, bytes]], *, comment: str, thread_ts: str | None = None
    ) -> None:
        """Upload files (``files_upload_v2``) with one comment."""
        ...


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 1.0))
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def dispatch_alerts(
    store: Store,
    channel: AlertChannel,
    *,
    now: datetime | None = None,
    limit: int = 50,
    due: list[dict[str, Any]] | None = None,
) -> int:
    """Deliver what is due (``due``: ``store.due_alerts`` already read by the caller); returns how many were
    delivered. Stops at the first failure so a rate-limited channel is not hammered, and order is kept."""
    delivered = 0
    for alert in alert_outbox.due_alerts(store, now or utcnow(), limit=limit) if due is None else due:
        alert_outbox.mark_alert_attempt(store, alert["outbox_id"])
        try:
            result = channel.deliver(alert)
        except DeliveryError as exc:
            when = (now or utcnow()) + backoff(alert["attempts"], exc.retry_after)
            alert_outbox.mark_alert_retry(store, alert["outbox_id"], error=str(exc), next_attempt_at=when)
            log.warning(
                "alert for %s:%s not delivered (%s); next attempt at %s",
                alert["platform"],
                alert["native_id"],
                exc,
                when.isoformat(),
            )
            break
        alert_outbox.mark_alert_posted(
            store, alert["outbox_id"], channel=result.channel, ts=result.ts, thread_ts=result.thread_ts
        )
        metrics.alert(str(alert.get("priority")))
        delivered += 1
    return delivered
