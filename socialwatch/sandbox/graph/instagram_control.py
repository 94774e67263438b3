"""The Graph emulator's Instagram control API (``/_sandbox/instagram/...``) and its Python twin.

``POST /comments`` (``{"author": {"username": ..}, "text": ..}``, optional ``media_id``,
``parent_id``, ``created_time``; ``"author": null`` for a comment whose author Graph hides),
``POST /mentions`` (someone's media tagging the brand), ``POST /dms`` (``{"sender": {"username": ..},
"text": .., "attachments": [..]}``), ``POST /media`` (a post of the brand's), ``GET /posted``,
``GET /timeline`` (everything, for the web view), ``GET|POST /permissions`` (the token's scopes:
``{"revoke": [..]}``, ``{"grant": [..]}`` or ``{"scopes": [..]}``) and ``POST /settings``
(``{"human_agent": true}``: the app has the Human Agent permission).
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.graph.instagram_model import ALL_SCOPES, IgComment, IgMedia
from socialwatch.sandbox.graph.instagram_nodes import InstagramNodes
from socialwatch.sandbox.graph.model import graph_time
from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.timefmt import ControlError


class InstagramControl(InstagramNodes):
    """``handle_instagram_control`` and the methods ``Sandbox`` calls directly."""

    def instagram_timeline(self) -> dict[str, Any]:
        with self._lock:

            def comment_json(comment: IgComment) -> dict[str, Any]:
                author = self.ig_people.get(comment.author_id or "")
                replies = sorted(
                    (c for c in self.ig_comments.values() if c.parent_id == comment.id), key=lambda c: c.created
                )
                return {
                    "id": comment.id,
                    "text": comment.text,
                    "timestamp": graph_time(comment.created),
                    "from": self._ig_handle(author) if author else None,
                    "from_brand": author is not None and author.id == self.ig_account.id,
                    "replies": [comment_json(reply) for reply in replies],
                }

            def media_json(media: IgMedia) -> dict[str, Any]:
                top = sorted(
                    (c for c in self.ig_comments.values() if c.media_id == media.id and c.parent_id is None),
                    key=lambda c: c.created,
                )
                return {
                    "id": media.id,
                    "caption": media.caption,
                    "timestamp": graph_time(media.created),
                    "username": self.ig_people[media.owner_id].username,
                    "permalink": f"https://www.instagram.com/p/{media.shortcode}/",
                    "comments": [comment_json(c) for c in top],
                }

            media = sorted(self.ig_media.values(), key=lambda m: m.created, reverse=True)
            threads = sorted(self.ig_threads.values(), key=lambda t: t.updated, reverse=True)
            return {
                "account": self._ig_handle(self.ig_account),
                "media": [media_json(m) for m in media if not m.tagged],
                "mentions": [media_json(m) for m in media if m.tagged],
                "conversations": [
                    {
                        "id": thread.id,
                        "updated_time": graph_time(thread.updated),
                        "participant": self._ig_handle(self.ig_people[thread.user_id]),
                        "messages": [
                            {
                                "id": m.id,
                                "message": m.text,
                                "created_time": graph_time(m.created),
                                "from": self._ig_handle(self.ig_people[m.from_id]),
                                "from_brand": m.from_id == self.ig_account.id,
                                "attachments": [a.kind for a in m.attachments],
                            }
                            for m in thread.messages
                        ],
                    }
                    for thread in threads
                ],
                "posted": list(reversed(self.ig_posted)),
                "scopes": sorted(self.scopes),
                "human_agent": self.human_agent,
            }

    def posted_instagram(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self.ig_posted]

    def set_scopes(
        self, *, scopes: list[str] | None = None, grant: list[str] | None = None, revoke: list[str] | None = None
    ) -> list[str]:
        """The page token's permissions (shared by every Instagram endpoint and ``debug_token``)."""
        named = [*(scopes or []), *(grant or []), *(revoke or [])]
        unknown = sorted(set(named) - set(ALL_SCOPES))
        if unknown:
            raise ControlError(f"unknown permissions {unknown}; known: {list(ALL_SCOPES)}")
        with self._lock:
            if scopes is not None:
                self.scopes = set(scopes)
            self.scopes |= set(grant or [])
            self.scopes -= set(revoke or [])
            return sorted(self.scopes)

    def set_human_agent(self, allowed: bool) -> None:
        with self._lock:
            self.human_agent = bool(allowed)

    def handle_instagram_control(self, req: Request) -> Response:
        """``/_sandbox/instagram/...``"""
        sub = req.path[len("/_sandbox/instagram") :].rstrip("/") or "/"
        try:
            body = req.json() if req.body else None
        except ValueError:
            return Response.json({"error": "body is not valid JSON"}, status=400)
        try:
            return self._instagram_control(req.method, sub, body)
        except ControlError as exc:
            return exc.response()

    def _instagram_control(self, method: str, sub: str, body: Any) -> Response:
        route = (method, sub)
        if route == ("POST", "/comments"):
            if isinstance(body, list):
                return Response.json({"ids": [self.add_ig_comment(spec).id for spec in body]}, status=201)
            comment = self.add_ig_comment(body if body is not None else {})
            return Response.json(
                {
                    "id": comment.id,
                    "media_id": comment.media_id,
                    "author_id": comment.author_id,
                    "parent_id": comment.parent_id,
                },
                status=201,
            )
        if route == ("POST", "/mentions"):
            media = self.add_ig_mention(body or {})
            return Response.json({"id": media.id, "author_id": media.owner_id}, status=201)
        if route == ("POST", "/dms"):
            message = self.add_ig_dm(body or {})
            return Response.json(
                {"id": message.id, "conversation_id": message.thread_id, "sender_id": message.from_id}, status=201
            )
        if route == ("POST", "/media"):
            return Response.json({"id": self.add_ig_media(body or {}).id}, status=201)
        if route == ("GET", "/posted"):
            return Response.json(self.posted_instagram())
        if route == ("GET", "/timeline"):
            return Response.json(self.instagram_timeline())
        if route == ("GET", "/permissions"):
            return Response.json({"scopes": self.set_scopes()})
        if route == ("POST", "/permissions"):
            body = body or {}
            if not isinstance(body, dict):
                raise ControlError('body must be an object like {"revoke": ["instagram_manage_messages"]}')
            granted = self.set_scopes(scopes=body.get("scopes"), grant=body.get("grant"), revoke=body.get("revoke"))
            return Response.json({"scopes": granted})
        if route == ("POST", "/settings"):
            body = body or {}
            if "human_agent" in body:
                self.set_human_agent(bool(body["human_agent"]))
            return Response.json({"human_agent": self.human_agent})
        return Response.json({"error": f"no control endpoint {method} /_sandbox/instagram{sub}"}, status=404)
