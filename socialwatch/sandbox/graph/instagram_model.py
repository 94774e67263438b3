"""The Graph emulator's Instagram records and node tables: the professional account, people, media,
comments with their replies, and Instagram DM threads.

Ids look like Instagram's (``1784...`` accounts, 17-digit media and comment ids, ``aWdf...``
threads and messages). A person has one id, used as the commenter's ``from.id`` and as the
Instagram-scoped id (IGSID) of their DMs, as Graph shows both. Field names come from the
published node definitions (IGUser, IGMedia, IGComment, IGCommentFromUser; conversations and
messages as on Messenger); the node types ``IGConversation`` and ``IGMessage`` are Graph's
Conversation and Message with Instagram's ``from`` (``username`` and ``id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Instagram's messaging windows: 24 h, or 7 days for a person answering with the HUMAN_AGENT tag.
IG_RESPONSE_WINDOW = 24 * 3600
IG_HUMAN_AGENT_WINDOW = 7 * 24 * 3600
#: A private reply to a comment (Instagram and Facebook) must come within 7 days of it.
PRIVATE_REPLY_WINDOW = 7 * 24 * 3600
IG_DM_MAX_BYTES = 1000  # "Message text must be UTF-8 and be a 1000 bytes or less"
IG_COMMENT_MAX = 2200  # characters
IG_WINDOW_SUBCODE = 2534022  # Instagram's "sent outside of allowed window"
#: Every permission a page token may carry here; a new sandbox grants them all.
ALL_SCOPES = (
    "instagram_basic",
    "instagram_manage_comments",
    "instagram_manage_messages",
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_metadata",
    "pages_messaging",
    "pages_manage_engagement",
    "pages_read_user_content",
)


@dataclass
class IgPerson:
    id: str
    username: str
    name: str | None = None


@dataclass
class IgAttachment:
    kind: str  # image | video | audio | file | share | story_mention
    url: str
    name: str | None = None


@dataclass
class IgMedia:
    id: str
    owner_id: str  # the brand's account, or a person who tagged it
    caption: str
    created: float
    shortcode: str
    media_type: str = "IMAGE"
    tagged: bool = False  # someone else's media that tags the brand
    comments_enabled: bool = True


@dataclass
class IgComment:
    id: str
    media_id: str
    parent_id: str | None
    author_id: str | None  # None: Graph shows no ``from`` (and no ``username``) for this comment
    text: str
    created: float
    hidden: bool = False
    like_count: int = 0


@dataclass
class IgMessage:
    id: str
    thread_id: str
    from_id: str
    to_id: str
    text: str
    created: float
    attachments: list[IgAttachment] = field(default_factory=list)


@dataclass
class IgThread:
    id: str
    user_id: str
    messages: list[IgMessage] = field(default_factory=list)
    unread: int = 0

    @property
    def updated(self) -> float:
        return max((m.created for m in self.messages), default=0.0)


#: Field names per Instagram node type (IGUser, IGMedia and IGComment as published; anything else is error 100).
#: IGConversation and IGMessage answer the names of Facebook's Conversation and Message (``nodes.py``).
IG_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "IGUser": (
        "biography",
        "business_discovery",
        "followers_count",
        "follows_count",
        "has_profile_pic",
        "id",
        "ig_id",
        "is_published",
        "legacy_instagram_user_id",
        "media_count",
        "mentioned_comment",
        "mentioned_media",
        "name",
        "owner_business",
        "profile_picture_url",
        "shopping_product_tag_eligibility",
        "shopping_review_status",
        "username",
        "website",
    ),
    "IGMedia": (
        "alt_text",
        "boost_eligibility_info",
        "caption",
        "comments_count",
        "copyright_check_information",
        "current_live_viewer_count",
        "has_poll",
        "has_slider",
        "id",
        "ig_id",
        "is_comment_enabled",
        "is_shared_to_feed",
        "legacy_instagram_media_id",
        "like_count",
        "media_product_type",
        "media_type",
        "media_url",
        "owner",
        "permalink",
        "shortcode",
        "thumbnail_url",
        "timestamp",
        "username",
        "video_title",
        "view_count",
    ),
    "IGComment": (
        "from",
        "hidden",
        "id",
        "legacy_instagram_comment_id",
        "like_count",
        "media",
        "parent_id",
        "text",
        "timestamp",
        "user",
        "username",
    ),
    "IGCommentFromUser": ("id", "self_ig_scoped_id", "username"),
}
#: Every Instagram node type the emulator serves.
IG_TYPES = frozenset(IG_FIELD_NAMES) | {"IGConversation", "IGMessage"}
IG_EDGES: dict[str, tuple[str, ...]] = {
    "IGUser": ("media", "tags"),
    "IGMedia": ("comments",),
    "IGComment": ("replies",),
    "IGConversation": ("messages",),
}
#: What an edge holds, per the node it hangs from (Graph's ``comments`` differ on a post and on media).
IG_EDGE_TYPES: dict[tuple[str, str], str] = {
    ("IGUser", "media"): "IGMedia",
    ("IGUser", "tags"): "IGMedia",
    ("IGMedia", "comments"): "IGComment",
    ("IGComment", "replies"): "IGComment",
    ("IGConversation", "messages"): "IGMessage",
    ("Page", "conversations"): "IGConversation",
}
IG_NODE_FIELDS: dict[tuple[str, str], str] = {
    ("IGComment", "from"): "IGCommentFromUser",
    ("IGComment", "media"): "IGMedia",
    ("IGComment", "user"): "IGUser",
    ("IGMedia", "owner"): "IGUser",
    ("IGUser", "mentioned_media"): "IGMedia",
    ("IGUser", "mentioned_comment"): "IGComment",
}
IG_DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "IGUser": ("id",),
    "IGMedia": ("id",),
    "IGComment": ("timestamp", "text", "id"),
    "IGCommentFromUser": ("id", "username"),
    "IGConversation": ("id", "updated_time"),
    "IGMessage": ("id", "created_time"),
}
#: What the Page node gains when an Instagram professional account is linked to it.
PAGE_IG_FIELDS = ("instagram_business_account", "connected_instagram_account")
