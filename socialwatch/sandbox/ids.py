"""Identifiers that look like the platforms' own: X snowflakes, Graph ids, trace ids.

X ids encode their creation time, so ordering by id is ordering by time; clients rely on
that (``since_id``), and so the sandbox derives ids from the item's timestamp too.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading

#: X's snowflake epoch (2010-11-04T01:42:54.657Z) in milliseconds.
TWEPOCH_MS = 1288834974657
_WORKER = 7  # any value; keeps ids from looking like all-zero low bits


class Snowflakes:
    """Unique, time-ordered X-style ids. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: set[int] = set()
        self._last_now = 0

    def next(self, at: float, *, now: bool = True) -> str:
        """An id for an item created at unix time ``at``.

        Items created "now" get ids strictly greater than every earlier "now" id, as on X;
        back-dated items (seeded history) get ids that sort by their own timestamp.
        """
        base = ((int(at * 1000) - TWEPOCH_MS) << 22) | (_WORKER << 12)
        with self._lock:
            candidate = max(base, self._last_now + 1) if now else base
            while candidate in self._used:
                candidate += 1
            self._used.add(candidate)
            if now:
                self._last_now = candidate
            return str(candidate)

    def reset(self) -> None:
        with self._lock:
            self._used.clear()
            self._last_now = 0


def snowflake_time(snowflake: str) -> float:
    """The unix time encoded in an X id."""
    return ((int(snowflake) >> 22) + TWEPOCH_MS) / 1000.0


class Counter:
    """Increasing integers from ``start`` (thread-safe), for Graph object ids."""

    def __init__(self, start: int) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._iter = itertools.count(start)

    def next(self) -> int:
        with self._lock:
            return next(self._iter)

    def reset(self) -> None:
        with self._lock:
            self._iter = itertools.count(self._start)


_TRACE_ALPHABET = string.ascii_letters + string.digits + "_-"


def fbtrace_id() -> str:
    """An 11-character trace id like Graph's ``fbtrace_id``."""
    return "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(11))


def transaction_id() -> str:
    """A hex id like X's ``x-transaction-id`` header."""
    return secrets.token_hex(8)
