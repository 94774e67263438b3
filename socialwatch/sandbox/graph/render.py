"""Graph's field expansion and paging: a node rendered with the fields asked for, an edge one page at a time.

``fields=comments.limit(5){from{name},message}`` nests edges and nodes to any depth; a
nested edge takes only its own ``.modifier(...)`` arguments. Pages carry Graph's opaque
cursors and ``paging.next`` / ``previous`` URLs that repeat the request's own arguments.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from socialwatch.sandbox.graph.auth import request_token
from socialwatch.sandbox.graph.errors import GraphError
from socialwatch.sandbox.graph.fields import FieldSpec, unparse_fields
from socialwatch.sandbox.graph.model import DEFAULT_LIMIT, MAX_LIMIT, VERSION_PATH
from socialwatch.sandbox.graph.nodes import DEFAULT_FIELDS, EDGES, MISSING, GraphNodes, Node
from socialwatch.sandbox.http import Request
from socialwatch.sandbox.timefmt import parse_when


def encode_cursor(object_id: str) -> str:
    """Opaque cursors in Graph's style: base64 with '=' written as 'ZD' (e.g. ``MTAxZD``)."""
    raw = base64.b64encode(f"c:{object_id}".encode()).decode()
    stripped = raw.rstrip("=")
    return stripped + "ZD" * (len(raw) - len(stripped))


def decode_cursor(cursor: str) -> str | None:
    for pads in (2, 1, 0):
        if pads and not cursor.endswith("ZD" * pads):
            continue
        body = cursor[: len(cursor) - 2 * pads] if pads else cursor
        try:
            text = base64.b64decode(body + "=" * pads, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            continue
        if text.startswith("c:"):
            return text[2:]
    return None


@dataclass
class _EdgeItems:
    type: str
    items: list[Any]
    path_id: str
    edge: str
    summary: dict[str, Any] | None = None


class GraphRender(GraphNodes):
    """Nodes and edges as JSON, under the request's ``fields=``."""

    def render(self, node_type: str, obj: Any, specs: list[FieldSpec] | None, req: Request) -> dict[str, Any]:
        if node_type == "Profile":
            node_type = "Page" if obj.is_page else "User"
        if specs is None:
            specs = [FieldSpec(name) for name in DEFAULT_FIELDS[node_type]]
        out: dict[str, Any] = {}
        for spec in specs:
            if spec.name in EDGES.get(node_type, ()):
                edge = self._edge_items(node_type, obj, spec.name, spec.modifiers, req, nested=True)
                nested = self._edge_page(edge, spec.children, spec.modifiers, req, nested=True)
                if nested is not None:
                    out[spec.alias] = nested
                continue
            value = self._scalar(node_type, obj, spec.name)
            if value is MISSING:
                continue
            if isinstance(value, Node):
                value = self.render(value.type, value.obj, spec.children, req)
            elif spec.children is not None and isinstance(value, dict):
                value = self._project(value, spec.children)
            out[spec.alias] = value
        if "id" not in out:
            out["id"] = self._scalar(node_type, obj, "id")
        return out

    def _project(self, value: dict[str, Any], children: list[FieldSpec]) -> dict[str, Any]:
        """Sub-selection on plain objects such as ``to{name}`` or ``participants{id}``."""
        if isinstance(value.get("data"), list):
            return {**value, "data": [self._project(item, children) for item in value["data"]]}
        wanted = {child.name for child in children} | {"id"}
        return {key: item for key, item in value.items() if key in wanted}

    def _edge_items(
        self, node_type: str, obj: Any, edge: str, modifiers: dict[str, str], req: Request, *, nested: bool
    ) -> _EdgeItems:
        def arg(name: str) -> str | None:
            # A nested edge takes only its own .modifier(...)s; the query string belongs to the top level.
            return modifiers.get(name) if nested else req.arg(name)

        since = self._time_arg(arg("since"), "since")
        until = self._time_arg(arg("until"), "until")

        def in_range(ts: float) -> bool:
            return (since is None or ts >= since) and (until is None or ts <= until)

        if node_type == "Page":
            if edge == "conversations":
                platform = arg("platform") or "messenger"
                if platform not in ("messenger", "instagram"):
                    raise GraphError(
                        100, f'(#100) Param platform must be one of {{MESSENGER, INSTAGRAM}} - got "{platform}"'
                    )
                threads = [] if platform == "instagram" else list(self.threads.values())
                user_id = arg("user_id")
                if user_id:
                    threads = [t for t in threads if t.user_id == user_id]
                threads = [t for t in threads if t.messages and in_range(t.updated)]
                threads.sort(key=lambda t: t.updated, reverse=True)
                return _EdgeItems("Conversation", threads, obj.id, edge)
            kinds = {
                "feed": ("page", "visitor"),
                "posts": ("page",),
                "published_posts": ("page",),
                "tagged": ("tagged",),
                "visitor_posts": ("visitor",),
            }[edge]
            posts = [p for p in self.posts.values() if p.kind in kinds and in_range(p.created)]
            posts.sort(key=lambda p: (p.created, p.id), reverse=True)
            return _EdgeItems("PagePost", posts, obj.id, edge)
        if edge in ("reactions", "likes"):
            summary = (
                {"total_count": 0, "can_like": True, "has_liked": False}
                if edge == "likes"
                else {"total_count": 0, "viewer_reaction": "NONE"}
            )
            return _EdgeItems("Profile", [], obj.id, edge, summary)
        if node_type == "Conversation":
            messages = [m for m in obj.messages if in_range(m.created)]
            messages.sort(key=lambda m: m.created, reverse=True)
            return _EdgeItems("Message", messages, obj.id, edge)
        # comments on a post or a comment
        filter_ = (arg("filter") or "toplevel").lower()
        order = (arg("order") or "chronological").lower()
        if filter_ not in ("toplevel", "stream"):
            raise GraphError(100, f'(#100) Param filter must be one of {{toplevel, stream}} - got "{filter_}"')
        if order not in ("chronological", "reverse_chronological", "ranked"):
            raise GraphError(
                100,
                f'(#100) Param order must be one of {{chronological, reverse_chronological, ranked}} - got "{order}"',
            )
        if node_type == "PagePost":
            comments = [c for c in self.comments.values() if c.post_id == obj.id]
            if filter_ == "toplevel":
                comments = [c for c in comments if c.parent_id is None]
        else:
            comments = [c for c in self.comments.values() if c.parent_id == obj.id]
        comments = [c for c in comments if in_range(c.created)]
        comments.sort(key=lambda c: (c.created, c.id), reverse=order == "reverse_chronological")
        summary = {"order": order, "total_count": len(comments), "can_comment": True}
        return _EdgeItems("Comment", comments, obj.id, edge, summary)

    def _time_arg(self, value: str | None, name: str) -> float | None:
        if value is None or value == "":
            return None
        try:
            return parse_when(value)
        except ValueError:
            raise GraphError(100, f"(#100) The parameter {name} is not a valid time: {value}") from None

    def _limit(self, value: str | None) -> int:
        if value is None or value == "":
            return DEFAULT_LIMIT
        try:
            limit = int(value)
        except ValueError:
            raise GraphError(100, f'(#100) Param limit must be a number - got "{value}"') from None
        return max(1, min(limit, MAX_LIMIT))

    def _edge_page(
        self,
        edge: _EdgeItems,
        children: list[FieldSpec] | None,
        modifiers: dict[str, str],
        req: Request,
        *,
        nested: bool,
    ) -> dict[str, Any] | None:
        """One page of an edge with Graph's cursor paging; None when a nested edge has nothing to show."""

        def arg(name: str) -> str | None:
            return modifiers.get(name) if nested else req.arg(name)

        limit = self._limit(arg("limit"))
        after, before = arg("after"), arg("before")
        ids = [item.id for item in edge.items]
        start = 0
        if after:
            start = self._cursor_index(after, ids) + 1
        elif before:
            start = max(self._cursor_index(before, ids) - limit, 0)
        page = edge.items[start : start + limit]
        want_summary = str(arg("summary") or "").lower() in ("true", "1", "total_count")
        if nested and not page and not want_summary:
            return None
        body: dict[str, Any] = {"data": [self.render(edge.type, item, children, req) for item in page]}
        if page:
            paging: dict[str, Any] = {
                "cursors": {"before": encode_cursor(page[0].id), "after": encode_cursor(page[-1].id)}
            }
            if start + limit < len(edge.items):
                paging["next"] = self._paging_url(
                    edge, children, req, modifiers, nested, limit, after=paging["cursors"]["after"]
                )
            if start > 0:
                paging["previous"] = self._paging_url(
                    edge, children, req, modifiers, nested, limit, before=paging["cursors"]["before"]
                )
            body["paging"] = paging
        if want_summary and edge.summary is not None:
            body["summary"] = edge.summary
        return body

    def _cursor_index(self, cursor: str, ids: list[str]) -> int:
        object_id = decode_cursor(cursor)
        if object_id is None or object_id not in ids:
            raise GraphError(100, "(#100) The parameter after/before is not a valid cursor")
        return ids.index(object_id)

    def _paging_url(
        self,
        edge: _EdgeItems,
        children: list[FieldSpec] | None,
        req: Request,
        modifiers: dict[str, str],
        nested: bool,
        limit: int,
        **cursor: str,
    ) -> str:
        params: list[tuple[str, str]] = []
        token = request_token(req)
        if token:
            params.append(("access_token", token))
        params.append(("pretty", "0"))
        if children is not None:
            params.append(("fields", unparse_fields(children)))
        carried = ("order", "filter", "since", "until", "platform", "user_id", "summary", "appsecret_proof")
        for name in carried:
            value = modifiers.get(name) if nested and name != "appsecret_proof" else req.arg(name)
            if value is not None:
                params.append((name, value))
        params.append(("limit", str(limit)))
        params.extend(cursor.items())
        version = self._request_version(req)
        return f"{self._public_base(req)}/{version}/{edge.path_id}/{edge.edge}?{urlencode(params)}"

    def _public_base(self, req: Request) -> str:
        host = req.headers.get("host")
        return f"http://{host}" if host else self._base_url()

    def _request_version(self, req: Request) -> str:
        match = VERSION_PATH.match(req.path)
        return match.group(1) if match else self.graph_version
