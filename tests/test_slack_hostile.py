"""Hostile clicks and names through the sandbox, with the real slack_sdk (Web API and Socket Mode) and
tweepy: mrkdwn in display names, modals submitted by someone else, replayed and misplaced clicks, clicks
lost to a locked database, and edited replies that reach other accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_support import control
from test_slack import alert_for, click, make_config, messages, poll_and_dispatch, replies_on_x, wait_until

from socialwatch.alerts import cards
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, inbox


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Any) -> Config:
    return make_config(sandbox, tmp_path)


@pytest.fixture
def running(config: Config) -> Iterator[Daemon]:
    daemon = Daemon(config, notifier=None)
    daemon.start()
    assert daemon.interactions is not None, "Socket Mode did not connect"
    try:
        yield daemon
    finally:
        daemon.shutdown()


def alert_of(sandbox: Sandbox, tweet: str) -> dict[str, Any]:
    return wait_until(
        lambda: [
            m
            for m in messages(sandbox)
            if (m.get("metadata") or {}).get("event_payload", {}).get("item_key") == f"x:{tweet}"
            and not m.get("ephemeral")
        ],
        what="alert",
    )[0]


def view_for(sandbox: Sandbox, trigger_id: str) -> dict[str, Any]:
    return wait_until(
        lambda: [v for v in control(sandbox, "/_sandbox/slack/views")[1]["views"] if v.get("trigger_id") == trigger_id],
        what="modal",
    )[0]


def refusals(daemon: Daemon, key: str) -> list[dict[str, Any]]:
    return [row for row in audit_log.audit_rows(daemon.store, key) if row["action"] == "action.refused"]


def ephemerals(sandbox: Sandbox, user: str) -> list[dict[str, Any]]:
    return [m for m in messages(sandbox) if m.get("ephemeral") and m.get("ephemeral_user") == user]


# --- names -----------------------------------------------------------------------------------------


def test_mrkdwn_marks_in_a_display_name_cannot_leave_the_bold_author_line(sandbox, config):
    daemon = Daemon(config, notifier=None)
    tweet = sandbox.add_mention(
        "@brand my order never arrived", handle="mallory", name="Eve* *URGENT: wire 1000 EUR* _now_ ~x~ `y`"
    )
    poll_and_dispatch(daemon)
    author = alert_for(sandbox, f"x:{tweet}")["blocks"][1]["text"]["text"]
    bold, _, rest = author.partition(" @")
    # One bold span, opened and closed by us; the name's marks are inert look-alikes.
    assert bold.startswith("*") and bold.endswith("*") and bold.count("*") == 2, author
    assert not any(mark in bold[1:-1] + rest.split(" · ")[0] for mark in "*_~`")
    assert "\u2217URGENT: wire 1000 EUR\u2217" in bold and "\uff3fnow\uff3f" in bold
    assert cards.inert(cards.escape("a*b_c~d`e<f")) == "a\u2217b\uff3fc\u223cd\u02cbe&lt;f"


# --- modals submitted by someone else --------------------------------------------------------------


def test_a_non_approvers_dismiss_submission_is_refused_and_audited(sandbox, running):
    tweet = sandbox.add_mention("@brand you charged me twice, I want my money back", handle="twice")
    message = alert_of(sandbox, tweet)
    answer = click(sandbox, message, cards.DISMISS)  # an approver opens the modal
    view = view_for(sandbox, answer["trigger_id"])
    viewer = sandbox.info()["slack"]["non_approver"]
    control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {
            "view_id": view["id"],
            "user": viewer,
            "values": {"reason": {"choice": {"type": "static_select", "selected_option": {"value": "spam"}}}},
            "wait": 3,
        },
    )
    [refused] = wait_until(lambda: refusals(running, f"x:{tweet}"), what="refusal audited")
    assert (refused["actor_id"], refused["data"]["attempted"]) == (viewer["id"], "dismiss")
    assert inbox.item_by_key(running.store, f"x:{tweet}")["status"] != "dismissed"
    errors = next(v for v in control(sandbox, "/_sandbox/slack/views")[1]["views"] if v["id"] == view["id"])["errors"]
    assert "Only approvers" in errors[cards.REASON_BLOCK]
    assert replies_on_x(sandbox, tweet) == []
    assert audit_log.verify_audit(running.store).ok


# --- replayed and misplaced clicks -----------------------------------------------------------------


def manager_rows(daemon: Daemon, tweet: str) -> list[str]:
    with daemon.store.db() as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT r.status FROM reply_outbox r JOIN items i ON i.id = r.item_id WHERE i.native_id = ? "
                "AND r.origin = 'manager' ORDER BY r.id",
                [tweet],
            ).fetchall()
        ]


def test_a_replayed_send_click_after_a_failed_reply_is_refused_and_audited_never_posted(sandbox, running):
    tweet = sandbox.add_mention("@brand still no refund after three weeks", handle="replayed")
    message = alert_of(sandbox, tweet)
    sandbox.fault("x", 403, path="/2/tweets", method="POST")  # X refuses the reply: it fails for good
    answer = click(sandbox, message, f"{cards.SEND}_0")
    wait_until(lambda: manager_rows(running, tweet) == ["failed"], what="reply failed")
    sandbox.clear_faults()
    status, replay = control(sandbox, "/_sandbox/slack/actions/replay", {"delivery": answer["envelope_id"], "wait": 3})
    assert status == 200 and replay["delivery"]["acked"]
    approver = sandbox.info()["slack"]["approver"]["id"]
    [refused] = wait_until(lambda: refusals(running, f"x:{tweet}"), what="stale click audited")
    assert (refused["actor_id"], refused["data"]["attempted"]) == (approver, "send")
    assert "older state" in refused["data"]["reason"]
    assert any("older state" in m["text"] for m in ephemerals(sandbox, approver))
    running.send_replies()
    assert manager_rows(running, tweet) == ["failed"] and replies_on_x(sandbox, tweet) == []


def test_a_click_whose_item_is_not_the_messages_own_is_refused_and_audited(sandbox, running):
    first = sandbox.add_mention("@brand my card was charged twice", handle="first")
    second = sandbox.add_mention("@brand where is my parcel, it is a week late", handle="second")
    on_first = alert_of(sandbox, first)
    alert_of(sandbox, second)
    other = inbox.item_by_key(running.store, f"x:{second}")
    # The first alert's buttons, with values naming the second item (a client edited the payload).
    body = {"channel": on_first["channel"], "ts": on_first["ts"], "wait": 3}
    control(sandbox, "/_sandbox/slack/actions", {**body, "action_id": f"{cards.SEND}_0", "value": f"{other['id']}:0@0"})
    control(sandbox, "/_sandbox/slack/actions", {**body, "action_id": cards.ASSIGN, "value": str(other["id"])})
    found = wait_until(lambda: len(rows := refusals(running, f"x:{second}")) == 2 and rows, what="refusals")
    assert sorted(r["data"]["attempted"] for r in found) == ["assign", "send"]
    assert all("does not belong" in r["data"]["reason"] for r in found)
    running.send_replies()
    assert replies_on_x(sandbox, second) == [] and replies_on_x(sandbox, first) == []
    assert (
        manager_rows(running, second) == [] and inbox.item_by_key(running.store, f"x:{second}")["assigned_to"] is None
    )
    # The same buttons with their own values still work.
    click(sandbox, on_first, f"{cards.SEND}_0")
    wait_until(lambda: replies_on_x(sandbox, first), what="reply to the first")
