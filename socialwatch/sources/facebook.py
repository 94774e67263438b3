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
    RateLimited,
    ReconcileUnknown,
    ReplyTarget,
    SourceError,
    probe,
    same_text,
)
from socialwatch.sources.graph import (
    COMMENT_ATTACHMENT_FIELDS,
    MESSAGE_ATTACHMENT_FIELDS,
    POST_ATTACHMENT_FIELDS,
    UsageTap,
    anonymous_author,
    attachments_of,
    author_of,
    is_page_own,
    translate_error,
)
from socialwatch.sources.retry import read_with_retries
from socialwatch.sources.transport import make_graph_api

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 100
MAX_PAGES = 50

T = TypeVar("T")


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
            raise translate_error(exc, what, self.tap) from None
        except requests.Timeout:
            raise PlatformError(f"{what}: timed out after {self.timeout:g}s") from None
        except requests.ConnectionError as exc:
            raise PlatformError(f"{what}: connection failed ({type(exc).__name__})") from None
        except (ValueError, KeyError, TypeError) as exc:
            # Garbage JSON (requests' JSONDecodeError), or no content-type header at all.
            raise PlatformError(f"{what}: malformed response ({type(exc).__name__}: {str(exc)[:200]})") from None


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
            "fields": f"id,message,from{{id,name}},admin_creator,created_time,permalink_url,{POST_ATTACHMENT_FIELDS}",
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
                if is_page_own(post, c.page_id):
                    continue  # the page's own post
                page.items.append(
                    Item(
                        platform="facebook",
                        kind=Kind.MENTION if self.edge == "tagged" else Kind.POST,
                        native_id=str(post["id"]),
                        account=self.account,
                        author=author_of(post),
                        text=str(post.get("message") or ""),
                        attachments=attachments_of(post),
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
        comment_fields = (
            "id,message,from{id,name},admin_creator,created_time,parent{id},permalink_url," + COMMENT_ATTACHMENT_FIELDS
        )
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
        if is_page_own(comment, self.client.page_id):
            return newest  # the page's own replies are echoes
        parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else {}
        page.items.append(
            Item(
                platform="facebook",
                kind=Kind.COMMENT,
                native_id=str(comment["id"]),
                account=self.account,
                author=author_of(comment),
                text=str(comment.get("message") or ""),
                attachments=attachments_of(comment),
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
            "fields": "id,updated_time,participants,"
            f"messages.limit(25){{id,message,from{{id,name}},to{{id}},created_time,{MESSAGE_ATTACHMENT_FIELDS}}}",
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
                author = self._sender(message, conversation)
                if author is None:
                    continue  # the page's own message
                page.items.append(
                    Item(
                        platform="facebook",
                        kind=Kind.DM,
                        native_id=str(message["id"]),
                        account=self.account,
                        author=author,
                        text=str(message.get("message") or ""),
                        attachments=attachments_of(message),
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

    def _sender(self, message: dict[str, Any], conversation: dict[str, Any]) -> Author | None:
        """Who wrote ``message``; None when the page did. Without ``from``, a message *to* the page is the
        other participant's (the one a reply must reach); with neither, a person of its own."""
        page_id = self.client.page_id
        if is_page_own(message, page_id):
            return None
        author = author_of(message)
        if not author.anonymous:
            return author
        to_ids = {str(p.get("id")) for p in (message.get("to") or {}).get("data") or [] if isinstance(p, dict)}
        if to_ids and page_id not in to_ids:
            return None  # written to someone else than the page: by the page
        if page_id in to_ids:
            for person in (conversation.get("participants") or {}).get("data") or []:
                if isinstance(person, dict) and person.get("id") and str(person["id"]) != page_id:
                    return Author(id=str(person["id"]), name=person.get("name"))
        return anonymous_author(str(message.get("id") or ""))


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
                    {"fields": "id,message,from{id},to{id},created_time", "limit": 50},
                    "GET /{conversation}/messages",
                )
                entries = result.get("data") or []
            else:
                result = c.get(
                    f"{target.native_id}/comments",
                    {
                        "fields": "id,message,from{id},admin_creator,created_time",
                        "filter": "stream",
                        "order": "reverse_chronological",
                        "limit": 100,
                    },
                    "GET /{object}/comments",
                )
                entries = result.get("data") or []
        except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
            raise ReconcileUnknown(f"could not check Facebook for an earlier reply: {exc}") from None
        unsure = False
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            created = parse_time(entry.get("created_time")) if entry.get("created_time") else None
            if not (
                created is not None
                and created >= since - timedelta(seconds=60)
                and same_text(str(entry.get("message") or ""), text)
            ):
                continue
            ours = _written_by_page(entry, c.page_id)
            if ours:
                return str(entry.get("id"))
            unsure = unsure or ours is None
        if unsure:
            # Our text, but Graph withheld who wrote it: a person must look, never a blind resend.
            raise ReconcileUnknown("Facebook shows this text without saying who wrote it")
        return None


def _written_by_page(entry: dict[str, Any], page_id: str) -> bool | None:
    """True when the page wrote ``entry``, False when someone else did, None when Graph does not say."""
    if is_page_own(entry, page_id):
        return True
    if not author_of(entry).anonymous:
        return False
    to_ids = {str(p.get("id")) for p in (entry.get("to") or {}).get("data") or [] if isinstance(p, dict)}
    if to_ids:
        return page_id not in to_ids  # a message to someone else than the page is the page's
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
