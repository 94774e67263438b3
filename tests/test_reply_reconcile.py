"""A public X reply that went through but whose answer was lost (the connection dropped after the write, or a
503 after it), with search failing or lagging: never two public replies, never a live reply recorded as not
posted. The real tweepy client against the X emulator, whose clock the test moves (search lag is in its time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock

from socialwatch.alerts import cards
from socialwatch.config.load import load_config
from socialwatch.ingest import poll
from socialwatch.replies import ReplySender, build_repliers
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sources import x
from socialwatch.store import audit_log, inbox, reply_outbox
from socialwatch.store.db import Store

ALEX = ("U0SBXAPPR1", "alex.approver")


class World:
    """The X emulator on a fake clock, the store, and a sender on the same clock."""

    def __init__(self, sandbox: Sandbox, clock: FakeClock, tmp_path: Path) -> None:
        self.sandbox, self.fake = sandbox, clock
        self.config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml"))
        self.config.daemon.http_timeout = 2.0
        self.store = Store(self.config.daemon.database)
        self.changes: list[dict[str, Any]] = []
        self.sender = ReplySender(
            self.store, build_repliers(self.config), clock=self.now, on_change=self.changes.append
        )
        self.brand = sandbox.info()["x"]["user_id"]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.fake(), UTC)

    def advance(self, seconds: float) -> None:
        self.fake.advance(seconds)

    def mention_with_reply(self, text: str = "Sorry Ann, a refund is on its way") -> int:
        native = self.sandbox.add_mention("@SandboxBrand I was charged twice", handle="ann")
        [mentions] = [s for s in x.build(self.config) if s.stream == "mentions"]
        poll(mentions, self.store, Pipeline(self.config), backfill=timedelta(hours=1), now=self.now())
        item = inbox.item_by_key(self.store, f"x:{native}")
        assert item is not None
        queued = reply_outbox.queue_reply(
            self.store, item["id"], text=text, actor_id=ALEX[0], actor_name=ALEX[1], now=self.now()
        )
        assert queued.reply is not None
        return int(queued.reply["id"])

    def row(self, reply_id: int) -> dict[str, Any]:
        row = reply_outbox.reply(self.store, reply_id)
        assert row is not None
        return row

    def public_replies(self) -> list[dict[str, Any]]:
        return [p for p in self.sandbox.posted_x() if p["kind"] == "reply"]

    def timeline_down(self, count: int = 50) -> None:
        self.sandbox.fault("x", 500, path=f"/2/users/{self.brand}/tweets", count=count)

    def search_down(self, count: int = 50) -> None:
        self.sandbox.fault("x", 500, path="/2/tweets/search/recent", count=count)


@pytest.fixture
def world(clocked_sandbox: tuple[Sandbox, FakeClock], tmp_path: Path) -> Iterator[World]:
    sandbox, clock = clocked_sandbox
    yield World(sandbox, clock, tmp_path)


def test_the_emulator_loses_the_answer_after_writing_and_its_search_lags(world: World) -> None:
    world.sandbox.set_x_search_lag(40)
    world.sandbox.fault("x", "disconnect_after_write", path="/2/tweets", method="POST")
    reply_id = world.mention_with_reply()
    assert world.sender.send_due() == 0
    [posted] = world.public_replies()  # written, though the client heard nothing
    replier: Any = world.sender.repliers[("x", "sandbox")]
    client = replier.client
    query = f"conversation_id:{posted['conversation_id']} from:SandboxBrand"
    assert not client.client.search_recent_tweets(query, user_auth=client.user_auth).data  # not indexed yet
    timeline = client.client.get_users_tweets(world.brand, user_auth=client.user_auth).data
    assert [str(t.id) for t in timeline] == [posted["id"]]  # the timeline has no lag
    world.advance(41)
    assert [str(t.id) for t in client.client.search_recent_tweets(query, user_auth=client.user_auth).data] == [
        posted["id"]
    ]
    assert world.row(reply_id)["status"] == "reconciling"


@pytest.mark.parametrize("fault", ["disconnect_after_write", "503_after_write"])
def test_a_lost_answer_with_search_lagging_is_found_in_the_timeline_not_posted_twice(world: World, fault: str) -> None:
    world.sandbox.set_x_search_lag(45)
    world.sandbox.fault("x", fault, path="/2/tweets", method="POST")
    reply_id = world.mention_with_reply()
    assert world.sender.send_due() == 0
    row = world.row(reply_id)
    assert row["status"] == "reconciling"
    assert not reply_outbox.cancel_reply(world.store, reply_id, actor_id=ALEX[0], actor_name=ALEX[1], reason="x")
    world.advance(30)
    assert world.sender.send_due() == 1
    [posted] = world.public_replies()
    row = world.row(reply_id)
    assert (row["status"], row["platform_reply_id"]) == ("sent", posted["id"])
    assert inbox.item(world.store, row["item_id"])["status"] == "replied"  # type: ignore[index]
    assert audit_log.verify_audit(world.store).ok


def test_search_failing_and_timeline_failing_never_resend_and_ask_the_approver(world: World) -> None:
    world.sandbox.fault("x", "disconnect_after_write", path="/2/tweets", method="POST")
    world.timeline_down()
    world.search_down()
    reply_id = world.mention_with_reply()
    assert world.sender.send_due() == 0
    assert "nothing is resent meanwhile" in _status_line(world, reply_id)
    buttons = _action_ids(world, reply_id)
    assert not any(b.startswith((cards.SEND, cards.EDIT)) for b in buttons)  # no way to resend it
    for _ in range(10):  # ten minutes of looking: never a second post
        world.advance(60)
        world.sender.send_due()
    assert len(world.public_replies()) == 1
    assert len([r for r in world.sandbox.requests_log("x", method="POST") if r["path"] == "/2/tweets"]) == 1
    row = world.row(reply_id)
    assert row["status"] == "needs_check"  # the approver settles it in Slack (the needs-check card)
    assert "still unclear after 5 looks" in row["needs_check_reason"]
    statuses = [c["status"] for c in world.changes]
    assert statuses[-1] == "needs_check" and set(statuses[:-1]) == {"reconciling"}
    assert audit_log.verify_audit(world.store).ok  # the outbox and its chained entries agree at every step
    # The approver's card now asks them to settle it.
    assert "needs a manual check" in _status_line(world, reply_id)
    assert {f"{cards.RESOLVE}_{outcome}" for outcome in cards.RESOLUTIONS} <= _action_ids(world, reply_id)


def _card(world: World, reply_id: int) -> dict[str, Any]:
    row = world.row(reply_id)
    item = inbox.item(world.store, row["item_id"])
    assert item is not None
    return cards.render(item, state=cards.AlertState(reply=row, now=world.now()))


def _status_line(world: World, reply_id: int) -> str:
    [status] = [b for b in _card(world, reply_id)["blocks"] if b.get("block_id") == "status"]
    return str(status["text"]["text"])


def _action_ids(world: World, reply_id: int) -> set[str]:
    actions = [b for b in _card(world, reply_id)["blocks"] if b.get("type") == "actions"]
    return {element["action_id"] for block in actions for element in block["elements"]}


def test_duplicate_content_is_evidence_the_reply_is_live_never_failed(world: World) -> None:
    """503 after the write, the timeline down and search lagging longer than the settle time: the resend is
    refused as duplicate content, which is taken as "it is posted", and the live id is recorded once seen."""
    world.sandbox.set_x_search_lag(600)
    world.sandbox.fault("x", "503_after_write", path="/2/tweets", method="POST")
    world.timeline_down(count=4)  # the first looks fail, later ones answer
    reply_id = world.mention_with_reply()
    assert world.sender.send_due() == 0
    world.advance(120)  # past the settle time: the search (lagging) shows none, so it is tried once more
    world.sender.send_due()
    row = world.row(reply_id)
    assert row["status"] == "reconciling" and row["last_error"].startswith("duplicate content")
    assert row["status"] != "failed"
    posts = [r for r in world.sandbox.requests_log("x", method="POST") if r["path"] == "/2/tweets"]
    assert [p["status"] for p in posts] == [503, 403]  # the second was refused: X already has the text
    for _ in range(3):
        world.advance(30)
        world.sender.send_due()
    [posted] = world.public_replies()
    row = world.row(reply_id)
    assert (row["status"], row["platform_reply_id"]) == ("sent", posted["id"])
    assert audit_log.verify_audit(world.store).ok


def test_duplicate_content_on_the_first_attempt_looks_up_the_live_reply(world: World) -> None:
    """The text is already there (posted by an earlier attempt the outbox does not know about)."""
    reply_id = world.mention_with_reply()
    replier: Any = world.sender.repliers[("x", "sandbox")]
    row = world.row(reply_id)
    from socialwatch.replies import target_for

    live = replier.send_reply(target_for(row), row["text"])  # as if an earlier process had posted it
    assert world.sender.send_due() == 1
    row = world.row(reply_id)
    assert (row["status"], row["platform_reply_id"]) == ("sent", live)
    [sent] = [a for a in audit_log.audit_rows(world.store, row["item_key"]) if a["action"] == "reply.sent"]
    assert sent["data"]["evidence"] == "duplicate content"
    assert len(world.public_replies()) == 1
