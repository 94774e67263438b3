"""The alert card and the platforms' reply rules, through the real clients against the emulators: a reply in
the customer's language with its English meaning beside it, no Send where the platform would refuse
(Messenger's 24-hour window), and the acknowledgement of a private message in the customer's language."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import builders
import pytest
from sandbox_support import control

from socialwatch.alerts import buttons, cards, slack
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.models import utcnow
from socialwatch.sandbox import Sandbox
from socialwatch.sla import customer
from socialwatch.store import inbox, reply_outbox

SWAHILI = "Oda yangu haijafika bado na hakuna anayejibu simu"


def wait_until(predicate: Callable[[], Any], what: str) -> Any:
    return builders.wait_until(predicate, 10.0, what)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.daemon.database = tmp_path / "sw.db"
    config.daemon.http_timeout = 2.0
    config.x.accounts = []  # Messenger is the platform on the other side
    assert config.slack is not None
    config.slack.approvers = [sandbox.info()["slack"]["approver"]["id"]]
    return config


def alert(sandbox: Sandbox, text: str) -> dict[str, Any]:
    status, answer = control(sandbox, "/_sandbox/slack/messages")
    assert status == 200
    found = [m for m in answer["messages"] if not m.get("ephemeral") and text in json.dumps(m.get("blocks"))]
    return found[-1] if found else {}


def test_a_swahili_message_gets_swahili_suggestions_with_the_english_meaning(sandbox, config):
    daemon = Daemon(config, notifier=None)
    sandbox.add_message(SWAHILI, name="Juma Mwangi")
    for source in daemon.sources or []:
        daemon.poll_source(source)
    daemon.dispatch()
    message = alert(sandbox, "Oda yangu")
    blocks = message["blocks"]
    sections = [b for b in blocks if b.get("block_id", "").startswith("suggestion_")]
    assert sections and all("in Swahili" in b["text"]["text"] and "Habari Juma" in b["text"]["text"] for b in sections)
    meanings = [b for b in blocks if b["type"] == "context" and "_English:_" in json.dumps(b)]
    assert len(meanings) == len(sections) and all("Hi Juma" in json.dumps(b) for b in meanings)
    assert all(b.get("accessory", {}).get("action_id", "").startswith(cards.SEND) for b in sections)
    stored = inbox.item_by_key(daemon.store, message["metadata"]["event_payload"]["item_key"])
    assert stored is not None and all(s["lang"] == "sw" for s in cards.suggestions_of(stored))


def test_after_messengers_24_hours_no_send_is_offered_and_a_stale_click_posts_nothing(sandbox, config, monkeypatch):
    daemon = Daemon(config, notifier=None)
    daemon.start()
    try:
        sandbox.add_message("Hello, I was charged twice for my subscription. Can you help?", name="Olu Adeyemi")
        message = wait_until(lambda: alert(sandbox, "charged twice"), what="alert")
        assert cards.SEND in json.dumps(message["blocks"])  # inside the window: Send is offered
        later = utcnow() + timedelta(hours=25)
        monkeypatch.setattr(buttons, "utcnow", lambda: later)
        monkeypatch.setattr(slack, "utcnow", lambda: later)
        body = {"channel": message["channel"], "ts": message["ts"], "action_id": f"{cards.SEND}_0", "wait": 3}
        status, _ = control(sandbox, "/_sandbox/slack/actions", body)
        assert status == 200
        refusal = wait_until(
            lambda: [
                m for m in control(sandbox, "/_sandbox/slack/messages")[1]["messages"]
                if m.get("ephemeral") and "Not sent" in json.dumps(m)
            ],
            what="ephemeral refusal",
        )  # fmt: skip
        assert "24 hours" in json.dumps(refusal)
        key = message["metadata"]["event_payload"]["item_key"]
        item = inbox.item_by_key(daemon.store, key)
        assert item is not None and reply_outbox.latest_reply(daemon.store, int(item["id"])) is None
        rendered = daemon.channel.message_for(item)  # what a re-render shows now
        flat = json.dumps(rendered["blocks"])
        assert cards.SEND not in flat and cards.EDIT not in flat and "24 hours" in flat
        assert "suggestion_0" in flat  # the suggestions stay readable
    finally:
        daemon.shutdown()
    assert sandbox.posted_facebook() == []


def test_the_acknowledgement_of_a_private_message_is_in_the_customers_language(sandbox, config):
    config.ack.enabled = True
    daemon = Daemon(config, notifier=None)
    sandbox.add_message(SWAHILI, name="Juma Mwangi")
    for source in daemon.sources or []:
        daemon.poll_source(source)
    results = customer.acknowledge_pending(daemon.store, config, utcnow())
    assert [r.status for r in results] == ["queued"]
    assert results[0].text.startswith("Habari Juma, asante kwa ujumbe wako")
    assert "umefika kwa timu ya Sandbox Brand" in results[0].text and "Tutakujibu ndani ya" in results[0].text


@pytest.mark.parametrize("display", ["https://evil.example/login", "@SandboxCEO", "<!here>"])
def test_a_hostile_display_name_never_reaches_a_public_reply(sandbox, tmp_path, display):
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.daemon.database = tmp_path / "sw.db"
    config.facebook.pages = []
    assert config.slack is not None
    config.slack.approvers = [sandbox.info()["slack"]["approver"]["id"]]
    daemon = Daemon(config, notifier=None)
    daemon.start()
    try:
        tweet = sandbox.add_mention(
            f"@{sandbox.info()['x']['handle']} my refund never came", handle="hostile", name=display
        )
        message = wait_until(lambda: alert(sandbox, "my refund never came"), what="alert")
        body = {"channel": message["channel"], "ts": message["ts"], "action_id": f"{cards.SEND}_0", "wait": 3}
        assert control(sandbox, "/_sandbox/slack/actions", body)[0] == 200
        [reply] = wait_until(lambda: [p for p in sandbox.posted_x() if p.get("in_reply_to") == tweet], what="reply")
    finally:
        daemon.shutdown()
    posted = reply["text"]
    assert "evil" not in posted and "SandboxCEO" not in posted and "<!" not in posted, posted
    assert "Hi there." in posted
