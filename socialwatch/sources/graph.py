"""What every Graph API stream shares (Facebook Pages, and Instagram through the same API): error
translation, authors that Graph does not name, the Page's own entries, and attachments.

Graph withholds ``from`` for many people even when the field is asked for; such an entry is a person
of its own (``anonymous_author``), never one "unknown" shared by everybody. The Page's own comments are
recognised by ``from`` where present and by ``admin_creator`` (set only on what the Page wrote); the
ingest also drops entries whose id is a reply we posted. Attachments (images, stickers, shared links,
files) come in three shapes: Messenger's ``attachments``/``sticker``/``shares``, a comment's
``attachment`` and a post's ``attachments`` with ``subattachments``; all become ``models.Attachment``.
An error with ``is_transient: false`` is never retried: Graph says the same call will fail again.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import facebook
import requests

from socialwatch.models import ANONYMOUS, Attachment, Author, utcnow
from socialwatch.sources.base import AuthError, CapabilityLost, PlatformError, RateLimit, RateLimited, ReplyRefused

RATE_LIMIT_CODES = {4, 17, 32, 613} | set(range(80001, 80015))
PERMISSION_CODES = {3, 10, 200, 230, 298}
WINDOW_CLOSED = {2018278, 2018065, 2018108, 1545041}  # Send API: outside the 24-hour window, user unavailable

#: The attachment fields to ask for, per node type (Graph returns none of them unless asked).
MESSAGE_ATTACHMENT_FIELDS = (
    "attachments{id,mime_type,name,file_url,image_data{url,render_as_sticker},video_data{url}},"
    "sticker,shares{link,name}"
)
COMMENT_ATTACHMENT_FIELDS = "attachment{type,url,media,target,title}"
POST_ATTACHMENT_FIELDS = "attachments{type,media_type,url,media,target,title,subattachments}"


# --- errors ----------------------------------------------------------------------------------------


class UsageTap:
    """Keeps the last response's Graph usage headers per thread (facebook-sdk drops headers)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.headers = response.headers

    def usage(self) -> tuple[int | None, int]:
        """(highest usage percentage, minutes until access is regained)."""
        headers = getattr(self._local, "headers", None)
        if headers is None:
            return None, 0
        percents: list[int] = []
        regain = 0
        for name in ("x-app-usage", "x-page-usage"):
            try:
                data = json.loads(headers.get(name) or "null")
            except ValueError:
                continue
            if isinstance(data, dict):
                percents += [int(v) for v in data.values() if isinstance(v, (int, float))]
        try:
            buc = json.loads(headers.get("x-business-use-case-usage") or "null")
        except ValueError:
            buc = None
        if isinstance(buc, dict):
            for entries in buc.values():
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict):
                        percents += [
                            int(entry[k])
                            for k in ("call_count", "total_time", "total_cputime")
                            if isinstance(entry.get(k), (int, float))
                        ]
                        regain = max(regain, int(entry.get("estimated_time_to_regain_access") or 0))
        return (max(percents) if percents else None), regain

    def rate_limit(self) -> RateLimit | None:
        used, regain = self.usage()
        if used is None:
            return None
        reset = utcnow() + timedelta(minutes=regain) if regain else None
        return RateLimit(limit=100, remaining=max(0, 100 - used), reset_at=reset)


def translate_error(exc: facebook.GraphAPIError, what: str, tap: UsageTap) -> Exception:
    """facebook-sdk's error as socialwatch's own. ``is_transient`` decides retrying where Graph says it;
    ``error_user_msg`` (Graph's words for a person) goes into the message that ops read."""
    error = exc.result.get("error") if isinstance(exc.result, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code", exc.code)
    subcode = error.get("error_subcode")
    message = f"{what}: Graph error {code}" + (f"/{subcode}" if subcode else "") + f" ({str(exc.message)[:200]})"
    user_words = ": ".join(
        str(error[k]).strip() for k in ("error_user_title", "error_user_msg") if str(error.get(k) or "").strip()
    )
    if user_words:
        message += f"; Facebook says: {user_words[:300]}"
    if code == 190 or code == 102:
        return AuthError(message + "; the page token is invalid or expired: issue a new one")
    if code in RATE_LIMIT_CODES:
        _, regain = tap.usage()
        return RateLimited(message, utcnow() + timedelta(minutes=regain or 5))
    if (code == 10 and subcode in WINDOW_CLOSED) or code == 551 or subcode in WINDOW_CLOSED:
        return ReplyRefused(message + "; Messenger only allows replies within 24 hours of the customer's last message")
    if code in PERMISSION_CODES:
        return CapabilityLost(message + "; the page token lacks a permission for this")
    if error.get("is_transient") is False:
        return PlatformError(message + "; not retried: Graph says this error is not transient", retryable=False)
    if code in (1, 2) or error.get("is_transient"):
        return PlatformError(message, retryable=True)
    if not error:  # facebook-sdk's "Maintype was not text, image, or querystring": an HTML error page
        return PlatformError(f"{what}: unexpected response ({str(exc.message)[:200]})", retryable=True)
    return PlatformError(message, retryable=False)


# --- authors ---------------------------------------------------------------------------------------


def anonymous_author(entry_id: str) -> Author:
    """A person Graph did not name: one of their own, keyed by the entry, so no history is shared."""
    return Author(id=f"{ANONYMOUS}{entry_id}")


def author_of(entry: Mapping[str, Any]) -> Author:
    """The entry's ``from`` (``{id, name}``, or ``{id, username}`` on Instagram), or an anonymous author."""
    person = entry.get("from")
    if isinstance(person, dict) and person.get("id"):
        return Author(id=str(person["id"]), handle=_text(person.get("username")), name=_text(person.get("name")))
    return anonymous_author(str(entry.get("id") or ""))


def is_page_own(entry: Mapping[str, Any], page_id: str) -> bool:
    """Whether the Page itself wrote ``entry``: its ``from`` is the Page, or Graph names the Page admin who
    wrote it (``admin_creator`` exists only on what the Page wrote)."""
    person = entry.get("from")
    if isinstance(person, dict) and str(person.get("id") or "") == page_id:
        return True
    return isinstance(entry.get("admin_creator"), dict)


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


# --- attachments -----------------------------------------------------------------------------------

#: A comment's or post's attachment ``type`` (or a post's ``media_type``) as an Attachment kind.
_TYPE_KINDS = {
    "photo": "image",
    "cover_photo": "image",
    "profile_media": "image",
    "image": "image",
    "sticker": "sticker",
    "animated_image_share": "animated_image",
    "animated_image_autoplay": "animated_image",
    "animated_image_video": "animated_image",
    "video": "video",
    "video_inline": "video",
    "video_autoplay": "video",
    "video_share_youtube": "video",
    "share": "share",
    "link": "share",
    "file_upload": "file",
    "audio": "audio",
}


def attachments_of(entry: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """Everything attached to a Messenger message, a comment or a post, in Graph's order."""
    found: list[Attachment] = []
    for raw in _data(entry.get("attachments")):
        if "mime_type" in raw or "image_data" in raw or "file_url" in raw or "video_data" in raw:
            found.append(_message_attachment(raw))
        else:
            found.extend(_story_attachments(raw))
    sticker = entry.get("sticker")
    if isinstance(sticker, str) and sticker:
        found.append(Attachment("sticker", url=sticker))
    for share in _data(entry.get("shares")):
        found.append(Attachment("share", url=_url(share.get("link")), name=_text(share.get("name"))))
    single = entry.get("attachment")
    if isinstance(single, dict):
        found.extend(_story_attachments(single))
    return tuple(found)


def _data(value: Any) -> list[dict[str, Any]]:
    items = value.get("data") if isinstance(value, dict) else value
    return [item for item in items or [] if isinstance(item, dict)] if isinstance(items, list) else []


def _message_attachment(raw: Mapping[str, Any]) -> Attachment:
    """Messenger's shape: ``mime_type``, ``name``, and ``image_data``/``video_data``/``file_url``."""
    mime = _text(raw.get("mime_type"))
    image = raw.get("image_data") if isinstance(raw.get("image_data"), dict) else None
    video = raw.get("video_data") if isinstance(raw.get("video_data"), dict) else None
    major = (mime or "").partition("/")[0]
    if image is not None and image.get("render_as_sticker"):
        kind = "sticker"
    elif image is not None or major == "image":
        kind = "animated_image" if mime == "image/gif" else "image"
    elif video is not None or major == "video":
        kind = "video"
    elif major == "audio":
        kind = "audio"
    else:
        kind = "file"
    url = _url((image or {}).get("url")) or _url((video or {}).get("url")) or _url(raw.get("file_url"))
    return Attachment(kind, mime, url, _text(raw.get("name")))


def _story_attachments(raw: Mapping[str, Any]) -> list[Attachment]:
    """A comment's ``attachment`` or one of a post's ``attachments``: ``type``, ``media.image.src``,
    ``url``/``target.url``; an album lists its pictures in ``subattachments``."""
    subs = _data(raw.get("subattachments"))
    if subs:
        return [attachment for sub in subs for attachment in _story_attachments(sub)]
    kind_word = str(raw.get("type") or raw.get("media_type") or "").lower()
    kind = _TYPE_KINDS.get(kind_word, kind_word or "file")
    media = _object(raw.get("media"))
    image = _object(media.get("image"))
    target = _object(raw.get("target"))
    src = _url(image.get("src"))
    url = src if kind in ("image", "animated_image", "sticker") and src else None
    url = url or _url(raw.get("url")) or _url(target.get("url")) or src
    mime = _guess_mime(src) if kind in ("image", "animated_image", "sticker") else None
    return [Attachment(kind, mime, url, _text(raw.get("title")))]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _guess_mime(url: str | None) -> str | None:
    if not url:
        return None
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed
