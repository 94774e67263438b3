"""The Graph emulator's state: the page, its token and budget, and everything seeded or posted on it.

``GraphState`` holds it all behind one lock, with what the control API seeds (visitors'
posts, comments, Messenger messages) and what the Graph API adds (the page's replies).
The API (``api.py``) and the control API (``control.py``) are mixins over it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from socialwatch.sandbox.graph.attachments import parse_specs
from socialwatch.sandbox.graph.model import (
    DEFAULT_BUDGET,
    DEFAULT_VERSION,
    FbComment,
    FbMessage,
    FbPost,
    FbProfile,
    FbThread,
)
from socialwatch.sandbox.ids import Counter
from socialwatch.sandbox.ratelimit import RateLimiter
from socialwatch.sandbox.timefmt import ControlError, control_time


class GraphState:
    """The page's world. All state sits behind one lock."""

    def __init__(self, clock: Callable[[], float] = time.time, base_url: Callable[[], str] = lambda: "") -> None:
        self._clock = clock
        self._base_url = base_url
        self._lock = threading.RLock()
        self.page = FbProfile(id="100200300400500", name="Sandbox Brand", is_page=True)
        self.page_token = "EAASANDBOXPAGETOKEN0000000000000000000000000000000000000001"
        self.app_id = "900800700600500"
        self.admin_id = "7100000000000000"  # the page admin who types the page's own posts and comments
        self.app_secret: str | None = None
        self.graph_version = DEFAULT_VERSION
        self.limits = RateLimiter({"page": DEFAULT_BUDGET}, clock)
        self._post_numbers = Counter(122_100_000_000_000_001)
        self._comment_numbers = Counter(1_020_000_000_000_001)
        self._profile_numbers = Counter(7_100_000_000_000_001)
        self._thread_numbers = Counter(1_000_000_000_001)
        self.reset()

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
            self.hide_from = "none"  # "visitors" or "all": Graph withholds ``from`` (see nodes._from_hidden)
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
        return self.add_post(
            {
                "by_page": True,
                "text": "Welcome to the Sandbox Brand page! Tell us how we're doing.",
                "created_time": self._now() - 3600,
            }
        )

    def add_post(self, spec: dict[str, Any]) -> FbPost:
        """A post: a visitor's on the page (default), one elsewhere tagging the page, or the page's own."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text, attachments = _content(spec)
        with self._lock:
            if spec.get("by_page"):
                author, kind = self.page, "page"
            else:
                author = self.profile_for(spec.get("author"))
                kind = "tagged" if spec.get("tagged") else "visitor"
                if (
                    kind == "tagged"
                    and f"@{self.page.name}".lower() not in text.lower()
                    and self.page.name.lower() not in text.lower()
                ):
                    text = f"{text} @{self.page.name}"
            owner = author.id if kind == "tagged" else self.page.id
            post = FbPost(
                id=f"{owner}_{self._post_numbers.next()}",
                author_id=author.id,
                message=text,
                created=self._when(spec.get("created_time") or spec.get("created_at"), "created_time"),
                kind=kind,
                from_hidden=bool(spec.get("from_hidden")),
                attachments=attachments,
            )
            self.posts[post.id] = post
            return post

    def add_comment(self, spec: dict[str, Any]) -> FbComment:
        """A visitor's comment on a post, or a reply under a comment (``parent_id``); ``by_page``: the
        page's own, typed by a page admin. ``from_hidden``: Graph withholds its ``from``."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text, attachments = _content(spec)
        with self._lock:
            author = self.page if spec.get("by_page") else self.profile_for(spec.get("author"))
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
            comment = self._new_comment(
                post,
                top_id,
                author,
                text,
                self._when(spec.get("created_time") or spec.get("created_at"), "created_time"),
            )
            comment.from_hidden = bool(spec.get("from_hidden"))
            comment.attachments = attachments
            comment.by_admin = bool(spec.get("by_page"))
            return comment

    def _new_comment(
        self, post: FbPost, parent_id: str | None, author: FbProfile, text: str, created: float
    ) -> FbComment:
        object_id = post.id.split("_", 1)[-1]
        comment = FbComment(
            id=f"{object_id}_{self._comment_numbers.next()}",
            post_id=post.id,
            parent_id=parent_id,
            author_id=author.id,
            message=text,
            created=created,
        )
        self.comments[comment.id] = comment
        return comment

    def add_message(self, spec: dict[str, Any]) -> FbMessage:
        """A visitor's Messenger message to the page (``attachments`` and no text: an image-only message)."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text, attachments = _content(spec)
        with self._lock:
            sender = self.profile_for(spec.get("sender") or spec.get("author"))
            if sender.id == self.page.id:
                raise ControlError("the sender must be someone other than the page")
            thread = self._thread_with(sender.id, create=True)
            assert thread is not None
            message = self._new_message(
                thread,
                sender.id,
                self.page.id,
                text,
                self._when(spec.get("created_time") or spec.get("created_at"), "created_time"),
            )
            message.from_hidden = bool(spec.get("from_hidden"))
            message.attachments = attachments
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
        message = FbMessage(
            id="m_" + secrets.token_urlsafe(48),
            thread_id=thread.id,
            from_id=from_id,
            to_id=to_id,
            text=text,
            created=created,
        )
        thread.messages.append(message)
        thread.messages.sort(key=lambda m: m.created)
        self.messages[message.id] = message
        return message


def _content(spec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(text, attachments) of a control-API body: one of them at least, as a visitor cannot send nothing."""
    text = str(spec.get("text") or spec.get("message") or "").strip()
    attachments = parse_specs(spec.get("attachments"))
    if not text and not attachments:
        raise ControlError("text (or attachments) is required")
    return text, attachments
