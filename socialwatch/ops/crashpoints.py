"""Crash injection for the fault tests: kill or stall the process at a named point.

Off unless ``SOCIALWATCH_CRASHPOINT`` is set, e.g. ``ingest.page_committed.mentions:2:kill`` (SIGKILL
on the second time that point is reached) or ``ingest.page_committed.mentions:1:stall`` (announce
on stderr, then sleep, so a test can deliver SIGTERM while work is provably in flight).
Tests use it to prove that a crash at the worst moment loses and duplicates nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

ENV = "SOCIALWATCH_CRASHPOINT"
STALL_SECONDS = 3.0

_counts: dict[str, int] = {}
_lock = threading.Lock()


def hit(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, rest = spec.partition(":")
    if point != name:
        return
    nth_text, _, action = rest.partition(":")
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        reached = _counts[name] == int(nth_text or 1)
    if not reached:
        return
    print(f"crashpoint {name} reached ({action or 'kill'})", file=sys.stderr, flush=True)
    if action == "stall":
        time.sleep(STALL_SECONDS)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
