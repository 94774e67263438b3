"""Incidents (the ``incidents`` table): a burst of alerts grouped into one, its members and its message.

``alert_outbox.incident_id`` links the burst's alerts, whose status ``grouped`` keeps them out of the
individual delivery.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import iso
from socialwatch.store import audit_log
from socialwatch.store.db import Store

INCIDENT_EVENT_COLUMNS = {"reminder": "reminded_at", "escalation": "escalated_at"}


def open_incidents(store: Store) -> list[dict[str, Any]]:
    with store.db() as db:
        rows = db.conn.execute("""
            SELECT n.*, COUNT(o.id) AS item_count, MIN(i.received_at) AS first_received_at,
                   MAX(i.received_at) AS last_received_at
            FROM incidents n LEFT JOIN alert_outbox o ON o.incident_id = n.id LEFT JOIN items i ON i.id = o.item_id
            WHERE n.closed_at IS NULL GROUP BY n.id ORDER BY n.id""").fetchall()
    return [dict(r) for r in rows]


def burst_candidates(store: Store, since: datetime, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Alerts (pending or posted) of items with one of ``labels`` received since ``since`` and in no incident.
    (CROSS JOIN: SQLite then reads items by arrival time, never alert_outbox by status, which is every alert.)"""
    marks = ",".join("?" * len(labels))
    with store.db() as db:
        rows = db.conn.execute(
            f"""
            SELECT o.id AS outbox_id, o.status AS alert_status, i.id, i.category, i.received_at
            FROM items i CROSS JOIN alert_outbox o ON o.item_id = i.id
            WHERE i.received_at >= ? AND o.incident_id IS NULL AND o.status IN ('pending', 'posted')
              AND i.label IN ({marks})
            ORDER BY i.received_at, i.id""",
            [iso(since), *labels],
        ).fetchall()
    return [dict(r) for r in rows]


def open_incident(store: Store, category: str, outbox_ids: Sequence[int], *, now: datetime) -> int:
    """A new incident with these alerts: pending ones are held back (``grouped``), posted ones linked."""
    with store.transaction() as db:
        conn = db.conn
        incident_id = int(
            conn.execute(
                "INSERT INTO incidents (category, opened_at) VALUES (?, ?) RETURNING id", [category, iso(now)]
            ).fetchone()[0]
        )
        _link(conn, incident_id, outbox_ids)
    return incident_id


def attach(store: Store, incident_id: int, outbox_ids: Sequence[int]) -> None:
    with store.transaction() as db:
        _link(db.conn, incident_id, outbox_ids)


def _link(conn: sqlite3.Connection, incident_id: int, outbox_ids: Sequence[int]) -> None:
    for start in range(0, len(outbox_ids), 500):
        chunk = list(outbox_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        # Only rows still pending are held back: one the dispatcher delivered meanwhile stays posted.
        conn.execute(
            f"UPDATE alert_outbox SET incident_id = ?, status = CASE WHEN status = 'pending' "
            f"THEN 'grouped' ELSE status END WHERE id IN ({marks}) AND incident_id IS NULL",
            [incident_id, *chunk],
        )


def incident_items(store: Store, incident_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    """The incident's items, oldest first, with only what the incident alert shows (never raw payloads:
    an all-day incident holds tens of thousands of items)."""
    with store.db() as db:
        rows = db.conn.execute(
            "SELECT i.id, i.platform, i.kind, i.author_handle, i.author_name, i.url, i.text, i.received_at, "
            "o.status AS alert_status FROM alert_outbox o JOIN items i ON i.id = o.item_id "
            "WHERE o.incident_id = ? ORDER BY i.received_at, i.id" + (" LIMIT ?" if limit else ""),
            [incident_id, *([limit] if limit else [])],
        ).fetchall()
    return [dict(r) for r in rows]


def incident_summary(store: Store, incident_id: int) -> dict[str, Any]:
    """Counts for the incident alert, computed in SQL: {count, first, last, posted, platforms}."""
    with store.db() as db:
        conn = db.conn
        row = conn.execute(
            "SELECT COUNT(*), MIN(i.received_at), MAX(i.received_at), COALESCE(SUM(o.status = 'posted'), 0) "
            "FROM alert_outbox o JOIN items i ON i.id = o.item_id WHERE o.incident_id = ?",
            [incident_id],
        ).fetchone()
        platforms = conn.execute(
            "SELECT i.platform, COUNT(*) FROM alert_outbox o JOIN items i ON i.id = o.item_id "
            "WHERE o.incident_id = ? GROUP BY i.platform",
            [incident_id],
        ).fetchall()
    return {
        "count": int(row[0]),
        "first": row[1],
        "last": row[2],
        "posted": int(row[3]),
        "platforms": {str(p): int(n) for p, n in platforms},
    }


def incident(store: Store, incident_id: int) -> dict[str, Any] | None:
    with store.db() as db:
        row = db.conn.execute("SELECT * FROM incidents WHERE id = ?", [incident_id]).fetchone()
    return dict(row) if row else None


def record_incident_post(
    store: Store,
    incident_id: int,
    *,
    channel: str,
    ts: str | None,
    shown: int,
    action: str | None,
    details: dict[str, Any],
    now: datetime,
    close: bool = False,
) -> None:
    """The incident message was posted or updated (``action`` audits it); ``close`` ends the incident."""
    with store.transaction() as db:
        conn = db.conn
        conn.execute(
            "UPDATE incidents SET channel = ?, ts = COALESCE(?, ts), shown_count = ?, last_update_at = ?, "
            "closed_at = CASE WHEN ? THEN ? ELSE closed_at END WHERE id = ?",
            [channel, ts, shown, iso(now), int(close), iso(now), incident_id],
        )
        if action:
            audit_log.append_audit_on(
                conn, now, audit.SYSTEM, audit.SYSTEM, action, None, {"incident_id": incident_id, **details}
            )


def claim_incident(store: Store, incident_id: int, event: str, now: datetime) -> bool:
    column = INCIDENT_EVENT_COLUMNS[event]
    with store.transaction() as db:
        return (
            db.conn.execute(
                f"UPDATE incidents SET {column} = ? WHERE id = ? AND {column} IS NULL", [iso(now), incident_id]
            ).rowcount
            == 1
        )


def release_incident(store: Store, incident_id: int, event: str) -> None:
    column = INCIDENT_EVENT_COLUMNS[event]
    with store.transaction() as db:
        db.conn.execute(f"UPDATE incidents SET {column} = NULL WHERE id = ?", [incident_id])
