"""Response-time state per item (the ``sla_state`` table): timers, acknowledgements, reopening, follow-ups.

Each event is *claimed* (its time written) before Slack is called and completed (ts, audit entry)
after, so a restart never pings twice. ``handled_sql`` and ``first_reply_sql`` are the SQL that says
whether an item is answered; the reports read them too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import iso
from socialwatch.store import audit_log
from socialwatch.store.db import Store, has_column

#: sla_state columns an event claims (the time it was decided) and completes (the Slack ts).
EVENT_COLUMNS = {
    "reminder": ("reminded_at", "reminder_ts"),
    "escalation": ("escalated_at", "escalation_ts"),
    "followup": ("followup_at", "followup_ts"),
}
#: Reply statuses that mean a person has answered (or is answering) the item.
ANSWERING = ("approved", "sending", "sent", "needs_check", "reconciling")


def _manager(conn: sqlite3.Connection) -> str:
    # Acknowledgements and follow-ups have their own origin; only a manager's reply answers the item.
    return "COALESCE(r.origin, 'manager') = 'manager'" if has_column(conn, "reply_outbox", "origin") else "1"


def handled_sql(conn: sqlite3.Connection) -> str:
    """SQL true when item ``i`` needs no more reminding: answered, being answered, dismissed or no action."""
    answering = ", ".join(f"'{s}'" for s in ANSWERING)
    return f"""(i.status IN ('replied', 'dismissed', 'no_action') OR i.first_reply_at IS NOT NULL
        OR EXISTS (SELECT 1 FROM reply_outbox r WHERE r.item_id = i.id AND {_manager(conn)}
                   AND r.status IN ({answering})))"""


def first_reply_sql(conn: sqlite3.Connection) -> str:
    """SQL for item ``i``'s first manager reply on the platform (acks do not count)."""
    return f"""COALESCE((SELECT MIN(r.sent_at) FROM reply_outbox r WHERE r.item_id = i.id AND r.status = 'sent'
                         AND {_manager(conn)}), i.first_reply_at)"""


def open_timers(store: Store) -> list[dict[str, Any]]:
    """Items waiting for a reply whose alert is out (posted, or grouped into an incident), not yet escalated.

    One row per item with its alert's place and its sla_state; grouped rows carry the incident's. The
    WHERE repeats the terms of the partial index idx_items_open_queue (migration 40), so only the open
    queue is read, however many items the database holds.
    """
    with store.db() as db:
        conn = db.conn
        rows = conn.execute(f"""
            SELECT i.id, i.platform, i.native_id, i.kind, i.account, i.author_handle, i.author_id, i.url,
                   i.category, i.priority, i.created_at, i.sla_due_at, i.status,
                   o.status AS alert_status, o.slack_channel, o.slack_ts, o.thread_ts, o.incident_id,
                   s.reminded_at, s.escalated_at,
                   n.channel AS incident_channel, n.ts AS incident_ts, n.category AS incident_category,
                   n.reminded_at AS incident_reminded_at, n.escalated_at AS incident_escalated_at
            FROM items i JOIN alert_outbox o ON o.item_id = i.id
            LEFT JOIN sla_state s ON s.item_id = i.id
            LEFT JOIN incidents n ON n.id = o.incident_id
            WHERE i.status IN ('open', 'alerted') AND i.needs_reply = 1 AND i.sla_due_at IS NOT NULL
              AND ((o.status = 'posted' AND o.slack_ts IS NOT NULL AND s.escalated_at IS NULL)
                   OR (o.status = 'grouped' AND n.ts IS NOT NULL AND n.escalated_at IS NULL))
              AND NOT {handled_sql(conn)}
            ORDER BY i.sla_due_at, i.id""").fetchall()
    return [dict(r) for r in rows]


def claim(store: Store, item_id: int, event: str, now: datetime) -> bool:
    """Write the event's time if nobody has: True when this caller owns the event (the conditional
    UPDATE is the lock, so two runs never both ping)."""
    at_column = EVENT_COLUMNS[event][0]
    with store.transaction() as db:
        conn = db.conn
        conn.execute("INSERT OR IGNORE INTO sla_state (item_id, updated_at) VALUES (?, ?)", [item_id, iso(now)])
        return (
            conn.execute(
                f"UPDATE sla_state SET {at_column} = ?, updated_at = ? WHERE item_id = ? AND {at_column} IS NULL",
                [iso(now), iso(now), item_id],
            ).rowcount
            == 1
        )


def release(store: Store, item_id: int, event: str) -> None:
    """The post failed: give the event back so the next run tries again."""
    at_column, ts_column = EVENT_COLUMNS[event]
    with store.transaction() as db:
        db.conn.execute(f"UPDATE sla_state SET {at_column} = NULL WHERE item_id = ? AND {ts_column} IS NULL", [item_id])


def complete(
    store: Store,
    item_id: int,
    event: str,
    *,
    ts: str | None,
    action: str,
    item_key: str,
    details: dict[str, Any],
    now: datetime,
    silent: bool = False,
) -> None:
    """Record the posted message and its audit entry in one transaction."""
    _, ts_column = EVENT_COLUMNS[event]
    with store.transaction() as db:
        conn = db.conn
        conn.execute(f"UPDATE sla_state SET {ts_column} = ?, updated_at = ? WHERE item_id = ?", [ts, iso(now), item_id])
        if silent:
            conn.execute("UPDATE sla_state SET escalation_silent = 1 WHERE item_id = ?", [item_id])
        audit_log.append_audit_on(conn, now, audit.SYSTEM, audit.SYSTEM, action, item_key, details)


def sla_state(store: Store, item_id: int) -> dict[str, Any] | None:
    with store.db() as db:
        row = db.conn.execute("SELECT * FROM sla_state WHERE item_id = ?", [item_id]).fetchone()
    return dict(row) if row else None


# --- acknowledgements, reopen, follow-ups ---------------------------------------------------------


def ack_candidates(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Private messages created since ``since`` that want a reply, have no reply yet and were not looked at."""
    with store.db() as db:
        conn = db.conn
        rows = conn.execute(
            f"""
            SELECT i.* FROM items i LEFT JOIN sla_state s ON s.item_id = i.id
            WHERE i.kind = 'dm' AND i.public = 0 AND i.needs_reply = 1 AND i.status IN ('open', 'alerted')
              AND i.backfill = 0 AND i.created_at >= ? AND s.ack_status IS NULL AND NOT {handled_sql(conn)}
            ORDER BY i.created_at, i.id""",
            [iso(since)],
        ).fetchall()
    return [dict(r) for r in rows]


def record_ack(
    store: Store, item_id: int, status: str, *, now: datetime, item_key: str, details: dict[str, Any] | None
) -> None:
    """Remember that the item was looked at (whatever the outcome), and audit a queued acknowledgement."""
    with store.transaction() as db:
        conn = db.conn
        conn.execute("INSERT OR IGNORE INTO sla_state (item_id, updated_at) VALUES (?, ?)", [item_id, iso(now)])
        conn.execute(
            "UPDATE sla_state SET ack_status = ?, ack_at = ?, updated_at = ? WHERE item_id = ?",
            [status, iso(now), iso(now), item_id],
        )
        if details is not None:
            audit_log.append_audit_on(conn, now, audit.SYSTEM, audit.SYSTEM, "sla.ack_queued", item_key, details)


def reopen_parent(store: Store, item: Mapping[str, Any], window_start: datetime) -> dict[str, Any] | None:
    """The alerted item whose manager reply this customer message answers: the one whose reply's platform
    id it replies to, else the newest one of the same author (same conversation, where the platform has
    one) answered between ``window_start`` and the message."""
    select = """SELECT p.id, p.platform || ':' || p.native_id AS item_key, o.slack_channel,
                        COALESCE(o.thread_ts, o.slack_ts) AS thread_ts, r.sent_at, r.platform_reply_id
                 FROM reply_outbox r JOIN items p ON p.id = r.item_id
                 JOIN alert_outbox o ON o.item_id = p.id AND o.slack_ts IS NOT NULL"""
    with store.db() as db:
        conn = db.conn
        manager = _manager(conn)
        row = None
        if item.get("in_reply_to"):
            row = conn.execute(
                f"""{select} WHERE r.platform_reply_id = ? AND r.status = 'sent' AND {manager}
                                   AND p.platform = ? AND p.id <> ? ORDER BY r.id DESC LIMIT 1""",
                [item["in_reply_to"], item["platform"], item["id"]],
            ).fetchone()
        if row is not None:
            return {**dict(row), "direct": True}
        conversation = item.get("conversation_id")
        row = conn.execute(
            f"""{select} WHERE p.author_key = ? AND p.account = ? AND p.id <> ?
                               AND r.status = 'sent' AND {manager} AND r.sent_at >= ? AND r.sent_at <= ?
                               AND (? IS NULL OR p.conversation_id IS NULL OR p.conversation_id = ?)
                               ORDER BY r.sent_at DESC, p.id DESC LIMIT 1""",
            [
                item["author_key"],
                item["account"],
                item["id"],
                iso(window_start),
                item["created_at"],
                conversation,
                conversation,
            ],
        ).fetchone()
    return {**dict(row), "direct": False} if row is not None else None


def record_reopen(
    store: Store, parent_id: int, child_id: int, *, parent_key: str, child_key: str, reason: str, now: datetime
) -> bool:
    """False (and nothing written) when this message has already reopened this parent."""
    with store.transaction() as db:
        conn = db.conn
        done = conn.execute(
            "SELECT 1 FROM sla_state WHERE item_id = ? AND reopened_by = ?", [parent_id, child_id]
        ).fetchone()
        if done:
            return False
        conn.execute("INSERT OR IGNORE INTO sla_state (item_id, updated_at) VALUES (?, ?)", [parent_id, iso(now)])
        conn.execute(
            "UPDATE sla_state SET reopened_at = ?, reopened_by = ?, updated_at = ? WHERE item_id = ?",
            [iso(now), child_id, iso(now), parent_id],
        )
        audit_log.append_audit_on(
            conn,
            now,
            audit.SYSTEM,
            audit.SYSTEM,
            "alert.reopened",
            parent_key,
            {"by_item": child_key, "reason": reason},
        )
    return True


def followup_candidates(store: Store, sent_before: datetime, sent_after: datetime) -> list[dict[str, Any]]:
    """Items whose first manager reply went out in [sent_after, sent_before], whose alert is in Slack, with
    no follow-up decided yet and no customer message since (a reopened item has a person's attention)."""
    with store.db() as db:
        conn = db.conn
        manager = _manager(conn)
        rows = conn.execute(
            f"""
            SELECT i.*, o.slack_channel, COALESCE(o.thread_ts, o.slack_ts) AS alert_thread_ts, r.sent_at AS replied_at
            FROM reply_outbox r JOIN items i ON i.id = r.item_id
            JOIN alert_outbox o ON o.item_id = i.id AND o.slack_ts IS NOT NULL
            LEFT JOIN sla_state s ON s.item_id = i.id
            WHERE r.status = 'sent' AND r.sent_at >= ? AND r.sent_at <= ? AND {manager}
              AND NOT EXISTS (SELECT 1 FROM reply_outbox e WHERE e.item_id = r.item_id AND e.status = 'sent'
                              AND e.sent_at < r.sent_at AND COALESCE(e.origin, 'manager') = 'manager')
              AND i.status <> 'dismissed' AND s.followup_at IS NULL AND s.reopened_at IS NULL
            ORDER BY r.sent_at, i.id""",
            [iso(sent_after), iso(sent_before)],
        ).fetchall()
    return [dict(r) for r in rows]


def record_followup_decision(
    store: Store,
    item_id: int,
    decision: str,
    *,
    item_key: str,
    actor_id: str,
    actor_name: str,
    details: dict[str, Any],
    now: datetime,
) -> bool:
    """First decision wins (two people clicking): False when one was already recorded."""
    with store.transaction() as db:
        conn = db.conn
        conn.execute("INSERT OR IGNORE INTO sla_state (item_id, updated_at) VALUES (?, ?)", [item_id, iso(now)])
        changed = conn.execute(
            "UPDATE sla_state SET followup_decision = ?, updated_at = ? WHERE item_id = ? "
            "AND followup_decision IS NULL",
            [decision, iso(now), item_id],
        ).rowcount
        if changed:
            audit_log.append_audit_on(conn, now, actor_id, actor_name, f"sla.followup_{decision}", item_key, details)
    return bool(changed)
