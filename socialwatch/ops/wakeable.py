"""Scheduled jobs that can be woken early (a click queued a reply, a poll stored an alert), quietly.

apscheduler refuses a second instance of a running job with an alarming "maximum number of running
instances reached" warning, and waking a job by moving its next run time asked for one per click.
``Wakeable`` wraps the job: a wake while it waits to start does nothing, a wake (or a tick) while it
runs makes it run once more when it ends. The work is always picked up, nothing is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Wakeable:
    """A job function for apscheduler with ``wake()``; register it with ``max_instances=2`` so a tick that
    lands during a run returns at once (and makes the running one go again) instead of being refused."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._state = "idle"  # idle | woken (asked to start now) | running
        self._again = False

    def __call__(self) -> None:
        with self._lock:
            if self._state == "running":  # a tick while running (the job may have 2 instances): run again after
                self._again = True
                return
            self._state = "running"
        while True:
            try:
                self._run()
            finally:
                with self._lock:
                    again, self._again = self._again, False
                    if not again:
                        self._state = "idle"
            if not again:
                return

    def wake(self) -> bool:
        """True when the caller should ask the scheduler to run the job now (it is idle)."""
        with self._lock:
            if self._state == "running":
                self._again = True
                return False
            if self._state == "woken":
                return False
            self._state = "woken"
            return True
