"""The learned model's side of the store: model installs audited.

A model install is an audit entry ``model.installed`` with the file's sha256, where it went and its
figures, so the chain says which model triaged which day. (The managers' corrections a retrain reads are
``store.corrections.training_examples``.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from socialwatch.store import audit_log
from socialwatch.store.db import Store


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
