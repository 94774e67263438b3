"""The SQLite store: schema, migrations and every query. The only module that writes SQL.

Invariants the rest of the system relies on:
- an item is stored once (unique on platform + native_id), whatever the retries;
- new items, their authors' history, their alerts, their audit entries and the cursor
  that covers them are committed in ONE transaction: a crash leaves all or none;
- a connection per unit of work (threads never share one), and one idle connection held
  open so that closing them does not checkpoint the WAL each time; WAL lets readers
  (``status``, ``review``) work while the daemon writes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from socialwatch import audit
from socialwatch.models import Assessment, AuthorHistory, Item, iso, parse_time, utcnow

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
_PRIORITY_RANK = ("CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
                  "WHEN 'low' THEN 3 ELSE 4 END")


@dataclass(frozen=True)
class Processed:
    """An item with its assessment, ready to store; ``alert`` says whether Slack should see it."""

    item: Item
    assessment: Assessment
    alert: bool
    source: str = ""


@dataclass(frozen=True)
class Reject:
    """A payload the adapter could not turn into an Item."""

    error: str
    payload: str


@dataclass(frozen=True)
class IngestResult:
    new: int
    duplicates: int
    alerts: int
    new_item_ids: tuple[int, ...] = ()


# --- reply outbox (issue 5) ---
#: Reply rows that stand for "this item has (or is getting) its answer": a manager reply in one of these
#: blocks another (failed and cancelled rows do not).
ACTIVE_REPLY_STATUSES = ("awaiting_second", "approved", "sending", "sent", "needs_check")
#: reply_outbox.verify_before_send: what the next attempt must do first, after an attempt with no clear answer.
VERIFY_NONE, VERIFY_BEST_EFFORT, VERIFY_REQUIRED = 0, 1, 2


@dataclass(frozen=True)
class QueueResult:
    """What a click did: ``queued`` | ``awaiting_second`` | ``duplicate`` | ``closed``, and the reply row
    (with ``item_key``) that now stands for the item, if any."""

    status: str
    reply: dict[str, Any] | None
# --- end reply outbox (issue 5) ---


def _schema_v1(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            native_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            account TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            author_key TEXT NOT NULL,
            author_id TEXT NOT NULL,
            author_handle TEXT,
            author_name TEXT,
            author_followers INTEGER,
            text TEXT NOT NULL,
            lang TEXT,
            created_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            url TEXT,
            conversation_id TEXT,
            in_reply_to TEXT,
            public INTEGER NOT NULL,
            raw TEXT,
            compound REAL,
            neg REAL,
            neu REAL,
            pos REAL,
            label TEXT,
            category TEXT,
            priority TEXT,
            needs_reply INTEGER NOT NULL DEFAULT 0,
            reasons TEXT,
            suggestions TEXT,
            sla_due_at TEXT,
            status TEXT NOT NULL DEFAULT 'open',
            backfill INTEGER NOT NULL DEFAULT 0,
            alerted_at TEXT,
            first_reply_at TEXT,
            assigned_to TEXT,
            UNIQUE (platform, native_id)
        )""")
    db.execute("CREATE INDEX idx_items_author ON items (author_key, created_at)")
    db.execute("CREATE INDEX idx_items_open ON items (status, needs_reply, priority)")
    db.execute("CREATE INDEX idx_items_received ON items (received_at)")
    db.execute("CREATE INDEX idx_items_conversation ON items (platform, conversation_id)")
    db.execute("""
        CREATE TABLE authors (
            key TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            native_id TEXT NOT NULL,
            handle TEXT,
            name TEXT,
            followers INTEGER,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            contacts INTEGER NOT NULL DEFAULT 0,
            negative_count INTEGER NOT NULL DEFAULT 0,
            last_label TEXT,
            last_compound REAL
        )""")
    db.execute("""
        CREATE TABLE cursors (
            source TEXT PRIMARY KEY,
            value TEXT,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE sources (
            source TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            healthy INTEGER NOT NULL DEFAULT 1,
            state TEXT NOT NULL DEFAULT 'ok',
            detail TEXT,
            last_poll_at TEXT,
            last_success_at TEXT,
            last_error_at TEXT,
            last_error TEXT,
            rate_limit_remaining INTEGER,
            rate_limit_reset_at TEXT,
            paused_until TEXT,
            announced INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE alert_outbox (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL UNIQUE REFERENCES items(id),
            channel TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            posted_at TEXT,
            slack_channel TEXT,
            slack_ts TEXT,
            thread_ts TEXT,
            last_error TEXT
        )""")
    db.execute("CREATE INDEX idx_alert_outbox_due ON alert_outbox (status, next_attempt_at)")
    db.execute("""
        CREATE TABLE reply_outbox (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id),
            dedupe_key TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            suggested_text TEXT,
            suggestion_kind TEXT,
            approved_by TEXT NOT NULL,
            approved_by_name TEXT,
            approved_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'approved',
            attempts INTEGER NOT NULL DEFAULT 0,
            send_started_at TEXT,
            platform_reply_id TEXT,
            sent_at TEXT,
            last_error TEXT
        )""")
    db.execute("CREATE INDEX idx_reply_outbox_status ON reply_outbox (status)")
    db.execute("""
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            actor_name TEXT NOT NULL,
            action TEXT NOT NULL,
            item_key TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE rejects (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            received_at TEXT NOT NULL,
            error TEXT NOT NULL,
            payload TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX idx_audit_item ON audit (item_key)")
    db.execute("CREATE INDEX idx_audit_action ON audit (action, ts)")
    # Append-only, enforced by the database itself, not just by our code.
    db.execute("""
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""")
    db.execute("""
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""")


#: Ordered; each runs once, in its own transaction, and is recorded in _migrations.
MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial schema", _schema_v1),
    # issue 5 (Slack) owns versions 10-19.
    (10, "slack: dismissals, assignment time, label feedback", lambda db: Store._migrate_slack_v10(db)),
    (11, "reply outbox: origin, second approval, due times, one active reply per item",
     lambda db: Store._migrate_replies_v11(db)),
    # issue 6 (audit and compliance) owns versions 20-29; the lambda defers to the Store section below.
    (20, "audit: texts beside the chain, head anchor, purge marks", lambda db: Store._migrate_audit_v20(db)),
    # issue 9 (response times) owns versions 30-39; the schema lives in sla_store.py with its queries.
    (30, "response times: SLA state, incidents, grouped alerts",
     lambda db: __import__("socialwatch.store.sla", fromlist=["migrate_v30"]).migrate_v30(db)),
    # issue 10 (performance) owns versions 40-49: indexes only.
    (40, "indexes: open-reply queue, unanswered items", lambda db: _indexes_v40(db)),
]


def _indexes_v40(db: sqlite_utils.Database) -> None:
    """Partial indexes holding only the items still waiting for someone, so the queries over them stay
    fast at millions of rows (benchmarks/store_scale.py). SQLite uses a partial index only when the
    query's WHERE repeats the index's terms: keep them in step with the queries named here."""
    # open_counts, open_items (Store), and `status`: covering, a few thousand entries at most.
    db.execute("""CREATE INDEX IF NOT EXISTS idx_items_open_queue ON items (status, needs_reply, priority, sla_due_at)
                  WHERE status IN ('open', 'alerted') AND needs_reply = 1""")
    # review.yaml's unanswered_items (the compliance review UI): was a scan of every item.
    db.execute("""CREATE INDEX IF NOT EXISTS idx_items_unanswered ON items (sla_due_at)
                  WHERE needs_reply = 1 AND first_reply_at IS NULL
                    AND status NOT IN ('dismissed', 'no_action', 'replied')""")


def connect(path: Path | str, *, readonly: bool = False, any_thread: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None)
    else:
        # any_thread: the Store's idle connection may be closed by whichever thread drops the Store.
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=not any_thread)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a reply marked 'sent' must survive power loss, or a restart could post it again.
        conn.execute("PRAGMA synchronous = FULL")
    return conn


class Store:
    """Opens a connection per unit of work; safe to share between scheduler threads."""

    def __init__(self, path: Path | str, *, migrate: bool = True):
        self.path = Path(path)
        self._keeper: sqlite3.Connection | None = None
        if migrate:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.migrate()
            self._keep_open()

    # --- plumbing ---------------------------------------------------------------------------

    def _keep_open(self) -> None:
        """Hold one idle connection for the Store's life. SQLite checkpoints and truncates the WAL when
        the *last* connection to a database closes: with a connection per unit of work that was every
        transaction (~2 ms; ingest spent a sixth of its time there). With this one open, SQLite
        checkpoints when the WAL reaches ``wal_autocheckpoint`` pages, as it intends. It holds no
        transaction (blocks no writer, reader or checkpoint) and, having read nothing but the schema,
        next to no memory. Connections are not pooled: measured, a pool of warm connections saved no
        CPU and kept ~4 MB of page and statement caches (benchmarks/README.md, memory)."""
        keeper = connect(self.path, any_thread=True)
        keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # maps the WAL index
        self._keeper = keeper
        weakref.finalize(self, keeper.close)

    def close(self) -> None:
        """Close the idle connection, so the next close checkpoints the WAL; the Store stays usable."""
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None

    @contextmanager
    def db(self) -> Iterator[sqlite_utils.Database]:
        """A connection for reads (autocommit)."""
        conn = connect(self.path)
        try:
            yield sqlite_utils.Database(conn)
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception. Takes the write lock up front,
        so read-then-write sequences inside (the audit chain) cannot interleave."""
        conn = connect(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield sqlite_utils.Database(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def migrate(self) -> list[int]:
        applied: list[int] = []
        with self.transaction() as db:
            db.execute("""CREATE TABLE IF NOT EXISTS _migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)""")
            done = {row[0] for row in db.execute("SELECT version FROM _migrations").fetchall()}
            for version, name, apply in sorted(MIGRATIONS, key=lambda m: m[0]):
                if version in done:
                    continue
                apply(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?, ?)", [version, name, iso(utcnow())])
                applied.append(version)
                log.info("database %s: applied migration %d (%s)", self.path, version, name)
        return applied

    def backup_to(self, destination: Path) -> int:
        """Online copy with SQLite's backup API (consistent while writers run); returns pages copied."""
        source = connect(self.path, readonly=True)
        target = sqlite3.connect(str(destination))
        try:
            source.backup(target, pages=1024)
            result = target.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"integrity check of the copy failed: {result}")
            return int(target.execute("PRAGMA page_count").fetchone()[0])
        finally:
            target.close()
            source.close()

    def check_writable(self) -> None:
        """Take the write lock and give it back: proves the file and its directory are writable."""
        conn = connect(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def schema_version(self) -> int:
        with self.db() as db:
            row = db.execute("SELECT MAX(version) FROM _migrations").fetchone()
        return int(row[0] or 0)

    # --- ingest -----------------------------------------------------------------------------

    def ingest(self, source: str, batch: Sequence[Processed], cursor: str | None, *,
               rejects: Sequence[Reject] = (), now: datetime | None = None,
               fail_before_commit: Callable[[], None] | None = None) -> IngestResult:
        """Store new items, their authors, alerts and audit entries, and move the cursor: all or nothing.

        ``cursor`` None leaves the stored cursor as it is. ``fail_before_commit`` exists for the
        crash tests: it runs inside the transaction after all writes.
        """
        now = now or utcnow()
        received = iso(now)
        with self.transaction() as db:
            conn = db.conn
            # Row by row for the ids (executemany cannot RETURN); everything else a statement per page.
            fresh: list[tuple[int, Processed]] = []
            for entry in batch:
                row = conn.execute(_INSERT_ITEM, _item_row(entry, received)).fetchone()
                if row is not None:
                    fresh.append((int(row[0]), entry))
            # In page order, so an author seen twice in a page ends with the later item's label.
            conn.executemany(_UPSERT_AUTHOR, [_author_row(entry) for _, entry in fresh])
            self._append_audit_many(conn, now, [
                (audit.SYSTEM, audit.SYSTEM, "item.received", entry.item.key, _assessment_details(entry))
                for _, entry in fresh])
            alerted = [item_id for item_id, entry in fresh if entry.alert]
            conn.executemany(
                "INSERT INTO alert_outbox (item_id, status, next_attempt_at, created_at) VALUES (?, 'pending', ?, ?)",
                [(item_id, received, received) for item_id in alerted])
            # Kept, not dropped: the cursor may move past a payload we could not read, never past data.
            conn.executemany("INSERT INTO rejects (source, received_at, error, payload) VALUES (?, ?, ?, ?)",
                             [(source, received, reject.error[:1000], reject.payload[:100_000])
                              for reject in rejects])
            if cursor is not None:
                self._set_cursor(conn, source, cursor, received)
            if fail_before_commit is not None:
                fail_before_commit()
        new_ids = tuple(item_id for item_id, _ in fresh)
        return IngestResult(len(new_ids), len(batch) - len(new_ids), len(alerted), new_ids)

    # --- authors ----------------------------------------------------------------------------

    def histories(self, author_keys: Sequence[str]) -> dict[str, AuthorHistory]:
        """What is known of each author before the batch at hand (one query per 500 keys)."""
        unique = list(dict.fromkeys(author_keys))
        found: dict[str, AuthorHistory] = {}
        with self.db() as db:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    f"SELECT key, contacts, negative_count, first_seen, last_seen, last_label FROM authors "
                    f"WHERE key IN ({marks})", chunk,
                ).fetchall():
                    found[row[0]] = AuthorHistory(
                        contacts=row[1], negative_count=row[2], first_seen=parse_time(row[3]),
                        last_seen=parse_time(row[4]), last_label=row[5],
                    )
        return found

    def author(self, author_key: str) -> dict[str, Any] | None:
        with self.db() as db:
            row = db.execute("SELECT * FROM authors WHERE key = ?", [author_key]).fetchone()
        return dict(row) if row else None

    def author_items(self, author_key: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.execute(
                "SELECT * FROM items WHERE author_key = ? ORDER BY created_at DESC LIMIT ?", [author_key, limit]
            ).fetchall()
        return [dict(r) for r in rows]

    def author_contacts(self, author_key: str, limit: int = 50) -> list[dict[str, Any]]:
        """The author's newest items as (id, created_at, label) only: what an alert shows of their history,
        without reading every column (raw payloads included) of up to ``limit`` rows per alert."""
        with self.db() as db:
            rows = db.execute(
                "SELECT id, created_at, label FROM items WHERE author_key = ? ORDER BY created_at DESC LIMIT ?",
                [author_key, limit]).fetchall()
        return [dict(r) for r in rows]

    # --- items ------------------------------------------------------------------------------

    def item(self, item_id: int) -> dict[str, Any] | None:
        with self.db() as db:
            row = db.execute("SELECT * FROM items WHERE id = ?", [item_id]).fetchone()
        return dict(row) if row else None

    def item_by_key(self, key: str) -> dict[str, Any] | None:
        platform, _, native_id = key.partition(":")
        with self.db() as db:
            row = db.execute("SELECT * FROM items WHERE platform = ? AND native_id = ?", [platform, native_id]).fetchone()
        return dict(row) if row else None

    def count_items(self, **where: Any) -> int:
        clauses = " AND ".join(f"{column} = ?" for column in where) or "1"
        with self.db() as db:
            return int(db.execute(f"SELECT COUNT(*) FROM items WHERE {clauses}", list(where.values())).fetchone()[0])

    def open_counts(self, now: datetime) -> dict[str, int]:
        """Items waiting for a reply, and how many of them are past their SLA."""
        with self.db() as db:
            row = db.execute(
                """SELECT COUNT(*), COALESCE(SUM(sla_due_at < ?), 0) FROM items
                   WHERE status IN ('open', 'alerted') AND needs_reply = 1""", [iso(now)]).fetchone()
        return {"open": int(row[0]), "breached": int(row[1])}

    def open_items(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.db() as db:
            # Ordered and limited on the covering index first (idx_items_open_queue), whole rows only for those.
            rows = db.execute(
                f"""SELECT * FROM items WHERE id IN (
                        SELECT id FROM items WHERE status IN ('open', 'alerted') AND needs_reply = 1
                        ORDER BY {_PRIORITY_RANK}, sla_due_at LIMIT ?)
                    ORDER BY {_PRIORITY_RANK}, sla_due_at""", [limit]
            ).fetchall()
        return [dict(r) for r in rows]

    # --- cursors ----------------------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        with self.db() as db:
            row = db.execute("SELECT value FROM cursors WHERE source = ?", [source]).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, value: str) -> None:
        """Moving a cursor without items (e.g. a poll that found nothing new)."""
        with self.transaction() as db:
            self._set_cursor(db.conn, source, value, iso(utcnow()))

    @staticmethod
    def _set_cursor(conn: sqlite3.Connection, source: str, value: str, now: str) -> None:
        conn.execute(
            "INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [source, value, now],
        )

    # --- source health ----------------------------------------------------------------------

    def record_poll(self, source: str, platform: str, account: str, *, ok: bool, state: str = "ok",
                    detail: str | None = None, rate_limit_remaining: int | None = None,
                    rate_limit_reset_at: datetime | None = None, paused_until: datetime | None = None,
                    now: datetime | None = None) -> bool:
        """Record a poll's outcome; returns True when the source just turned unhealthy (announce once)."""
        now_s = iso(now or utcnow())
        with self.transaction() as db:
            conn = db.conn
            before = conn.execute("SELECT healthy FROM sources WHERE source = ?", [source]).fetchone()
            conn.execute(
                """INSERT INTO sources (source, platform, account, healthy, state, detail, last_poll_at,
                       last_success_at, last_error_at, last_error, rate_limit_remaining, rate_limit_reset_at,
                       paused_until, updated_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (source) DO UPDATE SET
                       healthy = excluded.healthy, state = excluded.state, detail = excluded.detail,
                       last_poll_at = excluded.last_poll_at,
                       last_success_at = COALESCE(excluded.last_success_at, last_success_at),
                       last_error_at = COALESCE(excluded.last_error_at, last_error_at),
                       last_error = COALESCE(excluded.last_error, last_error),
                       rate_limit_remaining = COALESCE(excluded.rate_limit_remaining, rate_limit_remaining),
                       rate_limit_reset_at = COALESCE(excluded.rate_limit_reset_at, rate_limit_reset_at),
                       paused_until = excluded.paused_until,
                       announced = CASE WHEN excluded.healthy = 1 THEN 0 ELSE announced END,
                       updated_at = excluded.updated_at""",
                [source, platform, account, int(state not in ("unhealthy", "disabled")), state, detail, now_s,
                 now_s if ok else None, None if ok else now_s, None if ok else detail, rate_limit_remaining,
                 iso(rate_limit_reset_at), iso(paused_until), now_s],
            )
            turned = state in ("unhealthy", "disabled") and (before is None or before[0] == 1)
        return turned

    def sources(self) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.execute(
                """SELECT s.*, c.value AS cursor, c.updated_at AS cursor_updated_at FROM sources s
                   LEFT JOIN cursors c ON c.source = s.source ORDER BY s.source"""
            ).fetchall()
        return [dict(r) for r in rows]

    # --- alert outbox -----------------------------------------------------------------------

    def due_alerts(self, now: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.execute(
                """SELECT o.id AS outbox_id, o.attempts, o.channel, i.* FROM alert_outbox o
                   JOIN items i ON i.id = o.item_id
                   WHERE o.status = 'pending' AND o.next_attempt_at <= ?
                   ORDER BY o.id LIMIT ?""", [iso(now or utcnow()), limit],
            ).fetchall()
        return [dict(r) for r in rows]

    def mark_alert_posted(self, outbox_id: int, *, channel: str, ts: str | None, thread_ts: str | None = None,
                          actor: str = audit.SYSTEM, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            row = conn.execute(
                "SELECT o.item_id, i.platform || ':' || i.native_id FROM alert_outbox o JOIN items i ON i.id = o.item_id "
                "WHERE o.id = ?", [outbox_id]).fetchone()
            conn.execute(
                "UPDATE alert_outbox SET status = 'posted', posted_at = ?, slack_channel = ?, slack_ts = ?, "
                "thread_ts = ?, last_error = NULL WHERE id = ?",
                [iso(now), channel, ts, thread_ts, outbox_id],
            )
            conn.execute(
                "UPDATE items SET alerted_at = COALESCE(alerted_at, ?), "
                "status = CASE WHEN status = 'open' THEN 'alerted' ELSE status END WHERE id = ?",
                [iso(now), row[0]],
            )
            self._append_audit(conn, now, actor, actor, "alert.posted", row[1],
                               {"channel": channel, "ts": ts, "thread_ts": thread_ts})

    def mark_alert_attempt(self, outbox_id: int) -> None:
        """Committed before the channel is called: after a crash, ``attempts > 0`` tells the channel the
        alert may already be out there (Slack looks for it by its metadata before posting again)."""
        with self.transaction() as db:
            db.conn.execute("UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id])

    def mark_alert_retry(self, outbox_id: int, *, error: str, next_attempt_at: datetime) -> None:
        with self.transaction() as db:
            db.conn.execute(
                "UPDATE alert_outbox SET last_error = ?, next_attempt_at = ? WHERE id = ?",
                [error[:500], iso(next_attempt_at), outbox_id],
            )

    def outbox_depths(self) -> dict[str, int]:
        with self.db() as db:
            alerts = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'").fetchone()[0]
            replies = db.execute(
                "SELECT COUNT(*) FROM reply_outbox WHERE status IN ('approved', 'sending')").fetchone()[0]
            unsure = db.execute("SELECT COUNT(*) FROM reply_outbox WHERE status = 'needs_check'").fetchone()[0]
        return {"alerts": int(alerts), "replies": int(replies), "replies_need_check": int(unsure)}

    # --- reply outbox (issue 5) -------------------------------------------------------------
    # One brand reply per item, posted at most once. The status machine (docs/design.md):
    #   awaiting_second -> approved -> sending -> sent | failed | needs_check
    #   sending -> approved          deferred (rate limit, 5xx, credentials) or reconciled as not posted
    #   awaiting_second | approved -> cancelled;  needs_check -> sent | approved | cancelled (a person)
    # Every move is a conditional UPDATE on the expected status, in the transaction of its audit entry.

    @staticmethod
    def _migrate_replies_v11(db: sqlite_utils.Database) -> None:
        for column in ("origin TEXT NOT NULL DEFAULT 'manager'", "requested_at TEXT", "next_attempt_at TEXT",
                       "second_approver TEXT", "second_approver_name TEXT", "first_attempt_at TEXT",
                       "verify_before_send INTEGER NOT NULL DEFAULT 0", "needs_check_reason TEXT",
                       "closed_by TEXT", "closed_reason TEXT"):
            db.execute(f"ALTER TABLE reply_outbox ADD COLUMN {column}")
        db.execute("UPDATE reply_outbox SET requested_at = approved_at, next_attempt_at = approved_at")
        db.execute("CREATE INDEX idx_reply_outbox_due ON reply_outbox (status, next_attempt_at)")
        db.execute("CREATE INDEX idx_reply_outbox_item ON reply_outbox (item_id, status)")
        # The last line of defence behind queue_reply's check: one live manager answer per item.
        statuses = ", ".join(f"'{s}'" for s in ACTIVE_REPLY_STATUSES)
        db.execute(f"CREATE UNIQUE INDEX idx_reply_outbox_one_active ON reply_outbox (item_id) "
                   f"WHERE origin = 'manager' AND status IN ({statuses})")

    _REPLY_SELECT = """
        SELECT r.*, i.platform || ':' || i.native_id AS item_key, i.platform, i.account, i.kind, i.native_id,
               i.author_id, i.author_handle, i.conversation_id, i.public, i.created_at, i.url,
               i.status AS item_status
        FROM reply_outbox r JOIN items i ON i.id = r.item_id"""

    @classmethod
    def _replies_on(cls, conn: sqlite3.Connection, where: str, params: Sequence[Any], *,
                    tail: str = "") -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(f"{cls._REPLY_SELECT} WHERE {where} {tail}", list(params)).fetchall()]

    @classmethod
    def _reply_on(cls, conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> dict[str, Any] | None:
        rows = cls._replies_on(conn, where, params, tail="ORDER BY r.id DESC LIMIT 1")
        return rows[0] if rows else None

    @classmethod
    def _active_reply_on(cls, conn: sqlite3.Connection, item_id: int) -> dict[str, Any] | None:
        marks = ",".join("?" * len(ACTIVE_REPLY_STATUSES))
        return cls._reply_on(conn, f"r.item_id = ? AND r.origin = 'manager' AND r.status IN ({marks})",
                             [item_id, *ACTIVE_REPLY_STATUSES])

    def queue_reply(self, item_id: int, *, text: str, actor_id: str, actor_name: str,
                    suggested_text: str | None = None, suggestion_kind: str | None = None,
                    needs_second: bool = False, origin: str = "manager", dedupe_key: str | None = None,
                    now: datetime | None = None) -> QueueResult:
        """Record an approved reply (or, ``needs_second``, one waiting for a second approver).

        Checks and insert are one IMMEDIATE transaction, so concurrent clicks serialise: the first wins,
        the others get ``duplicate`` with the winner's row. Only ``origin='manager'`` rows count as the
        item's answer; other origins (``ack``) are deduplicated by their ``dedupe_key`` alone.
        """
        if not text.strip():
            raise ValueError("a reply needs text")
        now = now or utcnow()
        at = iso(now)
        with self.transaction() as db:
            conn = db.conn
            item = conn.execute("SELECT platform, native_id, status FROM items WHERE id = ?", [item_id]).fetchone()
            if item is None or item["status"] == "dismissed":
                return QueueResult("closed", None)
            key = f"{item['platform']}:{item['native_id']}"
            if dedupe_key is not None:
                same = self._reply_on(conn, "r.dedupe_key = ?", [dedupe_key])
                if same is not None:
                    return QueueResult("duplicate", same)
            if origin == "manager":
                active = self._active_reply_on(conn, item_id)
                if active is not None:
                    return QueueResult("duplicate", active)
            if dedupe_key is None:
                # No active row of this origin exists here, so every earlier one failed or was cancelled:
                # their count makes the key unique, and a retried click after a failure gets a new one.
                earlier = conn.execute("SELECT COUNT(*) FROM reply_outbox WHERE item_id = ? AND origin = ?",
                                       [item_id, origin]).fetchone()[0]
                dedupe_key = (f"{key}#{earlier}" if origin == "manager" else f"{origin}:{key}#{earlier}")
            status = "awaiting_second" if needs_second else "approved"
            inserted = conn.execute(
                """INSERT INTO reply_outbox (item_id, dedupe_key, text, suggested_text, suggestion_kind, approved_by,
                       approved_by_name, approved_at, requested_at, status, origin, next_attempt_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT DO NOTHING RETURNING id""",
                [item_id, dedupe_key, text, suggested_text, suggestion_kind, actor_id, actor_name, at, at, status,
                 origin, None if needs_second else at],
            ).fetchone()
            if inserted is None:  # a unique index caught what the checks above did not
                winner = self._reply_on(conn, "r.dedupe_key = ?", [dedupe_key]) or self._active_reply_on(conn, item_id)
                return QueueResult("duplicate", winner)
            reply_id = int(inserted[0])
            self._append_audit(conn, now, actor_id, actor_name, "reply.requested" if needs_second else "reply.approved",
                               key, {"reply_id": reply_id, "final": text, "suggestion_kind": suggestion_kind,
                                     "origin": origin})
            if suggested_text is not None and suggested_text != text:
                self._append_audit(conn, now, actor_id, actor_name, "reply.edited", key,
                                   {"reply_id": reply_id, "suggested": suggested_text, "final": text})
            row = self._reply_on(conn, "r.id = ?", [reply_id])
        return QueueResult(status if needs_second else "queued", row)

    def second_approval(self, reply_id: int, *, actor_id: str, actor_name: str,
                        now: datetime | None = None) -> QueueResult:
        """The two-person rule: a *different* approver releases an ``awaiting_second`` reply (``queued``).

        The first approver clicking again changes nothing and is audited as ``action.refused``
        (status ``awaiting_second``). A reply already released is ``duplicate``; a cancelled or
        failed one (or one whose text retention purged) is ``closed``.
        """
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            row = self._reply_on(conn, "r.id = ?", [reply_id])
            if row is None:
                return QueueResult("closed", None)
            if row["status"] != "awaiting_second":
                return QueueResult("closed" if row["status"] in ("failed", "cancelled") else "duplicate", row)
            if actor_id == row["approved_by"]:
                self._append_audit(conn, now, actor_id, actor_name, "action.refused", row["item_key"],
                                   {"attempted": "second_approval", "reply_id": reply_id,
                                    "reason": "the second approval must come from another person"})
                return QueueResult("awaiting_second", row)
            if not row["text"]:
                return QueueResult("closed", row)
            conn.execute(
                "UPDATE reply_outbox SET status = 'approved', second_approver = ?, second_approver_name = ?, "
                "approved_at = ?, next_attempt_at = ? WHERE id = ? AND status = 'awaiting_second'",
                [actor_id, actor_name, iso(now), iso(now), reply_id])
            self._append_audit(conn, now, actor_id, actor_name, "reply.approved", row["item_key"],
                               {"reply_id": reply_id, "final": row["text"], "suggestion_kind": row["suggestion_kind"],
                                "origin": row["origin"], "first_approver": row["approved_by"],
                                "first_approver_name": row["approved_by_name"]})
            updated = self._reply_on(conn, "r.id = ?", [reply_id])
        return QueueResult("queued", updated)

    def cancel_reply(self, reply_id: int, *, actor_id: str, actor_name: str, reason: str,
                     now: datetime | None = None) -> bool:
        """Withdraw a reply not yet on its way (awaiting_second / approved). False otherwise, and also for
        an approved row whose earlier attempt may have been posted (it must be checked, not forgotten)."""
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            changed = conn.execute(
                "UPDATE reply_outbox SET status = 'cancelled', closed_by = ?, closed_reason = ? WHERE id = ? "
                "AND status IN ('awaiting_second', 'approved') AND verify_before_send < ?",
                [actor_id, reason[:500], reply_id, VERIFY_REQUIRED]).rowcount
            if not changed:
                return False
            row = self._reply_on(conn, "r.id = ?", [reply_id])
            assert row is not None
            self._append_audit(conn, now, actor_id, actor_name, "reply.cancelled", row["item_key"],
                               {"reply_id": reply_id, "reason": reason[:500]})
        return True

    def reply(self, reply_id: int) -> dict[str, Any] | None:
        """The reply row with its item's key and the fields a Replier and Slack need."""
        with self.db() as db:
            return self._reply_on(db.conn, "r.id = ?", [reply_id])

    def active_reply_for(self, item_id: int) -> dict[str, Any] | None:
        """The manager reply that stands for the item's answer (acks do not), if any."""
        with self.db() as db:
            return self._active_reply_on(db.conn, item_id)

    def due_replies(self, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
        """Approved replies whose time has come, oldest first."""
        with self.db() as db:
            return self._replies_on(db.conn, "r.status = 'approved' AND (r.next_attempt_at IS NULL "
                                    "OR r.next_attempt_at <= ?)", [iso(now), max(0, limit)],
                                    tail="ORDER BY r.id LIMIT ?")

    def replies_in(self, status: str) -> list[dict[str, Any]]:
        with self.db() as db:
            return self._replies_on(db.conn, "r.status = ?", [status], tail="ORDER BY r.id")

    def claim_reply(self, reply_id: int, *, now: datetime) -> dict[str, Any] | None:
        """approved -> sending, committed before the platform is called; None when another sender (thread or
        process) got there first or the row is no longer due. The conditional UPDATE is the lock."""
        with self.transaction() as db:
            conn = db.conn
            claimed = conn.execute(
                "UPDATE reply_outbox SET status = 'sending', send_started_at = ?, attempts = attempts + 1, "
                "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ? AND status = 'approved' "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
                [iso(now), iso(now), reply_id, iso(now)]).rowcount
            if not claimed:
                return None
            row = self._reply_on(conn, "r.id = ?", [reply_id])
            assert row is not None
            self._append_audit(conn, now, audit.SYSTEM, audit.SYSTEM, "reply.send_attempt", row["item_key"],
                               {"reply_id": reply_id, "attempt": row["attempts"],
                                "verify_first": bool(row["verify_before_send"])})
        return row

    def _move_reply(self, reply_id: int, *, expect: Sequence[str], sets: dict[str, Any], action: str,
                    details: dict[str, Any], now: datetime, actor: tuple[str, str] = (audit.SYSTEM, audit.SYSTEM),
                    mark_item_replied: bool = False) -> dict[str, Any] | None:
        """One status change: UPDATE only if the row is still in ``expect``, plus its audit entry; the new
        row, or None when it had moved meanwhile (nothing written)."""
        marks = ",".join("?" * len(expect))
        assignments = ", ".join(f"{column} = ?" for column in sets)
        with self.transaction() as db:
            conn = db.conn
            changed = conn.execute(
                f"UPDATE reply_outbox SET {assignments} WHERE id = ? AND status IN ({marks})",
                [*sets.values(), reply_id, *expect]).rowcount
            if not changed:
                return None
            row = self._reply_on(conn, "r.id = ?", [reply_id])
            assert row is not None
            if mark_item_replied and row["origin"] == "manager":
                # Acks are not the answer: only a manager's reply stops the SLA clock.
                conn.execute("UPDATE items SET first_reply_at = COALESCE(first_reply_at, ?), status = 'replied' "
                             "WHERE id = ?", [row["sent_at"], row["item_id"]])
            self._append_audit(conn, now, actor[0], actor[1], action, row["item_key"],
                               {"reply_id": reply_id, **details})
        return row

    def record_reply_sent(self, reply_id: int, *, platform_reply_id: str, now: datetime,
                          reconciled: bool = False) -> dict[str, Any] | None:
        details: dict[str, Any] = {"platform_reply_id": platform_reply_id}
        if reconciled:
            details["reconciled"] = True
        return self._move_reply(
            reply_id, expect=("sending",), action="reply.sent", details=details, now=now, mark_item_replied=True,
            sets={"status": "sent", "platform_reply_id": platform_reply_id, "sent_at": iso(now), "last_error": None,
                  "verify_before_send": VERIFY_NONE, "needs_check_reason": None})

    def defer_reply(self, reply_id: int, *, until: datetime, reason: str, error: str | None, verify: int,
                    now: datetime, action: str = "reply.deferred") -> dict[str, Any] | None:
        """sending -> approved, due again at ``until``; ``verify`` says whether the platform must be asked
        first (the attempt may have been posted)."""
        return self._move_reply(
            reply_id, expect=("sending",), action=action, now=now,
            details={"reason": reason, "error": (error or "")[:500], "next_attempt_at": iso(until),
                     "verify_first": bool(verify)},
            sets={"status": "approved", "next_attempt_at": iso(until), "last_error": error[:500] if error else None,
                  "verify_before_send": verify})

    def fail_reply(self, reply_id: int, *, error: str, now: datetime) -> dict[str, Any] | None:
        """sending -> failed: the platform refused it for good; the item may get a new reply."""
        return self._move_reply(reply_id, expect=("sending",), action="reply.failed", now=now,
                                details={"error": error[:500]}, sets={"status": "failed", "last_error": error[:500]})

    def flag_reply(self, reply_id: int, *, reason: str, now: datetime) -> dict[str, Any] | None:
        """sending -> needs_check: nobody can tell whether it was posted; never resent automatically."""
        return self._move_reply(reply_id, expect=("sending",), action="reply.needs_check", now=now,
                                details={"reason": reason[:500]},
                                sets={"status": "needs_check", "needs_check_reason": reason[:500],
                                      "last_error": reason[:500]})

    def resolve_reply(self, reply_id: int, *, outcome: str, actor_id: str, actor_name: str,
                      platform_reply_id: str | None = None, now: datetime | None = None) -> dict[str, Any] | None:
        """A person settles a ``needs_check`` reply: ``sent`` (it is on the platform), ``resend`` (it is not:
        send it) or ``drop`` (it is not, and should not be). None when the row is not in needs_check."""
        now = now or utcnow()
        actor = (actor_id, actor_name)
        details: dict[str, Any] = {"outcome": outcome}
        if outcome == "sent":
            details["platform_reply_id"] = platform_reply_id
            return self._move_reply(
                reply_id, expect=("needs_check",), action="reply.sent", details={**details, "checked": True},
                now=now, actor=actor, mark_item_replied=True,
                sets={"status": "sent", "platform_reply_id": platform_reply_id, "sent_at": iso(now),
                      "verify_before_send": VERIFY_NONE})
        if outcome == "resend":
            return self._move_reply(
                reply_id, expect=("needs_check",), action="reply.resolved", details=details, now=now, actor=actor,
                sets={"status": "approved", "next_attempt_at": iso(now), "verify_before_send": VERIFY_NONE})
        if outcome == "drop":
            return self._move_reply(
                reply_id, expect=("needs_check",), action="reply.resolved", details=details, now=now, actor=actor,
                sets={"status": "cancelled", "closed_by": actor_id, "closed_reason": "checked: not posted"})
        raise ValueError(f"unknown outcome {outcome!r}: sent, resend or drop")

    # --- end reply outbox (issue 5) ---

    # --- audit ------------------------------------------------------------------------------

    def append_audit(self, action: str, *, actor_id: str = audit.SYSTEM, actor_name: str = audit.SYSTEM,
                     item_key: str | None = None, details: dict[str, Any] | None = None,
                     now: datetime | None = None) -> int:
        with self.transaction() as db:
            return self._append_audit(db.conn, now or utcnow(), actor_id, actor_name, action, item_key, details)

    @staticmethod
    def _append_audit(conn: sqlite3.Connection, now: datetime, actor_id: str, actor_name: str, action: str,
                      item_key: str | None, details: dict[str, Any] | None) -> int:
        return Store._append_audit_many(conn, now, [(actor_id, actor_name, action, item_key, details)])

    @staticmethod
    def _append_audit_many(conn: sqlite3.Connection, now: datetime,
                           entries: Sequence[tuple[str, str, str, str | None, dict[str, Any] | None]]) -> int:
        """Append ``(actor_id, actor_name, action, item_key, details)`` entries inside the caller's IMMEDIATE
        transaction, which serialises writers, so the chain cannot fork; returns the last seq.

        Personal text in ``details`` (``audit.CONTENT_FIELDS``) goes to ``audit_content``, the entry keeps
        its salted hash, so retention can purge it without breaking the chain. The next seq comes from
        ``audit_head``, not from the last row: a tail cut off behind our back then stays a visible gap.
        """
        # The head follows each INSERT, so a page's entries go in with one executemany (one INSERT and one
        # head UPDATE each cost ingest ~40 % of its time). A TEMP trigger lives only in this connection:
        # an INSERT made behind socialwatch's back still leaves the head behind, for verify to see.
        # ``audit_extends_head`` still refuses an entry that does not extend the head, and the UPDATE
        # still has to pass ``audit_head_forward_only``.
        conn.execute("""CREATE TEMP TRIGGER IF NOT EXISTS socialwatch_audit_advances_head AFTER INSERT ON main.audit
                        BEGIN UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash, ts = NEW.ts WHERE id = 1;
                        END""")
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        seq, prev = int(head[0]), head[1]
        if not entries:
            return seq
        ts = iso(now)
        nonces = audit.Nonces()
        rows: list[tuple[Any, ...]] = []
        content: list[tuple[int, str, str, str]] = []
        for actor_id, actor_name, action, item_key, details in entries:
            seq += 1
            hashed, pieces = audit.split_content(details, nonces)
            details_json = audit.canonical(hashed)
            digest = audit.entry_hash(prev, seq, ts, actor_id, actor_name, action, item_key, details_json)
            rows.append((seq, ts, actor_id, actor_name, action, item_key, details_json, prev, digest))
            content.extend((seq, piece.field, piece.nonce, piece.text) for piece in pieces)
            prev = digest
        conn.executemany(
            "INSERT INTO audit (seq, ts, actor_id, actor_name, action, item_key, details, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO audit_content (seq, field, nonce, text) VALUES (?, ?, ?, ?)", content)
        return seq

    def audit_rows(self, item_key: str | None = None) -> Iterator[dict[str, Any]]:
        """Streams the log in sequence order (constant memory, for verify and export).

        Each row is the stored entry (``details`` is the hashed JSON, texts as commitments) plus
        ``data``: the details as written, texts filled in (None once purged), and ``content``.
        """
        yield from self._audit_iter(item_key=item_key)

    # --- audit and compliance (issue 6) ---------------------------------------------------------

    @staticmethod
    def _migrate_audit_v20(db: sqlite_utils.Database) -> None:
        db.execute("""
            CREATE TABLE audit_content (
                seq INTEGER NOT NULL REFERENCES audit(seq),
                field TEXT NOT NULL,
                nonce TEXT NOT NULL,
                text TEXT NOT NULL,
                PRIMARY KEY (seq, field)
            )""")
        # Texts may be purged (retention) but never changed.
        db.execute("""
            CREATE TRIGGER audit_content_no_update BEFORE UPDATE ON audit_content
            BEGIN SELECT RAISE(ABORT, 'audit texts can be purged, never changed'); END""")
        db.execute("""
            CREATE TABLE audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL,
                ts TEXT
            )""")
        db.execute("INSERT INTO audit_head (id, seq, hash, ts) SELECT 1, seq, hash, ts FROM audit "
                   "ORDER BY seq DESC LIMIT 1")
        db.execute("INSERT OR IGNORE INTO audit_head (id, seq, hash, ts) VALUES (1, 0, ?, NULL)", [audit.GENESIS])
        db.execute("""
            CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
            BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END""")
        db.execute("""
            CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
            WHEN NEW.seq <> OLD.seq + 1
              OR NOT EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash)
            BEGIN SELECT RAISE(ABORT, 'the audit head only moves to the entry that follows it'); END""")
        # Every entry must extend the head: plain INSERTs that fork or skip are refused.
        db.execute("""
            CREATE TRIGGER audit_extends_head BEFORE INSERT ON audit
            WHEN NEW.seq <> (SELECT seq FROM audit_head WHERE id = 1) + 1
              OR NEW.prev_hash <> (SELECT hash FROM audit_head WHERE id = 1)
            BEGIN SELECT RAISE(ABORT, 'an audit entry must extend the head of the log'); END""")
        db.execute("ALTER TABLE items ADD COLUMN purged_at TEXT")

    @staticmethod
    def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone() \
            is not None

    def _audit_iter(self, *, item_key: str | None = None, since: str | None = None, until: str | None = None,
                    readonly: bool = False) -> Iterator[dict[str, Any]]:
        conn = connect(self.path, readonly=readonly)
        try:
            yield from self._audit_rows_on(conn, item_key=item_key, since=since, until=until)
        finally:
            conn.close()

    @staticmethod
    def _audit_rows_on(conn: sqlite3.Connection, *, item_key: str | None = None, since: str | None = None,
                       until: str | None = None) -> Iterator[dict[str, Any]]:
        has_content = Store._table_exists(conn, "audit_content")
        content_sql = ("(SELECT json_group_object(c.field, json_array(c.nonce, c.text)) FROM audit_content c "
                       "WHERE c.seq = a.seq)" if has_content else "'{}'")
        where, params = [], []
        for clause, value in (("a.item_key = ?", item_key), ("a.ts >= ?", since), ("a.ts < ?", until)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = (f"SELECT a.*, {content_sql} AS content_json FROM audit a"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.seq")
        for row in conn.execute(sql, params):
            entry = dict(row)
            content = {name: tuple(pair) for name, pair in json.loads(entry.pop("content_json") or "{}").items()}
            entry["content"] = content
            entry["data"] = audit.hydrate(entry["details"], {name: pair[1] for name, pair in content.items()})
            yield entry

    @staticmethod
    def _audit_head_on(conn: sqlite3.Connection) -> audit.Head | None:
        if not Store._table_exists(conn, "audit_head"):
            return None
        row = conn.execute("SELECT seq, hash, ts FROM audit_head WHERE id = 1").fetchone()
        return audit.Head(int(row[0]), row[1], row[2]) if row else None

    def audit_head(self) -> audit.Head | None:
        """The stored head (last seq and hash); None for a database without one (not migrated)."""
        conn = connect(self.path, readonly=True)
        try:
            return self._audit_head_on(conn)
        finally:
            conn.close()

    def verify_audit(self, anchors: Sequence[audit.Head] = ()) -> audit.VerifyResult:
        """Check the whole log (see ``audit.verify_log``) in one read snapshot, on a read-only connection:
        the daemon may go on appending meanwhile, and verify must work on a forensic copy."""
        conn = connect(self.path, readonly=True)
        try:
            conn.execute("BEGIN")  # one snapshot: head, purge marks and rows agree with each other
            head = self._audit_head_on(conn)
            purges = [(int(r[0]), str(r[1])) for r in conn.execute(
                "SELECT seq, json_extract(details, '$.cutoff') FROM audit WHERE action = 'retention.purged' "
                "AND json_valid(details) AND json_extract(details, '$.texts') = 1 "
                "AND json_extract(details, '$.cutoff') IS NOT NULL")]
            result = audit.verify_log(self._audit_rows_on(conn), head=head, purges=purges, anchors=anchors)
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    def audit_events(self, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict[str, Any]]:
        yield from self._audit_iter(since=iso(since), until=iso(until), readonly=True)

    def reply_records(self, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict[str, Any]]:
        """One row per approved reply with its item and timeline, approved in [since, until)."""
        where, params = [], []
        if since is not None:
            where.append("r.approved_at >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("r.approved_at < ?")
            params.append(iso(until))
        conn = connect(self.path, readonly=True)
        try:
            sql = f"""
                SELECT r.id AS reply_id, i.platform || ':' || i.native_id AS item_key, i.platform, i.kind,
                       i.account, i.public, i.author_handle, i.author_name, i.url AS post_url, i.text AS post_text,
                       i.category, i.priority, i.label AS sentiment, r.suggestion_kind, r.suggested_text,
                       r.text AS final_text, r.approved_by AS approver_id, r.approved_by_name AS approver_name,
                       r.status, r.platform_reply_id, i.created_at AS posted_at, i.received_at, i.alerted_at,
                       r.approved_at, r.sent_at AS replied_at, i.sla_due_at, r.last_error AS error,
                       i.purged_at,
                       (SELECT MIN(a.seq) FROM audit a WHERE a.item_key = i.platform || ':' || i.native_id
                           AND a.action = 'reply.sent') AS sent_audit_seq
                FROM reply_outbox r JOIN items i ON i.id = r.item_id
                {"WHERE " + " AND ".join(where) if where else ""}
                ORDER BY r.approved_at, r.id"""
            for row in conn.execute(sql, params):
                yield dict(row)
        finally:
            conn.close()

    def purge_personal_data(self, cutoff: datetime, *, texts: bool, raw: bool = True, now: datetime | None = None,
                            actor_id: str = audit.SYSTEM, actor_name: str = audit.SYSTEM) -> dict[str, int]:
        """Retention: drop raw payloads and/or texts and names older than ``cutoff``, in one transaction.

        Audit texts of entries written before ``cutoff`` go; the entries keep their hashes, and a
        ``retention.purged`` entry records the cutoff (verify accepts missing texts only under it).
        SQLite's secure_delete and a WAL checkpoint keep purged text out of free pages and the WAL.
        """
        now = now or utcnow()
        cut = iso(cutoff)
        counts = {"raw_payloads": 0, "rejects": 0, "items": 0, "replies": 0, "authors": 0, "audit_texts": 0}
        conn = connect(self.path)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                if raw or texts:
                    counts["raw_payloads"] = conn.execute(
                        "UPDATE items SET raw = NULL WHERE received_at < ? AND raw IS NOT NULL", [cut]).rowcount
                    counts["rejects"] = conn.execute("DELETE FROM rejects WHERE received_at < ?", [cut]).rowcount
                if texts:
                    counts["items"] = conn.execute(
                        "UPDATE items SET text = '', author_handle = NULL, author_name = NULL, url = NULL, "
                        # reasons quote the customer ("billing: 'charged me twice'")
                        "suggestions = NULL, reasons = NULL, purged_at = ? WHERE received_at < ? "
                        "AND purged_at IS NULL",
                        [iso(now), cut]).rowcount
                    # Replies still on their way out keep their text: the sender needs it.
                    counts["replies"] = conn.execute(
                        "UPDATE reply_outbox SET text = '', suggested_text = NULL WHERE approved_at < ? "
                        "AND status NOT IN ('approved', 'sending') AND (text <> '' OR suggested_text IS NOT NULL)",
                        [cut]).rowcount
                    counts["authors"] = conn.execute(
                        "UPDATE authors SET handle = NULL, name = NULL WHERE last_seen < ? "
                        "AND (handle IS NOT NULL OR name IS NOT NULL)", [cut]).rowcount
                    counts["audit_texts"] = conn.execute(
                        "DELETE FROM audit_content WHERE seq IN (SELECT seq FROM audit WHERE ts < ?)", [cut]).rowcount
                if any(counts.values()):
                    self._append_audit(conn, now, actor_id, actor_name, "retention.purged", None,
                                       {"cutoff": cut, "texts": texts, "raw": raw or texts, **counts})
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return counts


    # --- Slack alerts and actions (issue 5) ---------------------------------------------------

    @staticmethod
    def _migrate_slack_v10(db: sqlite_utils.Database) -> None:
        for column in ("dismissed_by TEXT", "dismissed_by_name TEXT", "dismissed_reason TEXT", "dismissed_at TEXT",
                       "assigned_at TEXT", "feedback TEXT", "feedback_by TEXT"):
            db.execute(f"ALTER TABLE items ADD COLUMN {column}")
        # Thread parents are found by author or conversation among posted alerts.
        db.execute("CREATE INDEX idx_alert_outbox_item_posted ON alert_outbox (status, posted_at)")
        db.execute("CREATE INDEX idx_items_conversation_author ON items (author_key, platform, conversation_id)")

    def alert_message(self, item_id: int) -> dict[str, Any] | None:
        """Where the item's alert was posted: ``{"channel", "ts", "thread_ts"}`` (None before it is)."""
        with self.db() as db:
            row = db.execute(
                "SELECT slack_channel AS channel, slack_ts AS ts, thread_ts FROM alert_outbox "
                "WHERE item_id = ? AND status = 'posted' AND slack_ts IS NOT NULL", [item_id]).fetchone()
        return dict(row) if row else None

    def thread_parent(self, item: dict[str, Any], since: datetime) -> dict[str, Any] | None:
        """The newest top-level alert posted since ``since`` for the same author, or the same private
        conversation, on the same account: a follow-up belongs in its thread, not in a new alert. Public
        threads are not enough: two customers commenting on one brand post are two people to answer."""
        with self.db() as db:
            row = db.execute(
                """SELECT o.slack_channel AS channel, o.slack_ts AS ts, i.id AS item_id
                   FROM alert_outbox o JOIN items i ON i.id = o.item_id
                   WHERE o.status = 'posted' AND o.thread_ts IS NULL AND o.slack_ts IS NOT NULL
                     AND o.posted_at >= ? AND i.id != ? AND i.platform = ? AND i.account = ?
                     AND (i.author_key = ? OR (i.kind = 'dm' AND ? = 'dm' AND i.conversation_id = ?))
                   ORDER BY o.posted_at DESC, o.id DESC LIMIT 1""",
                [iso(since), item["id"], item["platform"], item["account"], item["author_key"],
                 item.get("kind"), item.get("conversation_id")]).fetchone()
        return dict(row) if row else None

    def latest_reply(self, item_id: int) -> dict[str, Any] | None:
        """The reply that stands for a manager's answer to the item (the active one, else the last failed)."""
        with self.db() as db:
            row = db.execute(
                """SELECT * FROM reply_outbox WHERE item_id = ? AND COALESCE(origin, 'manager') = 'manager'
                   ORDER BY CASE WHEN status IN ('failed', 'cancelled') THEN 1 ELSE 0 END, id DESC LIMIT 1""",
                [item_id]).fetchone()
        return dict(row) if row else None

    def assign_item(self, item_id: int, *, actor_id: str, actor_name: str, now: datetime | None = None) -> bool:
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            key = self._item_key_on(conn, item_id)
            if key is None:
                return False
            conn.execute("UPDATE items SET assigned_to = ?, assigned_at = ? WHERE id = ?", [actor_id, iso(now), item_id])
            self._append_audit(conn, now, actor_id, actor_name, "item.assigned", key, {"assignee": actor_id})
        return True

    def dismiss_item(self, item_id: int, *, actor_id: str, actor_name: str, reason: str, note: str = "",
                     now: datetime | None = None) -> bool:
        """False when the item is gone, already dismissed, or a reply to it is on its way or posted."""
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            key = self._item_key_on(conn, item_id)
            busy = conn.execute(
                "SELECT 1 FROM reply_outbox WHERE item_id = ? AND status IN ('approved', 'sending', 'sent') "
                "AND COALESCE(origin, 'manager') = 'manager'", [item_id]).fetchone()
            if key is None or busy:
                return False
            changed = conn.execute(
                "UPDATE items SET status = 'dismissed', dismissed_by = ?, dismissed_by_name = ?, dismissed_reason = ?, "
                "dismissed_at = ? WHERE id = ? AND status != 'dismissed'",
                [actor_id, actor_name, reason, iso(now), item_id]).rowcount
            if not changed:
                return False
            # A reply still waiting for its second approver dies with the alert, on the record.
            waiting = [r[0] for r in conn.execute(
                "UPDATE reply_outbox SET status = 'cancelled', closed_by = ?, closed_reason = 'alert dismissed' "
                "WHERE item_id = ? AND status = 'awaiting_second' RETURNING id", [actor_id, item_id]).fetchall()]
            for reply_id in waiting:
                self._append_audit(conn, now, actor_id, actor_name, "reply.cancelled", key,
                                   {"reply_id": reply_id, "reason": "alert dismissed"})
            self._append_audit(conn, now, actor_id, actor_name, "item.dismissed", key,
                               {"reason": reason, "note": note[:500]})
        return True

    def record_feedback(self, item_id: int, *, feedback: str, actor_id: str, actor_name: str,
                        now: datetime | None = None) -> bool:
        """A manager says the label was wrong ("not_negative"): kept for tuning, audited."""
        now = now or utcnow()
        with self.transaction() as db:
            conn = db.conn
            key = self._item_key_on(conn, item_id)
            if key is None:
                return False
            row = conn.execute("SELECT label, compound FROM items WHERE id = ?", [item_id]).fetchone()
            conn.execute("UPDATE items SET feedback = ?, feedback_by = ? WHERE id = ?", [feedback, actor_id, item_id])
            self._append_audit(conn, now, actor_id, actor_name, f"feedback.{feedback}", key,
                               {"label": row[0], "compound": row[1]})
        return True

    @staticmethod
    def _item_key_on(conn: sqlite3.Connection, item_id: int) -> str | None:
        row = conn.execute("SELECT platform || ':' || native_id FROM items WHERE id = ?", [item_id]).fetchone()
        return None if row is None else str(row[0])


_INSERT_ITEM = """INSERT INTO items (platform, native_id, kind, account, source, author_key, author_id, author_handle,
        author_name, author_followers, text, lang, created_at, received_at, url, conversation_id,
        in_reply_to, public, raw, compound, neg, neu, pos, label, category, priority, needs_reply,
        reasons, suggestions, sla_due_at, status, backfill)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT (platform, native_id) DO NOTHING
    RETURNING id"""

_UPSERT_AUTHOR = """INSERT INTO authors (key, platform, native_id, handle, name, followers, first_seen, last_seen,
        contacts, negative_count, last_label, last_compound)
    VALUES (?,?,?,?,?,?,?,?,1,?,?,?)
    ON CONFLICT (key) DO UPDATE SET
        handle = COALESCE(excluded.handle, handle),
        name = COALESCE(excluded.name, name),
        followers = COALESCE(excluded.followers, followers),
        first_seen = MIN(first_seen, excluded.first_seen),
        last_label = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_label ELSE last_label END,
        last_compound = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_compound
                             ELSE last_compound END,
        last_seen = MAX(last_seen, excluded.last_seen),
        contacts = contacts + 1,
        negative_count = negative_count + excluded.negative_count"""

# Built once: json.dumps with options builds an encoder per call.
_to_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _item_row(entry: Processed, received: str) -> list[Any]:
    item, a = entry.item, entry.assessment
    s = a.sentiment
    return [
        item.platform, item.native_id, item.kind.value, item.account, entry.source, item.author_key,
        item.author.id, item.author.handle, item.author.name, item.author.followers, item.text,
        s.lang, iso(item.created_at), received, item.url, item.conversation_id, item.in_reply_to,
        int(item.public), _to_json(item.raw) if item.raw else None,
        s.compound, s.neg, s.neu, s.pos, s.label,
        a.category, a.priority, int(a.needs_reply), _to_json(list(a.reasons)),
        _to_json([{"kind": x.kind, "text": x.text} for x in a.suggestions]),
        iso(a.sla_due_at), "open" if a.needs_attention else "no_action", int(not entry.alert and a.needs_attention),
    ]


def _author_row(entry: Processed) -> tuple[Any, ...]:
    item, s = entry.item, entry.assessment.sentiment
    seen = iso(item.created_at)
    return (item.author_key, item.platform, item.author.id, item.author.handle, item.author.name,
            item.author.followers, seen, seen, int(s.label == "negative"), s.label, s.compound)


def _assessment_details(entry: Processed) -> dict[str, Any]:
    a = entry.assessment
    return {
        "source": entry.source,
        "compound": a.sentiment.compound,
        "label": a.sentiment.label,
        "lang": a.sentiment.lang,
        "category": a.category,
        "priority": a.priority,
        "needs_reply": a.needs_reply,
        "alert": entry.alert,
        "reasons": list(a.reasons),
        "sla_due_at": iso(a.sla_due_at),
        "account": entry.item.account,
        "kind": entry.item.kind.value,
        "public": entry.item.public,
        "created_at": iso(entry.item.created_at),
        # Personal text: kept beside the chain (audit.CONTENT_FIELDS) so retention can purge it.
        "text": entry.item.text,
        "author_handle": entry.item.author.handle,
        "author_name": entry.item.author.name,
        "suggestions": [s.text for s in a.suggestions],
    }
