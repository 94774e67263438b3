"""Private replies: one message from the brand to the author of a public comment, on Facebook or Instagram,
through the Send API (``POST /{page-id}/messages`` with ``recipient={"comment_id": ...}``).

Meta allows one per comment, within 7 days of it; the platform's refusals (already answered, too
old, not answerable) become ``ReplyRefused`` with what they mean, and a comment older than 7 days
is refused here before any call. Finding an earlier attempt after a crash: Facebook names the
conversation a private reply opened (``private_reply_conversation`` on the comment); on Instagram
it is the conversation with the commenter (``conversations?platform=instagram&user_id=``).
Also ``graph_post``: a Graph write whose known refusals are named before the generic translation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import facebook

from socialwatch.models import Kind, parse_time, utcnow
from socialwatch.sources.base import (
    AuthError,
    CapabilityLost,
    PlatformError,
    RateLimited,
    ReconcileUnknown,
    ReplyRefused,
    ReplyTarget,
    same_text,
)

T = TypeVar("T")


class PageClient(Protocol):
    """What is needed of a page's Graph client (``sources.facebook.PageClient``): its GraphAPI, the page,
    reads, and calls with Graph's errors translated."""

    graph: Any
    page_id: str

    def get(self, path: str, args: dict[str, Any], what: str) -> dict[str, Any]: ...

    def call(self, fn: Callable[[], T], what: str) -> T: ...


PRIVATE_WINDOW = timedelta(days=7)
#: Graph's answers to a private reply that will never be accepted, by code or subcode.
PRIVATE_REFUSALS = {
    10900: "the comment was already answered privately (Meta allows one private reply per comment)",
    10901: "the comment is too old for a private reply (Meta allows 7 days)",
    10902: "this comment cannot be answered privately",
    10903: "this comment cannot be answered privately (the page's own, or its author is not shown)",
    2018278: "the comment is too old for a private reply (Meta allows 7 days)",
    2534022: "the comment is too old for a private reply (Meta allows 7 days)",
}


def graph_error(exc: facebook.GraphAPIError) -> tuple[Any, Any]:
    """(code, subcode) of a Graph error as facebook-sdk raised it."""
    error = exc.result.get("error") if isinstance(exc.result, dict) else None
    error = error if isinstance(error, dict) else {}
    return error.get("code", exc.code), error.get("error_subcode")


def graph_post(
    client: PageClient, path: str, post_args: dict[str, Any], what: str, refusals: Mapping[int, str]
) -> dict[str, Any]:
    """POST through the page's client; a refusal named in ``refusals`` (by code or subcode) is ReplyRefused,
    every other error is translated as for any Graph call (the write itself is never retried)."""

    def post() -> Any:
        try:
            return client.graph.request(f"{client.graph.version}/{path}", post_args=post_args)
        except facebook.GraphAPIError as exc:
            code, subcode = graph_error(exc)
            reason = refusals.get(subcode) if subcode in refusals else refusals.get(code)
            if reason is not None:
                codes = f"{code}/{subcode}" if subcode else f"{code}"
                raise ReplyRefused(f"{what}: {reason} (Graph error {codes})") from None
            raise

    result = client.call(post, what)
    return result if isinstance(result, dict) else {}


def send_private_reply(client: PageClient, target: ReplyTarget, text: str, platform_word: str) -> str:
    """Send ``text`` privately to the author of the comment ``target``; the platform's message id."""
    if target.kind != Kind.COMMENT.value:
        raise ReplyRefused(f"only comments can be answered privately on {platform_word}, not a {target.kind}")
    age = utcnow() - target.created_at
    if age > PRIVATE_WINDOW:
        raise ReplyRefused(
            f"{platform_word} allows a private reply only within 7 days of the comment; "
            f"this one is {age.days} days old: answer publicly, or wait until the customer writes to you"
        )
    result = graph_post(
        client,
        f"{client.page_id}/messages",
        {"recipient": json.dumps({"comment_id": target.native_id}), "message": json.dumps({"text": text})},
        "POST /{page}/messages (private reply)",
        PRIVATE_REFUSALS,
    )
    message_id = result.get("message_id")
    if not message_id:
        raise ReconcileUnknown(f"{platform_word} accepted the private reply but returned no message id")
    return str(message_id)


def find_private_reply(
    client: PageClient, target: ReplyTarget, text: str, since: datetime, *, platform: str, brand_id: str
) -> str | None:
    """After a crash: our private reply to ``target`` with this text, sent after ``since`` (None: surely none)."""
    try:
        if platform == "instagram":
            if target.author_id.startswith("anonymous:"):
                raise ReconcileUnknown("the comment's author is not shown, so their conversation cannot be found")
            result = client.get(
                f"{client.page_id}/conversations",
                {
                    "platform": "instagram",
                    "user_id": target.author_id,
                    "fields": "id,messages.limit(50){id,message,from,created_time}",
                },
                "GET /{page}/conversations (private reply)",
            )
            messages = [
                message
                for conversation in result.get("data") or []
                if isinstance(conversation, dict)
                for message in (conversation.get("messages") or {}).get("data") or []
            ]
        else:
            comment = client.get(
                target.native_id, {"fields": "id,private_reply_conversation{id}"}, "GET /{comment} (private reply)"
            )
            conversation = comment.get("private_reply_conversation")
            if not isinstance(conversation, dict) or not conversation.get("id"):
                return None  # Graph names the conversation a private reply opened: there is none
            messages = (
                client.get(
                    f"{conversation['id']}/messages",
                    {"fields": "id,message,from,created_time", "limit": 50},
                    "GET /{conversation}/messages (private reply)",
                ).get("data")
                or []
            )
    except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
        raise ReconcileUnknown(f"could not check {platform} for an earlier private reply: {exc}") from None
    for message in messages:
        if not isinstance(message, dict):
            continue
        sender = shown if isinstance(shown := message.get("from"), dict) else {}
        created = parse_time(message.get("created_time")) if message.get("created_time") else None
        if (
            str(sender.get("id")) == brand_id
            and created is not None
            and created >= since - timedelta(seconds=60)
            and same_text(str(message.get("message") or ""), text)
        ):
            return str(message.get("id"))
    return None
