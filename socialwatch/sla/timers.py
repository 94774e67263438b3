"""Reminders and escalations: one reminder at ``reminder_at`` of the SLA and one escalation at the breach,
in the alert's thread (once per incident for grouped alerts).

Every ping is claimed in the database before Slack is called and given back if Slack fails, so a
restart (or two overlapping runs) never pings twice and a failed ping is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.alerts.cards import escape, item_key, link
from socialwatch.alerts.outbox import Poster
from socialwatch.config.schema import Config
from socialwatch.models import iso, parse_time
from socialwatch.scoring.hours import remind_at
from socialwatch.sla.wording import describe_due, short_duration, zone_of
from socialwatch.store import audit_log, incident_log, sla_state
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

METADATA_TYPE = "socialwatch_sla"


def _mention(group: str | None) -> str:
    return f"<!subteam^{group}> " if group else ""


@dataclass(frozen=True)
class TimerEvent:
    """One ping decided by a job: ``event`` is reminder, escalation or followup; ``ts`` None when the
    event was recorded without a message (a breach too old to announce)."""

    event: str
    item_key: str | None
    incident_id: int | None
    channel: str | None
    thread_ts: str | None
    ts: str | None
    due_at: datetime | None


class PostFailed(Exception):
    """Slack refused or was unreachable: stop this run (like the alert dispatcher), retry next time."""


def check_timers(store: Store, config: Config, poster: Poster, now: datetime) -> list[TimerEvent]:
    """Reminders at ``reminder_at`` of the SLA and escalations at the breach, once each, for every
    item waiting for a reply whose alert is in Slack; items grouped into an incident are pinged once
    per incident, in its thread. Stops at the first Slack failure; the next run resumes."""
    events: list[TimerEvent] = []
    grouped: dict[int, list[dict[str, Any]]] = {}
    try:
        for row in sla_state.open_timers(store):
            if row["alert_status"] == "grouped":
                grouped.setdefault(int(row["incident_id"]), []).append(row)
                continue
            event = _item_timer(store, config, poster, row, now)
            if event is not None:
                events.append(event)
        for incident_id, members in grouped.items():
            event = _incident_timer(store, config, poster, incident_id, members, now)
            if event is not None:
                events.append(event)
    except PostFailed:
        pass
    return events


def _item_timer(store: Store, config: Config, poster: Poster, row: dict[str, Any], now: datetime) -> TimerEvent | None:
    sla, zone = config.sla, zone_of(config)
    due = parse_time(row["sla_due_at"])
    assert due is not None
    key = item_key(row)
    channel, thread = row["slack_channel"], row["thread_ts"] or row["slack_ts"]
    minutes = sla.minutes(row["priority"], row["platform"], row["kind"])
    facts = {
        "due_at": iso(due),
        "priority": row["priority"],
        "category": row["category"],
        "channel": channel,
        "thread_ts": thread,
        "target_minutes": minutes,
    }
    if now >= due:
        if not sla.escalate or not sla_state.claim(store, row["id"], "escalation", now):
            return None
        if now - due > timedelta(hours=sla.stale_after_hours):
            # Pinging about a breach from long ago (an upgrade, a long outage) helps nobody: record it only.
            sla_state.complete(
                store,
                row["id"],
                "escalation",
                ts=None,
                action="sla.escalated",
                item_key=key,
                details={**facts, "announced": False, "reason": "breach older than stale_after_hours"},
                now=now,
                silent=True,
            )
            return TimerEvent("escalation", key, None, channel, thread, None, due)
        group = sla.escalation_group or sla.oncall_group
        text = (
            f":rotating_light: {_mention(group)}SLA breached: the first reply {describe_due(due, now, zone)}. "
            f"{row['priority'].capitalize()} priority, {row['category']}, target "
            f"{short_duration(timedelta(minutes=minutes or 0))}. Please answer or dismiss it."
        )
        ts = post_claimed(
            poster,
            channel,
            text,
            thread,
            {"item_key": key, "event": "escalation"},
            lambda: sla_state.release(store, row["id"], "escalation"),
            f"SLA escalation for {key}",
        )
        if sla.escalation_channel:
            _announce_breach(poster, sla.escalation_channel, row, channel, due, now, zone)
        sla_state.complete(
            store,
            row["id"],
            "escalation",
            ts=ts,
            action="sla.escalated",
            item_key=key,
            details={**facts, "announced": True, "mentioned": group},
            now=now,
        )
        return TimerEvent("escalation", key, None, channel, thread, ts, due)
    remind = remind_at(parse_time(row["created_at"]) or now, row["priority"], row["platform"], row["kind"], sla)
    if remind is None or now < remind or row["reminded_at"] or not sla_state.claim(store, row["id"], "reminder", now):
        return None
    share = round(sla.reminder_at * 100)
    text = (
        f":hourglass_flowing_sand: {_mention(sla.oncall_group)}Reminder: {share}% of the reply time has gone; "
        f"the first reply is {describe_due(due, now, zone)}. {row['priority'].capitalize()} priority, "
        f"{row['category']}."
    )
    ts = post_claimed(
        poster,
        channel,
        text,
        thread,
        {"item_key": key, "event": "reminder"},
        lambda: sla_state.release(store, row["id"], "reminder"),
        f"SLA reminder for {key}",
    )
    sla_state.complete(
        store,
        row["id"],
        "reminder",
        ts=ts,
        action="sla.reminder",
        item_key=key,
        details={**facts, "mentioned": sla.oncall_group},
        now=now,
    )
    return TimerEvent("reminder", key, None, channel, thread, ts, due)


def post_claimed(
    poster: Poster,
    channel: str,
    text: str,
    thread: str | None,
    payload: dict[str, Any],
    release: Callable[[], None],
    what: str,
    blocks: list[dict[str, Any]] | None = None,
) -> str:
    """Post a ping whose claim is already committed; if Slack fails, give the claim back (``release``) so the
    next run tries again, and raise PostFailed."""
    try:
        return poster.post(
            channel,
            text,
            blocks=blocks,
            thread_ts=thread,
            metadata={"event_type": METADATA_TYPE, "event_payload": payload},
        )
    except Exception as exc:  # slack_sdk errors, network
        release()
        log.warning("%s not posted (%s); will retry", what, exc)
        raise PostFailed from exc


def _announce_breach(
    poster: Poster, channel: str, row: dict[str, Any], alert_channel: str, due: datetime, now: datetime, zone: ZoneInfo
) -> None:
    who = f" from @{escape(row['author_handle'])}" if row.get("author_handle") else ""
    post = f" {link(row['url'], 'post')}" if row.get("url") and row["kind"] != "dm" else ""
    text = (
        f":rotating_light: SLA breached: {row['priority']} {row['category']} {row['kind']} on "
        f"{row['platform']}{who}, {describe_due(due, now, zone)}. Alert in <#{alert_channel}>.{post}"
    )
    try:
        poster.post(channel, text)
    except Exception as exc:  # the thread ping went out; the extra channel is best effort
        log.warning("breach of %s not announced in %s: %s", item_key(row), channel, exc)


def _incident_timer(
    store: Store, config: Config, poster: Poster, incident_id: int, members: list[dict[str, Any]], now: datetime
) -> TimerEvent | None:
    """One reminder and one escalation per incident, from its earliest due item: a burst of 200
    complaints must not become 200 pings."""
    sla, zone = config.sla, zone_of(config)
    first = min(members, key=lambda r: r["sla_due_at"])
    due = parse_time(first["sla_due_at"])
    assert due is not None
    channel, thread = first["incident_channel"], first["incident_ts"]
    waiting = len(members)
    overdue = sum(1 for r in members if (parse_time(r["sla_due_at"]) or now) <= now)
    facts = {
        "incident_id": incident_id,
        "category": first["incident_category"],
        "due_at": iso(due),
        "waiting": waiting,
        "overdue": overdue,
        "channel": channel,
        "thread_ts": thread,
    }
    if now >= due:
        if not sla.escalate or not incident_log.claim_incident(store, incident_id, "escalation", now):
            return None
        if now - due > timedelta(hours=sla.stale_after_hours):
            audit_log.append_audit(store, "sla.escalated", details={**facts, "announced": False}, now=now)
            return TimerEvent("escalation", None, incident_id, channel, thread, None, due)
        group = sla.escalation_group or sla.oncall_group
        text = (
            f":rotating_light: {_mention(group)}SLA breached in this incident: {overdue} of {waiting} waiting "
            f"items are past their reply time (the first {describe_due(due, now, zone)})."
        )
        ts = post_claimed(
            poster,
            channel,
            text,
            thread,
            {"incident_id": incident_id, "event": "escalation"},
            lambda: incident_log.release_incident(store, incident_id, "escalation"),
            f"SLA escalation for incident {incident_id}",
        )
        audit_log.append_audit(store, "sla.escalated", details={**facts, "announced": True, "ts": ts}, now=now)
        return TimerEvent("escalation", None, incident_id, channel, thread, ts, due)
    remind = remind_at(parse_time(first["created_at"]) or now, first["priority"], first["platform"], first["kind"], sla)
    if (
        remind is None
        or now < remind
        or first["incident_reminded_at"]
        or not incident_log.claim_incident(store, incident_id, "reminder", now)
    ):
        return None
    text = (
        f":hourglass_flowing_sand: {_mention(sla.oncall_group)}Reminder: {waiting} items of this incident wait "
        f"for a reply; the first is {describe_due(due, now, zone)}."
    )
    ts = post_claimed(
        poster,
        channel,
        text,
        thread,
        {"incident_id": incident_id, "event": "reminder"},
        lambda: incident_log.release_incident(store, incident_id, "reminder"),
        f"SLA reminder for incident {incident_id}",
    )
    audit_log.append_audit(store, "sla.reminder", details={**facts, "ts": ts}, now=now)
    return TimerEvent("reminder", None, incident_id, channel, thread, ts, due)
