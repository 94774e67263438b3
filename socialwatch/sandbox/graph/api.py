"""The Graph API, emulated: reads of the page's feed, comments and conversations, and its replies.

``GET /vNN.N/<id>[/<edge>]`` with field expansion (``render.py``), ``POST <id>/comments``
(the page replies to a post or a comment) and ``POST me/messages`` (the Send API, inside
Messenger's 24-hour window or with a message tag). Every answer carries Graph's usage
headers (``x-app-usage``, ``x-business-use-case-usage``), which fill up as the page's
budget is spent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from socialwatch.sandbox.graph.auth import GraphAuth, body_params
from socialwatch.sandbox.graph.errors import RATE_LIMIT_MESSAGES, GraphError, no_such_field, no_such_object
from socialwatch.sandbox.graph.fields import FieldSpec, FieldSyntaxError, parse_fields
from socialwatch.sandbox.graph.model import HUMAN_AGENT_WINDOW, RESPONSE_WINDOW, VERSION_PATH, graph_time
from socialwatch.sandbox.graph.nodes import EDGE_TYPES, EDGES
from socialwatch.sandbox.graph.render import GraphRender
from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.ids import fbtrace_id

log = logging.getLogger(__name__)


class GraphApi(GraphRender, GraphAuth):
    """``handle``: routing, budgets, the endpoints and the answers to injected faults."""

    def _usage_headers(self, used_pct: int, regain_minutes: int) -> dict[str, str]:
        app = {"call_count": used_pct, "total_cputime": used_pct // 4, "total_time": used_pct // 3}
        buc = {
            self.page.id: [
                {
                    "type": "pages",
                    "call_count": used_pct,
                    "total_cputime": used_pct // 4,
                    "total_time": used_pct // 3,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {
            "x-app-usage": json.dumps(app, separators=(",", ":")),
            "x-business-use-case-usage": json.dumps(buc, separators=(",", ":")),
        }

    def _finish(self, response: Response, req: Request) -> Response:
        decision = self.limits.peek("page")
        used = decision.limit - decision.remaining
        pct = 100 if decision.limit == 0 else min(100, round(used * 100 / decision.limit))
        regain = 0 if decision.remaining > 0 else max(1, round((decision.reset_at - self._now()) / 60))
        response.headers.update(self._usage_headers(pct, regain))
        response.headers["facebook-api-version"] = self._request_version(req)
        response.headers["x-fb-trace-id"] = fbtrace_id()
        response.headers["x-fb-rev"] = "1019000000"
        response.headers["content-type"] = "application/json; charset=UTF-8"
        response.headers["cache-control"] = "private, no-cache, no-store, must-revalidate"
        return response

    def handle(self, req: Request) -> Response:
        match = VERSION_PATH.match(req.path)
        if not match:
            return Response.json({"error": "not a Graph API path"}, status=404)
        rest = (match.group(2) or "/").strip("/")
        try:
            with self._lock:
                self._check_auth(req)
            decision = self.limits.take("page")
            if not decision.allowed:
                code = self.rate_limit_code
                extra: dict[str, Any] = {"is_transient": True} if code == 4 else {}
                raise GraphError(code, RATE_LIMIT_MESSAGES[code], **extra)
            with self._lock:
                response = self._route(req, rest)
        except GraphError as exc:
            response = exc.response()
        return self._finish(response, req)

    def _route(self, req: Request, rest: str) -> Response:
        parts = [part for part in rest.split("/") if part]
        fields_raw = req.arg("fields")
        try:
            specs = parse_fields(fields_raw)
        except FieldSyntaxError as exc:
            raise GraphError(2500, str(exc)) from None
        if req.method == "GET":
            if not parts:
                return self._get_many(req, specs)
            node_type, obj = self._lookup(parts[0])
            if len(parts) == 1:
                self.validate_fields(node_type if node_type != "Profile" or obj.is_page else "User", specs)
                return Response.json(self.render(node_type, obj, specs, req))
            if len(parts) == 2:
                edge = parts[1]
                if edge not in EDGES.get("Page" if node_type == "Profile" and obj.is_page else node_type, ()):
                    raise no_such_field(edge, node_type)
                node_type = "Page" if node_type == "Profile" and obj.is_page else node_type
                self.validate_fields(EDGE_TYPES[edge], specs)
                items = self._edge_items(node_type, obj, edge, {}, req, nested=False)
                page = self._edge_page(items, specs, {}, req, nested=False)
                assert page is not None
                return Response.json(page)
            raise GraphError(2500, f"Unknown path components: /{'/'.join(parts[2:])}")
        if req.method == "POST" and len(parts) == 2:
            if parts[1] == "comments":
                return self._post_comment(req, parts[0])
            if parts[1] == "messages":
                return self._send_message(req, parts[0])
        if req.method == "DELETE" and len(parts) == 1:
            node_type, obj = self._lookup(parts[0])
            raise GraphError(200, "(#200) The sandbox does not delete objects", status=403)
        target = parts[0] if parts else ""
        raise no_such_object(target, req.method.lower())

    def _lookup(self, object_id: str) -> tuple[str, Any]:
        if object_id == "me" or object_id == self.page.id:
            return "Profile", self.page
        if object_id in self.posts:
            return "PagePost", self.posts[object_id]
        if object_id in self.comments:
            return "Comment", self.comments[object_id]
        if object_id in self.threads:
            return "Conversation", self.threads[object_id]
        if object_id in self.messages:
            return "Message", self.messages[object_id]
        if object_id in self.profiles:
            return "Profile", self.profiles[object_id]
        raise no_such_object(object_id)

    def _get_many(self, req: Request, specs: list[FieldSpec] | None) -> Response:
        ids = [value for value in (req.arg("ids") or "").split(",") if value]
        if not ids:
            raise GraphError(100, "(#100) Must specify ids or a node path", type_="GraphMethodException")
        out = {}
        for object_id in ids:
            node_type, obj = self._lookup(object_id)
            self.validate_fields(node_type, specs)
            out[object_id] = self.render(node_type, obj, specs, req)
        return Response.json(out)

    def _post_comment(self, req: Request, target_id: str) -> Response:
        params = body_params(req)
        message = str(params.get("message") or req.arg("message") or "").strip()
        node_type, obj = self._lookup(target_id)
        if node_type not in ("PagePost", "Comment"):
            raise no_such_object(target_id, "post")
        if not message and not params.get("attachment_url") and not params.get("attachment_id"):
            raise GraphError(100, "(#100) Missing message or attachment")
        if node_type == "Comment":
            post = self.posts[obj.post_id]
            top = obj.parent_id or obj.id
        else:
            post, top = obj, None
        comment = self._new_comment(post, top, self.page, message, self._now())
        self.posted.append(
            {
                "kind": "comment_reply",
                "id": comment.id,
                "text": message,
                "in_reply_to": target_id,
                "parent_id": top,
                "post_id": post.id,
                "created_time": graph_time(comment.created),
            }
        )
        log.debug("graph sandbox: page replied %s under %s", comment.id, target_id)
        return Response.json({"id": comment.id})

    def _send_message(self, req: Request, target_id: str) -> Response:
        if target_id not in ("me", self.page.id):
            raise no_such_object(target_id, "post")
        params = body_params(req)

        def as_object(name: str) -> dict[str, Any]:
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

        recipient = as_object("recipient")
        message = as_object("message")
        messaging_type = str(params.get("messaging_type") or "RESPONSE").upper()
        tag = params.get("tag")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise GraphError(
                100,
                "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} - "
                f'got "{messaging_type}"',
            )
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise GraphError(100, "(#100) param message must be non-empty.")
        if len(text) > 2000:
            raise GraphError(100, "(#100) Length of param message[text] must be less than or equal to 2000")
        user_id = str(recipient.get("id") or "")
        thread = self._thread_with(user_id, create=False) if user_id else None
        if thread is None:
            raise GraphError(100, "(#100) No matching user found", subcode=2018001)
        last_from_user = max((m.created for m in thread.messages if m.from_id == user_id), default=None)
        window: int | None = RESPONSE_WINDOW
        if messaging_type == "MESSAGE_TAG":
            if tag == "HUMAN_AGENT":
                window = HUMAN_AGENT_WINDOW
            elif tag in ("ACCOUNT_UPDATE", "POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE"):
                window = None
            else:
                raise GraphError(
                    100,
                    f"(#100) Param tag must be one of {{ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, "
                    f'HUMAN_AGENT, POST_PURCHASE_UPDATE}} - got "{tag}"',
                )
        if window is not None and (last_from_user is None or self._now() - last_from_user > window):
            raise GraphError(
                10,
                "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
                "https://developers.facebook.com/docs/messenger-platform/policy-overview",
                subcode=2018278,
            )
        sent = self._new_message(thread, self.page.id, user_id, text, self._now())
        thread.unread = 0
        answered = [m for m in thread.messages if m.from_id == user_id]
        self.posted.append(
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

    def fault_response(
        self,
        kind: str,
        *,
        seconds: float | None = None,
        method: str = "GET",
        path: str = "",
        options: dict[str, Any] | None = None,
    ) -> Response | None:
        """Graph-shaped responses for injected faults, with the statuses Facebook uses."""
        options = options or {}
        req = Request(method, path)
        if kind == "429":
            code = int(options.get("code", 4))
            if code not in RATE_LIMIT_MESSAGES:
                code = 4
            extra: dict[str, Any] = {"is_transient": True} if code == 4 else {}
            response = GraphError(code, RATE_LIMIT_MESSAGES[code], **extra).response()
            finished = self._finish(response, req)
            regain = max(1, round((seconds or 3600) / 60))
            finished.headers.update(self._usage_headers(100, regain))
            return finished
        if kind == "401":
            error = GraphError(
                190,
                "Error validating access token: The session has been invalidated because the "
                "user changed their password or Facebook has changed the session for security "
                "reasons.",
                subcode=460,
            )
        elif kind == "403":
            error = GraphError(200, "(#200) Permissions error", status=403)
        elif kind == "500":
            error = GraphError(1, "An unknown error has occurred.", status=500, is_transient=True)
        elif kind == "503":
            error = GraphError(
                2, "An unexpected error has occurred. Please retry your request later.", status=503, is_transient=True
            )
        elif kind == "400":
            # An error that will not go away by itself, as Graph says with is_transient false.
            user_words: dict[str, Any] = {
                k: str(options[k]) for k in ("error_user_title", "error_user_msg") if options.get(k)
            }
            error = GraphError(
                int(options.get("code", 100)),
                str(options.get("message") or "(#100) The request is not valid for this object"),
                type_=str(options.get("type") or "OAuthException"),
                subcode=int(options["subcode"]) if options.get("subcode") else None,
                is_transient=bool(options.get("is_transient", False)),
                **user_words,
            )
        elif kind == "malformed":
            return self._finish(
                Response(200, b'{"data":[{"id":"100200300400500_1221000000', Response.json({}).headers), req
            )
        else:
            return None
        return self._finish(error.response(), req)
