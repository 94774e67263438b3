"""Health: what `socialwatch status` reports and what the daemon announces when a source goes quiet.

A source is unhealthy when its credentials failed, its API access was lost, or it has not
had a successful poll for longer than ``[daemon] silent_after_minutes``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from socialwatch.models import parse_time
from socialwatch.store import alert_outbox, inbox, streams
from socialwatch.store.db import Store


@dataclass(frozen=True)
class SourceHealth:
    source: str
    state: str
    healthy: bool
    detail: str | None
    last_success_at: str | None
    last_error_at: str | None
    last_error: str | None
    rate_limit_remaining: int | None
    rate_limit_reset_at: str | None
    paused_until: str | None
    cursor_age_seconds: float | None
    silent: bool


@dataclass(frozen=True)
class Health:
    sources: list[SourceHealth]
    outbox: dict[str, int]
    open_items: int
    sla_breaches: int

    @property
    def unhealthy(self) -> list[str]:
        return [s.source for s in self.sources if not s.healthy]

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": [asdict(s) for s in self.sources],
            "outbox": self.outbox,
            "open_items": self.open_items,
            "sla_breaches": self.sla_breaches,
            "unhealthy": self.unhealthy,
        }


def _age(value: str | None, now: datetime) -> float | None:
    when = parse_time(value) if value else None
    return None if when is None else max(0.0, (now - when).total_seconds())


def assess(store: Store, now: datetime, silent_after: timedelta) -> Health:
    sources = []
    for row in streams.sources(store):
        since_success = _age(row["last_success_at"], now)
        silent = since_success is None or since_success > silent_after.total_seconds()
        # A rate-limited source is resting on purpose, not silent.
        silent = silent and row["state"] != "rate_limited"
        state = "silent" if silent and row["healthy"] else row["state"]
        sources.append(
            SourceHealth(
                source=row["source"],
                state=state,
                healthy=bool(row["healthy"]) and not silent,
                detail=row["detail"],
                last_success_at=row["last_success_at"],
                last_error_at=row["last_error_at"],
                last_error=row["last_error"],
                rate_limit_remaining=row["rate_limit_remaining"],
                rate_limit_reset_at=row["rate_limit_reset_at"],
                paused_until=row["paused_until"],
                cursor_age_seconds=_age(row["cursor_updated_at"], now),
                silent=silent,
            )
        )
    counts = inbox.open_counts(store, now)
    return Health(sources, alert_outbox.outbox_depths(store), counts["open"], counts["breached"])


def render(health: Health) -> str:
    lines = []
    for s in health.sources:
        mark = "OK " if s.healthy else "BAD"
        age = f"{s.cursor_age_seconds / 60:.0f} min" if s.cursor_age_seconds is not None else "-"
        rate = f", {s.rate_limit_remaining} requests left" if s.rate_limit_remaining is not None else ""
        lines.append(
            f"{mark} {s.source:<32} {s.state:<13} last success {s.last_success_at or 'never'}, "
            f"cursor moved {age} ago{rate}" + (f"\n      {s.detail}" if s.detail and not s.healthy else "")
        )
    if not health.sources:
        lines.append("no source has been polled yet")
    lines.append(
        f"outbox: {health.outbox['alerts']} alerts, {health.outbox['replies']} replies pending; "
        f"{health.open_items} items waiting for a reply, {health.sla_breaches} past their SLA"
    )
    if health.outbox.get("replies_need_check"):
        lines.append(f"{health.outbox['replies_need_check']} replies need a manual check (see their alerts in Slack)")
    return "\n".join(lines)
