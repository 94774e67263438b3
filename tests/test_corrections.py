"""Managers' corrections in the store: each one a label and an audit entry, idempotent, "needs a reply" on
the queue, "needs no reply" from a dismissal, the training examples (latest per field; erased and purged
customers left out), the migration of earlier "Not negative" clicks, and `socialwatch corrections list`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import builders
import pytest
from click.testing import CliRunner

from socialwatch.cli import main
from socialwatch.config.schema import Config
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import audit_log, corrections, erasure, inbox
from socialwatch.store.db import Store
from socialwatch.store.schema import MIGRATIONS

T0 = builders.T0
MANAGER = {"actor_id": "U0MANAGER1", "actor_name": "maria.manager"}


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Config())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "sw.db")


def stored(store: Store, pipeline: Pipeline, text: str, native_id: str, **kw: object) -> dict[str, object]:
    builders.ingest(store, pipeline, [builders.item(text, native_id=native_id, **kw)], alert=True, now=T0)  # type: ignore[arg-type]
    found = inbox.item_by_key(store, f"x:{native_id}")
    assert found is not None
    return found


def feedback_entries(store: Store, key: str) -> list[tuple[str, dict[str, object]]]:
    return [(r["action"], r["data"]) for r in audit_log.audit_rows(store, key) if r["action"].startswith("feedback.")]


def test_a_correction_is_a_row_and_an_audit_entry_and_a_repeat_changes_nothing(store, pipeline):
    item = stored(store, pipeline, "@acme worst service ever, still no refund", "1")
    assert item["label"] == "negative"
    first = corrections.correct(store, int(item["id"]), "label", "not_negative", now=T0, **MANAGER)
    again = corrections.correct(store, int(item["id"]), "label", "not_negative", now=T0, **MANAGER)
    assert first.status == "recorded" and first.correction is not None
    assert (first.correction.old, first.correction.new) == ("negative", "not_negative")
    assert again.status == "unchanged" and again.correction == first.correction
    entries = feedback_entries(store, "x:1")
    assert [action for action, _ in entries] == ["feedback.not_negative"]
    assert entries[0][1] | {} == {
        "correction": first.correction.id,
        "field": "label",
        "old": "negative",
        "new": "not_negative",
        "label": "negative",
        "compound": item["compound"],
    }
    # Both ways: the complaint after all; the item keeps triage's label, the feedback column the latest.
    back = corrections.correct(store, int(item["id"]), "label", "negative", now=T0 + timedelta(minutes=1), **MANAGER)
    assert back.status == "recorded" and back.correction is not None and back.correction.old == "not_negative"
    row = inbox.item(store, int(item["id"]))
    assert row is not None and (row["label"], row["feedback"]) == ("negative", "negative")
    assert [a for a, _ in feedback_entries(store, "x:1")] == ["feedback.not_negative", "feedback.complaint"]
    assert audit_log.verify_audit(store).ok


def test_values_and_items_that_do_not_exist_are_refused(store, pipeline):
    item = stored(store, pipeline, "@acme where is my parcel?", "2")
    with pytest.raises(ValueError, match="label correction 'angry'"):
        corrections.correct(store, int(item["id"]), "label", "angry", **MANAGER)
    with pytest.raises(ValueError, match="cannot correct 'priority'"):
        corrections.correct(store, int(item["id"]), "priority", "urgent", **MANAGER)
    with pytest.raises(ValueError, match="needs_reply correction 'maybe'"):
        corrections.correct(store, int(item["id"]), "needs_reply", "maybe", **MANAGER)
    assert corrections.correct(store, 999_999, "category", "billing", **MANAGER).status == "missing"
    assert corrections.history(store) == [] and feedback_entries(store, "x:2") == []


def test_needs_a_reply_puts_the_item_on_the_queue_with_a_due_time(store, pipeline):
    item = stored(store, pipeline, "@acme nice photo of the new shop", "3")
    assert not item["needs_reply"] and item["priority"] in ("none", "low")
    assert inbox.open_items(store) == []
    due = T0 + timedelta(hours=6)
    outcome = corrections.correct(store, int(item["id"]), "needs_reply", "true", due_at=due, now=T0, **MANAGER)
    assert outcome.status == "recorded"
    (queued,) = inbox.open_items(store)
    assert (queued["id"], queued["needs_reply"], queued["priority"]) == (item["id"], 1, "normal")
    assert queued["sla_due_at"] == "2026-11-01T15:00:00.000000Z"
    assert (item["status"], queued["status"]) == ("no_action", "open")  # triage had asked nobody
    ((action, details),) = feedback_entries(store, "x:3")
    assert action == "feedback.needs_reply" and details["queued"] is True and details["priority"] == "normal"
    assert corrections.correct(store, int(item["id"]), "needs_reply", "true", due_at=due, **MANAGER).status == (
        "unchanged"
    )


def test_needs_a_reply_on_an_answered_item_is_a_label_only(store, pipeline):
    item = stored(store, pipeline, "@acme thanks, lovely day", "4")
    with store.transaction() as db:
        db.execute(
            "UPDATE items SET first_reply_at = ?, status = 'replied' WHERE id = ?", ["2026-11-01T10:00:00Z", item["id"]]
        )
    outcome = corrections.correct(store, int(item["id"]), "needs_reply", "true", due_at=T0, **MANAGER)
    assert outcome.status == "recorded"
    row = inbox.item(store, int(item["id"]))
    assert row is not None and (row["needs_reply"], row["status"]) == (0, "replied")
    assert inbox.open_items(store) == []


def test_dismissing_as_needs_no_reply_is_a_correction(store, pipeline):
    item = stored(store, pipeline, "@acme my card was charged twice, fix it", "5")
    assert item["needs_reply"]
    assert inbox.dismiss_item(store, int(item["id"]), reason="no_reply", now=T0, **MANAGER)
    ((action, details),) = feedback_entries(store, "x:5")
    assert (action, details["old"], details["new"]) == ("feedback.no_reply", "true", "false")
    other = stored(store, pipeline, "@acme my order is late again", "6")
    assert inbox.dismiss_item(store, int(other["id"]), reason="spam", now=T0, **MANAGER)
    assert feedback_entries(store, "x:6") == []


def test_training_examples_take_the_latest_per_field_and_leave_out_forgotten_and_purged(store, pipeline):
    angry = stored(store, pipeline, "@acme useless, my parcel tracker crashed again", "10", author_id="101", lang="en")
    # Lithuanian, which the learned model does not read: "unscored", so "not negative" is a correction.
    kind = stored(store, pipeline, "@acme Labas, ačiū už pagalbą", "11", author_id="102", lang="lt")
    gone = stored(store, pipeline, "@acme I want my money back", "12", author_id="103")
    old = stored(store, pipeline, "@acme the app is awful and slow", "13", author_id="104")
    never = stored(store, pipeline, "@acme hello", "14", author_id="105")
    at = T0
    for item_id, field, new in [
        (angry["id"], "label", "not_negative"),
        (angry["id"], "label", "negative"),  # changed their mind: the latest counts
        (angry["id"], "category", "outage"),  # triage said delivery
        (kind["id"], "label", "not_negative"),
        (kind["id"], "needs_reply", "true"),
        (gone["id"], "category", "question"),
        (old["id"], "label", "not_negative"),
    ]:
        at += timedelta(minutes=1)
        assert corrections.correct(store, int(item_id), field, new, now=at, **MANAGER).status == "recorded"
    erasure.forget_customer(store, "x:103", requested_by="ticket 7", actor_id="cli:dpo", actor_name="dpo")
    with store.transaction() as db:  # as if read before retention's cutoff
        db.execute("UPDATE items SET received_at = '2020-01-01T00:00:00Z' WHERE id = ?", [old["id"]])
    erasure.purge_personal_data(store, T0 - timedelta(days=365), texts=True)

    examples = corrections.training_examples(store)
    assert examples == [
        {
            "text": "@acme useless, my parcel tracker crashed again",
            "lang": angry["lang"],
            "label": "negative",
            "needs_reply": None,
            "category": "outage",
            "item_id": angry["id"],
            "item_key": "x:10",
            "corrected_by": "U0MANAGER1",
            "corrected_by_name": "maria.manager",
            "corrected_at": "2026-11-01T09:03:00.000000Z",
        },
        {
            "text": "@acme Labas, ačiū už pagalbą",
            "lang": kind["lang"],
            "label": "neutral",  # "not negative" is no praise
            "needs_reply": True,
            "category": None,
            "item_id": kind["id"],
            "item_key": "x:11",
            "corrected_by": "U0MANAGER1",
            "corrected_by_name": "maria.manager",
            "corrected_at": "2026-11-01T09:05:00.000000Z",
        },
    ]
    assert never["id"] not in {e["item_id"] for e in examples}
    assert len(corrections.history(store)) == 7  # the history stays whole; only training leaves them out
    assert audit_log.verify_audit(store).ok


def test_earlier_not_negative_clicks_become_corrections_on_upgrade(tmp_path, pipeline, monkeypatch):
    path = tmp_path / "old.db"
    monkeypatch.setattr("socialwatch.store.schema.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 80])
    old = Store(path)
    item = stored(old, pipeline, "@acme I hate how good this is", "20")
    with old.transaction() as db:  # what the button did before corrections had a table
        db.execute("UPDATE items SET feedback = 'not_negative', feedback_by = 'U0OLDMGR1' WHERE id = ?", [item["id"]])
        audit_log.append_audit_on(
            db.conn,
            T0 + timedelta(hours=1),
            "U0OLDMGR1",
            "olga",
            "feedback.not_negative",
            "x:20",
            {"label": "negative"},
        )
    monkeypatch.setattr("socialwatch.store.schema.MIGRATIONS", MIGRATIONS)
    upgraded = Store(path)
    ((row),) = corrections.history(upgraded)
    assert (row["item_key"], row["field"], row["old"], row["new"]) == ("x:20", "label", "negative", "not_negative")
    assert (row["corrected_by"], row["corrected_by_name"], row["corrected_at"]) == (
        "U0OLDMGR1",
        "olga",
        "2026-11-01T10:00:00.000000Z",
    )
    assert corrections.training_examples(upgraded)[0]["label"] == "neutral"


def test_corrections_list_prints_examples_masked_and_as_json_lines(tmp_path, pipeline):
    database = tmp_path / "sw.db"
    store = Store(database)
    item = stored(store, pipeline, "@acme charged twice on 4111 1111 1111 1111, awful", "30", lang="en")
    corrections.correct(store, int(item["id"]), "category", "billing", now=T0, **MANAGER)
    corrections.correct(store, int(item["id"]), "needs_reply", "false", now=T0, **MANAGER)
    runner = CliRunner()
    text = runner.invoke(main, ["corrections", "list", "--database", str(database)])
    assert text.exit_code == 0, text.output
    assert "x:30  needs_reply=no category=billing  by maria.manager 2026-11-01T09:00:00.000000Z" in text.output
    assert "1111 1111" not in text.output and "1 corrected item(s)" in text.output
    lines = runner.invoke(main, ["corrections", "list", "--json", "--database", str(database)])
    (example,) = [json.loads(line) for line in lines.output.splitlines()]
    assert example["category"] == "billing" and example["needs_reply"] is False and example["label"] is None
    assert "4111" not in example["text"] and example["text"].endswith(", awful")
    every = runner.invoke(main, ["corrections", "list", "--all", "--database", str(database)])
    assert every.output.splitlines()[0].endswith("x:30  needs_reply: true -> false  by maria.manager")
    assert "2 correction(s)" in every.output
    missing = runner.invoke(main, ["corrections", "list", "--database", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no database at" in missing.output


def test_the_card_row_offers_what_changes_something_and_escapes_what_it_names():
    from socialwatch.alerts import cards
    from socialwatch.alerts import corrections as card_corrections

    unscored = {"id": 7, "label": "unscored", "needs_reply": 0, "category": "other"}
    row = card_corrections.block(unscored, {}, ("billing", "other"))
    ids = [e["action_id"] for e in row["elements"]]
    assert ids == [card_corrections.NEEDS_REPLY, card_corrections.COMPLAINT, card_corrections.CATEGORY]
    select = row["elements"][-1]
    assert [o["value"] for o in select["options"]] == ["7:billing", "7:other"]
    assert select["initial_option"]["value"] == "7:other"
    hostile = corrections.Correction(1, 7, "category", "<!here>", "<!channel>", "U0MANAGER1", "m", "t")
    relabel = corrections.Correction(2, 7, "label", "unscored", "negative", "not-a-slack-id", "m", "t")
    lines = card_corrections.lines({"category": hostile, "label": relabel})
    assert lines == (
        ":memo: <@unknown> marked it a *complaint*",
        ":memo: <@U0MANAGER1> set the category to *&lt;!channel&gt;* (was &lt;!here&gt;)",
    )
    after = card_corrections.block(unscored, {"label": relabel}, ("billing", "other"))
    assert cards.NOT_NEGATIVE in [e["action_id"] for e in after["elements"]]
