"""Managers' corrections: what a person said an item's assessment should have been (its sentiment label,
whether it needs a reply, its triage category), kept as labels for training and audited.

A correction is a row of ``corrections`` (never updated: the latest per item and field is what counts,
the earlier ones are the history) written in one transaction with its audit entry. "Needs a reply"
also puts the item on the work queue (``needs_reply = 1``, a due time, at least normal priority); the
label and the category stay as triage gave them on the item, so the model can be judged against what
the managers said. ``training_examples`` is what a retrain reads; erased customers never come back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log, customers
from socialwatch.store.db import Store

FIELDS = ("label", "needs_reply", "category")
#: The label values a manager can give, and the training label each stands for. "Not negative" says it is
#: no complaint, not that it is praise: neutral is the honest reading.
LABEL_VALUES = {"negative": "negative", "not_negative": "neutral"}
NEEDS_REPLY_VALUES = {"true": True, "false": False}
#: The audit action of each correction (``feedback.not_negative`` is the name the button always had).
_ACTIONS = {
    ("label", "negative"): "feedback.complaint",
    ("label", "not_negative"): "feedback.not_negative",
    ("needs_reply", "true"): "feedback.needs_reply",
    ("needs_reply", "false"): "feedback.no_reply",
}
CATEGORY_ACTION = "feedback.category"
#: Priorities below this are raised to it when a manager says an item needs a reply: "none" and "low"
#: carry no response target a manager would expect.
NEEDS_REPLY_PRIORITY = "normal"


def raised_priority(priority: str | None) -> str:
    """The priority of an item a manager says needs a reply: at least normal."""
    return NEEDS_REPLY_PRIORITY if priority in (None, "", "none", "low") else str(priority)


@dataclass(frozen=True)
class Correction:
    """One correction as stored."""

    id: int
    item_id: int
    field: str
    old: str | None
    new: str
    corrected_by: str
    corrected_by_name: str
    corrected_at: str


@dataclass(frozen=True)
class Outcome:
    """``recorded`` (``correction`` is the new row), ``unchanged`` (the item already reads so: nothing
    written; ``correction`` is the latest that says so, if a person said it) or ``missing`` (no such item)."""

    status: Literal["recorded", "unchanged", "missing"]
    correction: Correction | None = None


def check_value(field: str, new: str) -> None:
    """ValueError naming the field and the values it takes, for a correction the store cannot hold."""
    if field == "label" and new not in LABEL_VALUES:
        raise ValueError(f"label correction {new!r}: use one of {sorted(LABEL_VALUES)}")
    if field == "needs_reply" and new not in NEEDS_REPLY_VALUES:
        raise ValueError(f"needs_reply correction {new!r}: use one of {sorted(NEEDS_REPLY_VALUES)}")
    if field == "category" and not new:
        raise ValueError("category correction: the category is empty")
    if field not in FIELDS:
        raise ValueError(f"cannot correct {field!r}: only {', '.join(FIELDS)}")


def correct(
    store: Store,
    item_id: int,
    field: str,
    new: str,
    *,
    actor_id: str,
    actor_name: str,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Record that ``field`` of the item should be ``new``, with its audit entry, in one transaction.

    ``due_at`` is the reply's due time when "needs a reply" puts the item on the queue (the caller knows
    the SLA policy; the store does not). A second identical correction writes nothing (a double click)."""
    check_value(field, new)
    now = now or utcnow()
    with store.transaction() as db:
        return correct_on(
            db.conn, item_id, field, new, actor_id=actor_id, actor_name=actor_name, due_at=due_at, now=now
        )


def correct_on(
    conn: sqlite3.Connection,
    item_id: int,
    field: str,
    new: str,
    *,
    actor_id: str,
    actor_name: str,
    now: datetime,
    due_at: datetime | None = None,
) -> Outcome:
    """``correct`` inside the caller's transaction (a dismissal that says "needs no reply" is also a label)."""
    check_value(field, new)
    row = conn.execute(
        "SELECT platform || ':' || native_id AS key, label, compound, category, needs_reply, priority, status, "
        "first_reply_at FROM items WHERE id = ?",
        [item_id],
    ).fetchone()
    if row is None:
        return Outcome("missing")
    latest = latest_on(conn, item_id).get(field)
    old = latest.new if latest is not None else _assessed(row, field)
    if old == new:
        return Outcome("unchanged", latest)
    at = iso(now)
    correction_id = int(
        conn.execute(
            "INSERT INTO corrections (item_id, field, old, new, corrected_by, corrected_by_name, corrected_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [item_id, field, old, new, actor_id, actor_name, at],
        ).fetchone()[0]
    )
    details: dict[str, Any] = {
        "correction": correction_id,
        "field": field,
        "old": old,
        "new": new,
        "label": row["label"],  # what triage said, beside what the manager says
        "compound": row["compound"],
    }
    if field == "label":
        # Kept on the item as before this table existed: the review UI and older readers look there.
        conn.execute("UPDATE items SET feedback = ?, feedback_by = ? WHERE id = ?", [new, actor_id, item_id])
    if field == "needs_reply" and new == "true" and _waiting(row):
        priority = raised_priority(row["priority"])
        conn.execute(
            "UPDATE items SET needs_reply = 1, priority = ?, sla_due_at = COALESCE(?, sla_due_at), "
            "status = CASE WHEN status = 'no_action' THEN 'open' ELSE status END WHERE id = ?",
            [priority, iso(due_at) if due_at else None, item_id],
        )
        details.update(priority=priority, sla_due_at=iso(due_at) if due_at else None, queued=True)
    action = _ACTIONS.get((field, new), CATEGORY_ACTION)
    audit_log.append_audit_on(conn, now, actor_id, actor_name, action, str(row["key"]), details)
    return Outcome("recorded", Correction(correction_id, item_id, field, old, new, actor_id, actor_name, at))


def _waiting(row: sqlite3.Row) -> bool:
    """Whether the item can still be put on the queue: not dismissed, not answered."""
    return row["status"] in ("open", "alerted", "no_action") and row["first_reply_at"] is None


def _assessed(row: sqlite3.Row, field: str) -> str | None:
    """The value triage gave, in the corrections' spelling."""
    if field == "needs_reply":
        return "true" if row["needs_reply"] else "false"
    if field == "label":
        # "unscored" (and no label) stays as it is: any label a person gives such an item is news.
        label = row["label"]
        return "not_negative" if label in ("neutral", "positive") else label
    return None if row["category"] is None else str(row["category"])


def latest(store: Store, item_id: int) -> dict[str, Correction]:
    """The latest correction of each corrected field of the item."""
    with store.db() as db:
        return latest_on(db.conn, item_id)


def latest_on(conn: sqlite3.Connection, item_id: int) -> dict[str, Correction]:
    rows = conn.execute(
        "SELECT * FROM corrections WHERE id IN (SELECT MAX(id) FROM corrections WHERE item_id = ? GROUP BY field)",
        [item_id],
    ).fetchall()
    return {str(r["field"]): _correction(r) for r in rows}


def _correction(row: sqlite3.Row) -> Correction:
    return Correction(
        int(row["id"]),
        int(row["item_id"]),
        str(row["field"]),
        row["old"],
        str(row["new"]),
        str(row["corrected_by"]),
        str(row["corrected_by_name"]),
        str(row["corrected_at"]),
    )


def training_examples(store: Store) -> list[dict[str, Any]]:
    """Per corrected item, the latest correction of each field, as a labelled example: ``text``, ``lang``,
    ``label`` (negative/neutral/positive or None), ``needs_reply`` (bool or None), ``category`` (or None),
    ``item_id``, ``item_key``, ``corrected_by`` (Slack id), ``corrected_by_name`` and ``corrected_at`` (of
    the latest of its corrections). Items whose texts are gone (a forgotten customer, a retention purge)
    are left out: their texts must not come back through a model."""
    with store.db() as db:
        rows = db.execute(
            f"""SELECT c.*, i.text, i.lang, i.platform || ':' || i.native_id AS item_key FROM corrections c
                JOIN items i ON i.id = c.item_id
                WHERE c.id IN (SELECT MAX(id) FROM corrections GROUP BY item_id, field)
                  AND i.purged_at IS NULL AND i.text <> ''
                  AND i.author_key NOT LIKE '{customers.FORGOTTEN}:%'
                ORDER BY c.item_id, c.id"""
        ).fetchall()
    examples: dict[int, dict[str, Any]] = {}
    for r in rows:
        example = examples.setdefault(
            int(r["item_id"]),
            {
                "text": r["text"],
                "lang": r["lang"],
                "label": None,
                "needs_reply": None,
                "category": None,
                "item_id": int(r["item_id"]),
                "item_key": r["item_key"],
            },
        )
        field, new = str(r["field"]), str(r["new"])
        if field == "label":
            example["label"] = LABEL_VALUES.get(new)
        elif field == "needs_reply":
            example["needs_reply"] = NEEDS_REPLY_VALUES.get(new)
        else:
            example["category"] = new
        # Rows come in id order: the last one seen is the latest correction of the item.
        example.update(
            corrected_by=r["corrected_by"], corrected_by_name=r["corrected_by_name"], corrected_at=r["corrected_at"]
        )
    return list(examples.values())


def history(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """Every correction, newest first, with its item's key (for ``socialwatch corrections list --all``)."""
    with store.db() as db:
        rows = db.execute(
            "SELECT c.*, i.platform || ':' || i.native_id AS item_key FROM corrections c "
            "JOIN items i ON i.id = c.item_id ORDER BY c.id DESC LIMIT ?",
            [-1 if limit is None else limit],
        ).fetchall()
    return [dict(r) for r in rows]
