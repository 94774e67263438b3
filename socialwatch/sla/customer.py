"""The customer's side of response times: acknowledgements of private messages, reopening a conversation
when the customer writes again after our answer, and "did this solve it?" follow-ups.

The follow-up's Send and Skip buttons are registered here (``register``), by the feature that owns them,
on the alert's click table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch import audit
from socialwatch.alerts.actions import Actions, Click, Responder
from socialwatch.alerts.cards import item_key
from socialwatch.alerts.outbox import Poster
from socialwatch.config.response_times import SlaConfig
from socialwatch.config.schema import Config
from socialwatch.models import parse_time, to_utc, utcnow
from socialwatch.scoring.hours import due_at, hours_for
from socialwatch.scoring.replies.personal import case_reference, plain_first_name
from socialwatch.scoring.replies.suggest import ReplyWriter
from socialwatch.scoring.replies.templates import ACK, FOLLOWUP, load_templates
from socialwatch.sla.timers import PostFailed, TimerEvent, post_claimed
from socialwatch.sla.wording import customer_duration, local_time, short_duration, zone_of
from socialwatch.store import inbox, reply_outbox, sla_state
from socialwatch.store.db import Store

log = logging.getLogger(__name__)


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


def _render(config: Config, row: dict[str, Any], piece: str, context: dict[str, Any], public: bool) -> str:
    """A message to the customer in the language their item is answered in (``_ack.j2``, ``_followup.j2``)."""
    writer = ReplyWriter(config, load_templates(config.suggestions.templates_dir))
    return writer.customer_message(piece, writer.language_of_row(row), context, row["platform"], public)


def ack_text(row: dict[str, Any], config: Config, now: datetime) -> str:
    """The acknowledgement for one private message, from ``_ack.j2`` (overridable like the suggestions)."""

    zone = zone_of(config)
    minutes = config.sla.minutes(row["priority"], row["platform"], row["kind"]) or config.sla.normal
    due = parse_time(row.get("sla_due_at")) or due_at(now, row["priority"], row["platform"], row["kind"], config.sla)
    hours = hours_for(config.sla, row["priority"])
    local_due = to_utc(due).astimezone(zone) if due else None
    context = {
        "name": plain_first_name(row.get("author_name")),
        "within": customer_duration(minutes),
        "due": local_time(due, zone, now) if due else "",
        "open_now": hours is None or hours.is_open(now),
        "platform": row["platform"],
        "case_ref": case_reference(item_key(row), config.suggestions.case_prefix),
        # The same in numbers, for templates in languages other than English.
        "within_minutes": max(1, round(minutes)),
        "within_hours": f"{round(minutes / 30) / 2:g}",
        "within_days": max(1, round(minutes / 1440)),
        "due_time": local_due.strftime("%H:%M") if local_due else "",
        "due_date": local_due.date().isoformat() if local_due else "",
        "due_today": bool(local_due and local_due.date() == to_utc(now).astimezone(zone).date()),
    }
    return _render(config, row, ACK, context, public=False)


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
        result = reply_outbox.queue_reply(
            store,
            row["id"],
            text=text,
            actor_id=audit.SYSTEM,
            actor_name="socialwatch",
            origin="ack",
            dedupe_key=dedupe,
            now=now,
        )
        queued = result.status == "queued"
        sla_state.record_ack(
            store,
            row["id"],
            result.status,
            now=now,
            item_key=key,
            details={"dedupe_key": dedupe, "text": text, "reply_id": (result.reply or {}).get("id")}
            if queued
            else None,
        )
        out.append(AckResult(key, result.status, dedupe, text))
    return out


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


def reopen_candidates(
    store: Store, items: Sequence[Mapping[str, Any]], config: Config | None = None
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
        found[int(item["id"])] = Reopen(
            int(item["id"]),
            item_key(item),
            int(parent["id"]),
            parent["item_key"],
            parent["slack_channel"],
            parent["thread_ts"],
            reason,
        )
    return found


def record_reopen(store: Store, reopen: Reopen, now: datetime) -> bool:
    """The parent is reopened (audited ``alert.reopened``); its pending follow-up suggestion is dropped.
    Once per customer message: False when this message has reopened it already (say nothing again)."""
    return sla_state.record_reopen(
        store,
        reopen.parent_id,
        reopen.item_id,
        parent_key=reopen.parent_key,
        child_key=reopen.item_key,
        reason=reopen.reason,
        now=now,
    )


def reopen_text(reopen: Reopen) -> str:
    return f":leftwards_arrow_with_hook: The customer {reopen.reason}: this conversation is open again."


FOLLOWUP_SEND, FOLLOWUP_SKIP = "sla_followup_send", "sla_followup_skip"
FOLLOWUP_REFUSAL = "only approvers can send or skip follow-ups"


def register(actions: Actions) -> None:
    """Put the follow-up suggestion's Send and Skip buttons (``followup_blocks``) on the click table."""
    for action_id, send in ((FOLLOWUP_SEND, True), (FOLLOWUP_SKIP, False)):
        actions.action(action_id, approvers_only=True, refusal=FOLLOWUP_REFUSAL, attempted="followup")(
            _followup_click(send)
        )


def _followup_click(send: bool) -> Callable[[Responder, Click], None]:
    def handle(responder: Responder, click: Click) -> None:
        """The "did this solve it?" suggestion some hours after a reply: send it or skip it."""
        outcome = decide_followup(
            responder.store,
            responder.config,
            int(click.item["id"]),
            send=send,
            actor_id=click.user_id,
            actor_name=click.user_name,
            now=utcnow(),
        )
        if outcome == "queued":
            responder.replies_queued()
        responder.ephemeral(
            click.payload,
            {
                "queued": "Follow-up queued; it goes out in a moment.",
                "skipped": "Follow-up skipped.",
                "decided": "Someone already decided about this follow-up.",
            }.get(outcome, f"Follow-up not sent: {outcome}."),
        )

    return handle


def followup_text(row: dict[str, Any], config: Config) -> str:

    public = bool(row["public"]) and row["kind"] != "dm"
    context = {
        "name": plain_first_name(row.get("author_name")),
        "public": public,
        "platform": row["platform"],
        "case_ref": case_reference(item_key(row), config.suggestions.case_prefix),
        "links": not (row["platform"] == "x" and not config.x.reply_links),
    }
    return _render(config, row, FOLLOWUP, context, public)


def followup_blocks(item_id: int, text: str, intro: str) -> list[dict[str, Any]]:
    """The suggestion with Send / Skip buttons (action ids ``sla_followup_send`` / ``sla_followup_skip``,
    value the item id) for the interactions handler to pass to ``decide_followup``."""
    quoted = "\n".join("> " + line for line in text.splitlines() or [text])
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{intro}\n{quoted}"}},
        {
            "type": "actions",
            "block_id": "sla_followup",
            "elements": [
                {
                    "type": "button",
                    "action_id": FOLLOWUP_SEND,
                    "value": str(item_id),
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Send follow-up"},
                },
                {
                    "type": "button",
                    "action_id": FOLLOWUP_SKIP,
                    "value": str(item_id),
                    "text": {"type": "plain_text", "text": "Skip"},
                },
            ],
        },
    ]


def check_followups(store: Store, config: Config, poster: Poster, now: datetime) -> list[TimerEvent]:
    """``[sla] followup_after_hours`` after our reply, with no word from the customer since, suggest a
    'did this solve it?' in the alert's thread for a manager to send or skip. Once per item."""
    after = config.sla.followup_after_hours
    if not after:
        return []
    sent_before = now - timedelta(hours=after)
    events: list[TimerEvent] = []
    for row in sla_state.followup_candidates(
        store, sent_before, sent_before - timedelta(hours=config.sla.stale_after_hours)
    ):
        if not sla_state.claim(store, row["id"], "followup", now):
            continue
        key, channel, thread = item_key(row), row["slack_channel"], row["alert_thread_ts"]
        text = followup_text(row, config)
        replied = parse_time(row["replied_at"]) or now
        intro = (
            f":speech_balloon: We answered {short_duration(now - replied)} ago and heard nothing since. "
            "Send a follow-up?"
        )
        try:
            ts = post_claimed(
                poster,
                channel,
                f"{intro} {text}",
                thread,
                {"item_key": key, "event": "followup"},
                lambda: sla_state.release(store, row["id"], "followup"),
                f"follow-up suggestion for {key}",
                blocks=followup_blocks(int(row["id"]), text, intro),
            )
        except PostFailed:
            break
        sla_state.complete(
            store,
            row["id"],
            "followup",
            ts=ts,
            action="sla.followup_suggested",
            item_key=key,
            details={"suggested": text, "channel": channel, "thread_ts": thread},
            now=now,
        )
        events.append(TimerEvent("followup", key, None, channel, thread, ts, None))
    return events


def decide_followup(
    store: Store,
    config: Config,
    item_id: int,
    *,
    send: bool,
    actor_id: str,
    actor_name: str,
    text: str | None = None,
    now: datetime,
) -> str:
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
    if not sla_state.record_followup_decision(
        store,
        item_id,
        decision,
        item_key=key,
        actor_id=actor_id,
        actor_name=actor_name,
        details={"final": final} if send else {},
        now=now,
    ):
        return "decided"
    if not send:
        return "skipped"
    result = reply_outbox.queue_reply(
        store,
        item_id,
        text=final,
        actor_id=actor_id,
        actor_name=actor_name,
        suggested_text=suggested,
        suggestion_kind="followup",
        origin="followup",
        dedupe_key=f"followup:{key}",
        now=now,
    )
    return result.status
