"""Private replies, emulated: one message from the page to the author of a public comment, on Facebook or
Instagram, through the Send API with ``recipient={"comment_id": ...}``.

Graph's rules: once per comment (``#10900``), within 7 days of it (the window error), never to the
page's own comment (``#10903``). The message opens a conversation with the commenter (Messenger
or Instagram), where the customer may answer; the page may not write again before they do. A
Facebook comment then shows ``private_reply_conversation``.
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.graph.errors import GraphError
from socialwatch.sandbox.graph.instagram_model import (
    IG_DM_MAX_BYTES,
    IG_WINDOW_SUBCODE,
    PRIVATE_REPLY_WINDOW,
)
from socialwatch.sandbox.graph.instagram_nodes import InstagramNodes
from socialwatch.sandbox.graph.model import FbComment, graph_time
from socialwatch.sandbox.graph.nodes import MISSING, Node
from socialwatch.sandbox.http import Response

FB_WINDOW_SUBCODE = 2018278
FB_MESSAGE_MAX = 2000


class PrivateReplies(InstagramNodes):
    """``_private_reply``: the Send API's answer to a ``comment_id`` recipient."""

    def reset(self) -> None:
        super().reset()
        with self._lock:
            #: comment id -> the message that answered it privately
            self.private_replies: dict[str, str] = {}

    def _fields_comment(self, comment: FbComment) -> dict[str, Any]:
        fields = super()._fields_comment(comment)
        message_id = self.private_replies.get(comment.id)
        message = self.messages.get(message_id or "")
        fields["private_reply_conversation"] = (
            Node("Conversation", self.threads[message.thread_id]) if message is not None else MISSING
        )
        return fields

    def _private_reply(self, comment_id: str, text: str) -> Response:
        if comment_id in self.ig_comments:
            ig_comment = self.ig_comments[comment_id]
            self.require_scopes("instagram_basic", "instagram_manage_messages")
            if len(text.encode("utf-8")) > IG_DM_MAX_BYTES:
                raise GraphError(100, f"(#100) Message text must be UTF-8 and {IG_DM_MAX_BYTES} bytes or less")
            by_brand = ig_comment.author_id == self.ig_account.id
            self._check_private(comment_id, by_brand, ig_comment.created, IG_WINDOW_SUBCODE)
            if ig_comment.author_id is None:
                raise GraphError(10903, "(#10903) This activity can't be replied to")
            user_id, brand_id = ig_comment.author_id, self.ig_account.id
            ig_thread = self.ig_thread_with(user_id, create=True)
            assert ig_thread is not None
            sent: Any = self._new_ig_message(ig_thread, brand_id, user_id, text, self._now())
            return self._private_sent(self.ig_posted, comment_id, user_id, sent)
        comment = self.comments.get(comment_id)
        if comment is None:
            raise GraphError(100, "(#100) No matching comment found for recipient.comment_id", subcode=2018001)
        self.require_scopes("pages_messaging")
        if len(text) > FB_MESSAGE_MAX:
            raise GraphError(
                100, f"(#100) Length of param message[text] must be less than or equal to {FB_MESSAGE_MAX}"
            )
        self._check_private(comment_id, comment.author_id == self.page.id, comment.created, FB_WINDOW_SUBCODE)
        thread = self._thread_with(comment.author_id, create=True)
        assert thread is not None
        sent = self._new_message(thread, self.page.id, comment.author_id, text, self._now())
        return self._private_sent(self.posted, comment_id, comment.author_id, sent)

    def _private_sent(self, posted: list[dict[str, Any]], comment_id: str, user_id: str, sent: Any) -> Response:
        """Record a private reply (a Messenger or an Instagram message) and answer as the Send API does."""
        self.private_replies[comment_id] = sent.id
        posted.append(
            {
                "kind": "private_reply",
                "id": sent.id,
                "text": sent.text,
                "comment_id": comment_id,
                "in_reply_to": comment_id,
                "recipient_id": user_id,
                "conversation_id": sent.thread_id,
                "created_time": graph_time(sent.created),
            }
        )
        return Response.json({"recipient_id": user_id, "message_id": sent.id})

    def _check_private(self, comment_id: str, by_page: bool, created: float, window_subcode: int) -> None:
        if by_page:
            raise GraphError(10903, "(#10903) This activity can't be replied to")
        if comment_id in self.private_replies:
            raise GraphError(10900, "(#10900) Activity already replied to")
        if self._now() - created > PRIVATE_REPLY_WINDOW:
            raise GraphError(
                10,
                "(#10) This message is sent outside of allowed window. Private replies must be sent within "
                "7 days of the comment.",
                subcode=window_subcode,
            )
