"""Reply privately, from Slack: the button on the alert of a public Instagram or Facebook comment, its
modal (the platform's message limit, counted as it counts), and one private message to the commenter.

Real slack_sdk (Web API and Socket Mode) and facebook-sdk against the sandbox's emulators.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import builders
import pytest
from sandbox_support import control

from socialwatch.alerts import cards
from socialwatch.alerts.private_reply import PRIVATE_VIEW
from socialwatch.config.load import load_config
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, inbox

TAMIL = "உங்கள் ஆர்டர் தாமதமானதற்கு மன்னிக்கவும், நாங்கள் இன்றே சரிசெய்கிறோம். "  # 3 bytes a letter in UTF-8


def wait_until(predicate: Callable[[], Any], what: str) -> Any:
    return builders.wait_until(predicate, 10.0, what)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def running(sandbox: Sandbox, tmp_path: Path) -> Iterator[Daemon]:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.daemon.database = tmp_path / "sw.db"
    config.x.accounts = []
    with builders.running_daemon(config) as daemon:
        yield daemon


def alert(sandbox: Sandbox, key: str) -> dict[str, Any]:
    def find() -> list[dict[str, Any]]:
        return [
            m
            for m in control(sandbox, "/_sandbox/slack/messages")[1]["messages"]
            if (m.get("metadata") or {}).get("event_payload", {}).get("item_key") == key and not m.get("ephemeral")
        ]

    return wait_until(find, f"the alert for {key}")[0]


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def open_modal(sandbox: Sandbox, message: dict[str, Any]) -> dict[str, Any]:
    status, answer = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": message["channel"], "ts": message["ts"], "action_id": cards.PRIVATE, "wait": 3},
    )
    assert status == 200, answer
    return wait_until(
        lambda: [
            v
            for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]
            if v.get("trigger_id") == answer["trigger_id"]
        ],
        "the Reply privately modal",
    )[0]


def submit(sandbox: Sandbox, view: dict[str, Any], text: str) -> None:
    status, _ = control(
        sandbox, "/_sandbox/slack/views/submit", {"view_id": view["id"], "values": {"reply": {"text": text}}, "wait": 3}
    )
    assert status == 200


def test_reply_privately_to_an_instagram_comment_from_slack(sandbox, running):
    comment = sandbox.add_ig_comment("You charged my card 4111 1111 1111 1111 twice! Order 99812", username="nia")
    message = alert(sandbox, f"instagram:{comment}")
    assert cards.PRIVATE in buttons(message) and cards.EDIT in buttons(message)
    assert "Instagram comment (public)" in message["blocks"][0]["text"]["text"]
    view = open_modal(sandbox, message)
    assert view["callback_id"] == PRIVATE_VIEW and "1000 bytes" in json.dumps(view["blocks"])
    # 400 Tamil letters are under 1,000 characters but over Instagram's 1,000 bytes.
    long_tamil = (TAMIL * 8)[:400]
    assert len(long_tamil) < 1000 < len(long_tamil.encode())
    submit(sandbox, view, long_tamil)
    errors = wait_until(
        lambda: [
            v
            for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]
            if v["id"] == view["id"] and v.get("errors")
        ],
        "the modal's error",
    )[0]["errors"]
    assert f"{len(long_tamil.encode())} of at most 1000 bytes" in errors["reply"]
    assert sandbox.posted_instagram() == []
    text = TAMIL.strip()
    submit(sandbox, view, text)
    [sent] = wait_until(sandbox.posted_instagram, "the private reply on Instagram")
    assert (sent["kind"], sent["comment_id"], sent["text"]) == ("private_reply", comment, text)
    updated = wait_until(
        lambda: [
            m
            for m in control(sandbox, "/_sandbox/slack/messages")[1]["messages"]
            if m["ts"] == message["ts"] and "a private reply" in json.dumps(m["blocks"])
        ],
        "the alert updated",
    )[0]
    assert cards.PRIVATE not in buttons(updated) and cards.EDIT not in buttons(updated)
    item = inbox.item_by_key(running.store, f"instagram:{comment}")
    approvals = [
        r for r in audit_log.audit_rows(running.store, f"instagram:{comment}") if r["action"] == "reply.approved"
    ]
    assert approvals[0]["data"]["private"] is True and item["status"] == "replied"
    # The button is gone: nothing can be sent a second time.
    status, _ = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": message["channel"], "ts": message["ts"], "action_id": cards.PRIVATE},
    )
    assert status == 404
    running.send_replies()
    assert len(sandbox.posted_instagram()) == 1


def test_reply_privately_to_a_facebook_comment_and_not_to_a_dm(sandbox, running):
    post = sandbox.add_page_post("Opening hours this week")
    comment = sandbox.add_comment("My booking ref is AB1234 and nobody called back, terrible", name="Ola", post_id=post)
    message = sandbox.add_message("Where is my refund? Still waiting, awful service", name="Pim")
    comment_alert = alert(sandbox, f"facebook:{comment}")
    assert cards.PRIVATE not in buttons(alert(sandbox, f"facebook:{message}"))  # a DM is private already
    view = open_modal(sandbox, comment_alert)
    assert "2000 characters" in json.dumps(view["blocks"])
    prefilled = view["blocks"][1]["element"]["initial_value"]
    assert prefilled and "private message" not in prefilled  # not "please DM us" inside a DM
    submit(sandbox, view, "Hi Ola, we are calling you back within the hour.")
    [sent] = wait_until(
        lambda: [p for p in sandbox.posted_facebook() if p["kind"] == "private_reply"], "the private reply"
    )
    assert sent["comment_id"] == comment
