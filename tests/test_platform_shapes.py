"""The platforms' awkward shapes, end to end: real tweepy and facebook-sdk against the emulators, which
produce what X and Graph really send (DM events without ``participant_ids``, comments and posts without
``from``, messages with attachments and no text, errors that say they are not transient)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from socialwatch.alerts import cards
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.ingest import poll
from socialwatch.models import utcnow
from socialwatch.replies import ReplySender, build_repliers, target_for
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.sources import facebook, x
from socialwatch.store import audit_log, inbox, reply_outbox, streams
from socialwatch.store.db import Store

ALEX = ("U0SBXAPPR1", "alex.approver")


class Env:
    """The real sources and reply sender of a sandbox config, with a store of their own."""

    def __init__(self, sandbox: Sandbox, config: Config) -> None:
        self.sandbox, self.config = sandbox, config
        self.store = Store(config.daemon.database)
        self.pipeline = Pipeline(config)
        self.sources = {s.stream: s for s in x.build(config) + facebook.build(config)}

    def ingest(self, *streams: str) -> None:
        for stream in streams:
            poll(self.sources[stream], self.store, self.pipeline, backfill=timedelta(hours=24))

    def item(self, platform: str, native_id: str) -> dict[str, Any]:
        found = inbox.item_by_key(self.store, f"{platform}:{native_id}")
        assert found is not None, f"{platform}:{native_id} was not stored"
        return found

    def queue(self, item: dict[str, Any], text: str) -> int:
        result = reply_outbox.queue_reply(self.store, item["id"], text=text, actor_id=ALEX[0], actor_name=ALEX[1])
        assert result.reply is not None
        return int(result.reply["id"])

    def sender(self) -> ReplySender:
        return ReplySender(self.store, build_repliers(self.config))


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> Iterator[Env]:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml"))
    config.daemon.http_timeout = 2.0
    config.daemon.database = tmp_path / "sw.db"
    yield Env(sandbox, config)


# --- 1. X: a DM reply is found in the customer's own conversation --------------------------------------


def test_x_dm_events_say_their_conversation_and_never_their_participants(env: Env) -> None:
    """As X's OpenAPI has it: MessageCreate events carry dm_conversation_id, participant_ids only
    ParticipantsJoin/Leave (which the emulator never makes): asking for them changes nothing."""
    env.sandbox.add_dm("hello?", handle="pia")
    client = env.sources["dms"].client
    response = client.client.get_direct_message_events(
        dm_event_fields=["id", "text", "sender_id", "dm_conversation_id", "participant_ids", "event_type"],
        user_auth=client.user_auth,
    )
    [event] = [e.data for e in response.data]
    brand_id, _ = client.me()
    assert event["event_type"] == "MessageCreate" and "participant_ids" not in event
    assert event["dm_conversation_id"] == x.dm_conversation_id(brand_id, event["sender_id"])


def test_two_customers_sent_the_same_template_each_get_their_own_dm(env: Env) -> None:
    """A's DM is sent; B's reply, with the same template, was claimed when the sender died before calling
    X. Reconciling must not take A's DM for B's: B's reply is sent to B, once."""
    box = env.sandbox
    dm_a = box.add_dm("where is my refund?", handle="ana")
    dm_b = box.add_dm("my refund never came", handle="ben")
    env.ingest("dms")
    template = "Sorry about the wait: we have asked the payments team to check your refund today."
    item_a, item_b = env.item("x", dm_a), env.item("x", dm_b)
    reply_a = env.queue(item_a, template)
    assert env.sender().send_due() == 1
    reply_b = env.queue(item_b, template)
    claimed = reply_outbox.claim_reply(env.store, reply_b, now=utcnow())
    assert claimed is not None  # "sending": the process died here, before X was called

    sender = env.sender()
    assert sender.reconcile() == 1
    after = reply_outbox.reply(env.store, reply_b)
    assert after is not None and after["status"] == "approved", after  # surely not posted: send it
    assert sender.send_due() == 1

    dms = [p for p in box.posted_x() if p["kind"] == "dm"]
    assert sorted(p["recipient_id"] for p in dms) == sorted([item_a["author_id"], item_b["author_id"]])
    rows = {rid: reply_outbox.reply(env.store, rid) for rid in (reply_a, reply_b)}
    assert {r["status"] for r in rows.values() if r} == {"sent"}
    assert rows[reply_a]["platform_reply_id"] != rows[reply_b]["platform_reply_id"]  # type: ignore[index]
    to_b = next(p for p in dms if p["recipient_id"] == item_b["author_id"])
    assert rows[reply_b]["platform_reply_id"] == to_b["id"]  # type: ignore[index]
    assert audit_log.verify_audit(env.store).ok


def test_x_dm_reconcile_finds_the_reply_in_the_customers_conversation(env: Env) -> None:
    dm = env.sandbox.add_dm("is my order lost?", handle="cal")
    env.ingest("dms")
    item = env.item("x", dm)
    reply_id = env.queue(item, "Cal, it left the depot this morning.")
    claimed = reply_outbox.claim_reply(env.store, reply_id, now=utcnow())
    assert claimed is not None
    replier = build_repliers(env.config)[("x", "sandbox")]
    posted_id = replier.send_reply(target_for(item), "Cal, it left the depot this morning.")  # then it died
    assert env.sender().reconcile() == 1
    row = reply_outbox.reply(env.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == posted_id
    assert len([p for p in env.sandbox.posted_x() if p["kind"] == "dm"]) == 1


# --- 2. Facebook: an author Graph does not name is a person of their own -----------------------------------


def test_comments_without_from_are_each_their_own_unknown_person(env: Env) -> None:
    """Fifteen comments Graph gives without ``from``: fifteen people, no shared history, no "repeat
    contact" from strangers' complaints; the card says Facebook did not name them."""
    box = env.sandbox
    post = box.add_page_post("Our new app is live")
    box.set_facebook_hide_from("visitors")
    ids = [
        box.add_comment(f"the app crashed again and lost my order, useless #{n}", name=f"Person {n}", post_id=post)
        for n in range(15)
    ]
    env.ingest("comments")
    items = [env.item("facebook", cid) for cid in ids]
    assert len({i["author_key"] for i in items}) == 15
    assert all(i["author_id"].startswith("anonymous:") and i["author_name"] is None for i in items)
    with env.store.db() as db:
        contacts = [r[0] for r in db.execute("SELECT contacts FROM authors WHERE key LIKE 'facebook:anonymous:%'")]
    assert contacts == [1] * 15
    reasons = " ".join(i["reasons"] for i in items)
    assert "repeat contact" not in reasons
    assert len({i["priority"] for i in items}) == 1  # the 15th is triaged like the 1st
    author_line = cards.render(items[-1])["blocks"][1]["text"]["text"]
    assert "does not name" in author_line and "earlier contact" not in author_line.replace("no earlier", "")


def test_the_pages_own_comments_are_recognised_when_graph_names_nobody(env: Env) -> None:
    """With ``from`` withheld from everyone, the page's own comments are still not customers': an admin's
    comment by ``admin_creator``, and the reply socialwatch posted by its id."""
    box = env.sandbox
    post = box.add_page_post("Opening hours this weekend")
    customer = box.add_comment("are you open on Sunday?", name="Rae", post_id=post)
    env.ingest("comments")
    item = env.item("facebook", customer)
    reply_id = env.queue(item, "Yes, 10:00 to 16:00 on Sunday!")
    assert env.sender().send_due() == 1
    box.set_facebook_hide_from("all")
    admin = box.add_comment("See you there!", post_id=post, by_page=True)
    other = box.add_comment("and on Monday?", name="Sol", post_id=post)
    env.ingest("comments")
    posted_id = reply_outbox.reply(env.store, reply_id)["platform_reply_id"]  # type: ignore[index]
    for own in (posted_id, admin):
        assert inbox.item_by_key(env.store, f"facebook:{own}") is None, own
    assert env.item("facebook", other)["author_id"].startswith("anonymous:")


def test_a_messenger_message_without_from_is_from_the_other_participant(env: Env) -> None:
    box = env.sandbox
    box.set_facebook_hide_from("visitors")
    message = box.add_message("can I change my booking to Friday?", name="Uma")
    env.ingest("messenger")
    item = env.item("facebook", message)
    uma = next(c["participant"] for c in box.facebook_timeline()["conversations"])
    assert item["author_id"] == uma["id"]  # the one a reply must reach
    env.queue(item, "Of course, Uma: it is moved to Friday.")
    assert env.sender().send_due() == 1
    assert [p["recipient_id"] for p in box.posted_facebook()] == [uma["id"]]


# --- 3. Attachments: what a customer sent besides text is shown, and such items get a person -------------


def test_an_image_only_messenger_message_is_shown_and_needs_a_look(env: Env) -> None:
    box = env.sandbox
    message = box.add_message("", name="Ivy", attachments=[{"type": "image", "mime_type": "image/jpeg"}])
    sticker = box.add_message("", name="Ned", attachments=[{"type": "sticker"}])
    env.ingest("messenger")
    item = env.item("facebook", message)
    assert item["text"] == "" and item["label"] == "unscored"
    assert item["needs_reply"] == 1 and item["priority"] == "normal" and item["status"] == "open"
    assert json.loads(item["suggestions"]) == []  # nobody knows yet what it says: no canned reply
    [attachment] = json.loads(item["attachments"])
    assert attachment["kind"] == "image" and attachment["mime_type"] == "image/jpeg"
    card = cards.render(item)
    quote = card["blocks"][2]["text"]["text"]
    assert quote.startswith(":paperclip: sent an image (image/jpeg)") and f"<{attachment['url']}|open>" in quote
    assert ">" not in quote.replace(f"<{attachment['url']}|open>", "")  # no empty quote
    assert "sent an image (image/jpeg)" in card["text"]
    assert "someone needs to look at it" in json.dumps(card["blocks"])
    assert "sent a sticker" in cards.render(env.item("facebook", sticker))["text"]


def test_attachments_on_comments_and_posts_are_read(env: Env) -> None:
    box = env.sandbox
    post = box.add_page_post("Show us your setup!")
    photo = box.add_comment("it arrived like this", name="Kim", post_id=post, attachments=[{"type": "image"}])
    share = box.add_visitor_post("", name="Lou", attachments=[{"type": "share", "url": "https://example.org/review"}])
    env.ingest("comments", "feed")
    commented = env.item("facebook", photo)
    assert commented["text"] == "it arrived like this"
    [image] = json.loads(commented["attachments"])
    assert image["kind"] == "image" and image["mime_type"] == "image/jpeg" and image["url"].startswith("https://")
    assert commented["label"] != "unscored"  # there is text to read: scored as usual
    shared = env.item("facebook", share)
    [link] = json.loads(shared["attachments"])
    assert link == {"kind": "share", "url": "https://example.org/review", "name": "A shared page"}
    assert shared["needs_reply"] == 1


# --- 4. A Graph error that says it is not transient is not retried -------------------------------------


def test_a_non_transient_graph_error_is_not_retried_and_ops_read_facebooks_words(env: Env) -> None:
    box = env.sandbox
    page_id = box.info()["facebook"]["page_id"]
    box.fault(
        "facebook",
        400,
        path=f"/{page_id}/feed",
        count=10,
        code=368,
        is_transient=False,
        error_user_title="Temporarily blocked",
        error_user_msg="This Page is temporarily blocked from this action.",
    )
    events: list[tuple[str, dict[str, Any]]] = []
    env.config.slack = None
    daemon = Daemon(env.config, notifier=None, on_event=lambda e, d: events.append((e, d)))
    feed = next(s for s in daemon.sources or [] if s.key.endswith(":feed"))
    box.clear_requests()
    assert daemon.poll_source(feed) is None
    assert len(box.requests_log("facebook", path=f"/v21.0/{page_id}/feed")) == 1  # once, not three times
    [row] = [s for s in streams.sources(daemon.store) if s["source"] == feed.key]
    assert row["state"] == "failed" and not row["healthy"]
    assert "This Page is temporarily blocked from this action." in row["detail"]
    [announced] = [d for e, d in events if e == "unhealthy"]  # announced once
    ops = cards.ops_text("unhealthy", announced)  # what the ops channel reads
    assert feed.key in ops and "is failed" in ops and "This Page is temporarily blocked" in ops
    assert daemon.poll_source(feed) is None  # the next interval does not ask again
    assert len(box.requests_log("facebook", path=f"/v21.0/{page_id}/feed")) == 1
