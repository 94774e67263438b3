"""The inbox: customer items as stored, with their assessment, and the decisions managers take on them.

``ingest`` is the one write of a poll: new items, their authors' history, their alerts, their audit
entries, the rejects and the cursor that covers them in ONE transaction, so a crash leaves all or
none; an item is stored once (unique on platform + native_id), whatever the retries.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import Processed, Reject, Suggestion, escape_text, has_lone_surrogates, iso, utcnow
from socialwatch.store import audit_log, corrections, customers, streams
from socialwatch.store.db import Store

#: The dismissal reason that says triage was wrong to ask for a reply (alerts.cards.DISMISS_REASONS).
NO_REPLY_REASON = "no_reply"
_PRIORITY_RANK = (
    "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END"
)


@dataclass(frozen=True)
class IngestResult:
    new: int
    duplicates: int
    alerts: int
    new_item_ids: tuple[int, ...] = ()


def ingest(
    store: Store,
    source: str,
    batch: Sequence[Processed],
    cursor: str | None,
    *,
    rejects: Sequence[Reject] = (),
    now: datetime | None = None,
    fail_before_commit: Callable[[], None] | None = None,
) -> IngestResult:
    """Store new items, their authors, alerts and audit entries, and move the cursor: all or nothing.

    ``cursor`` None leaves the stored cursor as it is. ``fail_before_commit`` exists for the
    crash tests: it runs inside the transaction after all writes.
    """
    now = now or utcnow()
    received = iso(now)
    with store.transaction() as db:
        conn = db.conn
        # Row by row for the ids (executemany cannot RETURN); everything else a statement per page.
        fresh: list[tuple[int, Processed]] = []
        for entry in batch:
            row = conn.execute(_INSERT_ITEM, _item_row(entry, received)).fetchone()
            if row is not None:
                fresh.append((int(row[0]), entry))
        # In page order, so an author seen twice in a page ends with the later item's label.
        conn.executemany(_UPSERT_AUTHOR, [_author_row(entry) for _, entry in fresh])
        customers.record_evidence_on(conn, fresh)  # who else the authors may be (suggested links)
        audit_log.append_audit_many_on(
            conn,
            now,
            [
                (audit.SYSTEM, audit.SYSTEM, "item.received", entry.item.key, _assessment_details(entry))
                for _, entry in fresh
            ],
        )
        alerted = [item_id for item_id, entry in fresh if entry.alert]
        conn.executemany(
            "INSERT INTO alert_outbox (item_id, status, next_attempt_at, created_at) VALUES (?, 'pending', ?, ?)",
            [(item_id, received, received) for item_id in alerted],
        )
        # Kept, not dropped: the cursor may move past a payload we could not read, never past data.
        conn.executemany(
            "INSERT INTO rejects (source, received_at, error, payload) VALUES (?, ?, ?, ?)",
            [
                (source, received, escape_text(reject.error)[:1000], escape_text(reject.payload)[:100_000])
                for reject in rejects
            ],
        )
        if cursor is not None:
            streams.set_cursor_on(conn, source, cursor, received)
        if fail_before_commit is not None:
            fail_before_commit()
    new_ids = tuple(item_id for item_id, _ in fresh)
    return IngestResult(len(new_ids), len(batch) - len(new_ids), len(alerted), new_ids)


def item(store: Store, item_id: int) -> dict[str, Any] | None:
    with store.db() as db:
        row = db.execute("SELECT * FROM items WHERE id = ?", [item_id]).fetchone()
    return dict(row) if row else None


def item_by_key(store: Store, key: str) -> dict[str, Any] | None:
    platform, _, native_id = key.partition(":")
    with store.db() as db:
        row = db.execute("SELECT * FROM items WHERE platform = ? AND native_id = ?", [platform, native_id]).fetchone()
    return dict(row) if row else None


def count_items(store: Store, **where: Any) -> int:
    clauses = " AND ".join(f"{column} = ?" for column in where) or "1"
    with store.db() as db:
        return int(db.execute(f"SELECT COUNT(*) FROM items WHERE {clauses}", list(where.values())).fetchone()[0])


def open_counts(store: Store, now: datetime) -> dict[str, int]:
    """Items waiting for a reply, and how many of them are past their SLA."""
    with store.db() as db:
        row = db.execute(
            """SELECT COUNT(*), COALESCE(SUM(sla_due_at < ?), 0) FROM items
               WHERE status IN ('open', 'alerted') AND needs_reply = 1""",
            [iso(now)],
        ).fetchone()
    return {"open": int(row[0]), "breached": int(row[1])}


def open_items(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    with store.db() as db:
        # Ordered and limited on the covering index first (idx_items_open_queue), whole rows only for those.
        rows = db.execute(
            f"""SELECT * FROM items WHERE id IN (
                    SELECT id FROM items WHERE status IN ('open', 'alerted') AND needs_reply = 1
                    ORDER BY {_PRIORITY_RANK}, sla_due_at LIMIT ?)
                ORDER BY {_PRIORITY_RANK}, sla_due_at""",
            [limit],
        ).fetchall()
    return [dict(r) for r in rows]


def assign_item(store: Store, item_id: int, *, actor_id: str, actor_name: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        key = item_key_on(conn, item_id)
        if key is None:
            return False
        conn.execute("UPDATE items SET assigned_to = ?, assigned_at = ? WHERE id = ?", [actor_id, iso(now), item_id])
        audit_log.append_audit_on(conn, now, actor_id, actor_name, "item.assigned", key, {"assignee": actor_id})
    return True


def dismiss_item(
    store: Store,
    item_id: int,
    *,
    actor_id: str,
    actor_name: str,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> bool:
    """False when the item is gone, already dismissed, or a reply to it is on its way or posted."""
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        key = item_key_on(conn, item_id)
        busy = conn.execute(
            "SELECT 1 FROM reply_outbox WHERE item_id = ? AND status IN ('approved', 'sending', 'sent', 'reconciling') "
            "AND COALESCE(origin, 'manager') = 'manager'",
            [item_id],
        ).fetchone()
        if key is None or busy:
            return False
        changed = conn.execute(
            "UPDATE items SET status = 'dismissed', dismissed_by = ?, dismissed_by_name = ?, dismissed_reason = ?, "
            "dismissed_at = ? WHERE id = ? AND status != 'dismissed'",
            [actor_id, actor_name, reason, iso(now), item_id],
        ).rowcount
        if not changed:
            return False
        # A reply still waiting for its second approver dies with the alert, on the record.
        waiting = [
            r[0]
            for r in conn.execute(
                "UPDATE reply_outbox SET status = 'cancelled', closed_by = ?, closed_reason = 'alert dismissed' "
                "WHERE item_id = ? AND status = 'awaiting_second' RETURNING id",
                [actor_id, item_id],
            ).fetchall()
        ]
        for reply_id in waiting:
            audit_log.append_audit_on(
                conn,
                now,
                actor_id,
                actor_name,
                "reply.cancelled",
                key,
                {"reply_id": reply_id, "reason": "alert dismissed"},
            )
        audit_log.append_audit_on(
            conn, now, actor_id, actor_name, "item.dismissed", key, {"reason": reason, "note": note[:500]}
        )
        if reason == NO_REPLY_REASON:  # "Needs no reply" is a manager's label too (store/corrections.py)
            corrections.correct_on(
                conn, item_id, "needs_reply", "false", actor_id=actor_id, actor_name=actor_name, now=now
            )
    return True


def item_key_on(conn: sqlite3.Connection, item_id: int) -> str | None:
    row = conn.execute("SELECT platform || ':' || native_id FROM items WHERE id = ?", [item_id]).fetchone()
    return None if row is None else str(row[0])


_INSERT_ITEM = """INSERT INTO items (platform, native_id, kind, account, source, author_key, author_id, author_handle,
        author_name, author_followers, text, lang, created_at, received_at, url, conversation_id,
        in_reply_to, public, raw, compound, neg, neu, pos, label, category, priority, needs_reply,
        reasons, suggestions, sla_due_at, status, backfill, attachments)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT (platform, native_id) DO NOTHING
    RETURNING id"""

_UPSERT_AUTHOR = """INSERT INTO authors (key, platform, native_id, handle, name, followers, first_seen, last_seen,
        contacts, negative_count, last_label, last_compound)
    VALUES (?,?,?,?,?,?,?,?,1,?,?,?)
    ON CONFLICT (key) DO UPDATE SET
        handle = COALESCE(excluded.handle, handle),
        name = COALESCE(excluded.name, name),
        followers = COALESCE(excluded.followers, followers),
        first_seen = MIN(first_seen, excluded.first_seen),
        last_label = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_label ELSE last_label END,
        last_compound = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_compound
                             ELSE last_compound END,
        last_seen = MAX(last_seen, excluded.last_seen),
        contacts = contacts + 1,
        negative_count = negative_count + excluded.negative_count"""

# Built once: json.dumps with options builds an encoder per call.
_to_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _raw_json(raw: dict[str, Any]) -> str:
    """The payload as received; a lone surrogate in it is written ``\\ud83d`` (UTF-8 cannot carry it)."""
    text = _to_json(raw)
    return json.dumps(raw, default=str) if has_lone_surrogates(text) else text


def _item_row(entry: Processed, received: str) -> list[Any]:
    item, a = entry.item, entry.assessment
    s = a.sentiment
    return [
        item.platform,
        item.native_id,
        item.kind.value,
        item.account,
        entry.source,
        item.author_key,
        item.author.id,
        item.author.handle,
        item.author.name,
        item.author.followers,
        item.text,
        s.lang,
        iso(item.created_at),
        received,
        item.url,
        item.conversation_id,
        item.in_reply_to,
        int(item.public),
        _raw_json(item.raw) if item.raw else None,
        s.compound,
        s.neg,
        s.neu,
        s.pos,
        s.label,
        a.category,
        a.priority,
        int(a.needs_reply),
        _to_json(list(a.reasons)),
        _to_json([_suggestion_json(x) for x in a.suggestions]),
        iso(a.sla_due_at),
        "open" if a.needs_attention else "no_action",
        int(not entry.alert and a.needs_attention),
        _to_json([attachment.to_json() for attachment in item.attachments]) if item.attachments else None,
    ]


def _suggestion_json(suggestion: Suggestion) -> dict[str, str]:
    out = {"kind": suggestion.kind, "text": suggestion.text, "lang": suggestion.lang}
    if suggestion.english is not None:
        out["english"] = suggestion.english
    if suggestion.refused is not None:
        out["refused"] = suggestion.refused
    return out


def _author_row(entry: Processed) -> tuple[Any, ...]:
    item, s = entry.item, entry.assessment.sentiment
    seen = iso(item.created_at)
    return (
        item.author_key,
        item.platform,
        item.author.id,
        item.author.handle,
        item.author.name,
        item.author.followers,
        seen,
        seen,
        int(s.label == "negative"),
        s.label,
        s.compound,
    )


def _assessment_details(entry: Processed) -> dict[str, Any]:
    a = entry.assessment
    details: dict[str, Any] = {
        "source": entry.source,
        "compound": a.sentiment.compound,
        "label": a.sentiment.label,
        "lang": a.sentiment.lang,
        "category": a.category,
        "priority": a.priority,
        "needs_reply": a.needs_reply,
        "alert": entry.alert,
        "reasons": list(a.reasons),
        "sla_due_at": iso(a.sla_due_at),
        "account": entry.item.account,
        "kind": entry.item.kind.value,
        "public": entry.item.public,
        "created_at": iso(entry.item.created_at),
        # Personal text: kept beside the chain (audit.CONTENT_FIELDS) so retention can purge it.
        "text": entry.item.text,
        "author_handle": entry.item.author.handle,
        "author_name": entry.item.author.name,
        "suggestions": [s.text for s in a.suggestions],
    }
    if entry.item.repaired:  # the stored text differs from the raw payload: say where
        details["repaired"] = list(entry.item.repaired)
    if entry.item.attachments:  # what was sent besides text, without URLs (those stay in the items row)
        details["attachments"] = [x.describe() for x in entry.item.attachments]
    return details
