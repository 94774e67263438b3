"""Source streams: their cursors (moved only with what they cover) and their health rows."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from socialwatch.models import iso, utcnow
from socialwatch.store.db import Store

#: Source states that are announced once and shown as unhealthy: rejected credentials, a capability the
#: token lacks, and an error the platform says will not go away by retrying.
UNHEALTHY_STATES = ("unhealthy", "disabled", "failed")


def cursor(store: Store, source: str) -> str | None:
    with store.db() as db:
        row = db.execute("SELECT value FROM cursors WHERE source = ?", [source]).fetchone()
    return row[0] if row else None


def set_cursor(store: Store, source: str, value: str) -> None:
    """Moving a cursor without items (e.g. a poll that found nothing new)."""
    with store.transaction() as db:
        set_cursor_on(db.conn, source, value, iso(utcnow()))


def set_cursor_on(conn: sqlite3.Connection, source: str, value: str, now: str) -> None:
    conn.execute(
        "INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [source, value, now],
    )


def record_poll(
    store: Store,
    source: str,
    platform: str,
    account: str,
    *,
    ok: bool,
    state: str = "ok",
    detail: str | None = None,
    rate_limit_remaining: int | None = None,
    rate_limit_reset_at: datetime | None = None,
    paused_until: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a poll's outcome; returns True when the source just turned unhealthy (announce once)."""
    now_s = iso(now or utcnow())
    with store.transaction() as db:
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
            [
                source,
                platform,
                account,
                int(state not in UNHEALTHY_STATES),
                state,
                detail,
                now_s,
                now_s if ok else None,
                None if ok else now_s,
                None if ok else detail,
                rate_limit_remaining,
                iso(rate_limit_reset_at),
                iso(paused_until),
                now_s,
            ],
        )
        turned = state in UNHEALTHY_STATES and (before is None or before[0] == 1)
    return turned


def sources(store: Store) -> list[dict[str, Any]]:
    with store.db() as db:
        rows = db.execute(
            """SELECT s.*, c.value AS cursor, c.updated_at AS cursor_updated_at FROM sources s
               LEFT JOIN cursors c ON c.source = s.source ORDER BY s.source"""
        ).fetchall()
    return [dict(r) for r in rows]
