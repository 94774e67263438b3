"""Steady time for the daemon: a wall clock that is stepped (by hand, a bad NTP server, a VM resume) is
noticed, logged and followed gradually, never obeyed in one jump.

The daemon's clock (``SteadyClock``) advances with ``time.monotonic`` and follows the wall clock exactly
while the two agree (within ``tolerance``). When the wall clock jumps, the steady clock keeps going at its
own pace, records the jump and slews towards the new wall time at ``slew`` (10 %): an hour back or two hours
forward changes how fast the daemon's time runs by a tenth, so every job keeps running and no SLA breaches
in a burst. APScheduler 3 reads ``datetime.now()`` itself and has no clock hook, so ``run_apscheduler_on``
points its time at the same steady clock; its waits are ``threading.Event.wait`` (monotonic) already.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

log = logging.getLogger(__name__)

TOLERANCE = 5.0  # seconds: NTP slews and small steps (< 5 s) are followed at once
SLEW = 0.10  # after a jump, the steady clock runs at most 10 % faster or slower until it meets the wall clock


@dataclass(frozen=True)
class Jump:
    """The wall clock stepped by ``seconds`` (positive: forward) when the steady clock read ``at``."""

    at: datetime
    seconds: float


class SteadyClock:
    """A ``Callable[[], datetime]`` (aware UTC) that never jumps; ``wall`` and ``mono`` are injectable."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        *,
        tolerance: float = TOLERANCE,
        slew: float = SLEW,
    ) -> None:
        self._wall, self._mono = wall, mono
        self._tolerance, self._slew = tolerance, slew
        self._lock = threading.Lock()
        self._steady = wall()
        self._last_mono = mono()
        self._gap = 0.0  # wall - steady after the last reading
        self._jumps: list[Jump] = []

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def timestamp(self) -> float:
        with self._lock:
            mono, wall = self._mono(), self._wall()
            elapsed = max(0.0, mono - self._last_mono)
            self._last_mono = mono
            ideal = self._steady + elapsed  # where steady time is if nothing jumped
            gap = wall - ideal
            if abs(gap - self._gap) > self._tolerance:  # the gap moved by more than any slew: a jump
                jump = gap - self._gap
                self._jumps.append(Jump(datetime.fromtimestamp(ideal, UTC), jump))
                log.warning(
                    "the wall clock jumped %+.0f s; keeping steady time and following it at %g %% "
                    "(about %.0f minutes to catch up)",
                    jump,
                    self._slew * 100,
                    abs(gap) / self._slew / 60,
                )
            if abs(gap) <= self._tolerance:
                steady = max(wall, self._steady)  # agree with the wall clock, but never run backwards
            else:
                steady = ideal + math.copysign(min(abs(gap), self._slew * elapsed), gap)
            self._steady = steady
            self._gap = wall - steady
            return steady

    def jumps(self) -> list[Jump]:
        """The jumps seen since the last call (the daemon audits them), oldest first."""
        with self._lock:
            seen, self._jumps = self._jumps, []
        return seen

    @property
    def offset(self) -> float:
        """Wall clock minus steady time, in seconds, at the last reading (0 when they agree)."""
        with self._lock:
            return self._gap


#: The process's steady clock: the daemon's time and APScheduler's (one scale, so wake-ups line up).
STEADY = SteadyClock()


def run_apscheduler_on(clock: Callable[[], datetime]) -> None:
    """Make APScheduler 3 (every scheduler in the process) read ``clock`` instead of the wall clock.

    Its scheduler loop, interval triggers and misfire checks call ``datetime.now(tz)`` on the ``datetime`` name
    of their modules; that name is replaced by a subclass whose ``now`` reads ``clock``. Nothing else
    changes (``isinstance`` and constructors behave as before for the values APScheduler handles here).
    """
    from apscheduler.executors import base as executors
    from apscheduler.schedulers import base as schedulers
    from apscheduler.triggers import interval

    class SteadyDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            current = clock()
            return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)

    for module in (schedulers, executors, interval):
        module.datetime = SteadyDatetime
