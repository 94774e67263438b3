"""The domain: what a customer wrote (Item), who wrote it (Author) and what we make of it (Assessment).

Vendor payloads are transformed into these once, at the source adapter; everything
downstream (pipeline, store, Slack, audit) speaks only these types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any, overload


class Platform(str, Enum):
    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    REPLAY = "replay"


#: How each platform is named to people (alert cards, `socialwatch customers show`): the one place, so a
#: new platform is one line here. Keys are the ``platform`` of items and the prefix of author keys.
PLATFORM_NAMES = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "replay": "replay"}


def platform_name(platform: str) -> str:
    """ "X", "Facebook"... for a platform key; an unknown platform is shown as its key."""
    return PLATFORM_NAMES.get(platform, platform)


#: How languages are named to people (the card's reply language, the English-meaning line): one table,
#: keyed by the codes triage and the template folders use.
LANGUAGE_NAMES = {
    "en": "English",
    "sw": "Swahili",
    "ms": "Malay",
    "id": "Indonesian",
    "lv": "Latvian",
    "lt": "Lithuanian",
    "ta": "Tamil",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "hi": "Hindi",
    "bn": "Bengali",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "th": "Thai",
    "vi": "Vietnamese",
    "tl": "Tagalog",
}


def language_name(code: str) -> str:
    """ "Swahili" for "sw"; an unknown code is shown as itself."""
    return LANGUAGE_NAMES.get(code, code)


class Kind(str, Enum):
    MENTION = "mention"  # public post that names the brand (X mention, Facebook tag, Instagram tagged media)
    DM = "dm"  # private message (X DM, Messenger, Instagram DM)
    COMMENT = "comment"  # public comment or reply under a post
    POST = "post"  # visitor post on the brand's page


#: Kinds that everybody can see; a negative one is urgent because of the audience.
PUBLIC_KINDS = frozenset({Kind.MENTION, Kind.COMMENT, Kind.POST})

PRIORITIES = ("urgent", "high", "normal", "low", "none")
LABELS = ("negative", "neutral", "positive", "unscored")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC: platforms and exports speak UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(value: str | int | float | datetime | None) -> datetime | None:
    """ISO 8601 (with Z or offset, or Graph's ``+0000``) or a unix timestamp -> aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Graph API writes offsets without a colon: 2024-01-02T03:04:05+0000
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and ":" not in text[-5:]:
        text = f"{text[:-2]}:{text[-2:]}"
    return to_utc(datetime.fromisoformat(text))


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    """The one textual form of time in the database and in exports."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # the usual case: already UTC, isoformat ends with "+00:00"
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    return to_utc(value).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: The id prefix of an author the platform did not name (Graph withholds ``from`` for many people): such an
#: id is made from the item's own id, so two hidden authors are two people, never one shared history.
ANONYMOUS = "anonymous:"


@dataclass(frozen=True)
class Author:
    id: str  # platform-native id of the person or page; ANONYMOUS + the item's id when the platform hid it
    handle: str | None = None
    name: str | None = None
    followers: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.id.startswith(ANONYMOUS)

    @property
    def display(self) -> str:
        if self.name and self.handle:
            return f"{self.name} (@{self.handle})"
        return self.name or (f"@{self.handle}" if self.handle else self.id)


#: How an attachment reads in a sentence: "sent an image (image/jpeg)".
ATTACHMENT_WORDS = {
    "image": "an image",
    "sticker": "a sticker",
    "video": "a video",
    "audio": "a voice message",
    "file": "a file",
    "share": "a link",
    "animated_image": "a GIF",
}


@dataclass(frozen=True)
class Attachment:
    """Something a customer sent besides text: an image, a sticker, a video, a file, a shared link."""

    kind: str  # a key of ATTACHMENT_WORDS
    mime_type: str | None = None
    url: str | None = None
    name: str | None = None

    def describe(self) -> str:
        """ "an image (image/jpeg)", "a sticker", "a link"."""
        words = ATTACHMENT_WORDS.get(self.kind, "an attachment")
        return f"{words} ({self.mime_type})" if self.mime_type else words

    def to_json(self) -> dict[str, str]:
        fields = (("kind", self.kind), ("mime_type", self.mime_type), ("url", self.url), ("name", self.name))
        return {key: value for key, value in fields if value}

    @classmethod
    def from_json(cls, value: Any) -> Attachment | None:
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            return None
        return cls(str(value["kind"]), *(str(value[k]) if value.get(k) else None for k in ("mime_type", "url", "name")))


def describe_attachments(attachments: tuple[Attachment, ...] | list[Attachment]) -> str:
    """ "sent an image (image/jpeg)", "sent an image (image/jpeg) ×2 and a file (application/pdf)"; "" for none."""
    counted: dict[str, int] = {}
    for attachment in attachments:
        counted[attachment.describe()] = counted.get(attachment.describe(), 0) + 1
    parts = [words if n == 1 else f"{words} ×{n}" for words, n in counted.items()]
    if not parts:
        return ""
    return "sent " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])


@dataclass(frozen=True)
class Item:
    """One mention, DM, comment or visitor post, as the platform delivered it."""

    platform: str
    kind: Kind
    native_id: str
    account: str  # the watched account's configured name
    author: Author
    text: str
    created_at: datetime
    lang: str | None = None  # as declared by the platform, if any
    url: str | None = None
    conversation_id: str | None = None
    in_reply_to: str | None = None
    public: bool = True
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    attachments: tuple[Attachment, ...] = ()  # images, stickers, files, links sent with (or instead of) text
    repaired: tuple[str, ...] = ()  # fields whose text UTF-8 cannot carry, stored with U+FFFD (see repair_item)

    @property
    def attachment_only(self) -> bool:
        """Nothing to read, something to look at: an image, a sticker, a link without a word."""
        return bool(self.attachments) and not self.text.strip()

    @property
    def key(self) -> str:
        """Stable identity across the system: audit entries, Slack metadata, the CLI."""
        return f"{self.platform}:{self.native_id}"

    @property
    def author_key(self) -> str:
        return f"{self.platform}:{self.author.id}"


#: Lone UTF-16 surrogates: legal in JSON ("\\ud83d", half an emoji), impossible in UTF-8, so SQLite refuses them.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def has_lone_surrogates(value: str | None) -> bool:
    # isascii() first: it is the common case and far cheaper than the pattern.
    return value is not None and not value.isascii() and _SURROGATE.search(value) is not None


def repair_text(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD, the character that says "something was here"."""
    return _SURROGATE.sub(REPLACEMENT, value) if has_lone_surrogates(value) else value


def escape_text(value: str) -> str:
    """``value`` with lone surrogates written as ``\\ud83d``: faithful and storable (raw payloads, rejects)."""
    if not has_lone_surrogates(value):
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def repair_item(item: Item) -> Item:
    """The item as the store can take it: text, names, ids and attachment fields with lone surrogates
    replaced, the fields named in ``repaired``. The raw payload stays as received (stored escaped)."""
    author = item.author
    texts = {
        "text": item.text,
        "author_handle": author.handle,
        "author_name": author.name,
        "url": item.url,
        "lang": item.lang,
        "conversation_id": item.conversation_id,
        "in_reply_to": item.in_reply_to,
    }
    broken = [name for name, value in texts.items() if has_lone_surrogates(value)]
    broken_attachments = any(
        has_lone_surrogates(v) for a in item.attachments for v in (a.kind, a.mime_type, a.url, a.name)
    )
    if not broken and not broken_attachments:
        return item

    def fix(value: str | None) -> str | None:
        return None if value is None else repair_text(value)

    attachments = item.attachments
    if broken_attachments:
        broken.append("attachments")
        attachments = tuple(
            Attachment(repair_text(a.kind), fix(a.mime_type), fix(a.url), fix(a.name)) for a in item.attachments
        )
    return replace(
        item,
        text=repair_text(item.text),
        author=replace(author, handle=fix(author.handle), name=fix(author.name)),
        url=fix(item.url),
        lang=fix(item.lang),
        conversation_id=fix(item.conversation_id),
        in_reply_to=fix(item.in_reply_to),
        attachments=attachments,
        repaired=tuple(broken),
    )


@dataclass(frozen=True)
class AuthorHistory:
    """What we knew about the author before this item arrived."""

    contacts: int = 0
    negative_count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_label: str | None = None
    language: str | None = None  # of the author's latest message whose language was known

    @property
    def returning(self) -> bool:
        return self.contacts > 0


@dataclass(frozen=True)
class Sentiment:
    compound: float
    neg: float
    neu: float
    pos: float
    label: str  # one of LABELS
    lang: str  # ISO 639-1 or "und"


@dataclass(frozen=True)
class Suggestion:
    kind: str  # apologise, acknowledge, move_private, help, thank, ...
    text: str
    lang: str = "en"  # the reply's language
    english: str | None = None  # the same template in English, for a team that does not read ``lang``
    refused: str | None = None  # why the platform would refuse to post it (then it is not offered to send)


@dataclass(frozen=True)
class Evidence:
    """Something an item says about who wrote it (an e-mail address, a phone or order number, a handle),
    kept only as a digest: the same digest from two platforms suggests one customer behind both."""

    kind: str  # email, phone, reference, handle (the author's own), handle_named (named in the text)
    digest: str


@dataclass(frozen=True)
class Assessment:
    sentiment: Sentiment
    category: str
    priority: str  # one of PRIORITIES
    needs_reply: bool
    reasons: tuple[str, ...]
    sla_due_at: datetime | None
    suggestions: tuple[Suggestion, ...] = ()
    evidence: tuple[Evidence, ...] = ()  # who the author may also be (scoring.identity)

    @property
    def needs_attention(self) -> bool:
        """Whether a human should see it in Slack."""
        return self.needs_reply or self.priority in ("urgent", "high")


@dataclass(frozen=True)
class Processed:
    """An item with its assessment, ready to store; ``alert`` says whether Slack should see it."""

    item: Item
    assessment: Assessment
    alert: bool
    source: str = ""


@dataclass(frozen=True)
class Reject:
    """A payload the adapter could not turn into an Item."""

    error: str
    payload: str


@dataclass
class AccountCheck:
    """What `socialwatch check` found for one account: do the credentials work, what can they do."""

    platform: str
    account: str
    ok: bool
    detail: str
    capabilities: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
