"""What is known of each author: contacts, negatives, first and last seen, language (the ``authors`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from socialwatch.models import AuthorHistory, parse_time
from socialwatch.store.db import Store


def histories(store: Store, author_keys: Sequence[str]) -> dict[str, AuthorHistory]:
    """What is known of each author before the batch at hand (one query per 500 keys)."""
    unique = list(dict.fromkeys(author_keys))
    found: dict[str, AuthorHistory] = {}
    with store.db() as db:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                # The language of the author's latest item whose language was told (idx_items_author).
                f"SELECT key, contacts, negative_count, first_seen, last_seen, last_label, "
                f"(SELECT lang FROM items WHERE items.author_key = authors.key AND lang IS NOT NULL "
                f"AND lang NOT IN ('', 'und') ORDER BY created_at DESC LIMIT 1) "
                f"FROM authors WHERE key IN ({marks})",
                chunk,
            ).fetchall():
                found[row[0]] = AuthorHistory(
                    contacts=row[1],
                    negative_count=row[2],
                    first_seen=parse_time(row[3]),
                    last_seen=parse_time(row[4]),
                    last_label=row[5],
                    language=row[6],
                )
    return found


def author(store: Store, author_key: str) -> dict[str, Any] | None:
    with store.db() as db:
        row = db.execute("SELECT * FROM authors WHERE key = ?", [author_key]).fetchone()
    return dict(row) if row else None


def author_items(store: Store, author_key: str, limit: int = 20) -> list[dict[str, Any]]:
    with store.db() as db:
        rows = db.execute(
            "SELECT * FROM items WHERE author_key = ? ORDER BY created_at DESC LIMIT ?", [author_key, limit]
        ).fetchall()
    return [dict(r) for r in rows]


def author_contacts(store: Store, author_key: str, limit: int = 50) -> list[dict[str, Any]]:
    """The author's newest items as (id, created_at, label) only: what an alert shows of their history,
    without reading every column (raw payloads included) of up to ``limit`` rows per alert."""
    with store.db() as db:
        rows = db.execute(
            "SELECT id, created_at, label FROM items WHERE author_key = ? ORDER BY created_at DESC LIMIT ?",
            [author_key, limit],
        ).fetchall()
    return [dict(r) for r in rows]
