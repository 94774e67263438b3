"""The X emulator's vocabulary and records: endpoints and budgets, tiers, field names, users, tweets, DMs.

Endpoint keys are X's own notation (``GET /2/users/:id/mentions``); the field and
expansion lists are those of X's published OpenAPI document (2.166), so a request naming
anything else is refused as X refuses it. Each record renders itself with the fields a
request asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    "GET /2/users/:id/tweets": (900, WINDOW),
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
    "free": DM_ENDPOINTS
    | {
        "GET /2/tweets/search/recent",
        "GET /2/tweets",
        "GET /2/tweets/:id",
        "GET /2/users/:id",
        "GET /2/users/by/username/:username",
    },
}

TWEET_FIELDS = (
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "matched_media_notes",
    "media_metadata",
    "non_public_metrics",
    "note_request_suggestions",
    "note_tweet",
    "organic_metrics",
    "paid_partnership",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "suggested_source_links",
    "suggested_source_links_with_counts",
    "text",
    "withheld",
)
USER_FIELDS = (
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
)
DM_EVENT_FIELDS = (
    "attachments",
    "created_at",
    "dm_conversation_id",
    "entities",
    "event_type",
    "id",
    "participant_ids",
    "referenced_tweets",
    "sender_id",
    "text",
)
TWEET_EXPANSIONS = (
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
)
USER_EXPANSIONS = ("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")
DM_EXPANSIONS = ("attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id")
DM_EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
MEDIA_FIELDS = (
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
)
POLL_FIELDS = ("duration_minutes", "end_datetime", "id", "options", "voting_status")
PLACE_FIELDS = ("contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type")

MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{1,15})")
HASHTAG_RE = re.compile(r"(?<![A-Za-z0-9_&])#(\w+)")
ID_RE = re.compile(r"^[0-9]{1,19}$")
HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def iso(ts: float) -> str:
    """X's timestamp format: millisecond precision, Z."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
                "followers_count": self.followers,
                "following_count": self.following,
                "tweet_count": self.tweet_count,
                "listed_count": self.listed,
                "like_count": self.likes,
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
        for match in MENTION_RE.finditer(self.text):
            entry: dict[str, Any] = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            user = users_by_handle.get(match.group(1).lower())
            if user:
                entry["id"] = user.id
            mentions.append(entry)
        if mentions:
            found["mentions"] = mentions
        hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in HASHTAG_RE.finditer(self.text)]
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
                    "retweet_count": 0,
                    "reply_count": 0,
                    "like_count": 0,
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": 0,
                    **self.metrics,
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
                    "edits_remaining": 5,
                    "is_edit_eligible": True,
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
