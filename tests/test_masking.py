"""Card numbers and e-mail addresses never reach the Slack channel: the alert, its fallback text, the
Edit & send modal and the follow-ups in its thread show them masked; an approver sees the original on
demand in a private modal, and every reveal is audited. Real tweepy and slack_sdk against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import control
from test_slack import alert_for, click, make_config, messages, wait_until

from socialwatch.alerts import cards
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, inbox

CARD, EMAIL = "4111 1111 1111 1111", "jo.doe@example.com"
OUTSIDER = {"id": "U0SBXOUTSD", "name": "olly.outsider"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def running(sandbox: Sandbox, tmp_path: Path) -> Iterator[Daemon]:
    config: Config = make_config(sandbox, tmp_path)
    daemon = Daemon(config, notifier=None)
    daemon.start()
    assert daemon.interactions is not None
    try:
        yield daemon
    finally:
        daemon.shutdown()


def views_for(sandbox: Sandbox, trigger_id: str) -> list[dict[str, Any]]:
    return [v for v in control(sandbox, "/_sandbox/slack/views")[1]["views"] if v.get("trigger_id") == trigger_id]


def test_exposed_card_and_email_are_masked_everywhere_slack_shows_them(sandbox: Sandbox, running: Daemon) -> None:
    first = sandbox.add_mention(f"@brand charged twice on card {CARD}, mail me at {EMAIL}", handle="jodoe")
    alert = wait_until(lambda: _alert(sandbox, f"x:{first}"), what="alert")
    follow = sandbox.add_mention(f"@brand still nothing, I said {EMAIL}, card {CARD} !!", handle="jodoe")
    threaded = wait_until(lambda: _alert(sandbox, f"x:{follow}"), what="follow-up")
    assert threaded["thread_ts"] == alert["ts"]  # the follow-up went into the alert's thread

    answer = click(sandbox, alert, cards.EDIT)
    [edit] = wait_until(lambda: views_for(sandbox, answer["trigger_id"]), what="edit modal")

    everything = json.dumps([messages(sandbox), edit], ensure_ascii=False)
    assert CARD not in everything and CARD.replace(" ", "") not in everything and EMAIL not in everything
    assert "[card ••••1111]" in alert["text"] and "[email hidden]" in alert["text"]  # the fallback text
    assert "[card ••••1111]" in json.dumps(alert["blocks"], ensure_ascii=False)
    assert "[email hidden]" in threaded["text"]
    stored = inbox.item_by_key(running.store, f"x:{first}")
    assert stored is not None and CARD in stored["text"]  # the database keeps what the customer wrote


def test_an_approver_sees_the_original_in_a_private_modal_and_it_is_audited(sandbox: Sandbox, running: Daemon) -> None:
    tweet = sandbox.add_mention(f"@brand refund to {EMAIL} please, card {CARD}", handle="reveal")
    alert = wait_until(lambda: _alert(sandbox, f"x:{tweet}"), what="alert")
    buttons = [e["action_id"] for b in alert["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert cards.REVEAL in buttons

    refused = click(sandbox, alert, cards.REVEAL, user=OUTSIDER)
    wait_until(
        lambda: [a for a in audit_log.audit_rows(running.store, f"x:{tweet}") if a["action"] == "action.refused"],
        what="refusal",
    )
    assert views_for(sandbox, refused["trigger_id"]) == []  # an outsider sees nothing

    approver = sandbox.info()["slack"]["approver"]
    answer = click(sandbox, alert, cards.REVEAL)
    [view] = wait_until(lambda: views_for(sandbox, answer["trigger_id"]), what="reveal modal")
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert EMAIL in shown and CARD in shown and view["user"] == approver["id"]
    [entry] = [a for a in audit_log.audit_rows(running.store, f"x:{tweet}") if a["action"] == "item.revealed"]
    assert entry["actor_id"] == approver["id"] and entry["data"]["shown"] == ["card", "email"]
    assert CARD not in json.dumps(entry["data"])  # the audit names what was shown, never the data
    channel = json.dumps(messages(sandbox), ensure_ascii=False)
    assert EMAIL not in channel and CARD not in channel  # nothing was posted to the channel
    assert audit_log.verify_audit(running.store).ok


def test_an_alert_with_nothing_masked_has_no_reveal_button(sandbox: Sandbox, running: Daemon) -> None:
    tweet = sandbox.add_mention("@brand my parcel is two weeks late, awful", handle="plain")
    alert = wait_until(lambda: _alert(sandbox, f"x:{tweet}"), what="alert")
    assert cards.REVEAL not in json.dumps(alert["blocks"])


def _alert(sandbox: Sandbox, key: str) -> dict[str, Any] | None:
    try:
        return alert_for(sandbox, key)
    except AssertionError:
        return None
