"""Instagram replies: the brand's answer to a comment (under it), to media that tag it (a comment through
``/{ig-user-id}/mentions``), to a DM (inside Instagram's messaging window) or, privately, to a comment's
author (``sources.private_replies``); and finding an earlier attempt after a crash.

Instagram takes replies only under top-level comments, so a reply to a reply goes under its parent
(where Instagram itself puts it). A DM may be answered within 24 hours of the customer's last message;
with the Human Agent permission (``human_agent = true``) a person may answer for 7 days with the
HUMAN_AGENT tag. Outside that the reply is refused, saying why, and nothing is posted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from socialwatch.config.instagram import InstagramAccount
from socialwatch.config.schema import Config
from socialwatch.models import Kind, parse_time
from socialwatch.sources import private_replies
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
from socialwatch.sources.facebook import PageClient
from socialwatch.sources.instagram import client_for

IG_WINDOW_SUBCODE = 2534022
WINDOW_REFUSALS = {
    IG_WINDOW_SUBCODE: "outside Instagram's messaging window",
    2018278: "outside Instagram's messaging window",
}
COMMENT_REFUSALS = {
    2534023: "Instagram takes replies only under top-level comments",
}


class InstagramReplier:
    """Posts the brand's replies for one Instagram account."""

    platform = "instagram"

    def __init__(self, client: PageClient, account: InstagramAccount):
        self.client = client
        self.ig = account
        self.account = account.name

    def _top_comment(self, target: ReplyTarget) -> str:
        """The comment to reply under: the parent of a reply, else the comment itself."""
        parent = target.in_reply_to
        return parent if parent and parent != target.conversation_id else target.native_id

    def send_reply(self, target: ReplyTarget, text: str) -> str:
        if target.privately:
            return private_replies.send_private_reply(self.client, target, text, "Instagram")
        if target.kind == Kind.DM.value:
            return self._send_dm(target, text)
        if target.kind == Kind.MENTION.value:
            result = private_replies.graph_post(
                self.client,
                f"{self.ig.ig_user_id}/mentions",
                {"media_id": target.native_id, "message": text},
                "POST /{ig-user}/mentions",
                COMMENT_REFUSALS,
            )
        else:
            result = private_replies.graph_post(
                self.client,
                f"{self._top_comment(target)}/replies",
                {"message": text},
                "POST /{ig-comment}/replies",
                COMMENT_REFUSALS,
            )
        if not result.get("id"):
            raise ReconcileUnknown("Instagram accepted the reply but returned no id")
        return str(result["id"])

    def _send_dm(self, target: ReplyTarget, text: str) -> str:
        try:
            return self._message(target, text, tag=None)
        except ReplyRefused:
            if not self.ig.human_agent:
                raise ReplyRefused(
                    "Instagram allows a reply only within 24 hours of the customer's last message, and this app "
                    "has no Human Agent permission (human_agent = true allows 7 days); nothing was sent"
                ) from None
        try:
            return self._message(target, text, tag="HUMAN_AGENT")
        except ReplyRefused:
            raise ReplyRefused(
                "Instagram allows a person's reply only within 7 days of the customer's last message "
                "(the HUMAN_AGENT tag); nothing was sent"
            ) from None

    def _message(self, target: ReplyTarget, text: str, *, tag: str | None) -> str:
        args = {
            "recipient": json.dumps({"id": target.author_id}),
            "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE",
            "message": json.dumps({"text": text}),
        }
        if tag:
            args["tag"] = tag
        result = private_replies.graph_post(
            self.client, f"{self.client.page_id}/messages", args, "POST /{page}/messages (instagram)", WINDOW_REFUSALS
        )
        if not result.get("message_id"):
            raise ReconcileUnknown("Instagram accepted the message but returned no id")
        return str(result["message_id"])

    def find_reply(self, target: ReplyTarget, text: str, since: datetime) -> str | None:
        if target.privately:
            return private_replies.find_private_reply(
                self.client, target, text, since, platform="instagram", brand_id=self.ig.ig_user_id
            )
        try:
            entries = self._candidates(target)
        except (PlatformError, RateLimited, AuthError, CapabilityLost) as exc:
            raise ReconcileUnknown(f"could not check Instagram for an earlier reply: {exc}") from None
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            sender = shown if isinstance(shown := entry.get("from"), dict) else {}
            ours = str(sender.get("id")) == self.ig.ig_user_id or (
                bool(self.ig.username) and entry.get("username") == str(self.ig.username).lstrip("@")
            )
            created = parse_time(entry.get("timestamp") or entry.get("created_time") or None)
            body = entry.get("text") if "text" in entry else entry.get("message")
            if ours and created is not None and created >= since - timedelta(seconds=60) and same_text(str(body), text):
                return str(entry.get("id"))
        return None

    def _candidates(self, target: ReplyTarget) -> list[Any]:
        """The brand's possible replies to ``target``: messages of the DM thread, or comments under it."""
        c = self.client
        if target.kind == Kind.DM.value:
            if not target.conversation_id:
                raise ReconcileUnknown("no conversation id stored for this message")
            result = c.get(
                f"{target.conversation_id}/messages",
                {"fields": "id,message,from,created_time", "limit": 50},
                "GET /{conversation}/messages",
            )
            return list(result.get("data") or [])
        fields = "id,text,timestamp,from{id,username},username"
        if target.kind == Kind.MENTION.value:
            result = c.get(
                self.ig.ig_user_id,
                {"fields": f"mentioned_media.media_id({target.native_id}){{comments.limit(50){{{fields}}}}}"},
                "GET /{ig-user}?fields=mentioned_media",
            )
            media = shown if isinstance(shown := result.get("mentioned_media"), dict) else {}
            return list((media.get("comments") or {}).get("data") or [])
        found: list[Any] = []
        page: dict[str, Any] | None = c.get(
            f"{self._top_comment(target)}/replies", {"fields": fields, "limit": 50}, "GET /{ig-comment}/replies"
        )
        for _ in range(20):  # replies come oldest first: ours may be on a later page
            assert page is not None
            found += page.get("data") or []
            next_url = (page.get("paging") or {}).get("next")
            if not next_url:
                break
            page = c.follow(next_url, "GET /{ig-comment}/replies (next)")
        return found


def build_repliers(config: Config) -> dict[tuple[str, str], InstagramReplier]:
    """A replier per account, with a client of its own: a reply never waits behind a slow poll."""
    return {
        ("instagram", account.name): InstagramReplier(client_for(config, account), account)
        for account in config.instagram.accounts
    }
