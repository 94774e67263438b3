"""Erasure of personal data: retention's purge of texts, names and raw payloads, with the chain intact."""

from __future__ import annotations

from datetime import datetime

from socialwatch import audit
from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log
from socialwatch.store.db import Store, connect


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
    conn = connect(store.path)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if raw or texts:
                counts["raw_payloads"] = conn.execute(
                    "UPDATE items SET raw = NULL WHERE received_at < ? AND raw IS NOT NULL", [cut]
                ).rowcount
                counts["rejects"] = conn.execute("DELETE FROM rejects WHERE received_at < ?", [cut]).rowcount
            if texts:
                counts["items"] = conn.execute(
                    "UPDATE items SET text = '', author_handle = NULL, author_name = NULL, url = NULL, "
                    "attachments = NULL, "
                    # reasons quote the customer ("billing: 'charged me twice'")
                    "suggestions = NULL, reasons = NULL, purged_at = ? WHERE received_at < ? "
                    "AND purged_at IS NULL",
                    [iso(now), cut],
                ).rowcount
                # Replies still on their way out keep their text: the sender needs it.
                counts["replies"] = conn.execute(
                    "UPDATE reply_outbox SET text = '', suggested_text = NULL WHERE approved_at < ? "
                    "AND status NOT IN ('approved', 'sending') AND (text <> '' OR suggested_text IS NOT NULL)",
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
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return counts
