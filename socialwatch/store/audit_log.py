"""The audit log's table: appending to the hash chain, reading it back, verifying it, exporting replies.

Appends happen inside the caller's IMMEDIATE transaction, which serialises writers, so the chain
cannot fork; the hashing itself is ``socialwatch.audit`` (pure).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from socialwatch import audit
from socialwatch.compliance import reply_chain
from socialwatch.models import iso, utcnow
from socialwatch.store.db import Store, connect, table_exists


def append_audit(
    store: Store,
    action: str,
    *,
    actor_id: str = audit.SYSTEM,
    actor_name: str = audit.SYSTEM,
    item_key: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> int:
    with store.transaction() as db:
        return append_audit_on(db.conn, now or utcnow(), actor_id, actor_name, action, item_key, details)


def append_audit_on(
    conn: sqlite3.Connection,
    now: datetime,
    actor_id: str,
    actor_name: str,
    action: str,
    item_key: str | None,
    details: dict[str, Any] | None,
) -> int:
    return append_audit_many_on(conn, now, [(actor_id, actor_name, action, item_key, details)])


def append_audit_many_on(
    conn: sqlite3.Connection, now: datetime, entries: Sequence[tuple[str, str, str, str | None, dict[str, Any] | None]]
) -> int:
    """Append ``(actor_id, actor_name, action, item_key, details)`` entries inside the caller's IMMEDIATE
    transaction, which serialises writers, so the chain cannot fork; returns the last seq.

    Personal text in ``details`` (``audit.CONTENT_FIELDS``) goes to ``audit_content``, the entry keeps
    its salted hash, so retention can purge it without breaking the chain. The next seq comes from
    ``audit_head``, not from the last row: a tail cut off behind our back then stays a visible gap.
    """
    # The head follows each INSERT, so a page's entries go in with one executemany (one INSERT and one
    # head UPDATE each cost ingest ~40 % of its time). A TEMP trigger lives only in this connection:
    # an INSERT made behind socialwatch's back still leaves the head behind, for verify to see.
    # ``audit_extends_head`` still refuses an entry that does not extend the head, and the UPDATE
    # still has to pass ``audit_head_forward_only``.
    conn.execute("""CREATE TEMP TRIGGER IF NOT EXISTS socialwatch_audit_advances_head AFTER INSERT ON main.audit
                    BEGIN UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash, ts = NEW.ts WHERE id = 1;
                    END""")
    head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    seq, prev = int(head[0]), head[1]
    if not entries:
        return seq
    ts = iso(now)
    nonces = audit.Nonces()
    rows: list[tuple[Any, ...]] = []
    content: list[tuple[int, str, str, str]] = []
    for actor_id, actor_name, action, item_key, details in entries:
        seq += 1
        hashed, pieces = audit.split_content(details, nonces)
        details_json = audit.canonical(hashed)
        digest = audit.entry_hash(prev, seq, ts, actor_id, actor_name, action, item_key, details_json)
        rows.append((seq, ts, actor_id, actor_name, action, item_key, details_json, prev, digest))
        content.extend((seq, piece.field, piece.nonce, piece.text) for piece in pieces)
        prev = digest
    conn.executemany(
        "INSERT INTO audit (seq, ts, actor_id, actor_name, action, item_key, details, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.executemany("INSERT INTO audit_content (seq, field, nonce, text) VALUES (?, ?, ?, ?)", content)
    return seq


def audit_rows(store: Store, item_key: str | None = None) -> Iterator[dict[str, Any]]:
    """Streams the log in sequence order (constant memory, for verify and export).

    Each row is the stored entry (``details`` is the hashed JSON, texts as commitments) plus
    ``data``: the details as written, texts filled in (None once purged), and ``content``.
    """
    yield from _audit_iter(store, item_key=item_key)


def _audit_iter(
    store: Store,
    *,
    item_key: str | None = None,
    since: str | None = None,
    until: str | None = None,
    readonly: bool = False,
) -> Iterator[dict[str, Any]]:
    conn = connect(store.path, readonly=readonly)
    try:
        yield from audit_rows_on(conn, item_key=item_key, since=since, until=until)
    finally:
        conn.close()


def audit_rows_on(
    conn: sqlite3.Connection,
    *,
    item_key: str | None = None,
    since: str | None = None,
    until: str | None = None,
    action_prefix: str | None = None,
    item_keys: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    has_content = table_exists(conn, "audit_content")
    content_sql = (
        "(SELECT json_group_object(c.field, json_array(c.nonce, c.text)) FROM audit_content c WHERE c.seq = a.seq)"
        if has_content
        else "'{}'"
    )
    where, params = [], []
    for clause, value in (
        ("a.item_key = ?", item_key),
        ("a.ts >= ?", since),
        ("a.ts < ?", until),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if action_prefix is not None:  # a range, so idx_audit_action serves it
        where.append("a.action >= ? AND a.action < ?")
        params.extend([action_prefix, action_prefix[:-1] + chr(ord(action_prefix[-1]) + 1)])
    if item_keys is not None:  # a chunk's keys (idx_audit_item); fewer than SQLite's bound-parameter limit
        where.append(f"a.item_key IN ({','.join('?' * len(item_keys))})")
        params.extend(item_keys)
    sql = (
        f"SELECT a.*, {content_sql} AS content_json FROM audit a"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY a.seq"
    )
    for row in conn.execute(sql, params):
        entry = dict(row)
        content = {name: tuple(pair) for name, pair in json.loads(entry.pop("content_json") or "{}").items()}
        entry["content"] = content
        entry["data"] = audit.hydrate(entry["details"], {name: pair[1] for name, pair in content.items()})
        yield entry


def audit_head_on(conn: sqlite3.Connection) -> audit.Head | None:
    if not table_exists(conn, "audit_head"):
        return None
    row = conn.execute("SELECT seq, hash, ts FROM audit_head WHERE id = 1").fetchone()
    return audit.Head(int(row[0]), row[1], row[2]) if row else None


def audit_head(store: Store) -> audit.Head | None:
    """The stored head (last seq and hash); None for a database without one (not migrated)."""
    conn = connect(store.path, readonly=True)
    try:
        return audit_head_on(conn)
    finally:
        conn.close()


def verify_audit(store: Store, anchors: Sequence[audit.Head] = ()) -> audit.VerifyResult:
    """Check the whole log (see ``audit.verify_log``) in one read snapshot, on a read-only connection:
    the daemon may go on appending meanwhile, and verify must work on a forensic copy."""
    conn = connect(store.path, readonly=True)
    try:
        conn.execute("BEGIN")  # one snapshot: head, purge marks and rows agree with each other
        head = audit_head_on(conn)
        purges = [
            (int(r[0]), str(r[1]))
            for r in conn.execute(
                "SELECT seq, json_extract(details, '$.cutoff') FROM audit WHERE action = 'retention.purged' "
                "AND json_valid(details) AND json_extract(details, '$.texts') = 1 "
                "AND json_extract(details, '$.cutoff') IS NOT NULL"
            )
        ]
        # Erasures on request (`customers forget`) name the entries whose texts they erased.
        erasures = [
            (int(r[0]), json.loads(r[1]))
            for r in conn.execute(
                "SELECT seq, json_extract(details, '$.erased_entries') FROM audit WHERE action = ? "
                "AND json_valid(details) AND json_type(details, '$.erased_entries') = 'array'",
                [audit.ERASURE_ACTION],
            )
        ]
        result = audit.verify_log(audit_rows_on(conn), head=head, purges=purges, anchors=anchors, erasures=erasures)
        if result.ok:
            # The chain holds; the reply outbox (what the export reads) must say what the chain says.
            tampered = [
                problem
                for chunk, chained, received in _against_chain_on(conn, _outbox_rows_on(conn))
                for problem in reply_chain.problems(chunk, chained, received)
            ]
            if tampered:
                more = f" (and {len(tampered) - 3} more)" if len(tampered) > 3 else ""
                result = audit.VerifyResult(
                    False,
                    result.checked,
                    None,
                    "; ".join(tampered[:3]) + more,
                    result.head,
                    result.warnings,
                )
        conn.execute("COMMIT")
        return result
    finally:
        conn.close()


def audit_events(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, Any]]:
    yield from _audit_iter(store, since=iso(since), until=iso(until), readonly=True)


#: Replies checked against the chain per chunk: memory stays bounded, each chunk is one indexed read.
CHAIN_CHUNK = 500


def _against_chain_on(
    conn: sqlite3.Connection, records: Iterator[dict[str, Any]]
) -> Iterator[tuple[list[dict[str, Any]], dict[int, reply_chain.ChainedReply], dict[str, dict[str, Any]]]]:
    """(records, their replies as the chain records them, their posts' ``item.received``), chunk by chunk:
    the entries are read by item key, so a reply's ``reply.*`` entries and its post's come in one read."""
    while True:
        chunk = list(itertools.islice(records, CHAIN_CHUNK))
        if not chunk:
            return
        keys = sorted({str(r["item_key"]) for r in chunk if r.get("item_key")})
        entries = list(audit_rows_on(conn, item_keys=keys)) if keys else []
        chained = reply_chain.chained_replies(e for e in entries if str(e["action"]).startswith("reply."))
        received = reply_chain.chained_items(e for e in entries if e["action"] == "item.received")
        yield chunk, chained, received


def chained_reply_records(store: Store) -> Iterator[dict[str, Any]]:
    """Every reply record (``reply_records``), as the audit chain records it: columns that differ from the
    chain replaced by the chained values, ``chain_check`` saying which (see ``compliance.reply_chain``)."""
    conn = connect(store.path, readonly=True)
    try:
        conn.execute("BEGIN")  # one snapshot for the rows and the entries they are checked against
        for chunk, chained, received in _against_chain_on(conn, _reply_records_on(conn)):
            for record in chunk:
                yield reply_chain.as_chained(
                    record, chained.get(int(record["reply_id"])), received.get(str(record["item_key"]))
                )
        conn.execute("COMMIT")
    finally:
        conn.close()


def reply_records(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """One row per approved reply with its item and timeline, approved in [since, until)."""
    conn = connect(store.path, readonly=True)
    try:
        yield from _reply_records_on(conn, since, until)
    finally:
        conn.close()


def _outbox_rows_on(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """The reply outbox's checked columns (named as the export names them), on any schema with the table."""
    if not table_exists(conn, "reply_outbox"):
        return
    for row in conn.execute(
        """SELECT r.id AS reply_id, i.platform || ':' || i.native_id AS item_key, r.text AS final_text,
                  i.text AS post_text, i.author_handle, i.author_name, i.category, i.priority, i.label AS sentiment,
                  i.sla_due_at, i.created_at AS posted_at,
                  r.suggested_text, r.approved_by AS approver_id, r.approved_by_name AS approver_name, r.approved_at,
                  r.status, r.platform_reply_id
           FROM reply_outbox r LEFT JOIN items i ON i.id = r.item_id ORDER BY r.id"""
    ):
        yield dict(row)


def _reply_records_on(
    conn: sqlite3.Connection, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, Any]]:
    where, params = [], []
    if since is not None:
        where.append("r.approved_at >= ?")
        params.append(iso(since))
    if until is not None:
        where.append("r.approved_at < ?")
        params.append(iso(until))
    sql = f"""
        SELECT r.id AS reply_id, i.platform || ':' || i.native_id AS item_key, i.platform, i.kind,
               i.account, i.public, i.author_handle, i.author_name, i.url AS post_url, i.text AS post_text,
               i.category, i.priority, i.label AS sentiment, r.suggestion_kind, r.suggested_text,
               r.text AS final_text, r.approved_by AS approver_id, r.approved_by_name AS approver_name,
               r.status, r.platform_reply_id, i.created_at AS posted_at, i.received_at, i.alerted_at,
               r.approved_at, r.sent_at AS replied_at, i.sla_due_at, r.last_error AS error,
               i.purged_at,
               (SELECT MIN(a.seq) FROM audit a WHERE a.item_key = i.platform || ':' || i.native_id
                   AND a.action = 'reply.sent') AS sent_audit_seq
        FROM reply_outbox r JOIN items i ON i.id = r.item_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY r.approved_at, r.id"""
    for row in conn.execute(sql, params):
        yield dict(row)
