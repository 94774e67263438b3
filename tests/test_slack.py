"""Slack end to end through the sandbox: real tweepy, facebook-sdk and slack_sdk (Web API and
Socket Mode) against the project's emulators. Alerts render safely, clicks send exactly one
reply, refusals are audited, and alert delivery survives a 429/500 storm without duplicates."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import builders
import pytest
from sandbox_support import control

from socialwatch.alerts import cards
from socialwatch.alerts.outbox import dispatch_alerts
from socialwatch.alerts.slack import SlackChannel
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.models import utcnow
from socialwatch.sandbox import Sandbox
from socialwatch.store import alert_outbox, audit_log, inbox, reply_outbox

WAIT = 10.0
SECOND_APPROVER = {"id": "U0SBXAPPR2", "name": "sam.second"}

HOSTILE = [
    "<!channel> your app charged me twice, refund now!!",
    "@brand <!here> <!everyone> <@U0SBXAPPR1> terrible service, I want a refund",
    "@brand outage again <http://evil.example/login|https://bank.example.com> broken",
    "@brand " + "this is unacceptable, the order never arrived. " * 220,  # > 10,000 characters
    "@brand \u202eemordnilap\u202c my parcel is lost \u200b\u200b<\u200b!channel>",
    "@brand \u0000NUL inside\u0000 and \u0007 bell: worst support ever",
    "@brand مرحبا، طلبي لم يصل بعد وهذا سيء جدا 😡😡 <!subteam^S0SBXAPPRV>",
    "@brand & &amp; &lt;!channel&gt; <#C0SBXALERT> still waiting for my refund",
]


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    return builders.wait_until(predicate, timeout, what)


def messages(sandbox: Sandbox, channel: str | None = None) -> list[dict[str, Any]]:
    _, body = control(sandbox, "/_sandbox/slack/messages" + (f"?channel={channel}" if channel else ""))
    return body["messages"]


def alert_messages(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        m
        for m in messages(sandbox)
        if (m.get("metadata") or {}).get("event_type") == cards.EVENT_TYPE and not m.get("ephemeral")
    ]


def alert_for(sandbox: Sandbox, key: str) -> dict[str, Any]:
    found = [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == key]
    assert len(found) == 1, f"{len(found)} alerts for {key}"
    return found[0]


def click(
    sandbox: Sandbox,
    message: dict[str, Any],
    action_id: str,
    user: dict[str, str] | None = None,
    wait: float | None = 3,
) -> dict[str, Any]:
    body: dict[str, Any] = {"channel": message["channel"], "ts": message["ts"], "action_id": action_id}
    if user:
        body["user"] = user
    if wait:
        body["wait"] = wait
    status, answer = control(sandbox, "/_sandbox/slack/actions", body)
    assert status == 200, answer
    return answer


def replies_on_x(sandbox: Sandbox, to: str) -> list[dict[str, Any]]:
    return [p for p in sandbox.posted_x() if to in json.dumps(p)]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def make_config(sandbox: Sandbox, tmp_path: Path, **slack: Any) -> Config:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.daemon.http_timeout = 2.0
    config.daemon.database = tmp_path / "sw.db"
    config.facebook.pages = []  # these tests are about Slack; X is the platform on the other side
    assert config.slack is not None
    config.slack.approvers = [sandbox.info()["slack"]["approver"]["id"], SECOND_APPROVER["id"]]
    for key, value in slack.items():
        setattr(config.slack, key, value)
    return config


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    return make_config(sandbox, tmp_path)


@pytest.fixture
def running(config: Config) -> Iterator[Daemon]:
    """The daemon with its scheduler and Socket Mode, as in production, but polling every second."""
    with builders.running_daemon(config) as daemon:
        yield daemon


def poll_and_dispatch(daemon: Daemon) -> None:
    assert daemon.sources is not None
    for source in daemon.sources:
        daemon.poll_source(source)
    daemon.dispatch()


# --- rendering -------------------------------------------------------------------------------------


def _no_markup_from_customers(message: dict[str, Any]) -> None:
    visible = json.dumps([message.get("text"), message.get("blocks")], ensure_ascii=False)
    for bad in (
        "<!channel",
        "<!here",
        "<!everyone",
        "<@U0SBXAPPR1",
        "<http://evil",
        "<!subteam",
        "<#C0SBX",
        "\u202e",
        "\u200b",
        "\\u0000",
        "\u0007",
    ):
        assert bad not in visible, f"{bad!r} reached Slack"


def test_hostile_texts_render_safely_in_every_block_and_fallback(sandbox, config):
    daemon = Daemon(config, notifier=None)
    for n, text in enumerate(HOSTILE):
        sandbox.add_mention(text, handle=f"hostile{n}", name=f"<!channel> Mallory {n} \u202e")
    poll_and_dispatch(daemon)
    posted = alert_messages(sandbox)
    assert len(posted) == len(HOSTILE)  # the emulator validates Block Kit: all of them were accepted
    for message in posted:
        _no_markup_from_customers(message)
        assert len(message["text"]) <= cards.FALLBACK_MAX
        for block in message["blocks"]:
            text = (block.get("text") or {}).get("text") or ""
            assert len(text) <= cards.SECTION_MAX
    long_one = next(m for m in posted if "never arrived" in m["text"])
    quoted = long_one["blocks"][2]["text"]["text"]
    assert quoted.endswith("…") and len(quoted) <= cards.SECTION_MAX  # cut, not rejected
    escaped = next(m for m in posted if "still waiting" in m["text"])
    # Already-escaped text is escaped again: shown literally, never decoded into markup.
    assert "&amp;amp; &amp;lt;!channel&amp;gt;" in json.dumps(escaped["blocks"])


def test_escape_and_cut_never_split_an_entity():
    text = cards.cut(cards.escape("a" * 10 + "<" * 5), 14)
    assert text.endswith("…") and "&lt" not in text.rstrip("…").split(";")[-1]
    assert cards.escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;"
    assert cards.clean("a\u202eb\u200bc\u0000d\ne") == "abcd\ne"


def test_links_are_made_only_from_https_urls_that_cannot_break_out():
    assert cards.link("https://x.com/a|<!channel>>b&c", "post") == "<https://x.com/a%7C%3C!channel%3E%3Eb&amp;c|post>"
    assert cards.link("javascript:alert(1)", "post") == "post"
    assert cards.link(None, "post") == "post"


def test_alert_shows_author_history_suggestions_due_time_and_link(sandbox, config):
    daemon = Daemon(config, notifier=None)
    sandbox.add_mention("@brand thanks for the quick help yesterday!", handle="returning", name="Rita", followers=4321)
    poll_and_dispatch(daemon)
    tweet = sandbox.add_mention(
        "@brand my refund still has not arrived after 3 weeks", handle="returning", name="Rita", followers=4321
    )
    poll_and_dispatch(daemon)
    message = alert_for(sandbox, f"x:{tweet}")
    flat = json.dumps(message["blocks"])
    assert "4,321 followers" in flat and "1 earlier contact, last positive" in flat
    assert "reply due <!date^" in flat and f"status/{tweet}" in flat
    sends = [b["accessory"]["action_id"] for b in message["blocks"] if b.get("accessory")]
    assert 2 <= len(sends) <= 3 and sends[0] == f"{cards.SEND}_0"
    actions = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions[:3] == [cards.EDIT, cards.ASSIGN, cards.DISMISS] and cards.NOT_NEGATIVE in actions


def test_follow_up_from_the_same_author_goes_into_the_thread(sandbox, config):
    daemon = Daemon(config, notifier=None)
    first = sandbox.add_mention("@brand the app crashes every time I pay, awful", handle="repeat")
    poll_and_dispatch(daemon)
    second = sandbox.add_mention("@brand still crashing, nobody answers, this is ridiculous", handle="repeat")
    poll_and_dispatch(daemon)
    parent, child = alert_for(sandbox, f"x:{first}"), alert_for(sandbox, f"x:{second}")
    assert parent["thread_ts"] in (None, parent["ts"]) and child["thread_ts"] == parent["ts"]
    assert (
        alert_outbox.alert_message(daemon.store, inbox.item_by_key(daemon.store, f"x:{second}")["id"])["thread_ts"]
        == parent["ts"]
    )


def test_routing_by_priority_and_alerts_only_mode(sandbox, tmp_path):
    config = make_config(sandbox, tmp_path, alerts_only=True, routing={"urgent": "C0SBXOPS01"})
    daemon = Daemon(config, notifier=None)
    urgent = sandbox.add_mention(
        "@brand your app charged me twice and support is useless, scam!!", handle="u1", followers=250_000
    )
    poll_and_dispatch(daemon)
    message = alert_for(sandbox, f"x:{urgent}")
    assert inbox.item_by_key(daemon.store, f"x:{urgent}")["priority"] == "urgent"
    assert message["channel"] == "C0SBXOPS01"
    ids = [e.get("action_id") for b in message["blocks"] for e in b.get("elements", []) + [b.get("accessory") or {}]]
    assert not any(str(i).startswith(cards.SEND) for i in ids) and cards.EDIT not in ids
    assert cards.DISMISS in ids


def test_without_an_app_token_alerts_have_no_send_buttons(sandbox, tmp_path):
    config = make_config(sandbox, tmp_path, app_token=None)
    daemon = Daemon(config, notifier=None)
    tweet = sandbox.add_mention("@brand my order arrived broken, I want a replacement", handle="notoken")
    poll_and_dispatch(daemon)
    flat = json.dumps(alert_for(sandbox, f"x:{tweet}")["blocks"])
    assert cards.SEND not in flat and cards.EDIT not in flat and "suggestion_0" in flat  # suggestions still shown


# --- clicks ---------------------------------------------------------------------------------------


def test_approve_sends_exactly_one_reply_and_updates_the_alert(sandbox, running):
    tweet = sandbox.add_mention("@brand where is my refund? ordered 2 weeks ago", handle="refundless")
    message = wait_until(
        lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
        what="alert",
    )[0]
    answer = click(sandbox, message, f"{cards.SEND}_0")
    assert answer["delivery"]["acked_in_time"]
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
    item = inbox.item_by_key(running.store, f"x:{tweet}")
    suggestion = cards.suggestions_of(item)[0]["text"]
    [reply] = replies_on_x(sandbox, tweet)
    assert reply["in_reply_to"] == tweet
    assert reply["text"].endswith(suggestion)  # X puts the @handle of the author in front, as on x.com
    updated = wait_until(
        lambda: [
            m
            for m in messages(sandbox)
            if m["ts"] == message["ts"] and m.get("edited_ts") and "sent" in json.dumps(m["blocks"])
        ],
        what="alert update",
    )[0]
    flat = json.dumps(updated["blocks"])
    assert "U0SBXAPPR1" in flat and "view reply" in flat and cards.SEND not in flat  # no more Send buttons
    status, _ = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": message["channel"], "ts": message["ts"], "action_id": f"{cards.SEND}_0"},
    )
    assert status == 404  # the button is gone from the message
    running.send_replies()
    assert len(replies_on_x(sandbox, tweet)) == 1
    actions = [row["action"] for row in audit_log.audit_rows(running.store, f"x:{tweet}")]
    assert actions[:3] == ["item.received", "alert.posted", "reply.approved"] and "reply.sent" in actions
    assert audit_log.verify_audit(running.store).ok
    # What compliance exports is what the platform shows.
    [record] = [r for r in audit_log.reply_records(running.store) if r["item_key"] == f"x:{tweet}"]
    assert (record["status"], record["platform_reply_id"], record["final_text"], record["approver_id"]) == (
        "sent",
        reply["id"],
        suggestion,
        "U0SBXAPPR1",
    )
    assert record["alerted_at"] <= record["approved_at"] <= record["replied_at"]


def test_two_approvers_clicking_ten_times_each_concurrently_send_one_reply(sandbox, running):
    tweet = sandbox.add_mention("@brand my package is lost, tracking shows nothing for 10 days", handle="lost")
    message = wait_until(
        lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
        what="alert",
    )[0]
    approver = sandbox.info()["slack"]["approver"]
    barrier = threading.Barrier(20)

    def clicker(user: dict[str, str], action: str) -> None:
        barrier.wait()
        click(sandbox, message, action, user=user, wait=None)

    threads = [
        threading.Thread(target=clicker, args=(user, f"{cards.SEND}_{n % 2}"))
        for user in (approver, SECOND_APPROVER)
        for n in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
    wait_until(
        lambda: all(d["acked"] for d in control(sandbox, "/_sandbox/slack/acks")[1]["deliveries"]),
        what="all clicks acked",
    )

    def statuses() -> list[str]:
        with running.store.db() as db:
            return [
                r[0]
                for r in db.execute(
                    "SELECT r.status FROM reply_outbox r JOIN items i ON i.id = r.item_id WHERE i.native_id = ?",
                    [tweet],
                ).fetchall()
            ]

    wait_until(lambda: statuses() == ["sent"], what="reply recorded as sent")
    running.send_replies()  # one more sender round: nothing left to send
    assert len(replies_on_x(sandbox, tweet)) == 1


def test_non_approver_is_refused_ephemerally_and_audited(sandbox, running):
    tweet = sandbox.add_mention("@brand I was charged twice for one order, fix it", handle="double")
    message = wait_until(
        lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
        what="alert",
    )[0]
    viewer = sandbox.info()["slack"]["non_approver"]
    click(sandbox, message, f"{cards.SEND}_0", user=viewer)
    click(sandbox, message, cards.EDIT, user=viewer)
    refusals = wait_until(
        lambda: [m for m in messages(sandbox) if m.get("ephemeral") and m.get("ephemeral_user") == viewer["id"]],
        what="ephemeral refusal",
    )
    assert "only approvers" in refusals[0]["text"]
    running.send_replies()
    assert replies_on_x(sandbox, tweet) == []
    refused = wait_until(
        lambda: (
            len(
                found := [
                    row
                    for row in audit_log.audit_rows(running.store, f"x:{tweet}")
                    if row["action"] == "action.refused"
                ]
            )
            == 2
            and found
        ),
        what="both refusals audited",
    )
    assert sorted((r["actor_id"], r["data"]["attempted"]) for r in refused) == [
        (viewer["id"], "edit"),
        (viewer["id"], "send"),
    ]
    # Anyone may assign or give feedback; those are audited under their name.
    click(sandbox, message, cards.ASSIGN, user=viewer)
    wait_until(lambda: inbox.item_by_key(running.store, f"x:{tweet}")["assigned_to"] == viewer["id"], what="assignment")


def test_edit_and_send_checks_the_length_then_sends_the_edited_text(sandbox, running):
    tweet = sandbox.add_mention("@brand the app keeps logging me out, can't get in", handle="logout")
    message = wait_until(
        lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
        what="alert",
    )[0]
    answer = click(sandbox, message, cards.EDIT)
    view = wait_until(
        lambda: [
            v
            for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]
            if v.get("trigger_id") == answer["trigger_id"]
        ],
        what="modal",
    )[0]
    item = inbox.item_by_key(running.store, f"x:{tweet}")
    prefilled = view["blocks"][1]["element"]["initial_value"]
    assert prefilled == cards.suggestions_of(item)[0]["text"]
    status, _ = control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {"view_id": view["id"], "values": {"reply": {"text": "好" * 141}}, "wait": 3},
    )
    assert status == 200
    errors = wait_until(
        lambda: [
            v
            for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]
            if v["id"] == view["id"] and v.get("errors")
        ],
        what="modal errors",
    )[0]["errors"]
    assert "282 of at most 280" in errors["reply"]  # X counts CJK characters twice
    assert replies_on_x(sandbox, tweet) == []
    edited = "So sorry! Please DM us your account email and we'll sort the logouts today."
    control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {"view_id": view["id"], "values": {"reply": {"text": edited}}, "wait": 3},
    )
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
    assert replies_on_x(sandbox, tweet)[0]["text"] == f"@logout {edited}"
    edits = [r["data"] for r in audit_log.audit_rows(running.store, f"x:{tweet}") if r["action"] == "reply.edited"]
    assert edits == [{**edits[0], "suggested": prefilled, "final": edited}]


def test_dismiss_with_reason_and_not_negative_feedback(sandbox, running):
    tweet = sandbox.add_mention("@brand I hate how addictive your app is, can't stop playing 😭", handle="fan")
    message = wait_until(
        lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
        what="alert",
    )[0]
    item = inbox.item_by_key(running.store, f"x:{tweet}")
    assert item["label"] == "negative"  # what the manager corrects
    click(sandbox, message, cards.NOT_NEGATIVE)
    wait_until(lambda: inbox.item_by_key(running.store, f"x:{tweet}")["feedback"] == "not_negative", what="feedback")
    assert [
        r["data"]["label"]
        for r in audit_log.audit_rows(running.store, f"x:{tweet}")
        if r["action"] == "feedback.not_negative"
    ] == ["negative"]
    answer = click(sandbox, message, cards.DISMISS)
    view = wait_until(
        lambda: [
            v
            for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]
            if v.get("trigger_id") == answer["trigger_id"]
        ],
        what="modal",
    )[0]
    control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {
            "view_id": view["id"],
            "values": {
                "reason": {"choice": {"type": "static_select", "selected_option": {"value": "no_reply"}}},
                "note": {"text": "a fan joking"},
            },
            "wait": 3,
        },
    )
    wait_until(lambda: inbox.item_by_key(running.store, f"x:{tweet}")["status"] == "dismissed", what="dismissal")
    updated = wait_until(
        lambda: [
            m for m in messages(sandbox) if m["ts"] == message["ts"] and "dismissed by" in json.dumps(m["blocks"])
        ],
        what="alert update",
    )[0]
    assert cards.SEND not in json.dumps(updated["blocks"])
    dismissed = [r for r in audit_log.audit_rows(running.store, f"x:{tweet}") if r["action"] == "item.dismissed"]
    assert dismissed[0]["data"]["reason"] == "no_reply"
    assert (
        reply_outbox.queue_reply(running.store, item["id"], text="hi", actor_id="U0SBXAPPR1", actor_name="a").status
        == "closed"
    )


def test_two_person_rule_needs_a_second_different_approver(sandbox, tmp_path):
    config = make_config(sandbox, tmp_path, two_person_rule=True)
    daemon = Daemon(config, notifier=None)
    daemon.start()
    try:
        tweet = sandbox.add_mention("@brand your update deleted all my notes, unacceptable", handle="notes")
        message = wait_until(
            lambda: [m for m in alert_messages(sandbox) if m["metadata"]["event_payload"]["item_key"] == f"x:{tweet}"],
            what="alert",
        )[0]
        click(sandbox, message, f"{cards.SEND}_0")
        pending = wait_until(
            lambda: [
                m for m in messages(sandbox) if m["ts"] == message["ts"] and cards.SECOND in json.dumps(m["blocks"])
            ],
            what="second approval button",
        )[0]
        daemon.send_replies()
        assert replies_on_x(sandbox, tweet) == []
        click(sandbox, pending, cards.SECOND)  # the same person again: not enough
        daemon.send_replies()
        assert replies_on_x(sandbox, tweet) == []
        click(sandbox, pending, cards.SECOND, user=SECOND_APPROVER)
        wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
        assert len(replies_on_x(sandbox, tweet)) == 1
    finally:
        assert daemon.interactions is not None and daemon._scheduler is not None
        daemon.shutdown()


# --- delivery under faults ---------------------------------------------------------------------------


def test_slack_429_and_500_storm_during_200_alerts_delivers_each_exactly_once(sandbox, config):
    sandbox.add_mentions(
        [
            {"text": f"@brand order #{n} never arrived, I want a refund now", "author": {"handle": f"storm{n}"}}
            for n in range(200)
        ]
    )
    daemon = Daemon(config, notifier=None)
    assert daemon.sources is not None
    mentions = next(s for s in daemon.sources if s.key.endswith(":mentions"))
    while (result := daemon.poll_source(mentions)) is not None and result.new:
        pass
    assert alert_outbox.outbox_depths(daemon.store)["alerts"] == 200
    control(sandbox, "/_sandbox/slack/config", {"rate_limits": {"chat.postMessage": {"limit": 40, "window": 1}}})
    sandbox.fault("slack", 500, path="chat.postMessage", count=15)
    sandbox.fault("slack", "disconnect", path="chat.postMessage", count=5)
    channel = daemon.channel
    assert isinstance(channel, SlackChannel)
    # A crash between Slack's answer and our DB write, for the first alert: posted, but not recorded.
    first = alert_outbox.due_alerts(daemon.store, utcnow() + timedelta(days=1), limit=1)[0]
    sandbox.clear_faults()
    alert_outbox.mark_alert_attempt(daemon.store, first["outbox_id"])
    channel.deliver(first)
    sandbox.fault("slack", 500, path="chat.postMessage", count=15)
    sandbox.fault("slack", "disconnect", path="chat.postMessage", count=5)
    clock = [utcnow()]
    rounds = 0
    while alert_outbox.outbox_depths(daemon.store)["alerts"] and rounds < 400:
        rounds += 1
        clock[0] += timedelta(minutes=15)  # every backoff has passed; Slack's own windows are real time
        if not dispatch_alerts(daemon.store, channel, now=clock[0], limit=50):
            time.sleep(0.05)
    assert alert_outbox.outbox_depths(daemon.store)["alerts"] == 0
    keys = [m["metadata"]["event_payload"]["item_key"] for m in alert_messages(sandbox)]
    assert len(keys) == 200 and len(set(keys)) == 200
    failures = [
        r for r in sandbox.requests_log("slack", path="/api/chat.postMessage") if r["status"] != 200 or r.get("fault")
    ]
    assert len(failures) >= 20  # the storm really happened


def test_unhealthy_source_is_announced_once_in_the_ops_channel(sandbox, config):
    daemon = Daemon(config, notifier=None)
    sandbox.revoke_x_token()
    poll_and_dispatch(daemon)
    poll_and_dispatch(daemon)
    ops = [m for m in messages(sandbox, "C0SBXOPS01") if "socialwatch: source" in m["text"]]
    assert len(ops) == 2  # mentions and DMs, once each
    assert all("unhealthy" in m["text"] for m in ops)
    assert "SANDBOX-X-USER-TOKEN" not in json.dumps(ops)  # never a secret in Slack


def test_console_channel_when_slack_is_not_configured(sandbox, config):
    config.slack = None
    out = io.StringIO()
    from socialwatch.alerts.console import ConsoleChannel

    daemon = Daemon(config, channel=ConsoleChannel(out), notifier=None)
    sandbox.add_mention("@brand <!channel> refund me now, awful", handle="console")
    poll_and_dispatch(daemon)
    assert "refund me now" in out.getvalue() and messages(sandbox) == []


def test_a_reply_needing_a_check_is_settled_by_a_person_never_resent_by_itself(sandbox, config):
    daemon = Daemon(config, notifier=None)
    daemon._connect_interactions()  # Socket Mode without the scheduler: this test drives the sender
    assert daemon.interactions is not None
    try:
        tweet = sandbox.add_mention("@brand my card was charged but the order was cancelled??", handle="charged")
        poll_and_dispatch(daemon)
        message = alert_for(sandbox, f"x:{tweet}")
        click(sandbox, message, f"{cards.SEND}_0")
        item_id = inbox.item_by_key(daemon.store, f"x:{tweet}")["id"]
        reply = wait_until(lambda: reply_outbox.latest_reply(daemon.store, item_id), what="reply queued")
        # What the sender does when the platform cannot tell whether a post went out: claim, then flag.
        assert reply_outbox.claim_reply(daemon.store, reply["id"], now=utcnow()) is not None
        reply_outbox.flag_reply(daemon.store, reply["id"], reason="X search failed after a timeout", now=utcnow())
        daemon.slack_channel.refresh(item_id)
        flagged = wait_until(
            lambda: [
                m
                for m in messages(sandbox)
                if m["ts"] == message["ts"] and f"{cards.RESOLVE}_resend" in json.dumps(m["blocks"])
            ],
            what="check",
        )[0]
        assert "needs a manual check" in json.dumps(flagged["blocks"])
        daemon.send_replies()
        assert replies_on_x(sandbox, tweet) == []  # never resent by itself
        assert alert_outbox.outbox_depths(daemon.store)["replies_need_check"] == 1  # and `socialwatch status` says so
        click(sandbox, flagged, f"{cards.RESOLVE}_resend", user=sandbox.info()["slack"]["non_approver"])
        daemon.send_replies()
        assert replies_on_x(sandbox, tweet) == []  # a viewer cannot decide it
        click(sandbox, flagged, f"{cards.RESOLVE}_resend")
        wait_until(lambda: reply_outbox.latest_reply(daemon.store, item_id)["status"] == "approved", what="resolved")
        daemon.send_replies()
        assert len(replies_on_x(sandbox, tweet)) == 1
        resolved = [r for r in audit_log.audit_rows(daemon.store, f"x:{tweet}") if r["action"] == "reply.resolved"]
        assert [(r["actor_id"], r["data"]["outcome"]) for r in resolved] == [("U0SBXAPPR1", "resend")]
    finally:
        daemon.shutdown()
