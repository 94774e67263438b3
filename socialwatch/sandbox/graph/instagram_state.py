"""The Graph emulator's Instagram state: the professional account linked to the page, the people around
it, its media with their comments, media that tag it, its DM threads, and what the brand posted.

A mixin over ``GraphState`` (the same lock, clock, token and budget): the control API seeds
through the ``add_ig_*`` methods, the Graph API reads and adds through the same records.
"""

from __future__ import annotations

import secrets
from typing import Any

from socialwatch.sandbox.graph.instagram_model import (
    ALL_SCOPES,
    IgAttachment,
    IgComment,
    IgMedia,
    IgMessage,
    IgPerson,
    IgThread,
)
from socialwatch.sandbox.graph.state import GraphState
from socialwatch.sandbox.ids import Counter
from socialwatch.sandbox.timefmt import ControlError

_ATTACHMENT_KINDS = ("image", "video", "audio", "file", "share", "story_mention")


class InstagramState(GraphState):
    """Instagram's side of the page's world, behind the page's lock."""

    def reset(self) -> None:
        if not hasattr(self, "ig_account"):
            self.ig_account = IgPerson(id="17841400000000001", username="sandboxbrand", name="Sandbox Brand")
            self._ig_media_numbers = Counter(17_900_000_000_000_001)
            self._ig_comment_numbers = Counter(17_850_000_000_000_001)
            self._ig_person_numbers = Counter(5_400_000_000_000_001)
        super().reset()
        with self._lock:
            self.ig_people: dict[str, IgPerson] = {self.ig_account.id: self.ig_account}
            self.ig_people_by_username: dict[str, IgPerson] = {self.ig_account.username: self.ig_account}
            self.ig_media: dict[str, IgMedia] = {}
            self.ig_comments: dict[str, IgComment] = {}
            self.ig_threads: dict[str, IgThread] = {}
            self.ig_messages: dict[str, IgMessage] = {}
            self.ig_posted: list[dict[str, Any]] = []
            self.scopes: set[str] = set(ALL_SCOPES)
            self.human_agent = False  # the app's Human Agent permission (7-day DM replies)
            for counter in (self._ig_media_numbers, self._ig_comment_numbers, self._ig_person_numbers):
                counter.reset()

    def instagram_info(self) -> dict[str, Any]:
        """The linked professional account, as ``GET /_sandbox/info`` shows it (the token is the page's)."""
        return {"ig_user_id": self.ig_account.id, "username": self.ig_account.username, "page_id": self.page.id}

    # -- people and media ----------------------------------------------------------------------

    def ig_person(self, spec: Any) -> IgPerson:
        """Find or create the person a control-API ``author``/``sender`` names (``{"username": ..}``)."""
        if isinstance(spec, str):
            spec = {"username": spec}
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ControlError('author must be an object like {"username": "jo.doe"}')
        username = str(spec.get("username") or spec.get("handle") or "").strip().lstrip("@").lower()
        with self._lock:
            if not username:
                username = f"visitor_{len(self.ig_people)}"
            person = self.ig_people_by_username.get(username)
            if person is None:
                person = IgPerson(str(self._ig_person_numbers.next()), username, spec.get("name"))
                self.ig_people[person.id] = person
                self.ig_people_by_username[username] = person
            return person

    def _ig_shortcode(self) -> str:
        return secrets.token_urlsafe(8).replace("-", "A").replace("_", "b")[:11]

    def add_ig_media(self, spec: dict[str, Any]) -> IgMedia:
        """A post of the brand's own (the media its customers comment on)."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        caption = str(spec.get("caption") or spec.get("text") or "").strip()
        with self._lock:
            media = IgMedia(
                id=str(self._ig_media_numbers.next()),
                owner_id=self.ig_account.id,
                caption=caption,
                created=self._when(spec.get("created_time") or spec.get("timestamp"), "created_time"),
                shortcode=self._ig_shortcode(),
                media_type=str(spec.get("media_type") or "IMAGE").upper(),
            )
            self.ig_media[media.id] = media
            return media

    def _ig_default_media(self) -> IgMedia:
        own = [m for m in self.ig_media.values() if not m.tagged]
        if own:
            return max(own, key=lambda m: (m.created, m.id))
        return self.add_ig_media({"caption": "New in store this week ✨", "created_time": self._now() - 3600})

    def add_ig_mention(self, spec: dict[str, Any]) -> IgMedia:
        """Someone's media tagging the brand (its caption @mentions it too)."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        caption = str(spec.get("text") or spec.get("caption") or "").strip()
        if not caption:
            raise ControlError("text is required")
        with self._lock:
            author = self.ig_person(spec.get("author"))
            if author.id == self.ig_account.id:
                raise ControlError("the author must be someone other than the brand")
            handle = f"@{self.ig_account.username}"
            if handle not in caption.lower():
                caption = f"{caption} {handle}"
            media = IgMedia(
                id=str(self._ig_media_numbers.next()),
                owner_id=author.id,
                caption=caption,
                created=self._when(spec.get("created_time") or spec.get("timestamp"), "created_time"),
                shortcode=self._ig_shortcode(),
                tagged=True,
            )
            self.ig_media[media.id] = media
            return media

    # -- comments ---------------------------------------------------------------------------------

    def add_ig_comment(self, spec: dict[str, Any]) -> IgComment:
        """A comment on the brand's media (default: its latest), or a reply under one (``parent_id``).
        ``"author": null`` makes a comment whose author Graph does not show."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or spec.get("message") or "").strip()
        if not text:
            raise ControlError("text is required")
        with self._lock:
            hidden_author = "author" in spec and spec["author"] is None
            author = None if hidden_author else self.ig_person(spec.get("author"))
            parent_id = spec.get("parent_id") or spec.get("in_reply_to")
            if parent_id:
                parent = self.ig_comments.get(str(parent_id))
                if parent is None:
                    raise ControlError(f"no Instagram comment {parent_id}")
                media = self.ig_media[parent.media_id]
                top: str | None = parent.parent_id or parent.id
            elif spec.get("media_id"):
                found = self.ig_media.get(str(spec["media_id"]))
                if found is None:
                    raise ControlError(f"no Instagram media {spec['media_id']}")
                media, top = found, None
            else:
                media, top = self._ig_default_media(), None
            created = self._when(spec.get("created_time") or spec.get("timestamp"), "created_time")
            return self._new_ig_comment(media, top, author.id if author else None, text, created)

    def _new_ig_comment(
        self, media: IgMedia, parent_id: str | None, author_id: str | None, text: str, created: float
    ) -> IgComment:
        comment = IgComment(
            id=str(self._ig_comment_numbers.next()),
            media_id=media.id,
            parent_id=parent_id,
            author_id=author_id,
            text=text,
            created=created,
        )
        self.ig_comments[comment.id] = comment
        return comment

    # -- direct messages --------------------------------------------------------------------------

    def add_ig_dm(self, spec: dict[str, Any]) -> IgMessage:
        """A DM to the brand; ``attachments`` (``[{"type": "image", "url": ..}]``) may stand in for text."""
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        text = str(spec.get("text") or spec.get("message") or "").strip()
        attachments = self._ig_attachments(spec.get("attachments"))
        if not text and not attachments:
            raise ControlError("text (or attachments) is required")
        with self._lock:
            sender = self.ig_person(spec.get("sender") or spec.get("author"))
            if sender.id == self.ig_account.id:
                raise ControlError("the sender must be someone other than the brand")
            thread = self.ig_thread_with(sender.id, create=True)
            assert thread is not None
            created = self._when(spec.get("created_time") or spec.get("timestamp"), "created_time")
            message = self._new_ig_message(thread, sender.id, self.ig_account.id, text, created, attachments)
            thread.unread += 1
            return message

    def _ig_attachments(self, value: Any) -> list[IgAttachment]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ControlError('attachments must be a list like [{"type": "image", "url": "https://..."}]')
        out = []
        for entry in value:
            kind = str((entry or {}).get("type") or "image") if isinstance(entry, dict) else ""
            if kind not in _ATTACHMENT_KINDS:
                raise ControlError(f"attachment type must be one of {list(_ATTACHMENT_KINDS)}")
            url = str(entry.get("url") or f"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={kind}")
            out.append(IgAttachment(kind, url, entry.get("name")))
        return out

    def ig_thread_with(self, user_id: str, *, create: bool) -> IgThread | None:
        for thread in self.ig_threads.values():
            if thread.user_id == user_id:
                return thread
        if not create:
            return None
        thread = IgThread(id="aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6" + secrets.token_urlsafe(24), user_id=user_id)
        self.ig_threads[thread.id] = thread
        return thread

    def _new_ig_message(
        self,
        thread: IgThread,
        from_id: str,
        to_id: str,
        text: str,
        created: float,
        attachments: list[IgAttachment] | None = None,
    ) -> IgMessage:
        message = IgMessage(
            id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj" + secrets.token_urlsafe(36),
            thread_id=thread.id,
            from_id=from_id,
            to_id=to_id,
            text=text,
            created=created,
            attachments=attachments or [],
        )
        thread.messages.append(message)
        thread.messages.sort(key=lambda m: m.created)
        self.ig_messages[message.id] = message
        return message
