"""Clicks the database could not take: a Send (or any click) acknowledged to Slack while the database was
locked or the disk full is retried with backoff, and the person who clicked is told at once, when it goes
through, and when it is given up; a click given up is audited (``action.lost``) as soon as the database
takes writes again. Slack never re-sends an acknowledged envelope, so nobody else would remember it.

A retry runs the whole click again (who, which alert, which card version, which reply), so it is as safe
as a second click: the reply outbox answers ``duplicate`` or ``stale`` when the item moved on meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from socialwatch.models import iso, utcnow
from socialwatch.store import audit_log
from socialwatch.store.db import Store, StoreUnavailable

log = logging.getLogger(__name__)

#: Seconds between tries: about two minutes in all, longer than a backup or a VACUUM holds the lock.
RETRY_DELAYS: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0)

Tell = Callable[[Mapping[str, Any], str], None]  # an ephemeral message to the clicker


class ClickRetries:
    """Runs click work; what the store refuses for now is tried again later on a timer thread."""

    def __init__(self, store: Store, tell: Tell, delays: Sequence[float] = RETRY_DELAYS):
        self.store = store
        self.tell = tell
        self.delays = tuple(delays)
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._unaudited: list[tuple[str, str, str | None, dict[str, Any]]] = []
        self._stopped = False

    def run(
        self, payload: Mapping[str, Any], what: str, item_key: str | None, work: Callable[[], None], attempt: int = 0
    ) -> None:
        """Do ``work`` (one click's handler); ``what`` names it for the clicker ("Send click")."""
        try:
            work()
        except StoreUnavailable as exc:
            self._failed(payload, what, item_key, work, attempt, exc.reason)
            return
        if attempt:
            log.info("%s on %s went through on try %d", what, item_key, attempt + 1)
            self.tell(payload, f":white_check_mark: Your {what} went through now (the database is back).")
        self.flush()

    def _failed(
        self,
        payload: Mapping[str, Any],
        what: str,
        item_key: str | None,
        work: Callable[[], None],
        attempt: int,
        reason: str,
    ) -> None:
        user = payload.get("user") or {}
        if attempt < len(self.delays) and not self._stopped:
            log.warning("%s by %s on %s not saved (%s); trying again", what, user.get("id"), item_key, reason)
            if attempt == 0:
                self.tell(
                    payload,
                    f":warning: Your {what} reached socialwatch but could not be saved ({reason}). Nothing is "
                    f"sent yet; it is tried again for about {int(sum(self.delays))} s and you will be told.",
                )
            self._later(self.delays[attempt], lambda: self.run(payload, what, item_key, work, attempt + 1))
            return
        log.error("%s by %s on %s given up after %d tries: %s", what, user.get("id"), item_key, attempt + 1, reason)
        self.tell(
            payload,
            f":x: Your {what} could not be saved ({reason}) and was given up: nothing was sent. "
            "Please click again once socialwatch is healthy.",
        )
        details = {"attempted": what, "reason": reason, "tries": attempt + 1, "clicked_at": iso(utcnow())}
        with self._lock:
            self._unaudited.append((str(user.get("id") or "?"), str(user.get("name") or "?"), item_key, details))
        self._later(self.delays[-1] if self.delays else 60.0, self.flush)

    def flush(self) -> None:
        """Audit the clicks given up (``action.lost``), once the database takes writes; else try later."""
        with self._lock:
            pending, self._unaudited = self._unaudited, []
        for index, (actor_id, actor_name, item_key, details) in enumerate(pending):
            try:
                audit_log.append_audit(
                    self.store,
                    "action.lost",
                    actor_id=actor_id,
                    actor_name=actor_name,
                    item_key=item_key,
                    details=details,
                )
            except StoreUnavailable:
                with self._lock:
                    self._unaudited[:0] = pending[index:]
                if not self._stopped:
                    self._later(self.delays[-1] if self.delays else 60.0, self.flush)
                return

    def _later(self, delay: float, then: Callable[[], None]) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            try:
                then()
            except Exception:  # a timer thread must not die silently with a click in it
                log.exception("could not retry a click")

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def stop(self) -> None:
        """Cancel the pending tries; what is still unsaved is named in the log (the only record left)."""
        with self._lock:
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if timers:
            log.error(
                "stopping with %d click(s) not yet saved; their clickers were told it is being retried", len(timers)
            )
        self.flush()
        with self._lock:
            unaudited = list(self._unaudited)
        for actor_id, _, item_key, details in unaudited:
            log.error("click given up and not audited: %s by %s on %s", details.get("attempted"), actor_id, item_key)
