"""The database: connecting, the unit of work (a transaction), migrating, backing up.

Invariants the rest of the system relies on:
- a connection per unit of work (threads never share one), and one idle connection held
  open so that closing them does not checkpoint the WAL each time; WAL lets readers
  (``status``, ``review``) work while the daemon writes;
- ``transaction`` is BEGIN IMMEDIATE: read-then-write sequences inside it (the audit chain, the
  reply outbox's checks) cannot interleave with another writer;
- ``synchronous = FULL``: a reply marked 'sent' survives power loss.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from socialwatch.models import iso, utcnow
from socialwatch.ops import files
from socialwatch.store import schema

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

#: What SQLite says when a write cannot happen *now* but may later: another writer held the lock past the
#: busy timeout, the disk (or the file's page budget) is full, or the file could not be written.
_UNAVAILABLE = ("database is locked", "database is busy", "database or disk is full", "disk i/o error")


class StoreUnavailable(sqlite3.OperationalError):
    """A write the database could not take now (locked, disk full, I/O error); nothing of it was kept.
    The callers that answer a person (a click) tell them and retry, instead of losing it silently."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def unavailable(exc: sqlite3.OperationalError) -> bool:
    return any(words in str(exc).lower() for words in _UNAVAILABLE)


def connect(path: Path | str, *, readonly: bool = False, any_thread: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{Path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
    else:
        # any_thread: the Store's idle connection may be closed by whichever thread drops the Store.
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=not any_thread
        )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a reply marked 'sent' must survive power loss, or a restart could post it again.
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone() is not None


def has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


class Store:
    """Opens a connection per unit of work; safe to share between scheduler threads."""

    def __init__(self, path: Path | str, *, migrate: bool = True):
        self.path = Path(path)
        self._keeper: sqlite3.Connection | None = None
        if migrate:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.migrate()
            self._keep_open()

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
                if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if isinstance(exc, StoreUnavailable) or not unavailable(exc):
                raise
            raise StoreUnavailable(str(exc)) from exc
        finally:
            conn.close()

    def migrate(self) -> list[int]:
        applied: list[int] = []
        with self.transaction() as db:
            db.execute("""CREATE TABLE IF NOT EXISTS _migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)""")
            done = {row[0] for row in db.execute("SELECT version FROM _migrations").fetchall()}
            for version, name, apply in sorted(schema.MIGRATIONS, key=lambda m: m[0]):
                if version in done:
                    continue
                apply(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?, ?)", [version, name, iso(utcnow())])
                applied.append(version)
                log.info("database %s: applied migration %d (%s)", self.path, version, name)
        return applied

    def backup_to(self, destination: Path) -> int:
        """Online copy with SQLite's backup API (consistent while writers run); returns pages copied."""
        # The copy is the whole database: owner-only (0600) from its first byte, whatever the umask.
        os.close(files.create_private(destination, exclusive=True))
        try:
            source = connect(self.path, readonly=True)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        target = sqlite3.connect(str(destination))
        try:
            source.backup(target, pages=1024)
            result = target.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"integrity check of the copy failed: {result}")
            return int(target.execute("PRAGMA page_count").fetchone()[0])
        except BaseException:
            target.close()
            destination.unlink(missing_ok=True)  # no half copy left to be mistaken for a backup
            raise
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
