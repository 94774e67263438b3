"""The period queries that reports and the daily digest read: items of a period with their response facts.

Every function reads on the caller's connection, so a report takes one snapshot (``socialwatch report``
uses a read-only connection).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch.models import iso
from socialwatch.store.db import Store, connect, has_column, table_exists
from socialwatch.store.sla_state import first_reply_sql, handled_sql


@dataclass(frozen=True)
class Period:
    """What a report reads of one period, from one snapshot: its items, the labels of the period before,
    the incidents open during it, and how many items from before it were still waiting."""

    rows: list[dict[str, Any]]
    previous: dict[str, int]
    incidents: list[dict[str, Any]]
    waiting_before: int


def read_period(store: Store, since: datetime, until: datetime, previous_since: datetime) -> Period:
    """[since, until) by post time, and the labels of [previous_since, since), on a read-only connection in
    one read transaction, so every figure of a report agrees with the others while the daemon writes."""
    conn = connect(store.path, readonly=True)
    try:
        conn.execute("BEGIN")
        period = Period(
            period_items(conn, since, until),
            label_counts(conn, previous_since, since),
            period_incidents(conn, since, until),
            waiting_before(conn, since),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return period


def period_items(conn: sqlite3.Connection, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Every item posted in [since, until) with its response facts; read on the caller's connection
    (``socialwatch report`` uses a read-only one)."""
    incident = "o.incident_id" if has_column(conn, "alert_outbox", "incident_id") else "NULL"
    attachments = "i.attachments" if has_column(conn, "items", "attachments") else "NULL"
    rows = conn.execute(
        f"""
        SELECT i.id, i.platform, i.native_id, i.kind, i.account, i.author_key, i.author_handle, i.author_name,
               i.url, i.label, i.compound, i.category, i.priority, i.needs_reply, i.status, i.created_at,
               substr(i.text, 1, 300) AS excerpt, CASE WHEN i.text = '' THEN {attachments} END AS attachments,
               i.received_at, i.alerted_at, i.sla_due_at, i.backfill, {first_reply_sql(conn)} AS first_reply_at,
               {handled_sql(conn)} AS handled, o.status AS alert_status, {incident} AS incident_id
        FROM items i LEFT JOIN alert_outbox o ON o.item_id = i.id
        WHERE i.created_at >= ? AND i.created_at < ?
        ORDER BY i.created_at, i.id""",
        [iso(since), iso(until)],
    ).fetchall()
    return [dict(r) for r in rows]


def waiting_before(conn: sqlite3.Connection, since: datetime) -> int:
    """Items posted before ``since`` still waiting for an answer."""
    return int(
        conn.execute(
            f"SELECT COUNT(*) FROM items i WHERE i.created_at < ? AND i.needs_reply = 1 "
            f"AND i.status IN ('open', 'alerted') AND NOT {handled_sql(conn)}",
            [iso(since)],
        ).fetchone()[0]
    )


def label_counts(conn: sqlite3.Connection, since: datetime, until: datetime) -> dict[str, int]:
    rows = conn.execute(
        "SELECT COALESCE(label, 'unscored'), COUNT(*) FROM items WHERE created_at >= ? AND created_at < ? GROUP BY 1",
        [iso(since), iso(until)],
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def period_incidents(conn: sqlite3.Connection, since: datetime, until: datetime) -> list[dict[str, Any]]:
    if not table_exists(conn, "incidents"):
        return []
    rows = conn.execute(
        """
        SELECT n.id, n.category, n.opened_at, n.closed_at, COUNT(o.id) AS item_count
        FROM incidents n LEFT JOIN alert_outbox o ON o.incident_id = n.id
        WHERE n.opened_at < ? AND (n.closed_at IS NULL OR n.closed_at >= ?)
        GROUP BY n.id ORDER BY n.opened_at""",
        [iso(until), iso(since)],
    ).fetchall()
    return [dict(r) for r in rows]


def digest_posted(store: Store, period_key: str) -> bool:
    """Whether the digest for this period was posted already (its audit entry is the record)."""
    with store.db() as db:
        row = db.conn.execute(
            "SELECT 1 FROM audit WHERE action = 'digest.posted' AND json_valid(details) "
            "AND json_extract(details, '$.period') = ? LIMIT 1",
            [period_key],
        ).fetchone()
    return row is not None
