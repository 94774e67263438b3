"""The store's promises: each item once, items and cursor together or not at all, authors' history."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import builders
import pytest

from socialwatch.config.schema import Config
from socialwatch.models import Item, Processed, Reject
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import alert_outbox, audit_log, author_history, inbox, streams
from socialwatch.store.db import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Config(), detect=lambda text: "en")


def make_item(n: int, author: str = "a1", text: str = "worst service ever, I am furious") -> Item:
    return builders.item(
        text,
        native_id=str(1000 + n),
        author_id=author,
        handle=f"h{author}",
        name="Ann Author",
        followers=10,
        created=T0 + timedelta(minutes=n),
    )


def processed(pipeline: Pipeline, items: list[Item], alert: bool = True) -> list[Processed]:
    return builders.processed(pipeline, items, alert=None if alert else False)


def test_migrations_recorded_and_idempotent(tmp_path):
    store = Store(tmp_path / "sw.db")
    assert store.schema_version() >= 1
    assert store.migrate() == []  # second run applies nothing
    with store.db() as db:
        assert db["_migrations"].count >= 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reingesting_the_same_items_stores_nothing_twice(tmp_path, pipeline):
    store = Store(tmp_path / "sw.db")
    batch = processed(pipeline, [make_item(n) for n in range(5)])
    first = inbox.ingest(store, "x:acme:mentions", batch, "1004")
    second = inbox.ingest(store, "x:acme:mentions", batch, "1004")
    assert (first.new, first.duplicates) == (5, 0)
    assert (second.new, second.duplicates) == (0, 5)
    assert inbox.count_items(store) == 5
    with store.db() as db:
        assert db["alert_outbox"].count == first.alerts > 0
        assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'item.received'").fetchone()[0] == 5
    author = author_history.author(store, "x:a1")
    assert author is not None and author["contacts"] == 5  # duplicates did not count as contacts


def test_crash_between_items_and_cursor_leaves_neither(tmp_path, pipeline):
    store = Store(tmp_path / "sw.db")
    inbox.ingest(store, "x:acme:mentions", processed(pipeline, [make_item(0)]), "1000")

    def crash() -> None:
        raise KeyboardInterrupt("simulated crash after the writes, before COMMIT")

    with pytest.raises(KeyboardInterrupt):
        inbox.ingest(
            store,
            "x:acme:mentions",
            processed(pipeline, [make_item(n) for n in range(1, 4)]),
            "1003",
            fail_before_commit=crash,
        )
    assert streams.cursor(store, "x:acme:mentions") == "1000"
    assert inbox.count_items(store) == 1
    assert author_history.author(store, "x:a1")["contacts"] == 1
    with store.db() as db:
        assert db["alert_outbox"].count == 1
        assert db["audit"].count == 1


def test_crash_by_killed_process_leaves_neither(tmp_path, pipeline):
    """A real process dies with os._exit inside the transaction: nothing of it survives."""
    import multiprocessing

    path = tmp_path / "sw.db"
    Store(path)

    def child() -> None:
        import os

        store = Store(path)
        local = Pipeline(Config(), detect=lambda text: "en")
        batch = [Processed(i, a, alert=True) for i, a in local.assess_batch([make_item(n) for n in range(3)], {})]
        inbox.ingest(store, "x:acme:mentions", batch, "1002", fail_before_commit=lambda: os._exit(9))

    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=child)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 9
    store = Store(path)
    assert inbox.count_items(store) == 0
    assert streams.cursor(store, "x:acme:mentions") is None


def test_author_history_accumulates(tmp_path, pipeline):
    store = Store(tmp_path / "sw.db")
    inbox.ingest(store, "s", processed(pipeline, [make_item(0), make_item(1, text="thanks, all good now!")]), None)
    history = author_history.histories(store, ["x:a1", "x:nobody"])
    assert "x:nobody" not in history
    assert history["x:a1"].contacts == 2
    assert history["x:a1"].negative_count == 1
    assert history["x:a1"].last_label == "positive"
    assert history["x:a1"].first_seen == T0


def test_batch_sees_earlier_items_of_the_same_author(pipeline):
    results = pipeline.assess_batch([make_item(1), make_item(0)], {})
    # Sorted oldest first; the second message is from a returning author.
    assert [i.native_id for i, _ in results] == ["1000", "1001"]
    assert any("contact us again" in s.text or "welcome back" in s.text for s in results[1][1].suggestions)
    assert not any("welcome back" in s.text for s in results[0][1].suggestions)


def test_rejects_are_kept_with_the_cursor(tmp_path):
    store = Store(tmp_path / "sw.db")
    inbox.ingest(store, "replay:r", [], "120", rejects=[Reject("invalid JSON", "{not json")])
    assert streams.cursor(store, "replay:r") == "120"
    with store.db() as db:
        row = db.execute("SELECT source, error, payload FROM rejects").fetchone()
    assert tuple(row) == ("replay:r", "invalid JSON", "{not json")


def test_audit_table_is_append_only(tmp_path):
    store = Store(tmp_path / "sw.db")
    audit_log.append_audit(store, "test", details={"a": 1})
    with store.db() as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE audit SET action = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM audit")


def test_concurrent_writers_keep_one_chain(tmp_path, pipeline):
    """Scheduler threads write at once: every item stored once, the audit chain has no fork."""
    from socialwatch.audit import verify_chain

    store = Store(tmp_path / "sw.db")
    batches = [processed(pipeline, [make_item(n + 10 * t, author=f"a{t}") for n in range(10)]) for t in range(4)]
    # Each thread also re-ingests another thread's batch to race on the unique key.
    threads = [
        threading.Thread(
            target=lambda t=t: [
                inbox.ingest(store, f"s{t}", batches[t], "c"),
                inbox.ingest(store, f"s{t}", batches[(t + 1) % 4], "c"),
            ]
        )
        for t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert inbox.count_items(store) == 40
    result = verify_chain(audit_log.audit_rows(store))
    assert result.ok and result.checked == 40


def test_alert_outbox_retry_then_posted(tmp_path, pipeline):
    store = Store(tmp_path / "sw.db")
    inbox.ingest(store, "s", processed(pipeline, [make_item(0)]), None, now=T0)
    due = alert_outbox.due_alerts(store, T0)
    assert len(due) == 1 and due[0]["attempts"] == 0
    alert_outbox.mark_alert_attempt(store, due[0]["outbox_id"])
    alert_outbox.mark_alert_retry(store, due[0]["outbox_id"], error="429", next_attempt_at=T0 + timedelta(seconds=30))
    assert alert_outbox.due_alerts(store, T0 + timedelta(seconds=10)) == []
    again = alert_outbox.due_alerts(store, T0 + timedelta(seconds=31))
    assert len(again) == 1 and again[0]["attempts"] == 1
    alert_outbox.mark_alert_posted(store, again[0]["outbox_id"], channel="C1", ts="1.0")
    assert alert_outbox.due_alerts(store, T0 + timedelta(days=1)) == []
    assert inbox.item(store, again[0]["id"])["status"] == "alerted"


def test_a_page_with_an_item_twice_stores_and_audits_it_once(tmp_path, pipeline):
    """Ingest writes a page's authors, audit entries and alerts with one statement each: the copy of an
    item inside the same page must be counted as a duplicate there too, not only across pages."""
    from socialwatch.audit import verify_chain

    store = Store(tmp_path / "sw.db")
    items = [make_item(1), make_item(2, text="thanks, all sorted now, you are great"), make_item(1)]
    result = inbox.ingest(store, "x:acme:mentions", processed(pipeline, items), "1002")
    assert (result.new, result.duplicates) == (2, 1)
    assert len(result.new_item_ids) == 2
    with store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'item.received'").fetchone()[0] == 2
        assert db["alert_outbox"].count == result.alerts == 1
    author = author_history.author(store, "x:a1")
    # Two contacts, and the later item (the thanks) decides the last label, as row-by-row writes did.
    assert author is not None and author["contacts"] == 2 and author["last_label"] == "positive"
    assert verify_chain(audit_log.audit_rows(store)).ok


def test_a_failed_transaction_does_not_poison_the_next(tmp_path, pipeline):
    """A unit of work that failed mid-transaction (or on a bad query) leaves nothing behind: no half-done
    transaction, no lock held by the Store's idle connection, and the next writer gets on with it."""
    store = Store(tmp_path / "sw.db")

    def boom() -> None:
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        inbox.ingest(store, "x:acme:mentions", processed(pipeline, [make_item(1)]), "1001", fail_before_commit=boom)
    with pytest.raises(sqlite3.OperationalError):
        with store.db() as db:
            db.execute("SELECT nope FROM items")
    stored = inbox.ingest(store, "x:acme:mentions", processed(pipeline, [make_item(2)]), "1002")
    assert stored.new == 1 and inbox.count_items(store) == 1
    assert streams.cursor(store, "x:acme:mentions") == "1002"
