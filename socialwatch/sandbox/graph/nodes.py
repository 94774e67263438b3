"""What each Graph node type answers: its fields, its edges and the fields shown by default.

A node's field table maps every field name Graph knows for that type to its value, or to
``MISSING`` when the sandbox has none (the field is then left out, not refused). Any other
name is Graph's error 100, checked before anything is read (``validate_fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socialwatch.sandbox.graph.attachments import message_fields, story_attachment
from socialwatch.sandbox.graph.errors import no_such_field
from socialwatch.sandbox.graph.fields import FieldSpec
from socialwatch.sandbox.graph.instagram_model import (
    IG_DEFAULT_FIELDS,
    IG_EDGES,
    IG_FIELD_NAMES,
    PAGE_IG_FIELDS,
)
from socialwatch.sandbox.graph.model import FbComment, FbMessage, FbPost, FbProfile, FbThread, graph_time
from socialwatch.sandbox.graph.state import GraphState

MISSING = object()

#: Every field name each node type answers (values may be absent); anything else is Graph's error 100.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "Page": (
        "id",
        "name",
        "category",
        "link",
        "fan_count",
        "followers_count",
        "about",
        "username",
        "verification_status",
        "is_published",
        "can_post",
        "access_token",
        "picture",
        "cover",
        "website",
    ),
    "User": ("id", "name", "picture", "email"),
    "PagePost": (
        "id",
        "message",
        "created_time",
        "updated_time",
        "from",
        "permalink_url",
        "status_type",
        "is_hidden",
        "is_published",
        "is_expired",
        "is_popular",
        "can_reply_privately",
        "privacy",
        "message_tags",
        "to",
        "story",
        "attachments",
        "full_picture",
        "picture",
        "shares",
        "place",
        "story_tags",
        "icon",
        "properties",
        "parent_id",
        "actions",
        "child_attachments",
        "targeting",
        "via",
        "admin_creator",
        "application",
    ),
    "Comment": (
        "id",
        "message",
        "created_time",
        "from",
        "comment_count",
        "like_count",
        "can_comment",
        "can_hide",
        "can_like",
        "can_remove",
        "can_reply_privately",
        "is_hidden",
        "is_private",
        "user_likes",
        "permalink_url",
        "object",
        "parent",
        "message_tags",
        "attachment",
        "admin_creator",
        "application",
    ),
    "Conversation": (
        "id",
        "updated_time",
        "link",
        "message_count",
        "unread_count",
        "snippet",
        "participants",
        "senders",
        "can_reply",
        "is_subscribed",
        "former_participants",
        "scoped_thread_key",
        "name",
        "wallpaper",
        "folder",
    ),
    "Message": (
        "id",
        "created_time",
        "message",
        "from",
        "to",
        "tags",
        "attachments",
        "sticker",
        "shares",
        "reactions",
        "is_unsupported",
    ),
}
#: Fields whose value is itself a node (so their sub-fields are checked against that type).
NODE_FIELDS = {("PagePost", "from"): "Profile", ("Comment", "from"): "Profile", ("Comment", "parent"): "Comment"}
EDGE_TYPES = {
    "feed": "PagePost",
    "posts": "PagePost",
    "published_posts": "PagePost",
    "tagged": "PagePost",
    "visitor_posts": "PagePost",
    "conversations": "Conversation",
    "comments": "Comment",
    "reactions": "Profile",
    "likes": "Profile",
    "messages": "Message",
}
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
# Instagram's node types are served by the same emulator (instagram_model.py, instagram_nodes.py); their
# edges' types depend on the parent node, so EDGE_TYPES stays Facebook's.
FIELD_NAMES = {
    **FIELD_NAMES,
    **IG_FIELD_NAMES,
    "Page": FIELD_NAMES["Page"] + PAGE_IG_FIELDS,
    "Comment": FIELD_NAMES["Comment"] + ("private_reply_conversation",),  # private_replies.py
    "IGConversation": FIELD_NAMES["Conversation"],
    "IGMessage": FIELD_NAMES["Message"],
}
EDGES = {**EDGES, **IG_EDGES}
DEFAULT_FIELDS = {**DEFAULT_FIELDS, **IG_DEFAULT_FIELDS}


@dataclass
class Node:
    """A value that renders as a nested Graph node (``from``, ``parent``...)."""

    type: str
    obj: Any


class GraphNodes(GraphState):
    """Field tables of the node types, and the checks of a ``fields=`` request against them."""

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
        """A field's value, ``MISSING`` for known fields without a value; raises for unknown fields."""
        table = getattr(self, f"_fields_{node_type.lower()}")(obj)
        if name not in table:
            raise no_such_field(name, node_type)
        value = table[name]
        return value() if callable(value) else value

    def _fields_page(self, page: FbProfile) -> dict[str, Any]:
        return {
            "id": page.id,
            "name": page.name,
            "category": "Product/service",
            "link": f"https://www.facebook.com/{page.id}",
            "fan_count": 12_345,
            "followers_count": 12_900,
            "about": "The brand page of the socialwatch sandbox.",
            "username": "sandboxbrand",
            "verification_status": "not_verified",
            "is_published": True,
            "can_post": True,
            "access_token": MISSING,
            "picture": MISSING,
            "cover": MISSING,
            "website": MISSING,
        }

    def _fields_user(self, profile: FbProfile) -> dict[str, Any]:
        return {"id": profile.id, "name": profile.name, "picture": MISSING, "email": MISSING}

    def _fields_pagepost(self, post: FbPost) -> dict[str, Any]:
        author = self.profiles[post.author_id]
        fields: dict[str, Any] = {
            "id": post.id,
            "message": post.message,
            "created_time": graph_time(post.created),
            "updated_time": lambda: graph_time(self._post_updated(post)),
            "from": Node("Profile", author),
            "permalink_url": self._permalink(post),
            "status_type": "mobile_status_update" if post.kind == "page" else "wall_post",
            "is_hidden": False,
            "is_published": True,
            "is_expired": False,
            "is_popular": False,
            "can_reply_privately": post.kind != "page",
            "privacy": {"allow": "", "deny": "", "description": "Public", "friends": "", "value": "EVERYONE"},
            "message_tags": MISSING,
            "to": MISSING,
            "story": MISSING,
            "attachments": MISSING,
            "full_picture": MISSING,
            "picture": MISSING,
            "shares": MISSING,
            "place": MISSING,
            "story_tags": MISSING,
            "icon": MISSING,
            "properties": MISSING,
            "parent_id": MISSING,
            "actions": MISSING,
            "child_attachments": MISSING,
            "targeting": MISSING,
            "via": MISSING,
            "admin_creator": self._admin_json() if post.kind == "page" else MISSING,
            "application": MISSING,
        }
        if self._from_hidden(post.author_id, post.from_hidden):
            fields["from"] = MISSING
        if post.attachments:
            url = self._permalink(post)
            fields["attachments"] = {"data": [story_attachment(spec, url) for spec in post.attachments]}
        if post.kind == "visitor":
            fields["to"] = {"data": [self._profile_json(self.page)]}
        if post.kind == "tagged":
            offset = post.message.lower().find(self.page.name.lower())
            if offset >= 0:
                fields["message_tags"] = [
                    {
                        "id": self.page.id,
                        "name": self.page.name,
                        "type": "page",
                        "offset": offset,
                        "length": len(self.page.name),
                    }
                ]
        return fields

    def _fields_comment(self, comment: FbComment) -> dict[str, Any]:
        post = self.posts[comment.post_id]
        author = self.profiles[comment.author_id]
        replies = sum(1 for c in self.comments.values() if c.parent_id == comment.id)
        fields: dict[str, Any] = {
            "id": comment.id,
            "message": comment.message,
            "created_time": graph_time(comment.created),
            "from": Node("Profile", author),
            "comment_count": replies,
            "like_count": comment.like_count,
            "can_comment": comment.parent_id is None,
            "can_hide": author.id != self.page.id,
            "can_like": True,
            "can_remove": True,
            "can_reply_privately": author.id != self.page.id,
            "is_hidden": comment.is_hidden,
            "is_private": False,
            "user_likes": False,
            "permalink_url": self._permalink(post, comment),
            "object": {"id": post.id},
            "parent": MISSING,
            "message_tags": MISSING,
            "attachment": MISSING,
            "admin_creator": self._admin_json() if comment.by_admin else MISSING,
            # What the page posted through the API names the app; what an admin typed names the admin.
            "application": self._app_json() if author.id == self.page.id and not comment.by_admin else MISSING,
        }
        if self._from_hidden(comment.author_id, comment.from_hidden):
            fields["from"] = MISSING
        if comment.attachments:
            fields["attachment"] = story_attachment(comment.attachments[0], self._permalink(post, comment))
        if comment.parent_id:
            fields["parent"] = Node("Comment", self.comments[comment.parent_id])
        return fields

    def _fields_profile(self, profile: FbProfile) -> dict[str, Any]:
        return self._fields_page(profile) if profile.is_page else self._fields_user(profile)

    def _fields_conversation(self, thread: FbThread) -> dict[str, Any]:
        user = self.profiles[thread.user_id]
        last = thread.messages[-1] if thread.messages else None
        participants = {"data": [self._profile_json(user, True), self._profile_json(self.page, True)]}
        senders = sorted({m.from_id for m in thread.messages}, key=lambda pid: pid != user.id)
        return {
            "id": thread.id,
            "updated_time": graph_time(thread.updated),
            "link": f"/{self.page.id}/inbox/{thread.number}/",
            "message_count": len(thread.messages),
            "unread_count": thread.unread,
            "snippet": last.text[:100] if last else "",
            "participants": participants,
            "senders": {"data": [self._profile_json(self.profiles[pid], True) for pid in senders]},
            "can_reply": True,
            "is_subscribed": True,
            "former_participants": {"data": []},
            "scoped_thread_key": thread.id,
            "name": MISSING,
            "wallpaper": MISSING,
            "folder": "inbox",
        }

    def _from_hidden(self, author_id: str, hidden: bool) -> bool:
        """Graph withholds ``from``: for this entry, or (``hide_from``) for every visitor or everyone."""
        if hidden or self.hide_from == "all":
            return True
        return self.hide_from == "visitors" and author_id != self.page.id

    def _admin_json(self) -> dict[str, Any]:
        return {"id": self.admin_id, "name": "Sandbox Admin"}

    def _app_json(self) -> dict[str, Any]:
        return {"category": "Business", "link": "https://example.com/", "name": "socialwatch", "id": self.app_id}

    def _fields_message(self, message: FbMessage) -> dict[str, Any]:
        sender = self.profiles[message.from_id]
        recipient = self.profiles[message.to_id]
        fields: dict[str, Any] = {
            "id": message.id,
            "created_time": graph_time(message.created),
            "message": message.text,
            "from": self._profile_json(sender, True),
            "to": {"data": [self._profile_json(recipient, True)]},
            "tags": {"data": [{"name": "inbox"}, {"name": "source:web" if sender.is_page else "source:mobile"}]},
            "attachments": MISSING,
            "sticker": MISSING,
            "shares": MISSING,
            "reactions": MISSING,
            "is_unsupported": False,
        }
        if self._from_hidden(message.from_id, message.from_hidden):
            fields["from"] = MISSING
        fields.update(message_fields(message.attachments))
        return fields

    def validate_fields(self, node_type: str, specs: list[FieldSpec] | None) -> None:
        """Reject unknown fields before anything is read, as Graph does even for empty results."""
        if specs is None:
            return
        names = (
            set(FIELD_NAMES["Page"]) | set(FIELD_NAMES["User"])
            if node_type == "Profile"
            else set(FIELD_NAMES[node_type])
        )
        edges = EDGES.get("Page" if node_type == "Profile" else node_type, ())
        for spec in specs:
            if spec.name in edges:
                self.validate_fields(EDGE_TYPES[spec.name], spec.children)
            elif spec.name in names:
                child_type = NODE_FIELDS.get((node_type, spec.name))
                if child_type:
                    self.validate_fields(child_type, spec.children)
            else:
                shown = "Page" if node_type == "Profile" else node_type
                raise no_such_field(spec.name, shown)
