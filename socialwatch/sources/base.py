"""The adapter protocol every source implements, and the errors it may raise.

Errors are translated at the boundary: adapters raise only these, never tweepy,
requests or facebook exceptions, so the daemon can decide what each one means
(pause, retry, mark unhealthy) without knowing the platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from socialwatch.models import Item, Reject


class SourceError(Exception):
    """A poll failed; nothing from it was stored, the cursor did not move."""

    retryable = True


class PlatformError(SourceError):
    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class RateLimited(SourceError):
    def __init__(self, message: str, reset_at: datetime):
        super().__init__(message)
        self.reset_at = reset_at


class AuthError(SourceError):
    """Expired or revoked credentials: the source is unhealthy until someone fixes them."""

    retryable = False


class CapabilityLost(SourceError):
    """The account's API access lacks this stream (e.g. an X tier without DMs)."""

    retryable = False


@dataclass(frozen=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset_at: datetime | None


@dataclass
class Page:
    """One committed unit: its items are stored together; ``cursor`` (if set) moves with them.

    An adapter yields pages oldest-safe-first: a cursor only appears on the page after
    which every item it covers has been yielded.
    """

    items: list[Item] = field(default_factory=list)
    cursor: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    rate_limit: RateLimit | None = None


@runtime_checkable
class Source(Protocol):
    key: str  # unique per stream and cursor, e.g. "x:acme:mentions"
    platform: str
    account: str
    stream: str  # mentions, dms, feed, comments, messenger, replay
    slack_channel: str | None

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        """Pages of items newer than ``cursor`` (or than ``since`` when there is no cursor yet)."""
        ...


# --- replying -------------------------------------------------------------------------------


class ReplyRefused(SourceError):
    """The platform will never accept this reply as it is (e.g. Messenger's 24-hour window closed,
    the post was deleted). Not retried; shown to the manager."""

    retryable = False


class ReconcileUnknown(SourceError):
    """The platform could not tell whether an earlier attempt was posted: a person must check."""


class DuplicateContent(SourceError):
    """The platform refused the text as a duplicate of something the account already posted (X's 403 "You
    are not allowed to create a Tweet with duplicate content."): evidence that an earlier attempt is live,
    never a reason to record the reply as not posted."""

    retryable = False


@dataclass(frozen=True)
class ReplyTarget:
    """What a replier needs to answer a stored item (built from its ``items`` row)."""

    platform: str
    account: str
    kind: str  # mention | dm | comment | post
    native_id: str
    author_id: str
    author_handle: str | None
    conversation_id: str | None
    public: bool
    created_at: datetime
    in_reply_to: str | None = None  # what the item answers (the parent comment of a comment's reply)
    privately: bool = False  # a private reply: one message to the author of this public comment


@runtime_checkable
class Replier(Protocol):
    """Posts the brand's replies for one account. Implemented next to each platform's source."""

    platform: str
    account: str

    def send_reply(self, target: ReplyTarget, text: str) -> str:
        """Post ``text`` as the brand's answer to ``target``; returns the platform's id of the reply.
        Raises RateLimited, AuthError, ReplyRefused or PlatformError."""
        ...

    def find_reply(self, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """After a crash: the id of a brand reply to ``target`` with this text posted after ``since``,
        None when the platform shows surely none. Raises ReconcileUnknown when it cannot tell."""
        ...


def probe(call: Callable[[], Any]) -> tuple[bool, str | None]:
    """Whether a capability works: (True, None), or (False, why) when the call raised a source error."""
    try:
        call()
    except SourceError as exc:  # CapabilityLost among them
        return False, str(exc)
    return True, None


_MENTION_PREFIX = re.compile(r"^(?:@\w+\s+)+")
_URL = re.compile(r"https?://\S+")


def same_text(posted: str, ours: str) -> bool:
    """X prefixes replies with @handles and rewrites links; compare what is left."""

    def norm(text: str) -> str:
        return " ".join(_URL.sub("", _MENTION_PREFIX.sub("", text)).split()).casefold()

    return norm(posted) == norm(ours)
