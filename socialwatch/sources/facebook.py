"""Facebook Page adapter: visitor posts, tags, comments and Messenger in; comment replies and
Messenger answers out, through facebook-sdk's GraphAPI.

facebook-sdk dates from 2018: its constructor rejects current Graph versions (we set the
version afterwards), it has no appsecret_proof (socialwatch.transport adds it), and it
drops response headers (a session hook keeps the usage headers that carry rate limits).
Graph paginates by cursors and offers ``since`` on every edge; we ask a few minutes
further back than the cursor, because Graph makes items visible slightly out of order,
and the store's unique key drops what we already have.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import facebook
import requests

from socialwatch.config.schema import Config, FacebookPage
from socialwatch.models import AccountCheck, Author, Item, Kind, Reject, parse_time, utcnow
from socialwatch.sources.base import (
    AuthError,
    CapabilityLost,
    Page,
    PlatformError,
    RateLimit,
    RateLimited,
    ReconcileUnknown,
    ReplyRefused,
    ReplyTarget,
    SourceError,
    probe,
    same_text,
)
from socialwatch.sources.retry import read_with_retries
from socialwatch.sources.transport import make_graph_api

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 100
MAX_PAGES = 50
RATE_LIMIT_CODES = {4, 17, 32, 613} | set(range(80001, 80015))
PERMISSION_CODES = {3, 10, 200, 230, 298}
WINDOW_CLOSED = {2018278, 2018065, 2018108, 1545041}  # Send API: outside the 24-hour window, user unavailable

T = TypeVar("T")


class UsageTap:
    """Keeps the last response's Graph usage headers per thread (facebook-sdk drops headers)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.headers = response.headers

    def usage(self) -> tuple[int | None, int]:
        """(highest usage percentage, minutes until access is regained)."""
        headers = getattr(self._local, "headers", None)
        if headers is None:
            return None, 0
        percents: list[int] = []
        regain = 0
        for name in ("x-app-usage", "x-page-usage"):
            try:
                data = json.loads(headers.get(name) or "null")
            except ValueError:
                continue
            if isinstance(data, dict):
                percents += [int(v) for v in data.values() if isinstance(v, (int, float))]
        try:
            buc = json.loads(headers.get("x-business-use-case-usage") or "null")
        except ValueError:
            buc = None
        if isinstance(buc, dict):
            for entries in buc.values():
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict):
                        percents += [
                            int(entry[k])
                            for k in ("call_count", "total_time", "total_cputime")
                            if isinstance(entry.get(k), (int, float))
                        ]
                        regain = max(regain, int(entry.get("estimated_time_to_regain_access") or 0))
        return (max(percents) if percents else None), regain

    def rate_limit(self) -> RateLimit | None:
        used, regain = self.usage()
        if used is None:
            return None
        reset = utcnow() + timedelta(minutes=regain) if regain else None
        return RateLimit(limit=100, remaining=max(0, 100 - used), reset_at=reset)


@dataclass
class PageClient:
    """One GraphAPI per configured Page, shared by its streams; its replier gets its own (build_repliers), so a
    reply never waits behind a slow poll's connection."""

    page: FacebookPage
    graph_base: str
    version: str
    timeout: float

    def __post_init__(self) -> None:
        self.graph = make_graph_api(
            self.page.page_token.get_secret_value(),
            self.graph_base,
            self.version,
            self.timeout,
            app_secret=self.page.app_secret.get_secret_value() if self.page.app_secret else None,
        )
        self.tap = UsageTap()
        self.graph.session.hooks["response"].append(self.tap)
        self.page_id = self.page.page_id

    def get(self, path: str, args: dict[str, Any], what: str) -> dict[str, Any]:
        result = self.call(lambda: self.graph.request(f"{self.graph.version}/{path}", dict(args)), what)
        if not isinstance(result, dict):
            raise PlatformError(f"{what}: malformed response (not a JSON object)")
        return result

    def follow(self, next_url: str, what: str) -> dict[str, Any]:
        """A ``paging.next`` URL, fetched through the same client (token and proof re-added)."""
        parts = urlsplit(next_url)
        args = {k: v[-1] for k, v in parse_qs(parts.query).items() if k not in ("access_token", "appsecret_proof")}
        result = self.call(lambda: self.graph.request(parts.path.lstrip("/"), args), what)
        if not isinstance(result, dict):
            raise PlatformError(f"{what}: malformed response (not a JSON object)")
        return result

    def call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return fn()
        except facebook.GraphAPIError as exc:
            raise _translate(exc, what, self.tap) from None
        except requests.Timeout:
            raise PlatformError(f"{what}: timed out after {self.timeout:g}s") from None
        except requests.ConnectionError as exc:
            raise PlatformError(f"{what}: connection failed ({type(exc).__name__})") from None
        except (ValueError, KeyError, TypeError) as exc:
            # Garbage JSON (requests' JSONDecodeError), or no content-type header at all.
            raise PlatformError(f"{what}: malformed response ({type(exc).__name__}: {str(exc)[:200]})") from None


def _translate(exc: facebook.GraphAPIError, what: str, tap: UsageTap) -> Exception:
    error = exc.result.get("error") if isinstance(exc.result, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code", exc.code)
    subcode = error.get("error_subcode")
    message = f"{what}: Graph error {code}" + (f"/{subcode}" if subcode else "") + f" ({str(exc.message)[:200]})"
    if code == 190 or code == 102:
        return AuthError(message + "; the page token is invalid or expired: issue a new one")
    if code in RATE_LIMIT_CODES:
        _, regain = tap.usage()
        return RateLimited(message, utcnow() + timedelta(minutes=regain or 5))
    if (code == 10 and subcode in WINDOW_CLOSED) or code == 551 or subcode in WINDOW_CLOSED:
        return ReplyRefused(message + "; Messenger only allows replies within 24 hours of the customer's last message")
    if code in PERMISSION_CODES:
        return CapabilityLost(message + "; the page token lacks a permission for this")
    if code in (1, 2) or error.get("is_transient"):
        return PlatformError(message, retryable=True)
    if not error:  # facebook-sdk's "Maintype was not text, image, or querystring": an HTML error page
        return PlatformError(f"{what}: unexpected response ({str(exc.message)[:200]})", retryable=True)
    return PlatformError(message, retryable=False)


def _author(obj: Any) -> Author:
    author = obj if isinstance(obj, dict) else {}
    return Author(id=str(author.get("id") or "unknown"), name=author.get("name"))


def _since_arg(cursor: str | None, since: datetime) -> int:
    start = datetime.fromtimestamp(int(cursor), UTC) - OVERLAP if cursor else since
    return int(start.timestamp())


def _ts(value: str | None) -> int | None:
    parsed = parse_time(value) if value else None
    return int(parsed.timestamp()) if parsed else None


class _Stream:
    platform = "facebook"
    stream = ""

    def __init__(self, client: PageClient, slack_channel: str | None):
        self.client = client
        self.account = client.page.name
        self.key = f"facebook:{self.account}:{self.stream}"
        self.slack_channel = slack_channel

    def _reject(self, page: Page, error: str, raw: Any) -> None:
        log.warning("%s: skipping malformed entry: %s", self.key, error)
        page.rejects.append(Reject(error, json.dumps(raw, default=str)[:100_000]))

    def _created(self, page: Page, entry: Any, what: str) -> int | None:
        """The entry's creation time (unix), or None after setting it aside when id or time is missing."""
        if not isinstance(entry, dict) or not entry.get("id"):
            self._reject(page, f"{what} without id", entry)
            return None
        created = _ts(entry.get("created_time"))
        if created is None:
            self._reject(page, f"{what} without created_time", entry)
        return created


class FacebookPosts(_Stream):
    """Visitor posts on the page (``/feed``) or posts that tag it (``/tagged``)."""

    def __init__(self, client: PageClient, slack_channel: str | None, edge: str):
        self.stream = edge
        self.edge = edge
        super().__init__(client, slack_channel)

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        c = self.client
        args = {
            "fields": "id,message,from{id,name},created_time,permalink_url",
            "limit": PAGE_SIZE,
            "since": _since_arg(cursor, since),
        }
        newest = int(cursor) if cursor else None
        result = read_with_retries(
            lambda: c.get(f"{c.page_id}/{self.edge}", args, f"GET /{{page}}/{self.edge}"), what=self.key
        )
        for _ in range(MAX_PAGES):
            page = Page(rate_limit=c.tap.rate_limit())
            for post in result.get("data") or []:
                created = self._created(page, post, "post")
                if created is None:
                    continue
                newest = max(newest or created, created)
                author = _author(post.get("from"))
                if author.id == c.page_id:
                    continue  # the page's own post
                page.items.append(
                    Item(
                        platform="facebook",
                        kind=Kind.MENTION if self.edge == "tagged" else Kind.POST,
                        native_id=str(post["id"]),
                        account=self.account,
                        author=author,
                        text=str(post.get("message") or ""),
                        created_at=datetime.fromtimestamp(created, UTC),
                        url=post.get("permalink_url"),
                        conversation_id=str(post["id"]),
                        public=True,
                        raw=post,
                    )
                )
            next_url = (result.get("paging") or {}).get("next")
            if not next_url:
                page.cursor = str(newest) if newest is not None else cursor
                yield page
                return
            yield page
            result = read_with_retries(lambda: c.follow(next_url, f"GET /{{page}}/{self.edge} (next)"), what=self.key)
        yield Page(cursor=str(newest) if newest is not None else cursor)


class FacebookComments(_Stream):
    """Comments and replies to comments on the page's recent posts, new since the cursor."""

    stream = "comments"

    def __init__(self, client: PageClient, slack_channel: str | None, window: timedelta):
        super().__init__(client, slack_channel)
        self.window = window

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        c = self.client
        comment_since = _since_arg(cursor, since)
        comment_fields = "id,message,from{id,name},created_time,parent{id},permalink_url"
        args = {
            "fields": f"id,comments.filter(stream).order(reverse_chronological).since({comment_since})"
            f".limit({PAGE_SIZE}){{{comment_fields}}}",
            "limit": 50,
            "since": int((utcnow() - self.window).timestamp()),
        }
        newest = int(cursor) if cursor else None
        result = read_with_retries(
            lambda: c.get(f"{c.page_id}/feed", args, "GET /{page}/feed (comments)"), what=self.key
        )
        for _ in range(MAX_PAGES):
            page = Page(rate_limit=c.tap.rate_limit())
            for post in result.get("data") or []:
                if not isinstance(post, dict) or not post.get("id"):
                    self._reject(page, "post without id", post)
                    continue
                comments = post.get("comments") or {}
                for _ in range(MAX_PAGES):
                    for comment in comments.get("data") or []:
                        newest = self._add(page, comment, str(post["id"]), newest)
                    more = (comments.get("paging") or {}).get("next")
                    if not more:
                        break
                    comments = read_with_retries(lambda: c.follow(more, "GET /{post}/comments (next)"), what=self.key)
            next_url = (result.get("paging") or {}).get("next")
            if not next_url:
                page.cursor = str(newest) if newest is not None else cursor
                yield page
                return
            yield page
            result = read_with_retries(lambda: c.follow(next_url, "GET /{page}/feed (next)"), what=self.key)
        yield Page(cursor=str(newest) if newest is not None else cursor)

    def _add(self, page: Page, comment: Any, post_id: str, newest: int | None) -> int | None:
        created = self._created(page, comment, "comment")
        if created is None:
            return newest
        newest = max(newest or created, created)
        author = _author(comment.get("from"))
        if author.id == self.client.page_id:
            return newest  # the page's own replies are echoes
        parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else {}
        page.items.append(
            Item(
                platform="facebook",
                kind=Kind.COMMENT,
                native_id=str(comment["id"]),
                account=self.account,
                author=author,
                text=str(comment.get("message") or ""),
                created_at=datetime.fromtimestamp(created, UTC),
                url=comment.get("permalink_url"),
                conversation_id=post_id,
                in_reply_to=str(parent.get("id") or post_id),
                public=True,
                raw=comment,
            )
        )
        return newest


class FacebookMessenger(_Stream):
    """New Messenger messages: conversations come most recently updated first."""

    stream = "messenger"

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        c = self.client
        floor = _since_arg(cursor, since)
        args = {
            "platform": "messenger",
            "limit": 25,
            "fields": "id,updated_time,messages.limit(25){id,message,from{id,name},created_time}",
        }
        newest = int(cursor) if cursor else None
        result = read_with_retries(
            lambda: c.get(f"{c.page_id}/conversations", args, "GET /{page}/conversations"), what=self.key
        )
        for _ in range(MAX_PAGES):
            page = Page(rate_limit=c.tap.rate_limit())
            done = False
            for conversation in result.get("data") or []:
                if not isinstance(conversation, dict) or not conversation.get("id"):
                    self._reject(page, "conversation without id", conversation)
                    continue
                updated = _ts(conversation.get("updated_time"))
                if updated is not None and updated < floor:
                    done = True  # everything after this was updated earlier still
                    break
                newest = self._messages(page, conversation, floor, newest)
            next_url = (result.get("paging") or {}).get("next")
            if done or not next_url:
                page.cursor = str(newest) if newest is not None else cursor
                yield page
                return
            yield page
            result = read_with_retries(lambda: c.follow(next_url, "GET /{page}/conversations (next)"), what=self.key)
        yield Page(cursor=str(newest) if newest is not None else cursor)

    def _messages(self, page: Page, conversation: dict[str, Any], floor: int, newest: int | None) -> int | None:
        c = self.client
        messages = conversation.get("messages") or {}
        for _ in range(MAX_PAGES):
            oldest_in_page = None
            for message in messages.get("data") or []:
                created = self._created(page, message, "message")
                if created is None:
                    continue
                oldest_in_page = created if oldest_in_page is None else min(oldest_in_page, created)
                if created < floor:
                    continue
                newest = max(newest or created, created)
                author = _author(message.get("from"))
                if author.id == c.page_id:
                    continue
                page.items.append(
                    Item(
                        platform="facebook",
                        kind=Kind.DM,
                        native_id=str(message["id"]),
                        account=self.account,
                        author=author,
                        text=str(message.get("message") or ""),
                        created_at=datetime.fromtimestamp(created, UTC),
                        conversation_id=str(conversation["id"]),
                        public=False,
                        raw=message,
                    )
                )
            more = (messages.get("paging") or {}).get("next")
            if not more or (oldest_in_page is not None and oldest_in_page < floor):
                return newest
            messages = read_with_retries(lambda: c.follow(more, "GET /{conversation}/messages (next)"), what=self.key)
        return newest


class FacebookReplier:
    platform = "facebook"

    def __init__(self, client: PageClient):
        self.client = client
        self.account = client.page.name

    def send_reply(self, target: ReplyTarget, text: str) -> str:
        c = self.client
        version = c.graph.version
        if target.privately:
            from socialwatch.sources import private_replies

            return private_replies.send_private_reply(c, target, text, "Facebook")
        if target.kind == Kind.DM.value:
            result = c.call(
                lambda: c.graph.request(
                    f"{version}/{c.page_id}/messages",
                    post_args={
                        "recipient": json.dumps({"id": target.author_id}),
                        "messaging_type": "RESPONSE",
                        "message": json.dumps({"text": text}),
                    },
                ),
                "POST /{page}/messages",
            )
            reply_id = result.get("message_id") if isinstance(result, dict) else None
        else:
            result = c.call(
                lambda: c.graph.request(f"{version}/{target.native_id}/comments", post_args={"message": text}),
                "POST /{object}/comments",
            )
            reply_id = result.get("id") if isinstance(result, dict) else None
        if not reply_id:
            raise ReconcileUnknown("Facebook accepted the request but returned no id")
        return str(reply_id)

    def find_reply(self, target: ReplyTarget, text: str, since: datetime) -> str | None:
        c = self.client
        if target.privately:
            from socialwatch.sources import private_replies

            return private_replies.find_private_reply(c, target, text, since, platform="facebook", brand_id=c.page_id)
        try:
            if target.kind == Kind.DM.value:
                if not target.conversation_id:
                    raise ReconcileUnknown("no conversation id stored for this message")
                result = c.get(
                    f"{target.conversation_id}/messages",
                    {"fields": "id,message,from{id},created_time", "limit": 50},
                    "GET /{conversation}/messages",
                )
                entries = result.get("data") or []
            else:
                result = c.get(
                    f"{target.native_id}/comments",
                    {
                        "fields": "id,message,from{id},created_time",
                        "filter": "stream",
                        "order": "reverse_chronological",
                        "limit": 100,
                    },
                    "GET /{object}/comments",
                )
                entries = result.get("data") or []
        except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
            raise ReconcileUnknown(f"could not check Facebook for an earlier reply: {exc}") from None
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            created = parse_time(entry.get("created_time")) if entry.get("created_time") else None
            if (
                _author(entry.get("from")).id == c.page_id
                and created is not None
                and created >= since - timedelta(seconds=60)
                and same_text(str(entry.get("message") or ""), text)
            ):
                return str(entry.get("id"))
        return None


def _clients(config: Config) -> dict[str, PageClient]:
    return {
        page.name: PageClient(
            page, config.facebook.graph_base, config.facebook.graph_version, config.daemon.http_timeout
        )
        for page in config.facebook.pages
    }


def build(config: Config) -> list[Any]:
    sources: list[Any] = []
    clients = _clients(config)
    for page in config.facebook.pages:
        client = clients[page.name]
        if page.posts:
            sources.append(FacebookPosts(client, page.slack_channel, "feed"))
        if page.tagged:
            sources.append(FacebookPosts(client, page.slack_channel, "tagged"))
        if page.comments:
            sources.append(FacebookComments(client, page.slack_channel, timedelta(days=page.comment_window_days)))
        if page.messenger:
            sources.append(FacebookMessenger(client, page.slack_channel))
    return sources


def build_repliers(config: Config) -> dict[tuple[str, str], FacebookReplier]:
    return {("facebook", name): FacebookReplier(client) for name, client in _clients(config).items()}


def check(config: Config) -> list[AccountCheck]:
    """`socialwatch check` for every configured account: a real call, and a probe per optional capability."""
    rows = []
    for page in config.facebook.pages:
        client = PageClient(page, config.facebook.graph_base, config.facebook.graph_version, config.daemon.http_timeout)
        try:
            me = client.get("me", {"fields": "id,name"}, "GET /me")
        except SourceError as exc:
            rows.append(AccountCheck("facebook", page.name, False, str(exc)))
            continue
        detail = f"{me.get('name', '?')} (id {me.get('id', '?')})"
        if str(me.get("id")) != page.page_id:
            rows.append(
                AccountCheck(
                    "facebook", page.name, False, f"the token belongs to {detail}, not to page_id {page.page_id}"
                )
            )
            continue
        row = AccountCheck(
            "facebook",
            page.name,
            True,
            detail,
            [
                name
                for name, wanted in (("posts", page.posts), ("tagged", page.tagged), ("comments", page.comments))
                if wanted
            ]
            + ["comment replies"],
        )
        if page.messenger:
            ok, why = probe(
                lambda: client.get(
                    f"{page.page_id}/conversations", {"platform": "messenger", "limit": 1}, "GET /{page}/conversations"
                )
            )
            (row.capabilities if ok else row.missing).append("messenger" if ok else f"messenger: {why}")
        rows.append(row)
    return rows
