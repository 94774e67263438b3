"""Emulator of the X API v2 subset socialwatch uses, in the wire format of tweepy 4.17's spec (2.166).

Mentions timeline (newest 800 reachable), DM events, posting tweets/replies and DMs, recent
search (enough of the query language to find the brand's replies), per-endpoint budgets
with ``x-rate-limit-*`` headers, app-only vs user-context auth (OAuth 2.0 bearer and OAuth
1.0a with signature check), and API tiers without DM access.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlencode

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.ids import Counter, Snowflakes, transaction_id
from socialwatch.sandbox.ratelimit import Decision, RateLimiter
from socialwatch.sandbox.timefmt import ControlError, control_time, parse_when

log = logging.getLogger(__name__)

WINDOW = 900.0  # X's 15-minute windows
MENTIONS_REACHABLE = 800  # X serves only the newest 800 mentions
SEARCH_RECENT_DAYS = 7
DM_RETENTION_DAYS = 30
MAX_TWEET_LENGTH = 280

# Endpoint keys are X's own notation; defaults follow X's published per-user Pro limits.
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "GET /2/users/me": (75, WINDOW),
    "GET /2/users/:id": (900, WINDOW),
    "GET /2/users/by/username/:username": (900, WINDOW),
    "GET /2/users/:id/mentions": (300, WINDOW),
    "GET /2/tweets": (900, WINDOW),
    "GET /2/tweets/:id": (900, WINDOW),
    "GET /2/tweets/search/recent": (300, WINDOW),
    "POST /2/tweets": (100, WINDOW),
    "GET /2/dm_events": (300, WINDOW),
    "GET /2/dm_conversations/with/:participant_id/dm_events": (300, WINDOW),
    "GET /2/dm_conversations/:dm_conversation_id/dm_events": (300, WINDOW),
    "POST /2/dm_conversations/with/:participant_id/messages": (200, WINDOW),
}

DM_ENDPOINTS = frozenset(key for key in DEFAULT_LIMITS if "/dm_" in key)
#: Endpoints each tier may not call (sandbox approximation of X's access levels).
TIERS: dict[str, frozenset[str]] = {
    "pro": frozenset(),
    "basic": frozenset(),
    "free": DM_ENDPOINTS | {
        "GET /2/tweets/search/recent", "GET /2/tweets", "GET /2/tweets/:id",
        "GET /2/users/:id", "GET /2/users/by/username/:username",
    },
}

TWEET_FIELDS = (
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id",
    "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "matched_media_notes", "media_metadata", "non_public_metrics",
    "note_request_suggestions", "note_tweet", "organic_metrics", "paid_partnership", "possibly_sensitive",
    "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes", "source",
    "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld",
)
USER_FIELDS = (
    "affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id",
    "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription",
    "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld",
)
DM_EVENT_FIELDS = (
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "participant_ids",
    "referenced_tweets", "sender_id", "text",
)
TWEET_EXPANSIONS = (
    "article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet",
    "attachments.poll_ids", "author_id", "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id",
    "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id",
)
USER_EXPANSIONS = ("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")
DM_EXPANSIONS = ("attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id")
DM_EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
MEDIA_FIELDS = (
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics", "preview_image_url",
    "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
)
POLL_FIELDS = ("duration_minutes", "end_datetime", "id", "options", "voting_status")
PLACE_FIELDS = ("contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type")

PROBLEM_INVALID = "https://api.twitter.com/2/problems/invalid-request"
PROBLEM_FORBIDDEN_CLIENT = "https://api.twitter.com/2/problems/client-forbidden"
PROBLEM_UNSUPPORTED_AUTH = "https://api.twitter.com/2/problems/unsupported-authentication"
PROBLEM_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"

_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{1,15})")
_HASHTAG_RE = re.compile(r"(?<![A-Za-z0-9_&])#(\w+)")
_ID_RE = re.compile(r"^[0-9]{1,19}$")
_HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def iso(ts: float) -> str:
    """X's timestamp format: millisecond precision, Z."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class XApiError(Exception):
    """Raised inside handlers; carries the finished error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class XUser:
    id: str
    username: str
    name: str
    followers: int = 0
    following: int = 0
    tweet_count: int = 0
    listed: int = 0
    likes: int = 0
    created_at: float = 0.0
    description: str = ""
    location: str | None = None
    verified: bool = False
    protected: bool = False
    receives_your_dm: bool = True

    def render(self, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "username": self.username}
        extra: dict[str, Any] = {
            "created_at": iso(self.created_at),
            "description": self.description,
            "location": self.location,
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{self.id}/sandbox_normal.png",
            "protected": self.protected,
            "public_metrics": {
                "followers_count": self.followers, "following_count": self.following,
                "tweet_count": self.tweet_count, "listed_count": self.listed, "like_count": self.likes,
            },
            "receives_your_dm": self.receives_your_dm,
            "url": "",
            "verified": self.verified,
            "verified_type": "blue" if self.verified else "none",
        }
        for name in fields:
            if name in extra and extra[name] is not None:
                out[name] = extra[name]
        return out


@dataclass
class XTweet:
    id: str
    author_id: str
    text: str
    created_at: float
    conversation_id: str
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    lang: str = "en"
    mentioned_user_ids: set[str] = field(default_factory=set)
    display_start: int = 0
    metrics: dict[str, int] = field(default_factory=dict)
    possibly_sensitive: bool = False

    def entities(self, users_by_handle: dict[str, XUser]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        mentions = []
        for match in _MENTION_RE.finditer(self.text):
            entry: dict[str, Any] = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            user = users_by_handle.get(match.group(1).lower())
            if user:
                entry["id"] = user.id
            mentions.append(entry)
        if mentions:
            found["mentions"] = mentions
        hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in _HASHTAG_RE.finditer(self.text)]
        if hashtags:
            found["hashtags"] = hashtags
        return found

    def render(self, fields: set[str], users_by_handle: dict[str, XUser]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "edit_history_tweet_ids": [self.id]}
        for name in fields:
            if name == "author_id":
                out[name] = self.author_id
            elif name == "created_at":
                out[name] = iso(self.created_at)
            elif name == "conversation_id":
                out[name] = self.conversation_id
            elif name == "in_reply_to_user_id" and self.in_reply_to_user_id:
                out[name] = self.in_reply_to_user_id
            elif name == "referenced_tweets" and self.in_reply_to_tweet_id:
                out[name] = [{"type": "replied_to", "id": self.in_reply_to_tweet_id}]
            elif name == "lang":
                out[name] = self.lang
            elif name == "public_metrics":
                out[name] = {
                    "retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                    "bookmark_count": 0, "impression_count": 0, **self.metrics,
                }
            elif name == "possibly_sensitive":
                out[name] = self.possibly_sensitive
            elif name == "reply_settings":
                out[name] = "everyone"
            elif name == "entities":
                entities = self.entities(users_by_handle)
                if entities:
                    out[name] = entities
            elif name == "display_text_range":
                out[name] = [self.display_start, len(self.text)]
            elif name == "edit_controls":
                out[name] = {
                    "edits_remaining": 5, "is_edit_eligible": True,
                    "editable_until": iso(self.created_at + 3600),
                }
        return out


@dataclass
class XDmEvent:
    id: str
    sender_id: str
    recipient_id: str
    text: str
    created_at: float
    event_type: str = "MessageCreate"

    @property
    def dm_conversation_id(self) -> str:
        low, high = sorted((self.sender_id, self.recipient_id), key=int)
        return f"{low}-{high}"

    def render(self, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "event_type": self.event_type, "text": self.text}
        for name in fields:
            if name == "created_at":
                out[name] = iso(self.created_at)
            elif name == "sender_id":
                out[name] = self.sender_id
            elif name == "dm_conversation_id":
                out[name] = self.dm_conversation_id
        return out


@dataclass
class XCredentials:
    bearer_token: str  # OAuth 2.0 user-context token of the brand account: works everywhere
    app_bearer_token: str  # OAuth 2.0 app-only: refused on user-context endpoints, as on X
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def sandbox_defaults(cls) -> XCredentials:
        # Fixed, so a config written by --write-config keeps working when the sandbox restarts.
        return cls(
            bearer_token="SANDBOX-X-USER-TOKEN-0000000000000000000000000000000001",
            app_bearer_token="SANDBOX-X-APP-ONLY-TOKEN-00000000000000000000000000000001",
            consumer_key="sandboxconsumerkey000001",
            consumer_secret="sandbox-consumer-secret-0000000000000000000000001",
            access_token="1580000000000000001-sandboxaccesstoken000000000000001",
            access_token_secret="sandbox-access-token-secret-00000000000000000000001",
        )


def _problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "detail": detail, "type": type_, "status": status}
    body.update(extra)
    return body


def invalid_request(message: str, parameters: dict[str, list[str]]) -> XApiError:
    return XApiError(Response.json({
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEM_INVALID,
    }, status=400))


def _token_for(value: int) -> str:
    # Opaque, >= 16 characters (X's base32 tokens have minLength 16), decodable to a position.
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return "7" + out.rjust(15, "0")


def _token_position(token: str, parameter: str) -> int:
    try:
        if len(token) < 16 or not token.startswith("7"):
            raise ValueError
        return int(token[1:], 36)
    except ValueError:
        raise invalid_request(f"The `{parameter}` query parameter value [{token}] is not a valid token",
                              {parameter: [token]}) from None


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    key: str
    handler: str
    user_context: bool  # refused with app-only auth


def _route(method: str, template: str, handler: str, user_context: bool) -> _Route:
    regex = re.sub(r":(\w+)", r"(?P<\1>[^/]+)", template)
    return _Route(method, re.compile(f"^{regex}$"), f"{method} {template}", handler, user_context)


ROUTES = [
    _route("GET", "/2/users/me", "_users_me", True),
    _route("GET", "/2/users/by/username/:username", "_user_by_username", False),
    _route("GET", "/2/users/:id/mentions", "_mentions", False),
    _route("GET", "/2/users/:id", "_user_by_id", False),
    _route("GET", "/2/tweets/search/recent", "_search_recent", False),
    _route("GET", "/2/tweets/:id", "_tweet_by_id", False),
    _route("GET", "/2/tweets", "_tweets_by_ids", False),
    _route("POST", "/2/tweets", "_create_tweet", True),
    _route("GET", "/2/dm_events", "_dm_events", True),
    _route("GET", "/2/dm_conversations/with/:participant_id/dm_events", "_dm_events_with", True),
    _route("GET", "/2/dm_conversations/:dm_conversation_id/dm_events", "_dm_events_conversation", True),
    _route("POST", "/2/dm_conversations/with/:participant_id/messages", "_create_dm", True),
]


class XEmulator:
    """The X API v2 emulator. All state sits behind one lock."""

    target = "x"

    def __init__(self, clock: Callable[[], float] = time.time, base_url: Callable[[], str] = lambda: "") -> None:
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.RLock()
        self.credentials = XCredentials.sandbox_defaults()
        self.brand = XUser(
            id="1580000000000000001", username="SandboxBrand", name="Sandbox Brand",
            followers=12_345, following=120, created_at=1_577_836_800.0,
            description="The brand account of the socialwatch sandbox.", verified=True,
        )
        self.limits = RateLimiter(DEFAULT_LIMITS, clock)
        self._tweet_ids = Snowflakes()
        # One generator, as on X: tweet and DM event ids never collide.
        self._dm_ids = self._tweet_ids
        self._user_ids = Counter(1_600_000_000_000_000_001)
        self.reset()

    # -- state ---------------------------------------------------------------------------------

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
            raise ControlError("author must be an object like {\"handle\", \"name\", \"followers\"}")
        with self._lock:
            if spec.get("id") and str(spec["id"]) in self.users:
                user = self.users[str(spec["id"])]
            else:
                handle = str(spec.get("handle") or spec.get("username") or "").lstrip("@")
                if not handle:
                    handle = f"user{len(self.users)}"
                if not _HANDLE_RE.match(handle):
                    raise ControlError(f"handle {handle!r} is not a valid X handle (1-15 of A-Z a-z 0-9 _)")
                found = self.users_by_handle.get(handle.lower())
                if found is not None:
                    user = found
                else:
                    user_id = str(spec.get("id") or self._user_ids.next())
                    if not _ID_RE.match(user_id):
                        raise ControlError("author id must be a numeric string of at most 19 digits")
                    user = XUser(id=user_id, username=handle, name=str(spec.get("name") or handle),
                                 created_at=parse_when(spec.get("created_at")) or 1_420_070_400.0)
                    self.users[user.id] = user
                    self.users_by_handle[handle.lower()] = user
            if "name" in spec and spec["name"]:
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

    def _new_tweet(self, author: XUser, text: str, *, at: float | None, in_reply_to: str | None,
                   lang: str = "en", metrics: dict[str, int] | None = None) -> XTweet:
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
            id=tweet_id, author_id=author.id, text=text, created_at=created, conversation_id=conversation_id,
            in_reply_to_tweet_id=in_reply_to, in_reply_to_user_id=reply_user, lang=lang, metrics=dict(metrics or {}),
        )
        for match in _MENTION_RE.finditer(text):
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
            if in_reply_to and not _ID_RE.match(in_reply_to):
                raise ControlError("in_reply_to must be a tweet id")
            at = control_time(spec.get("created_at"), "created_at")
            return self._new_tweet(author, text, at=at, in_reply_to=in_reply_to,
                                   lang=str(spec.get("lang") or "en"), metrics=spec.get("metrics"))

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
            return self._new_tweet(author, text, at=parse_when(spec.get("created_at")), in_reply_to=in_reply_to,
                                   lang=str(spec.get("lang") or "en"))

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
            event = XDmEvent(id=self._dm_ids.next(created, now=at is None), sender_id=sender.id,
                             recipient_id=self.brand.id, text=text, created_at=created)
            self.dm_events[event.id] = event
            return event

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        for route in ROUTES:
            if route.method != req.method:
                continue
            match = route.pattern.match(req.path)
            if match:
                return self._dispatch(route, match.groupdict(), req)
        return self._finish(Response.json(
            {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, status=404))

    def _finish(self, response: Response, decision: Decision | None = None) -> Response:
        response.headers["x-transaction-id"] = transaction_id()
        response.headers["x-response-time"] = "12"
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    def _dispatch(self, route: _Route, args: dict[str, str], req: Request) -> Response:
        context = self._authenticate(req)
        if context is None:
            return self._finish(Response.json(_problem(401, "Unauthorized", "Unauthorized"), status=401))
        if context == "app" and route.user_context:
            return self._finish(Response.json(_problem(
                403, "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                PROBLEM_UNSUPPORTED_AUTH,
            ), status=403))
        with self._lock:
            tier = self.tier
        if route.key in TIERS.get(tier, frozenset()):
            return self._finish(Response.json(self._client_forbidden(), status=403))
        decision = self.limits.take(route.key)
        if not decision.allowed:
            return self._finish(Response.json(_problem(429, "Too Many Requests", "Too Many Requests"), status=429),
                                decision)
        try:
            with self._lock:
                response = getattr(self, route.handler)(req, **args)
        except XApiError as exc:
            response = exc.response
        return self._finish(response, decision)

    def _client_forbidden(self) -> dict[str, Any]:
        return {
            "client_id": "28000001",
            "detail": "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
                      "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
                      "different access level. You can learn more here: https://developer.x.com/en/portal/product",
            "registration_url": "https://developer.x.com/en/portal/product",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": PROBLEM_FORBIDDEN_CLIENT,
        }

    # -- auth ----------------------------------------------------------------------------------

    def _authenticate(self, req: Request) -> str | None:
        """"user", "app" or None (401)."""
        with self._lock:
            if self.revoked:
                return None
        creds = self.credentials
        header = req.headers.get("authorization") or ""
        token = req.bearer
        if token is not None:
            if hmac.compare_digest(token, creds.bearer_token):
                return "user"
            if hmac.compare_digest(token, creds.app_bearer_token):
                return "app"
            return None
        if header.startswith("OAuth "):
            return "user" if self._oauth1_valid(req, header) else None
        return None

    def _oauth1_valid(self, req: Request, header: str) -> bool:
        from oauthlib.oauth1.rfc5849 import signature

        params = {key: unquote(value) for key, value in re.findall(r'(\w+)="([^"]*)"', header)}
        creds = self.credentials
        if params.get("oauth_consumer_key") != creds.consumer_key or params.get("oauth_token") != creds.access_token:
            return False
        provided = params.get("oauth_signature", "")
        if params.get("oauth_signature_method", "HMAC-SHA1") != "HMAC-SHA1":
            return False
        query = urlencode([(key, value) for key, values in req.query.items() for value in values])
        content_type = (req.headers.get("content-type") or "").lower()
        body = req.body.decode("utf-8", "replace") if "application/x-www-form-urlencoded" in content_type else None
        collected = signature.collect_parameters(uri_query=query, body=body, headers={"Authorization": header})
        normalized = signature.normalize_parameters(collected)
        host = req.headers.get("host") or "127.0.0.1"
        # The client signed the URL it meant (api.twitter.com) before the transport rewrote it.
        for base in ("https://api.twitter.com", "https://api.x.com", f"http://{host}"):
            base_string = signature.signature_base_string(
                req.method, signature.base_string_uri(base + req.path), normalized)
            key = f"{quote(creds.consumer_secret, safe='~')}&{quote(creds.access_token_secret, safe='~')}"
            expected = base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()).decode()
            if hmac.compare_digest(expected, provided):
                return True
        return False

    # -- parameters ----------------------------------------------------------------------------

    def _csv(self, req: Request, name: str, allowed: tuple[str, ...]) -> set[str]:
        raw = req.arg(name)
        if raw is None:
            return set()
        values = [value.strip() for value in raw.split(",") if value.strip()]
        for value in values:
            if value not in allowed:
                raise invalid_request(
                    f"The `{name}` query parameter value [{value}] is not one of [{','.join(allowed)}]",
                    {name: [raw]})
        return set(values)

    def _int_param(self, req: Request, name: str, low: int, high: int, default: int) -> int:
        raw = req.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_request(f"The `{name}` query parameter value [{raw}] is not a valid integer",
                                  {name: [raw]}) from None
        if not low <= value <= high:
            raise invalid_request(f"The `{name}` query parameter value [{raw}] is not between {low} and {high}",
                                  {name: [raw]})
        return value

    def _id_param(self, req: Request, name: str) -> int | None:
        raw = req.arg(name)
        if raw is None:
            return None
        if not _ID_RE.match(raw):
            raise invalid_request(f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$",
                                  {name: [raw]})
        return int(raw)

    def _time_param(self, req: Request, name: str) -> float | None:
        raw = req.arg(name)
        if raw is None:
            return None
        try:
            return parse_when(raw)
        except ValueError:
            raise invalid_request(f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 date-time",
                                  {name: [raw]}) from None

    def _check_known(self, req: Request, allowed: set[str]) -> None:
        for name in req.query:
            if name not in allowed:
                raise invalid_request(f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]",
                                      {name: req.query[name]})

    def _tweet_includes(self, tweets: list[XTweet], req: Request) -> tuple[set[str], dict[str, Any]]:
        tweet_fields = self._csv(req, "tweet.fields", TWEET_FIELDS)
        user_fields = self._csv(req, "user.fields", USER_FIELDS)
        expansions = self._csv(req, "expansions", TWEET_EXPANSIONS)
        self._csv(req, "media.fields", MEDIA_FIELDS)
        self._csv(req, "poll.fields", POLL_FIELDS)
        self._csv(req, "place.fields", PLACE_FIELDS)
        includes: dict[str, Any] = {}
        user_ids: list[str] = []
        ref_tweets: list[XTweet] = []
        for tweet in tweets:
            if "author_id" in expansions:
                user_ids.append(tweet.author_id)
            if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
                user_ids.append(tweet.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                user_ids.extend(sorted(tweet.mentioned_user_ids))
            if tweet.in_reply_to_tweet_id and tweet.in_reply_to_tweet_id in self.tweets and (
                    "referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions):
                parent = self.tweets[tweet.in_reply_to_tweet_id]
                if "referenced_tweets.id" in expansions:
                    ref_tweets.append(parent)
                if "referenced_tweets.id.author_id" in expansions:
                    user_ids.append(parent.author_id)
        users = [self.users[uid] for uid in dict.fromkeys(user_ids) if uid in self.users]
        if users:
            includes["users"] = [user.render(user_fields) for user in users]
        if ref_tweets:
            unique = {tweet.id: tweet for tweet in ref_tweets}
            includes["tweets"] = [tweet.render(tweet_fields, self.users_by_handle) for tweet in unique.values()]
        return tweet_fields, includes

    def _tweet_page(self, req: Request, candidates: list[XTweet], *, max_low: int, max_high: int,
                    max_default: int, token_params: tuple[str, ...]) -> Response:
        """Filter, paginate (newest first) and render a tweet timeline."""
        max_results = self._int_param(req, "max_results", max_low, max_high, max_default)
        since_id = self._id_param(req, "since_id")
        until_id = self._id_param(req, "until_id")
        start = self._time_param(req, "start_time")
        end = self._time_param(req, "end_time")
        token = None
        for name in token_params:
            if req.arg(name):
                token = _token_position(req.arg(name) or "", name)
        selected = []
        for tweet in candidates:
            number = int(tweet.id)
            if since_id is not None and number <= since_id:
                continue
            if until_id is not None and number >= until_id:
                continue
            # since_id/until_id take precedence over the time bounds, as documented by X.
            if since_id is None and start is not None and tweet.created_at < start:
                continue
            if until_id is None and end is not None and tweet.created_at >= end:
                continue
            if token is not None and number >= token:
                continue
            selected.append(tweet)
        page = selected[:max_results]
        tweet_fields, includes = self._tweet_includes(page, req)
        body: dict[str, Any] = {}
        if page:
            body["data"] = [tweet.render(tweet_fields, self.users_by_handle) for tweet in page]
            if includes:
                body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta = {"newest_id": page[0].id, "oldest_id": page[-1].id, "result_count": len(page)}
            if len(selected) > len(page):
                meta["next_token"] = _token_for(int(page[-1].id))
        body["meta"] = meta
        return Response.json(body)

    # -- endpoints -----------------------------------------------------------------------------

    def _users_me(self, req: Request) -> Response:
        self._check_known(req, {"user.fields", "expansions", "tweet.fields"})
        fields = self._csv(req, "user.fields", USER_FIELDS)
        self._csv(req, "expansions", USER_EXPANSIONS)
        self._csv(req, "tweet.fields", TWEET_FIELDS)
        return Response.json({"data": self.brand.render(fields)})

    def _user_not_found(self, parameter: str, value: str) -> Response:
        return Response.json({"errors": [{
            "value": value, "detail": f"Could not find user with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": "user", "parameter": parameter,
            "resource_id": value, "type": PROBLEM_NOT_FOUND,
        }]})

    def _user_by_id(self, req: Request, id: str) -> Response:
        fields = self._csv(req, "user.fields", USER_FIELDS)
        if not _ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$",
                                  {"id": [id]})
        user = self.users.get(id)
        if user is None:
            return self._user_not_found("id", id)
        return Response.json({"data": user.render(fields)})

    def _user_by_username(self, req: Request, username: str) -> Response:
        fields = self._csv(req, "user.fields", USER_FIELDS)
        user = self.users_by_handle.get(username.lower())
        if user is None:
            return self._user_not_found("username", username)
        return Response.json({"data": user.render(fields)})

    def mentions_of(self, user_id: str) -> list[XTweet]:
        """All tweets mentioning ``user_id``, newest first (not capped)."""
        found = [tweet for tweet in self.tweets.values() if user_id in tweet.mentioned_user_ids]
        found.sort(key=lambda tweet: int(tweet.id), reverse=True)
        return found

    def _mentions(self, req: Request, id: str) -> Response:
        self._check_known(req, {
            "since_id", "until_id", "max_results", "pagination_token", "start_time", "end_time", "tweet.fields",
            "expansions", "media.fields", "poll.fields", "user.fields", "place.fields",
        })
        if not _ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$",
                                  {"id": [id]})
        if id not in self.users:
            return self._user_not_found("id", id)
        reachable = self.mentions_of(id)[:MENTIONS_REACHABLE]
        return self._tweet_page(req, reachable, max_low=5, max_high=100, max_default=10,
                                token_params=("pagination_token",))

    def _search_recent(self, req: Request) -> Response:
        self._check_known(req, {
            "query", "start_time", "end_time", "since_id", "until_id", "max_results", "next_token",
            "pagination_token", "sort_order", "tweet.fields", "expansions", "media.fields", "poll.fields",
            "user.fields", "place.fields",
        })
        query = req.arg("query")
        if not query:
            raise invalid_request("The `query` query parameter can not be empty", {"query": [query or ""]})
        matcher = self._compile_query(query)
        horizon = self._now() - SEARCH_RECENT_DAYS * 86400
        tweets = [tweet for tweet in self.tweets.values() if tweet.created_at >= horizon and matcher(tweet)]
        tweets.sort(key=lambda tweet: int(tweet.id), reverse=True)
        return self._tweet_page(req, tweets, max_low=10, max_high=100, max_default=10,
                                token_params=("next_token", "pagination_token"))

    def _compile_query(self, query: str) -> Callable[[XTweet], bool]:
        """AND of terms: from:, to:, conversation_id:, in_reply_to_tweet_id:, is:reply, @x, #x, words, -negation."""
        try:
            terms = shlex.split(query)
        except ValueError:
            raise invalid_request(f"There were errors processing your request: unbalanced quotes in [{query}]",
                                  {"query": [query]}) from None
        checks: list[Callable[[XTweet], bool]] = []
        for term in terms:
            negate = term.startswith("-") and len(term) > 1
            body = term[1:] if negate else term
            check = self._term_check(body, query)
            checks.append((lambda c: lambda t: not c(t))(check) if negate else check)
        return lambda tweet: all(check(tweet) for check in checks)

    def _term_check(self, term: str, query: str) -> Callable[[XTweet], bool]:
        lowered = term.lower()
        if term in ("OR", "AND") or term.startswith("(") or term.endswith(")"):
            raise invalid_request(
                f"There were errors processing your request: the sandbox supports only space-separated (AND) "
                f"terms, not [{term}]", {"query": [query]})
        if ":" in term and not term.startswith(("http:", "https:")):
            operator, _, value = term.partition(":")
            operator = operator.lower()
            if operator == "from":
                handle = value.lstrip("@").lower()
                return lambda t: self.users[t.author_id].username.lower() == handle
            if operator == "to":
                handle = value.lstrip("@").lower()
                return lambda t: t.in_reply_to_user_id is not None and \
                    self.users.get(t.in_reply_to_user_id, self.brand).username.lower() == handle
            if operator == "conversation_id":
                return lambda t: t.conversation_id == value
            if operator == "in_reply_to_tweet_id" or operator == "in_reply_to_status_id":
                return lambda t: t.in_reply_to_tweet_id == value
            if operator == "lang":
                return lambda t: t.lang == value
            if operator == "is":
                if value == "reply":
                    return lambda t: t.in_reply_to_tweet_id is not None
                if value in ("retweet", "quote", "verified"):
                    return lambda t: value == "verified" and self.users[t.author_id].verified
                raise invalid_request(f"There were errors processing your request: unknown operator [is:{value}]",
                                      {"query": [query]})
            if operator == "has":
                if value == "mentions":
                    return lambda t: bool(_MENTION_RE.search(t.text))
                if value == "hashtags":
                    return lambda t: bool(_HASHTAG_RE.search(t.text))
                return lambda t: False
            raise invalid_request(
                f"There were errors processing your request: the sandbox does not support the operator "
                f"[{operator}:]", {"query": [query]})
        if lowered.startswith("@"):
            return lambda t: any(m.group(1).lower() == lowered[1:] for m in _MENTION_RE.finditer(t.text))
        if lowered.startswith("#"):
            return lambda t: any(m.group(1).lower() == lowered[1:] for m in _HASHTAG_RE.finditer(t.text))
        return lambda t: lowered in t.text.lower()

    def _tweet_not_found(self, value: str, parameter: str = "id") -> dict[str, Any]:
        return {
            "value": value, "detail": f"Could not find tweet with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": "tweet", "parameter": parameter,
            "resource_id": value, "type": PROBLEM_NOT_FOUND,
        }

    def _tweet_by_id(self, req: Request, id: str) -> Response:
        if not _ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$",
                                  {"id": [id]})
        tweet = self.tweets.get(id)
        if tweet is None:
            self._tweet_includes([], req)
            return Response.json({"errors": [self._tweet_not_found(id)]})
        fields, includes = self._tweet_includes([tweet], req)
        body: dict[str, Any] = {"data": tweet.render(fields, self.users_by_handle)}
        if includes:
            body["includes"] = includes
        return Response.json(body)

    def _tweets_by_ids(self, req: Request) -> Response:
        raw = req.arg("ids") or ""
        ids = [value.strip() for value in raw.split(",") if value.strip()]
        if not ids or len(ids) > 100 or not all(_ID_RE.match(value) for value in ids):
            raise invalid_request(f"The `ids` query parameter value [{raw}] is not 1 to 100 tweet ids",
                                  {"ids": [raw]})
        found = [self.tweets[value] for value in ids if value in self.tweets]
        fields, includes = self._tweet_includes(found, req)
        body: dict[str, Any] = {}
        if found:
            body["data"] = [tweet.render(fields, self.users_by_handle) for tweet in found]
        if includes:
            body["includes"] = includes
        missing = [self._tweet_not_found(value, "ids") for value in ids if value not in self.tweets]
        if missing:
            body["errors"] = missing
        return Response.json(body)

    def _json_body(self, req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise XApiError(Response.json(_problem(
                400, "Invalid Request", "Request body is not valid JSON.", PROBLEM_INVALID), status=400)) from None
        if not isinstance(body, dict):
            raise XApiError(Response.json(_problem(
                400, "Invalid Request", "Request body must be a JSON object.", PROBLEM_INVALID), status=400))
        return body

    def _create_tweet(self, req: Request) -> Response:
        body = self._json_body(req)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise XApiError(Response.json({
                "errors": [{"message": "$.text: is missing but it is required"}],
                "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                "type": PROBLEM_INVALID,
            }, status=400))
        if len(text) > MAX_TWEET_LENGTH:
            raise XApiError(Response.json(_problem(
                403, "Forbidden", "Your Tweet text is too long. For more information on how X determines text "
                "length see https://github.com/twitter/twitter-text."), status=403))
        reply = body.get("reply") or {}
        in_reply_to = str(reply.get("in_reply_to_tweet_id")) if reply.get("in_reply_to_tweet_id") else None
        full_text = text
        prefix = ""
        if in_reply_to:
            parent = self.tweets.get(in_reply_to)
            if parent is None:
                raise XApiError(Response.json(_problem(
                    403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not visible to you."),
                    status=403))
            parent_author = self.users[parent.author_id]
            # X auto-populates the @mention of the author replied to (outside display_text_range).
            if parent_author.id != self.brand.id and not re.match(
                    rf"@{re.escape(parent_author.username)}(?![A-Za-z0-9_])", text, re.IGNORECASE):
                prefix = f"@{parent_author.username} "
                full_text = prefix + text
        if self.duplicate_check and any(
                tweet.author_id == self.brand.id and tweet.text == full_text for tweet in self.tweets.values()):
            raise XApiError(Response.json(_problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."), status=403))
        tweet = self._new_tweet(self.brand, full_text, at=None, in_reply_to=in_reply_to)
        tweet.display_start = len(prefix)
        self.posted.append({
            "kind": "reply" if in_reply_to else "tweet", "id": tweet.id, "text": tweet.text,
            "in_reply_to": in_reply_to, "conversation_id": tweet.conversation_id,
            "in_reply_to_user_id": tweet.in_reply_to_user_id, "created_at": iso(tweet.created_at),
        })
        log.debug("x sandbox: brand posted tweet %s in reply to %s", tweet.id, in_reply_to)
        return Response.json({"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}},
                             status=201)

    def _create_dm(self, req: Request, participant_id: str) -> Response:
        body = self._json_body(req)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("$.text: is missing but it is required", {"text": [""]})
        if len(text) > 10_000:
            raise invalid_request("$.text: must be at most 10000 characters long", {"text": [text[:20]]})
        recipient = self.users.get(participant_id)
        if recipient is None or recipient.id == self.brand.id:
            raise invalid_request(f"The `participant_id` value [{participant_id}] is not a user you can message",
                                  {"participant_id": [participant_id]})
        if not recipient.receives_your_dm:
            raise XApiError(Response.json(_problem(
                403, "Forbidden", "You cannot send messages to users who are not following you."), status=403))
        now = self._now()
        event = XDmEvent(id=self._dm_ids.next(now), sender_id=self.brand.id, recipient_id=recipient.id,
                         text=text, created_at=now)
        self.dm_events[event.id] = event
        answered = [dm for dm in self.dm_events.values() if dm.sender_id == recipient.id]
        answered.sort(key=lambda dm: int(dm.id))
        self.posted.append({
            "kind": "dm", "id": event.id, "text": text, "recipient_id": recipient.id,
            "dm_conversation_id": event.dm_conversation_id,
            "in_reply_to": answered[-1].id if answered else None, "created_at": iso(now),
        })
        return Response.json({"data": {"dm_conversation_id": event.dm_conversation_id, "dm_event_id": event.id}},
                             status=201)

    def _dm_page(self, req: Request, events: list[XDmEvent]) -> Response:
        self._check_known(req, {
            "max_results", "pagination_token", "event_types", "dm_event.fields", "expansions", "media.fields",
            "user.fields", "tweet.fields",
        })
        max_results = self._int_param(req, "max_results", 1, 100, 100)
        event_types = self._csv(req, "event_types", DM_EVENT_TYPES) or set(DM_EVENT_TYPES)
        fields = self._csv(req, "dm_event.fields", DM_EVENT_FIELDS)
        expansions = self._csv(req, "expansions", DM_EXPANSIONS)
        user_fields = self._csv(req, "user.fields", USER_FIELDS)
        self._csv(req, "tweet.fields", TWEET_FIELDS)
        self._csv(req, "media.fields", MEDIA_FIELDS)
        token_raw = req.arg("pagination_token")
        token = _token_position(token_raw, "pagination_token") if token_raw else None
        horizon = self._now() - DM_RETENTION_DAYS * 86400
        selected = [
            event for event in sorted(events, key=lambda e: int(e.id), reverse=True)
            if event.event_type in event_types and event.created_at >= horizon
            and (token is None or int(event.id) < token)
        ]
        page = selected[:max_results]
        body: dict[str, Any] = {}
        if page:
            body["data"] = [event.render(fields) for event in page]
            user_ids: list[str] = []
            for event in page:
                if "sender_id" in expansions:
                    user_ids.append(event.sender_id)
                if "participant_ids" in expansions:
                    user_ids.extend([event.sender_id, event.recipient_id])
            users = [self.users[uid] for uid in dict.fromkeys(user_ids) if uid in self.users]
            if users:
                body["includes"] = {"users": [user.render(user_fields) for user in users]}
        meta: dict[str, Any] = {"result_count": len(page)}
        if len(selected) > len(page):
            meta["next_token"] = _token_for(int(page[-1].id))
        body["meta"] = meta
        return Response.json(body)

    def _dm_events(self, req: Request) -> Response:
        return self._dm_page(req, list(self.dm_events.values()))

    def _dm_events_with(self, req: Request, participant_id: str) -> Response:
        return self._dm_page(req, [
            event for event in self.dm_events.values() if participant_id in (event.sender_id, event.recipient_id)
        ])

    def _dm_events_conversation(self, req: Request, dm_conversation_id: str) -> Response:
        return self._dm_page(req, [
            event for event in self.dm_events.values() if event.dm_conversation_id == dm_conversation_id
        ])

    # -- faults --------------------------------------------------------------------------------

    def _route_key(self, method: str, path: str) -> str | None:
        for route in ROUTES:
            if route.method == method and route.pattern.match(path):
                return route.key
        return None

    def fault_response(self, kind: str, *, seconds: float | None = None, method: str = "GET", path: str = "",
                       options: dict[str, Any] | None = None) -> Response | None:
        """X-shaped responses for injected faults (timeouts and disconnects are the server's job)."""
        if kind == "429":
            key = self._route_key(method, path)
            limit = self.limits.peek(key).limit if key else 300
            if seconds is not None:
                reset = self._now() + seconds
            elif key:
                reset = self.limits.peek(key).reset_at
            else:
                reset = self._now() + WINDOW
            decision = Decision(False, limit, 0, reset)
            return self._finish(Response.json(_problem(429, "Too Many Requests", "Too Many Requests"), status=429),
                                decision)
        if kind == "401":
            return self._finish(Response.json(_problem(401, "Unauthorized", "Unauthorized"), status=401))
        if kind == "403":
            return self._finish(Response.json(self._client_forbidden(), status=403))
        if kind == "500":
            return self._finish(Response.json(_problem(500, "Internal Server Error", "Internal Server Error"),
                                              status=500))
        if kind == "503":
            return self._finish(Response.json(_problem(503, "Service Unavailable", "Service Unavailable"),
                                              status=503))
        if kind == "malformed":
            body = b'{"data":[{"id":"1580000000000000123","text":"@SandboxBrand this respo'
            return self._finish(Response(200, body, Response.json({}).headers))
        return None

    # -- control API ---------------------------------------------------------------------------

    def timeline(self) -> dict[str, Any]:
        """Everything, for the web view and scripts (``GET /_sandbox/x/timeline``)."""
        with self._lock:
            all_fields = set(TWEET_FIELDS)
            user_fields = {"public_metrics", "verified", "description", "created_at"}
            replies: dict[str, list[str]] = {}
            for tweet in self.tweets.values():
                if tweet.author_id == self.brand.id and tweet.in_reply_to_tweet_id:
                    replies.setdefault(tweet.in_reply_to_tweet_id, []).append(tweet.id)

            def tweet_json(tweet: XTweet) -> dict[str, Any]:
                data = tweet.render(all_fields, self.users_by_handle)
                data["author"] = self.users[tweet.author_id].render(user_fields)
                data["replies"] = replies.get(tweet.id, [])
                return data

            mentions = self.mentions_of(self.brand.id)
            tweets = sorted(self.tweets.values(), key=lambda t: int(t.id), reverse=True)
            dms = sorted(self.dm_events.values(), key=lambda e: int(e.id), reverse=True)
            return {
                "brand": self.brand.render(user_fields),
                "mentions": [tweet_json(tweet) for tweet in mentions],
                "tweets": [tweet_json(tweet) for tweet in tweets],
                "dms": [{
                    **event.render(set(DM_EVENT_FIELDS)),
                    "sender": self.users[event.sender_id].render(user_fields),
                    "recipient": self.users[event.recipient_id].render(user_fields),
                    "from_brand": event.sender_id == self.brand.id,
                } for event in dms],
                "posted": list(reversed(self.posted)),
                "tier": self.tier,
                "rate_limits": self.limits.snapshot(),
            }

    def posted_items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self.posted]

    def set_revoked(self, revoked: bool) -> None:
        """Every X credential fails with 401 while revoked."""
        with self._lock:
            self.revoked = revoked

    def set_tier(self, tier: str) -> None:
        if tier not in TIERS:
            raise ControlError(f"tier must be one of {sorted(TIERS)}")
        with self._lock:
            self.tier = tier

    def set_rate_limit(self, endpoint: str, limit: int | None = None, window: float | None = None) -> None:
        """Change one budget (``endpoint`` as in X's docs, e.g. ``GET /2/users/:id/mentions``) or ``*`` for all."""
        keys = self.limits.keys() if endpoint in ("*", "all") else [endpoint]
        for key in keys:
            try:
                self.limits.configure(key, limit=limit, window=window)
            except KeyError:
                raise ControlError(f"unknown endpoint {endpoint!r}; known: {sorted(self.limits.keys())}") from None
            except ValueError as exc:
                raise ControlError(str(exc)) from None

    def handle_control(self, req: Request) -> Response:
        """``/_sandbox/x/...``"""
        sub = req.path[len("/_sandbox/x"):].rstrip("/") or "/"
        try:
            body = req.json() if req.body else None
        except ValueError:
            return Response.json({"error": "body is not valid JSON"}, status=400)
        try:
            return self._control(req.method, sub, body, req)
        except ControlError as exc:
            return exc.response()

    def _control(self, method: str, sub: str, body: Any, req: Request) -> Response:
        if (method, sub) == ("POST", "/mentions"):
            if isinstance(body, list):
                tweets = self.add_mentions(body)
                return Response.json({"ids": [tweet.id for tweet in tweets]}, status=201)
            tweet = self.add_mention(body or {})
            return Response.json({"id": tweet.id, "author_id": tweet.author_id,
                                  "conversation_id": tweet.conversation_id}, status=201)
        if (method, sub) == ("POST", "/mentions/bulk"):
            body = body or {}
            count = int(body.get("count", 0))
            if not 1 <= count <= 10_000:
                raise ControlError("count must be between 1 and 10000")
            text = str(body.get("text") or "sandbox mention {i}")
            author = body.get("author")
            specs = [{
                "text": text.replace("{i}", str(i)),
                "author": author if author else {"handle": f"bulk{i % 50}", "name": f"Bulk User {i % 50}"},
            } for i in range(count)]
            tweets = self.add_mentions(specs)
            return Response.json({"ids": [tweet.id for tweet in tweets]}, status=201)
        if (method, sub) == ("POST", "/tweets"):
            tweet = self.add_tweet(body or {})
            return Response.json({"id": tweet.id, "author_id": tweet.author_id,
                                  "conversation_id": tweet.conversation_id}, status=201)
        if (method, sub) == ("POST", "/dms"):
            event = self.add_dm(body or {})
            return Response.json({"id": event.id, "sender_id": event.sender_id,
                                  "dm_conversation_id": event.dm_conversation_id}, status=201)
        if (method, sub) == ("GET", "/posted"):
            return Response.json(self.posted_items())
        if (method, sub) == ("GET", "/timeline"):
            return Response.json(self.timeline())
        if (method, sub) == ("GET", "/tier"):
            return Response.json({"tier": self.tier, "tiers": sorted(TIERS)})
        if (method, sub) == ("POST", "/tier"):
            self.set_tier(str((body or {}).get("tier")))
            return Response.json({"tier": self.tier})
        if (method, sub) == ("GET", "/ratelimits"):
            return Response.json(self.limits.snapshot())
        if (method, sub) == ("POST", "/ratelimits"):
            entries = body if isinstance(body, list) else [body or {}]
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("endpoint"):
                    raise ControlError('each entry needs "endpoint" (e.g. "GET /2/users/:id/mentions" or "*")')
                self.set_rate_limit(str(entry["endpoint"]), entry.get("limit"), entry.get("window"))
            return Response.json(self.limits.snapshot())
        if (method, sub) == ("POST", "/token"):
            self.set_revoked(bool((body or {}).get("revoked", True)))
            return Response.json({"revoked": self.revoked})
        if (method, sub) == ("POST", "/settings"):
            body = body or {}
            with self._lock:
                if "duplicate_check" in body:
                    self.duplicate_check = bool(body["duplicate_check"])
            return Response.json({"duplicate_check": self.duplicate_check})
        return Response.json({"error": f"no control endpoint {method} /_sandbox/x{sub}"}, status=404)
