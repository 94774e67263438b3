"""The learned model's side of the store: managers' label corrections read back, and model installs audited.

Corrections live on the item rows (``items.feedback``, set by the alert's buttons); a model install is an
audit entry ``model.installed`` with the file's sha256, where it went and its figures, so the chain says
which model triaged which day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from socialwatch.store import audit_log
from socialwatch.store.db import Store

#: What a correction says the label should have been.
FEEDBACK_LABELS = {"not_negative": "neutral"}


def feedback_rows(store: Store) -> list[dict[str, Any]]:
    """Items a manager corrected, with the text (still there: retention blanks texts it purges), the
    language and the corrected label."""
    with store.db() as db:
        rows = db.execute(
            "SELECT text, lang, feedback, platform || ':' || native_id FROM items "
            "WHERE feedback IS NOT NULL AND text != '' ORDER BY id"
        ).fetchall()
    return [
        {"text": text, "lang": lang or "", "label": FEEDBACK_LABELS[feedback], "feedback": feedback, "item_key": key}
        for text, lang, feedback, key in rows
        if feedback in FEEDBACK_LABELS
    ]


def record_install(
    store: Store,
    *,
    sha256: str,
    path: str,
    figures: dict[str, Any],
    forced: bool,
    actor_id: str,
    actor_name: str,
    now: datetime | None = None,
) -> int:
    return audit_log.append_audit(
        store,
        "model.installed",
        actor_id=actor_id,
        actor_name=actor_name,
        details={"sha256": sha256, "path": path, "forced": forced, "figures": figures},
        now=now,
    )
