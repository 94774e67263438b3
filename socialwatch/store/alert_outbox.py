"""The alert outbox: alerts waiting for their channel, attempts, and where each one was posted."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log, customers, erasure
from socialwatch.store.db import Store


def due_alerts(store: Store, now: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with store.db() as db:
        rows = db.execute(
            """SELECT o.id AS outbox_id, o.attempts, o.channel, i.* FROM alert_outbox o
               JOIN items i ON i.id = o.item_id
               WHERE o.status = 'pending' AND o.next_attempt_at <= ?
               ORDER BY o.id LIMIT ?""",
            [iso(now or utcnow()), limit],
        ).fetchall()
    return [dict(r) for r in rows]


def mark_alert_posted(
    store: Store,
    outbox_id: int,
    *,
    channel: str,
    ts: str | None,
    thread_ts: str | None = None,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        row = conn.execute(
            "SELECT o.item_id, i.platform || ':' || i.native_id, o.status, i.author_key FROM alert_outbox o "
            "JOIN items i ON i.id = o.item_id WHERE o.id = ?",
            [outbox_id],
        ).fetchone()
        if row[2] == "forgotten" and ts:
            # The customer was forgotten while this alert was on its way to Slack: it is redacted, not left.
            conn.execute(
                "UPDATE alert_outbox SET posted_at = ?, slack_channel = ?, slack_ts = ?, thread_ts = ? WHERE id = ?",
                [iso(now), channel, ts, thread_ts, outbox_id],
            )
            erasure_id = int(str(row[3]).partition(":")[2])
            erasure.queue_redactions_on(conn, erasure_id, [("alert", channel, ts, None)], iso(now))
            audit_log.append_audit_on(
                conn, now, actor, actor, "alert.posted", row[1], {"channel": channel, "ts": ts, "forgotten": True}
            )
            return
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
        audit_log.append_audit_on(
            conn, now, actor, actor, "alert.posted", row[1], {"channel": channel, "ts": ts, "thread_ts": thread_ts}
        )


def mark_alert_attempt(store: Store, outbox_id: int) -> None:
    """Committed before the channel is called: after a crash, ``attempts > 0`` tells the channel the
    alert may already be out there (Slack looks for it by its metadata before posting again)."""
    with store.transaction() as db:
        db.conn.execute("UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id])


def mark_alert_retry(store: Store, outbox_id: int, *, error: str, next_attempt_at: datetime) -> None:
    with store.transaction() as db:
        db.conn.execute(
            "UPDATE alert_outbox SET last_error = ?, next_attempt_at = ? WHERE id = ?",
            [error[:500], iso(next_attempt_at), outbox_id],
        )


def outbox_depths(store: Store) -> dict[str, int]:
    with store.db() as db:
        alerts = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'").fetchone()[0]
        replies = db.execute(
            "SELECT COUNT(*) FROM reply_outbox WHERE status IN ('approved', 'sending', 'reconciling')"
        ).fetchone()[0]
        unsure = db.execute("SELECT COUNT(*) FROM reply_outbox WHERE status = 'needs_check'").fetchone()[0]
    return {"alerts": int(alerts), "replies": int(replies), "replies_need_check": int(unsure)}


def alert_message(store: Store, item_id: int) -> dict[str, Any] | None:
    """Where the item's alert was posted: ``{"channel", "ts", "thread_ts"}`` (None before it is)."""
    with store.db() as db:
        row = db.execute(
            "SELECT slack_channel AS channel, slack_ts AS ts, thread_ts FROM alert_outbox "
            "WHERE item_id = ? AND status = 'posted' AND slack_ts IS NOT NULL",
            [item_id],
        ).fetchone()
    return dict(row) if row else None


def thread_parent(
    store: Store, item: dict[str, Any], since: datetime, *, accounts: Collection[str] | None = None
) -> dict[str, Any] | None:
    """The newest top-level alert posted since ``since`` for the same author, or the same private
    conversation, on the same account: a follow-up belongs in its thread, not in a new alert. Public
    threads are not enough: two customers commenting on one brand post are two people to answer.

    A customer is one person across channels: an alert of another identity linked to the author
    (``store.customers``) on any platform is a parent too, when it is on one of ``accounts`` (the
    author's brand; None: any account)."""
    with store.db() as db:
        others = customers.identity_keys_on(db.conn, str(item["author_key"]))[1:]
        linked, linked_params = "", []
        if others:
            linked = f" OR (i.author_key IN ({','.join('?' * len(others))})"
            linked_params = list(others)
            if accounts is not None:
                linked += f" AND i.account IN ({','.join('?' * len(accounts))})"
                linked_params += sorted(accounts)
            linked += ")"
        row = db.execute(
            f"""SELECT o.slack_channel AS channel, o.slack_ts AS ts, i.id AS item_id
               FROM alert_outbox o JOIN items i ON i.id = o.item_id
               WHERE o.status = 'posted' AND o.thread_ts IS NULL AND o.slack_ts IS NOT NULL
                 AND o.posted_at >= ? AND i.id != ?
                 AND ((i.platform = ? AND i.account = ?
                       AND (i.author_key = ? OR (i.kind = 'dm' AND ? = 'dm' AND i.conversation_id = ?))){linked})
               ORDER BY o.posted_at DESC, o.id DESC LIMIT 1""",
            [
                iso(since),
                item["id"],
                item["platform"],
                item["account"],
                item["author_key"],
                item.get("kind"),
                item.get("conversation_id"),
                *linked_params,
            ],
        ).fetchone()
    return dict(row) if row else None
