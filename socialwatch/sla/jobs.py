"""The one scheduled response-time job: timers, acknowledgements and follow-ups, each isolated from the
others' failures."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from socialwatch.alerts.outbox import Poster
from socialwatch.config.schema import Config
from socialwatch.sla.customer import acknowledge_pending, check_followups
from socialwatch.sla.timers import check_timers
from socialwatch.store.db import Store

log = logging.getLogger(__name__)


def tick(store: Store, config: Config, poster: Poster | None, now: datetime) -> dict[str, int]:
    """Everything time-driven here, each part isolated from the others' failures: what the daemon
    schedules every 30 s. Without a poster (no Slack) only acknowledgements run."""
    counts = {"timers": 0, "acks": 0, "followups": 0}
    jobs: list[tuple[str, Any]] = [("acks", lambda: acknowledge_pending(store, config, now))]
    if poster is not None:
        jobs[:0] = [
            ("timers", lambda: check_timers(store, config, poster, now)),
            ("followups", lambda: check_followups(store, config, poster, now)),
        ]
    for name, job in jobs:
        try:
            counts[name] = len(job())
        except Exception:  # one part's bug must not stop the others
            log.exception("response-time job %s failed; will retry", name)
    return counts
