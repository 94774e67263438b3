"""X (Twitter) adapter: mentions and DMs in, replies and DMs out, through tweepy.Client.

tweepy sets no timeout and has its host hard-coded, so the client gets a session of
ours that enforces a timeout and can point at the sandbox (``[x] api_base``).
tweepy's exceptions never leave this module: they become socialwatch's own.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
import tweepy

from socialwatch.config.schema import Config, XAccount
from socialwatch.models import AccountCheck, Author, Item, Kind, Reject, parse_time
from socialwatch.sources.base import (
    AuthError,
    CapabilityLost,
    DuplicateContent,
    Page,
    PlatformError,
    RateLimit,
    RateLimited,
    ReconcileUnknown,
    ReplyTarget,
    SourceError,
    probe,
    same_text,
)
from socialwatch.sources.retry import read_with_retries
from socialwatch.sources.transport import make_session, x_rewrite

log = logging.getLogger(__name__)

PAGE_SIZE = 100
TWEET_FIELDS = [
    "id",
    "text",
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
]
USER_FIELDS = ["id", "name", "username", "public_metrics"]
# No participant_ids: X sets them only on ParticipantsJoin/Leave events; dm_conversation_id says whose chat it is.
DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]
TIMELINE_PAGES = 3  # the brand's own tweets since the attempt: 300 is far more than it posts in minutes
MAX_DM_PAGES = 50  # a safety stop: 5,000 DM events in one poll means the cursor is lost, not a busy inbox

T = TypeVar("T")


class HeaderTap:
    """Keeps the last response's headers per thread: tweepy's Response drops them, and the
    rate-limit budget lives there."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.headers = response.headers

    def rate_limit(self) -> RateLimit | None:
        headers = getattr(self._local, "headers", None)
        if headers is None or "x-rate-limit-remaining" not in headers:
            return None
        return RateLimit(
            _int(headers.get("x-rate-limit-limit")),
            _int(headers.get("x-rate-limit-remaining")),
            _reset_time(headers.get("x-rate-limit-reset")),
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reset_time(value: str | None) -> datetime | None:
    number = _int(value)
    return datetime.fromtimestamp(number, UTC) if number else None


@dataclass
class XAccountClient:
    """One tweepy client per configured account, shared by its streams; its replier gets its own
    (build_repliers), so a reply never waits behind a slow poll's connection."""

    account: XAccount
    api_base: str
    timeout: float

    def __post_init__(self) -> None:
        a = self.account
        oauth1 = [a.consumer_key, a.consumer_secret, a.access_token, a.access_token_secret]
        self.user_auth = all(oauth1)
        self.client = tweepy.Client(
            bearer_token=a.bearer_token.get_secret_value(),
            consumer_key=a.consumer_key.get_secret_value() if a.consumer_key else None,
            consumer_secret=a.consumer_secret.get_secret_value() if a.consumer_secret else None,
            access_token=a.access_token.get_secret_value() if a.access_token else None,
            access_token_secret=a.access_token_secret.get_secret_value() if a.access_token_secret else None,
            wait_on_rate_limit=False,  # a 429 pauses the source in the daemon; it never blocks a thread
        )
        self.client.session = make_session(x_rewrite(self.api_base), self.timeout)
        self.tap = HeaderTap()
        self.client.session.hooks["response"].append(self.tap)
        self._me: tuple[str, str] | None = (a.user_id, a.handle) if a.user_id and a.handle else None
        self._lock = threading.Lock()

    def me(self, *, refresh: bool = False) -> tuple[str, str]:
        """(user id, handle) of the brand account; asked once (or when ``refresh``), then remembered."""
        with self._lock:
            if self._me is None or refresh:
                response = self.call(lambda: self.client.get_me(user_auth=self.user_auth), "GET /2/users/me")
                if response.data is None:
                    raise PlatformError("GET /2/users/me returned no user", retryable=True)
                self._me = (str(response.data.id), str(response.data.username))
            return self._me

    def call(self, fn: Callable[[], T], what: str) -> T:
        """One API call with tweepy's and requests' errors translated to socialwatch's."""
        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            reset = _reset_time(exc.response.headers.get("x-rate-limit-reset")) if exc.response is not None else None
            raise RateLimited(
                f"{what}: 429 Too Many Requests", reset or datetime.now(UTC).replace(microsecond=0)
            ) from None
        except tweepy.Unauthorized as exc:
            raise AuthError(
                f"{what}: 401 Unauthorized ({_detail(exc)}); the token is invalid, expired or revoked"
            ) from None
        except tweepy.Forbidden as exc:
            if "duplicate content" in _detail(exc).lower():
                raise DuplicateContent(f"{what}: 403 Forbidden ({_detail(exc)})") from None
            raise CapabilityLost(f"{what}: 403 Forbidden ({_detail(exc)})") from None
        except tweepy.TwitterServerError as exc:
            raise PlatformError(
                f"{what}: {exc.response.status_code} server error", status=exc.response.status_code
            ) from None
        except tweepy.BadRequest as exc:
            raise PlatformError(f"{what}: 400 Bad Request ({_detail(exc)})", retryable=False, status=400) from None
        except tweepy.NotFound as exc:
            raise PlatformError(f"{what}: 404 Not Found ({_detail(exc)})", retryable=False, status=404) from None
        except tweepy.HTTPException as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise PlatformError(f"{what}: HTTP {status}", status=status) from None
        except requests.Timeout:
            raise PlatformError(f"{what}: timed out after {self.timeout:g}s") from None
        except requests.ConnectionError as exc:
            raise PlatformError(f"{what}: connection failed ({type(exc).__name__})") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # requests' JSONDecodeError is a ValueError; tweepy trips on shapes it does not expect.
            raise PlatformError(f"{what}: malformed response ({type(exc).__name__}: {str(exc)[:200]})") from None


def _detail(exc: tweepy.HTTPException) -> str:
    parts = list(exc.api_messages or []) or [m for m in (exc.api_errors or []) if isinstance(m, str)]
    return "; ".join(str(p) for p in parts)[:300] or "no detail"


def _users_by_id(includes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    for user in (includes or {}).get("users", []) or []:
        data = getattr(user, "data", user)
        if isinstance(data, dict) and data.get("id"):
            users[str(data["id"])] = data
    return users


def _author(user_id: str, users: dict[str, dict[str, Any]]) -> Author:
    user = users.get(user_id, {})
    metrics = user.get("public_metrics") or {}
    followers = metrics.get("followers_count")
    return Author(
        id=user_id,
        handle=user.get("username"),
        name=user.get("name"),
        followers=followers if isinstance(followers, int) else None,
    )


def tweet_to_item(tweet: dict[str, Any], users: dict[str, dict[str, Any]], account: str) -> Item:
    """A mention as X delivers it -> Item. ValueError when a required field is missing."""
    tweet_id, text, author_id = tweet.get("id"), tweet.get("text"), tweet.get("author_id")
    if not tweet_id or not isinstance(text, str) or not author_id:
        raise ValueError("tweet without id, text or author_id")
    created = parse_time(tweet.get("created_at"))
    if created is None:
        raise ValueError("tweet without created_at")
    author = _author(str(author_id), users)
    replied_to = next(
        (
            ref.get("id")
            for ref in tweet.get("referenced_tweets") or []
            if isinstance(ref, dict) and ref.get("type") == "replied_to"
        ),
        None,
    )
    handle = author.handle or "i"
    return Item(
        platform="x",
        kind=Kind.MENTION,
        native_id=str(tweet_id),
        account=account,
        author=author,
        text=text,
        created_at=created,
        lang=tweet.get("lang"),
        url=f"https://x.com/{handle}/status/{tweet_id}",
        conversation_id=str(tweet.get("conversation_id") or tweet_id),
        in_reply_to=replied_to,
        public=True,
        raw=tweet,
    )


def dm_to_item(event: dict[str, Any], users: dict[str, dict[str, Any]], account: str) -> Item:
    event_id, text, sender = event.get("id"), event.get("text"), event.get("sender_id")
    if not event_id or not isinstance(text, str) or not sender:
        raise ValueError("DM event without id, text or sender_id")
    created = parse_time(event.get("created_at"))
    if created is None:
        raise ValueError("DM event without created_at")
    return Item(
        platform="x",
        kind=Kind.DM,
        native_id=str(event_id),
        account=account,
        author=_author(str(sender), users),
        text=text,
        created_at=created,
        conversation_id=event.get("dm_conversation_id"),
        public=False,
        raw=event,
    )


def _is_retweet(tweet: dict[str, Any]) -> bool:
    return any(isinstance(ref, dict) and ref.get("type") == "retweeted" for ref in tweet.get("referenced_tweets") or [])


def _raw(obj: Any) -> dict[str, Any]:
    data = getattr(obj, "data", obj)
    return data if isinstance(data, dict) else {"unexpected": repr(data)[:2000]}


class XMentions:
    """Mentions of the brand: ``since_id`` paging; the cursor is the newest id of the first page,
    stored only after every page of the batch is stored."""

    platform = "x"
    stream = "mentions"

    def __init__(self, client: XAccountClient, ignore_retweets: bool, slack_channel: str | None):
        self.client = client
        self.account = client.account.name
        self.key = f"x:{self.account}:mentions"
        self.ignore_retweets = ignore_retweets
        self.slack_channel = slack_channel

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        brand_id, _ = self.client.me()
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"],
            "user_fields": USER_FIELDS,
            "user_auth": self.client.user_auth,
        }
        if cursor:
            params["since_id"] = cursor
        else:
            params["start_time"] = since.astimezone(UTC).replace(microsecond=0)
        newest: str | None = None
        token: str | None = None
        while True:
            page_params = dict(params, pagination_token=token) if token else params
            response = read_with_retries(
                lambda: self.client.call(
                    lambda: self.client.client.get_users_mentions(brand_id, **page_params),
                    f"GET /2/users/{brand_id}/mentions",
                ),
                what=f"{self.key} page",
            )
            meta = response.meta or {}
            if newest is None:
                newest = meta.get("newest_id") or cursor
            page = Page(rate_limit=self.client.tap.rate_limit())
            users = _users_by_id(response.includes)
            for tweet in response.data or []:
                raw = _raw(tweet)
                if str(raw.get("author_id")) == brand_id:
                    continue  # the brand's own post: an echo, never an alert
                if self.ignore_retweets and _is_retweet(raw):
                    continue
                try:
                    page.items.append(tweet_to_item(raw, users, self.account))
                except ValueError as exc:
                    log.warning("%s: skipping malformed tweet: %s", self.key, exc)
                    page.rejects.append(Reject(str(exc), json.dumps(raw, default=str)))
            token = meta.get("next_token")
            if not token:
                page.cursor = newest
                yield page
                return
            yield page


class XDirectMessages:
    """DMs: X offers no since_id here, so page (newest first) down to the newest event of the
    previous complete poll."""

    platform = "x"
    stream = "dms"

    def __init__(self, client: XAccountClient, slack_channel: str | None):
        self.client = client
        self.account = client.account.name
        self.key = f"x:{self.account}:dms"
        self.slack_channel = slack_channel

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        brand_id, _ = self.client.me()
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "dm_event_fields": DM_FIELDS,
            "event_types": ["MessageCreate"],
            "expansions": ["sender_id"],
            "user_fields": USER_FIELDS,
            "user_auth": self.client.user_auth,
        }
        newest: str | None = None
        token: str | None = None
        for _ in range(MAX_DM_PAGES):
            page_params = dict(params, pagination_token=token) if token else params
            response = read_with_retries(
                lambda: self.client.call(
                    lambda: self.client.client.get_direct_message_events(**page_params), "GET /2/dm_events"
                ),
                what=f"{self.key} page",
            )
            events = [_raw(e) for e in response.data or []]
            if newest is None and events:
                newest = str(events[0].get("id"))
            page = Page(rate_limit=self.client.tap.rate_limit())
            users = _users_by_id(response.includes)
            reached_known = False
            for event in events:
                event_id = str(event.get("id") or "")
                created = parse_time(event.get("created_at")) if event.get("created_at") else None
                # Stop at the cursor: the newest event of the last COMPLETE poll. Not at the first stored
                # event: after a poll that died mid-pagination, stored events sit above unstored ones.
                if (cursor and event_id and _id_le(event_id, cursor)) or (
                    cursor is None and created is not None and created < since
                ):
                    reached_known = True
                    break
                if str(event.get("sender_id")) == brand_id:
                    continue  # the brand's own messages appear in the same list
                try:
                    page.items.append(dm_to_item(event, users, self.account))
                except ValueError as exc:
                    log.warning("%s: skipping malformed DM event: %s", self.key, exc)
                    page.rejects.append(Reject(str(exc), json.dumps(event, default=str)))
            token = (response.meta or {}).get("next_token")
            if reached_known or not token:
                page.cursor = newest or cursor
                yield page
                return
            yield page
        log.warning("%s: stopped after %d pages without reaching a known event", self.key, MAX_DM_PAGES)
        yield Page(cursor=newest or cursor)


def _id_le(a: str, b: str) -> bool:
    """Snowflake ids compare as numbers."""
    try:
        return int(a) <= int(b)
    except ValueError:
        return a <= b


class XReplier:
    platform = "x"
    #: X's recent search lags the timeline (30-45 s on a bad day), and a post may be written before its answer
    #: is lost: after an attempt without a clear answer, "not found" counts only once this much has passed.
    settle = timedelta(seconds=90)

    def __init__(self, client: XAccountClient):
        self.client = client
        self.account = client.account.name

    def send_reply(self, target: ReplyTarget, text: str) -> str:
        c = self.client
        if target.kind == Kind.DM.value:
            response = c.call(
                lambda: c.client.create_direct_message(
                    participant_id=target.author_id, text=text, user_auth=c.user_auth
                ),
                f"POST /2/dm_conversations/with/{target.author_id}/messages",
            )
            data = response.data or {}
            reply_id = data.get("dm_event_id") or data.get("id")
        else:
            response = c.call(
                lambda: c.client.create_tweet(text=text, in_reply_to_tweet_id=target.native_id, user_auth=c.user_auth),
                "POST /2/tweets",
            )
            data = response.data or {}
            reply_id = data.get("id")
        if not reply_id:
            # Posted or not, we cannot tell: never retry blindly.
            raise ReconcileUnknown("X accepted the request but returned no id")
        return str(reply_id)

    def find_reply(self, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our reply with this text to this post, if X shows one. A public reply is looked for in the brand's
        own timeline (no search index, so no lag), then in the conversation (recent search); None means
        every place that answered showed none; ReconcileUnknown, that none could be read."""
        c = self.client
        errors: list[str] = []
        try:
            brand_id, handle = c.me()
            if target.kind == Kind.DM.value:
                return self._find_dm(target, text, since, brand_id)
        except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
            raise ReconcileUnknown(f"could not check X for an earlier reply: {exc}") from None
        answered = 0
        for look in (self._in_timeline, self._in_conversation):
            try:
                found = look(target, text, since, brand_id, handle)
            except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
                errors.append(str(exc))
                continue
            if found:
                return found
            answered += 1  # this place showed none; the next may still (a reply beyond the timeline's pages)
        if not answered:
            raise ReconcileUnknown(f"could not check X for an earlier reply: {'; '.join(errors)}")
        return None

    def _in_timeline(self, target: ReplyTarget, text: str, since: datetime, brand_id: str, handle: str) -> str | None:
        """GET /2/users/:id/tweets from ``since``, newest first, a few pages at most."""
        c = self.client
        token: str | None = None
        for _ in range(TIMELINE_PAGES):
            response = c.call(
                lambda: c.client.get_users_tweets(
                    brand_id,
                    start_time=since.astimezone(UTC).replace(microsecond=0),
                    tweet_fields=TWEET_FIELDS,
                    max_results=PAGE_SIZE,
                    pagination_token=token,
                    user_auth=c.user_auth,
                ),
                "GET /2/users/:id/tweets",
            )
            found = _our_reply(response.data, target, text)
            token = (response.meta or {}).get("next_token")
            if found or not token:
                return found
        return None

    def _in_conversation(
        self, target: ReplyTarget, text: str, since: datetime, brand_id: str, handle: str
    ) -> str | None:
        c = self.client
        query = f"conversation_id:{target.conversation_id or target.native_id} from:{handle}"
        response = c.call(
            lambda: c.client.search_recent_tweets(
                query, tweet_fields=TWEET_FIELDS, max_results=PAGE_SIZE, user_auth=c.user_auth
            ),
            "GET /2/tweets/search/recent",
        )
        return _our_reply(response.data, target, text)

    def _find_dm(self, target: ReplyTarget, text: str, since: datetime, brand_id: str) -> str | None:
        """Our DM with this text in *this customer's* conversation. X puts ``participant_ids`` only on
        ParticipantsJoin/Leave events, never on MessageCreate, so the conversation is what tells two
        customers apart: read the one-to-one conversation with the customer, and count an event only when
        its ``dm_conversation_id`` is that conversation's (the same template sent to someone else is not
        this customer's answer)."""
        c = self.client
        conversation = dm_conversation_id(brand_id, target.author_id)
        response = c.call(
            lambda: c.client.get_direct_message_events(
                participant_id=target.author_id,
                dm_event_fields=DM_FIELDS,
                event_types=["MessageCreate"],
                max_results=PAGE_SIZE,
                user_auth=c.user_auth,
            ),
            f"GET /2/dm_conversations/with/{target.author_id}/dm_events",
        )
        unplaced = False
        for event in (_raw(e) for e in response.data or []):
            created = parse_time(event.get("created_at")) if event.get("created_at") else None
            if not (
                str(event.get("sender_id")) == brand_id
                and created is not None
                and created >= since
                and same_text(str(event.get("text") or ""), text)
            ):
                continue
            if event.get("dm_conversation_id") == conversation:
                return str(event["id"])
            unplaced = unplaced or not event.get("dm_conversation_id")
        if unplaced:
            raise ReconcileUnknown("X returned our DM with this text without saying which conversation it is in")
        return None


def _our_reply(tweets: Any, target: ReplyTarget, text: str) -> str | None:
    for tweet in (_raw(t) for t in tweets or []):
        replied = {ref.get("id") for ref in tweet.get("referenced_tweets") or [] if isinstance(ref, dict)}
        if target.native_id in replied and same_text(tweet.get("text", ""), text):
            return str(tweet["id"])
    return None


def dm_conversation_id(user_a: str, user_b: str) -> str:
    """X's id of a one-to-one DM conversation: the two user ids, the lower first (compared as numbers)."""
    low, high = sorted((user_a, user_b), key=lambda uid: (len(uid), uid))
    return f"{low}-{high}"


def build(config: Config) -> list[Any]:
    """The streams of every configured X account."""
    sources: list[Any] = []
    clients = _clients(config)
    for account in config.x.accounts:
        client = clients[account.name]
        ignore_rt = config.triage.ignore_retweets if account.ignore_retweets is None else account.ignore_retweets
        if account.mentions:
            sources.append(XMentions(client, ignore_rt, account.slack_channel))
        if account.dms:
            sources.append(XDirectMessages(client, account.slack_channel))
    return sources


def _clients(config: Config) -> dict[str, XAccountClient]:
    return {
        account.name: XAccountClient(account, config.x.api_base, config.daemon.http_timeout)
        for account in config.x.accounts
    }


def build_repliers(config: Config) -> dict[tuple[str, str], XReplier]:
    return {("x", name): XReplier(client) for name, client in _clients(config).items()}


def check(config: Config) -> list[AccountCheck]:
    """`socialwatch check` for every configured account: a real call, and a probe per optional capability."""
    rows = []
    for account in config.x.accounts:
        client = XAccountClient(account, config.x.api_base, config.daemon.http_timeout)
        try:
            user_id, handle = client.me(refresh=True)  # a real call, even when the id is configured
        except SourceError as exc:
            rows.append(AccountCheck("x", account.name, False, str(exc)))
            continue
        row = AccountCheck("x", account.name, True, f"@{handle} (id {user_id})", ["mentions"])
        if account.dms:
            ok, why = probe(
                lambda: client.call(
                    lambda: client.client.get_direct_message_events(
                        dm_event_fields=DM_FIELDS, max_results=1, user_auth=client.user_auth
                    ),
                    "GET /2/dm_events",
                )
            )
            (row.capabilities if ok else row.missing).append("dms" if ok else f"dms: {why}")
        row.capabilities.append("replies")
        rows.append(row)
    return rows
