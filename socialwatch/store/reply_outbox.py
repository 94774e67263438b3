"""The reply outbox: one brand reply per item, posted at most once.

The status machine (docs/design.md)::

    awaiting_second -> approved -> sending -> sent | failed | needs_check | reconciling
    sending -> approved          deferred (rate limit, 5xx, credentials) or reconciled as not posted
    reconciling -> sent | approved | needs_check | failed   (looked for on the platform; never resent meanwhile)
    awaiting_second | approved -> cancelled;  needs_check -> sent | approved | cancelled (a person)

Every move is a conditional UPDATE on the expected status, in the transaction of its audit entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log
from socialwatch.store.db import Store
from socialwatch.store.schema import ACTIVE_REPLY_STATUSES

#: reply_outbox.verify_before_send: what the next attempt must do first, after an attempt with no clear answer.
VERIFY_NONE, VERIFY_BEST_EFFORT, VERIFY_REQUIRED = 0, 1, 2


@dataclass(frozen=True)
class QueueResult:
    """What a click did: ``queued`` | ``awaiting_second`` | ``duplicate`` | ``closed`` | ``stale``, and the reply row
    (with ``item_key``) that now stands for the item, if any."""

    status: str
    reply: dict[str, Any] | None


_REPLY_SELECT = """
    SELECT r.*, i.platform || ':' || i.native_id AS item_key, i.platform, i.account, i.kind, i.native_id,
           i.author_id, i.author_handle, i.conversation_id, i.in_reply_to, i.public, i.created_at, i.url,
           i.status AS item_status
    FROM reply_outbox r JOIN items i ON i.id = r.item_id"""


def replies_on(conn: sqlite3.Connection, where: str, params: Sequence[Any], *, tail: str = "") -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(f"{_REPLY_SELECT} WHERE {where} {tail}", list(params)).fetchall()]


def reply_on(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> dict[str, Any] | None:
    rows = replies_on(conn, where, params, tail="ORDER BY r.id DESC LIMIT 1")
    return rows[0] if rows else None


def active_reply_on(conn: sqlite3.Connection, item_id: int) -> dict[str, Any] | None:
    marks = ",".join("?" * len(ACTIVE_REPLY_STATUSES))
    return reply_on(
        conn, f"r.item_id = ? AND r.origin = 'manager' AND r.status IN ({marks})", [item_id, *ACTIVE_REPLY_STATUSES]
    )


def queue_reply(
    store: Store,
    item_id: int,
    *,
    text: str,
    actor_id: str,
    actor_name: str,
    suggested_text: str | None = None,
    suggestion_kind: str | None = None,
    needs_second: bool = False,
    origin: str = "manager",
    dedupe_key: str | None = None,
    private: bool = False,
    now: datetime | None = None,
    expected_attempt: int | None = None,
) -> QueueResult:
    """Record an approved reply (or, ``needs_second``, one waiting for a second approver).

    Checks and insert are one IMMEDIATE transaction, so concurrent clicks serialise: the first wins,
    the others get ``duplicate`` with the winner's row. Only ``origin='manager'`` rows count as the
    item's answer; other origins (``ack``) are deduplicated by their ``dedupe_key`` alone. ``private``: the
    answer goes to the author of a public comment as one private message (a private reply).
    ``expected_attempt``: how many manager replies the click's card had seen (its buttons' version); when
    more were queued since (a reply failed after that card was rendered), the click is ``stale`` and
    nothing is queued, so a replayed old click never posts.
    """
    if not text.strip():
        raise ValueError("a reply needs text")
    now = now or utcnow()
    at = iso(now)
    with store.transaction() as db:
        conn = db.conn
        item = conn.execute("SELECT platform, native_id, status FROM items WHERE id = ?", [item_id]).fetchone()
        if item is None or item["status"] == "dismissed":
            return QueueResult("closed", None)
        key = f"{item['platform']}:{item['native_id']}"
        if dedupe_key is not None:
            same = reply_on(conn, "r.dedupe_key = ?", [dedupe_key])
            if same is not None:
                return QueueResult("duplicate", same)
        if origin == "manager":
            active = active_reply_on(conn, item_id)
            if active is not None:
                return QueueResult("duplicate", active)
        if dedupe_key is None:
            # No active row of this origin exists here, so every earlier one failed or was cancelled:
            # their count makes the key unique, and a retried click after a failure gets a new one.
            earlier = conn.execute(
                "SELECT COUNT(*) FROM reply_outbox WHERE item_id = ? AND origin = ?", [item_id, origin]
            ).fetchone()[0]
            if expected_attempt is not None and origin == "manager" and earlier != expected_attempt:
                return QueueResult("stale", reply_on(conn, "r.item_id = ? AND r.origin = 'manager'", [item_id]))
            dedupe_key = f"{key}#{earlier}" if origin == "manager" else f"{origin}:{key}#{earlier}"
        status = "awaiting_second" if needs_second else "approved"
        inserted = conn.execute(
            """INSERT INTO reply_outbox (item_id, dedupe_key, text, suggested_text, suggestion_kind, approved_by,
                   approved_by_name, approved_at, requested_at, status, origin, next_attempt_at, private_reply)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT DO NOTHING RETURNING id""",
            [
                item_id,
                dedupe_key,
                text,
                suggested_text,
                suggestion_kind,
                actor_id,
                actor_name,
                at,
                at,
                status,
                origin,
                None if needs_second else at,
                int(private),
            ],
        ).fetchone()
        if inserted is None:  # a unique index caught what the checks above did not
            winner = reply_on(conn, "r.dedupe_key = ?", [dedupe_key]) or active_reply_on(conn, item_id)
            return QueueResult("duplicate", winner)
        reply_id = int(inserted[0])
        audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            "reply.requested" if needs_second else "reply.approved",
            key,
            {"reply_id": reply_id, "final": text, "suggestion_kind": suggestion_kind, "origin": origin}
            | ({"private": True} if private else {}),
        )
        if suggested_text is not None and suggested_text != text:
            audit_log.append_audit_on(
                conn,
                now,
                actor_id,
                actor_name,
                "reply.edited",
                key,
                {"reply_id": reply_id, "suggested": suggested_text, "final": text},
            )
        row = reply_on(conn, "r.id = ?", [reply_id])
    return QueueResult(status if needs_second else "queued", row)


def second_approval(
    store: Store, reply_id: int, *, actor_id: str, actor_name: str, now: datetime | None = None
) -> QueueResult:
    """The two-person rule: a *different* approver releases an ``awaiting_second`` reply (``queued``).

    The first approver clicking again changes nothing and is audited as ``action.refused``
    (status ``awaiting_second``). A reply already released is ``duplicate``; a cancelled or
    failed one (or one whose text retention purged) is ``closed``.
    """
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        row = reply_on(conn, "r.id = ?", [reply_id])
        if row is None:
            return QueueResult("closed", None)
        if row["status"] != "awaiting_second":
            return QueueResult("closed" if row["status"] in ("failed", "cancelled") else "duplicate", row)
        if actor_id == row["approved_by"]:
            audit_log.append_audit_on(
                conn,
                now,
                actor_id,
                actor_name,
                "action.refused",
                row["item_key"],
                {
                    "attempted": "second_approval",
                    "reply_id": reply_id,
                    "reason": "the second approval must come from another person",
                },
            )
            return QueueResult("awaiting_second", row)
        if not row["text"]:
            return QueueResult("closed", row)
        conn.execute(
            "UPDATE reply_outbox SET status = 'approved', second_approver = ?, second_approver_name = ?, "
            "approved_at = ?, next_attempt_at = ? WHERE id = ? AND status = 'awaiting_second'",
            [actor_id, actor_name, iso(now), iso(now), reply_id],
        )
        audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            "reply.approved",
            row["item_key"],
            {
                "reply_id": reply_id,
                "final": row["text"],
                "suggestion_kind": row["suggestion_kind"],
                "origin": row["origin"],
                "first_approver": row["approved_by"],
                "first_approver_name": row["approved_by_name"],
            },
        )
        updated = reply_on(conn, "r.id = ?", [reply_id])
    return QueueResult("queued", updated)


def cancel_reply(
    store: Store, reply_id: int, *, actor_id: str, actor_name: str, reason: str, now: datetime | None = None
) -> bool:
    """Withdraw a reply not yet on its way (awaiting_second / approved). False otherwise, and also for
    an approved row whose earlier attempt may have been posted (it must be checked, not forgotten)."""
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        changed = conn.execute(
            "UPDATE reply_outbox SET status = 'cancelled', closed_by = ?, closed_reason = ? WHERE id = ? "
            "AND status IN ('awaiting_second', 'approved') AND verify_before_send < ?",
            [actor_id, reason[:500], reply_id, VERIFY_REQUIRED],
        ).rowcount
        if not changed:
            return False
        row = reply_on(conn, "r.id = ?", [reply_id])
        assert row is not None
        audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            "reply.cancelled",
            row["item_key"],
            {"reply_id": reply_id, "reason": reason[:500]},
        )
    return True


def reply(store: Store, reply_id: int) -> dict[str, Any] | None:
    """The reply row with its item's key and the fields a Replier and Slack need."""
    with store.db() as db:
        return reply_on(db.conn, "r.id = ?", [reply_id])


def active_reply_for(store: Store, item_id: int) -> dict[str, Any] | None:
    """The manager reply that stands for the item's answer (acks do not), if any."""
    with store.db() as db:
        return active_reply_on(db.conn, item_id)


def _due(store: Store, status: str, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Replies in ``status`` whose next attempt (or look) is due, oldest first."""
    with store.db() as db:
        return replies_on(
            db.conn,
            "r.status = ? AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= ?)",
            [status, iso(now), max(0, limit)],
            tail="ORDER BY r.id LIMIT ?",
        )


def due_replies(store: Store, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Approved replies whose time has come, oldest first."""
    return _due(store, "approved", now, limit)


def replies_in(store: Store, status: str) -> list[dict[str, Any]]:
    with store.db() as db:
        return replies_on(db.conn, "r.status = ?", [status], tail="ORDER BY r.id")


def claim_reply(store: Store, reply_id: int, *, now: datetime) -> dict[str, Any] | None:
    """approved -> sending, committed before the platform is called; None when another sender (thread or
    process) got there first or the row is no longer due. The conditional UPDATE is the lock."""
    with store.transaction() as db:
        conn = db.conn
        claimed = conn.execute(
            "UPDATE reply_outbox SET status = 'sending', send_started_at = ?, attempts = attempts + 1, "
            "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ? AND status = 'approved' "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            [iso(now), iso(now), reply_id, iso(now)],
        ).rowcount
        if not claimed:
            return None
        row = reply_on(conn, "r.id = ?", [reply_id])
        assert row is not None
        audit_log.append_audit_on(
            conn,
            now,
            audit.SYSTEM,
            audit.SYSTEM,
            "reply.send_attempt",
            row["item_key"],
            {"reply_id": reply_id, "attempt": row["attempts"], "verify_first": bool(row["verify_before_send"])},
        )
    return row


def _move_reply(
    store: Store,
    reply_id: int,
    *,
    expect: Sequence[str],
    sets: dict[str, Any],
    action: str,
    details: dict[str, Any],
    now: datetime,
    actor: tuple[str, str] = (audit.SYSTEM, audit.SYSTEM),
    mark_item_replied: bool = False,
) -> dict[str, Any] | None:
    """One status change: UPDATE only if the row is still in ``expect``, plus its audit entry; the new
    row, or None when it had moved meanwhile (nothing written)."""
    marks = ",".join("?" * len(expect))
    assignments = ", ".join(f"{column} = ?" for column in sets)
    with store.transaction() as db:
        conn = db.conn
        changed = conn.execute(
            f"UPDATE reply_outbox SET {assignments} WHERE id = ? AND status IN ({marks})",
            [*sets.values(), reply_id, *expect],
        ).rowcount
        if not changed:
            return None
        row = reply_on(conn, "r.id = ?", [reply_id])
        assert row is not None
        if mark_item_replied and row["origin"] == "manager":
            # Acks are not the answer: only a manager's reply stops the SLA clock.
            conn.execute(
                "UPDATE items SET first_reply_at = COALESCE(first_reply_at, ?), status = 'replied' WHERE id = ?",
                [row["sent_at"], row["item_id"]],
            )
        audit_log.append_audit_on(
            conn, now, actor[0], actor[1], action, row["item_key"], {"reply_id": reply_id, **details}
        )
    return row


def record_reply_sent(
    store: Store,
    reply_id: int,
    *,
    platform_reply_id: str,
    now: datetime,
    reconciled: bool = False,
    evidence: str | None = None,
    expect: Sequence[str] = ("sending",),
) -> dict[str, Any] | None:
    details: dict[str, Any] = {"platform_reply_id": platform_reply_id}
    if reconciled:
        details["reconciled"] = True
    if evidence:
        details["evidence"] = evidence  # how we know: "timeline", "conversation", "duplicate content"
    return _move_reply(
        store,
        reply_id,
        expect=expect,
        action="reply.sent",
        details=details,
        now=now,
        mark_item_replied=True,
        sets={
            "status": "sent",
            "platform_reply_id": platform_reply_id,
            "sent_at": iso(now),
            "last_error": None,
            "verify_before_send": VERIFY_NONE,
            "needs_check_reason": None,
        },
    )


def defer_reply(
    store: Store,
    reply_id: int,
    *,
    until: datetime,
    reason: str,
    error: str | None,
    verify: int,
    now: datetime,
    action: str = "reply.deferred",
    expect: Sequence[str] = ("sending",),
) -> dict[str, Any] | None:
    """sending -> approved, due again at ``until``; ``verify`` says whether the platform must be asked
    first (the attempt may have been posted)."""
    return _move_reply(
        store,
        reply_id,
        expect=expect,
        action=action,
        now=now,
        details={
            "reason": reason,
            "error": (error or "")[:500],
            "next_attempt_at": iso(until),
            "verify_first": bool(verify),
        },
        sets={
            "status": "approved",
            "next_attempt_at": iso(until),
            "last_error": error[:500] if error else None,
            "verify_before_send": verify,
        },
    )


def fail_reply(
    store: Store, reply_id: int, *, error: str, now: datetime, expect: Sequence[str] = ("sending",)
) -> dict[str, Any] | None:
    """sending -> failed: the platform refused it for good; the item may get a new reply."""
    return _move_reply(
        store,
        reply_id,
        expect=expect,
        action="reply.failed",
        now=now,
        details={"error": error[:500]},
        sets={"status": "failed", "last_error": error[:500]},
    )


def flag_reply(
    store: Store, reply_id: int, *, reason: str, now: datetime, expect: Sequence[str] = ("sending",)
) -> dict[str, Any] | None:
    """sending -> needs_check: nobody can tell whether it was posted; never resent automatically."""
    return _move_reply(
        store,
        reply_id,
        expect=expect,
        action="reply.needs_check",
        now=now,
        details={"reason": reason[:500]},
        sets={"status": "needs_check", "needs_check_reason": reason[:500], "last_error": reason[:500]},
    )


def reconcile_later(
    store: Store,
    reply_id: int,
    *,
    until: datetime,
    reason: str,
    now: datetime,
    expect: Sequence[str] = ("sending",),
    counted: bool = False,
) -> dict[str, Any] | None:
    """sending -> reconciling (or a look that found nothing sure, reconciling -> reconciling, ``counted``):
    the attempt may be live and the platform does not say yet. Nothing is sent while a row is here; the
    sender looks again at ``until``."""
    with store.db() as db:
        row = db.execute("SELECT reconcile_checks FROM reply_outbox WHERE id = ?", [reply_id]).fetchone()
    checks = (int(row[0]) if row else 0) + int(counted)
    return _move_reply(
        store,
        reply_id,
        expect=expect,
        action="reply.reconciling",
        now=now,
        details={"reason": reason[:500], "checks": checks, "next_check_at": iso(until)},
        sets={
            "status": "reconciling",
            "next_attempt_at": iso(until),
            "last_error": reason[:500],
            "verify_before_send": VERIFY_REQUIRED,
            "reconcile_checks": checks,
        },
    )


def due_reconciling(store: Store, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Replies being reconciled whose next look is due, oldest first."""
    return _due(store, "reconciling", now, limit)


def resolve_reply(
    store: Store,
    reply_id: int,
    *,
    outcome: str,
    actor_id: str,
    actor_name: str,
    platform_reply_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """A person settles a ``needs_check`` reply: ``sent`` (it is on the platform), ``resend`` (it is not:
    send it) or ``drop`` (it is not, and should not be). None when the row is not in needs_check."""
    now = now or utcnow()
    actor = (actor_id, actor_name)
    details: dict[str, Any] = {"outcome": outcome}
    if outcome == "sent":
        details["platform_reply_id"] = platform_reply_id
        return _move_reply(
            store,
            reply_id,
            expect=("needs_check",),
            action="reply.sent",
            details={**details, "checked": True},
            now=now,
            actor=actor,
            mark_item_replied=True,
            sets={
                "status": "sent",
                "platform_reply_id": platform_reply_id,
                "sent_at": iso(now),
                "verify_before_send": VERIFY_NONE,
            },
        )
    if outcome == "resend":
        return _move_reply(
            store,
            reply_id,
            expect=("needs_check",),
            action="reply.resolved",
            details=details,
            now=now,
            actor=actor,
            sets={"status": "approved", "next_attempt_at": iso(now), "verify_before_send": VERIFY_NONE},
        )
    if outcome == "drop":
        return _move_reply(
            store,
            reply_id,
            expect=("needs_check",),
            action="reply.resolved",
            details=details,
            now=now,
            actor=actor,
            sets={"status": "cancelled", "closed_by": actor_id, "closed_reason": "checked: not posted"},
        )
    raise ValueError(f"unknown outcome {outcome!r}: sent, resend or drop")


def posted_reply_ids(store: Store, platform: str, native_ids: Sequence[str]) -> set[str]:
    """Which of ``native_ids`` are replies we posted on ``platform``: read back from the platform, they are
    our own words (an echo), not a customer's, even when the platform does not say who wrote them."""
    if not native_ids:
        return set()
    found: set[str] = set()
    with store.db() as db:
        for start in range(0, len(native_ids), 500):  # under SQLite's bound-parameter limit
            chunk = list(native_ids[start : start + 500])
            rows = db.execute(
                "SELECT r.platform_reply_id FROM reply_outbox r JOIN items i ON i.id = r.item_id "
                f"WHERE i.platform = ? AND r.platform_reply_id IN ({','.join('?' * len(chunk))})",
                [platform, *chunk],
            ).fetchall()
            found.update(str(row[0]) for row in rows)
    return found


def latest_reply(store: Store, item_id: int) -> dict[str, Any] | None:
    """The reply that stands for a manager's answer to the item (the active one, else the last failed)."""
    with store.db() as db:
        row = db.execute(
            """SELECT * FROM reply_outbox WHERE item_id = ? AND COALESCE(origin, 'manager') = 'manager'
               ORDER BY CASE WHEN status IN ('failed', 'cancelled') THEN 1 ELSE 0 END, id DESC LIMIT 1""",
            [item_id],
        ).fetchone()
    return dict(row) if row else None


def manager_attempts(store: Store, item_id: int) -> int:
    """How many manager replies were ever queued for the item: the version a card's reply buttons carry."""
    with store.db() as db:
        row = db.execute("SELECT COUNT(*) FROM reply_outbox WHERE item_id = ? AND origin = 'manager'", [item_id])
        return int(row.fetchone()[0])
