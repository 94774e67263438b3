"""Instagram's nodes and edges in the Graph emulator: what IGUser, IGMedia, IGComment and the Instagram
conversations answer, the edges between them (``media``, ``tags``, ``comments``, ``replies``,
``messages``, the page's ``conversations?platform=instagram``) and the checks of ``fields=`` against them.

Edges page with the same cursors and ``paging.next`` URLs as the rest of the emulator
(``render.py``); IGUser's ``mentioned_media.media_id(<id>)`` looks up one media that mentions the
brand, as Graph does. Instagram's media edge takes ``since``/``until``; comments and tags do not.
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.graph.errors import GraphError, no_such_field, no_such_object
from socialwatch.sandbox.graph.fields import FieldSpec
from socialwatch.sandbox.graph.instagram_model import (
    IG_DEFAULT_FIELDS,
    IG_EDGE_TYPES,
    IG_EDGES,
    IG_FIELD_NAMES,
    IG_NODE_FIELDS,
    IG_TYPES,
    IgComment,
    IgMedia,
    IgMessage,
    IgPerson,
    IgThread,
)
from socialwatch.sandbox.graph.instagram_state import InstagramState
from socialwatch.sandbox.graph.model import FbProfile, graph_time
from socialwatch.sandbox.graph.nodes import FIELD_NAMES, MISSING, Node
from socialwatch.sandbox.graph.render import GraphRender, _EdgeItems
from socialwatch.sandbox.http import Request

_MIME = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg", "file": "application/pdf"}


class InstagramNodes(InstagramState, GraphRender):
    """Field tables of the Instagram node types, their edges, and the page's link to the account."""

    # -- field tables ----------------------------------------------------------------------------

    def _fields_page(self, page: FbProfile) -> dict[str, Any]:
        fields = super()._fields_page(page)
        linked = {"id": self.ig_account.id}
        fields["instagram_business_account"] = linked
        fields["connected_instagram_account"] = linked
        return fields

    def _ig_handle(self, person: IgPerson) -> dict[str, Any]:
        return {"username": person.username, "id": person.id}

    def _fields_iguser(self, person: IgPerson) -> dict[str, Any]:
        fields: dict[str, Any] = dict.fromkeys(IG_FIELD_NAMES["IGUser"], MISSING)
        fields.update(id=person.id, username=person.username)
        if person.id == self.ig_account.id:
            own = [m for m in self.ig_media.values() if not m.tagged]
            fields.update(
                name=person.name or person.username,
                ig_id=int(person.id[-10:]),
                biography="The sandbox brand's Instagram professional account.",
                followers_count=8_420,
                follows_count=120,
                media_count=len(own),
                has_profile_pic=False,
                is_published=True,
            )
        return fields

    def _fields_igmedia(self, media: IgMedia) -> dict[str, Any]:
        owner = self.ig_people[media.owner_id]
        fields: dict[str, Any] = dict.fromkeys(IG_FIELD_NAMES["IGMedia"], MISSING)
        fields.update(
            id=media.id,
            caption=media.caption,
            comments_count=sum(1 for c in self.ig_comments.values() if c.media_id == media.id),
            like_count=0,
            media_type=media.media_type,
            media_product_type="FEED",
            media_url=f"https://scontent.cdninstagram.com/v/t51.29350-15/{media.id}_n.jpg",
            permalink=f"https://www.instagram.com/p/{media.shortcode}/",
            shortcode=media.shortcode,
            timestamp=graph_time(media.created),
            username=owner.username,
            owner=Node("IGUser", owner),
            is_comment_enabled=media.comments_enabled,
        )
        return fields

    def _fields_igcomment(self, comment: IgComment) -> dict[str, Any]:
        fields: dict[str, Any] = dict.fromkeys(IG_FIELD_NAMES["IGComment"], MISSING)
        fields.update(
            id=comment.id,
            text=comment.text,
            timestamp=graph_time(comment.created),
            like_count=comment.like_count,
            hidden=comment.hidden,
            media=Node("IGMedia", self.ig_media[comment.media_id]),
        )
        if comment.parent_id:
            fields["parent_id"] = comment.parent_id
        author = self.ig_people.get(comment.author_id or "")
        if author is not None:
            fields["from"] = Node("IGCommentFromUser", author)
            fields["username"] = author.username
            if author.id == self.ig_account.id:
                fields["user"] = Node("IGUser", author)  # Graph names the app's own account as ``user``
        return fields

    def _fields_igcommentfromuser(self, person: IgPerson) -> dict[str, Any]:
        return {"id": person.id, "username": person.username, "self_ig_scoped_id": MISSING}

    def _fields_igconversation(self, thread: IgThread) -> dict[str, Any]:
        user = self.ig_people[thread.user_id]
        last = thread.messages[-1] if thread.messages else None
        pair = [self._ig_handle(user), self._ig_handle(self.ig_account)]
        senders = sorted({m.from_id for m in thread.messages}, key=lambda pid: pid != user.id)
        return {
            "id": thread.id,
            "updated_time": graph_time(thread.updated),
            "link": MISSING,
            "message_count": len(thread.messages),
            "unread_count": thread.unread,
            "snippet": last.text[:100] if last else "",
            "participants": {"data": pair},
            "senders": {"data": [self._ig_handle(self.ig_people[pid]) for pid in senders]},
            "can_reply": True,
            "is_subscribed": True,
            "former_participants": {"data": []},
            "scoped_thread_key": MISSING,
            "name": MISSING,
            "wallpaper": MISSING,
            "folder": "inbox",
        }

    def _fields_igmessage(self, message: IgMessage) -> dict[str, Any]:
        files = [a for a in message.attachments if a.kind != "share"]
        shares = [a for a in message.attachments if a.kind == "share"]
        return {
            "id": message.id,
            "created_time": graph_time(message.created),
            "message": message.text,
            "from": self._ig_handle(self.ig_people[message.from_id]),
            "to": {"data": [self._ig_handle(self.ig_people[message.to_id])]},
            "tags": MISSING,
            "attachments": {"data": [self._attachment_json(message, i, a) for i, a in enumerate(files)]}
            if files
            else MISSING,
            "sticker": MISSING,
            "shares": {"data": [{"link": a.url, "name": a.name or ""} for a in shares]} if shares else MISSING,
            "reactions": MISSING,
            "is_unsupported": False,
        }

    def _attachment_json(self, message: IgMessage, index: int, attachment: Any) -> dict[str, Any]:
        ext = {"image": "jpg", "video": "mp4", "audio": "mp3", "file": "pdf"}[attachment.kind]
        out: dict[str, Any] = {
            "id": f"{abs(hash((message.id, index))) % 10**15}",
            "mime_type": _MIME[attachment.kind],
            "name": attachment.name or f"{attachment.kind}-{index + 1}.{ext}",
            "size": None,
        }
        if attachment.kind == "image":
            out["image_data"] = {"url": attachment.url, "preview_url": attachment.url, "width": 1080, "height": 1080}
        elif attachment.kind == "video":
            out["video_data"] = {"url": attachment.url, "preview_url": attachment.url, "width": 720, "height": 1280}
        else:
            out["file_url"] = attachment.url
        return out

    # -- edges ----------------------------------------------------------------------------------------

    def _edge_items(
        self, node_type: str, obj: Any, edge: str, modifiers: dict[str, str], req: Request, *, nested: bool
    ) -> _EdgeItems:
        def arg(name: str) -> str | None:
            return modifiers.get(name) if nested else req.arg(name)

        if node_type == "Page" and edge == "conversations" and (arg("platform") or "").lower() == "instagram":
            self.require_scopes("instagram_basic", "instagram_manage_messages")
            threads = [t for t in self.ig_threads.values() if t.messages]
            user_id = arg("user_id")
            if user_id:
                threads = [t for t in threads if t.user_id == user_id]
            threads.sort(key=lambda t: t.updated, reverse=True)
            return _EdgeItems("IGConversation", threads, obj.id, edge)
        if node_type not in IG_EDGES:
            return super()._edge_items(node_type, obj, edge, modifiers, req, nested=nested)
        if node_type == "IGConversation":
            messages = sorted(obj.messages, key=lambda m: m.created, reverse=True)
            return _EdgeItems("IGMessage", messages, obj.id, edge)
        if node_type == "IGUser":
            if obj.id != self.ig_account.id:
                raise no_such_object(obj.id)
            self.require_scopes("instagram_basic")
            if edge == "tags":
                self.require_scopes("instagram_manage_comments")
                tagged = [m for m in self.ig_media.values() if m.tagged]
                tagged.sort(key=lambda m: (m.created, m.id), reverse=True)
                return _EdgeItems("IGMedia", tagged, obj.id, edge)
            since = self._time_arg(arg("since"), "since")
            until = self._time_arg(arg("until"), "until")
            own = [
                m
                for m in self.ig_media.values()
                if not m.tagged and (since is None or m.created >= since) and (until is None or m.created <= until)
            ]
            own.sort(key=lambda m: (m.created, m.id), reverse=True)
            return _EdgeItems("IGMedia", own, obj.id, edge)
        self.require_scopes("instagram_basic", "instagram_manage_comments")
        if node_type == "IGMedia":
            comments = [c for c in self.ig_comments.values() if c.media_id == obj.id and c.parent_id is None]
            comments.sort(key=lambda c: (c.created, c.id), reverse=True)  # newest first, as Instagram serves them
        else:
            comments = [c for c in self.ig_comments.values() if c.parent_id == obj.id]
            comments.sort(key=lambda c: (c.created, c.id))  # replies oldest first
        return _EdgeItems("IGComment", comments, obj.id, edge)

    def render(self, node_type: str, obj: Any, specs: list[FieldSpec] | None, req: Request) -> dict[str, Any]:
        if node_type not in IG_TYPES:
            return super().render(node_type, obj, specs, req)
        if specs is None:
            specs = [FieldSpec(name) for name in IG_DEFAULT_FIELDS[node_type]]
        lookups = [s for s in specs if node_type == "IGUser" and s.name in ("mentioned_media", "mentioned_comment")]
        out = super().render(node_type, obj, [s for s in specs if s not in lookups], req)
        for spec in lookups:
            out[spec.alias] = self._mentioned(spec, req)
        return out

    def _mentioned(self, spec: FieldSpec, req: Request) -> dict[str, Any]:
        """``mentioned_media.media_id(<id>){...}``: a media that mentions the brand, by id."""
        key = "media_id" if spec.name == "mentioned_media" else "comment_id"
        wanted = spec.modifiers.get(key)
        if not wanted:
            raise GraphError(100, f"(#100) The parameter {key} is required for {spec.name}")
        if spec.name == "mentioned_media":
            media = self.ig_media.get(wanted)
            if media is None or not media.tagged:
                raise no_such_object(wanted)
            return self.render("IGMedia", media, spec.children, req)
        comment = self.ig_comments.get(wanted)
        if comment is None or f"@{self.ig_account.username}" not in comment.text.lower():
            raise no_such_object(wanted)
        return self.render("IGComment", comment, spec.children, req)

    def validate_fields(self, node_type: str, specs: list[FieldSpec] | None) -> None:
        if node_type not in IG_TYPES:
            super().validate_fields(node_type, specs)
            return
        for spec in specs or []:
            if spec.name in IG_EDGES.get(node_type, ()):
                self.validate_fields(IG_EDGE_TYPES[(node_type, spec.name)], spec.children)
            elif spec.name in FIELD_NAMES[node_type]:
                child = IG_NODE_FIELDS.get((node_type, spec.name))
                if child:
                    self.validate_fields(child, spec.children)
            else:
                raise no_such_field(spec.name, node_type)

    def require_scopes(self, *scopes: str) -> None:
        """Graph's (#10) when the page token lacks a permission an Instagram endpoint needs."""
        missing = [scope for scope in scopes if scope not in self.scopes]
        if missing:
            raise GraphError(
                10,
                "(#10) Application does not have permission for this action",
                type_="OAuthException",
                error_user_msg=f"missing permission: {', '.join(missing)}",
            )
