"""Instagram end to end: the real facebook-sdk client against the sandbox's Graph emulator.

Comments (with replies), tagged media and DMs in; public replies, DM replies inside Instagram's
messaging window (and refused outside it), private replies to comments (Instagram and Facebook),
each posted at most once and reconciled after a crash; `check`, `status` and the config.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import builders
import pytest
from click.testing import CliRunner

from socialwatch.alerts.buttons import check_reply
from socialwatch.alerts.console import ConsoleChannel
from socialwatch.alerts.slack import route
from socialwatch.cli import main
from socialwatch.config.load import ConfigError, load_config
from socialwatch.config.schema import Config, SlackConfig
from socialwatch.config.suggestions import SuggestionsConfig
from socialwatch.daemon import Daemon
from socialwatch.ingest import poll
from socialwatch.models import AuthorHistory, Kind, utcnow
from socialwatch.replies import ReplySender, build_repliers, target_for
from socialwatch.reports import summary
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.scoring.replies import platforms, suggest
from socialwatch.sources.base import Source
from socialwatch.store import inbox, reply_outbox, streams
from socialwatch.store.db import Store

ALEX = ("U0SBXAPPR1", "alex.approver")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(slack=False) as box:
        yield box


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.daemon.http_timeout = 2.0
    config.slack = None
    return config


@pytest.fixture
def daemon(config: Config) -> Daemon:
    return Daemon(config, channel=ConsoleChannel(io.StringIO()))


def stream(daemon: Daemon, name: str) -> Source:
    assert daemon.sources is not None
    return next(s for s in daemon.sources if s.key == f"instagram:sandbox:{name}")


def rows(daemon: Daemon, kind: str | None = None) -> dict[str, dict[str, Any]]:
    with daemon.store.db() as db:
        sql = "SELECT * FROM items WHERE platform = 'instagram'" + (" AND kind = ?" if kind else "")
        return {r["native_id"]: dict(r) for r in db.execute(sql, [kind] if kind else []).fetchall()}


def replier(config: Config) -> Any:
    return build_repliers(config)[("instagram", "sandbox")]


def queue(daemon: Daemon, item: dict[str, Any], text: str, **kwargs: Any) -> int:
    result = reply_outbox.queue_reply(
        daemon.store, item["id"], text=text, actor_id=ALEX[0], actor_name=ALEX[1], **kwargs
    )
    assert result.status == "queued" and result.reply is not None
    return int(result.reply["id"])


# --- streams --------------------------------------------------------------------------------------


def test_comments_replies_mentions_and_dms_are_stored_once_and_the_brand_is_never_an_item(sandbox, daemon):
    media = sandbox.add_ig_media("Our autumn collection is here")
    comment = sandbox.add_ig_comment("Ordered 3 weeks ago, still nothing. Order 55123", username="jo", media_id=media)
    reply = sandbox.add_ig_comment("same here, no answer", username="amy", parent_id=comment)
    hidden = [sandbox.add_ig_comment(f"who wrote this {i}?", username=None, media_id=media) for i in range(2)]
    mention = sandbox.add_ig_mention("my new boots already broke", username="kim")
    dm = sandbox.add_ig_dm("Where is my refund?", username="lee")
    picture = sandbox.add_ig_dm("", username="lee", attachments=[{"type": "image"}, {"type": "file", "name": "a.pdf"}])
    daemon.poll_once()
    items = rows(daemon)
    assert set(items) == {comment, reply, *hidden, mention, dm, picture}
    assert items[comment]["kind"] == "comment" and items[comment]["author_handle"] == "jo"
    assert items[comment]["in_reply_to"] == media and items[reply]["in_reply_to"] == comment
    assert items[reply]["conversation_id"] == media and items[comment]["url"].startswith("https://www.instagram.com/p/")
    assert items[mention]["kind"] == "mention" and items[mention]["author_handle"] == "kim"
    assert "@sandboxbrand" in items[mention]["text"]
    assert items[dm]["kind"] == "dm" and items[dm]["public"] == 0
    # Attachments are kept (as on Messenger), and an image-only DM is not an empty one.
    kept = [(a["kind"], a.get("name")) for a in json.loads(items[picture]["attachments"])]
    assert items[picture]["text"] == "" and kept == [("image", "image-1.jpg"), ("file", "a.pdf")]
    # Two comments without a visible author are two people, never one "unknown" customer.
    assert len({items[h]["author_id"] for h in hidden}) == 2
    assert all(items[h]["author_id"] == f"anonymous:{h}" for h in hidden)

    # The brand answers on every stream; none of its answers comes back as an item.
    target = replier(daemon.config)
    for native in (comment, mention, dm):
        target.send_reply(target_for(inbox.item_by_key(daemon.store, f"instagram:{native}")), "So sorry, on it!")
    target.send_reply(target_for({**items[hidden[0]], "private_reply": 0}), "Thanks for telling us")
    assert len(sandbox.posted_instagram()) == 4
    daemon.poll_once()
    assert set(rows(daemon)) == set(items)
    with daemon.store.db() as db:
        received = db.execute("SELECT COUNT(*) FROM audit WHERE action = 'item.received'").fetchone()[0]
    assert received >= len(items)
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    assert {f"instagram:sandbox:{name}" for name in ("comments", "mentions", "dms")} <= set(health)


def test_comments_on_media_older_than_the_window_are_not_read(sandbox, config):
    config.instagram.accounts[0].comment_window_days = 2
    daemon = Daemon(config, channel=ConsoleChannel(io.StringIO()))
    old = sandbox.add_ig_media("Summer sale", created_time=utcnow() - timedelta(days=5))
    recent = sandbox.add_ig_media("Autumn sale")
    on_old = sandbox.add_ig_comment("is this still on?", username="pat", media_id=old)
    on_recent = sandbox.add_ig_comment("is this still on?", username="pat", media_id=recent)
    sandbox.clear_requests()
    daemon.poll_source(stream(daemon, "comments"))
    assert set(rows(daemon)) == {on_recent} and on_old not in rows(daemon)
    [request] = sandbox.requests_log("facebook", path=f"/v21.0/{sandbox.info()['instagram']['ig_user_id']}/media")
    assert int(request["query"]["since"]) >= int((utcnow() - timedelta(days=2, minutes=1)).timestamp())


def test_new_comments_on_old_posts_arrive_on_the_next_poll_and_an_idle_poll_is_one_request(sandbox, daemon):
    media = sandbox.add_ig_media("Launch day")
    first = sandbox.add_ig_comment("love it", username="ana", media_id=media)
    comments = stream(daemon, "comments")
    daemon.poll_source(comments)
    sandbox.clear_requests()
    assert daemon.poll_source(comments).new == 0  # type: ignore[union-attr]
    assert len(sandbox.requests_log("facebook")) == 1
    late = sandbox.add_ig_comment("where do I find the size guide?", username="bo", parent_id=first)
    result = daemon.poll_source(comments)
    assert result is not None and result.new == 1 and set(rows(daemon)) == {first, late}


def test_a_comment_hidden_by_an_unchanged_count_is_found_by_the_hourly_sweep(sandbox, daemon):
    media = sandbox.add_ig_media("Restock")
    gone = sandbox.add_ig_comment("first!", username="ana", media_id=media)
    comments = stream(daemon, "comments")
    daemon.poll_source(comments)
    with sandbox.graph._lock:  # one comment deleted as another arrives: the media's count stays 1
        del sandbox.graph.ig_comments[gone]
    masked = sandbox.add_ig_comment("my order 4471 never came", username="bo", media_id=media)
    assert daemon.poll_source(comments).new == 0  # type: ignore[union-attr]
    state = json.loads(streams.cursor(daemon.store, comments.key) or "{}")
    assert state["counts"] == {media: 1}
    state["swept"] -= 3601  # an hour later
    streams.set_cursor(daemon.store, comments.key, json.dumps(state))
    result = daemon.poll_source(comments)
    assert result is not None and result.new == 1 and masked in rows(daemon)


# --- replies ----------------------------------------------------------------------------------------


def test_public_replies_go_under_the_comment_or_its_parent_and_mentions_get_a_comment(sandbox, daemon):
    comment = sandbox.add_ig_comment("the zip broke after a week", username="jo")
    reply = sandbox.add_ig_comment("mine too!", username="amy", parent_id=comment)
    mention = sandbox.add_ig_mention("not impressed with the stitching", username="kim")
    daemon.poll_once()
    sender = ReplySender(daemon.store, build_repliers(daemon.config))
    names = {comment: "comment", reply: "reply", mention: "mention"}
    ids = {
        native: queue(daemon, inbox.item_by_key(daemon.store, f"instagram:{native}"), f"Sorry about the {name}!")
        for native, name in names.items()
    }
    assert sender.send_due() == 3
    posted = {p["text"]: p for p in sandbox.posted_instagram()}
    assert posted["Sorry about the comment!"]["in_reply_to"] == comment
    # Instagram takes replies only under top-level comments: the reply to a reply goes under its parent.
    assert posted["Sorry about the reply!"]["in_reply_to"] == comment
    assert posted["Sorry about the mention!"]["kind"] == "mention_reply"
    assert posted["Sorry about the mention!"]["media_id"] == mention
    for reply_id in ids.values():
        row = reply_outbox.reply(daemon.store, reply_id)
        assert row is not None and row["status"] == "sent"
        # After a crash the replier finds each of them again instead of posting twice.
        found = replier(daemon.config).find_reply(target_for(row), row["text"], utcnow() - timedelta(minutes=5))
        assert found == row["platform_reply_id"]
    assert sender.send_due() == 0 and len(sandbox.posted_instagram()) == 3


def test_dm_replies_inside_the_window_and_refused_clearly_outside_it(sandbox, config):
    fresh = sandbox.add_ig_dm("Can I exchange my order?", username="fresh")
    stale = sandbox.add_ig_dm("Hello??", username="stale", created_time=utcnow() - timedelta(hours=30))
    ancient = sandbox.add_ig_dm("Anyone?", username="ancient", created_time=utcnow() - timedelta(days=8))
    daemon = Daemon(config, channel=ConsoleChannel(io.StringIO()))
    poll(stream(daemon, "dms"), daemon.store, daemon.pipeline, backfill=timedelta(days=10))
    item = {n: inbox.item_by_key(daemon.store, f"instagram:{n}") for n in (fresh, stale, ancient)}
    assert all(item.values())
    replies = {n: queue(daemon, item[n], f"Hi {n[-4:]}, happy to help") for n in item}
    ReplySender(daemon.store, build_repliers(config)).send_due()
    status = {n: reply_outbox.reply(daemon.store, r) for n, r in replies.items()}
    assert status[fresh]["status"] == "sent"  # type: ignore[index]
    for n in (stale, ancient):
        row = status[n]
        assert row is not None and row["status"] == "failed"
        assert "24 hours" in row["last_error"] and "Human Agent" in row["last_error"]
    posted = sandbox.posted_instagram()
    assert [p["recipient_id"] for p in posted] == [item[fresh]["author_id"]]  # type: ignore[index]
    assert posted[0]["messaging_type"] == "RESPONSE"

    # With the Human Agent permission a person may answer for 7 days, with the HUMAN_AGENT tag.
    config.instagram.accounts[0].human_agent = True
    sandbox.set_instagram_human_agent(True)
    again = {n: queue(daemon, item[n], f"Sorry for the wait {n[-4:]}") for n in (stale, ancient)}
    ReplySender(daemon.store, build_repliers(config)).send_due()
    assert reply_outbox.reply(daemon.store, again[stale])["status"] == "sent"  # type: ignore[index]
    late = reply_outbox.reply(daemon.store, again[ancient])
    assert late is not None and late["status"] == "failed" and "7 days" in late["last_error"]
    tagged = sandbox.posted_instagram()[-1]
    assert (tagged["messaging_type"], tagged["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert len(sandbox.posted_instagram()) == 2


def test_private_reply_to_an_instagram_comment_is_sent_once_within_7_days(sandbox, daemon):
    exposed = sandbox.add_ig_comment("my card 4111 was charged twice, order 8812!", username="cara")
    old = sandbox.add_ig_comment("hello?", username="dan", created_time=utcnow() - timedelta(days=8))
    poll(stream(daemon, "comments"), daemon.store, daemon.pipeline, backfill=timedelta(days=10))
    item = inbox.item_by_key(daemon.store, f"instagram:{exposed}")
    reply_id = queue(daemon, item, "Hi Cara, we have refunded the second charge.", private=True)
    sender = ReplySender(daemon.store, build_repliers(daemon.config))
    assert sender.send_due() == 1
    [sent] = sandbox.posted_instagram()
    assert (sent["kind"], sent["comment_id"], sent["recipient_id"]) == ("private_reply", exposed, item["author_id"])
    row = reply_outbox.reply(daemon.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == sent["id"]
    assert inbox.item(daemon.store, item["id"])["status"] == "replied"  # type: ignore[index]
    # The platform too allows one private reply per comment: a second attempt is refused, nothing posted.
    target = target_for(row)
    with pytest.raises(Exception, match="already answered privately"):
        replier(daemon.config).send_reply(target, "again")
    assert replier(daemon.config).find_reply(target, row["text"], utcnow() - timedelta(minutes=5)) == sent["id"]
    # The customer may answer in the conversation the private reply opened; that arrives as a DM.
    sandbox.add_ig_dm("thanks, got it", username="cara")
    daemon.poll_source(stream(daemon, "dms"))
    assert [r["text"] for r in rows(daemon, "dm").values()] == ["thanks, got it"]
    # Older than 7 days: refused here, before any request.
    stale = inbox.item_by_key(daemon.store, f"instagram:{old}")
    stale_id = queue(daemon, stale, "Sorry Dan", private=True)
    sandbox.clear_requests()
    sender.send_due()
    failed = reply_outbox.reply(daemon.store, stale_id)
    assert failed is not None and failed["status"] == "failed" and "within 7 days" in failed["last_error"]
    assert sandbox.requests_log("facebook", method="POST") == []


def test_private_reply_to_a_facebook_comment(sandbox, daemon):
    post = sandbox.add_page_post("Our new menu")
    comment = sandbox.add_comment("I paid with card 4111 1111 and got no receipt", name="Fay", post_id=post)
    daemon.poll_once()
    item = inbox.item_by_key(daemon.store, f"facebook:{comment}")
    target = target_for({**item, "private_reply": 1})
    fb = build_repliers(daemon.config)[("facebook", "sandbox")]
    assert fb.find_reply(target, "Hi Fay", utcnow() - timedelta(minutes=5)) is None  # surely none yet
    reply_id = queue(daemon, item, "Hi Fay, here is your receipt.", private=True)
    ReplySender(daemon.store, build_repliers(daemon.config)).send_due()
    [sent] = sandbox.posted_facebook()
    assert (sent["kind"], sent["comment_id"]) == ("private_reply", comment)
    row = reply_outbox.reply(daemon.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == sent["id"]
    assert fb.find_reply(target, "Hi Fay, here is your receipt.", utcnow() - timedelta(minutes=5)) == sent["id"]
    # The page's own message in the conversation it opened is an echo, not a Messenger item.
    daemon.poll_once()
    assert inbox.item_by_key(daemon.store, f"facebook:{sent['id']}") is None


@pytest.mark.parametrize("kind", ["comment", "dm", "private"])
def test_sigkill_after_instagram_accepted_a_reply_is_reconciled_not_resent(sandbox, daemon, kind):
    if kind == "dm":
        native = sandbox.add_ig_dm("I want to return my jacket", username="gil")
    else:
        native = sandbox.add_ig_comment("the jacket's zip broke, order 7781", username="gil")
    daemon.poll_once()
    item = inbox.item_by_key(daemon.store, f"instagram:{native}")
    reply_id = queue(daemon, item, "Gil, a replacement is on its way", private=kind == "private")
    builders.run_killed_sender(daemon.config.source_path)
    [posted] = sandbox.posted_instagram()
    assert reply_outbox.reply(daemon.store, reply_id)["status"] == "sending"  # type: ignore[index]
    sender = ReplySender(daemon.store, build_repliers(daemon.config))
    assert sender.reconcile() == 1
    row = reply_outbox.reply(daemon.store, reply_id)
    assert row is not None and row["status"] == "sent" and row["platform_reply_id"] == posted["id"]
    assert sender.send_due() == 0 and len(sandbox.posted_instagram()) == 1


# --- check, status, config ------------------------------------------------------------------------


def test_check_names_the_permissions_the_token_lacks_and_the_stream_is_disabled(sandbox, config, daemon):
    path = str(config.source_path)
    good = CliRunner().invoke(main, ["check", "--config", path])
    assert good.exit_code == 0, good.output
    assert "instagram sandbox" in good.output and "can: comments, mentions, dms, comment replies" in good.output
    sandbox.set_instagram_permissions(revoke=["instagram_manage_messages"])
    lacking = CliRunner().invoke(main, ["check", "--config", path])
    assert "cannot: dms: the token lacks instagram_manage_messages" in lacking.output
    assert "cannot: private replies: the token lacks instagram_manage_messages" in lacking.output
    sandbox.add_ig_dm("hello?", username="ned")
    comment = sandbox.add_ig_comment("hello?", username="ned")
    daemon.poll_once()
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    assert (
        health["instagram:sandbox:dms"]["state"] == "disabled" and "(#10)" in health["instagram:sandbox:dms"]["detail"]
    )
    assert inbox.item_by_key(daemon.store, f"instagram:{comment}") is not None  # the other streams go on
    status = CliRunner().invoke(main, ["status", "--config", path])
    for name in ("comments", "mentions", "dms"):
        assert f"instagram:sandbox:{name}" in status.output
    sandbox.set_instagram_permissions(scopes=["pages_show_list"])
    none = CliRunner().invoke(main, ["check", "--config", path])
    assert "comments: the token lacks instagram_basic, instagram_manage_comments" in none.output


def test_check_fails_when_the_page_is_linked_to_another_account(sandbox, config, tmp_path):
    text = (
        Path(str(config.source_path))
        .read_text()
        .replace(f'ig_user_id = "{sandbox.info()["instagram"]["ig_user_id"]}"', 'ig_user_id = "17841499999999999"')
    )
    other = tmp_path / "other.toml"
    other.write_text(text)
    result = CliRunner().invoke(main, ["check", "--config", str(other)])
    assert result.exit_code == 1
    assert "is linked to Instagram account 17841400000000001, not ig_user_id 17841499999999999" in result.output


@pytest.mark.parametrize(
    "entry,key,words",
    [
        (
            'name = "a"\nig_user_id = "abc"\npage_id = "1"\npage_token = "t"',
            "instagram.accounts[0].ig_user_id",
            "pattern",
        ),
        ('name = "a"\nig_user_id = "17841400000000001"\npage_token = "t"', "instagram.accounts[0].page_id", "missing"),
        (
            'name = "a"\nig_user_id = "1784140000001"\npage_id = "1"\npage_token = "t"\ncomment = true',
            "comment",
            "did you mean 'comments'",
        ),
    ],
)
def test_config_errors_name_the_file_key_and_fix(tmp_path, entry, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(f"[[instagram.accounts]]\n{entry}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and key in message and words in message


def test_instagram_is_a_platform_for_sla_overrides_and_routing(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('[sla.overrides."instagram:dm"]\nurgent = 10\n[sla.overrides.instagram]\nlow = 600\n')
    config = load_config(path)
    assert config.sla.minutes("urgent", "instagram", "dm") == 10
    assert config.sla.minutes("low", "instagram", "comment") == 600
    bad = tmp_path / "bad.toml"
    bad.write_text("[sla.overrides.instagramm]\nlow = 600\n")
    with pytest.raises(ConfigError, match="instagram"):
        load_config(bad)


# --- limits ------------------------------------------------------------------------------------------

#: One sentence in each language the brand's customers write (and the suggestions are to speak).
SENTENCES = {
    "en": "We are sorry your order is late and we are fixing it today. ",
    "sw": "Samahani kwa kuchelewa kwa agizo lako, tunalishughulikia leo. ",
    "ms": "Kami mohon maaf pesanan anda lewat dan kami sedang membetulkannya hari ini. ",
    "lv": "Atvainojamies, ka jūsu pasūtījums kavējas, mēs to šodien labosim. ",
    "lt": "Atsiprašome, kad jūsų užsakymas vėluoja, šiandien tai ištaisysime. ",
    "ta": "உங்கள் ஆர்டர் தாமதமானதற்கு மன்னிக்கவும், நாங்கள் இன்றே சரிசெய்கிறோம். ",
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_instagram_limits_hold_in_every_language(lang):

    long_text = SENTENCES[lang] * 80  # far over both limits
    comment = suggest.fit(long_text, "instagram", True)
    dm = suggest.fit(long_text, "instagram", False)
    assert 0 < len(comment) <= 2200 and comment.endswith((".", "…"))
    assert 0 < len(dm.encode("utf-8")) <= 1000  # Instagram counts a DM in UTF-8 bytes
    if lang == "ta":
        assert len(dm) < 400  # three bytes a letter: well under 1,000 characters
    row = {"platform": "instagram", "public": 0}
    assert check_reply(row, dm) is None and check_reply({**row, "public": 1}, comment) is None
    over = check_reply(row, SENTENCES[lang] * 20)
    assert over is not None and "of at most 1000 bytes" in over
    # The suggestions themselves, in the customer's language, for an Instagram comment and an Instagram DM.
    for kind in (Kind.COMMENT, Kind.DM):
        item = builders.item(SENTENCES[lang], platform="instagram", kind=kind, lang=lang)
        out = suggest.suggest(item, "delivery", "negative", AuthorHistory(), SuggestionsConfig(), lang=lang)
        assert out, (lang, kind)
        for suggestion in out:
            public = kind is not Kind.DM
            assert suggestion.lang == lang
            assert platforms.measure(suggestion.text, "instagram", public) <= platforms.reply_limit("instagram", public)


def test_digest_and_routing_know_instagram(tmp_path):

    config = Config()
    store = Store(tmp_path / "sw.db")
    pipeline = Pipeline(config)
    start = builders.T0
    items = [
        builders.item("my order never arrived!", platform="instagram", kind=Kind.COMMENT, native_id="1", created=start),
        builders.item("refund please", platform="instagram", kind=Kind.DM, native_id="2", created=start),
        builders.item("love it", platform="x", native_id="3", created=start),
    ]
    builders.ingest(store, pipeline, items, source="instagram:acme:comments", now=start)
    digest = summary.build(store, config, start - timedelta(hours=1), start + timedelta(hours=1))
    assert digest.by_platform["instagram"] == 2 and "instagram comment" in digest.by_platform_kind
    slack = SlackConfig(bot_token="xoxb-1", channel="C0DEFAULT", routing={"instagram": "C0INSTA"})
    assert route(slack, {"priority": "low", "platform": "instagram", "account": "acme"}) == "C0INSTA"
