"""The audit head anchored outside the database: each daily digest posts SEQ:HASH to the ops channel (the
sandbox's Slack, through slack_sdk), and `audit verify --slack-anchors` reads them back, so a cut tail or a
rolled-back copy of the database is caught even when whoever did it also fixed the stored head."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import builders
from click.testing import CliRunner

from socialwatch.alerts.slack import SlackPoster, make_client
from socialwatch.cli import main
from socialwatch.config.load import load_config
from socialwatch.models import utcnow
from socialwatch.reports import daily
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import audit_log
from socialwatch.store.db import Store


def seed(store: Store, pipeline: Pipeline, first: int, count: int) -> None:
    created = utcnow() - timedelta(hours=2)
    items = [
        builders.item("my order never arrived, awful", native_id=str(n), created=created)
        for n in range(first, first + count)
    ]
    builders.ingest(store, pipeline, items, alert=False)


def verify(config: Path, database: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config), "--database", str(database), *extra])
    return result.exit_code, result.output


def test_each_digest_anchors_the_head_and_verify_catches_a_cut_tail_and_a_rolled_back_copy(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.reset()
    config_path = sandbox.write_config(tmp_path / "socialwatch.toml")
    config = load_config(config_path)
    assert config.slack is not None and config.slack.ops_channel
    database = tmp_path / "sw.db"
    store = Store(database)
    pipeline = Pipeline(config, detect=lambda text: "en")
    seed(store, pipeline, 1, 3)
    store.backup_to(tmp_path / "yesterday.db")  # a copy someone could later put back
    seed(store, pipeline, 10, 3)

    head = audit_log.audit_head(store)
    assert head is not None
    poster = SlackPoster(make_client(config.slack, 5.0))
    posted = daily.post_daily(store, config, poster, utcnow(), force=True)
    assert posted is not None
    ops = poster.client.conversations_history(channel=config.slack.ops_channel, include_all_metadata=True)
    [anchor] = [m for m in ops["messages"] if (m.get("metadata") or {}).get("event_type") == daily.ANCHOR_EVENT]
    assert head.render() in anchor["text"]
    assert anchor["metadata"]["event_payload"] == {"seq": head.seq, "hash": head.hash}
    [entry] = [r for r in audit_log.audit_rows(store) if r["action"] == "digest.posted"]
    assert entry["seq"] == head.seq + 1 and entry["data"]["anchor"] == head.render()

    status, output = verify(config_path, database, "--slack-anchors")
    assert status == 0 and "1 audit head(s) anchored in Slack" in output, output
    # The copy from before: intact on its own, but it ends before what Slack knows was written.
    assert verify(config_path, tmp_path / "yesterday.db")[0] == 0
    status, output = verify(config_path, tmp_path / "yesterday.db", "--slack-anchors")
    assert status == 1 and "deleted from the end" in output, output

    # A careful cut: the triggers dropped, the last entries deleted and the stored head moved back to match.
    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DROP TRIGGER audit_head_forward_only")
        db.execute("DELETE FROM audit WHERE seq >= ?", [head.seq - 1])
        db.execute(
            "UPDATE audit_head SET seq = a.seq, hash = a.hash, ts = a.ts FROM "
            "(SELECT seq, hash, ts FROM audit ORDER BY seq DESC LIMIT 1) a WHERE id = 1"
        )
    assert verify(config_path, database)[0] == 0  # without the anchor, nothing shows it
    status, output = verify(config_path, database, "--slack-anchors")
    assert status == 1 and f"names entry {head.seq}" in output, output
    status, output = verify(config_path, database, "--anchor", head.render())
    assert status == 1


def test_verify_with_slack_anchors_needs_a_slack_config(tmp_path: Path) -> None:
    store = Store(tmp_path / "sw.db")
    store.close()
    config = tmp_path / "socialwatch.toml"
    config.write_text('[daemon]\ndatabase = "sw.db"\n')
    status, output = verify(config, tmp_path / "sw.db", "--slack-anchors")
    assert status == 2 and "needs a [slack] section" in output
