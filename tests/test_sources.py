"""Sources against the sandbox with the real tweepy and facebook-sdk: nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from socialwatch.alerts.console import ConsoleChannel
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.ingest import poll
from socialwatch.models import utcnow
from socialwatch.sandbox import Sandbox
from socialwatch.sources.base import AuthError, CapabilityLost, PlatformError, RateLimited, Source
from socialwatch.store import inbox, streams

FAULTS = ["429", "500", "503", "malformed", "timeout", "disconnect"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    sandbox.reset()
    path = sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)
    config = load_config(path)
    config.daemon.http_timeout = 1.0  # the "timeout" fault holds responses for 2 s
    config.slack = None
    return config


def make_daemon(config: Config) -> Daemon:
    import io

    return Daemon(config, channel=ConsoleChannel(io.StringIO()))


def source(daemon: Daemon, key_suffix: str) -> Source:
    assert daemon.sources is not None
    return next(s for s in daemon.sources if s.key.endswith(key_suffix))


def stored_ids(daemon: Daemon, kind: str | None = None) -> list[str]:
    with daemon.store.db() as db:
        sql = "SELECT native_id FROM items" + (" WHERE kind = ?" if kind else "")
        return [r[0] for r in db.execute(sql, [kind] if kind else []).fetchall()]


def drain(daemon: Daemon, src: Source, polls: int = 5) -> None:
    """Poll until a poll brings nothing new (the daemon's job body, errors recorded not raised)."""
    for _ in range(polls):
        result = daemon.poll_source(src)
        if result is not None and result.new == 0:
            return


def test_mentions_and_dms_arriving_during_polls_are_stored_exactly_once(sandbox, config):
    # This test polls in a tight loop, far above X's budgets; rate limits have their own tests.
    sandbox.set_x_rate_limit("*", limit=100_000, window=900)
    daemon = make_daemon(config)
    mentions, dms = source(daemon, ":mentions"), source(daemon, ":dms")
    expected_mentions: list[str] = []
    expected_dms: list[str] = []
    done = threading.Event()
    polled = threading.Semaphore(0)

    def traffic() -> None:
        for batch in range(10):
            # X serves only the newest 800 mentions: as on X, a poller that falls that far behind
            # loses the oldest. Interleave with the polls so the backlog stays realistic.
            polled.acquire(timeout=10)
            expected_mentions.extend(
                sandbox.add_mentions(
                    [
                        {"text": f"@brand order {batch}-{i} is late", "author": {"handle": f"c{i % 37}"}}
                        for i in range(100)
                    ]
                )
            )
            for i in range(30):
                expected_dms.append(sandbox.add_dm(f"DM {batch}-{i}: where is my refund?", handle=f"d{i % 11}"))
        done.set()

    writer = threading.Thread(target=traffic)
    writer.start()
    while not done.is_set():
        daemon.poll_source(mentions)
        daemon.poll_source(dms)
        polled.release()
    writer.join()
    drain(daemon, mentions)
    drain(daemon, dms)
    got_mentions, got_dms = stored_ids(daemon, "mention"), stored_ids(daemon, "dm")
    assert len(expected_mentions) == 1000 and len(expected_dms) == 300
    assert sorted(got_mentions) == sorted(expected_mentions)
    assert sorted(got_dms) == sorted(expected_dms)
    # Pages of 100: a poll never asked for more or fewer.
    pages = [r for r in sandbox.requests_log("x") if "/mentions" in r["path"]]
    assert pages and all(
        "max_results=100" in str(r.get("query")) or r["query"].get("max_results") in ("100", ["100"]) for r in pages
    )


def test_idle_poll_costs_one_request_per_endpoint(sandbox, config):
    daemon = make_daemon(config)
    sandbox.add_one_of_each()
    daemon.poll_once()  # first polls: backfill
    sandbox.clear_requests()
    daemon.poll_once()  # nothing new anywhere
    log = sandbox.requests_log()
    per_source = {}
    for entry in log:
        # The page's feed serves two streams (visitor posts, comments): tell them apart by their fields;
        # its conversations two more (Messenger, Instagram): by their platform.
        query = entry.get("query") or {}
        key = (entry["target"], entry["path"], str(query.get("fields", ""))[:12] + str(query.get("platform", "")))
        per_source[key] = per_source.get(key, 0) + 1
    assert daemon.sources is not None
    api_requests = [e for e in log if e["target"] in ("x", "facebook")]
    assert len(api_requests) == len(daemon.sources), per_source
    assert all(count == 1 for (target, _, _), count in per_source.items() if target in ("x", "facebook")), per_source


def test_new_mentions_cost_one_request_per_hundred(sandbox, config):
    # X serves at most the newest 800 mentions, so 800 is the most one poll can ever read.
    daemon = make_daemon(config)
    mentions = source(daemon, ":mentions")
    daemon.poll_source(mentions)  # sets the cursor
    sandbox.add_mentions(800)
    sandbox.clear_requests()
    result = daemon.poll_source(mentions)
    assert result is not None and result.new == 800
    assert len(sandbox.requests_log("x")) == 8


def _fault_after_first_page(sandbox: Sandbox, src: Source, target: str, fault: str, path: str) -> None:
    """Arm the fault from a response hook of the adapter's own session, right after page 1."""
    session = src.client.client.session if target == "x" else src.client.graph.session  # type: ignore[attr-defined]
    armed = {"done": False}

    def hook(response, *args, **kwargs):
        if not armed["done"]:
            armed["done"] = True
            sandbox.fault(target, fault, path=path, count=1, seconds=2.0)

    session.hooks["response"].insert(0, hook)


@dataclass(frozen=True)
class PagedStream:
    """One stream of each platform, for the contract every stream keeps: a fault between two pages loses and
    duplicates nothing (as apscheduler's conftest runs one test over every data store)."""

    platform: str  # the emulator the fault is armed on
    stream: str  # the end of the source key
    kind: str  # what it stores
    path: str  # the request path the fault applies to
    before: Callable[[Sandbox], Any]  # what exists before the first poll (a post to comment on)
    seed: Callable[[Sandbox, Any], list[str]]  # what arrives afterwards, over several pages: its native ids
    label: str = ""  # the test id, when the platform's emulator serves more than one platform


def _instagram_thread(sandbox: Sandbox, media: str) -> list[str]:
    """150 comments and 60 replies under the first: pages of the media's comments and of the replies."""
    comments = [
        sandbox.add_ig_comment(f"comment {i}: my parcel is lost", username=f"c{i % 23}", media_id=media)
        for i in range(150)
    ]
    replies = [
        sandbox.add_ig_comment(f"reply {i}: same here", username=f"r{i % 7}", parent_id=comments[0]) for i in range(60)
    ]
    return comments + replies


PAGED_STREAMS = [
    PagedStream(
        "x", ":mentions", "mention", "/2/users/", lambda sandbox: None, lambda sandbox, _: sandbox.add_mentions(250)
    ),
    PagedStream(
        "facebook",
        ":comments",
        "comment",
        "/v",
        lambda sandbox: sandbox.add_page_post("Our new menu is out"),
        lambda sandbox, post: [
            sandbox.add_comment(f"comment {i}: my order was cold", post_id=post) for i in range(230)
        ],
    ),
    PagedStream(
        "facebook",
        "instagram:sandbox:comments",
        "comment",
        "/v",
        lambda sandbox: sandbox.add_ig_media("Our new collection"),
        _instagram_thread,
        label="instagram",
    ),
]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("case", PAGED_STREAMS, ids=lambda case: case.label or case.platform)
def test_fault_mid_pagination_loses_and_duplicates_nothing(sandbox, config, case: PagedStream, fault: str) -> None:
    daemon = make_daemon(config)
    stream = source(daemon, case.stream)
    context = case.before(sandbox)
    daemon.poll_source(stream)
    expected = case.seed(sandbox, context)
    _fault_after_first_page(sandbox, stream, case.platform, fault, case.path)
    try:
        poll(stream, daemon.store, daemon.pipeline, backfill=timedelta(hours=24))
    except RateLimited:
        assert fault == "429"
    else:
        assert fault != "429"  # the others are retried within the poll
    poll(stream, daemon.store, daemon.pipeline, backfill=timedelta(hours=24))
    assert sorted(stored_ids(daemon, case.kind)) == sorted(expected)
    assert threading.active_count() < 50  # no thread left hanging on a dead socket


def test_facebook_streams_store_posts_comments_messages_and_skip_the_page(sandbox, config):
    daemon = make_daemon(config)
    post = sandbox.add_page_post("We are open on Sunday")
    comment = sandbox.add_comment("Is the kitchen open late?", name="Ana", post_id=post)
    reply = sandbox.add_comment("and do you take cards?", name="Bo", post_id=post, parent_id=comment)
    visitor = sandbox.add_visitor_post("Waited 40 minutes for a table, nobody came", name="Cy")
    tagged = sandbox.add_visitor_post("Dinner at the brand tonight", name="Di", tagged=True)
    message = sandbox.add_message("My booking disappeared", name="Ed")
    daemon.poll_once()
    items = {row["native_id"]: row for row in _rows(daemon)}
    assert set(items) == {comment, reply, visitor, tagged, message}
    assert items[reply]["in_reply_to"] == comment
    assert items[visitor]["kind"] == "post" and items[tagged]["kind"] == "mention"
    assert items[message]["kind"] == "dm" and items[message]["public"] == 0
    assert items[comment]["author_name"] == "Ana"


def test_brand_echoes_and_retweets_are_ignored(sandbox, config):
    daemon = make_daemon(config)
    mention = sandbox.add_mention("@brand my parcel is lost", handle="amy")
    brand_dm_reply = source(daemon, ":dms")
    sandbox.add_dm("hello?", handle="amy")
    daemon.poll_once()
    from socialwatch.sources.base import ReplyTarget
    from socialwatch.sources.x import build_repliers

    replier = build_repliers(config)[("x", "sandbox")]
    item = inbox.item_by_key(daemon.store, f"x:{mention}")
    target = ReplyTarget(
        "x", "sandbox", "mention", mention, item["author_id"], "amy", item["conversation_id"], True, utcnow()
    )
    replier.send_reply(target, "Sorry to hear that, we are on it")
    dm_item = next(r for r in _rows(daemon) if r["kind"] == "dm")
    replier.send_reply(
        ReplyTarget(
            "x",
            "sandbox",
            "dm",
            dm_item["native_id"],
            dm_item["author_id"],
            "amy",
            dm_item["conversation_id"],
            False,
            utcnow(),
        ),
        "Hi Amy, how can we help?",
    )
    before = len(_rows(daemon))
    daemon.poll_once()
    assert len(_rows(daemon)) == before  # our own reply and DM did not come back as items
    assert brand_dm_reply is not None


def test_expired_token_on_one_source_others_keep_ingesting(sandbox, config, tmp_path):
    from click.testing import CliRunner

    from socialwatch.cli import main

    daemon = make_daemon(config)
    daemon.poll_once()
    sandbox.set_facebook_token("expired")
    events: list[tuple[str, dict]] = []
    daemon.on_event = lambda name, data: events.append((name, data))
    mention = sandbox.add_mention("@brand still waiting for my refund", handle="zed")
    sandbox.add_comment("anyone there?")
    daemon.poll_once()
    assert inbox.item_by_key(daemon.store, f"x:{mention}") is not None
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    bad = [key for key, s in health.items() if not s["healthy"]]
    # Instagram is read with the page's token: its streams stop with Facebook's, X's go on.
    assert bad and all(key.startswith(("facebook:", "instagram:")) for key in bad)
    assert any(key.startswith("instagram:") for key in bad)
    assert all("190" in health[key]["detail"] and "expired" in health[key]["detail"] for key in bad)
    assert health["x:sandbox:mentions"]["healthy"] == 1
    # Announced once per source, not on every poll.
    daemon.poll_once()
    assert sorted(d["source"] for name, d in events if name == "unhealthy") == sorted(bad)
    result = CliRunner().invoke(main, ["status", "--config", str(config.source_path)])
    assert result.exit_code == 2
    assert "BAD facebook:sandbox:messenger" in result.output and "190" in result.output
    sandbox.set_facebook_token("valid")


def test_x_tier_without_dms_disables_dms_and_mentions_go_on(sandbox, config):
    daemon = make_daemon(config)
    sandbox.set_x_tier("free")
    mention = sandbox.add_mention("@brand hello?", handle="quinn")
    daemon.poll_once()
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    assert health["x:sandbox:dms"]["state"] == "disabled" and "403" in health["x:sandbox:dms"]["detail"]
    assert inbox.item_by_key(daemon.store, f"x:{mention}") is not None
    sandbox.set_x_tier("pro")


def test_first_poll_backfills_without_flooding_alerts(sandbox, config):
    daemon = make_daemon(config)
    old = sandbox.add_mention(
        "@brand this is awful, worst service", handle="old", created_at=utcnow() - timedelta(hours=5)
    )
    fresh = sandbox.add_mention("@brand this is awful, worst service", handle="new")
    too_old = sandbox.add_mention(
        "@brand ancient complaint, terrible", handle="older", created_at=utcnow() - timedelta(hours=30)
    )
    daemon.poll_source(source(daemon, ":mentions"))
    assert inbox.item_by_key(daemon.store, f"x:{old}")["backfill"] == 1
    assert inbox.item_by_key(daemon.store, f"x:{fresh}")["backfill"] == 0
    assert inbox.item_by_key(daemon.store, f"x:{too_old}") is None  # outside the 24 h window
    with daemon.store.db() as db:
        alerted = {
            r[0]
            for r in db.execute("SELECT i.native_id FROM alert_outbox o JOIN items i ON i.id = o.item_id").fetchall()
        }
    assert alerted == {fresh}


def test_rate_limited_source_pauses_until_reset_without_requests(sandbox, config):
    daemon = make_daemon(config)
    mentions = source(daemon, ":mentions")
    daemon.poll_source(mentions)
    sandbox.fault("x", "429", path="/2/users/", count=1)
    daemon.poll_source(mentions)
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    assert health["x:sandbox:mentions"]["state"] == "rate_limited"
    assert health["x:sandbox:mentions"]["paused_until"]
    sandbox.clear_requests()
    if daemon._paused_until.get(mentions.key, utcnow()) > utcnow():
        assert daemon.poll_source(mentions) is None
        assert sandbox.requests_log("x") == []


def test_malformed_item_is_kept_as_reject_and_others_stored(sandbox, config):
    """A tweet without text in an otherwise good page: logged and kept aside; its neighbours stored."""
    daemon = make_daemon(config)
    mentions = source(daemon, ":mentions")
    daemon.poll_source(mentions)
    good = sandbox.add_mention("@brand fine tweet", handle="ok")
    bad = sandbox.add_mention("@brand to be broken", handle="broken")
    with sandbox.x._lock:
        sandbox.x.tweets[bad].text = None  # the emulator now serves a tweet without text
    daemon.poll_source(mentions)
    assert inbox.item_by_key(daemon.store, f"x:{good}") is not None
    with daemon.store.db() as db:
        rejects = db.execute("SELECT source, error FROM rejects").fetchall()
    assert [tuple(r) for r in rejects] == [("x:sandbox:mentions", "tweet without id, text or author_id")]


def _rows(daemon: Daemon) -> list[dict]:
    with daemon.store.db() as db:
        return [dict(r) for r in db.execute("SELECT * FROM items").fetchall()]


def test_errors_are_socialwatch_errors():
    assert issubclass(AuthError, Exception) and issubclass(CapabilityLost, Exception)
    assert PlatformError("x").retryable


def test_check_calls_every_api_and_names_the_problem(sandbox, config):
    from click.testing import CliRunner

    from socialwatch.cli import main

    path = str(config.source_path)
    good = CliRunner().invoke(main, ["check", "--config", path])
    assert good.exit_code == 0, good.output
    assert "can: mentions, dms, replies" in good.output and "messenger" in good.output
    assert {"/2/users/me", "/2/dm_events"} <= {r["path"] for r in sandbox.requests_log("x")}
    sandbox.set_x_tier("free")
    sandbox.revoke_x_token(False)
    sandbox.set_facebook_token("expired")
    bad = CliRunner().invoke(main, ["check", "--config", path])
    assert bad.exit_code == 1
    assert "cannot: dms: GET /2/dm_events: 403" in bad.output
    assert "FAILED" in bad.output and "190/463" in bad.output
    sandbox.revoke_x_token(True)
    revoked = CliRunner().invoke(main, ["check", "--config", path])
    assert "401 Unauthorized" in revoked.output and revoked.exit_code == 1
    sandbox.reset()
