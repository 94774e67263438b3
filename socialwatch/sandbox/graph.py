"""Emulator of the Facebook Graph API subset a Page inbox tool uses, under ``/vNN.N/``.

Page feed/tagged/posts with nested field expansion, comments with cursor paging,
Messenger conversations and the Send API (24-hour window), page replies to comments,
Graph error bodies (190 with subcodes, rate-limit codes 4/17/32/613), usage headers and
``appsecret_proof`` when an app secret is configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from socialwatch.sandbox.graphfields import FieldSpec, FieldSyntaxError, parse_fields
from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.ids import Counter, fbtrace_id
from socialwatch.sandbox.ratelimit import RateLimiter
from socialwatch.sandbox.timefmt import ControlError, control_time, parse_when

log = logging.getLogger(__name__)

DEFAULT_VERSION = "v21.0"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
RESPONSE_WINDOW = 24 * 3600  # Messenger's standard messaging window
HUMAN_AGENT_WINDOW = 7 * 24 * 3600
DEFAULT_BUDGET = (4800, 3600.0)  # calls per window for the page (Graph's BUC budgets are per 24 h, scaled)
RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}
_VERSION_RE = re.compile(r"^/(v\d{1,2}\.\d{1,2})(/.*)?$")
_MISSING = object()


def graph_time(ts: float) -> str:
    """Graph's timestamp format: 2021-06-30T21:21:18+0000."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


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


def appsecret_proof(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class GraphError(Exception):
    """A Graph API error; ``response()`` renders Graph's error envelope."""

    def __init__(self, code: int, message: str, *, status: int = 400, type_: str = "OAuthException",
                 subcode: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.type = type_
        self.subcode = subcode
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def response(self) -> Response:
        response = Response.json(self.body(), status=self.status)
        if self.code == 190:
            response.headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'
        return response


def no_such_object(object_id: str, method: str = "get") -> GraphError:
    return GraphError(
        100, f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api", type_="GraphMethodException", subcode=33)


def no_such_field(name: str, node_type: str) -> GraphError:
    return GraphError(100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})")


@dataclass
class FbProfile:
    id: str
    name: str
    is_page: bool = False


@dataclass
class FbPost:
    id: str
    author_id: str
    message: str
    created: float
    kind: str  # "page" (the brand's own), "visitor" (on the page), "tagged" (elsewhere, tagging the page)


@dataclass
class FbComment:
    id: str
    post_id: str
    parent_id: str | None
    author_id: str
    message: str
    created: float
    like_count: int = 0
    is_hidden: bool = False


@dataclass
class FbMessage:
    id: str
    thread_id: str
    from_id: str
    to_id: str
    text: str
    created: float


@dataclass
class FbThread:
    id: str
    user_id: str
    number: int
    messages: list[FbMessage] = field(default_factory=list)
    unread: int = 0

    @property
    def updated(self) -> float:
        return max((m.created for m in self.messages), default=0.0)


@dataclass
class _Node:
    """A value that renders as a nested Graph node (``from``, ``parent``...)."""

    type: str
    obj: Any


@dataclass
class _EdgeItems:
    type: str
    items: list[Any]
    path_id: str
    edge: str
    summary: dict[str, Any] | None = None


class GraphEmulator:
    """The Graph API emulator. All state sits behind one lock."""

    target = "facebook"

    def __init__(self, clock: Callable[[], float] = time.time, base_url: Callable[[], str] = lambda: "") -> None:
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.RLock()
        self.page = FbProfile(id="100200300400500", name="Sandbox Brand", is_page=True)
        self.page_token = "EAASANDBOXPAGETOKEN0000000000000000000000000000000000000001"
        self.app_id = "900800700600500"
        self.app_secret: str | None = None
        self.graph_version = DEFAULT_VERSION
        self.limits = RateLimiter({"page": DEFAULT_BUDGET}, clock)
        self._post_numbers = Counter(122_100_000_000_000_001)
        self._comment_numbers = Counter(1_020_000_000_000_001)
        self._profile_numbers = Counter(7_100_000_000_000_001)
        self._thread_numbers = Counter(1_000_000_000_001)
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.profiles: dict[str, FbProfile] = {self.page.id: self.page}
            self.profiles_by_name: dict[str, FbProfile] = {}
            self.posts: dict[str, FbPost] = {}
            self.comments: dict[str, FbComment] = {}
            self.threads: dict[str, FbThread] = {}
            self.messages: dict[str, FbMessage] = {}
            self.posted: list[dict[str, Any]] = []
            self.token_state = "valid"
            self.app_secret = None
            self.rate_limit_code = 32
            self.limits.reset()
            for counter in (self._post_numbers, self._comment_numbers, self._profile_numbers, self._thread_numbers):
                counter.reset()

    def start(self) -> None:
        """Nothing runs beside the HTTP port."""

    def stop(self) -> None:
        """Nothing to stop."""

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "graph_base": self._base_url(),
            "graph_version": self.graph_version,
            "page_id": self.page.id,
            "page_name": self.page.name,
            "page_token": self.page_token,
            "app_id": self.app_id,
        }
        if self.app_secret:
            out["app_secret"] = self.app_secret
        return out

    def _now(self) -> float:
        return self._clock()

    def profile_for(self, spec: Any) -> FbProfile:
        """Find or create the person described by a control-API ``author``/``sender`` object."""
        if isinstance(spec, str):
            spec = {"name": spec}
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ControlError('author must be an object like {"name": "Jo Doe"}')
        with self._lock:
            if spec.get("id"):
                profile_id = str(spec["id"])
                if not profile_id.isdigit():
                    raise ControlError("id must be numeric")
                profile = self.profiles.get(profile_id)
                if profile is None:
                    profile = FbProfile(profile_id, str(spec.get("name") or f"User {profile_id[-4:]}"))
                    self.profiles[profile_id] = profile
                    self.profiles_by_name.setdefault(profile.name.lower(), profile)
                return profile
            name = str(spec.get("name") or "").strip() or f"Visitor {len(self.profiles)}"
            profile = self.profiles_by_name.get(name.lower())
            if profile is None:
                profile = FbProfile(str(self._profile_numbers.next()), name)
                self.profiles[profile.id] = profile
                self.profiles_by_name[name.lower()] = profile
            return profile

    def _when(self, value: Any, key: str) -> float:
        parsed = control_time(value, key)
        return self._now() if parsed is None else parsed

    def _default_post(self) -> FbPost:
        page_posts = [post for post in self.posts.values() if post.kind == "page"]
        if page_posts:
            return max(page_posts, key=lambda post: post.created)
        return self.add_post({"by_page": True, "text": "Welcome to the Sandbox Brand page! Tell us how we're doing.",
                              "created_time": self._now() - 3600})

    def add_post(self, spec: dict[str, Any]) -> FbPost:
        """A post: a visitor's on the page (default), one elsewhere tagging the page, or the page's own."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or spec.get("message") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            if spec.get("by_page"):
                author, kind = self.page, "page"
            else:
                author = self.profile_for(spec.get("author"))
                kind = "tagged" if spec.get("tagged") else "visitor"
                if kind == "tagged" and f"@{self.page.name}".lower() not in text.lower() and \
                        self.page.name.lower() not in text.lower():
                    text = f"{text} @{self.page.name}"
            owner = author.id if kind == "tagged" else self.page.id
            post = FbPost(id=f"{owner}_{self._post_numbers.next()}", author_id=author.id, message=text,
                          created=self._when(spec.get("created_time") or spec.get("created_at"), "created_time"),
                          kind=kind)
            self.posts[post.id] = post
            return post

    def add_comment(self, spec: dict[str, Any]) -> FbComment:
        """A visitor's comment on a post, or a reply under a comment (``parent_id``)."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or spec.get("message") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            author = self.profile_for(spec.get("author"))
            parent_id = spec.get("parent_id") or spec.get("in_reply_to")
            if parent_id:
                parent = self.comments.get(str(parent_id))
                if parent is None:
                    raise ControlError(f"no comment {parent_id}")
                post = self.posts[parent.post_id]
                top_id: str | None = parent.parent_id or parent.id
            else:
                if spec.get("post_id"):
                    found = self.posts.get(str(spec["post_id"]))
                    if found is None:
                        raise ControlError(f"no post {spec['post_id']}")
                    post = found
                else:
                    post = self._default_post()
                top_id = None
            return self._new_comment(post, top_id, author, text,
                                     self._when(spec.get("created_time") or spec.get("created_at"), "created_time"))

    def _new_comment(self, post: FbPost, parent_id: str | None, author: FbProfile, text: str,
                     created: float) -> FbComment:
        object_id = post.id.split("_", 1)[-1]
        comment = FbComment(id=f"{object_id}_{self._comment_numbers.next()}", post_id=post.id, parent_id=parent_id,
                            author_id=author.id, message=text, created=created)
        self.comments[comment.id] = comment
        return comment

    def add_message(self, spec: dict[str, Any]) -> FbMessage:
        """A visitor's Messenger message to the page."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or spec.get("message") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            sender = self.profile_for(spec.get("sender") or spec.get("author"))
            if sender.id == self.page.id:
                raise ControlError("the sender must be someone other than the page")
            thread = self._thread_with(sender.id, create=True)
            assert thread is not None
            message = self._new_message(thread, sender.id, self.page.id, text,
                                        self._when(spec.get("created_time") or spec.get("created_at"),
                                                   "created_time"))
            thread.unread += 1
            return message

    def _thread_with(self, user_id: str, *, create: bool) -> FbThread | None:
        for thread in self.threads.values():
            if thread.user_id == user_id:
                return thread
        if not create:
            return None
        number = self._thread_numbers.next()
        thread = FbThread(id=f"t_{number}", user_id=user_id, number=number)
        self.threads[thread.id] = thread
        return thread

    def _new_message(self, thread: FbThread, from_id: str, to_id: str, text: str, created: float) -> FbMessage:
        message = FbMessage(id="m_" + secrets.token_urlsafe(48), thread_id=thread.id, from_id=from_id,
                            to_id=to_id, text=text, created=created)
        thread.messages.append(message)
        thread.messages.sort(key=lambda m: m.created)
        self.messages[message.id] = message
        return message

    # -- rendering -----------------------------------------------------------------------------

    def _profile_json(self, profile: FbProfile, with_email: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"name": profile.name}
        if with_email:
            out["email"] = f"{profile.id}@facebook.com"
        out["id"] = profile.id
        return out

    def _permalink(self, post: FbPost, comment: FbComment | None = None) -> str:
        owner, _, number = post.id.partition("_")
        url = f"https://www.facebook.com/{owner}/posts/{number}"
        if comment is not None:
            url += f"/?comment_id={comment.id.split('_')[-1]}"
        return url

    def _post_updated(self, post: FbPost) -> float:
        times = [post.created] + [c.created for c in self.comments.values() if c.post_id == post.id]
        return max(times)

    def _scalar(self, node_type: str, obj: Any, name: str) -> Any:
        """A field's value, ``_MISSING`` for known fields without a value; raises for unknown fields."""
        table = getattr(self, f"_fields_{node_type.lower()}")(obj)
        if name not in table:
            raise no_such_field(name, node_type)
        value = table[name]
        return value() if callable(value) else value

    def _fields_page(self, page: FbProfile) -> dict[str, Any]:
        return {
            "id": page.id, "name": page.name, "category": "Product/service",
            "link": f"https://www.facebook.com/{page.id}", "fan_count": 12_345, "followers_count": 12_900,
            "about": "The brand page of the socialwatch sandbox.", "username": "sandboxbrand",
            "verification_status": "not_verified", "is_published": True, "can_post": True,
            "access_token": _MISSING, "picture": _MISSING, "cover": _MISSING, "website": _MISSING,
        }

    def _fields_user(self, profile: FbProfile) -> dict[str, Any]:
        return {"id": profile.id, "name": profile.name, "picture": _MISSING, "email": _MISSING}

    def _fields_pagepost(self, post: FbPost) -> dict[str, Any]:
        author = self.profiles[post.author_id]
        fields: dict[str, Any] = {
            "id": post.id, "message": post.message, "created_time": graph_time(post.created),
            "updated_time": lambda: graph_time(self._post_updated(post)),
            "from": _Node("Profile", author), "permalink_url": self._permalink(post),
            "status_type": "mobile_status_update" if post.kind == "page" else "wall_post",
            "is_hidden": False, "is_published": True, "is_expired": False, "is_popular": False,
            "can_reply_privately": post.kind != "page",
            "privacy": {"allow": "", "deny": "", "description": "Public", "friends": "", "value": "EVERYONE"},
            "message_tags": _MISSING, "to": _MISSING, "story": _MISSING, "attachments": _MISSING,
            "full_picture": _MISSING, "picture": _MISSING, "shares": _MISSING, "place": _MISSING,
            "story_tags": _MISSING, "icon": _MISSING, "properties": _MISSING, "parent_id": _MISSING,
            "actions": _MISSING, "child_attachments": _MISSING, "targeting": _MISSING, "via": _MISSING,
        }
        if post.kind == "visitor":
            fields["to"] = {"data": [self._profile_json(self.page)]}
        if post.kind == "tagged":
            offset = post.message.lower().find(self.page.name.lower())
            if offset >= 0:
                fields["message_tags"] = [{"id": self.page.id, "name": self.page.name, "type": "page",
                                           "offset": offset, "length": len(self.page.name)}]
        return fields

    def _fields_comment(self, comment: FbComment) -> dict[str, Any]:
        post = self.posts[comment.post_id]
        author = self.profiles[comment.author_id]
        replies = sum(1 for c in self.comments.values() if c.parent_id == comment.id)
        fields: dict[str, Any] = {
            "id": comment.id, "message": comment.message, "created_time": graph_time(comment.created),
            "from": _Node("Profile", author), "comment_count": replies, "like_count": comment.like_count,
            "can_comment": comment.parent_id is None, "can_hide": author.id != self.page.id,
            "can_like": True, "can_remove": True,
            "can_reply_privately": author.id != self.page.id, "is_hidden": comment.is_hidden,
            "is_private": False, "user_likes": False, "permalink_url": self._permalink(post, comment),
            "object": {"id": post.id}, "parent": _MISSING, "message_tags": _MISSING, "attachment": _MISSING,
            "admin_creator": _MISSING, "application": _MISSING,
        }
        if comment.parent_id:
            fields["parent"] = _Node("Comment", self.comments[comment.parent_id])
        return fields

    def _fields_profile(self, profile: FbProfile) -> dict[str, Any]:
        return self._fields_page(profile) if profile.is_page else self._fields_user(profile)

    def _fields_conversation(self, thread: FbThread) -> dict[str, Any]:
        user = self.profiles[thread.user_id]
        last = thread.messages[-1] if thread.messages else None
        participants = {"data": [self._profile_json(user, True), self._profile_json(self.page, True)]}
        senders = sorted({m.from_id for m in thread.messages}, key=lambda pid: pid != user.id)
        return {
            "id": thread.id, "updated_time": graph_time(thread.updated),
            "link": f"/{self.page.id}/inbox/{thread.number}/", "message_count": len(thread.messages),
            "unread_count": thread.unread, "snippet": last.text[:100] if last else "",
            "participants": participants,
            "senders": {"data": [self._profile_json(self.profiles[pid], True) for pid in senders]},
            "can_reply": True, "is_subscribed": True, "former_participants": {"data": []},
            "scoped_thread_key": thread.id, "name": _MISSING, "wallpaper": _MISSING, "folder": "inbox",
        }

    def _fields_message(self, message: FbMessage) -> dict[str, Any]:
        sender = self.profiles[message.from_id]
        recipient = self.profiles[message.to_id]
        return {
            "id": message.id, "created_time": graph_time(message.created), "message": message.text,
            "from": self._profile_json(sender, True), "to": {"data": [self._profile_json(recipient, True)]},
            "tags": {"data": [{"name": "inbox"}, {"name": "source:web" if sender.is_page else "source:mobile"}]},
            "attachments": _MISSING, "sticker": _MISSING, "shares": _MISSING, "reactions": _MISSING,
            "is_unsupported": False,
        }

    #: Every field name each node type answers (values may be absent); anything else is Graph's error 100.
    FIELD_NAMES: dict[str, tuple[str, ...]] = {
        "Page": ("id", "name", "category", "link", "fan_count", "followers_count", "about", "username",
                 "verification_status", "is_published", "can_post", "access_token", "picture", "cover", "website"),
        "User": ("id", "name", "picture", "email"),
        "PagePost": ("id", "message", "created_time", "updated_time", "from", "permalink_url", "status_type",
                     "is_hidden", "is_published", "is_expired", "is_popular", "can_reply_privately", "privacy",
                     "message_tags", "to", "story", "attachments", "full_picture", "picture", "shares", "place",
                     "story_tags", "icon", "properties", "parent_id", "actions", "child_attachments", "targeting",
                     "via"),
        "Comment": ("id", "message", "created_time", "from", "comment_count", "like_count", "can_comment",
                    "can_hide", "can_like", "can_remove", "can_reply_privately", "is_hidden", "is_private",
                    "user_likes", "permalink_url", "object", "parent", "message_tags", "attachment", "admin_creator",
                    "application"),
        "Conversation": ("id", "updated_time", "link", "message_count", "unread_count", "snippet", "participants",
                         "senders", "can_reply", "is_subscribed", "former_participants", "scoped_thread_key", "name",
                         "wallpaper", "folder"),
        "Message": ("id", "created_time", "message", "from", "to", "tags", "attachments", "sticker", "shares",
                    "reactions", "is_unsupported"),
    }
    #: Fields whose value is itself a node (so their sub-fields are checked against that type).
    NODE_FIELDS = {("PagePost", "from"): "Profile", ("Comment", "from"): "Profile", ("Comment", "parent"): "Comment"}
    EDGE_TYPES = {"feed": "PagePost", "posts": "PagePost", "published_posts": "PagePost", "tagged": "PagePost",
                  "visitor_posts": "PagePost", "conversations": "Conversation", "comments": "Comment",
                  "reactions": "Profile", "likes": "Profile", "messages": "Message"}

    def validate_fields(self, node_type: str, specs: list[FieldSpec] | None) -> None:
        """Reject unknown fields before anything is read, as Graph does even for empty results."""
        if specs is None:
            return
        names = set(self.FIELD_NAMES["Page"]) | set(self.FIELD_NAMES["User"]) if node_type == "Profile" \
            else set(self.FIELD_NAMES[node_type])
        edges = self.EDGES.get("Page" if node_type == "Profile" else node_type, ())
        for spec in specs:
            if spec.name in edges:
                self.validate_fields(self.EDGE_TYPES[spec.name], spec.children)
            elif spec.name in names:
                child_type = self.NODE_FIELDS.get((node_type, spec.name))
                if child_type:
                    self.validate_fields(child_type, spec.children)
            else:
                shown = "Page" if node_type == "Profile" else node_type
                raise no_such_field(spec.name, shown)

    DEFAULT_FIELDS = {
        "Page": ("name", "id"),
        "User": ("name", "id"),
        "Profile": ("name", "id"),
        "PagePost": ("created_time", "message", "id"),
        "Comment": ("created_time", "from", "message", "id"),
        "Conversation": ("id", "updated_time"),
        "Message": ("id", "created_time"),
    }
    EDGES = {
        "Page": ("feed", "posts", "published_posts", "tagged", "visitor_posts", "conversations"),
        "PagePost": ("comments", "reactions", "likes"),
        "Comment": ("comments", "reactions", "likes"),
        "Conversation": ("messages",),
    }

    def render(self, node_type: str, obj: Any, specs: list[FieldSpec] | None, req: Request) -> dict[str, Any]:
        if node_type == "Profile":
            node_type = "Page" if obj.is_page else "User"
        if specs is None:
            specs = [FieldSpec(name) for name in self.DEFAULT_FIELDS[node_type]]
        out: dict[str, Any] = {}
        for spec in specs:
            if spec.name in self.EDGES.get(node_type, ()):
                edge = self._edge_items(node_type, obj, spec.name, spec.modifiers, req, nested=True)
                nested = self._edge_page(edge, spec.children, spec.modifiers, req, nested=True)
                if nested is not None:
                    out[spec.alias] = nested
                continue
            value = self._scalar(node_type, obj, spec.name)
            if value is _MISSING:
                continue
            if isinstance(value, _Node):
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

    # -- edges and paging ----------------------------------------------------------------------

    def _edge_items(self, node_type: str, obj: Any, edge: str, modifiers: dict[str, str],
                    req: Request, *, nested: bool) -> _EdgeItems:
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
                    raise GraphError(100, f"(#100) Param platform must be one of {{MESSENGER, INSTAGRAM}} - "
                                          f"got \"{platform}\"")
                threads = [] if platform == "instagram" else list(self.threads.values())
                user_id = arg("user_id")
                if user_id:
                    threads = [t for t in threads if t.user_id == user_id]
                threads = [t for t in threads if t.messages and in_range(t.updated)]
                threads.sort(key=lambda t: t.updated, reverse=True)
                return _EdgeItems("Conversation", threads, obj.id, edge)
            kinds = {"feed": ("page", "visitor"), "posts": ("page",), "published_posts": ("page",),
                     "tagged": ("tagged",), "visitor_posts": ("visitor",)}[edge]
            posts = [p for p in self.posts.values() if p.kind in kinds and in_range(p.created)]
            posts.sort(key=lambda p: (p.created, p.id), reverse=True)
            return _EdgeItems("PagePost", posts, obj.id, edge)
        if edge in ("reactions", "likes"):
            summary = {"total_count": 0, "can_like": True, "has_liked": False} if edge == "likes" else \
                {"total_count": 0, "viewer_reaction": "NONE"}
            return _EdgeItems("Profile", [], obj.id, edge, summary)
        if node_type == "Conversation":
            messages = [m for m in obj.messages if in_range(m.created)]
            messages.sort(key=lambda m: m.created, reverse=True)
            return _EdgeItems("Message", messages, obj.id, edge)
        # comments on a post or a comment
        filter_ = (arg("filter") or "toplevel").lower()
        order = (arg("order") or "chronological").lower()
        if filter_ not in ("toplevel", "stream"):
            raise GraphError(100, f"(#100) Param filter must be one of {{toplevel, stream}} - got \"{filter_}\"")
        if order not in ("chronological", "reverse_chronological", "ranked"):
            raise GraphError(100, "(#100) Param order must be one of {chronological, reverse_chronological, "
                                  f"ranked}} - got \"{order}\"")
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
            raise GraphError(100, f"(#100) Param limit must be a number - got \"{value}\"") from None
        return max(1, min(limit, MAX_LIMIT))

    def _edge_page(self, edge: _EdgeItems, children: list[FieldSpec] | None, modifiers: dict[str, str],
                   req: Request, *, nested: bool) -> dict[str, Any] | None:
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
        page = edge.items[start:start + limit]
        want_summary = str(arg("summary") or "").lower() in ("true", "1", "total_count")
        if nested and not page and not want_summary:
            return None
        body: dict[str, Any] = {"data": [self.render(edge.type, item, children, req) for item in page]}
        if page:
            paging: dict[str, Any] = {"cursors": {"before": encode_cursor(page[0].id),
                                                  "after": encode_cursor(page[-1].id)}}
            if start + limit < len(edge.items):
                paging["next"] = self._paging_url(edge, children, req, modifiers, nested, limit,
                                                  after=paging["cursors"]["after"])
            if start > 0:
                paging["previous"] = self._paging_url(edge, children, req, modifiers, nested, limit,
                                                      before=paging["cursors"]["before"])
            body["paging"] = paging
        if want_summary and edge.summary is not None:
            body["summary"] = edge.summary
        return body

    def _cursor_index(self, cursor: str, ids: list[str]) -> int:
        object_id = decode_cursor(cursor)
        if object_id is None or object_id not in ids:
            raise GraphError(100, "(#100) The parameter after/before is not a valid cursor")
        return ids.index(object_id)

    def _paging_url(self, edge: _EdgeItems, children: list[FieldSpec] | None, req: Request,
                    modifiers: dict[str, str], nested: bool, limit: int, **cursor: str) -> str:
        params: list[tuple[str, str]] = []
        token = self._token(req)
        if token:
            params.append(("access_token", token))
        params.append(("pretty", "0"))
        if children is not None:
            params.append(("fields", unparse_fields(children)))
        carried = ("order", "filter", "since", "until", "platform", "user_id", "summary", "appsecret_proof")
        for name in carried:
            value = (modifiers.get(name) if nested and name != "appsecret_proof" else req.arg(name))
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
        match = _VERSION_RE.match(req.path)
        return match.group(1) if match else self.graph_version

    # -- auth, usage and dispatch --------------------------------------------------------------

    def _body_params(self, req: Request) -> dict[str, Any]:
        content_type = (req.headers.get("content-type") or "").lower()
        if "application/json" in content_type:
            try:
                body = req.json()
            except ValueError:
                raise GraphError(100, "(#100) The request body is not valid JSON") from None
            return body if isinstance(body, dict) else {}
        if "multipart/form-data" in content_type:
            return {}
        try:
            return req.form()
        except UnicodeDecodeError:
            return {}

    def _token(self, req: Request) -> str | None:
        token = req.arg("access_token")
        if token:
            return token
        if req.method != "GET":
            try:
                value = self._body_params(req).get("access_token")
            except GraphError:
                value = None
            if value:
                return str(value)
        header = req.headers.get("authorization") or ""
        for scheme in ("Bearer ", "OAuth "):
            if header.startswith(scheme):
                return header[len(scheme):].strip()
        return None

    def _check_auth(self, req: Request) -> None:
        token = self._token(req)
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if not hmac.compare_digest(token, self.page_token):
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if self.token_state == "expired":
            expired_at = datetime.fromtimestamp(self._now() - 3600, timezone.utc)
            now = datetime.fromtimestamp(self._now(), timezone.utc)
            raise GraphError(
                190, "Error validating access token: Session has expired on "
                f"{expired_at.strftime('%A, %d-%b-%y %H:%M:%S')} UTC. The current time is "
                f"{now.strftime('%A, %d-%b-%y %H:%M:%S')} UTC.", subcode=463)
        if self.token_state == "invalidated":
            raise GraphError(
                190, "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons.", subcode=460)
        if self.app_secret:
            proof = req.arg("appsecret_proof") or (
                self._body_params(req).get("appsecret_proof") if req.method != "GET" else None)
            if not proof:
                raise GraphError(100, "API calls from the server require an appsecret_proof argument",
                                 type_="GraphMethodException")
            if not hmac.compare_digest(str(proof), appsecret_proof(token, self.app_secret)):
                raise GraphError(100, "Invalid appsecret_proof provided in the API argument",
                                 type_="GraphMethodException")

    def _usage_headers(self, used_pct: int, regain_minutes: int) -> dict[str, str]:
        app = {"call_count": used_pct, "total_cputime": used_pct // 4, "total_time": used_pct // 3}
        buc = {self.page.id: [{"type": "pages", "call_count": used_pct, "total_cputime": used_pct // 4,
                               "total_time": used_pct // 3, "estimated_time_to_regain_access": regain_minutes}]}
        return {"x-app-usage": json.dumps(app, separators=(",", ":")),
                "x-business-use-case-usage": json.dumps(buc, separators=(",", ":"))}

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
        match = _VERSION_RE.match(req.path)
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
                if edge not in self.EDGES.get("Page" if node_type == "Profile" and obj.is_page else node_type, ()):
                    raise no_such_field(edge, node_type)
                node_type = "Page" if node_type == "Profile" and obj.is_page else node_type
                self.validate_fields(self.EDGE_TYPES[edge], specs)
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
        params = self._body_params(req)
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
        self.posted.append({
            "kind": "comment_reply", "id": comment.id, "text": message, "in_reply_to": target_id,
            "parent_id": top, "post_id": post.id, "created_time": graph_time(comment.created),
        })
        log.debug("graph sandbox: page replied %s under %s", comment.id, target_id)
        return Response.json({"id": comment.id})

    def _send_message(self, req: Request, target_id: str) -> Response:
        if target_id not in ("me", self.page.id):
            raise no_such_object(target_id, "post")
        params = self._body_params(req)

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
            raise GraphError(100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} - "
                                  f"got \"{messaging_type}\"")
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
                raise GraphError(100, f"(#100) Param tag must be one of {{ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, "
                                      f"HUMAN_AGENT, POST_PURCHASE_UPDATE}} - got \"{tag}\"")
        if window is not None and (last_from_user is None or self._now() - last_from_user > window):
            raise GraphError(
                10, "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
                "https://developers.facebook.com/docs/messenger-platform/policy-overview", subcode=2018278)
        sent = self._new_message(thread, self.page.id, user_id, text, self._now())
        thread.unread = 0
        answered = [m for m in thread.messages if m.from_id == user_id]
        self.posted.append({
            "kind": "message", "id": sent.id, "text": text, "recipient_id": user_id, "conversation_id": thread.id,
            "in_reply_to": answered[-1].id if answered else None, "messaging_type": messaging_type,
            "tag": tag, "created_time": graph_time(sent.created),
        })
        return Response.json({"recipient_id": user_id, "message_id": sent.id})

    # -- faults --------------------------------------------------------------------------------

    def fault_response(self, kind: str, *, seconds: float | None = None, method: str = "GET", path: str = "",
                       options: dict[str, Any] | None = None) -> Response | None:
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
            error = GraphError(190, "Error validating access token: The session has been invalidated because the "
                               "user changed their password or Facebook has changed the session for security "
                               "reasons.", subcode=460)
        elif kind == "403":
            error = GraphError(200, "(#200) Permissions error", status=403)
        elif kind == "500":
            error = GraphError(1, "An unknown error has occurred.", status=500, is_transient=True)
        elif kind == "503":
            error = GraphError(2, "An unexpected error has occurred. Please retry your request later.",
                               status=503, is_transient=True)
        elif kind == "malformed":
            return self._finish(Response(200, b'{"data":[{"id":"100200300400500_1221000000', Response.json({})
                                         .headers), req)
        else:
            return None
        return self._finish(error.response(), req)

    # -- control API ---------------------------------------------------------------------------

    def timeline(self) -> dict[str, Any]:
        """Everything, for the web view and scripts (``GET /_sandbox/facebook/timeline``)."""
        with self._lock:
            def comment_json(comment: FbComment) -> dict[str, Any]:
                author = self.profiles[comment.author_id]
                replies = sorted((c for c in self.comments.values() if c.parent_id == comment.id),
                                 key=lambda c: c.created)
                return {
                    "id": comment.id, "message": comment.message, "created_time": graph_time(comment.created),
                    "from": self._profile_json(author), "from_page": author.is_page,
                    "replies": [comment_json(reply) for reply in replies],
                }

            posts = sorted(self.posts.values(), key=lambda p: p.created, reverse=True)
            threads = sorted(self.threads.values(), key=lambda t: t.updated, reverse=True)
            return {
                "page": self._profile_json(self.page),
                "posts": [{
                    "id": post.id, "message": post.message, "created_time": graph_time(post.created),
                    "from": self._profile_json(self.profiles[post.author_id]), "kind": post.kind,
                    "permalink_url": self._permalink(post),
                    "comments": [comment_json(c) for c in sorted(
                        (c for c in self.comments.values() if c.post_id == post.id and c.parent_id is None),
                        key=lambda c: c.created)],
                } for post in posts],
                "conversations": [{
                    "id": thread.id, "updated_time": graph_time(thread.updated),
                    "participant": self._profile_json(self.profiles[thread.user_id]),
                    "messages": [{
                        "id": m.id, "message": m.text, "created_time": graph_time(m.created),
                        "from": self._profile_json(self.profiles[m.from_id]), "from_page": m.from_id == self.page.id,
                    } for m in thread.messages],
                } for thread in threads],
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
        sub = req.path[len("/_sandbox/facebook"):].rstrip("/") or "/"
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
            return Response.json({"id": comment.id, "post_id": comment.post_id, "author_id": comment.author_id,
                                  "parent_id": comment.parent_id}, status=201)
        if (method, sub) == ("POST", "/posts"):
            post = self.add_post(body or {})
            return Response.json({"id": post.id, "author_id": post.author_id, "kind": post.kind}, status=201)
        if (method, sub) == ("POST", "/messages"):
            message = self.add_message(body or {})
            return Response.json({"id": message.id, "conversation_id": message.thread_id,
                                  "sender_id": message.from_id}, status=201)
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
            return Response.json({"app_secret_set": self.app_secret is not None})
        return Response.json({"error": f"no control endpoint {method} /_sandbox/facebook{sub}"}, status=404)


def unparse_fields(specs: list[FieldSpec]) -> str:
    """The inverse of ``parse_fields``, for ``paging.next`` URLs."""
    parts = []
    for spec in specs:
        text = spec.name + "".join(f".{name}({value})" for name, value in spec.modifiers.items())
        if spec.children is not None:
            text += "{" + unparse_fields(spec.children) + "}"
        parts.append(text)
    return ",".join(parts)
