"""Replies as the audit chain records them: who approved what text, and what became of it.

The reply outbox is a working table (the sender updates it), so nothing stops an ``UPDATE reply_outbox``
from rewriting a text or an approver. The chain's ``reply.*`` entries say the same things and cannot be
rewritten unnoticed, so ``audit verify`` compares every outbox row with them and ``audit export`` shows
the chained version of a row that differs (marked in ``chain_check``): verify and export cannot disagree.
Pure: rows in, comparisons out (the SQL is in ``store/audit_log.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The status each reply action leaves the row in (as ``store.reply_outbox`` writes it).
STATUS_AFTER = {
    "reply.requested": "awaiting_second",
    "reply.approved": "approved",
    "reply.send_attempt": "sending",
    "reply.sent": "sent",
    "reply.deferred": "approved",
    "reply.reconciled": "approved",
    "reply.reconciling": "reconciling",
    "reply.failed": "failed",
    "reply.needs_check": "needs_check",
    "reply.cancelled": "cancelled",
}
#: What ``reply.resolved`` leaves, by its outcome (``sent`` is written as ``reply.sent``).
RESOLVED = {"resend": "approved", "drop": "cancelled"}

#: The replied-to post's export columns and the ``item.received`` detail each is checked against.
ITEM_CHECKED = {
    "post_text": "text",
    "author_handle": "author_handle",
    "author_name": "author_name",
    "category": "category",
    "priority": "priority",
    "sentiment": "label",
    "sla_due_at": "sla_due_at",
    "posted_at": "created_at",
}
#: Export columns checked against the chain, in the order a mismatch names them.
CHECKED = (
    "final_text",
    "suggested_text",
    "approver_id",
    "approver_name",
    "approved_at",
    "status",
    "platform_reply_id",
)
NOT_IN_LOG = "not in the audit log"


@dataclass
class ChainedReply:
    """One reply as its audit entries tell it."""

    reply_id: int
    item_key: str | None
    approver_id: str
    approver_name: str
    approved_seq: int
    approved_at: str | None = None  # the time of the last approval (the second one, under the two-person rule)
    final_text: str | None = None  # None once purged or erased
    suggested_text: str | None = None  # only known from a ``reply.edited`` entry
    edited: bool = False
    status: str = "approved"
    platform_reply_id: str | None = None


def chained_items(entries: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``item.received`` audit rows (``data`` hydrated) -> item key -> what was stored for the post."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        data = entry.get("data")
        if entry.get("item_key") and isinstance(data, dict):
            found.setdefault(str(entry["item_key"]), data)
    return found


def chained_replies(entries: Iterable[Mapping[str, Any]]) -> dict[int, ChainedReply]:
    """``reply.*`` audit rows (in seq order, ``data`` hydrated) -> reply id -> its chained record."""
    found: dict[int, ChainedReply] = {}
    for entry in entries:
        action, data = str(entry["action"]), entry.get("data") or {}
        reply_id = data.get("reply_id") if isinstance(data, dict) else None
        if not isinstance(reply_id, int):
            continue
        chained = found.get(reply_id)
        if chained is None:
            if action not in ("reply.requested", "reply.approved"):
                continue  # an entry about a reply whose approval is not in the log: the row check says so
            # The first approval names the approver (the second one is the outbox's second_approver).
            chained = found[reply_id] = ChainedReply(
                reply_id, entry.get("item_key"), str(entry["actor_id"]), str(entry["actor_name"]), int(entry["seq"])
            )
        if action in ("reply.requested", "reply.approved"):
            chained.approved_at = str(entry["ts"])
        if isinstance(data.get("final"), str):
            chained.final_text = data["final"]
        if action == "reply.edited":
            chained.edited = True
            chained.suggested_text = data.get("suggested") if isinstance(data.get("suggested"), str) else None
        if action == "reply.sent":
            chained.platform_reply_id = _text(data.get("platform_reply_id"))
        if action in STATUS_AFTER:
            chained.status = STATUS_AFTER[action]
        elif action == "reply.resolved" and data.get("outcome") in RESOLVED:
            chained.status = RESOLVED[str(data["outcome"])]
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def item_differences(record: Mapping[str, Any], received: Mapping[str, Any] | None) -> list[str]:
    """The replied-to post's columns where the items row differs from its ``item.received`` entry (none when
    the entry is not there to compare: a database older than the chain's texts). Blank values are skipped."""
    if received is None:
        return []
    out = []
    for column, key in ITEM_CHECKED.items():
        value, chained = record.get(column), received.get(key)
        if value in (None, "") or chained in (None, ""):
            continue
        if str(value) != str(chained):
            out.append(column)
    return out


def differences(record: Mapping[str, Any], chained: ChainedReply | None) -> list[str]:
    """The checked columns where the outbox row (as ``reply_records`` reads it) differs from the chain.

    A text the chain no longer holds (purged, erased) or the row no longer holds (blanked by the same
    purge) is not compared: what is gone cannot be forged.
    """
    if chained is None:
        return [NOT_IN_LOG]
    out: list[str] = []
    final = record.get("final_text") or None
    if final is not None and chained.final_text is not None and final != chained.final_text:
        out.append("final_text")
    suggested = record.get("suggested_text") or None
    if suggested is not None:
        expected = chained.suggested_text if chained.edited else (chained.final_text or final)
        if expected is not None and suggested != expected:
            out.append("suggested_text")
    if record.get("approver_id") != chained.approver_id:
        out.append("approver_id")
    if record.get("approver_name") != chained.approver_name:
        out.append("approver_name")
    if chained.approved_at is not None and record.get("approved_at") != chained.approved_at:
        out.append("approved_at")
    if record.get("status") != chained.status:
        out.append("status")
    if _text(record.get("platform_reply_id")) != chained.platform_reply_id:
        out.append("platform_reply_id")
    return out


def as_chained(
    record: Mapping[str, Any], chained: ChainedReply | None, received: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The record with the chain's values where they differ, and ``chain_check`` saying which were replaced."""
    fixed = dict(record)
    item_wrong = item_differences(record, received)
    for name in item_wrong:
        fixed[name] = received[ITEM_CHECKED[name]]  # type: ignore[index]
    wrong = differences(record, chained)
    if chained is not None:
        for name in wrong:
            fixed[name] = chained.suggested_text if name == "suggested_text" else getattr(chained, name)
        if "suggested_text" in wrong and not chained.edited:
            fixed["suggested_text"] = chained.final_text
    if wrong or item_wrong:
        fixed["chain_check"] = _mark(wrong + item_wrong, chained is not None)
    else:
        fixed["chain_check"] = ""
    return fixed


def _mark(wrong: list[str], in_log: bool) -> str:
    altered = [name for name in wrong if name != NOT_IN_LOG]
    shown = f"altered: {', '.join(altered)} (shown as the audit log records them)" if altered else ""
    if not in_log:
        return f"{NOT_IN_LOG}: no audit entry approved this reply outbox row" + (f"; {shown}" if shown else "")
    return shown


def problems(
    records: Iterable[Mapping[str, Any]],
    chained: Mapping[int, ChainedReply],
    received: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """One sentence per outbox row (or the post it answers) that differs from the chain, naming the row and
    the columns."""
    out: list[str] = []
    for record in records:
        reply_id = int(record["reply_id"])
        item_wrong = item_differences(record, (received or {}).get(str(record.get("item_key"))))
        if item_wrong:
            out.append(
                f"the post reply {reply_id} answers ({record.get('item_key')}) differs from its item.received "
                f"entry in {', '.join(item_wrong)}: the items row was altered"
            )
        wrong = differences(record, chained.get(reply_id))
        if not wrong:
            continue
        where = f"reply {reply_id} ({record.get('item_key')})"
        if wrong == [NOT_IN_LOG]:
            out.append(f"{where} is in the reply outbox but no audit entry approved it (inserted behind its back)")
        else:
            seq = chained[reply_id].approved_seq
            out.append(
                f"{where} differs from its audit entries (approved at entry {seq}) in {', '.join(wrong)}: "
                "the reply outbox row was altered"
            )
    return out
