"""Response times: business-hours due times, one reminder and one escalation in the alert's
thread (the real slack_sdk WebClient against the sandbox's Slack emulator), restarts, replies that stop
the clock, acknowledgements, reopening and follow-ups. Time is an argument: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import builders
import pytest
from slack_sdk import WebClient

from socialwatch.alerts.slack import SlackPoster
from socialwatch.config.load import parse_config
from socialwatch.config.schema import Config
from socialwatch.models import Item, Kind, Processed, iso
from socialwatch.sandbox import Sandbox
from socialwatch.scoring import hours
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sla import customer, timers, wording
from socialwatch.store import alert_outbox, audit_log, inbox, reply_outbox, sla_state
from socialwatch.store.db import Store

BERLIN = ZoneInfo("Europe/Berlin")
ONCALL, MANAGERS = "S0ONCALL01", "S0MANAGER1"


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A Berlin wall-clock time in March 2026 (the 27th is a Friday; DST starts on Sunday the 29th), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def make_config(**sla_keys: Any) -> Config:
    raw: dict[str, Any] = {
        "daemon": {"timezone": "Europe/Berlin"},
        "sla": {"business_hours": {"enabled": True}, "oncall_group": ONCALL, **sla_keys},
        "suggestions": {"brand_name": "Acme"},
    }
    return parse_config(raw)


def make_item(
    n: int,
    text: str,
    created: datetime,
    *,
    kind: Kind = Kind.DM,
    author: str | None = None,
    conversation: str | None = None,
    in_reply_to: str | None = None,
    platform: str = "x",
) -> Item:
    author_id = author or f"u{n}"
    return builders.item(
        text,
        platform=platform,
        kind=kind,
        native_id=str(9000 + n),
        author_id=author_id,
        handle=f"cust_{author_id}",
        name=f"Casey {author_id}",
        followers=40,
        created=created,
        conversation=conversation,
        in_reply_to=in_reply_to,
        url=None if kind is Kind.DM else f"https://x.com/cust/status/{9000 + n}",
    )


def ingest(store: Store, config: Config, items: list[Item], now: datetime) -> list[int]:
    pipeline = Pipeline(config, detect=lambda text: "en")
    batch = [Processed(i, a, alert=a.needs_attention, source="x:acme:dms") for i, a in pipeline.assess_batch(items, {})]
    return list(inbox.ingest(store, "x:acme:dms", batch, None, now=now).new_item_ids)


def post_alerts(store: Store, client: WebClient, channel: str, now: datetime) -> dict[int, str]:
    """What the dispatcher does with the lead's SlackChannel, reduced to the part that matters here."""
    posted = {}
    for alert in alert_outbox.due_alerts(store, now):
        response = client.chat_postMessage(channel=channel, text=f"alert {alert['platform']}:{alert['native_id']}")
        alert_outbox.mark_alert_posted(
            store, alert["outbox_id"], channel=response["channel"], ts=response["ts"], now=now
        )
        posted[int(alert["id"])] = str(response["ts"])
    return posted


def send_reply(store: Store, item_id: int, now: datetime, platform_reply_id: str = "") -> int:
    """A manager's reply through the reply outbox, as the sender records it."""
    queued = reply_outbox.queue_reply(
        store, item_id, text="So sorry, we are on it.", actor_id="U0APPROVER", actor_name="alex", now=now
    )
    assert queued.status == "queued" and queued.reply is not None
    reply_id = int(queued.reply["id"])
    assert reply_outbox.claim_reply(store, reply_id, now=now) is not None
    reply_outbox.record_reply_sent(store, reply_id, platform_reply_id=platform_reply_id or f"r{reply_id}", now=now)
    return reply_id


def thread_of(client: WebClient, channel: str, ts: str) -> list[dict[str, Any]]:
    return client.conversations_replies(channel=channel, ts=ts, include_all_metadata=True)["messages"][1:]


def audit_actions(store: Store, action: str) -> list[dict[str, Any]]:
    return [row for row in audit_log.audit_rows(store) if row["action"] == action]


# --- due times --------------------------------------------------------------------------------------


def test_friday_1650_with_a_one_hour_sla_is_due_monday_0950_across_dst() -> None:
    config = make_config()
    due = hours.due_at(berlin(27, 16, 50), "high", "x", "dm", config.sla)
    assert due == berlin(30, 9, 50)
    # DST began on the Sunday: Monday 09:50 is 07:50 UTC, not 08:50.
    assert due == datetime(2026, 3, 30, 7, 50, tzinfo=UTC)
    # 80% of 60 minutes = 48: 10 on Friday, 38 on Monday.
    assert hours.remind_at(berlin(27, 16, 50), "high", "x", "dm", config.sla) == berlin(30, 9, 38)


@pytest.mark.parametrize(
    ("start", "priority", "expected"),
    [
        (berlin(30, 7, 0), "high", berlin(30, 10, 0)),  # before opening: the clock starts at 09:00
        (berlin(28, 12, 0), "high", berlin(30, 10, 0)),  # Saturday
        (berlin(27, 17, 0), "high", berlin(30, 10, 0)),  # exactly at closing time
        (berlin(30, 16, 30), "normal", berlin(31, 14, 30)),  # 6 h: 30 min on Monday, 5 h 30 on Tuesday
        (berlin(30, 10, 0), "low", berlin(2, 10, 0, month=4)),  # 24 h = 7 + 8 + 8 + 1 business hours
    ],
)
def test_business_hours_arithmetic(start: datetime, priority: str, expected: datetime) -> None:
    assert hours.due_at(start, priority, "x", "dm", make_config().sla) == expected


def test_holidays_are_closed_days() -> None:
    holiday = make_config(business_hours={"enabled": True, "holidays": [date(2026, 4, 2)]})
    assert hours.due_at(berlin(30, 10, 0), "low", "x", "dm", holiday.sla) == berlin(3, 10, 0, month=4)
    opening = hours.Hours.from_config(holiday.sla.business_hours)
    assert (
        opening is not None
        and not opening.is_open(berlin(2, 12, 0, month=4))
        and opening.is_open(berlin(3, 12, 0, month=4))
    )


def test_overrides_and_priorities_outside_business_hours() -> None:
    config = make_config(
        overrides={"x:dm": {"high": 30}, "facebook": {"high": 120}},
        business_hours={"enabled": True, "applies_to": ["high", "normal", "low"]},
    )
    friday = berlin(27, 16, 50)
    assert hours.due_at(friday, "high", "x", "dm", config.sla) == berlin(30, 9, 20)
    assert hours.due_at(friday, "high", "x", "mention", config.sla) == berlin(30, 9, 50)
    assert hours.due_at(friday, "high", "facebook", "dm", config.sla) == berlin(30, 10, 50)
    # Urgent runs day and night when applies_to leaves it out.
    assert hours.due_at(friday, "urgent", "x", "mention", config.sla) == friday + timedelta(minutes=15)
    assert hours.due_at(friday, "none", "x", "mention", config.sla) is None
    off = parse_config({})
    assert hours.due_at(friday, "high", "x", "dm", off.sla) == friday + timedelta(hours=1)


def test_triage_stores_the_business_hours_due_time(tmp_path: Path) -> None:
    config = make_config()
    store = Store(tmp_path / "sw.db")
    (item_id,) = ingest(
        store,
        config,
        [make_item(1, "you charged my card twice and nobody answers, awful", berlin(27, 16, 50))],
        berlin(27, 16, 51),
    )
    row = inbox.item(store, item_id)
    assert row is not None and row["priority"] == "high"
    assert row["sla_due_at"] == iso(berlin(30, 9, 50))


def test_wording() -> None:
    now = berlin(30, 9, 38)
    assert wording.describe_due(berlin(30, 9, 50), now, BERLIN) == "due 09:50 (in 12 min)"
    assert wording.describe_due(berlin(27, 16, 0), now, BERLIN) == "was due Fri 16:00 (2 d 16 h ago)"
    assert [wording.customer_duration(m) for m in (15, 60, 360, 1440, 4320)] == [
        "15 minutes",
        "1 hour",
        "6 hours",
        "24 hours",
        "3 days",
    ]


# --- reminders and escalations in Slack ---------------------------------------------------------------


def test_reminder_and_escalation_fire_once_each_at_the_right_time_in_business_hours(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(escalation_group=MANAGERS, escalation_channel=info["ops_channel"])
    store = Store(tmp_path / "sw.db")
    poster = SlackPoster(client)
    arrived = berlin(27, 16, 50)
    (item_id,) = ingest(
        store, config, [make_item(1, "you charged my card twice and nobody answers, awful", arrived)], arrived
    )
    (alert_ts,) = post_alerts(store, client, info["channel"], arrived).values()

    fired: dict[datetime, list[str]] = {}
    for moment in (
        berlin(27, 16, 55),
        berlin(27, 17, 30),
        berlin(27, 23, 59),
        berlin(28, 12, 0),
        berlin(30, 9, 37),
        berlin(30, 9, 38),
        berlin(30, 9, 45),
        berlin(30, 9, 49),
        berlin(30, 9, 50),
        berlin(30, 10, 30),
        berlin(30, 16, 0),
    ):
        fired[moment] = [e.event for e in timers.check_timers(store, config, poster, moment)]
    assert {m: e for m, e in fired.items() if e} == {berlin(30, 9, 38): ["reminder"], berlin(30, 9, 50): ["escalation"]}

    replies = thread_of(client, info["channel"], alert_ts)
    assert len(replies) == 2
    reminder, escalation = replies
    assert f"<!subteam^{ONCALL}>" in reminder["text"] and "80% of the reply time" in reminder["text"]
    assert "due 09:50 (in 12 min)" in reminder["text"]
    assert f"<!subteam^{MANAGERS}>" in escalation["text"] and "SLA breached" in escalation["text"]
    assert reminder["metadata"]["event_payload"] == {"item_key": "x:9001", "event": "reminder"}
    ops = client.conversations_history(channel=info["ops_channel"])["messages"]
    assert len(ops) == 1 and f"<#{info['channel']}>" in ops[0]["text"] and "high billing dm" in ops[0]["text"]

    (reminded,) = audit_actions(store, "sla.reminder")
    (escalated,) = audit_actions(store, "sla.escalated")
    assert reminded["item_key"] == escalated["item_key"] == "x:9001"
    assert reminded["ts"] == iso(berlin(30, 9, 38)) and escalated["data"]["announced"] is True
    state = sla_state.sla_state(store, item_id)
    assert state is not None and state["reminder_ts"] == reminder["ts"] and state["escalation_ts"] == escalation["ts"]

    # A restart: new objects on the same database re-ping nothing.
    again = Store(tmp_path / "sw.db")
    assert (
        timers.check_timers(
            again,
            make_config(escalation_group=MANAGERS, escalation_channel=info["ops_channel"]),
            SlackPoster(client),
            berlin(30, 11, 0),
        )
        == []
    )
    assert len(thread_of(client, info["channel"], alert_ts)) == 2


def test_a_reply_or_a_dismissal_stops_the_clock(tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]) -> None:
    client, info = slack
    config = make_config()
    store = Store(tmp_path / "sw.db")
    poster = SlackPoster(client)
    start = berlin(30, 10, 0)
    answered, dismissed, waiting = ingest(
        store,
        config,
        [make_item(n, "you charged my card twice and nobody answers, awful", start) for n in (1, 2, 3)],
        start,
    )
    alerts = post_alerts(store, client, info["channel"], start)
    assert [e.event for e in timers.check_timers(store, config, poster, berlin(30, 10, 48))] == ["reminder"] * 3

    send_reply(store, answered, berlin(30, 10, 50))
    assert (
        inbox.dismiss_item(
            store, dismissed, actor_id="U0APPROVER", actor_name="alex", reason="spam", now=berlin(30, 10, 50)
        )
        is not False
    )
    events = timers.check_timers(store, config, poster, berlin(30, 11, 0))
    assert [(e.event, e.item_key) for e in events] == [("escalation", "x:9003")]
    assert [len(thread_of(client, info["channel"], alerts[i])) for i in (answered, dismissed, waiting)] == [1, 1, 2]


def test_an_approved_reply_counts_but_an_acknowledgement_does_not(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config()
    store = Store(tmp_path / "sw.db")
    start = berlin(30, 10, 0)
    approved, acked = ingest(
        store,
        config,
        [make_item(n, "you charged my card twice and nobody answers, awful", start) for n in (1, 2)],
        start,
    )
    post_alerts(store, client, info["channel"], start)
    reply_outbox.queue_reply(store, approved, text="On it.", actor_id="U0APPROVER", actor_name="alex", now=start)
    reply_outbox.queue_reply(
        store,
        acked,
        text="Got it, we answer within 1 hour.",
        actor_id="system",
        actor_name="socialwatch",
        origin="ack",
        dedupe_key="ack:x:u2:2026-03-30",
        now=start,
    )
    events = timers.check_timers(store, config, SlackPoster(client), berlin(30, 11, 0))
    assert [(e.event, e.item_key) for e in events] == [("escalation", "x:9002")]


def test_a_failed_post_is_retried_and_then_sent_once(
    tmp_path: Path, sandbox: Sandbox, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config()
    store = Store(tmp_path / "sw.db")
    start = berlin(30, 10, 0)
    (item_id,) = ingest(store, config, [make_item(1, "you charged my card twice and nobody answers", start)], start)
    (alert_ts,) = post_alerts(store, client, info["channel"], start).values()
    sandbox.fault("slack", 500, path="chat.postMessage")
    assert timers.check_timers(store, config, SlackPoster(client), berlin(30, 10, 50)) == []
    state = sla_state.sla_state(store, item_id)
    assert state is not None and state["reminded_at"] is None  # the claim was given back
    assert [e.event for e in timers.check_timers(store, config, SlackPoster(client), berlin(30, 10, 51))] == [
        "reminder"
    ]
    assert len(thread_of(client, info["channel"], alert_ts)) == 1
    assert len(audit_actions(store, "sla.reminder")) == 1


def test_a_breach_from_long_ago_is_recorded_not_announced(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config()
    store = Store(tmp_path / "sw.db")
    start = berlin(23, 10, 0)
    ingest(store, config, [make_item(1, "you charged my card twice and nobody answers", start)], start)
    (alert_ts,) = post_alerts(store, client, info["channel"], start).values()
    (event,) = timers.check_timers(store, config, SlackPoster(client), berlin(30, 10, 0))
    assert event.event == "escalation" and event.ts is None
    assert thread_of(client, info["channel"], alert_ts) == []
    (entry,) = audit_actions(store, "sla.escalated")
    assert entry["data"]["announced"] is False


# --- acknowledgements -------------------------------------------------------------------------------


def test_acknowledgement_once_per_conversation_per_day_private_only(tmp_path: Path) -> None:
    config = make_config()
    config.ack.enabled = True
    store = Store(tmp_path / "sw.db")
    friday = berlin(27, 16, 50)
    ingest(
        store,
        config,
        [
            make_item(1, "you charged my card twice and nobody answers", friday, author="u1", conversation="c1"),
            make_item(
                2,
                "hello? still charged twice, please answer",
                friday + timedelta(minutes=2),
                author="u1",
                conversation="c1",
            ),
            make_item(3, "@acme the app is down again, nothing loads", friday, kind=Kind.MENTION),
        ],
        friday + timedelta(minutes=3),
    )
    first = customer.acknowledge_pending(store, config, friday + timedelta(minutes=3))
    assert [(a.item_key, a.status) for a in first] == [("x:9001", "queued"), ("x:9002", "duplicate")]
    assert first[0].dedupe_key == "ack:x:c1:2026-03-27"
    # Friday 16:53 is inside the hours: "within 1 hour" (the high priority's SLA).
    assert first[0].text.startswith("Hi Casey, thanks for your message") and "within 1 hour" in first[0].text
    assert customer.acknowledge_pending(store, config, friday + timedelta(minutes=4)) == []  # each item looked at once

    # Saturday: a new day for the same conversation, and outside the hours the text names the due time.
    saturday = berlin(28, 11, 0)
    ingest(
        store,
        config,
        [make_item(4, "still nothing?? charged twice", saturday, author="u1", conversation="c1")],
        saturday,
    )
    (third,) = customer.acknowledge_pending(store, config, saturday)
    assert third.status == "queued" and third.dedupe_key == "ack:x:c1:2026-03-28"
    assert "closed right now and will answer by Mon 10:00" in third.text
    with store.db() as db:
        origins = [r[0] for r in db.execute("SELECT origin FROM reply_outbox ORDER BY id")]
    assert origins == ["ack", "ack"]
    assert [e["data"]["dedupe_key"] for e in audit_actions(store, "sla.ack_queued")] == [
        "ack:x:c1:2026-03-27",
        "ack:x:c1:2026-03-28",
    ]


def test_acknowledgements_are_off_by_default(tmp_path: Path) -> None:
    config = make_config()
    store = Store(tmp_path / "sw.db")
    ingest(store, config, [make_item(1, "charged twice, answer please", berlin(30, 10))], berlin(30, 10))
    assert customer.acknowledge_pending(store, config, berlin(30, 10, 1)) == []
    assert alert_outbox.outbox_depths(store)["replies"] == 0


# --- reopening and follow-ups -----------------------------------------------------------------------


def test_a_customer_answering_our_reply_reopens_the_alert_in_its_thread(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config()
    store = Store(tmp_path / "sw.db")
    start = berlin(30, 10, 0)
    (parent,) = ingest(
        store,
        config,
        [make_item(1, "@acme my parcel never arrived", start, kind=Kind.MENTION, author="u1", conversation="t1")],
        start,
    )
    (alert_ts,) = post_alerts(store, client, info["channel"], start).values()
    send_reply(store, parent, berlin(30, 10, 20), platform_reply_id="reply-77")
    later = berlin(30, 11, 0)
    ingest(
        store,
        config,
        [
            make_item(
                2,
                "@acme still nothing, tracking says lost",
                later,
                kind=Kind.MENTION,
                author="u9",
                in_reply_to="reply-77",
            ),
            make_item(3, "@acme hello?? it never came", later, kind=Kind.MENTION, author="u1", conversation="t1"),
            make_item(4, "@acme my order is late too", later, kind=Kind.MENTION, author="u5"),
            make_item(5, "@acme where is it", berlin(30, 10, 10), kind=Kind.MENTION, author="u1", conversation="t1"),
        ],
        later,
    )
    rows = [inbox.item_by_key(store, f"x:{9000 + n}") for n in (2, 3, 4, 5)]
    direct, same_author, _stranger, _too_early = (int(row["id"]) for row in rows)
    found = customer.reopen_candidates(store, rows, config)
    assert set(found) == {direct, same_author}
    assert (
        found[direct].reason == "replies to our answer" and found[same_author].reason == "wrote again after our answer"
    )
    assert (found[direct].parent_key, found[direct].thread_ts, found[direct].channel) == (
        "x:9001",
        alert_ts,
        info["channel"],
    )
    assert customer.record_reopen(store, found[direct], later)
    # The dispatcher looks again while the alert waits behind one that failed to go out: said once.
    assert not customer.record_reopen(store, found[direct], later + timedelta(seconds=2))
    (entry,) = audit_actions(store, "alert.reopened")
    assert entry["item_key"] == "x:9001" and entry["data"]["by_item"] == "x:9002"


def test_followup_suggested_once_after_the_configured_hours(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(followup_after_hours=24)
    store = Store(tmp_path / "sw.db")
    poster = SlackPoster(client)
    start = berlin(30, 10, 0)
    (item_id,) = ingest(store, config, [make_item(1, "my parcel never arrived, order 5512", start)], start)
    (alert_ts,) = post_alerts(store, client, info["channel"], start).values()
    send_reply(store, item_id, berlin(30, 10, 30))
    assert customer.check_followups(store, config, poster, berlin(31, 10, 29)) == []
    (event,) = customer.check_followups(store, config, poster, berlin(31, 10, 30))
    assert customer.check_followups(store, config, poster, berlin(31, 12, 0)) == []
    (message,) = thread_of(client, info["channel"], alert_ts)
    assert message["ts"] == event.ts and "did our answer solve it?" in message["text"]
    buttons = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [customer.FOLLOWUP_SEND, customer.FOLLOWUP_SKIP]

    status = customer.decide_followup(
        store, config, item_id, send=True, actor_id="U0APPROVER", actor_name="alex", now=berlin(31, 10, 35)
    )
    assert status == "queued"
    assert (
        customer.decide_followup(
            store, config, item_id, send=False, actor_id="U0OTHER", actor_name="sam", now=berlin(31, 10, 36)
        )
        == "decided"
    )
    with store.db() as db:
        rows = [dict(r) for r in db.execute("SELECT origin, suggestion_kind, status FROM reply_outbox ORDER BY id")]
    assert rows[-1] == {"origin": "followup", "suggestion_kind": "followup", "status": "approved"}
    assert (
        len(audit_actions(store, "sla.followup_suggested")) == 1 and len(audit_actions(store, "sla.followup_sent")) == 1
    )
