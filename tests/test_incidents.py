"""Incident grouping: a burst of negative posts in one category becomes one incident alert,
edited as more arrive, instead of one alert each. Driven through the real slack_sdk WebClient against
the sandbox's Slack emulator, on a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from socialwatch.alerts.outbox import Delivered, dispatch_alerts
from socialwatch.alerts.slack import SlackPoster
from socialwatch.config.load import parse_config
from socialwatch.config.schema import Config
from socialwatch.models import Author, Item, Kind, Processed
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sla import incidents, timers
from socialwatch.store import alert_outbox, audit_log, inbox, incident_log
from socialwatch.store.db import Store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
OUTAGE = [
    "@acme app is down again, nothing loads",
    "@acme your site won't load, outage??",
    "@acme is the app down? keeps crashing, useless",
    "@acme 503 error all morning, fix it",
]
BILLING = "@acme you charged me twice, I want my money back"


class PostingChannel:
    """An AlertChannel posting one plain message per alert, to count what the dispatcher delivers."""

    def __init__(self, client: WebClient, channel: str):
        self.client, self.channel = client, channel

    def deliver(self, alert: dict[str, Any]) -> Delivered:
        response = self.client.chat_postMessage(
            channel=self.channel, text=f"alert {alert['platform']}:{alert['native_id']}: {alert['text']}"
        )
        return Delivered(channel=response["channel"], ts=response["ts"])


def make_config(channel: str, **incident_keys: Any) -> Config:
    return parse_config(
        {
            "sla": {"oncall_group": "S0ONCALL01"},
            "incidents": {
                "channel": channel,
                "threshold": 10,
                "window_minutes": 10,
                "quiet_minutes": 30,
                "update_seconds": 60,
                **incident_keys,
            },
        }
    )


class Feed:
    """Numbered customer posts, ingested as a poll would store them."""

    def __init__(self, store: Store, config: Config):
        self.store, self.n = store, 0
        self.pipeline = Pipeline(config, detect=lambda text: "en")

    def poll(self, texts: list[str], now: datetime) -> None:
        items = []
        for text in texts:
            self.n += 1
            items.append(
                Item(
                    "x",
                    Kind.MENTION,
                    str(7000 + self.n),
                    "acme",
                    Author(f"u{self.n}", handle=f"user{self.n}", followers=30),
                    text,
                    now - timedelta(seconds=20),
                    url=f"https://x.com/user{self.n}/status/{7000 + self.n}",
                )
            )
        batch = [
            Processed(i, a, alert=a.needs_attention, source="x:acme:mentions")
            for i, a in self.pipeline.assess_batch(items, {})
        ]
        inbox.ingest(self.store, "x:acme:mentions", batch, None, now=now)


def channel_messages(sandbox: Sandbox, channel: str) -> list[dict[str, Any]]:
    """Top-level messages as the control API shows them (with the edit history)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/slack/messages?channel={channel}", timeout=5) as resp:
        messages = json.loads(resp.read())["messages"]
    return [m for m in messages if not m["thread_ts"] or m["thread_ts"] == m["ts"]]


def test_two_hundred_outage_posts_in_ten_minutes_make_one_incident_alert(
    tmp_path: Path, sandbox: Sandbox, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(info["channel"])
    store = Store(tmp_path / "sw.db")
    feed = Feed(store, config)
    poster = SlackPoster(client)
    alerts = PostingChannel(client, info["channel"])
    results: list[incidents.GroupResult] = []
    pings: list[timers.TimerEvent] = []

    def tick(now: datetime) -> None:
        # The dispatcher's order: group first, then deliver what is still pending; the SLA job beside it.
        results.append(incidents.group(store, config, poster, now))
        dispatch_alerts(store, alerts, now=now)
        pings.extend(timers.check_timers(store, config, poster, now))

    # The first poll sees only 4 outage posts (and an unrelated billing complaint): alerted one by one.
    feed.poll([OUTAGE[i % 4] for i in range(4)] + [BILLING], T0)
    tick(T0)
    assert results[-1] == incidents.GroupResult()
    # Then the burst: 196 more over ten minutes, a poll every 30 s, and two more billing complaints.
    remaining = 196
    for step in range(1, 21):
        now = T0 + timedelta(seconds=30 * step)
        batch = min(remaining, 10 if step < 20 else remaining)
        remaining -= batch
        feed.poll([OUTAGE[(step + i) % 4] for i in range(batch)] + ([BILLING] if step in (7, 15) else []), now)
        tick(now)
    assert remaining == 0
    assert len(results[1].opened) == 1 and results[1].held_back == 10
    incident_id = results[1].opened[0]
    assert sum(r.held_back for r in results) == 196
    for minute in range(11, 50):  # quiet: updates settle, then it closes
        tick(T0 + timedelta(minutes=minute))

    top = channel_messages(sandbox, info["channel"])
    individual = [m for m in top if m["text"].startswith("alert ")]
    incident_messages = [m for m in top if (m["metadata"] or {}).get("event_type") == incidents.METADATA_TYPE]
    assert len(incident_messages) == 1
    assert len(individual) == 4 + 3  # the outage posts before the burst was recognised, and the billing ones
    assert sum("you charged me twice" in m["text"] for m in individual) == 3
    (message,) = incident_messages
    assert message["text"].startswith("Incident closed: 200 negative outage items")
    edits = [version["text"] for version in message["history"]]
    assert edits[0].startswith("Possible incident: 14 negative outage items")  # 4 posted + 10 held back
    assert 3 <= len(edits) <= 12  # edited as the count grew, at most once a minute, not 196 times
    assert "*200* negative items about *outage*" in message["blocks"][1]["text"]["text"]
    assert "196 individual alerts are held back (4 were posted before" in message["blocks"][1]["text"]["text"]
    assert (
        message["blocks"][2]["text"]["text"].count("• ") == 5
        and "…and 195 more" in message["blocks"][2]["text"]["text"]
    )

    with store.db() as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM alert_outbox GROUP BY status").fetchall())
    assert statuses == {"grouped": 196, "posted": 7}
    incident = incident_log.incident(store, incident_id)
    assert incident is not None and incident["closed_at"] is not None
    actions = [row["action"] for row in audit_log.audit_rows(store) if row["action"].startswith("incident.")]
    assert actions.count("incident.opened") == 1 and actions.count("incident.closed") == 1
    assert actions.count("incident.updated") == len(edits)

    # SLA: the grouped items are pinged once per incident in its thread, not 196 times.
    incident_pings = [(p.event, p.incident_id) for p in pings if p.incident_id is not None]
    assert incident_pings == [("reminder", incident_id), ("escalation", incident_id)]
    thread = client.conversations_replies(channel=info["channel"], ts=message["ts"])["messages"][1:]
    assert [m["text"].split(" ")[0] for m in thread] == [":hourglass_flowing_sand:", ":rotating_light:"]
    assert "<!subteam^S0ONCALL01>" in thread[0]["text"] and "items of this incident wait" in thread[0]["text"]
    assert sum(1 for p in pings if p.incident_id is None) == 7 * 2  # the individual alerts: one of each


def test_below_the_threshold_or_spread_out_nothing_is_grouped(
    tmp_path: Path, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(info["channel"])
    store = Store(tmp_path / "sw.db")
    feed = Feed(store, config)
    # 9 in ten minutes, then 9 more each 11 minutes later: never 10 within one window.
    for burst in range(3):
        now = T0 + timedelta(minutes=11 * burst)
        feed.poll([OUTAGE[i % 4] for i in range(9)], now)
        assert incidents.group(store, config, SlackPoster(client), now) == incidents.GroupResult()
        dispatch_alerts(store, PostingChannel(client, info["channel"]), now=now)
    with store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'posted'").fetchone()[0] == 27
    # Other labels do not count, and configured categories restrict what can form an incident.
    only_billing = make_config(info["channel"], categories=["billing"])
    feed.poll([OUTAGE[i % 4] for i in range(12)], T0 + timedelta(minutes=40))
    assert incidents.group(store, only_billing, SlackPoster(client), T0 + timedelta(minutes=40)).opened == ()


def test_after_closing_a_new_burst_opens_a_new_incident(
    tmp_path: Path, sandbox: Sandbox, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(info["channel"])
    store = Store(tmp_path / "sw.db")
    feed = Feed(store, config)
    poster = SlackPoster(client)
    feed.poll([OUTAGE[0]] * 12, T0)
    first = incidents.group(store, config, poster, T0).opened
    assert incidents.group(store, config, poster, T0 + timedelta(minutes=31)).closed == first
    feed.poll([OUTAGE[1]] * 10, T0 + timedelta(hours=2))
    second = incidents.group(store, config, poster, T0 + timedelta(hours=2)).opened
    assert len(second) == 1 and second != first
    assert (
        len(
            [
                m
                for m in channel_messages(sandbox, info["channel"])
                if (m["metadata"] or {}).get("event_type") == incidents.METADATA_TYPE
            ]
        )
        == 2
    )


def test_a_failed_post_keeps_the_alerts_held_and_is_retried(
    tmp_path: Path, sandbox: Sandbox, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(info["channel"])
    store = Store(tmp_path / "sw.db")
    Feed(store, config).poll([OUTAGE[2]] * 10, T0)
    sandbox.fault("slack", 503, path="chat.postMessage")
    result = incidents.group(store, config, SlackPoster(client), T0)
    assert len(result.opened) == 1 and alert_outbox.due_alerts(store, T0) == []  # held back although Slack failed
    assert channel_messages(sandbox, info["channel"]) == []
    incidents.group(store, config, SlackPoster(client), T0 + timedelta(seconds=2))
    (message,) = channel_messages(sandbox, info["channel"])
    assert message["text"].startswith("Possible incident: 10 negative outage items")


def test_the_incident_alert_masks_personal_data_and_slack_controls() -> None:
    zone = ZoneInfo("UTC")
    items = [
        {
            "platform": "x",
            "kind": "mention",
            "author_handle": "jo",
            "url": "https://x.com/jo/status/1",
            "text": "<!channel> app down and it charged card 4111 1111 1111 1111",
            "received_at": "2026-03-02T10:00:00Z",
            "alert_status": "grouped",
        }
    ]
    text, blocks = incidents.render({"category": "outage"}, items, now=T0, zone=zone, list_size=5, quiet_minutes=30)
    shown = str(blocks)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "4111 1111 1111 1111" not in shown and "<https://x.com/jo/status/1|@jo>" in shown
    assert text == "Possible incident: 1 negative outage items since 10:00"
