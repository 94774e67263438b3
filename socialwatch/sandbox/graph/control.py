"""The Graph emulator's control API (``/_sandbox/facebook/...``) and its Python twin.

Seed visitors' posts, comments and Messenger messages (with attachments, or with ``from`` withheld);
read what the page posted and the whole page as the web view shows it; expire or invalidate the token,
change the page's budget and its rate-limit error code, require ``appsecret_proof``, withhold ``from``
(``POST /settings {"hide_from": "visitors"}``).
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.graph.errors import RATE_LIMIT_MESSAGES
from socialwatch.sandbox.graph.model import FbComment, graph_time
from socialwatch.sandbox.graph.nodes import GraphNodes
from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.timefmt import ControlError


class GraphControl(GraphNodes):
    """``handle_control`` and the methods ``Sandbox`` calls directly."""

    def timeline(self) -> dict[str, Any]:
        """Everything, for the web view and scripts (``GET /_sandbox/facebook/timeline``)."""
        with self._lock:

            def comment_json(comment: FbComment) -> dict[str, Any]:
                author = self.profiles[comment.author_id]
                replies = sorted(
                    (c for c in self.comments.values() if c.parent_id == comment.id), key=lambda c: c.created
                )
                return {
                    "id": comment.id,
                    "message": comment.message,
                    "created_time": graph_time(comment.created),
                    "from": self._profile_json(author),
                    "from_page": author.is_page,
                    "replies": [comment_json(reply) for reply in replies],
                }

            posts = sorted(self.posts.values(), key=lambda p: p.created, reverse=True)
            threads = sorted(self.threads.values(), key=lambda t: t.updated, reverse=True)
            return {
                "page": self._profile_json(self.page),
                "posts": [
                    {
                        "id": post.id,
                        "message": post.message,
                        "created_time": graph_time(post.created),
                        "from": self._profile_json(self.profiles[post.author_id]),
                        "kind": post.kind,
                        "permalink_url": self._permalink(post),
                        "comments": [
                            comment_json(c)
                            for c in sorted(
                                (c for c in self.comments.values() if c.post_id == post.id and c.parent_id is None),
                                key=lambda c: c.created,
                            )
                        ],
                    }
                    for post in posts
                ],
                "conversations": [
                    {
                        "id": thread.id,
                        "updated_time": graph_time(thread.updated),
                        "participant": self._profile_json(self.profiles[thread.user_id]),
                        "messages": [
                            {
                                "id": m.id,
                                "message": m.text,
                                "created_time": graph_time(m.created),
                                "from": self._profile_json(self.profiles[m.from_id]),
                                "from_page": m.from_id == self.page.id,
                            }
                            for m in thread.messages
                        ],
                    }
                    for thread in threads
                ],
                "posted": list(reversed(self.posted)),
                "token_state": self.token_state,
                "rate_limit": {**self.limits.snapshot()["page"], "code": self.rate_limit_code},
            }

    def posted_items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self.posted]

    def set_token_state(self, state: str) -> None:
        if state not in ("valid", "expired", "invalidated"):
            raise ControlError("token state must be valid, expired or invalidated")
        with self._lock:
            self.token_state = state

    def set_app_secret(self, secret: str | None) -> None:
        """With a secret, every call needs ``appsecret_proof`` = HMAC-SHA256(token, secret)."""
        with self._lock:
            self.app_secret = secret or None

    def set_hide_from(self, mode: str) -> None:
        if mode not in ("none", "visitors", "all"):
            raise ControlError("hide_from must be none, visitors or all")
        with self._lock:
            self.hide_from = mode

    def set_rate_limit(self, limit: int | None = None, window: float | None = None, code: int | None = None) -> None:
        if code is not None:
            if int(code) not in RATE_LIMIT_MESSAGES:
                raise ControlError(f"code must be one of {sorted(RATE_LIMIT_MESSAGES)}")
            self.rate_limit_code = int(code)
        try:
            self.limits.configure("page", limit=limit, window=window)
        except ValueError as exc:
            raise ControlError(str(exc)) from None

    def handle_control(self, req: Request) -> Response:
        """``/_sandbox/facebook/...``"""
        sub = req.path[len("/_sandbox/facebook") :].rstrip("/") or "/"
        try:
            body = req.json() if req.body else None
        except ValueError:
            return Response.json({"error": "body is not valid JSON"}, status=400)
        try:
            return self._control(req.method, sub, body)
        except ControlError as exc:
            return exc.response()

    def _control(self, method: str, sub: str, body: Any) -> Response:
        if (method, sub) == ("POST", "/comments"):
            if isinstance(body, list):
                return Response.json({"ids": [self.add_comment(spec).id for spec in body]}, status=201)
            comment = self.add_comment(body or {})
            return Response.json(
                {
                    "id": comment.id,
                    "post_id": comment.post_id,
                    "author_id": comment.author_id,
                    "parent_id": comment.parent_id,
                },
                status=201,
            )
        if (method, sub) == ("POST", "/posts"):
            post = self.add_post(body or {})
            return Response.json({"id": post.id, "author_id": post.author_id, "kind": post.kind}, status=201)
        if (method, sub) == ("POST", "/messages"):
            message = self.add_message(body or {})
            return Response.json(
                {"id": message.id, "conversation_id": message.thread_id, "sender_id": message.from_id}, status=201
            )
        if (method, sub) == ("GET", "/posted"):
            return Response.json(self.posted_items())
        if (method, sub) == ("GET", "/timeline"):
            return Response.json(self.timeline())
        if (method, sub) == ("POST", "/token"):
            body = body or {}
            if "state" in body:
                state = str(body["state"])
            elif body.get("invalidated"):
                state = "invalidated"
            else:
                state = "expired" if body.get("expired", True) else "valid"
            self.set_token_state(state)
            return Response.json({"state": self.token_state})
        if (method, sub) == ("GET", "/ratelimit"):
            return Response.json({**self.limits.snapshot()["page"], "code": self.rate_limit_code})
        if (method, sub) == ("POST", "/ratelimit"):
            body = body or {}
            self.set_rate_limit(body.get("limit"), body.get("window"), body.get("code"))
            return Response.json({**self.limits.snapshot()["page"], "code": self.rate_limit_code})
        if (method, sub) == ("POST", "/settings"):
            body = body or {}
            if "app_secret" in body:
                self.set_app_secret(str(body["app_secret"]) if body["app_secret"] else None)
            if "hide_from" in body:
                self.set_hide_from(str(body["hide_from"]))
            return Response.json({"app_secret_set": self.app_secret is not None, "hide_from": self.hide_from})
        return Response.json({"error": f"no control endpoint {method} /_sandbox/facebook{sub}"}, status=404)
