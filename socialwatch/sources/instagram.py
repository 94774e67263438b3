"""Instagram adapter: comments (with their replies) on the professional account's recent media, media that
tag it, and its DMs in, through facebook-sdk's GraphAPI and the linked Page's token.

Instagram is the Graph API reached through the Facebook Page its professional account is linked
to, so each account uses a page client (``sources.facebook.PageClient``: version set after
construction, ``appsecret_proof``, usage headers, Graph's errors translated). Three streams:

- ``comments``: ``GET /{ig-user-id}/media`` of the last ``comment_window_days`` with their
  ``comments_count`` (so an idle poll costs one request), then ``/{ig-media-id}/comments`` with the
  replies expanded for each media whose count changed, and for every media once an hour (a deletion
  can hide an arrival in the count). Instagram's comment edges take no ``since``: the adapter keeps
  what is newer than its cursor (minus the usual overlap); the store's unique key drops the rest.
  The cursor is JSON: the newest comment's time, the counts and the last sweep.
- ``mentions``: ``GET /{ig-user-id}/tags`` (media that tag the account), newest first, read down
  to the cursor. Caption @mentions without a tag reach apps only by webhook.
- ``dms``: the page's ``conversations?platform=instagram``, most recently updated first.

The brand's own comments and messages are echoes, never items; a comment whose author Graph does
not show is a person of its own (``sources.graph.anonymous_author``), never merged with another; a
DM's attachments are read as on Messenger (``sources.graph.attachments_of``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from socialwatch.config.instagram import InstagramAccount
from socialwatch.config.schema import Config, FacebookPage
from socialwatch.models import AccountCheck, Author, Item, Kind, Reject, parse_time, utcnow
from socialwatch.sources.base import Page, SourceError, probe
from socialwatch.sources.facebook import PageClient
from socialwatch.sources.graph import MESSAGE_ATTACHMENT_FIELDS, attachments_of, author_of
from socialwatch.sources.retry import read_with_retries

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)  # Graph makes items visible slightly out of order (as on Facebook)
MEDIA_PAGE = 25
COMMENT_PAGE = 50
MAX_PAGES = 50
MEDIA_QUERY = "id,timestamp,permalink,comments_count"
_COMMENT_FIELDS = "id,text,timestamp,from{id,username},username,parent_id"
COMMENTS_QUERY = f"{_COMMENT_FIELDS},replies.limit({COMMENT_PAGE}){{{_COMMENT_FIELDS}}}"
#: How often every media of the window is read whatever its comment count says (a comment deleted as
#: another arrived leaves the count unchanged); the store's unique key drops what is already there.
SWEEP_EVERY = timedelta(hours=1)
TAGS_QUERY = "id,caption,timestamp,permalink,username,media_type,owner{id}"
MESSAGES_QUERY = f"id,updated_time,messages.limit(25){{id,message,from,created_time,{MESSAGE_ATTACHMENT_FIELDS}}}"


def client_for(config: Config, account: InstagramAccount) -> PageClient:
    """A client of the account's linked page (Instagram's Graph API answers the page's token)."""
    page = FacebookPage(
        name=account.name,
        page_id=account.page_id,
        page_token=account.page_token,
        app_secret=account.app_secret,
        posts=False,
        tagged=False,
        comments=False,
        messenger=False,
    )
    return PageClient(
        page,
        config.instagram.graph_base or config.facebook.graph_base,
        config.instagram.graph_version or config.facebook.graph_version,
        config.daemon.http_timeout,
    )


def person(entry: dict[str, Any], key: str = "from") -> Author:
    """The author Graph shows: ``from{id,username}`` (``owner`` on tagged media), else a bare ``username``
    (a person by that name), else a person of their own (``sources.graph.anonymous_author``)."""
    author = author_of({"id": entry.get("id"), "from": entry.get(key)})
    if author.anonymous and isinstance(entry.get("username"), str) and entry["username"]:
        return Author(id=f"username:{entry['username']}", handle=entry["username"])
    if author.handle is None and key != "from" and isinstance(entry.get("username"), str) and entry["username"]:
        return Author(id=author.id, handle=entry["username"])
    return author


def _comments_cursor(cursor: str | None) -> tuple[int | None, dict[str, int | None], int | None]:
    """(newest comment time, comment count per media, last sweep) of a comments cursor; a bare number is
    a time alone (nothing swept yet)."""
    if not cursor:
        return None, {}, None
    try:
        state = json.loads(cursor)
    except ValueError:
        return None, {}, None
    if isinstance(state, int):
        return state, {}, None
    if not isinstance(state, dict):
        return None, {}, None
    counts = found if isinstance(found := state.get("counts"), dict) else {}
    newest, swept = state.get("t"), state.get("swept")
    return (
        newest if isinstance(newest, int) else None,
        {str(k): v if isinstance(v, int) else None for k, v in counts.items()},
        swept if isinstance(swept, int) else None,
    )


def _ts(value: Any) -> int | None:
    try:
        parsed = parse_time(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
    return int(parsed.timestamp()) if parsed else None


class _Stream:
    platform = "instagram"
    stream = ""

    def __init__(self, client: PageClient, account: InstagramAccount):
        self.client = client
        self.ig = account
        self.ig_user_id = account.ig_user_id
        self.account = account.name
        self.key = f"instagram:{self.account}:{self.stream}"
        self.slack_channel = account.slack_channel

    def _floor(self, cursor: str | None, since: datetime) -> int:
        start = datetime.fromtimestamp(int(cursor), UTC) - OVERLAP if cursor else since
        return int(start.timestamp())

    def _reject(self, page: Page, error: str, raw: Any) -> None:
        log.warning("%s: skipping malformed entry: %s", self.key, error)
        page.rejects.append(Reject(error, json.dumps(raw, default=str)[:100_000]))

    def _created(self, page: Page, entry: Any, what: str, time_key: str = "timestamp") -> int | None:
        """The entry's creation time (unix), or None after setting it aside when its id or time is missing."""
        if not isinstance(entry, dict) or not entry.get("id"):
            self._reject(page, f"{what} without id", entry)
            return None
        created = _ts(entry.get(time_key))
        if created is None:
            self._reject(page, f"{what} without {time_key}", entry)
        return created

    def _read(self, path: str, args: dict[str, Any], what: str) -> dict[str, Any]:
        return read_with_retries(lambda: self.client.get(path, args, what), what=self.key)

    def _newest_first(
        self,
        cursor: str | None,
        since: datetime,
        path: str,
        args: dict[str, Any],
        what: str,
        take: Callable[[Page, Any, int, int | None], tuple[int | None, bool]],
    ) -> Iterator[Page]:
        """Pages of an edge served newest first, read down to the cursor (less the overlap): ``take`` adds
        one entry to the page and answers the newest time seen and whether the rest is older still."""
        floor = self._floor(cursor, since)
        newest = int(cursor) if cursor else None
        result: dict[str, Any] | None = self._read(path, args, what)
        for _ in range(MAX_PAGES):
            assert result is not None
            page = Page(rate_limit=self.client.tap.rate_limit())
            done = False
            for entry in result.get("data") or []:
                newest, done = take(page, entry, floor, newest)
                if done:
                    break
            result = None if done else self._next(result, what + " (next)")
            if result is None:
                page.cursor = str(newest) if newest is not None else cursor
                yield page
                return
            yield page
        yield Page(cursor=str(newest) if newest is not None else cursor)

    def _next(self, result: dict[str, Any], what: str) -> dict[str, Any] | None:
        next_url = (result.get("paging") or {}).get("next")
        if not next_url:
            return None
        return read_with_retries(lambda: self.client.follow(next_url, what), what=self.key)


class InstagramComments(_Stream):
    """Comments and replies on the account's media of the last ``window``, new since the cursor."""

    stream = "comments"

    def __init__(self, client: PageClient, account: InstagramAccount, window: timedelta):
        super().__init__(client, account)
        self.window = window

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        """The media of the window with their comment counts (one request for up to 25), then the comments
        of each media whose count changed since the last complete poll (all of them at each sweep)."""
        newest, counts, swept = _comments_cursor(cursor)
        now = utcnow()
        sweep = swept is None or now - datetime.fromtimestamp(swept, UTC) >= SWEEP_EVERY
        # A sweep keeps everything of the backfill period that is not stored yet (the unique key drops the rest).
        floor = int(since.timestamp()) if sweep else self._floor(str(newest) if newest is not None else None, since)
        seen: dict[str, int | None] = {}
        args = {"fields": MEDIA_QUERY, "limit": MEDIA_PAGE, "since": int((now - self.window).timestamp())}
        result: dict[str, Any] | None = self._read(f"{self.ig_user_id}/media", args, "GET /{ig-user}/media")
        for _ in range(MAX_PAGES):
            assert result is not None
            page = Page(rate_limit=self.client.tap.rate_limit())
            for media in result.get("data") or []:
                if not isinstance(media, dict) or not media.get("id"):
                    self._reject(page, "media without id", media)
                    continue
                count = media.get("comments_count") if isinstance(media.get("comments_count"), int) else None
                seen[str(media["id"])] = count
                if sweep or count is None or counts.get(str(media["id"])) != count:
                    newest = self._media_comments(page, media, floor, newest)
            result = self._next(result, "GET /{ig-user}/media (next)")
            if result is None:
                break
            yield page
        else:
            page = Page()
        # Only now is every changed media read: the counts (and the time) may move.
        page.cursor = json.dumps(
            {"t": newest, "counts": seen, "swept": int(now.timestamp()) if sweep else swept}, separators=(",", ":")
        )
        yield page

    def _media_comments(self, page: Page, media: dict[str, Any], floor: int, newest: int | None) -> int | None:
        what = "GET /{ig-media}/comments"
        comments: dict[str, Any] | None = self._read(
            f"{media['id']}/comments", {"fields": COMMENTS_QUERY, "limit": COMMENT_PAGE}, what
        )
        for _ in range(MAX_PAGES):
            assert comments is not None
            for comment in comments.get("data") or []:
                newest = self._add(page, comment, media, floor, newest)
                replies: dict[str, Any] | None = comment.get("replies") if isinstance(comment, dict) else None
                for _ in range(MAX_PAGES):
                    if not replies:
                        break
                    for reply in replies.get("data") or []:
                        newest = self._add(page, reply, media, floor, newest, parent=str(comment["id"]))
                    replies = self._next(replies, "GET /{ig-comment}/replies (next)")
            comments = self._next(comments, what + " (next)")
            if comments is None:
                break
        return newest

    def _add(
        self,
        page: Page,
        comment: Any,
        media: dict[str, Any],
        floor: int,
        newest: int | None,
        parent: str | None = None,
    ) -> int | None:
        created = self._created(page, comment, "comment")
        if created is None:
            return newest
        newest = max(newest or created, created)
        if created < floor:
            return newest  # seen by an earlier poll (or older than the first poll's backfill)
        author = person(comment)
        if author.id == self.ig_user_id or (self.ig.username and author.handle == self.ig.username.lstrip("@")):
            return newest  # the brand's own comment or reply: an echo
        raw = {key: value for key, value in comment.items() if key != "replies"}
        page.items.append(
            Item(
                platform="instagram",
                kind=Kind.COMMENT,
                native_id=str(comment["id"]),
                account=self.account,
                author=author,
                text=str(comment.get("text") or ""),
                created_at=datetime.fromtimestamp(created, UTC),
                url=media.get("permalink"),
                conversation_id=str(media["id"]),
                in_reply_to=str(comment.get("parent_id") or parent or media["id"]),
                public=True,
                raw=raw,
            )
        )
        return newest


class InstagramMentions(_Stream):
    """Media that tag the account, newest first, down to the cursor."""

    stream = "mentions"

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        args = {"fields": TAGS_QUERY, "limit": COMMENT_PAGE}
        return self._newest_first(cursor, since, f"{self.ig_user_id}/tags", args, "GET /{ig-user}/tags", self._take)

    def _take(self, page: Page, media: Any, floor: int, newest: int | None) -> tuple[int | None, bool]:
        created = self._created(page, media, "tagged media")
        if created is None:
            return newest, False
        newest = max(newest or created, created)
        if created < floor:
            return newest, True  # newest first: everything after this is older still
        author = person(media, "owner")
        if author.id != self.ig_user_id:
            page.items.append(
                Item(
                    platform="instagram",
                    kind=Kind.MENTION,
                    native_id=str(media["id"]),
                    account=self.account,
                    author=author,
                    text=str(media.get("caption") or ""),
                    created_at=datetime.fromtimestamp(created, UTC),
                    url=media.get("permalink"),
                    conversation_id=str(media["id"]),
                    public=True,
                    raw=media,
                )
            )
        return newest, False


class InstagramDms(_Stream):
    """New Instagram DMs: the page's Instagram conversations, most recently updated first."""

    stream = "dms"

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        args = {"platform": "instagram", "limit": 25, "fields": MESSAGES_QUERY}
        path = f"{self.client.page_id}/conversations"
        return self._newest_first(cursor, since, path, args, "GET /{page}/conversations", self._take)

    def _take(self, page: Page, conversation: Any, floor: int, newest: int | None) -> tuple[int | None, bool]:
        if not isinstance(conversation, dict) or not conversation.get("id"):
            self._reject(page, "conversation without id", conversation)
            return newest, False
        updated = _ts(conversation.get("updated_time"))
        if updated is not None and updated < floor:
            return newest, True  # everything after this was updated earlier still
        return self._messages(page, conversation, floor, newest), False

    def _messages(self, page: Page, conversation: dict[str, Any], floor: int, newest: int | None) -> int | None:
        messages: dict[str, Any] | None = conversation.get("messages") or {}
        for _ in range(MAX_PAGES):
            assert messages is not None
            oldest_in_page = None
            for message in messages.get("data") or []:
                created = self._created(page, message, "message", "created_time")
                if created is None:
                    continue
                oldest_in_page = created if oldest_in_page is None else min(oldest_in_page, created)
                if created < floor:
                    continue
                newest = max(newest or created, created)
                author = person(message)
                if author.id == self.ig_user_id:
                    continue  # the brand's own message (a reply, an acknowledgement, a private reply)
                page.items.append(
                    Item(
                        platform="instagram",
                        kind=Kind.DM,
                        native_id=str(message["id"]),
                        account=self.account,
                        author=author,
                        text=str(message.get("message") or ""),
                        created_at=datetime.fromtimestamp(created, UTC),
                        conversation_id=str(conversation["id"]),
                        public=False,
                        raw=message,
                        attachments=attachments_of(message),
                    )
                )
            if oldest_in_page is not None and oldest_in_page < floor:
                return newest
            messages = self._next(messages, "GET /{conversation}/messages (next)")
            if messages is None:
                return newest
        return newest


def build(config: Config) -> list[Any]:
    """The streams of every configured Instagram account (one page client per account)."""
    sources: list[Any] = []
    for account in config.instagram.accounts:
        client = client_for(config, account)
        if account.comments:
            sources.append(InstagramComments(client, account, timedelta(days=account.comment_window_days)))
        if account.mentions:
            sources.append(InstagramMentions(client, account))
        if account.dms:
            sources.append(InstagramDms(client, account))
    return sources


#: The permissions each capability needs (Meta's docs for the Instagram Graph API through a Page).
NEEDS: dict[str, tuple[str, ...]] = {
    "comments": ("instagram_basic", "instagram_manage_comments", "pages_show_list", "pages_read_engagement"),
    "mentions": ("instagram_basic", "instagram_manage_comments", "pages_read_engagement"),
    "dms": ("instagram_basic", "instagram_manage_messages", "pages_manage_metadata"),
    "comment replies": ("instagram_manage_comments",),
    "dm replies": ("instagram_manage_messages",),
    "private replies": ("instagram_manage_messages",),
}


def check(config: Config) -> list[AccountCheck]:
    """`socialwatch check` for every account: the page's link to it, its name, and which permissions the
    token lacks for the streams and replies configured (from ``debug_token``, then a real read per stream)."""
    rows = []
    for account in config.instagram.accounts:
        client = client_for(config, account)
        try:
            page = client.get(account.page_id, {"fields": "id,name,instagram_business_account"}, "GET /{page}")
            linked = (page.get("instagram_business_account") or {}).get("id")
            if str(linked or "") != account.ig_user_id:
                problem = (
                    f"page {account.page_id} has no Instagram professional account linked"
                    if not linked
                    else f"page {account.page_id} is linked to Instagram account {linked}, not ig_user_id "
                    f"{account.ig_user_id}: fix ig_user_id"
                )
                rows.append(AccountCheck("instagram", account.name, False, problem))
                continue
            me = client.get(account.ig_user_id, {"fields": "id,username"}, "GET /{ig-user}")
        except SourceError as exc:
            rows.append(AccountCheck("instagram", account.name, False, str(exc)))
            continue
        row = AccountCheck("instagram", account.name, True, f"@{me.get('username', '?')} (id {me.get('id', '?')})")
        wanted = [name for name, on in (("comments", account.comments), ("mentions", account.mentions)) if on]
        wanted += ["dms"] if account.dms else []
        wanted += ["comment replies", "dm replies", "private replies"]
        granted = _scopes(client, account)
        probes: dict[str, tuple[str, dict[str, Any]]] = {
            "comments": (f"{account.ig_user_id}/media", {"limit": 1}),
            "mentions": (f"{account.ig_user_id}/tags", {"limit": 1}),
            "dms": (f"{account.page_id}/conversations", {"platform": "instagram", "limit": 1}),
        }
        for name in wanted:
            lacking = [scope for scope in NEEDS[name] if granted is not None and scope not in granted]
            if lacking:
                row.missing.append(f"{name}: the token lacks {', '.join(lacking)}")
                continue
            if name in probes:
                path, args = probes[name]
                ok, why = probe(partial(client.get, path, args, f"GET /{path}"))
                if not ok:
                    row.missing.append(f"{name}: {why}")
                    continue
            row.capabilities.append(
                name + (" (7 days, human agent)" if name == "dm replies" and account.human_agent else "")
            )
        if granted is None:
            row.missing.append("permissions: debug_token did not answer; only the reads were checked")
        rows.append(row)
    return rows


def _scopes(client: PageClient, account: InstagramAccount) -> set[str] | None:
    """The token's permissions, from ``GET /debug_token`` (None when Graph does not say)."""
    try:
        data = client.get(
            "debug_token", {"input_token": account.page_token.get_secret_value()}, "GET /debug_token"
        ).get("data")
    except SourceError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("scopes"), list):
        return None
    return {str(scope) for scope in data["scopes"]}
