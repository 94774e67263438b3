"""Fixed-window request budgets that really deplete, like X's 15-minute windows.

A window opens with the first request after the previous one closed, so a client that
waits until ``reset_at`` always finds a full budget again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Budget:
    limit: int
    window: float  # seconds
    used: int = 0
    reset_at: float = 0.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # unix time

    @property
    def reset_epoch(self) -> int:
        """The reset time as X sends it: whole seconds, rounded up so waiting until then is enough."""
        return math.ceil(self.reset_at)

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset_epoch),
        }


class RateLimiter:
    """Budgets keyed by endpoint name. Thread-safe."""

    def __init__(self, defaults: dict[str, tuple[int, float]], clock: Callable[[], float] = time.time) -> None:
        self._defaults = dict(defaults)
        self._clock = clock
        self._lock = threading.Lock()
        self._budgets: dict[str, Budget] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the default limits, all budgets full."""
        with self._lock:
            self._budgets = {key: Budget(limit, window) for key, (limit, window) in self._defaults.items()}

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._budgets)

    def configure(self, key: str, *, limit: int | None = None, window: float | None = None) -> None:
        """Change a budget; it starts full. Unknown keys raise KeyError."""
        with self._lock:
            budget = self._budgets[key]
            if limit is not None:
                if limit < 0:
                    raise ValueError("limit must be >= 0")
                budget.limit = int(limit)
            if window is not None:
                if window <= 0:
                    raise ValueError("window must be > 0 seconds")
                budget.window = float(window)
            budget.used = 0
            budget.reset_at = 0.0

    def _roll(self, budget: Budget, now: float) -> None:
        if now >= budget.reset_at:
            budget.used = 0
            budget.reset_at = now + budget.window

    def take(self, key: str) -> Decision:
        """Spend one request of ``key``'s budget, if any is left."""
        now = self._clock()
        with self._lock:
            budget = self._budgets[key]
            self._roll(budget, now)
            allowed = budget.used < budget.limit
            if allowed:
                budget.used += 1
            return Decision(allowed, budget.limit, max(budget.limit - budget.used, 0), budget.reset_at)

    def peek(self, key: str) -> Decision:
        now = self._clock()
        with self._lock:
            budget = self._budgets[key]
            if now >= budget.reset_at:
                return Decision(True, budget.limit, budget.limit, now + budget.window)
            return Decision(
                budget.used < budget.limit, budget.limit, max(budget.limit - budget.used, 0), budget.reset_at
            )

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """Every budget's state, for the control API."""
        now = self._clock()
        with self._lock:
            out: dict[str, dict[str, float | int]] = {}
            for key, budget in self._budgets.items():
                fresh = now >= budget.reset_at
                out[key] = {
                    "limit": budget.limit,
                    "window": budget.window,
                    "remaining": budget.limit if fresh else max(budget.limit - budget.used, 0),
                    "reset": 0 if fresh else math.ceil(budget.reset_at),
                }
            return out
