"""The SQLite store: schema, migrations and every query. The only module that writes SQL.

Invariants the rest of the system relies on:
- an item is stored once (unique on platform + native_id), whatever the retries;
- new items, their authors' history, their alerts, their audit entries and the cursor
  that covers them are committed in ONE transaction: a crash leaves all or none;
- a connection per unit of work (threads never share one); WAL lets readers
  (``status``, ``review``) work while the daemon writes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
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
    # issue 6 (audit and compliance) owns versions 20-29; the lambda defers to the Store section below.
    (20, "audit: texts beside the chain, head anchor, purge marks", lambda db: Store._migrate_audit_v20(db)),
]


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
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
        if migrate:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.migrate()

    # --- plumbing ---------------------------------------------------------------------------

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
        new_ids: list[int] = []
        duplicates = 0
        alerts = 0
        with self.transaction() as db:
            conn = db.conn
            for entry in batch:
                item_id = self._insert_item(conn, entry, received)
                if item_id is None:
                    duplicates += 1
                    continue
                new_ids.append(item_id)
                self._touch_author(conn, entry)
                self._append_audit(conn, now, audit.SYSTEM, audit.SYSTEM, "item.received", entry.item.key,
                                   _assessment_details(entry))
                if entry.alert:
                    conn.execute(
                        "INSERT INTO alert_outbox (item_id, status, next_attempt_at, created_at) VALUES (?, 'pending', ?, ?)",
                        [item_id, received, received],
                    )
                    alerts += 1
            for reject in rejects:
                # Kept, not dropped: the cursor may move past a payload we could not read, never past data.
                conn.execute("INSERT INTO rejects (source, received_at, error, payload) VALUES (?, ?, ?, ?)",
                             [source, received, reject.error[:1000], reject.payload[:100_000]])
            if cursor is not None:
                self._set_cursor(conn, source, cursor, received)
            if fail_before_commit is not None:
                fail_before_commit()
        return IngestResult(len(new_ids), duplicates, alerts, tuple(new_ids))

    @staticmethod
    def _insert_item(conn: sqlite3.Connection, entry: Processed, received: str) -> int | None:
        item, a = entry.item, entry.assessment
        status = "open" if a.needs_attention else "no_action"
        row = conn.execute(
            """INSERT INTO items (platform, native_id, kind, account, source, author_key, author_id, author_handle,
                   author_name, author_followers, text, lang, created_at, received_at, url, conversation_id,
                   in_reply_to, public, raw, compound, neg, neu, pos, label, category, priority, needs_reply,
                   reasons, suggestions, sla_due_at, status, backfill)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT (platform, native_id) DO NOTHING
               RETURNING id""",
            [
                item.platform, item.native_id, item.kind.value, item.account, entry.source, item.author_key,
                item.author.id, item.author.handle, item.author.name, item.author.followers, item.text,
                a.sentiment.lang, iso(item.created_at), received, item.url, item.conversation_id, item.in_reply_to,
                int(item.public), json.dumps(item.raw, ensure_ascii=False, default=str) if item.raw else None,
                a.sentiment.compound, a.sentiment.neg, a.sentiment.neu, a.sentiment.pos, a.sentiment.label,
                a.category, a.priority, int(a.needs_reply), json.dumps(list(a.reasons), ensure_ascii=False),
                json.dumps([{"kind": s.kind, "text": s.text} for s in a.suggestions], ensure_ascii=False),
                iso(a.sla_due_at), status, int(not entry.alert and a.needs_attention),
            ],
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _touch_author(conn: sqlite3.Connection, entry: Processed) -> None:
        item, label = entry.item, entry.assessment.sentiment.label
        seen = iso(item.created_at)
        conn.execute(
            """INSERT INTO authors (key, platform, native_id, handle, name, followers, first_seen, last_seen,
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
                   negative_count = negative_count + excluded.negative_count""",
            [item.author_key, item.platform, item.author.id, item.author.handle, item.author.name,
             item.author.followers, seen, seen, int(label == "negative"), label,
             entry.assessment.sentiment.compound],
        )

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
            rows = db.execute(
                """SELECT * FROM items WHERE status IN ('open', 'alerted') AND needs_reply = 1
                   ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2
                            WHEN 'low' THEN 3 ELSE 4 END, sla_due_at LIMIT ?""", [limit]
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
                "thread_ts = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                [iso(now), channel, ts, thread_ts, outbox_id],
            )
            conn.execute(
                "UPDATE items SET alerted_at = COALESCE(alerted_at, ?), "
                "status = CASE WHEN status = 'open' THEN 'alerted' ELSE status END WHERE id = ?",
                [iso(now), row[0]],
            )
            self._append_audit(conn, now, actor, actor, "alert.posted", row[1],
                               {"channel": channel, "ts": ts, "thread_ts": thread_ts})

    def mark_alert_retry(self, outbox_id: int, *, error: str, next_attempt_at: datetime) -> None:
        with self.transaction() as db:
            db.conn.execute(
                "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                [error[:500], iso(next_attempt_at), outbox_id],
            )

    def outbox_depths(self) -> dict[str, int]:
        with self.db() as db:
            alerts = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'").fetchone()[0]
            replies = db.execute(
                "SELECT COUNT(*) FROM reply_outbox WHERE status IN ('approved', 'sending')").fetchone()[0]
        return {"alerts": int(alerts), "replies": int(replies)}

    # --- audit ------------------------------------------------------------------------------

    def append_audit(self, action: str, *, actor_id: str = audit.SYSTEM, actor_name: str = audit.SYSTEM,
                     item_key: str | None = None, details: dict[str, Any] | None = None,
                     now: datetime | None = None) -> int:
        with self.transaction() as db:
            return self._append_audit(db.conn, now or utcnow(), actor_id, actor_name, action, item_key, details)

    @staticmethod
    def _append_audit(conn: sqlite3.Connection, now: datetime, actor_id: str, actor_name: str, action: str,
                      item_key: str | None, details: dict[str, Any] | None) -> int:
        """Append inside the caller's IMMEDIATE transaction, which serialises writers, so the chain cannot fork.

        Personal text in ``details`` (``audit.CONTENT_FIELDS``) goes to ``audit_content``, the entry keeps
        its salted hash, so retention can purge it without breaking the chain. The next seq comes from
        ``audit_head``, not from the last row: a tail cut off behind our back then stays a visible gap.
        """
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        seq, prev = int(head[0]) + 1, head[1]
        ts = iso(now)
        hashed, pieces = audit.split_content(details)
        details_json = audit.canonical(hashed)
        digest = audit.entry_hash(prev, seq, ts, actor_id, actor_name, action, item_key, details_json)
        conn.execute(
            "INSERT INTO audit (seq, ts, actor_id, actor_name, action, item_key, details, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [seq, ts, actor_id, actor_name, action, item_key, details_json, prev, digest],
        )
        conn.executemany("INSERT INTO audit_content (seq, field, nonce, text) VALUES (?, ?, ?, ?)",
                         [(seq, p.field, p.nonce, p.text) for p in pieces])
        conn.execute("UPDATE audit_head SET seq = ?, hash = ?, ts = ? WHERE id = 1", [seq, digest, ts])
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
