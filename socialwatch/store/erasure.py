"""Erasure of personal data: retention's purge of texts, names and raw payloads, and a customer forgotten
on request (every linked identity), with the audit chain intact.

Both blank the same columns (``ITEM_TEXTS``, ``REPLY_TEXTS``) and delete the audit log's texts beside
the chain, never an entry: the entries keep their salted hashes, and the record that says what went
(``retention.purged`` with its cutoff, ``customer.forgotten`` naming the entries) is what
``audit verify`` accepts a missing text under.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log, customers
from socialwatch.store.db import Store, connect

#: What a customer wrote and who they are, on an item: blanked by retention and by an erasure.
#: (Reasons quote the customer: "billing: 'charged me twice'".)
ITEM_TEXTS = (
    "text = '', author_handle = NULL, author_name = NULL, url = NULL, attachments = NULL, suggestions = NULL, "
    "reasons = NULL"
)
REPLY_TEXTS = "text = '', suggested_text = NULL"


def purge_personal_data(
    store: Store,
    cutoff: datetime,
    *,
    texts: bool,
    raw: bool = True,
    now: datetime | None = None,
    actor_id: str = audit.SYSTEM,
    actor_name: str = audit.SYSTEM,
) -> dict[str, int]:
    """Retention: drop raw payloads and/or texts and names older than ``cutoff``, in one transaction.

    Audit texts of entries written before ``cutoff`` go; the entries keep their hashes, and a
    ``retention.purged`` entry records the cutoff (verify accepts missing texts only under it).
    SQLite's secure_delete and a WAL checkpoint keep purged text out of free pages and the WAL.
    """
    now = now or utcnow()
    cut = iso(cutoff)
    counts = {"raw_payloads": 0, "rejects": 0, "items": 0, "replies": 0, "authors": 0, "audit_texts": 0}
    with _erasing(store) as conn:
        if raw or texts:
            counts["raw_payloads"] = conn.execute(
                "UPDATE items SET raw = NULL WHERE received_at < ? AND raw IS NOT NULL", [cut]
            ).rowcount
            counts["rejects"] = conn.execute("DELETE FROM rejects WHERE received_at < ?", [cut]).rowcount
        if texts:
            counts["items"] = conn.execute(
                f"UPDATE items SET {ITEM_TEXTS}, purged_at = ? WHERE received_at < ? AND purged_at IS NULL",
                [iso(now), cut],
            ).rowcount
            # Evidence digests say who the author may also be: personal data too.
            conn.execute(
                "DELETE FROM customer_evidence WHERE item_id IN (SELECT id FROM items WHERE received_at < ?)",
                [cut],
            )
            # Replies still on their way out keep their text: the sender needs it.
            counts["replies"] = conn.execute(
                f"UPDATE reply_outbox SET {REPLY_TEXTS} WHERE approved_at < ? "
                "AND status NOT IN ('approved', 'sending', 'reconciling') "
                "AND (text <> '' OR suggested_text IS NOT NULL)",
                [cut],
            ).rowcount
            counts["authors"] = conn.execute(
                "UPDATE authors SET handle = NULL, name = NULL WHERE last_seen < ? "
                "AND (handle IS NOT NULL OR name IS NOT NULL)",
                [cut],
            ).rowcount
            counts["audit_texts"] = conn.execute(
                "DELETE FROM audit_content WHERE seq IN (SELECT seq FROM audit WHERE ts < ?)", [cut]
            ).rowcount
        if any(counts.values()):
            audit_log.append_audit_on(
                conn,
                now,
                actor_id,
                actor_name,
                "retention.purged",
                None,
                {"cutoff": cut, "texts": texts, "raw": raw or texts, **counts},
            )
    return counts


@contextmanager
def _erasing(store: Store) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction with secure_delete (erased text is overwritten, not left in free pages),
    and a WAL checkpoint after it (nor left in the WAL)."""
    conn = connect(store.path)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


# --- a customer forgotten on request ------------------------------------------------------------

#: Reply statuses that mean a reply to the customer is in flight or unsettled: the erasure waits for them.
UNSETTLED_REPLIES = ("sending", "needs_check", "reconciling")
#: Replies not yet out when the customer is forgotten are cancelled: we do not answer someone we forgot.
CANCELLED_REPLIES = ("approved", "awaiting_second")
#: A reject (unreadable payload) naming an author id this long is the author's: shorter ids match too much.
REJECT_ID_MIN = 6


@dataclass(frozen=True)
class Forgotten:
    erasure_id: int
    identities: tuple[str, ...]
    counts: dict[str, int]
    audit_seq: int


def forget_customer(
    store: Store,
    key: str,
    *,
    requested_by: str,
    actor_id: str,
    actor_name: str,
    now: datetime | None = None,
) -> Forgotten:
    """Erase the customer behind ``key`` (every linked identity), in one transaction: texts, names,
    links and raw payloads of their items, the texts of the replies to them, their authors rows, links
    and evidence, their rejects, and the audit log's texts about them, which a ``customer.forgotten``
    entry names (who asked, who did it, when). Replies not out yet are cancelled; alerts not posted are
    dropped; posted Slack messages are queued in ``slack_redactions``. The items stay, as ``forgotten:<n>``
    (counts, times and decisions for the reports), and a digest of each identity says `show` that it
    was forgotten; a new message from one starts a new history.

    CustomerError, with nothing changed, for an unknown identity or while a reply to the customer is
    being sent or needs a check (settle it first)."""
    now = now or utcnow()
    when = iso(now)
    with _erasing(store) as conn:
        keys = customers.identity_keys_on(conn, customers.resolve_on(conn, key))
        marks = ",".join("?" * len(keys))
        conn.execute("DROP TABLE IF EXISTS temp.forget_items")
        conn.execute("DROP TABLE IF EXISTS temp.forget_seqs")
        conn.execute(
            "CREATE TEMP TABLE forget_items AS SELECT id, platform || ':' || native_id AS key FROM items "
            f"WHERE author_key IN ({marks})",
            keys,
        )
        busy = conn.execute(
            f"SELECT r.id, r.status FROM reply_outbox r WHERE r.item_id IN (SELECT id FROM temp.forget_items) "
            f"AND r.status IN ({','.join('?' * len(UNSETTLED_REPLIES))})",
            list(UNSETTLED_REPLIES),
        ).fetchall()
        if busy:
            raise customers.CustomerError(
                f"a reply to this customer is {busy[0][1].replace('_', ' ')} (reply {busy[0][0]}): settle it first "
                "(in Slack, or wait a minute for one being sent), then forget the customer"
            )
        erasure_id = int(
            conn.execute(
                "INSERT INTO erasures (requested_at, requested_by, actor_id, actor_name, identities, items, counts) "
                "VALUES (?, ?, ?, ?, ?, 0, '{}') RETURNING id",
                [when, requested_by, actor_id, actor_name, len(keys)],
            ).fetchone()[0]
        )
        counts = {"identity_count": len(keys)}
        counts["cancelled_replies"] = _cancel_replies(conn, now, actor_id, actor_name)
        counts["slack_messages"] = _queue_redactions(conn, erasure_id, when)
        counts["unposted_alerts"] = conn.execute(
            "UPDATE alert_outbox SET status = 'forgotten' WHERE status = 'pending' "
            "AND item_id IN (SELECT id FROM temp.forget_items)"
        ).rowcount
        # Nobody answers, reminds about or follows up with a customer who asked to be forgotten.
        counts["closed_items"] = conn.execute(
            "UPDATE items SET status = 'dismissed', dismissed_by = ?, dismissed_by_name = ?, "
            "dismissed_reason = 'customer forgotten', dismissed_at = ? "
            "WHERE id IN (SELECT id FROM temp.forget_items) AND status IN ('open', 'alerted')",
            [actor_id, actor_name, when],
        ).rowcount
        conn.execute(
            "INSERT INTO sla_state (item_id, followup_at, followup_decision, updated_at) "
            "SELECT id, ?, 'customer forgotten', ? FROM temp.forget_items WHERE true "
            "ON CONFLICT (item_id) DO UPDATE SET followup_at = COALESCE(followup_at, excluded.followup_at), "
            "followup_decision = COALESCE(followup_decision, excluded.followup_decision), "
            "updated_at = excluded.updated_at",
            [when, when],
        )
        counts["items"] = conn.execute(
            f"UPDATE items SET {ITEM_TEXTS}, raw = NULL, author_key = ?, author_id = '', author_followers = NULL, "
            # an X DM conversation id is made of the two user ids
            "conversation_id = NULL, purged_at = ? WHERE id IN (SELECT id FROM temp.forget_items)",
            [f"{customers.FORGOTTEN}:{erasure_id}", when],
        ).rowcount
        counts["replies"] = conn.execute(
            f"UPDATE reply_outbox SET {REPLY_TEXTS} WHERE item_id IN (SELECT id FROM temp.forget_items)"
        ).rowcount
        counts["authors"] = conn.execute(f"DELETE FROM authors WHERE key IN ({marks})", keys).rowcount
        counts["rejects"] = sum(
            conn.execute("DELETE FROM rejects WHERE instr(payload, ?) > 0", [f'"{native}"']).rowcount
            for native in (k.partition(":")[2] for k in keys)
            if len(native) >= REJECT_ID_MIN
        )
        conn.execute(
            f"DELETE FROM customer_evidence WHERE author_key IN ({marks}) "
            "OR item_id IN (SELECT id FROM temp.forget_items)",
            keys,
        )
        conn.execute(f"DELETE FROM customer_separations WHERE key_a IN ({marks}) OR key_b IN ({marks})", [*keys, *keys])
        linked = conn.execute(
            f"DELETE FROM customer_identities WHERE author_key IN ({marks}) RETURNING customer_id", keys
        ).fetchall()
        conn.executemany("DELETE FROM customers WHERE id = ?", sorted({(r[0],) for r in linked}))
        conn.executemany(
            "INSERT OR REPLACE INTO forgotten_identities (key_digest, erasure_id) VALUES (?, ?)",
            [(customers.key_digest(k), erasure_id) for k in keys],
        )
        erased = _erased_audit_entries(conn, keys)
        conn.execute("CREATE TEMP TABLE forget_seqs (seq INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO temp.forget_seqs VALUES (?)", [(seq,) for seq in erased])
        counts["audit_texts"] = conn.execute(
            "DELETE FROM audit_content WHERE seq IN (SELECT seq FROM temp.forget_seqs)"
        ).rowcount
        seq = audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            audit.ERASURE_ACTION,
            None,
            {"erasure": erasure_id, "requested_by": requested_by, **counts, "erased_entries": audit.seq_ranges(erased)},
        )
        conn.execute(
            "UPDATE erasures SET items = ?, audit_seq = ?, counts = ? WHERE id = ?",
            [counts["items"], seq, json.dumps(counts, sort_keys=True), erasure_id],
        )
        conn.execute("DROP TABLE temp.forget_items")
        conn.execute("DROP TABLE temp.forget_seqs")
    return Forgotten(erasure_id, tuple(keys), counts, seq)


def _cancel_replies(conn: sqlite3.Connection, now: datetime, actor_id: str, actor_name: str) -> int:
    cancelled = conn.execute(
        "UPDATE reply_outbox SET status = 'cancelled', closed_by = ?, closed_reason = 'customer forgotten' "
        f"WHERE item_id IN (SELECT id FROM temp.forget_items) AND status IN ({','.join('?' * len(CANCELLED_REPLIES))}) "
        "RETURNING id, (SELECT key FROM temp.forget_items f WHERE f.id = item_id)",
        [actor_id, *CANCELLED_REPLIES],
    ).fetchall()
    audit_log.append_audit_many_on(
        conn,
        now,
        [
            (
                actor_id,
                actor_name,
                "reply.cancelled",
                str(item_key),
                {"reply_id": int(reply_id), "reason": "customer forgotten"},
            )
            for reply_id, item_key in cancelled
        ],
    )
    return len(cancelled)


def _queue_redactions(conn: sqlite3.Connection, erasure_id: int, when: str) -> int:
    """The Slack messages that show the customer: their alerts (and follow-ups in threads), the
    follow-up suggestions quoting a reply to them, and the incidents that list them."""
    targets = conn.execute(
        """SELECT 'alert', slack_channel, slack_ts, NULL FROM alert_outbox
               WHERE item_id IN (SELECT id FROM temp.forget_items) AND status = 'posted' AND slack_ts IS NOT NULL
           UNION SELECT 'followup', o.slack_channel, s.followup_ts, NULL FROM sla_state s
               JOIN alert_outbox o ON o.item_id = s.item_id
               WHERE s.item_id IN (SELECT id FROM temp.forget_items) AND s.followup_ts IS NOT NULL
                 AND o.slack_channel IS NOT NULL
           UNION SELECT 'incident', COALESCE(n.channel, o.slack_channel), n.ts, n.id FROM alert_outbox o
               JOIN incidents n ON n.id = o.incident_id
               WHERE o.item_id IN (SELECT id FROM temp.forget_items) AND n.ts IS NOT NULL
                 AND COALESCE(n.channel, o.slack_channel) IS NOT NULL"""
    ).fetchall()
    queue_redactions_on(
        conn, erasure_id, [(what, channel, ts, incident) for what, channel, ts, incident in targets], when
    )
    return len(targets)


def queue_redactions_on(
    conn: sqlite3.Connection, erasure_id: int, targets: Sequence[tuple[str, str, str, int | None]], when: str
) -> None:
    """(what, channel, ts, incident id) messages to redact for ``erasure_id``, in the caller's transaction."""
    conn.executemany(
        "INSERT INTO slack_redactions (erasure_id, what, channel, ts, incident_id, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, ts) DO UPDATE SET erasure_id = excluded.erasure_id, "
        "status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, last_error = NULL",
        [(erasure_id, what, channel, ts, incident, when) for what, channel, ts, incident in targets],
    )


def _erased_audit_entries(conn: sqlite3.Connection, keys: list[str]) -> list[int]:
    """The entries with texts about the customer: those about their items, and the links naming them."""
    marks = ",".join("?" * len(keys))
    rows = conn.execute(
        f"""SELECT DISTINCT c.seq FROM audit_content c JOIN audit a ON a.seq = c.seq
            WHERE a.item_key IN (SELECT key FROM temp.forget_items)
            UNION SELECT seq FROM audit_content
            WHERE (field = 'identity' OR field LIKE 'identities.%') AND text IN ({marks})
            ORDER BY 1""",
        keys,
    ).fetchall()
    return [int(r[0]) for r in rows]


# --- Slack messages to redact ---------------------------------------------------------------------

REDACTION_ATTEMPTS = 20  # then the row is 'failed' and `customers forget` lists it for a person


def due_redactions(store: Store, now: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Slack messages of forgotten customers still to be redacted, due now."""
    with store.db() as db:
        rows = db.execute(
            "SELECT r.*, e.requested_at FROM slack_redactions r JOIN erasures e ON e.id = r.erasure_id "
            "WHERE r.status = 'pending' AND r.next_attempt_at <= ? ORDER BY r.id LIMIT ?",
            [iso(now or utcnow()), limit],
        ).fetchall()
    return [dict(r) for r in rows]


def redaction_outcome(
    store: Store, redaction_id: int, *, status: str, error: str | None = None, retry_at: datetime | None = None
) -> bool:
    """``done``, ``gone`` (the message no longer exists), or ``pending`` again at ``retry_at`` (``failed``
    after REDACTION_ATTEMPTS). False when another run settled the row meanwhile (the CLI and the daemon
    may both have redacted it: harmless, and counted once)."""
    with store.transaction() as db:
        changed = db.conn.execute(
            "UPDATE slack_redactions SET status = CASE WHEN ? = 'pending' AND attempts + 1 >= ? THEN 'failed' "
            "ELSE ? END, attempts = attempts + 1, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), "
            "done_at = CASE WHEN ? IN ('done', 'gone') THEN ? ELSE done_at END WHERE id = ? AND status = 'pending'",
            [status, REDACTION_ATTEMPTS, status, error, iso(retry_at), status, iso(utcnow()), redaction_id],
        ).rowcount
    return bool(changed)


def redaction_counts(store: Store, erasure_id: int | None = None) -> dict[str, int]:
    with store.db() as db:
        rows = db.execute(
            "SELECT status, COUNT(*) FROM slack_redactions"
            + (" WHERE erasure_id = ?" if erasure_id is not None else "")
            + " GROUP BY status",
            [] if erasure_id is None else [erasure_id],
        ).fetchall()
    return {str(status): int(count) for status, count in rows}
