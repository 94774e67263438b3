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
            for version, name, apply in MIGRATIONS:
                if version in done:
                    continue
                apply(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?, ?)", [version, name, iso(utcnow())])
                applied.append(version)
                log.info("database %s: applied migration %d (%s)", self.path, version, name)
        return applied

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

    def known_native_ids(self, platform: str, native_ids: Sequence[str]) -> set[str]:
        """Which of these ids are already stored (DM paging stops at the first known one)."""
        found: set[str] = set()
        with self.db() as db:
            for start in range(0, len(native_ids), 500):
                chunk = list(native_ids[start:start + 500])
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in db.execute(
                    f"SELECT native_id FROM items WHERE platform = ? AND native_id IN ({marks})", [platform, *chunk]
                ).fetchall())
        return found

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
        """Append inside the caller's IMMEDIATE transaction, which serialises writers, so the chain cannot fork."""
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq = (last[0] + 1) if last else 1
        prev = last[1] if last else audit.GENESIS
        ts = iso(now)
        details_json = audit.canonical(details)
        digest = audit.entry_hash(prev, seq, ts, actor_id, actor_name, action, item_key, details_json)
        conn.execute(
            "INSERT INTO audit (seq, ts, actor_id, actor_name, action, item_key, details, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [seq, ts, actor_id, actor_name, action, item_key, details_json, prev, digest],
        )
        return seq

    def audit_rows(self, item_key: str | None = None) -> Iterator[dict[str, Any]]:
        """Streams the log in sequence order (constant memory, for verify and export)."""
        conn = connect(self.path)
        try:
            sql = "SELECT * FROM audit" + (" WHERE item_key = ?" if item_key else "") + " ORDER BY seq"
            for row in conn.execute(sql, [item_key] if item_key else []):
                yield dict(row)
        finally:
            conn.close()


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
        "suggestions": [s.text for s in a.suggestions],
    }
