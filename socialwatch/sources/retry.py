"""Bounded retries with exponential backoff for idempotent platform reads.

Only reads are retried here. Writes (replies) are never retried blindly: the reply
outbox reconciles with the platform first, because a retried POST can post twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from socialwatch.sources.base import PlatformError

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 3
BASE_DELAY = 0.5


def read_with_retries(
    call: Callable[[], T],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    base_delay: float = BASE_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on a retryable PlatformError wait 0.5 s, 1 s, ... (with jitter) and try again."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except PlatformError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = base_delay * 2 ** (attempt - 1) * (1 + random.random() / 2)
            log.info("%s failed (%s); retry %d/%d in %.1fs", what, exc, attempt, attempts - 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")
