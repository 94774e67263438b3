"""Builders shared by the compliance tests (test_audit, test_retention, test_review): a store with a realistic log.

The reply rows are written the way the reply outbox records them: the outbox row
and its audit entries in one transaction, then the platform's result with its own entry.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import builders

from socialwatch.config.schema import Config
from socialwatch.models import Item, Processed, iso
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import alert_outbox, audit_log, inbox
from socialwatch.store.db import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    "@acme you charged me twice this month and nobody answers, I want my money back",
    "@acme the app has been down all morning, nothing loads",
    "@acme my parcel never arrived, order 5512, where is it?",
]


def make_item(n: int, *, text: str | None = None, when: datetime = T0) -> Item:
    body = text or TEXTS[n % len(TEXTS)]
    return builders.item(
        body,
        native_id=str(5000 + n),
        author_id=f"u{n}",
        handle=f"cust{n}",
        name=f"Customer {n}",
        created=when + timedelta(minutes=n),
        url=f"https://x.com/cust{n}/status/{5000 + n}",
        raw={"id": str(5000 + n), "text": body, "author_id": f"u{n}"},
    )


def pipeline() -> Pipeline:
    return Pipeline(Config(), detect=lambda text: "en")


@dataclass(frozen=True)
class Reply:
    reply_id: int
    item_key: str
    suggested: str | None
    final: str
    approver: str


def ingest(store: Store, items: list[Item], now: datetime) -> list[int]:
    batch = [Processed(i, a, alert=True, source="x:acme:mentions") for i, a in pipeline().assess_batch(items, {})]
    return list(inbox.ingest(store, "x:acme:mentions", batch, None, now=now).new_item_ids)


def post_alerts(store: Store, now: datetime) -> None:
    for n, alert in enumerate(alert_outbox.due_alerts(store, now)):
        alert_outbox.mark_alert_posted(store, alert["outbox_id"], channel="C-ALERTS", ts=f"1700000000.{n:06d}", now=now)


def approve_and_send(
    store: Store,
    item_id: int,
    *,
    final: str,
    suggested: str | None,
    approver: tuple[str, str],
    approved_at: datetime,
    sent_at: datetime | None,
    platform_id: str = "",
) -> Reply:
    item = inbox.item(store, item_id)
    assert item is not None
    key = f"{item['platform']}:{item['native_id']}"
    with store.transaction() as db:
        conn = db.conn
        reply_id = conn.execute(
            "INSERT INTO reply_outbox (item_id, dedupe_key, text, suggested_text, suggestion_kind, approved_by, "
            "approved_by_name, approved_at, status) VALUES (?,?,?,?,?,?,?,?, 'approved') RETURNING id",
            [
                item_id,
                f"{key}:{approver[0]}",
                final,
                suggested,
                "apologise" if suggested else None,
                approver[0],
                approver[1],
                iso(approved_at),
            ],
        ).fetchone()[0]
        audit_log.append_audit_on(
            conn, approved_at, approver[0], approver[1], "reply.approved", key, {"reply_id": reply_id, "final": final}
        )
        if suggested is not None and suggested != final:
            audit_log.append_audit_on(
                conn,
                approved_at,
                approver[0],
                approver[1],
                "reply.edited",
                key,
                {"reply_id": reply_id, "suggested": suggested, "final": final},
            )
    if sent_at is not None:
        with store.transaction() as db:
            conn = db.conn
            conn.execute(
                "UPDATE reply_outbox SET status = 'sent', platform_reply_id = ?, sent_at = ? WHERE id = ?",
                [platform_id, iso(sent_at), reply_id],
            )
            conn.execute(
                "UPDATE items SET first_reply_at = COALESCE(first_reply_at, ?), status = 'replied' WHERE id = ?",
                [iso(sent_at), item_id],
            )
            audit_log.append_audit_on(
                conn,
                sent_at,
                "system",
                "system",
                "reply.sent",
                key,
                {"reply_id": reply_id, "platform_reply_id": platform_id},
            )
    return Reply(reply_id, key, suggested, final, approver[1])


def populated(path: Path, *, start: datetime = T0) -> tuple[Store, list[Reply]]:
    """Three items, their alerts, two replies (one edited) and a refused click: 12 audit entries."""
    store = Store(path)
    ids = ingest(store, [make_item(n, when=start) for n in range(3)], start + timedelta(minutes=5))  # seq 1-3
    post_alerts(store, start + timedelta(minutes=6))  # seq 4-6
    first = inbox.item(store, ids[0])
    suggestion = first["suggestions"] and __import__("json").loads(first["suggestions"])[0]["text"]
    replies = [
        # Sent as suggested: approved (7), sent (8).
        approve_and_send(
            store,
            ids[0],
            final=suggestion,
            suggested=suggestion,
            approver=("U01", "alice"),
            approved_at=start + timedelta(minutes=20),
            sent_at=start + timedelta(minutes=21),
            platform_id="9001",
        ),
        # Edited before sending: approved (9), edited (10), sent (11).
        approve_and_send(
            store,
            ids[1],
            final="So sorry about the outage, a fix is rolling out now.",
            suggested="We are looking into it.",
            approver=("U02", "bob"),
            approved_at=start + timedelta(minutes=40),
            sent_at=start + timedelta(minutes=41),
            platform_id="9002",
        ),
    ]
    audit_log.append_audit(
        store,
        "action.refused",
        actor_id="U99",
        actor_name="mallory",
        item_key=f"x:{5002}",
        details={"attempted": "send", "reason": "not an approver"},
        now=start + timedelta(minutes=50),
    )  # seq 12
    return store, replies


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, as someone with write access to the file would use (autocommit)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn
