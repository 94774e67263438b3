"""The X emulator's state: the brand account, the users, tweets and DMs around it, and what was posted.

``XState`` holds it all behind one lock, with the seeding the control API does
(customers' mentions and DMs, any tweet) and the tier, revocation and budgets the X API
checks. The API (``api.py``, ``tweets.py``, ``dms.py``) and the control API
(``control.py``) are mixins over it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from socialwatch.sandbox.ids import Counter, Snowflakes
from socialwatch.sandbox.ratelimit import RateLimiter
from socialwatch.sandbox.timefmt import ControlError, control_time, parse_when
from socialwatch.sandbox.x import langtag
from socialwatch.sandbox.x.model import (
    DEFAULT_LIMITS,
    HANDLE_RE,
    ID_RE,
    MENTION_RE,
    XCredentials,
    XDmEvent,
    XTweet,
    XUser,
)


class XState:
    """The brand's world. All state sits behind one lock."""

    def __init__(self, clock: Callable[[], float] = time.time, base_url: Callable[[], str] = lambda: "") -> None:
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.RLock()
        self.credentials = XCredentials.sandbox_defaults()
        self.brand = XUser(
            id="1580000000000000001",
            username="SandboxBrand",
            name="Sandbox Brand",
            followers=12_345,
            following=120,
            created_at=1_577_836_800.0,
            description="The brand account of the socialwatch sandbox.",
            verified=True,
        )
        self.limits = RateLimiter(DEFAULT_LIMITS, clock)
        self._tweet_ids = Snowflakes()
        # One generator, as on X: tweet and DM event ids never collide.
        self._dm_ids = self._tweet_ids
        self._user_ids = Counter(1_600_000_000_000_000_001)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.users: dict[str, XUser] = {self.brand.id: self.brand}
            self.users_by_handle: dict[str, XUser] = {self.brand.username.lower(): self.brand}
            self.brand.tweet_count = 0
            self.tweets: dict[str, XTweet] = {}
            self.dm_events: dict[str, XDmEvent] = {}
            self.posted: list[dict[str, Any]] = []
            self.tier = "pro"
            self.revoked = False
            self.duplicate_check = True
            self.search_lag = 0.0  # seconds before a new tweet shows up in recent search
            self.limits.reset()
            self._tweet_ids.reset()
            self._dm_ids.reset()
            self._user_ids.reset()

    def start(self) -> None:
        """Nothing runs beside the HTTP port."""

    def stop(self) -> None:
        """Nothing to stop."""

    def info(self) -> dict[str, Any]:
        creds = self.credentials
        return {
            "api_base": self._base_url(),
            "bearer_token": creds.bearer_token,
            "app_bearer_token": creds.app_bearer_token,
            "consumer_key": creds.consumer_key,
            "consumer_secret": creds.consumer_secret,
            "access_token": creds.access_token,
            "access_token_secret": creds.access_token_secret,
            "user_id": self.brand.id,
            "handle": self.brand.username,
            "name": self.brand.name,
            "tier": self.tier,
        }

    def _now(self) -> float:
        return self._clock()

    def user_for(self, spec: Any) -> XUser:
        """Find or create the author described by a control-API ``author``/``sender`` object."""
        spec = spec or {}
        if isinstance(spec, str):
            spec = {"handle": spec}
        if not isinstance(spec, dict):
            raise ControlError('author must be an object like {"handle", "name", "followers"}')
        with self._lock:
            if spec.get("id") and str(spec["id"]) in self.users:
                user = self.users[str(spec["id"])]
            else:
                handle = str(spec.get("handle") or spec.get("username") or "").lstrip("@")
                if not handle:
                    handle = f"user{len(self.users)}"
                if not HANDLE_RE.match(handle):
                    raise ControlError(f"handle {handle!r} is not a valid X handle (1-15 of A-Z a-z 0-9 _)")
                found = self.users_by_handle.get(handle.lower())
                if found is not None:
                    user = found
                else:
                    user_id = str(spec.get("id") or self._user_ids.next())
                    if not ID_RE.match(user_id):
                        raise ControlError("author id must be a numeric string of at most 19 digits")
                    user = XUser(
                        id=user_id,
                        username=handle,
                        name=str(spec.get("name") or handle),
                        created_at=parse_when(spec.get("created_at")) or 1_420_070_400.0,
                    )
                    self.users[user.id] = user
                    self.users_by_handle[handle.lower()] = user
            if spec.get("name"):
                user.name = str(spec["name"])
            for key in ("followers", "following", "tweet_count", "listed"):
                if key in spec:
                    try:
                        setattr(user, key, int(spec[key]))
                    except (TypeError, ValueError):
                        raise ControlError(f"{key} must be a whole number") from None
            for key in ("verified", "protected", "receives_your_dm"):
                if key in spec:
                    setattr(user, key, bool(spec[key]))
            for key in ("description", "location"):
                if key in spec:
                    setattr(user, key, spec[key])
            return user

    def _new_tweet(
        self,
        author: XUser,
        text: str,
        *,
        at: float | None,
        in_reply_to: str | None,
        lang: str | None = None,
        metrics: dict[str, int] | None = None,
    ) -> XTweet:
        now = at is None
        created = self._now() if at is None else at
        tweet_id = self._tweet_ids.next(created, now=now)
        parent = self.tweets.get(in_reply_to) if in_reply_to else None
        conversation_id = tweet_id
        reply_user = None
        if in_reply_to:
            conversation_id = parent.conversation_id if parent else in_reply_to
            reply_user = parent.author_id if parent else self.brand.id
        tweet = XTweet(
            id=tweet_id,
            author_id=author.id,
            text=text,
            created_at=created,
            conversation_id=conversation_id,
            in_reply_to_tweet_id=in_reply_to,
            in_reply_to_user_id=reply_user,
            lang=lang or langtag.tag(text),
            metrics=dict(metrics or {}),
        )
        for match in MENTION_RE.finditer(text):
            user = self.users_by_handle.get(match.group(1).lower())
            if user and user.id != author.id:
                tweet.mentioned_user_ids.add(user.id)
        self.tweets[tweet_id] = tweet
        author.tweet_count += 1
        return tweet

    def add_mention(self, spec: dict[str, Any]) -> XTweet:
        """A customer's tweet naming the brand (control API: ``POST /_sandbox/x/mentions``)."""
        if not isinstance(spec, dict):
            raise ControlError("each mention must be a JSON object")
        text = str(spec.get("text") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            author = self.user_for(spec.get("author"))
            if author.id == self.brand.id:
                raise ControlError("a mention must come from someone other than the brand")
            handle = self.brand.username
            if not re.search(rf"(?<![A-Za-z0-9_])@{handle}(?![A-Za-z0-9_])", text, re.IGNORECASE):
                text = f"@{handle} {text}"
            in_reply_to = str(spec["in_reply_to"]) if spec.get("in_reply_to") else None
            if in_reply_to and not ID_RE.match(in_reply_to):
                raise ControlError("in_reply_to must be a tweet id")
            at = control_time(spec.get("created_at"), "created_at")
            return self._new_tweet(
                author,
                text,
                at=at,
                in_reply_to=in_reply_to,
                lang=str(spec.get("lang") or langtag.tag(text)),
                metrics=spec.get("metrics"),
            )

    def add_mentions(self, specs: list[dict[str, Any]]) -> list[XTweet]:
        with self._lock:
            return [self.add_mention(spec) for spec in specs]

    def add_tweet(self, spec: dict[str, Any]) -> XTweet:
        """Any tweet, by default the brand's own (something for customers to reply to)."""
        text = str(spec.get("text") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            author = self.user_for(spec["author"]) if spec.get("author") else self.brand
            in_reply_to = str(spec["in_reply_to"]) if spec.get("in_reply_to") else None
            return self._new_tweet(
                author,
                text,
                at=parse_when(spec.get("created_at")),
                in_reply_to=in_reply_to,
                lang=str(spec.get("lang") or langtag.tag(text)),
            )

    def add_dm(self, spec: dict[str, Any]) -> XDmEvent:
        """A customer's direct message to the brand (control API: ``POST /_sandbox/x/dms``)."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            sender = self.user_for(spec.get("sender") or spec.get("author"))
            if sender.id == self.brand.id:
                raise ControlError("the sender must be someone other than the brand")
            at = control_time(spec.get("created_at"), "created_at")
            created = self._now() if at is None else at
            event = XDmEvent(
                id=self._dm_ids.next(created, now=at is None),
                sender_id=sender.id,
                recipient_id=self.brand.id,
                text=text,
                created_at=created,
            )
            self.dm_events[event.id] = event
            return event

    def mentions_of(self, user_id: str) -> list[XTweet]:
        """All tweets mentioning ``user_id``, newest first (not capped)."""
        found = [tweet for tweet in self.tweets.values() if user_id in tweet.mentioned_user_ids]
        found.sort(key=lambda tweet: int(tweet.id), reverse=True)
        return found
