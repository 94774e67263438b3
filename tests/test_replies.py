"""The reply outbox end to end: real tweepy and facebook-sdk against the sandbox, every reply posted at most once.

Items are ingested by the real sources, replies queued as the Slack clicks queue them, and the
platforms' side is read back from the sandbox (what the brand posted, which requests arrived).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import builders
import pytest
import requests

from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.ingest import poll
from socialwatch.models import parse_time, utcnow
from socialwatch.replies import ReplySender, build_repliers, target_for
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sources import facebook, x
from socialwatch.store import audit_log, inbox, reply_outbox
from socialwatch.store.db import Store
from socialwatch.store.reply_outbox import VERIFY_NONE, VERIFY_REQUIRED, QueueResult

ALEX = ("U0SBXAPPR1", "alex.approver")
SAM = ("U0SBXAPPR2", "sam.second")


class Clock:
    """Real time plus an offset a test moves forward (the sandbox's rate-limit resets are real time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Env:
    sandbox: Sandbox
    config: Config
    store: Store
    clock: Clock = field(default_factory=Clock)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pipeline = Pipeline(self.config)
        self.sources = {s.stream: s for s in x.build(self.config) + facebook.build(self.config)}

    def ingest(self, *streams: str, backfill: timedelta = timedelta(hours=24)) -> None:
        for stream in streams:
            poll(self.sources[stream], self.store, self.pipeline, backfill=backfill)

    def item(self, platform: str, native_id: str) -> dict[str, Any]:
        item = inbox.item_by_key(self.store, f"{platform}:{native_id}")
        assert item is not None, f"{platform}:{native_id} was not ingested"
        return item

    def sender(self, **kwargs: Any) -> ReplySender:
        kwargs.setdefault("on_change", self.changes.append)
        return ReplySender(self.store, build_repliers(self.config), clock=self.clock, **kwargs)

    def queue(self, item: dict[str, Any], text: str, actor: tuple[str, str] = ALEX, **kwargs: Any) -> QueueResult:
        return reply_outbox.queue_reply(
            self.store, item["id"], text=text, actor_id=actor[0], actor_name=actor[1], **kwargs
        )

    def posts(self, method: str = "POST", path: str = "/2/tweets") -> list[dict[str, Any]]:
        return [r for r in self.sandbox.requests_log(method=method, path=path) if r["path"] == path]

    def actions(self, item: dict[str, Any]) -> list[str]:
        return [a["action"] for a in audit_log.audit_rows(self.store, f"{item['platform']}:{item['native_id']}")]


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> Iterator[Env]:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml"))
    config.daemon.http_timeout = 1.0
    yield Env(sandbox, config, Store(config.daemon.database))


def brand_replies(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.posted_x() + sandbox.posted_facebook()


# --- sending --------------------------------------------------------------------------------------


def test_each_kind_of_item_gets_exactly_one_reply_on_its_platform(env: Env) -> None:
    box = env.sandbox
    mention = box.add_mention("@SandboxBrand my parcel never arrived", handle="ann")
    dm = box.add_dm("where is my refund?", handle="bob")
    post = box.add_page_post("Our new menu is out")
    comment = box.add_comment("The soup was cold again", name="Cy", post_id=post)
    message = box.add_message("My booking disappeared", name="Di")
    env.ingest("mentions", "dms", "comments", "messenger")
    items = {
        "mention": env.item("x", mention),
        "dm": env.item("x", dm),
        "comment": env.item("facebook", comment),
        "messenger": env.item("facebook", message),
    }
    suggested = "Sorry to hear that."
    queued = {
        name: env.queue(item, f"Sorry {name}, we are on it", suggested_text=suggested, suggestion_kind="apologise")
        for name, item in items.items()
    }
    assert {r.status for r in queued.values()} == {"queued"}

    assert env.sender().send_due() == 4

    x_posted = {p["kind"]: p for p in box.posted_x()}
    fb_posted = {p["kind"]: p for p in box.posted_facebook()}
    assert len(box.posted_x()) == 2 and len(box.posted_facebook()) == 2
    assert x_posted["reply"]["in_reply_to"] == mention
    assert x_posted["dm"]["recipient_id"] == items["dm"]["author_id"]
    assert fb_posted["comment_reply"]["in_reply_to"] == comment
    assert fb_posted["message"]["recipient_id"] == items["messenger"]["author_id"]
    expected_ids = {
        "mention": x_posted["reply"]["id"],
        "dm": x_posted["dm"]["id"],
        "comment": fb_posted["comment_reply"]["id"],
        "messenger": fb_posted["message"]["id"],
    }
    for name, result in queued.items():
        assert result.reply is not None
        row = reply_outbox.reply(env.store, result.reply["id"])
        assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == expected_ids[name]
        item = inbox.item(env.store, items[name]["id"])
        assert item is not None and item["status"] == "replied" and item["first_reply_at"] == row["sent_at"]
        assert env.actions(item)[-4:] == ["reply.approved", "reply.edited", "reply.send_attempt", "reply.sent"]
    assert sorted(c["item_key"] for c in env.changes if c["status"] == "sent") == sorted(
        f"{i['platform']}:{i['native_id']}" for i in items.values()
    )
    assert audit_log.verify_audit(env.store).ok
    records = {r["item_key"]: r for r in audit_log.reply_records(env.store)}
    assert all(r["status"] == "sent" and r["sent_audit_seq"] for r in records.values()) and len(records) == 4
    # Nothing is due any more: a second round posts nothing.
    assert env.sender().send_due() == 0
    assert len(brand_replies(box)) == 4


def test_messenger_outside_the_24_hour_window_fails_clearly_and_is_not_retried(env: Env) -> None:
    message = env.sandbox.add_message("Hello? Anyone?", name="Eve", created_time=utcnow() - timedelta(days=2))
    env.ingest("messenger", backfill=timedelta(days=3))
    item = env.item("facebook", message)
    reply_id = env.queue(item, "Sorry for the wait, Eve").reply["id"]  # type: ignore[index]
    sender = env.sender()

    assert sender.send_due() == 0
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "failed"
    assert "24 hours" in row["last_error"] and "2018278" in row["last_error"]
    assert env.sandbox.posted_facebook() == []
    assert env.actions(item)[-1] == "reply.failed"
    assert [c["status"] for c in env.changes] == ["failed"]
    env.clock.advance(days=1)
    assert sender.send_due() == 0
    page_id = env.sandbox.info()["facebook"]["page_id"]
    assert len(env.posts(path=f"/v21.0/{page_id}/messages")) == 1  # the one refused attempt
    # A failed reply does not stand for the item: a manager may try again (e.g. with a message tag).
    again = env.queue(item, "Second try")
    assert again.status == "queued" and again.reply is not None
    assert again.reply["dedupe_key"] == f"facebook:{message}#1"


def test_concurrent_approvals_and_senders_post_one_reply(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand charged twice, again", handle="dora")
    env.ingest("mentions")
    item = env.item("x", mention)
    start = threading.Barrier(24)
    queued = threading.Event()
    results: list[QueueResult] = []
    errors: list[BaseException] = []

    def click(actor: tuple[str, str], n: int) -> None:
        try:
            start.wait()
            results.append(env.queue(item, f"Sorry Dora, refund on its way ({actor[1]} {n})", actor))
            queued.set()
        except BaseException as exc:  # surfaced below: a thread's assertion would otherwise vanish
            errors.append(exc)

    def send() -> None:
        try:
            sender = env.sender()  # its own clients, like another process
            start.wait()
            assert queued.wait(10)
            for _ in range(1000):
                sender.send_due()
                active = reply_outbox.active_reply_for(env.store, item["id"])
                if active is not None and active["status"] != "approved":
                    return  # claimed by someone: nothing left for this sender
            raise AssertionError("the reply was never claimed")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(actor, n)) for actor in (ALEX, SAM) for n in range(10)]
    threads += [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.status for r in results) == ["duplicate"] * 19 + ["queued"]
    winner = next(r.reply for r in results if r.status == "queued")
    assert winner is not None and {r.reply["id"] for r in results if r.reply} == {winner["id"]}
    # The senders may finish as soon as the row is claimed; the winner records "sent" before it returns.
    row = reply_outbox.reply(env.store, winner["id"])
    assert row is not None and row["status"] == "sent" and row["attempts"] == 1
    with env.store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM reply_outbox").fetchone()[0] == 1
    replies = env.sandbox.posted_x()
    assert len(replies) == 1 and replies[0]["in_reply_to"] == mention and replies[0]["id"] == row["platform_reply_id"]
    assert len(env.posts()) == 1
    assert env.actions(item).count("reply.send_attempt") == 1
    assert audit_log.verify_audit(env.store).ok


def test_two_person_rule(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand I will sue you", handle="fred")
    env.ingest("mentions")
    item = env.item("x", mention)
    sender = env.sender()
    first = env.queue(item, "Fred, please DM us your order number", needs_second=True)
    assert first.status == "awaiting_second" and first.reply is not None
    reply_id = first.reply["id"]
    assert sender.send_due() == 0 and env.posts() == []

    again = reply_outbox.second_approval(env.store, reply_id, actor_id=ALEX[0], actor_name=ALEX[1])
    assert again.status == "awaiting_second"
    assert sender.send_due() == 0 and env.posts() == []
    assert env.actions(item)[-1] == "action.refused"
    # Another manager's own click on the item does not start a second reply.
    assert env.queue(item, "Something else", SAM).status == "duplicate"

    second = reply_outbox.second_approval(env.store, reply_id, actor_id=SAM[0], actor_name=SAM[1])
    assert second.status == "queued" and second.reply is not None
    assert second.reply["second_approver"] == SAM[0] and second.reply["approved_by"] == ALEX[0]
    assert sender.send_due() == 1 and sender.send_due() == 0
    assert len(env.sandbox.posted_x()) == 1
    assert reply_outbox.second_approval(env.store, reply_id, actor_id="U3", actor_name="third").status == "duplicate"
    approvals = [
        a
        for a in audit_log.audit_rows(env.store, f"x:{mention}")
        if a["action"] in ("reply.requested", "reply.approved")
    ]
    assert [(a["action"], a["actor_name"]) for a in approvals] == [
        ("reply.requested", ALEX[1]),
        ("reply.approved", SAM[1]),
    ]
    assert approvals[1]["data"]["first_approver"] == ALEX[0]


# --- crashes ------------------------------------------------------------------------------------------


def run_killed_sender(env: Env) -> None:
    """The daemon's reply job in its own process, SIGKILLed right after the platform accepted the reply."""
    builders.run_killed_sender(env.config.source_path)


@pytest.mark.parametrize("kind", ["x-mention", "messenger"])
def test_crash_after_the_platform_accepted_is_reconciled_not_resent(env: Env, kind: str) -> None:
    if kind == "x-mention":
        native = env.sandbox.add_mention("@SandboxBrand the app logs me out", handle="gil")
        env.ingest("mentions")
        item, posted = env.item("x", native), env.sandbox.posted_x
    else:
        native = env.sandbox.add_message("Can I change my booking?", name="Gil")
        env.ingest("messenger")
        item, posted = env.item("facebook", native), env.sandbox.posted_facebook
    reply_id = env.queue(item, "Gil, a fix is rolling out today").reply["id"]  # type: ignore[index]

    run_killed_sender(env)
    assert len(posted()) == 1
    assert reply_outbox.reply(env.store, reply_id)["status"] == "sending"  # type: ignore[index]

    sender = env.sender()
    assert sender.reconcile() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == posted()[0]["id"]
    sent = [a for a in audit_log.audit_rows(env.store, row["item_key"]) if a["action"] == "reply.sent"]
    assert len(sent) == 1 and sent[0]["data"]["reconciled"] is True
    assert sender.send_due() == 0
    assert len(posted()) == 1
    assert inbox.item(env.store, item["id"])["status"] == "replied"  # type: ignore[index]
    assert audit_log.verify_audit(env.store).ok


def test_crash_when_the_platform_cannot_be_searched_needs_a_person(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand still no refund", handle="hal")
    env.ingest("mentions")
    item = env.item("x", mention)
    reply_id = env.queue(item, "Hal, the refund left today").reply["id"]  # type: ignore[index]
    run_killed_sender(env)
    brand = env.sandbox.info()["x"]["user_id"]
    env.sandbox.fault("x", 500, path="/2/tweets/search", count=20)
    env.sandbox.fault("x", 500, path=f"/2/users/{brand}/tweets", count=20)  # neither place can be read

    sender = env.sender()
    assert sender.reconcile() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "reconciling" and "could not check X" in row["last_error"]
    for _ in range(4):  # looked for again and again, never resent, then the approver is asked
        env.clock.advance(minutes=1)
        assert sender.send_due() == 0
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "needs_check"
    assert "still unclear after 5 looks" in row["needs_check_reason"] and "could not" in row["needs_check_reason"]
    assert [c["status"] for c in env.changes] == ["reconciling"] * 4 + ["needs_check"]
    env.sandbox.clear_faults()
    for _ in range(3):  # the search works again, the clock moves on: still never resent
        env.clock.advance(hours=1)
        assert sender.send_due() == 0 and sender.reconcile() == 0
    assert len(env.sandbox.posted_x()) == 1 and len(env.posts()) == 1
    assert not reply_outbox.cancel_reply(
        env.store, reply_id, actor_id=ALEX[0], actor_name=ALEX[1], reason="changed my mind"
    )
    # A person looks, finds it, and says so.
    posted_id = env.sandbox.posted_x()[0]["id"]
    settled = reply_outbox.resolve_reply(
        env.store, reply_id, outcome="sent", platform_reply_id=posted_id, actor_id=ALEX[0], actor_name=ALEX[1]
    )
    assert settled is not None and settled["status"] == "sent"
    assert inbox.item(env.store, item["id"])["status"] == "replied"  # type: ignore[index]
    assert audit_log.verify_audit(env.store).ok


def test_crash_before_the_platform_call_sends_once_after_reconcile(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand wrong size delivered", handle="ida")
    env.ingest("mentions")
    reply_id = env.queue(env.item("x", mention), "Ida, a swap is on its way").reply["id"]  # type: ignore[index]
    # Claimed (committed), then the process died before the request left: the row sits in 'sending'.
    assert reply_outbox.claim_reply(env.store, reply_id, now=env.clock()) is not None
    sender = env.sender()
    assert sender.send_due() == 0  # a row in 'sending' is never picked up as due

    assert sender.reconcile() == 1
    # X's search may lag: "not found" right after the attempt proves nothing, so it is looked for again.
    assert reply_outbox.reply(env.store, reply_id)["status"] == "reconciling"  # type: ignore[index]
    assert sender.send_due() == 0 and env.sandbox.posted_x() == []
    env.clock.advance(minutes=2)
    assert sender.send_due() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["attempts"] == 2
    assert [p["id"] for p in env.sandbox.posted_x()] == [row["platform_reply_id"]]


# --- platform errors ---------------------------------------------------------------------------------


def test_rate_limited_post_waits_for_the_reset_then_sends_once(env: Env) -> None:
    first = env.sandbox.add_mention("@SandboxBrand order 1 is late", handle="jo")
    second = env.sandbox.add_mention("@SandboxBrand order 2 is late", handle="kim")
    env.ingest("mentions")
    one = env.queue(env.item("x", first), "Jo, it ships tomorrow").reply["id"]  # type: ignore[index]
    two = env.queue(env.item("x", second), "Kim, it ships tomorrow").reply["id"]  # type: ignore[index]
    env.sandbox.fault("x", 429, path="/2/tweets", method="POST", seconds=120)
    sender = env.sender()

    assert sender.send_due() == 0
    row = reply_outbox.reply(env.store, one)
    assert row is not None and row["status"] == "approved" and "429" in row["last_error"]
    assert parse_time(row["next_attempt_at"]) > env.clock() + timedelta(seconds=100)
    assert reply_outbox.reply(env.store, two)["attempts"] == 0  # type: ignore[index]  # the account is paused, not asked again
    assert [c["id"] for c in env.changes] == [one] and env.actions(env.item("x", first))[-1] == "reply.deferred"
    assert sender.send_due() == 0
    assert len(env.posts()) == 1

    env.clock.advance(seconds=125)
    assert sender.send_due() == 2
    assert sorted(p["in_reply_to"] for p in env.sandbox.posted_x()) == sorted([first, second])
    assert len(env.posts()) == 3


def test_server_errors_are_retried_with_backoff_and_post_once(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand nothing works", handle="lee")
    env.ingest("mentions")
    reply_id = env.queue(env.item("x", mention), "Lee, we are on it").reply["id"]  # type: ignore[index]
    env.sandbox.fault("x", 500, path="/2/tweets", method="POST", count=3)
    sender = env.sender()
    for _ in range(3):
        assert sender.send_due() == 0
        row = reply_outbox.reply(env.store, reply_id)
        # A 5xx may follow the write on X: looked for (timeline, conversation) before it is sent again.
        assert row is not None and row["status"] == "reconciling" and "500" in row["last_error"]
        assert sender.send_due() == 0  # not yet due
        env.clock.advance(minutes=20)
    assert sender.send_due() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["attempts"] == 4
    assert len(env.sandbox.posted_x()) == 1 and len(env.posts()) == 4
    actions = env.actions(env.item("x", mention))
    assert actions.count("reply.reconciling") == 3 and actions.count("reply.reconciled") == 3


def test_server_errors_give_up_after_max_attempts(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand hello?", handle="max")
    env.ingest("mentions")
    reply_id = env.queue(env.item("x", mention), "Hi Max").reply["id"]  # type: ignore[index]
    env.sandbox.fault("x", 503, path="/2/tweets", method="POST", count=5)
    sender = env.sender(max_attempts=3)
    for _ in range(4):  # three attempts, and a last look that finds none of them on X
        sender.send_due()
        env.clock.advance(hours=1)
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "failed" and "gave up after 3 attempts" in row["last_error"]
    assert sender.send_due() == 0 and len(env.posts()) == 3 and env.sandbox.posted_x() == []


def _lose_first_post_response(session: requests.Session, path: str) -> None:
    """The platform posts, then the answer is lost on the way back (as a read timeout would lose it)."""
    state = {"armed": True}

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if state["armed"] and response.request.method == "POST" and path in (response.request.url or ""):
            state["armed"] = False
            raise requests.ConnectionError("connection reset while reading the response")

    session.hooks["response"].insert(0, hook)


@pytest.mark.parametrize("platform", ["x", "facebook"])
def test_post_whose_answer_was_lost_is_found_not_posted_again(env: Env, platform: str) -> None:
    if platform == "x":
        native = env.sandbox.add_mention("@SandboxBrand my card was declined", handle="ned")
        env.ingest("mentions")
        posted = env.sandbox.posted_x
    else:
        native = env.sandbox.add_comment("My card was declined", name="Ned", post_id=env.sandbox.add_page_post("Sale"))
        env.ingest("comments")
        posted = env.sandbox.posted_facebook
    reply_id = env.queue(env.item(platform, native), "Ned, please try again now").reply["id"]  # type: ignore[index]
    sender = env.sender()
    replier: Any = sender.repliers[(platform, "sandbox")]
    session = replier.client.client.session if platform == "x" else replier.client.graph.session
    _lose_first_post_response(session, "/2/tweets" if platform == "x" else "/comments")

    assert sender.send_due() == 0
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["verify_before_send"] == VERIFY_REQUIRED
    assert row["status"] == ("reconciling" if platform == "x" else "approved")
    assert len(posted()) == 1  # it did go out
    assert not reply_outbox.cancel_reply(env.store, reply_id, actor_id=ALEX[0], actor_name=ALEX[1], reason="too late?")
    env.clock.advance(minutes=5)
    assert sender.send_due() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == posted()[0]["id"]
    assert len(posted()) == 1


def test_post_dropped_before_the_platform_is_verified_then_sent_once(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand where is my order", handle="ola")
    env.ingest("mentions")
    reply_id = env.queue(env.item("x", mention), "Ola, it arrives Monday").reply["id"]  # type: ignore[index]
    env.sandbox.fault("x", "disconnect", path="/2/tweets", method="POST")
    sender = env.sender()
    assert sender.send_due() == 0
    assert reply_outbox.reply(env.store, reply_id)["verify_before_send"] == VERIFY_REQUIRED  # type: ignore[index]
    env.clock.advance(minutes=5)
    assert sender.send_due() == 1
    assert len(env.posts(method="GET", path="/2/tweets/search/recent")) == 1  # looked first
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["verify_before_send"] == VERIFY_NONE
    assert [p["id"] for p in env.sandbox.posted_x()] == [row["platform_reply_id"]]


def test_revoked_credentials_defer_with_a_long_backoff(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand hi", handle="pat")
    env.ingest("mentions")
    reply_id = env.queue(env.item("x", mention), "Hi Pat").reply["id"]  # type: ignore[index]
    env.sandbox.revoke_x_token(True)
    sender = env.sender()
    assert sender.send_due() == 0
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "approved" and "401" in row["last_error"]
    assert parse_time(row["next_attempt_at"]) >= env.clock() + timedelta(minutes=29)
    env.sandbox.revoke_x_token(False)
    env.clock.advance(minutes=31)
    assert sender.send_due() == 1 and len(env.sandbox.posted_x()) == 1


# --- queueing rules -----------------------------------------------------------------------------------


def test_dismissed_item_is_closed_and_cancelled_reply_frees_the_item(env: Env) -> None:
    first = env.sandbox.add_mention("@SandboxBrand spam spam", handle="quin")
    second = env.sandbox.add_mention("@SandboxBrand a real question", handle="rae")
    env.ingest("mentions")
    spam, question = env.item("x", first), env.item("x", second)
    with env.store.transaction() as db:
        db.execute("UPDATE items SET status = 'dismissed' WHERE id = ?", [spam["id"]])
    assert env.queue(spam, "Thanks!") == QueueResult("closed", None)

    queued = env.queue(question, "Good question, Rae")
    assert queued.reply is not None
    assert reply_outbox.cancel_reply(
        env.store, queued.reply["id"], actor_id=SAM[0], actor_name=SAM[1], reason="wrong tone"
    )
    assert reply_outbox.active_reply_for(env.store, question["id"]) is None
    retry = env.queue(question, "Great question, Rae")
    assert retry.status == "queued" and retry.reply is not None and retry.reply["dedupe_key"] == f"x:{second}#1"
    assert env.sender().send_due() == 1
    assert [p["text"] for p in env.sandbox.posted_x()] == ["@rae Great question, Rae"]
    assert not reply_outbox.cancel_reply(
        env.store, retry.reply["id"], actor_id=SAM[0], actor_name=SAM[1], reason="late"
    )


def test_acknowledgements_are_deduplicated_and_do_not_block_the_answer(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand my flight got cancelled", handle="sol")
    env.ingest("mentions")
    item = env.item("x", mention)
    key = f"ack:x:{item['conversation_id']}:{utcnow().date()}"
    ack = env.queue(item, "Thanks, a person will answer shortly", ("system", "system"), origin="ack", dedupe_key=key)
    assert ack.status == "queued"
    assert env.queue(item, "Thanks again", ("system", "system"), origin="ack", dedupe_key=key).status == "duplicate"
    assert reply_outbox.active_reply_for(env.store, item["id"]) is None
    answer = env.queue(item, "Sol, we rebooked you on the 18:05")
    assert answer.status == "queued"
    assert env.sender().send_due() == 2
    assert len(env.sandbox.posted_x()) == 2
    # Only the manager's reply answers the item (and would stop its SLA clock).
    row, sent = inbox.item(env.store, item["id"]), reply_outbox.reply(env.store, answer.reply["id"])  # type: ignore[index]
    assert row is not None and sent is not None and row["first_reply_at"] == sent["sent_at"]


def test_the_database_refuses_a_second_active_manager_reply(env: Env) -> None:
    mention = env.sandbox.add_mention("@SandboxBrand hey", handle="tom")
    env.ingest("mentions")
    item = env.item("x", mention)
    assert env.queue(item, "Hey Tom").status == "queued"
    with pytest.raises(sqlite3.IntegrityError), env.store.transaction() as db:
        db.execute(
            "INSERT INTO reply_outbox (item_id, dedupe_key, text, approved_by, approved_at, status, origin) "
            "VALUES (?, 'other-key', 'Hey again', 'U1', '2026-01-01T00:00:00Z', 'approved', 'manager')",
            [item["id"]],
        )


def test_target_for_reads_an_item_row(env: Env) -> None:
    dm = env.sandbox.add_dm("help", handle="uma")
    env.ingest("dms")
    target = target_for(env.item("x", dm))
    assert (target.kind, target.native_id, target.public, target.author_handle) == ("dm", dm, False, "uma")
