"""Text the store cannot take (lone surrogates: legal JSON, impossible UTF-8) is stored repaired or kept in
rejects, and the stream goes on: through tweepy, facebook-sdk and a replay file; and `poll-once`'s exit code."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from socialwatch import ingest as ingest_module
from socialwatch.alerts.console import ConsoleChannel
from socialwatch.cli import main
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.models import REPLACEMENT, repair_text
from socialwatch.sandbox import Sandbox
from socialwatch.sources.base import Source
from socialwatch.sources.replay import ReplaySource
from socialwatch.store import audit_log, inbox, streams

HALF_EMOJI = "\ud83d"  # the first half of U+1F600's surrogate pair, alone


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    sandbox.reset()
    config = load_config(sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1))
    config.slack = None
    return config


def _daemon(config: Config, sources: list[Source] | None = None) -> Daemon:
    return Daemon(config, sources=sources, channel=ConsoleChannel(io.StringIO()))


def _source(daemon: Daemon, suffix: str) -> Source:
    assert daemon.sources is not None
    return next(s for s in daemon.sources if s.key.endswith(suffix))


def _rejects(daemon: Daemon) -> list[tuple[str, str, str]]:
    with daemon.store.db() as db:
        return [tuple(r) for r in db.execute("SELECT source, error, payload FROM rejects").fetchall()]


def test_the_x_emulator_sends_a_lone_surrogate_escaped(sandbox, config):
    import urllib.request

    tweet_id = sandbox.add_mention(f"@brand half {HALF_EMOJI} emoji")
    info = sandbox.info()
    req = urllib.request.Request(
        f"{sandbox.url}/2/tweets/{tweet_id}", headers={"authorization": f"Bearer {info['x']['bearer_token']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    assert b"half \\ud83d emoji" in body  # escaped on the wire, as legal JSON allows
    assert json.loads(body)["data"]["text"].endswith(f"@brand half {HALF_EMOJI} emoji")


def test_x_mention_with_lone_surrogates_is_stored_repaired_and_the_stream_goes_on(sandbox, config):
    daemon = _daemon(config)
    mentions = _source(daemon, ":mentions")
    daemon.poll_source(mentions)  # the first poll sets the cursor
    broken = sandbox.add_mention(f"@brand my order {HALF_EMOJI} never came", handle="half", name=f"Ann {HALF_EMOJI}")
    after = [sandbox.add_mention(f"@brand next one {n}", handle=f"n{n}") for n in range(3)]
    result = daemon.poll_source(mentions)
    assert result is not None and result.new == 4
    row = inbox.item_by_key(daemon.store, f"x:{broken}")
    assert row is not None
    assert row["text"].endswith(f"@brand my order {REPLACEMENT} never came")
    assert row["author_name"] == f"Ann {REPLACEMENT}"
    assert "\\ud83d" in row["raw"]  # the payload as received, escaped faithfully
    assert json.loads(row["raw"])["text"].endswith(f"@brand my order {HALF_EMOJI} never came")
    assert all(inbox.item_by_key(daemon.store, f"x:{i}") for i in after)
    assert streams.cursor(daemon.store, mentions.key) == max([broken, *after], key=int)
    health = {s["source"]: s for s in streams.sources(daemon.store)}
    assert health[mentions.key]["state"] == "ok"
    [received] = [e for e in audit_log.audit_rows(daemon.store, f"x:{broken}") if e["action"] == "item.received"]
    assert received["data"]["repaired"] == ["text", "author_name"]
    # and the next poll goes on as usual
    later = sandbox.add_mention("@brand still here")
    daemon.poll_source(mentions)
    assert inbox.item_by_key(daemon.store, f"x:{later}") is not None


def test_x_dm_with_a_lone_surrogate_is_stored_repaired(sandbox, config):
    daemon = _daemon(config)
    dms = _source(daemon, ":dms")
    daemon.poll_source(dms)
    broken = sandbox.add_dm(f"refund please {HALF_EMOJI}", handle="dmhalf")
    fine = sandbox.add_dm("second message", handle="dmfine")
    daemon.poll_source(dms)
    row = inbox.item_by_key(daemon.store, f"x:{broken}")
    assert row is not None and row["text"] == f"refund please {REPLACEMENT}"
    assert inbox.item_by_key(daemon.store, f"x:{fine}") is not None


def test_graph_comment_and_message_with_lone_surrogates_are_stored_repaired(sandbox, config):
    daemon = _daemon(config)
    comments, messenger = _source(daemon, "facebook:sandbox:comments"), _source(daemon, ":messenger")
    post = sandbox.add_page_post("Our new menu")
    daemon.poll_source(comments)
    daemon.poll_source(messenger)
    broken = sandbox.add_comment(f"cold food {HALF_EMOJI}", name=f"Bo {HALF_EMOJI}", post_id=post)
    fine = sandbox.add_comment("and slow", name="Cy", post_id=post)
    message = sandbox.add_message(f"where is my order {HALF_EMOJI}", name="Di")
    daemon.poll_source(comments)
    daemon.poll_source(messenger)
    row = inbox.item_by_key(daemon.store, f"facebook:{broken}")
    assert row is not None
    assert (row["text"], row["author_name"]) == (f"cold food {REPLACEMENT}", f"Bo {REPLACEMENT}")
    assert inbox.item_by_key(daemon.store, f"facebook:{fine}") is not None
    dm = inbox.item_by_key(daemon.store, f"facebook:{message}")
    assert dm is not None and dm["text"] == f"where is my order {REPLACEMENT}"


def test_replay_line_with_a_lone_surrogate_is_stored_repaired_and_later_lines_follow(config, tmp_path):
    path = tmp_path / "replay.jsonl"
    lines = [
        {"id": "r1", "text": f"half {HALF_EMOJI} an emoji", "author": {"handle": "a"}},
        {"id": "r2", "text": "fine", "author": {"handle": "b"}},
        {"id": f"r{HALF_EMOJI}", "text": "its id cannot be stored", "author": {"handle": "c"}},
        {"id": "r4", "text": "fine too", "author": {"handle": "d"}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))  # json.dumps writes "\ud83d"
    replay = ReplaySource("r", path)
    daemon = _daemon(config, sources=[replay])
    result = daemon.poll_source(replay)
    assert result is not None and (result.new, result.rejected) == (3, 1)
    stored = {r["native_id"]: r["text"] for r in (inbox.item_by_key(daemon.store, f"replay:r{n}") for n in "124") if r}
    assert stored == {"r1": f"half {REPLACEMENT} an emoji", "r2": "fine", "r4": "fine too"}
    [(source, error, payload)] = _rejects(daemon)
    assert (source, error) == ("replay:r", "id with a lone surrogate (invalid UTF-8)")
    assert json.loads(payload)["id"] == f"r{HALF_EMOJI}"
    assert streams.cursor(daemon.store, replay.key) == str(path.stat().st_size)


def test_text_the_repair_missed_goes_to_rejects_item_by_item(config, tmp_path, monkeypatch):
    """The last line of defence: a page the store refuses is stored item by item, the refused one in rejects."""
    monkeypatch.setattr(ingest_module, "repair_item", lambda item: item)  # as if the repair did not exist
    path = tmp_path / "replay.jsonl"
    lines = [{"id": "a", "text": f"broken {HALF_EMOJI}"}, {"id": "b", "text": "fine"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replay = ReplaySource("r", path)
    daemon = _daemon(config, sources=[replay])
    result = daemon.poll_source(replay)
    assert result is not None and result.new == 1
    assert inbox.item_by_key(daemon.store, "replay:a") is None
    assert inbox.item_by_key(daemon.store, "replay:b") is not None
    [(_, error, payload)] = _rejects(daemon)
    assert error.startswith("not storable:") and "\\ud83d" in payload
    assert streams.cursor(daemon.store, replay.key) == str(path.stat().st_size)


def test_repair_text_replaces_only_lone_surrogates():
    assert repair_text("ok 😀") == "ok 😀"
    assert repair_text(f"a{HALF_EMOJI}b\udc00") == f"a{REPLACEMENT}b{REPLACEMENT}"


def test_poll_once_exits_non_zero_when_every_source_failed(sandbox, tmp_path):
    sandbox.reset()
    path = sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)
    runner = CliRunner()
    ok = runner.invoke(main, ["poll-once", "--config", str(path)])
    assert ok.exit_code == 0, ok.output
    sandbox.revoke_x_token()
    sandbox.set_facebook_token("expired")
    try:
        failed = runner.invoke(main, ["poll-once", "--config", str(path)])
    finally:
        sandbox.revoke_x_token(False)
        sandbox.set_facebook_token("valid")
    assert failed.exit_code == 1, failed.output
    assert "every source failed" in failed.output


def test_poll_once_exits_zero_when_one_source_still_works(sandbox, tmp_path):
    sandbox.reset()
    path = sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)
    sandbox.revoke_x_token()
    try:
        result = CliRunner().invoke(main, ["poll-once", "--config", str(path)])
    finally:
        sandbox.revoke_x_token(False)
    assert result.exit_code == 0, result.output
    assert "x:sandbox:mentions: failed (unhealthy" in result.output
