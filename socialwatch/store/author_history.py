"""What is known of each author: contacts, negatives, first and last seen, language (the ``authors``
table), summed over the identities of one customer (``store.customers``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from socialwatch.models import AuthorHistory, parse_time
from socialwatch.store.db import Store


def histories(store: Store, author_keys: Sequence[str]) -> dict[str, AuthorHistory]:
    """What is known of each author before the batch at hand (one query per 500 keys), as a customer:
    an identity linked to others (``store.customers``) gets the history of all of them, so repeat-contact
    priority and suggested replies see the person, whatever the channel they wrote on before."""
    unique = list(dict.fromkeys(author_keys))
    found: dict[str, AuthorHistory] = {}
    with store.db() as db:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            siblings: dict[str, list[str]] = {}
            for key, sibling in db.execute(
                f"SELECT ci.author_key, sib.author_key FROM customer_identities ci "
                f"JOIN customer_identities sib ON sib.customer_id = ci.customer_id AND sib.author_key <> ci.author_key "
                f"WHERE ci.author_key IN ({marks})",
                chunk,
            ).fetchall():
                siblings.setdefault(key, []).append(sibling)
            wanted = list(dict.fromkeys([*chunk, *(s for group in siblings.values() for s in group)]))
            rows: dict[str, AuthorHistory] = {}
            for part in range(0, len(wanted), 500):
                keys = wanted[part : part + 500]
                for row in db.execute(
                    # The language of the author's latest item whose language was told (idx_items_author).
                    "SELECT key, contacts, negative_count, first_seen, last_seen, last_label, "
                    "(SELECT lang FROM items WHERE items.author_key = authors.key AND lang IS NOT NULL "
                    "AND lang NOT IN ('', 'und') ORDER BY created_at DESC LIMIT 1) "
                    f"FROM authors WHERE key IN ({','.join('?' * len(keys))})",
                    keys,
                ).fetchall():
                    rows[row[0]] = AuthorHistory(
                        contacts=row[1],
                        negative_count=row[2],
                        first_seen=parse_time(row[3]),
                        last_seen=parse_time(row[4]),
                        last_label=row[5],
                        language=row[6],
                    )
            for key in chunk:
                parts = [rows[k] for k in (key, *siblings.get(key, ())) if k in rows]
                if parts:
                    found[key] = parts[0] if len(parts) == 1 else _together(parts)
    return found


def _together(parts: Sequence[AuthorHistory]) -> AuthorHistory:
    """One customer's history from its identities': counts add up, the latest contact's label and language win
    (the language of the latest identity that told one: a customer answered in Malay on X is on Messenger too)."""
    by_time = sorted(parts, key=lambda h: h.last_seen or datetime.min.replace(tzinfo=UTC), reverse=True)
    latest = by_time[0]
    firsts = [h.first_seen for h in parts if h.first_seen]
    return AuthorHistory(
        contacts=sum(h.contacts for h in parts),
        negative_count=sum(h.negative_count for h in parts),
        first_seen=min(firsts) if firsts else None,
        last_seen=latest.last_seen,
        last_label=latest.last_label,
        language=next((h.language for h in by_time if h.language), None),
    )


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
