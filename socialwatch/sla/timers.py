"""Response times (issue 9): SLA due times in business hours, one reminder and one escalation in
the alert's thread, automatic acknowledgements of private messages, reopening, follow-ups.

The time arithmetic (``Hours``, ``due_at``, ``remind_at``) is pure. The jobs at the end take the
store, the config, a ``Poster`` and ``now``; every ping is claimed in the database before Slack
is called, so a restart (or two overlapping runs) never pings twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from socialwatch import audit
from socialwatch.alerts.cards import escape, item_key, link

from socialwatch.config.schema import WEEKDAYS, BusinessHours, Config, SlaConfig
from socialwatch.models import iso, parse_time, to_utc
from socialwatch.store.db import Store
from socialwatch.store import incident_log
from socialwatch.store import sla_state
from socialwatch.store import audit_log
from socialwatch.store import inbox
from socialwatch.store import reply_outbox

log = logging.getLogger(__name__)

#: How far ahead business-hours arithmetic looks before giving up (a config with no open day at all).
MAX_DAYS = 800
METADATA_TYPE = "socialwatch_sla"


class Poster(Protocol):
    """What the response-time jobs need from Slack; ``slack.SlackPoster`` implements it with slack_sdk."""

    def post(self, channel: str, text: str, *, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None, metadata: dict[str, Any] | None = None) -> str:
        """Post a message (in a thread when ``thread_ts``); returns its ts."""
        ...

    def update(self, channel: str, ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        ...

    def upload(self, channel: str, files: list[tuple[str, bytes]], *, comment: str,
               thread_ts: str | None = None) -> None:
        """Upload files (``files_upload_v2``) with one comment."""
        ...


# --- business hours -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hours:
    """Opening hours in a time zone. Arithmetic is done in UTC, so DST changes cost no minutes."""

    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, hours: BusinessHours) -> Hours | None:
        if not hours.enabled:
            return None
        return cls(ZoneInfo(hours.timezone or "UTC"), frozenset(WEEKDAYS.index(d) for d in hours.days),
                   time.fromisoformat(hours.start), time.fromisoformat(hours.end), frozenset(hours.holidays))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening and closing instants (UTC), or None on a closed day."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        return (datetime.combine(day, self.opens, self.zone).astimezone(timezone.utc),
                datetime.combine(day, self.closes, self.zone).astimezone(timezone.utc))

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of open time after ``start`` (``minutes`` 0: the next opening)."""
        remaining = timedelta(minutes=minutes)
        cursor = to_utc(start)
        day = cursor.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None:
                begin, end = max(cursor, window[0]), window[1]
                if begin < end:
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += timedelta(days=1)
        raise ValueError("no open business hours in the next two years; check [sla.business_hours]")

    def is_open(self, at: datetime) -> bool:
        window = self.window(to_utc(at).astimezone(self.zone).date())
        return window is not None and window[0] <= to_utc(at) < window[1]


def hours_for(sla: SlaConfig, priority: str) -> Hours | None:
    """The business hours whose clock applies to ``priority``; None: the clock runs day and night."""
    if not sla.business_hours.enabled or priority not in sla.business_hours.applies_to:
        return None
    return Hours.from_config(sla.business_hours)


def _advance(start: datetime, minutes: float, priority: str, sla: SlaConfig) -> datetime:
    hours = hours_for(sla, priority)
    return to_utc(start) + timedelta(minutes=minutes) if hours is None else hours.add(start, minutes)


def due_at(start: datetime, priority: str, platform: str | None, kind: str | None, sla: SlaConfig) -> datetime | None:
    """When the first reply is due for an item posted at ``start``; None for priorities without an SLA."""
    minutes = sla.minutes(priority, platform, kind)
    return None if minutes is None else _advance(start, minutes, priority, sla)


def remind_at(start: datetime, priority: str, platform: str | None, kind: str | None,
              sla: SlaConfig) -> datetime | None:
    """When the reminder is due (``reminder_at`` of the SLA time, in business time); None when off."""
    minutes = sla.minutes(priority, platform, kind)
    if minutes is None or not sla.reminder_at:
        return None
    return _advance(start, minutes * sla.reminder_at, priority, sla)


# --- wording --------------------------------------------------------------------------------------

def short_duration(delta: timedelta) -> str:
    """'45 min', '2 h 5 min', '3 d 4 h': for managers."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def customer_duration(minutes: float) -> str:
    """'15 minutes', '1 hour', '6 hours', '2 days': for customers (rounded, never to zero)."""
    if minutes < 90:
        value = max(1, round(minutes))
        return "1 hour" if value == 60 else f"{value} minutes"
    if minutes < 48 * 60:
        hours = round(minutes / 30) / 2
        return f"{hours:g} hours"
    return f"{round(minutes / 1440):g} days"


def local_time(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """'14:30' today, 'Mon 09:50' within a week, 'Mon 12 Jan 09:50' further away."""
    local, today = to_utc(at).astimezone(zone), to_utc(now).astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%a %d %b %H:%M")


def describe_due(due: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'due 14:30 (in 12 min)' or 'was due 14:30 (12 min ago)': for the alert and the thread pings."""
    when = local_time(due, zone, now)
    if due >= now:
        return f"due {when} (in {short_duration(due - now)})"
    return f"was due {when} ({short_duration(now - due)} ago)"


def zone_of(config: Config) -> ZoneInfo:
    return ZoneInfo(config.sla.business_hours.timezone or config.daemon.timezone)


def _mention(group: str | None) -> str:
    return f"<!subteam^{group}> " if group else ""


# --- reminders and escalations --------------------------------------------------------------------

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


class _PostFailed(Exception):
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
    except _PostFailed:
        pass
    return events


def _item_timer(store: Store, config: Config, poster: Poster, row: dict[str, Any],
                now: datetime) -> TimerEvent | None:
    sla, zone = config.sla, zone_of(config)
    due = parse_time(row["sla_due_at"])
    assert due is not None
    key = item_key(row)
    channel, thread = row["slack_channel"], row["thread_ts"] or row["slack_ts"]
    minutes = sla.minutes(row["priority"], row["platform"], row["kind"])
    facts = {"due_at": iso(due), "priority": row["priority"], "category": row["category"], "channel": channel,
             "thread_ts": thread, "target_minutes": minutes}
    if now >= due:
        if not sla.escalate or not sla_state.claim(store, row["id"], "escalation", now):
            return None
        if now - due > timedelta(hours=sla.stale_after_hours):
            # Pinging about a breach from long ago (an upgrade, a long outage) helps nobody: record it only.
            sla_state.complete(store, row["id"], "escalation", ts=None, action="sla.escalated", item_key=key,
                        details={**facts, "announced": False, "reason": "breach older than stale_after_hours"},
                        now=now, silent=True)
            return TimerEvent("escalation", key, None, channel, thread, None, due)
        group = sla.escalation_group or sla.oncall_group
        text = (f":rotating_light: {_mention(group)}SLA breached: the first reply {describe_due(due, now, zone)}. "
                f"{row['priority'].capitalize()} priority, {row['category']}, target "
                f"{short_duration(timedelta(minutes=minutes or 0))}. Please answer or dismiss it.")
        ts = _post_claimed(poster, channel, text, thread, {"item_key": key, "event": "escalation"},
                           lambda: sla_state.release(store, row["id"], "escalation"), f"SLA escalation for {key}")
        if sla.escalation_channel:
            _announce_breach(poster, sla.escalation_channel, row, channel, due, now, zone)
        sla_state.complete(store, row["id"], "escalation", ts=ts, action="sla.escalated", item_key=key,
                    details={**facts, "announced": True, "mentioned": group}, now=now)
        return TimerEvent("escalation", key, None, channel, thread, ts, due)
    remind = remind_at(parse_time(row["created_at"]) or now, row["priority"], row["platform"], row["kind"], sla)
    if remind is None or now < remind or row["reminded_at"] or not sla_state.claim(store, row["id"], "reminder", now):
        return None
    share = round(sla.reminder_at * 100)
    text = (f":hourglass_flowing_sand: {_mention(sla.oncall_group)}Reminder: {share}% of the reply time has gone; "
            f"the first reply is {describe_due(due, now, zone)}. {row['priority'].capitalize()} priority, "
            f"{row['category']}.")
    ts = _post_claimed(poster, channel, text, thread, {"item_key": key, "event": "reminder"},
                       lambda: sla_state.release(store, row["id"], "reminder"), f"SLA reminder for {key}")
    sla_state.complete(store, row["id"], "reminder", ts=ts, action="sla.reminder", item_key=key,
                details={**facts, "mentioned": sla.oncall_group}, now=now)
    return TimerEvent("reminder", key, None, channel, thread, ts, due)


def _post_claimed(poster: Poster, channel: str, text: str, thread: str | None, payload: dict[str, Any],
                  release: Callable[[], None], what: str, blocks: list[dict[str, Any]] | None = None) -> str:
    """Post a ping whose claim is already committed; if Slack fails, give the claim back (``release``) so the
    next run tries again, and raise _PostFailed."""
    try:
        return poster.post(channel, text, blocks=blocks, thread_ts=thread,
                           metadata={"event_type": METADATA_TYPE, "event_payload": payload})
    except Exception as exc:  # slack_sdk errors, network
        release()
        log.warning("%s not posted (%s); will retry", what, exc)
        raise _PostFailed from exc


def _announce_breach(poster: Poster, channel: str, row: dict[str, Any], alert_channel: str, due: datetime,
                     now: datetime, zone: ZoneInfo) -> None:
    who = f" from @{escape(row['author_handle'])}" if row.get("author_handle") else ""
    post = f" {link(row['url'], 'post')}" if row.get("url") and row["kind"] != "dm" else ""
    text = (f":rotating_light: SLA breached: {row['priority']} {row['category']} {row['kind']} on "
            f"{row['platform']}{who}, {describe_due(due, now, zone)}. Alert in <#{alert_channel}>.{post}")
    try:
        poster.post(channel, text)
    except Exception as exc:  # the thread ping went out; the extra channel is best effort
        log.warning("breach of %s not announced in %s: %s", item_key(row), channel, exc)


def _incident_timer(store: Store, config: Config, poster: Poster, incident_id: int,
                    members: list[dict[str, Any]], now: datetime) -> TimerEvent | None:
    """One reminder and one escalation per incident, from its earliest due item: a burst of 200
    complaints must not become 200 pings."""
    sla, zone = config.sla, zone_of(config)
    first = min(members, key=lambda r: r["sla_due_at"])
    due = parse_time(first["sla_due_at"])
    assert due is not None
    channel, thread = first["incident_channel"], first["incident_ts"]
    waiting = len(members)
    overdue = sum(1 for r in members if (parse_time(r["sla_due_at"]) or now) <= now)
    facts = {"incident_id": incident_id, "category": first["incident_category"], "due_at": iso(due),
             "waiting": waiting, "overdue": overdue, "channel": channel, "thread_ts": thread}
    if now >= due:
        if not sla.escalate or not incident_log.claim_incident(store, incident_id, "escalation", now):
            return None
        if now - due > timedelta(hours=sla.stale_after_hours):
            audit_log.append_audit(store, "sla.escalated", details={**facts, "announced": False}, now=now)
            return TimerEvent("escalation", None, incident_id, channel, thread, None, due)
        group = sla.escalation_group or sla.oncall_group
        text = (f":rotating_light: {_mention(group)}SLA breached in this incident: {overdue} of {waiting} waiting "
                f"items are past their reply time (the first {describe_due(due, now, zone)}).")
        ts = _post_claimed(poster, channel, text, thread, {"incident_id": incident_id, "event": "escalation"},
                           lambda: incident_log.release_incident(store, incident_id, "escalation"),
                           f"SLA escalation for incident {incident_id}")
        audit_log.append_audit(store, "sla.escalated", details={**facts, "announced": True, "ts": ts}, now=now)
        return TimerEvent("escalation", None, incident_id, channel, thread, ts, due)
    remind = remind_at(parse_time(first["created_at"]) or now, first["priority"], first["platform"], first["kind"], sla)
    if remind is None or now < remind or first["incident_reminded_at"] \
            or not incident_log.claim_incident(store, incident_id, "reminder", now):
        return None
    text = (f":hourglass_flowing_sand: {_mention(sla.oncall_group)}Reminder: {waiting} items of this incident wait "
            f"for a reply; the first is {describe_due(due, now, zone)}.")
    ts = _post_claimed(poster, channel, text, thread, {"incident_id": incident_id, "event": "reminder"},
                       lambda: incident_log.release_incident(store, incident_id, "reminder"),
                       f"SLA reminder for incident {incident_id}")
    audit_log.append_audit(store, "sla.reminder", details={**facts, "ts": ts}, now=now)
    return TimerEvent("reminder", None, incident_id, channel, thread, ts, due)


# --- acknowledgements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AckResult:
    item_key: str
    status: str  # queue_reply's: queued | duplicate | closed
    dedupe_key: str
    text: str


def ack_dedupe_key(row: dict[str, Any], now: datetime, zone: ZoneInfo) -> str:
    """At most one acknowledgement per conversation per (local) day."""
    conversation = row.get("conversation_id") or row["author_id"]
    return f"ack:{row['platform']}:{conversation}:{to_utc(now).astimezone(zone).date().isoformat()}"


def _render(config: Config, template: str, context: dict[str, Any], platform: str, public: bool) -> str:
    from socialwatch.scoring import suggest

    env = suggest.load_templates(config.suggestions.templates_dir).env
    text = " ".join(env.get_template(template).render(context).split())
    return suggest.fit(text, platform, public)


def ack_text(row: dict[str, Any], config: Config, now: datetime) -> str:
    """The acknowledgement for one private message, from ``_ack.j2`` (overridable like the suggestions)."""
    from socialwatch.scoring import suggest

    zone = zone_of(config)
    minutes = config.sla.minutes(row["priority"], row["platform"], row["kind"]) or config.sla.normal
    due = parse_time(row.get("sla_due_at")) or due_at(now, row["priority"], row["platform"], row["kind"], config.sla)
    hours = hours_for(config.sla, row["priority"])
    context = {
        "name": suggest.first_name_of(row.get("author_name"), row.get("author_handle")), "brand": config.suggestions.brand_name, "within": customer_duration(minutes),
        "due": local_time(due, zone, now) if due else "", "open_now": hours is None or hours.is_open(now),
        "signature": config.suggestions.signature, "platform": row["platform"],
        "case_ref": suggest.case_reference(item_key(row), config.suggestions.case_prefix),
    }
    return _render(config, "_ack.j2", context, row["platform"], public=False)


def acknowledge_pending(store: Store, config: Config, now: datetime) -> list[AckResult]:
    """Queue the acknowledgement for new private messages (``[ack] enabled``): through the reply outbox
    (``origin='ack'``), whose dedupe key allows one per conversation per day. Each message is looked
    at once (``sla_state.ack_status``); the sender posts what was queued."""
    if not config.ack.enabled:
        return []
    zone = zone_of(config)
    out: list[AckResult] = []
    for row in sla_state.ack_candidates(store, now - timedelta(minutes=config.ack.max_age_minutes)):
        key = item_key(row)
        text = ack_text(row, config, now)
        dedupe = ack_dedupe_key(row, now, zone)
        result = reply_outbox.queue_reply(store, row["id"], text=text, actor_id=audit.SYSTEM, actor_name="socialwatch",
                                   origin="ack", dedupe_key=dedupe, now=now)
        queued = result.status == "queued"
        sla_state.record_ack(store, row["id"], result.status, now=now, item_key=key, details={
            "dedupe_key": dedupe, "text": text,
            "reply_id": (result.reply or {}).get("id")} if queued else None)
        out.append(AckResult(key, result.status, dedupe, text))
    return out


# --- reopening ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reopen:
    """A new customer message that answers the brand's reply to an alerted item: its alert belongs in
    the parent's thread (``channel``, ``thread_ts``), and the parent counts as reopened."""

    item_id: int
    item_key: str
    parent_id: int
    parent_key: str
    channel: str
    thread_ts: str
    reason: str


def reopen_candidates(store: Store, items: Sequence[Mapping[str, Any]], config: Config | None = None
                      ) -> dict[int, Reopen]:
    """Which of these (new) items (``items`` rows, or due alerts, which carry them) answer one of our
    replies: by ``in_reply_to`` our reply's platform id, or from the same author (same conversation where
    there is one) after our reply, within ``[sla] reopen_window_hours``. Call from the dispatcher before
    delivering their alerts."""
    window = timedelta(hours=(config.sla if config else SlaConfig()).reopen_window_hours)
    found: dict[int, Reopen] = {}
    for item in items:
        created = parse_time(item["created_at"])
        assert created is not None
        parent = sla_state.reopen_parent(store, item, created - window)
        if parent is None:
            continue
        reason = "replies to our answer" if parent["direct"] else "wrote again after our answer"
        found[int(item["id"])] = Reopen(int(item["id"]), item_key(item), int(parent["id"]), parent["item_key"],
                                        parent["slack_channel"], parent["thread_ts"], reason)
    return found


def record_reopen(store: Store, reopen: Reopen, now: datetime) -> bool:
    """The parent is reopened (audited ``alert.reopened``); its pending follow-up suggestion is dropped.
    Once per customer message: False when this message has reopened it already (say nothing again)."""
    return sla_state.record_reopen(store, reopen.parent_id, reopen.item_id, parent_key=reopen.parent_key,
                            child_key=reopen.item_key, reason=reopen.reason, now=now)


def reopen_text(reopen: Reopen) -> str:
    return f":leftwards_arrow_with_hook: The customer {reopen.reason}: this conversation is open again."


# --- follow-ups -----------------------------------------------------------------------------------

FOLLOWUP_SEND, FOLLOWUP_SKIP = "sla_followup_send", "sla_followup_skip"


def followup_text(row: dict[str, Any], config: Config) -> str:
    from socialwatch.scoring import suggest

    public = bool(row["public"]) and row["kind"] != "dm"
    context = {"name": suggest.first_name_of(row.get("author_name"), row.get("author_handle")), "brand": config.suggestions.brand_name,
               "signature": config.suggestions.signature, "public": public, "platform": row["platform"],
               "help_url": config.suggestions.help_url,
               "case_ref": suggest.case_reference(item_key(row), config.suggestions.case_prefix)}
    return _render(config, "_followup.j2", context, row["platform"], public)


def followup_blocks(item_id: int, text: str, intro: str) -> list[dict[str, Any]]:
    """The suggestion with Send / Skip buttons (action ids ``sla_followup_send`` / ``sla_followup_skip``,
    value the item id) for the interactions handler to pass to ``decide_followup``."""
    quoted = "\n".join("> " + line for line in text.splitlines() or [text])
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{intro}\n{quoted}"}},
        {"type": "actions", "block_id": "sla_followup", "elements": [
            {"type": "button", "action_id": FOLLOWUP_SEND, "value": str(item_id), "style": "primary",
             "text": {"type": "plain_text", "text": "Send follow-up"}},
            {"type": "button", "action_id": FOLLOWUP_SKIP, "value": str(item_id),
             "text": {"type": "plain_text", "text": "Skip"}},
        ]},
    ]


def check_followups(store: Store, config: Config, poster: Poster, now: datetime) -> list[TimerEvent]:
    """``[sla] followup_after_hours`` after our reply, with no word from the customer since, suggest a
    'did this solve it?' in the alert's thread for a manager to send or skip. Once per item."""
    after = config.sla.followup_after_hours
    if not after:
        return []
    sent_before = now - timedelta(hours=after)
    events: list[TimerEvent] = []
    for row in sla_state.followup_candidates(store, sent_before, sent_before - timedelta(hours=config.sla.stale_after_hours)):
        if not sla_state.claim(store, row["id"], "followup", now):
            continue
        key, channel, thread = item_key(row), row["slack_channel"], row["alert_thread_ts"]
        text = followup_text(row, config)
        replied = parse_time(row["replied_at"]) or now
        intro = f":speech_balloon: We answered {short_duration(now - replied)} ago and heard nothing since. " \
                "Send a follow-up?"
        try:
            ts = _post_claimed(poster, channel, f"{intro} {text}", thread, {"item_key": key, "event": "followup"},
                               lambda: sla_state.release(store, row["id"], "followup"), f"follow-up suggestion for {key}",
                               blocks=followup_blocks(int(row["id"]), text, intro))
        except _PostFailed:
            break
        sla_state.complete(store, row["id"], "followup", ts=ts, action="sla.followup_suggested", item_key=key,
                    details={"suggested": text, "channel": channel, "thread_ts": thread}, now=now)
        events.append(TimerEvent("followup", key, None, channel, thread, ts, None))
    return events


def decide_followup(store: Store, config: Config, item_id: int, *, send: bool, actor_id: str, actor_name: str,
                    text: str | None = None, now: datetime) -> str:
    """A manager clicked Send or Skip: 'skipped', 'queued' (through the reply outbox, origin
    'followup'), or what queue_reply said ('duplicate', 'closed'); 'decided' when someone was first.
    Checking that the person may send is the caller's job, as for any reply."""
    item = inbox.item(store, item_id)
    if item is None:
        return "closed"
    key = item_key(item)
    suggested = followup_text(item, config)
    final = text or suggested
    decision = "sent" if send else "skipped"
    if not sla_state.record_followup_decision(store, item_id, decision, item_key=key, actor_id=actor_id,
                                       actor_name=actor_name, details={"final": final} if send else {}, now=now):
        return "decided"
    if not send:
        return "skipped"
    result = reply_outbox.queue_reply(store, item_id, text=final, actor_id=actor_id, actor_name=actor_name,
                               suggested_text=suggested, suggestion_kind="followup", origin="followup",
                               dedupe_key=f"followup:{key}", now=now)
    return result.status


# --- the one job --------------------------------------------------------------------------------

def tick(store: Store, config: Config, poster: Poster | None, now: datetime) -> dict[str, int]:
    """Everything time-driven here, each part isolated from the others' failures: what the daemon
    schedules every 30 s. Without a poster (no Slack) only acknowledgements run."""
    counts = {"timers": 0, "acks": 0, "followups": 0}
    jobs: list[tuple[str, Any]] = [("acks", lambda: acknowledge_pending(store, config, now))]
    if poster is not None:
        jobs[:0] = [("timers", lambda: check_timers(store, config, poster, now)),
                    ("followups", lambda: check_followups(store, config, poster, now))]
    for name, job in jobs:
        try:
            counts[name] = len(job())
        except Exception:  # one part's bug must not stop the others
            log.exception("response-time job %s failed; will retry", name)
    return counts
