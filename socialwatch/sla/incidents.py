"""Incident grouping: a burst of negative items in one category becomes one alert.

The dispatcher calls ``group`` before delivering alerts. When ``[incidents] threshold`` items with
a counted label in one category arrive within ``window_minutes``, their pending alerts are held
back (``alert_outbox.status = 'grouped'``) and one incident alert is posted that counts and lists
them; it is edited (``chat.update``, at most every ``update_seconds``) as more arrive, and closes
after ``quiet_minutes`` without a new item. Alerts posted before the burst was recognised stay
where they are and are counted. Audited: ``incident.opened``, ``incident.updated``, ``incident.closed``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.alerts.cards import escape, link
from socialwatch.alerts.outbox import Poster
from socialwatch.config.schema import Config
from socialwatch.models import parse_time
from socialwatch.scoring import pii
from socialwatch.sla.wording import local_time, zone_of
from socialwatch.store import incident_log
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

METADATA_TYPE = "socialwatch_incident"
SECTION_LIMIT = 2900  # Slack refuses section texts over 3000 characters


@dataclass(frozen=True)
class GroupResult:
    opened: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    closed: tuple[int, ...] = ()
    held_back: int = 0  # pending alerts grouped (not to be delivered individually) by this run


def group(store: Store, config: Config, poster: Poster, now: datetime) -> GroupResult:
    """Recognise bursts, hold their alerts back, and post, update or close the incident alerts."""
    cfg = config.incidents
    if not cfg.enabled:
        return GroupResult()
    window = timedelta(minutes=cfg.window_minutes)
    open_now = {row["category"]: row for row in incident_log.open_incidents(store)}
    # An open incident takes every matching alert since its newest one (earlier runs attached the rest;
    # reading from its start would rescan an all-day incident on every dispatch); a new one needs the
    # burst in the window.
    since = min(
        [now - window]
        + [(parse_time(r["last_received_at"] or r["opened_at"]) or now) - window for r in open_now.values()]
    )
    by_category: dict[str, list[dict[str, Any]]] = {}
    for row in incident_log.burst_candidates(store, since, cfg.labels):
        if cfg.categories and row["category"] not in cfg.categories:
            continue
        by_category.setdefault(row["category"], []).append(row)
    opened: list[int] = []
    held = 0
    changed = False
    for category, rows in by_category.items():
        incident = open_now.get(category)
        if incident is not None:
            incident_log.attach(store, int(incident["id"]), [r["outbox_id"] for r in rows])
        else:
            recent = [r for r in rows if (parse_time(r["received_at"]) or now) >= now - window]
            if len(recent) < cfg.threshold:
                continue
            opened.append(incident_log.open_incident(store, category, [r["outbox_id"] for r in recent], now=now))
            rows = recent
        changed = True
        held += sum(1 for r in rows if r["alert_status"] == "pending")
    # Read again only when this run attached or opened something (the counts over an all-day incident
    # are the dearest query of a dispatch run).
    incidents = incident_log.open_incidents(store) if changed else list(open_now.values())
    updated, closed = _publish(store, config, poster, now, incidents)
    return GroupResult(tuple(opened), tuple(updated), tuple(closed), held)


def _publish(
    store: Store, config: Config, poster: Poster, now: datetime, incidents: list[dict[str, Any]]
) -> tuple[list[int], list[int]]:
    cfg = config.incidents
    default_channel = cfg.channel or (config.slack.channel if config.slack else "console")
    zone = zone_of(config)
    updated: list[int] = []
    closed: list[int] = []
    for incident in incidents:
        incident_id, count = int(incident["id"]), int(incident["item_count"])
        last = parse_time(incident["last_received_at"]) or now
        ending = now - last >= timedelta(minutes=cfg.quiet_minutes)
        last_update = parse_time(incident["last_update_at"])
        if (
            incident["ts"] is not None
            and not ending
            and (
                count == incident["shown_count"]
                or (last_update is not None and (now - last_update).total_seconds() < cfg.update_seconds)
            )
        ):
            continue
        items = incident_log.incident_items(store, incident_id, limit=cfg.list_size)
        summary = incident_log.incident_summary(store, incident_id)
        text, blocks = render(
            incident,
            items,
            now=now,
            zone=zone,
            list_size=cfg.list_size,
            quiet_minutes=cfg.quiet_minutes,
            closed=ending,
            summary=summary,
        )
        channel = incident["channel"] or default_channel
        details = {
            "category": incident["category"],
            "count": count,
            "channel": channel,
            "held_back": summary["count"] - summary["posted"],
        }
        try:
            if incident["ts"] is None:
                ts: str | None = poster.post(
                    channel,
                    text,
                    blocks=blocks,
                    metadata={"event_type": METADATA_TYPE, "event_payload": {"incident_id": incident_id}},
                )
                action = "incident.opened"
            else:
                ts = None
                poster.update(channel, incident["ts"], text, blocks=blocks)
                action = "incident.updated"
        except Exception as exc:  # slack_sdk or network: the alerts stay held, the next run tries again
            log.warning(
                "incident %s alert not %s (%s); will retry",
                incident_id,
                "posted" if incident["ts"] is None else "updated",
                exc,
            )
            break
        if ending:
            incident_log.record_incident_post(
                store,
                incident_id,
                channel=channel,
                ts=ts,
                shown=count,
                action=action,
                details={**details, "ts": ts or incident["ts"]},
                now=now,
            )
            incident_log.record_incident_post(
                store,
                incident_id,
                channel=channel,
                ts=None,
                shown=count,
                action="incident.closed",
                details=details,
                now=now,
                close=True,
            )
            closed.append(incident_id)
        else:
            incident_log.record_incident_post(
                store,
                incident_id,
                channel=channel,
                ts=ts,
                shown=count,
                action=action,
                details={**details, "ts": ts or incident["ts"]},
                now=now,
            )
            if action == "incident.updated":
                updated.append(incident_id)
    return updated, closed


def _line(item: dict[str, Any]) -> str:
    who = f"@{item['author_handle']}" if item.get("author_handle") else (item.get("author_name") or "someone")
    who = escape(who)
    if item.get("url") and item["kind"] != "dm":
        who = link(item["url"], who)
    text = " ".join(pii.mask(item.get("text") or "").split())
    text = text if len(text) <= 140 else text[:139] + "…"
    return f"• {who} ({item['platform']} {item['kind']}): “{escape(text)}”"


def render(
    incident: dict[str, Any],
    items: list[dict[str, Any]],
    *,
    now: datetime,
    zone: ZoneInfo,
    list_size: int,
    quiet_minutes: float,
    closed: bool = False,
    summary: dict[str, Any] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The incident alert: fallback text and Block Kit blocks (pure). ``items`` are the ones to list;
    ``summary`` (``sla_store.incident_summary``) gives the totals, else they are counted from ``items``."""
    if summary is None:
        summary = {
            "count": len(items),
            "first": items[0]["received_at"] if items else None,
            "last": items[-1]["received_at"] if items else None,
            "posted": sum(1 for i in items if i["alert_status"] == "posted"),
            "platforms": Counter(i["platform"] for i in items),
        }
    count = int(summary["count"])
    category = str(incident["category"]).replace("_", " ")
    first = parse_time(summary["first"]) if summary["first"] else now
    last = parse_time(summary["last"]) if summary["last"] else now
    assert first is not None and last is not None
    platforms = Counter(summary["platforms"])
    spread = ", ".join(f"{name} ({n})" for name, n in platforms.most_common())
    posted = int(summary["posted"])
    held = count - posted
    if closed:
        title = f":white_check_mark: Incident closed: {category}, {count} negative items"
        text = (
            f"Incident closed: {count} negative {category} items between {local_time(first, zone, now)} and "
            f"{local_time(last, zone, now)}"
        )
    else:
        title = f":rotating_light: Possible incident: {category}, {count} negative items"
        text = f"Possible incident: {count} negative {category} items since {local_time(first, zone, now)}"
    body = (
        f"*{count}* negative items about *{category}* from {local_time(first, zone, now)} to "
        f"{local_time(last, zone, now)} on {spread}. {held} individual alerts are held back"
        + (f" ({posted} were posted before the burst was recognised)" if posted else "")
        + "; every item still needs its reply."
    )
    lines: list[str] = []
    size = 0
    for item in items[:list_size]:
        line = _line(item)
        if size + len(line) > SECTION_LIMIT:
            break
        lines.append(line)
        size += len(line) + 1
    if count > len(lines):
        lines.append(f"…and {count - len(lines)} more")
    status = (
        f"Closed {local_time(now, zone, now)} after {quiet_minutes:g} min without a new item."
        if closed
        else f"Updated {local_time(now, zone, now)} · closes after {quiet_minutes:g} min without a new item."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": status}]})
    return text, blocks
