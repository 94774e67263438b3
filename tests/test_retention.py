"""Retention: old texts, names and raw payloads go, the audit chain keeps verifying, recent data stays."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_audit_support import T0, TEXTS, approve_and_send, ingest, make_item, populated, raw

from socialwatch.cli.audit import audit_group
from socialwatch.compliance import retention
from socialwatch.config.load import ConfigError, parse_config
from socialwatch.config.schema import RetentionConfig
from socialwatch.store import audit_log, inbox
from socialwatch.store.db import Store

LATER = T0 + timedelta(days=40)
NOW = T0 + timedelta(days=45)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Old traffic (T0) and recent traffic (T0 + 40 days), with a reply still on its way out."""
    store, _ = populated(tmp_path / "sw.db")
    recent = ingest(
        store, [make_item(10, text="@acme still waiting for my refund", when=LATER)], LATER + timedelta(minutes=1)
    )
    old_open = ingest(store, [make_item(20, text="@acme hello? anyone?", when=T0)], T0 + timedelta(minutes=2))
    approve_and_send(
        store,
        old_open[0],
        final="Hello, we are here: what can we do for you?",
        suggested=None,
        approver=("U01", "alice"),
        approved_at=T0 + timedelta(minutes=3),
        sent_at=None,
    )
    assert recent
    return store


def verify(store: Store) -> tuple[int, str]:
    result = CliRunner().invoke(audit_group, ["verify", "--database", str(store.path)])
    return result.exit_code, result.output


def test_purge_removes_old_texts_and_keeps_the_chain_verifying(store):
    before = {r["seq"]: r for r in audit_log.audit_rows(store)}
    report = retention.purge(store, 30, now=NOW)
    assert report.counts["items"] == 4 and report.counts["audit_texts"] > 0 and report.counts["replies"] == 2
    code, out = verify(store)
    assert code == 0, out

    with store.db() as db:
        old = db.execute("SELECT * FROM items WHERE native_id = '5000'").fetchone()
        new = db.execute("SELECT * FROM items WHERE native_id = '5010'").fetchone()
        replies = {r["id"]: dict(r) for r in db.execute("SELECT * FROM reply_outbox")}
        author = db.execute("SELECT * FROM authors WHERE key = 'x:u0'").fetchone()
    assert old["text"] == "" and old["author_handle"] is None and old["raw"] is None and old["url"] is None
    assert old["purged_at"] is not None and old["reasons"] is None and old["suggestions"] is None
    assert old["category"] == "billing" and old["priority"]  # the assessment stays
    assert new["text"] == "@acme still waiting for my refund" and new["purged_at"] is None
    assert replies[1]["text"] == "" and replies[2]["suggested_text"] is None
    # A reply still waiting to go out keeps its text: the sender needs it.
    assert replies[3]["status"] == "approved" and replies[3]["text"].startswith("Hello, we are here")
    assert author["handle"] is None and author["contacts"] == 1

    after = {r["seq"]: r for r in audit_log.audit_rows(store)}
    for seq, row in before.items():  # the hashed entries are untouched
        assert (after[seq]["details"], after[seq]["hash"]) == (row["details"], row["hash"])
    assert after[1]["data"]["text"] is None and after[1]["data"]["category"] == "billing"
    recent = next(r for r in after.values() if r["item_key"] == "x:5010" and r["action"] == "item.received")
    assert recent["data"]["text"] == "@acme still waiting for my refund"
    purge_entry = list(after.values())[-1]
    assert purge_entry["action"] == "retention.purged"
    assert purge_entry["data"]["cutoff"] == "2026-03-16T09:00:00.000000Z" and purge_entry["data"]["texts"] is True
    # The old item stored after the recent one (out of time order) lost its texts too.
    late = next(r for r in after.values() if r["item_key"] == "x:5020" and r["action"] == "item.received")
    assert late["seq"] > recent["seq"] and late["content"] == {} and late["data"]["text"] is None


def test_purged_text_is_gone_from_the_database_files(store):
    retention.purge(store, 30, now=NOW)
    blob = b"".join(p.read_bytes() for p in store.path.parent.glob("sw.db*"))
    for text in TEXTS + ["So sorry about the outage", "cust0", "Customer 0", "hello? anyone?"]:
        assert text.encode() not in blob, f"{text!r} is still in the database files"
    assert b"still waiting for my refund" in blob


def test_deleting_texts_of_recent_entries_is_still_caught_after_a_purge(store):
    retention.purge(store, 30, now=NOW)
    seq = next(r["seq"] for r in audit_log.audit_rows(store) if r["item_key"] == "x:5010")
    raw(store.path).execute("DELETE FROM audit_content WHERE seq = ?", [seq])
    code, out = verify(store)
    assert code == 1 and f"BROKEN at entry {seq}:" in out


def test_raw_only_purge_keeps_texts(store):
    with store.db() as db:
        db.execute(
            "INSERT INTO rejects (source, received_at, error, payload) VALUES ('s', ?, 'bad', '{x')",
            ["2026-03-01T00:00:00.000000Z"],
        )
    report = retention.purge(store, 30, texts=False, now=NOW)
    assert report.counts["raw_payloads"] == 4 and report.counts["rejects"] == 1 and report.counts["items"] == 0
    item = inbox.item_by_key(store, "x:5000")
    assert item["raw"] is None and item["text"] == TEXTS[0]
    assert inbox.item_by_key(store, "x:5010")["raw"] is not None
    assert verify(store)[0] == 0
    # A raw-only purge does not excuse missing texts.
    raw(store.path).execute("DELETE FROM audit_content WHERE seq = 1 AND field = 'text'")
    code, out = verify(store)
    assert code == 1 and "BROKEN at entry 1:" in out


def test_export_after_purge_marks_purged_rows(store):
    retention.purge(store, 30, now=NOW)
    result = CliRunner().invoke(audit_group, ["export", "--database", str(store.path), "--format", "jsonl"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["purged"] for r in rows] == [True, True, True]
    bob = next(r for r in rows if r["reply_id"] == 2)
    assert bob["final_text"] == "" and bob["edited"] is None and bob["approver_name"] == "bob"
    assert bob["response_seconds"] == 40 * 60  # times, decisions and people stay


def test_purge_command_and_nothing_to_do(store):
    runner = CliRunner()
    first = runner.invoke(audit_group, ["purge", "--database", str(store.path), "--older-than", "3650"])
    assert first.exit_code == 0 and "nothing older than 3650 days" in first.output
    second = runner.invoke(audit_group, ["purge", "--database", str(store.path), "--older-than", "30"])
    assert second.exit_code == 0 and "purged texts, names and raw payloads" in second.output
    assert inbox.item_by_key(store, "x:5000")["text"] == ""  # the real clock: T0 is long enough ago
    assert verify(store)[0] == 0
    refused = runner.invoke(audit_group, ["purge", "--database", str(store.path), "--older-than", "0"])
    assert refused.exit_code == 2


def test_apply_config_and_daily_job(store, caplog):
    assert retention.apply_config(store, RetentionConfig(), now=NOW) == []  # 0 keeps everything
    caplog.set_level(logging.INFO, logger="socialwatch.compliance.retention")
    retention.daily_job(store, RetentionConfig(purge_texts_after_days=30, purge_raw_after_days=3), clock=lambda: NOW)
    assert inbox.item_by_key(store, "x:5000")["text"] == ""
    assert inbox.item_by_key(store, "x:5010")["raw"] is None  # 45 - 40 days old > 3
    assert inbox.item_by_key(store, "x:5010")["text"]
    head = audit_log.audit_head(store)
    assert any(f"audit head {head.render()}" in m for m in caplog.messages)
    assert verify(store)[0] == 0


def test_retention_config_is_validated():
    config = parse_config("[retention]\npurge_texts_after_days = 365\npurge_raw_after_days = 30\n")
    assert config.retention.purge_texts_after_days == 365
    with pytest.raises(ConfigError, match=r"retention\.purge_raw_after_days"):
        parse_config("[retention]\npurge_raw_after_days = -1\n")
    with pytest.raises(ConfigError, match="unknown key 'purge_after_days'"):
        parse_config("[retention]\npurge_after_days = 5\n")
