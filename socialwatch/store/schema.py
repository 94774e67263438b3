"""The schema: every migration, in one ordered list; the pending ones run in one IMMEDIATE transaction.

Version ranges: 1-9 core, 10-19 Slack and the reply outbox, 20-29 audit and compliance, 30-39
response times, 40-49 performance indexes, 55-59 platform shapes (attachments), 65-69 Instagram and private
replies, 70-74 customers across channels, 80-84 managers' corrections. A migration is never
edited once released: a change is a new version.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from socialwatch import audit

#: Reply rows that stand for "this item has (or is getting) its answer": a manager reply in one of these
#: blocks another (failed and cancelled rows do not).
ACTIVE_REPLY_STATUSES = ("awaiting_second", "approved", "sending", "sent", "needs_check", "reconciling")


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


def migrate_replies_v11(db: sqlite_utils.Database) -> None:
    for column in (
        "origin TEXT NOT NULL DEFAULT 'manager'",
        "requested_at TEXT",
        "next_attempt_at TEXT",
        "second_approver TEXT",
        "second_approver_name TEXT",
        "first_attempt_at TEXT",
        "verify_before_send INTEGER NOT NULL DEFAULT 0",
        "needs_check_reason TEXT",
        "closed_by TEXT",
        "closed_reason TEXT",
    ):
        db.execute(f"ALTER TABLE reply_outbox ADD COLUMN {column}")
    db.execute("UPDATE reply_outbox SET requested_at = approved_at, next_attempt_at = approved_at")
    db.execute("CREATE INDEX idx_reply_outbox_due ON reply_outbox (status, next_attempt_at)")
    db.execute("CREATE INDEX idx_reply_outbox_item ON reply_outbox (item_id, status)")
    # The last line of defence behind queue_reply's check: one live manager answer per item.
    _one_active_index(db, ACTIVE_REPLY_STATUSES[:5])  # as it was then; migration 90 adds 'reconciling'


def _one_active_index(db: sqlite_utils.Database, active: tuple[str, ...]) -> None:
    statuses = ", ".join(f"'{s}'" for s in active)
    db.execute(
        f"CREATE UNIQUE INDEX idx_reply_outbox_one_active ON reply_outbox (item_id) "
        f"WHERE origin = 'manager' AND status IN ({statuses})"
    )


def migrate_audit_v20(db: sqlite_utils.Database) -> None:
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
    db.execute(
        "INSERT INTO audit_head (id, seq, hash, ts) SELECT 1, seq, hash, ts FROM audit ORDER BY seq DESC LIMIT 1"
    )
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


def migrate_slack_v10(db: sqlite_utils.Database) -> None:
    for column in (
        "dismissed_by TEXT",
        "dismissed_by_name TEXT",
        "dismissed_reason TEXT",
        "dismissed_at TEXT",
        "assigned_at TEXT",
        "feedback TEXT",
        "feedback_by TEXT",
    ):
        db.execute(f"ALTER TABLE items ADD COLUMN {column}")
    # Thread parents are found by author or conversation among posted alerts.
    db.execute("CREATE INDEX idx_alert_outbox_item_posted ON alert_outbox (status, posted_at)")
    db.execute("CREATE INDEX idx_items_conversation_author ON items (author_key, platform, conversation_id)")


def migrate_v30(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE sla_state (
            item_id INTEGER PRIMARY KEY REFERENCES items(id),
            reminded_at TEXT,
            reminder_ts TEXT,
            escalated_at TEXT,
            escalation_ts TEXT,
            escalation_silent INTEGER NOT NULL DEFAULT 0,
            ack_at TEXT,
            ack_status TEXT,
            reopened_at TEXT,
            reopened_by INTEGER,
            followup_at TEXT,
            followup_ts TEXT,
            followup_decision TEXT,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            category TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            channel TEXT,
            ts TEXT,
            shown_count INTEGER NOT NULL DEFAULT 0,
            last_update_at TEXT,
            reminded_at TEXT,
            escalated_at TEXT
        )""")
    db.execute("CREATE INDEX idx_incidents_open ON incidents (closed_at, category)")
    db.execute("ALTER TABLE alert_outbox ADD COLUMN incident_id INTEGER REFERENCES incidents(id)")
    db.execute("CREATE INDEX idx_alert_outbox_incident ON alert_outbox (incident_id)")
    # The digest and `socialwatch report` select by post time.
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_created_at ON items (created_at)")
    # Reopening looks our reply up by its platform id; follow-ups look at replies sent in a window.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_reply_outbox_platform_id ON reply_outbox (platform_reply_id) "
        "WHERE platform_reply_id IS NOT NULL"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_reply_outbox_sent ON reply_outbox (sent_at) WHERE status = 'sent'")


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


def _attachments_v55(db: sqlite_utils.Database) -> None:
    """What a customer sent besides text (images, stickers, files, links), as a JSON list of
    ``models.Attachment``; NULL for none. Personal data: retention purges it with the text."""
    db.execute("ALTER TABLE items ADD COLUMN attachments TEXT")


def migrate_private_replies_v65(db: sqlite_utils.Database) -> None:
    """A reply may go to a public comment's author as one private message (Facebook's and Instagram's
    private replies) instead of under the comment: it is still the item's one answer."""
    db.execute("ALTER TABLE reply_outbox ADD COLUMN private_reply INTEGER NOT NULL DEFAULT 0")


def _customers_v70(db: sqlite_utils.Database) -> None:
    """Customers across channels (store/customers.py) and their erasure on request (store/erasure.py)."""
    db.execute("""
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        )""")
    # An identity not listed here is a customer of its own; linking two makes (or joins) a customer.
    db.execute("""
        CREATE TABLE customer_identities (
            author_key TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            platform TEXT NOT NULL,
            linked_at TEXT NOT NULL,
            linked_by TEXT NOT NULL,
            linked_by_name TEXT NOT NULL,
            evidence TEXT
        )""")
    db.execute("CREATE INDEX idx_customer_identities_customer ON customer_identities (customer_id)")
    # One row per author and piece of evidence (the item that first gave it): an author's own handle,
    # repeated on every post, costs one index lookup per item, not one row.
    db.execute("""
        CREATE TABLE customer_evidence (
            author_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            digest TEXT NOT NULL,
            platform TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            PRIMARY KEY (author_key, kind, digest)
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX idx_customer_evidence_digest ON customer_evidence (digest)")
    db.execute("CREATE INDEX idx_customer_evidence_item ON customer_evidence (item_id)")
    # A manager said two identities are not one person (an unlink): never suggested again.
    db.execute("""
        CREATE TABLE customer_separations (
            key_a TEXT NOT NULL,
            key_b TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            PRIMARY KEY (key_a, key_b),
            CHECK (key_a < key_b)
        )""")
    db.execute("""
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY,
            requested_at TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            actor_name TEXT NOT NULL,
            identities INTEGER NOT NULL,
            items INTEGER NOT NULL,
            audit_seq INTEGER,
            counts TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE forgotten_identities (
            key_digest TEXT PRIMARY KEY,
            erasure_id INTEGER NOT NULL REFERENCES erasures(id)
        )""")
    db.execute("""
        CREATE TABLE slack_redactions (
            id INTEGER PRIMARY KEY,
            erasure_id INTEGER NOT NULL REFERENCES erasures(id),
            what TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            incident_id INTEGER,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            done_at TEXT,
            UNIQUE (channel, ts)
        )""")
    db.execute("CREATE INDEX idx_slack_redactions_due ON slack_redactions (status, next_attempt_at)")


def _corrections_v80(db: sqlite_utils.Database) -> None:
    """Managers' corrections of an assessment (store/corrections.py): one row per correction, never
    updated, so the latest per item and field is the label and the history stays for the audit."""
    db.execute("""
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id),
            field TEXT NOT NULL CHECK (field IN ('label', 'needs_reply', 'category')),
            old TEXT,
            new TEXT NOT NULL,
            corrected_by TEXT NOT NULL,
            corrected_by_name TEXT NOT NULL,
            corrected_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX idx_corrections_item ON corrections (item_id, field, id)")
    # "Not negative" clicks from before this table were kept on the item only: they are labels too.
    db.execute("""
        INSERT INTO corrections (item_id, field, old, new, corrected_by, corrected_by_name, corrected_at)
        SELECT i.id, 'label', i.label, 'not_negative', COALESCE(i.feedback_by, '?'),
               COALESCE((SELECT a.actor_name FROM audit a WHERE a.action = 'feedback.not_negative'
                           AND a.item_key = i.platform || ':' || i.native_id ORDER BY a.seq DESC LIMIT 1), '?'),
               COALESCE((SELECT a.ts FROM audit a WHERE a.action = 'feedback.not_negative'
                           AND a.item_key = i.platform || ':' || i.native_id ORDER BY a.seq DESC LIMIT 1),
                        i.received_at)
        FROM items i WHERE i.feedback = 'not_negative'""")


def _reconciling_v90(db: sqlite_utils.Database) -> None:
    """A public reply whose attempt ended without a clear answer is ``reconciling`` (never resent while the
    question is open); ``reconcile_checks`` counts the looks, so the approver is asked after a few."""
    db.execute("ALTER TABLE reply_outbox ADD COLUMN reconcile_checks INTEGER NOT NULL DEFAULT 0")
    db.execute("DROP INDEX idx_reply_outbox_one_active")
    _one_active_index(db, ACTIVE_REPLY_STATUSES)


#: Ordered; each runs once, in its own transaction, and is recorded in _migrations.
MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial schema", _schema_v1),
    (10, "slack: dismissals, assignment time, label feedback", migrate_slack_v10),
    (11, "reply outbox: origin, second approval, due times, one active reply per item", migrate_replies_v11),
    (20, "audit: texts beside the chain, head anchor, purge marks", migrate_audit_v20),
    (30, "response times: SLA state, incidents, grouped alerts", migrate_v30),
    (40, "indexes: open-reply queue, unanswered items", _indexes_v40),
    (55, "items: attachments", _attachments_v55),
    (65, "reply outbox: private replies to public comments", migrate_private_replies_v65),
    (70, "customers: linked identities, evidence, erasures on request", _customers_v70),
    (80, "corrections: managers' labels of label, needs_reply and category", _corrections_v80),
    (90, "reply outbox: replies being reconciled, and how often they were looked for", _reconciling_v90),
]
