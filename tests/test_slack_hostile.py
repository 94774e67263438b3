"""Hostile clicks and names through the sandbox, with the real slack_sdk (Web API and Socket Mode) and
tweepy: mrkdwn in display names, modals submitted by someone else, replayed and misplaced clicks, clicks
lost to a locked database, and edited replies that reach other accounts."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import builders
import pytest
from sandbox_support import control
from test_slack import alert_for, click, make_config, messages, poll_and_dispatch, replies_on_x, wait_until

from socialwatch.alerts import cards
from socialwatch.alerts.buttons import reach_of as cards_reach
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, inbox
from socialwatch.store import db as store_db
from socialwatch.store.db import Store


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Any) -> Config:
    return make_config(sandbox, tmp_path)


@pytest.fixture
def running(config: Config) -> Iterator[Daemon]:
    with builders.running_daemon(config) as daemon:
        yield daemon


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
    edit = view_for(sandbox, click(sandbox, message, cards.EDIT)["trigger_id"])  # opened before the failure
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
    # The Edit & send modal opened from the card before the failure is as old as that card.
    submit(sandbox, edit["id"], {"reply": {"text": "So sorry! We are on it."}})
    wait_until(lambda: len(refusals(running, f"x:{tweet}")) == 2, what="stale edit audited")
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


# --- clicks the database cannot take -----------------------------------------------------------------


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked database answers in 0.2 s instead of 30 (the production busy timeout)."""
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 200)


def lock_database(daemon: Daemon) -> sqlite3.Connection:
    """Another writer holds the write lock (a backup, a long VACUUM, a stuck process)."""
    holder = sqlite3.connect(daemon.store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_send_click_while_the_database_is_locked_is_told_retried_and_sent_once(sandbox, running, short_busy_timeout):
    assert running.interactions is not None
    running.interactions.retries.delays = (0.5, 0.5, 0.5, 0.5, 0.5, 0.5)
    tweet = sandbox.add_mention("@brand my account was locked for no reason", handle="locked")
    message = alert_of(sandbox, tweet)
    approver = sandbox.info()["slack"]["approver"]["id"]
    holder = lock_database(running)
    try:
        answer = click(sandbox, message, f"{cards.SEND}_0")
        assert answer["delivery"]["acked_in_time"]  # Slack was told all is well: only we remember it
        told = wait_until(lambda: [m for m in ephemerals(sandbox, approver) if "could not be saved" in m["text"]])
        assert "database is locked" in told[0]["text"] and "Nothing is sent yet" in told[0]["text"]
        assert manager_rows(running, tweet) == [] and replies_on_x(sandbox, tweet) == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X after the retry")
    wait_until(lambda: [m for m in ephemerals(sandbox, approver) if "went through now" in m["text"]], what="told")
    # The daemon's own reply job may hold the row ("sending") between X's answer and the commit: wait for
    # the outcome rather than read it mid-write.
    running.send_replies()
    wait_until(lambda: manager_rows(running, tweet) == ["sent"], what="the reply recorded as sent")
    assert len(replies_on_x(sandbox, tweet)) == 1


def test_a_click_given_up_on_a_locked_database_is_told_and_audited_once_it_is_back(
    sandbox, running, short_busy_timeout
):
    assert running.interactions is not None
    running.interactions.retries.delays = (0.2, 0.2)
    tweet = sandbox.add_mention("@brand the refund never came through", handle="givenup")
    message = alert_of(sandbox, tweet)
    approver = sandbox.info()["slack"]["approver"]["id"]
    holder = lock_database(running)
    try:
        click(sandbox, message, f"{cards.SEND}_0")
        wait_until(lambda: [m for m in ephemerals(sandbox, approver) if "was given up" in m["text"]], what="given up")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    [lost] = wait_until(
        lambda: [r for r in audit_log.audit_rows(running.store, f"x:{tweet}") if r["action"] == "action.lost"],
        what="lost click audited",
    )
    assert (lost["actor_id"], lost["data"]["attempted"], lost["data"]["tries"]) == (approver, "Send click", 3)
    running.send_replies()
    assert manager_rows(running, tweet) == [] and replies_on_x(sandbox, tweet) == []
    assert audit_log.verify_audit(running.store).ok


def test_a_full_disk_is_a_store_unavailable_error_and_nothing_of_the_write_is_kept(tmp_path):
    """A real full disk: the writing process may not grow any file (RLIMIT_FSIZE), as on a full volume."""
    path = tmp_path / "sw.db"
    Store(path).close()
    script = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from socialwatch.store.db import Store, StoreUnavailable
from socialwatch.store import audit_log
store = Store({str(path)!r})
limit = 64 * 1024  # the WAL, where every write goes first, may not grow past 64 KiB
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    audit_log.append_audit(store, "test.big", details={{"blob": "x" * 2_000_000}})
except StoreUnavailable as exc:
    print("unavailable:", exc.reason)
    sys.exit(0)
print("written")
sys.exit(1)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("unavailable:")
    store = Store(path)
    assert [r for r in audit_log.audit_rows(store, None) if r["action"] == "test.big"] == []


# --- edited replies that reach other accounts -----------------------------------------------------------


def submit(sandbox: Sandbox, view_id: str, values: dict[str, Any]) -> None:
    status, answer = control(sandbox, "/_sandbox/slack/views/submit", {"view_id": view_id, "values": values, "wait": 3})
    assert status == 200, answer


def current_view(sandbox: Sandbox, view_id: str) -> dict[str, Any]:
    return next(v for v in control(sandbox, "/_sandbox/slack/views")[1]["views"] if v["id"] == view_id)


def test_an_edited_reply_that_mentions_others_or_adds_links_is_confirmed_before_it_is_sent(sandbox, running):
    tweet = sandbox.add_mention("@brand the app crashes whenever I open settings", handle="crashy")
    message = alert_of(sandbox, tweet)
    view = view_for(sandbox, click(sandbox, message, cards.EDIT)["trigger_id"])
    risky = "@crashy So sorry! @SandboxCEO will call you, or log in at evil.example/login to fix it."
    submit(sandbox, view["id"], {"reply": {"text": risky}})
    asking = wait_until(lambda: "reach" in json.dumps(current_view(sandbox, view["id"])["blocks"]), what="confirm")
    assert asking
    shown = current_view(sandbox, view["id"])
    flat = json.dumps(shown["blocks"])
    assert "@sandboxceo" in flat and "evil.example/login" in flat and "@crashy`" not in flat  # the customer is no extra
    assert shown["status"] == "open" and replies_on_x(sandbox, tweet) == []
    # Not ticked: the box is a required input, so Slack itself refuses the submission.
    status, _ = control(sandbox, "/_sandbox/slack/views/submit", {"view_id": view["id"], "values": {"reply": risky}})
    assert status == 422
    # A further edit that reaches someone new is asked about again, even with the box ticked.
    further = risky + " cc @another"
    submit(sandbox, view["id"], {"reply": {"text": further}, "confirm": {"checked": ["yes"]}})
    wait_until(lambda: "@another" in json.dumps(current_view(sandbox, view["id"])["blocks"]), what="asked again")
    running.send_replies()
    assert replies_on_x(sandbox, tweet) == []
    submit(sandbox, view["id"], {"reply": {"text": further}, "confirm": {"checked": ["yes"]}})
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
    assert replies_on_x(sandbox, tweet)[0]["text"].endswith("cc @another")


def test_a_plain_edit_and_a_suggestions_own_link_need_no_confirmation(sandbox, running):
    tweet = sandbox.add_mention("@brand my parcel never arrived, where is it", handle="plain")
    message = alert_of(sandbox, tweet)
    view = view_for(sandbox, click(sandbox, message, cards.EDIT)["trigger_id"])
    submit(sandbox, view["id"], {"reply": {"text": "@plain So sorry, please DM us the order number."}})
    wait_until(lambda: replies_on_x(sandbox, tweet), what="reply on X")
    assert "reach" not in json.dumps(current_view(sandbox, view["id"])["blocks"])
    item = {"author_handle": "plain"}
    suggested = "Sorry! See https://help.example.com/orders or DM us."
    assert cards_reach(item, "Sorry! See https://help.example.com/orders now.", suggested) == []
    assert cards_reach(item, "Sorry! See https://help.example.com/orders or evil.com/orders", suggested) == [
        "evil.com/orders"
    ]
