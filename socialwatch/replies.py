"""The reply sender: approved replies from the outbox to the platforms, each posted at most once.

Protocol per reply (see docs/design.md, "Replies"): claim the row (approved -> sending, committed)
with a conditional UPDATE, so two senders can never both post it; call the platform; record the
result. A crash between the platform call and the record leaves the row in ``sending``:
``reconcile`` asks the platform before anything is sent again. An attempt whose outcome is unknown
(timeout, dropped connection, unreadable answer) is never retried blindly either: the next attempt
looks for the reply first, and when the platform cannot tell, a person decides (``needs_check``).

A public reply on a platform whose reads lag its writes (X: recent search trails the timeline by 30-45 s on
a bad day, and a post can be written before its answer is lost) goes to ``reconciling`` after such an
attempt: it is looked for (the brand's timeline, the conversation) and never resent while the question is
open. "Not there" counts only once the replier's ``settle`` time has passed since the attempt; a platform
that refuses the text as a duplicate has said it is there; after ``reconcile_checks`` looks that could not
tell, the approver is asked in Slack (``needs_check``) instead of guessing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from socialwatch.models import parse_time, utcnow
from socialwatch.ops import crashpoints
from socialwatch.sources.base import (
    AuthError,
    CapabilityLost,
    DuplicateContent,
    PlatformError,
    RateLimited,
    ReconcileUnknown,
    Replier,
    ReplyRefused,
    ReplyTarget,
)
from socialwatch.store import reply_outbox
from socialwatch.store.db import Store
from socialwatch.store.reply_outbox import VERIFY_BEST_EFFORT, VERIFY_NONE, VERIFY_REQUIRED

if TYPE_CHECKING:
    from socialwatch.config.schema import Config

log = logging.getLogger(__name__)

CRASHPOINT = "replies.platform_called"
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)
AUTH_BACKOFF = timedelta(minutes=30)  # a person has to fix the token; don't hammer the platform meanwhile
MAX_ATTEMPTS = 10
#: Looking for an earlier attempt starts this long before it: platform clocks and ours differ.
RECONCILE_MARGIN = timedelta(minutes=2)
RECONCILE_CHECKS = 5  # looks that could not tell before the approver is asked (needs_check)
RECHECK = timedelta(seconds=30)  # between two looks at a reply being reconciled
DUPLICATE = "duplicate content"  # how last_error marks a reply the platform refused as already posted


def settle_time(replier: Replier, target: ReplyTarget) -> timedelta:
    """How long after an unclear attempt "not found" starts to mean "not posted" (0: at once)."""
    return getattr(replier, "settle", timedelta(0)) if target.public else timedelta(0)


def target_for(item_row: Mapping[str, Any]) -> ReplyTarget:
    """The ReplyTarget for a stored item (an ``items`` row, or a reply row joined with its item)."""
    created = parse_time(item_row["created_at"])
    if created is None:
        raise ValueError(f"item {item_row['native_id']} has no created_at")
    return ReplyTarget(
        platform=str(item_row["platform"]),
        account=str(item_row["account"]),
        kind=str(item_row["kind"]),
        native_id=str(item_row["native_id"]),
        author_id=str(item_row["author_id"]),
        author_handle=item_row["author_handle"],
        conversation_id=item_row["conversation_id"],
        public=bool(item_row["public"]),
        created_at=created,
        in_reply_to=item_row.get("in_reply_to"),
        privately=bool(item_row.get("private_reply")),
    )


def build_repliers(config: Config) -> dict[tuple[str, str], Replier]:
    """A replier per configured X account, Facebook page and Instagram account, keyed ``(platform, account)``."""
    repliers: dict[tuple[str, str], Replier] = {}
    if config.x.accounts:
        from socialwatch.sources import x

        repliers.update(x.build_repliers(config))
    if config.facebook.pages:
        from socialwatch.sources import facebook

        repliers.update(facebook.build_repliers(config))
    if config.instagram.accounts:
        from socialwatch.sources import instagram_replies

        repliers.update(instagram_replies.build_repliers(config))
    return repliers


class ReplySender:
    """Sends due replies; safe to run from several threads (or processes) on one database."""

    def __init__(
        self,
        store: Store,
        repliers: Mapping[tuple[str, str], Replier],
        *,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        retry_base: timedelta = RETRY_BASE,
        retry_max: timedelta = RETRY_MAX,
        auth_backoff: timedelta = AUTH_BACKOFF,
        max_attempts: int = MAX_ATTEMPTS,
        reconcile_checks: int = RECONCILE_CHECKS,
        recheck: timedelta = RECHECK,
    ) -> None:
        self.store = store
        self.repliers = repliers
        self.on_change = on_change
        self.clock = clock
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.auth_backoff = auth_backoff
        self.max_attempts = max_attempts
        self.reconcile_checks = reconcile_checks
        self.recheck = recheck
        # An account that said "rate limited" or "bad credentials" is left alone until then, whichever
        # reply asked: the next one would get the same answer and spend budget for nothing.
        self._paused: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    # --- at start -------------------------------------------------------------------------------

    def reconcile(self) -> int:
        """Settle rows left in ``sending`` by a crash; returns how many. Run it before this process sends
        anything (a row in ``sending`` is then surely not in flight here), with one daemon per database."""
        settled = 0
        for row in reply_outbox.replies_in(self.store, "sending"):
            settled += 1
            now = self.clock()
            replier = self.repliers.get((row["platform"], row["account"]))
            if replier is None:
                self._changed(
                    reply_outbox.flag_reply(
                        self.store,
                        row["id"],
                        reason=f"no replier configured for {row['platform']}:{row['account']}; "
                        "check by hand whether it was posted",
                        now=now,
                    )
                )
                continue
            target = target_for(row)
            lagging = bool(settle_time(replier, target))
            try:
                found = replier.find_reply(target, row["text"], self._since(row))
            except ReconcileUnknown as exc:
                if lagging:  # looked for again, the approver asked after a few looks
                    self._changed(self._reconcile_later(row, reason=str(exc), now=now, counted=True))
                else:
                    self._changed(reply_outbox.flag_reply(self.store, row["id"], reason=str(exc), now=now))
                continue
            except Exception as exc:  # a bug must not turn into a resend
                log.exception("reply %s: reconcile failed", row["id"])
                self._changed(
                    reply_outbox.flag_reply(self.store, row["id"], reason=f"reconcile failed: {exc}", now=now)
                )
                continue
            if not found and lagging:
                # Reads lag writes here: "not found" right after a crash proves nothing; the same looks as
                # after any unclear attempt, never a quick resend.
                self._changed(self._reconcile_later(row, reason="left in 'sending' by a restart", now=now))
                continue
            if found:
                log.info("reply %s: found on the platform after a restart (%s)", row["id"], found)
                self._changed(
                    reply_outbox.record_reply_sent(
                        self.store, row["id"], platform_reply_id=found, now=now, reconciled=True
                    )
                )
            else:
                # The platform surely shows none: the crash came before the post. Send it (once) again.
                reply_outbox.defer_reply(
                    self.store,
                    row["id"],
                    until=now,
                    reason="reconciled: not posted",
                    error=None,
                    verify=VERIFY_NONE,
                    now=now,
                    action="reply.reconciled",
                )
        return settled

    # --- every round ----------------------------------------------------------------------------

    def send_due(self, limit: int = 20) -> int:
        """Send approved replies that are due, oldest first; returns how many were posted. An account
        that answered with a rate limit or a credential error is not asked again until its pause ends."""
        sent = 0
        for row in reply_outbox.due_reconciling(self.store, self.clock(), limit):
            if self._check_reconciling(row) == "sent":
                sent += 1
        for row in reply_outbox.due_replies(self.store, self.clock(), limit):
            account = (row["platform"], row["account"])
            with self._lock:
                paused = self._paused.get(account)
            if paused is not None and paused > self.clock():
                continue
            outcome = self._send_one(row["id"])
            if outcome == "sent":
                sent += 1
        return sent

    def _pause(self, row: Mapping[str, Any], until: datetime) -> str:
        with self._lock:
            account = (row["platform"], row["account"])
            self._paused[account] = max(until, self._paused.get(account, until))
        return "paused"

    def _send_one(self, reply_id: int) -> str:
        now = self.clock()
        row = reply_outbox.claim_reply(self.store, reply_id, now=now)
        if row is None:
            return "taken"  # another sender claimed it, or it was cancelled or deferred meanwhile
        replier = self.repliers.get((row["platform"], row["account"]))
        if replier is None:
            # Configuration changed under an approved reply: keep it, a restart with the account sends it.
            self._changed(
                reply_outbox.defer_reply(
                    self.store,
                    reply_id,
                    until=now + self.auth_backoff,
                    reason="no_replier",
                    verify=row["verify_before_send"],
                    error=f"no replier configured for {row['platform']}:{row['account']}",
                    now=now,
                )
            )
            return self._pause(row, now + self.auth_backoff)
        target = target_for(row)
        text = row["text"]
        if row["verify_before_send"] != VERIFY_NONE:
            # An earlier attempt may have been posted: look before posting again.
            try:
                found = replier.find_reply(target, text, self._since(row))
            except Exception as exc:
                if row["verify_before_send"] == VERIFY_REQUIRED:
                    self._changed(
                        reply_outbox.flag_reply(
                            self.store,
                            reply_id,
                            reason=f"an earlier attempt may have been posted and the platform cannot tell: {exc}",
                            now=self.clock(),
                        )
                    )
                    return "needs_check"
                found = None  # after a clean 5xx the check is a courtesy: the platform said it did not post
            if found:
                self._changed(
                    reply_outbox.record_reply_sent(
                        self.store, reply_id, platform_reply_id=found, now=self.clock(), reconciled=True
                    )
                )
                return "sent"
        try:
            platform_id = replier.send_reply(target, text)
        except RateLimited as exc:
            until = max(exc.reset_at, now)
            self._changed(
                reply_outbox.defer_reply(
                    self.store,
                    reply_id,
                    until=until,
                    reason="rate_limited",
                    error=str(exc),
                    verify=VERIFY_NONE,
                    now=self.clock(),
                )
            )
            return self._pause(row, until)
        except AuthError as exc:
            until = now + self.auth_backoff
            self._changed(
                reply_outbox.defer_reply(
                    self.store,
                    reply_id,
                    until=until,
                    reason="credentials",
                    error=str(exc),
                    verify=VERIFY_NONE,
                    now=self.clock(),
                )
            )
            return self._pause(row, until)
        except DuplicateContent as exc:
            # The platform says this text is already there: our earlier attempt is live. Find its id; never
            # record "not posted", never send it again.
            return self._already_posted(row, replier, target, exc)
        except (ReplyRefused, CapabilityLost) as exc:
            self._changed(reply_outbox.fail_reply(self.store, reply_id, error=str(exc), now=self.clock()))
            return "failed"
        except ReconcileUnknown as exc:
            self._changed(reply_outbox.flag_reply(self.store, reply_id, reason=str(exc), now=self.clock()))
            return "needs_check"
        except PlatformError as exc:
            if exc.retryable and settle_time(replier, target) and (exc.status is None or exc.status >= 500):
                # No clear answer (dropped, timed out, a 5xx that may follow the write): look, never resend.
                self._changed(self._reconcile_later(row, reason=str(exc), now=self.clock()))
                return "reconciling"
            return self._platform_error(row, exc, now)
        except Exception as exc:  # never blindly resend what may have gone out
            log.exception("reply %s: unexpected error while sending", reply_id)
            self._changed(
                reply_outbox.flag_reply(
                    self.store, reply_id, reason=f"unexpected error: {type(exc).__name__}: {exc}", now=self.clock()
                )
            )
            return "needs_check"
        crashpoints.hit(CRASHPOINT)
        self._changed(
            reply_outbox.record_reply_sent(self.store, reply_id, platform_reply_id=platform_id, now=self.clock())
        )
        log.info("reply %s posted to %s as %s", reply_id, row["item_key"], platform_id)
        return "sent"

    def _platform_error(self, row: dict[str, Any], exc: PlatformError, now: datetime) -> str:
        reply_id = row["id"]
        if not exc.retryable:
            self._changed(reply_outbox.fail_reply(self.store, reply_id, error=str(exc), now=self.clock()))
            return "failed"
        # A clean 5xx answer means "not posted". No answer (timeout, dropped connection) or an unreadable
        # one means the request may have been posted: the next attempt must find out first. (X and Graph
        # 5xx are answered "may retry", yet a cheap look first costs one read; see VERIFY_BEST_EFFORT.)
        answered = exc.status is not None and exc.status >= 500
        verify = VERIFY_BEST_EFFORT if answered else VERIFY_REQUIRED
        if row["verify_before_send"] == VERIFY_REQUIRED:
            verify = VERIFY_REQUIRED  # an unresolved doubt from before stays
        if row["attempts"] >= self.max_attempts:
            if verify == VERIFY_REQUIRED:
                self._changed(
                    reply_outbox.flag_reply(
                        self.store,
                        reply_id,
                        reason=f"gave up after {row['attempts']} attempts, the last one may have been posted: {exc}",
                        now=self.clock(),
                    )
                )
                return "needs_check"
            self._changed(
                reply_outbox.fail_reply(
                    self.store, reply_id, error=f"gave up after {row['attempts']} attempts: {exc}", now=self.clock()
                )
            )
            return "failed"
        delay = min(self.retry_max, self.retry_base * 2 ** (row["attempts"] - 1))
        self._changed(
            reply_outbox.defer_reply(
                self.store,
                reply_id,
                until=now + delay,
                reason="platform_error",
                error=str(exc),
                verify=verify,
                now=self.clock(),
            )
        )
        return "deferred"

    # --- replies being reconciled ------------------------------------------------------------------

    def _reconcile_later(
        self, row: Mapping[str, Any], *, reason: str, now: datetime, counted: bool = False
    ) -> dict[str, Any] | None:
        """Into (or again) ``reconciling``; the next look in ``recheck``, or when the settle time is over."""
        replier = self.repliers.get((row["platform"], row["account"]))
        settled_at = self._attempted(row) + (settle_time(replier, target_for(row)) if replier else timedelta(0))
        until = now + self.recheck if counted or settled_at <= now else min(settled_at, now + self.recheck)
        expect = ("reconciling",) if row["status"] == "reconciling" else ("sending",)
        return reply_outbox.reconcile_later(
            self.store, row["id"], until=until, reason=reason, now=now, expect=expect, counted=counted
        )

    def _already_posted(self, row: Mapping[str, Any], replier: Replier, target: ReplyTarget, exc: Exception) -> str:
        reason = f"{DUPLICATE}: the platform says this text is already posted ({exc}); looking for it"
        try:
            found = replier.find_reply(target, row["text"], self._since(row))
        except Exception:
            found = None
        if found:
            self._changed(
                reply_outbox.record_reply_sent(
                    self.store,
                    row["id"],
                    platform_reply_id=found,
                    now=self.clock(),
                    reconciled=True,
                    evidence=DUPLICATE,
                )
            )
            return "sent"
        self._changed(self._reconcile_later(row, reason=reason, now=self.clock()))
        return "reconciling"

    def _check_reconciling(self, row: dict[str, Any]) -> str:
        """One look at a reply being reconciled: found -> sent; surely not there -> approved (sent once more,
        this round) or failed after the last attempt; cannot tell -> another look, or the approver."""
        now = self.clock()
        replier = self.repliers.get((row["platform"], row["account"]))
        if replier is None:
            return "reconciling"  # configuration changed; a restart with the account settles it
        target = target_for(row)
        try:
            found = replier.find_reply(target, row["text"], self._since(row))
        except Exception as exc:  # ReconcileUnknown, or a bug: neither may turn into a resend
            return self._unclear(row, f"the platform could not be checked: {exc}", now)
        if found:
            log.info("reply %s: found on the platform while reconciling (%s)", row["id"], found)
            self._changed(
                reply_outbox.record_reply_sent(
                    self.store, row["id"], platform_reply_id=found, now=now, reconciled=True, expect=("reconciling",)
                )
            )
            return "sent"
        if str(row["last_error"] or "").startswith(DUPLICATE):
            # The platform said the text is there, yet it shows no reply to this post: do not guess.
            return self._unclear(row, str(row["last_error"]), now)
        if now < self._attempted(row) + settle_time(replier, target):
            self._changed(self._reconcile_later(row, reason=str(row["last_error"] or "not found yet"), now=now))
            return "reconciling"
        if row["attempts"] >= self.max_attempts:
            self._changed(
                reply_outbox.fail_reply(
                    self.store,
                    row["id"],
                    error=f"gave up after {row['attempts']} attempts; the platform shows none of them",
                    now=now,
                    expect=("reconciling",),
                )
            )
            return "failed"
        reply_outbox.defer_reply(
            self.store,
            row["id"],
            until=now,
            reason="reconciled: not posted",
            error=None,
            verify=VERIFY_NONE,
            now=now,
            action="reply.reconciled",
            expect=("reconciling",),
        )
        return "approved"

    def _unclear(self, row: dict[str, Any], reason: str, now: datetime) -> str:
        if str(row["last_error"] or "").startswith(DUPLICATE) and not reason.startswith(DUPLICATE):
            reason = f"{DUPLICATE} refused before; {reason}"  # the evidence stays on the row
        if int(row["reconcile_checks"] or 0) + 1 >= self.reconcile_checks:
            self._changed(
                reply_outbox.flag_reply(
                    self.store,
                    row["id"],
                    reason=f"still unclear after {self.reconcile_checks} looks ({reason}); check the post by hand",
                    now=now,
                    expect=("reconciling",),
                )
            )
            return "needs_check"
        self._changed(self._reconcile_later(row, reason=reason, now=now, counted=True))
        return "reconciling"

    @staticmethod
    def _attempted(row: Mapping[str, Any]) -> datetime:
        started = parse_time(row["send_started_at"] or row["approved_at"])
        assert started is not None
        return started

    @staticmethod
    def _since(row: Mapping[str, Any]) -> datetime:
        started = parse_time(row["first_attempt_at"] or row["send_started_at"] or row["approved_at"])
        assert started is not None
        return started - RECONCILE_MARGIN

    def _changed(self, row: dict[str, Any] | None) -> None:
        """Tell Slack; the database already holds the truth, so a failing callback changes nothing."""
        if row is None:
            log.warning("a reply changed state under us; nothing recorded")
            return
        if row["status"] != "sent":
            log.warning(
                "reply %s to %s: %s (%s)", row["id"], row["item_key"], row["status"], row["last_error"] or "no detail"
            )
        if self.on_change is not None:
            try:
                self.on_change(row)
            except Exception:
                log.exception("reply %s: on_change callback failed", row["id"])
