"""Forgetting a customer on request (GDPR erasure): the store's erasure, then their messages in Slack.

``store.erasure.forget_customer`` erases every linked identity in one transaction and records who
asked and when (``customer.forgotten``, which ``audit verify`` accepts the missing texts under). The
Slack messages that showed the customer are queued with it; ``redact_in_slack`` updates each to a
redacted form (alerts and follow-up suggestions) or re-renders it from the erased store (incidents).
`socialwatch customers forget` runs it at once; the daemon's dispatcher retries what Slack refused,
so an outage delays a redaction but never loses it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from socialwatch.alerts.customer_links import redacted_message
from socialwatch.alerts.outbox import DeliveryError, Poster
from socialwatch.config.schema import Config
from socialwatch.models import parse_time, utcnow
from socialwatch.sla import incidents
from socialwatch.sla.wording import zone_of
from socialwatch.store import audit_log, erasure, incident_log
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

#: Slack's answers that mean the message is not there to redact any more (deleted, archived, left).
GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message", "is_archived", "not_in_channel"})
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


def redact_in_slack(store: Store, config: Config, poster: Poster, now: datetime | None = None) -> Counter[str]:
    """Redact the due Slack messages of forgotten customers; how many ended ``done``, ``gone``, or are
    ``pending`` again. Never raises for Slack's sake: a failure is kept for the next run."""
    now = now or utcnow()
    outcomes: Counter[str] = Counter()
    by_erasure: dict[int, Counter[str]] = {}
    for row in erasure.due_redactions(store, now):
        status, error, retry = "done", None, None
        try:
            text, blocks = _message(store, config, row, now)
            poster.update(row["channel"], row["ts"], text, blocks=blocks)
        except DeliveryError as exc:
            if exc.code in GONE:
                status, error = "gone", str(exc)
            else:
                delay = timedelta(seconds=exc.retry_after) if exc.retry_after else _backoff(int(row["attempts"]))
                status, error, retry = "pending", str(exc), now + delay
        except Exception as exc:  # a bug must not stop the other redactions
            log.exception("could not redact Slack message %s in %s", row["ts"], row["channel"])
            status, error, retry = "pending", f"{type(exc).__name__}: {exc}", now + _backoff(int(row["attempts"]))
        if not erasure.redaction_outcome(store, int(row["id"]), status=status, error=error, retry_at=retry):
            continue
        outcomes[status] += 1
        by_erasure.setdefault(int(row["erasure_id"]), Counter())[status] += 1
    for erasure_id, counts in by_erasure.items():
        if counts["done"] or counts["gone"]:
            audit_log.append_audit(
                store,
                "customer.redacted_in_slack",
                details={"erasure": erasure_id, "redacted": counts["done"], "gone": counts["gone"]},
                now=now,
            )
    if outcomes["pending"]:
        log.warning("%d Slack messages of forgotten customers not redacted yet; retrying", outcomes["pending"])
    return outcomes


def _backoff(attempts: int) -> timedelta:
    delay: timedelta = RETRY_FIRST * (2 ** min(attempts, 12))
    return min(delay, RETRY_MAX)


def _message(store: Store, config: Config, row: dict[str, Any], now: datetime) -> tuple[str, list[dict[str, Any]]]:
    if row["what"] != "incident":
        return redacted_message(row["requested_at"])
    incident = incident_log.incident(store, int(row["incident_id"]))
    if incident is None:
        return redacted_message(row["requested_at"])
    cfg = config.incidents
    closed = parse_time(incident.get("closed_at"))
    # The incident as it stands, its forgotten members without text or name.
    return incidents.render(
        incident,
        incident_log.incident_items(store, int(incident["id"]), limit=cfg.list_size),
        now=closed or now,
        zone=zone_of(config),
        list_size=cfg.list_size,
        quiet_minutes=cfg.quiet_minutes,
        closed=closed is not None,
        summary=incident_log.incident_summary(store, int(incident["id"])),
    )
