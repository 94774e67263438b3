"""The Graph API's Instagram endpoints, emulated, on the same ``/vNN.N/`` paths, token and budget as the page.

Reads: ``GET /{ig-user-id}[/media|/tags]``, ``/{ig-media-id}[/comments]``, ``/{ig-comment-id}[/replies]``,
the page's ``conversations?platform=instagram`` and ``/{thread}/messages``; ``GET /debug_token``
(the token's permissions). Writes: ``POST /{ig-comment-id}/replies`` (a public reply, top-level
comments only), ``POST /{ig-media-id}/comments`` (the brand's own media), ``POST /{ig-user-id}/mentions``
(answering media that tags the brand), and ``POST /{page-id}/messages`` to an Instagram-scoped id
(24 hours after the customer's last message, 7 days with the HUMAN_AGENT tag where the app has that
permission) or to a ``comment_id`` (a private reply, ``private_replies.py``). Each endpoint needs
the permissions Graph asks for (``instagram_basic``, ``instagram_manage_comments``,
``instagram_manage_messages``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from socialwatch.sandbox.graph.api import GraphApi
from socialwatch.sandbox.graph.auth import body_params, request_token
from socialwatch.sandbox.graph.errors import GraphError, no_such_object
from socialwatch.sandbox.graph.fields import FieldSyntaxError, parse_fields
from socialwatch.sandbox.graph.instagram_model import (
    IG_COMMENT_MAX,
    IG_DM_MAX_BYTES,
    IG_EDGE_TYPES,
    IG_EDGES,
    IG_HUMAN_AGENT_WINDOW,
    IG_RESPONSE_WINDOW,
    IG_WINDOW_SUBCODE,
    IgComment,
    IgMedia,
)
from socialwatch.sandbox.graph.model import graph_time
from socialwatch.sandbox.graph.private_replies import PrivateReplies
from socialwatch.sandbox.http import Request, Response

log = logging.getLogger(__name__)


def _object_param(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise GraphError(100, f"(#100) Param {name} must be a JSON object") from None
    if value is None:
        raise GraphError(100, f"(#100) The parameter {name} is required")
    if not isinstance(value, dict):
        raise GraphError(100, f"(#100) Param {name} must be a JSON object")
    return value


class InstagramApi(PrivateReplies, GraphApi):
    """Routes Instagram objects to their endpoints; everything else is the page's Graph API."""

    def _ig_lookup(self, object_id: str) -> tuple[str, Any] | None:
        if object_id == self.ig_account.id:
            return "IGUser", self.ig_account
        for node_type, table in (
            ("IGMedia", self.ig_media),
            ("IGComment", self.ig_comments),
            ("IGConversation", self.ig_threads),
            ("IGMessage", self.ig_messages),
        ):
            if object_id in table:
                return node_type, table[object_id]
        return None

    def _lookup(self, object_id: str) -> tuple[str, Any]:
        return self._ig_lookup(object_id) or super()._lookup(object_id)

    def _route(self, req: Request, rest: str) -> Response:
        parts = [part for part in rest.split("/") if part]
        if req.method == "GET" and parts == ["debug_token"]:
            return self._debug_token(req)
        if req.method == "POST" and len(parts) == 2 and parts[1] == "messages" and parts[0] in ("me", self.page.id):
            return self._send_any(req)
        found = self._ig_lookup(parts[0]) if parts else None
        if found is None:
            return super()._route(req, rest)
        node_type, obj = found
        if req.method == "GET":
            try:
                specs = parse_fields(req.arg("fields"))
            except FieldSyntaxError as exc:
                raise GraphError(2500, str(exc)) from None
            if len(parts) == 1:
                self.validate_fields(node_type, specs)
                return Response.json(self.render(node_type, obj, specs, req))
            if len(parts) == 2 and parts[1] in IG_EDGES.get(node_type, ()):
                self.validate_fields(IG_EDGE_TYPES[(node_type, parts[1])], specs)
                edge = self._edge_items(node_type, obj, parts[1], {}, req, nested=False)
                page = self._edge_page(edge, specs, {}, req, nested=False)
                assert page is not None
                return Response.json(page)
            if len(parts) == 2:
                raise GraphError(
                    100, f"(#100) Tried accessing nonexisting field ({parts[1]}) on node type ({node_type})"
                )
            raise GraphError(2500, f"Unknown path components: /{'/'.join(parts[2:])}")
        if req.method == "POST" and len(parts) == 2:
            if node_type == "IGComment" and parts[1] == "replies":
                return self._reply_to_comment(req, obj)
            if node_type == "IGMedia" and parts[1] == "comments":
                return self._comment_on_media(req, obj)
            if node_type == "IGUser" and parts[1] == "mentions":
                return self._answer_mention(req)
        raise no_such_object(parts[0], req.method.lower())

    # -- comments --------------------------------------------------------------------------------

    def _comment_text(self, req: Request) -> str:
        params = body_params(req)
        text = str(params.get("message") or req.arg("message") or "").strip()
        if not text:
            raise GraphError(100, "(#100) The parameter message is required")
        if len(text) > IG_COMMENT_MAX:
            raise GraphError(100, f"(#100) The comment is longer than {IG_COMMENT_MAX} characters")
        return text

    def _brand_comment(self, media: IgMedia, parent: IgComment | None, text: str, kind: str) -> Response:
        if not media.comments_enabled:
            raise GraphError(100, "(#100) Comments are disabled for this media")
        comment = self._new_ig_comment(media, parent.id if parent else None, self.ig_account.id, text, self._now())
        self.ig_posted.append(
            {
                "kind": kind,
                "id": comment.id,
                "text": text,
                "in_reply_to": parent.id if parent else media.id,
                "media_id": media.id,
                "created_time": graph_time(comment.created),
            }
        )
        log.debug("graph sandbox: instagram %s %s", kind, comment.id)
        return Response.json({"id": comment.id})

    def _reply_to_comment(self, req: Request, comment: IgComment) -> Response:
        self.require_scopes("instagram_basic", "instagram_manage_comments")
        text = self._comment_text(req)
        if comment.parent_id is not None:
            raise GraphError(100, "(#100) Replies can only be made to top-level comments", subcode=2534023)
        media = self.ig_media[comment.media_id]
        if media.tagged:
            raise no_such_object(comment.id, "post")  # someone else's media: answer through /mentions
        return self._brand_comment(media, comment, text, "comment_reply")

    def _comment_on_media(self, req: Request, media: IgMedia) -> Response:
        self.require_scopes("instagram_basic", "instagram_manage_comments")
        text = self._comment_text(req)
        if media.tagged:
            raise no_such_object(media.id, "post")
        return self._brand_comment(media, None, text, "comment")

    def _answer_mention(self, req: Request) -> Response:
        self.require_scopes("instagram_basic", "instagram_manage_comments")
        params = body_params(req)
        media_id = str(params.get("media_id") or req.arg("media_id") or "")
        comment_id = str(params.get("comment_id") or req.arg("comment_id") or "")
        text = self._comment_text(req)
        media = self.ig_media.get(media_id)
        if media is None or not media.tagged:
            raise GraphError(100, "(#100) The parameter media_id must name media in which the account is mentioned")
        parent = None
        if comment_id:
            parent = self.ig_comments.get(comment_id)
            if parent is None or parent.media_id != media.id:
                raise GraphError(100, "(#100) The parameter comment_id does not name a comment on this media")
        comment = self._new_ig_comment(media, parent.id if parent else None, self.ig_account.id, text, self._now())
        self.ig_posted.append(
            {
                "kind": "mention_reply",
                "id": comment.id,
                "text": text,
                "in_reply_to": comment_id or media.id,
                "media_id": media.id,
                "created_time": graph_time(comment.created),
            }
        )
        return Response.json({"id": comment.id})

    # -- messages ---------------------------------------------------------------------------------

    def _send_any(self, req: Request) -> Response:
        params = body_params(req)
        recipient = _object_param(params, "recipient")
        if recipient.get("comment_id"):
            message = _object_param(params, "message")
            text = message.get("text")
            if not isinstance(text, str) or not text.strip():
                raise GraphError(100, "(#100) param message must be non-empty.")
            return self._private_reply(str(recipient["comment_id"]), text)
        if str(recipient.get("id") or "") in self.ig_people:
            return self._send_instagram(params, str(recipient["id"]))
        return self._send_message(req, "me")

    def _send_instagram(self, params: dict[str, Any], user_id: str) -> Response:
        self.require_scopes("instagram_basic", "instagram_manage_messages")
        message = _object_param(params, "message")
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise GraphError(100, "(#100) param message must be non-empty.")
        if len(text.encode("utf-8")) > IG_DM_MAX_BYTES:
            raise GraphError(100, f"(#100) Message text must be UTF-8 and {IG_DM_MAX_BYTES} bytes or less")
        messaging_type = str(params.get("messaging_type") or "RESPONSE").upper()
        tag = params.get("tag")
        window = IG_RESPONSE_WINDOW
        if messaging_type == "MESSAGE_TAG":
            if tag != "HUMAN_AGENT":
                raise GraphError(100, f'(#100) Param tag must be HUMAN_AGENT on Instagram - got "{tag}"')
            if not self.human_agent:
                raise GraphError(
                    200, "(#200) The HUMAN_AGENT tag needs the Human Agent permission, which this app does not have"
                )
            window = IG_HUMAN_AGENT_WINDOW
        elif messaging_type not in ("RESPONSE", "UPDATE"):
            raise GraphError(
                100, f'(#100) Param messaging_type must be one of {{RESPONSE, MESSAGE_TAG}} - got "{messaging_type}"'
            )
        thread = self.ig_thread_with(user_id, create=False)
        last_from_user = (
            max((m.created for m in thread.messages if m.from_id == user_id), default=None) if thread else None
        )
        if thread is None or last_from_user is None or self._now() - last_from_user > window:
            raise GraphError(10, "(#10) This message is sent outside of allowed window.", subcode=IG_WINDOW_SUBCODE)
        sent = self._new_ig_message(thread, self.ig_account.id, user_id, text, self._now())
        thread.unread = 0
        answered = [m for m in thread.messages if m.from_id == user_id]
        self.ig_posted.append(
            {
                "kind": "message",
                "id": sent.id,
                "text": text,
                "recipient_id": user_id,
                "conversation_id": thread.id,
                "in_reply_to": answered[-1].id if answered else None,
                "messaging_type": messaging_type,
                "tag": tag,
                "created_time": graph_time(sent.created),
            }
        )
        return Response.json({"recipient_id": user_id, "message_id": sent.id})

    # -- the token ----------------------------------------------------------------------------------

    def _debug_token(self, req: Request) -> Response:
        """``GET /debug_token?input_token=``: what the token is and the permissions it carries."""
        token = req.arg("input_token") or request_token(req) or ""
        if token != self.page_token:
            return Response.json(
                {
                    "data": {
                        "is_valid": False,
                        "error": {"code": 190, "message": "Invalid OAuth access token."},
                        "scopes": [],
                    }
                }
            )
        now = int(self._now())
        return Response.json(
            {
                "data": {
                    "app_id": self.app_id,
                    "type": "PAGE",
                    "application": "socialwatch sandbox",
                    "data_access_expires_at": now + 90 * 86400,
                    "expires_at": 0,
                    "is_valid": self.token_state == "valid",
                    "issued_at": now - 86400,
                    "profile_id": self.page.id,
                    "scopes": sorted(self.scopes),
                    "granular_scopes": [
                        {
                            "scope": scope,
                            "target_ids": [self.ig_account.id if scope.startswith("instagram") else self.page.id],
                        }
                        for scope in sorted(self.scopes)
                    ],
                    "user_id": "7100000000000099",
                }
            }
        )
