"""Attachments in the Graph emulator: what a visitor sent besides text, in each node type's own shape.

The control API takes ``"attachments": [{"type": "image", "mime_type": "image/jpeg"}]`` (types: image,
sticker, video, audio, file, share; ``mime_type``, ``name`` and ``url`` optional) on posts, comments and
Messenger messages. Graph shows them three ways, as recorded: a Messenger message has ``attachments``
(``mime_type``, ``image_data``/``video_data``/``file_url``), ``sticker`` (a URL) and ``shares``; a comment
has one ``attachment`` (``type``, ``media.image.src``, ``target``, ``url``); a post has ``attachments``
with the same story shape.
"""

from __future__ import annotations

import secrets
from typing import Any

from socialwatch.sandbox.timefmt import ControlError

TYPES = ("image", "sticker", "video", "audio", "file", "share")
CDN = "https://scontent.xx.fbcdn.net/v/t1.15752-9"
DEFAULT_MIME = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg", "file": "application/pdf"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "video/mp4": "mp4", "audio/mpeg": "mp3"}


def parse_specs(value: Any) -> list[dict[str, Any]]:
    """The control API's ``attachments``, checked and completed (an id, a name and a URL for each)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ControlError('attachments must be a list like [{"type": "image", "mime_type": "image/jpeg"}]')
    out = []
    for spec in value:
        kind = str(spec.get("type") or "image")
        if kind not in TYPES:
            raise ControlError(f"attachment type must be one of {list(TYPES)}, got {kind!r}")
        number = str(10**15 + secrets.randbelow(9 * 10**15))
        mime = str(spec.get("mime_type") or DEFAULT_MIME.get(kind, "")) or None
        if kind == "sticker":
            mime = "image/png"
        extension = EXTENSIONS.get(mime or "", "bin")
        if kind == "share":
            url = str(spec.get("url") or "https://example.com/shared-page")
        else:
            url = str(spec.get("url") or f"{CDN}/{number}_n.{extension}")
        name = str(spec.get("name") or (f"{kind}-{number}.{extension}" if kind != "share" else "A shared page"))
        out.append({"type": kind, "id": number, "mime_type": mime, "url": url, "name": name})
    return out


def message_fields(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """A Messenger message's ``attachments``, ``sticker`` and ``shares`` (absent keys when there is none)."""
    attachments, shares, sticker = [], [], None
    for spec in specs:
        if spec["type"] == "sticker":
            sticker = spec["url"]
        elif spec["type"] == "share":
            shares.append({"link": spec["url"], "name": spec["name"], "id": spec["id"]})
        else:
            entry: dict[str, Any] = {"id": spec["id"], "mime_type": spec["mime_type"], "name": spec["name"]}
            if spec["type"] == "image":
                entry["size"] = None
                entry["image_data"] = {
                    "width": 1080,
                    "height": 1350,
                    "max_width": 1080,
                    "max_height": 1350,
                    "url": spec["url"],
                    "preview_url": spec["url"].replace("_n.", "_p."),
                    "image_type": 1,
                    "render_as_sticker": False,
                }
            elif spec["type"] == "video":
                entry["size"] = 2_345_678
                entry["video_data"] = {"width": 720, "height": 1280, "length": 12, "url": spec["url"]}
            else:
                entry["size"] = 48_213
                entry["file_url"] = spec["url"]
            attachments.append(entry)
    out: dict[str, Any] = {}
    if attachments:
        out["attachments"] = {"data": attachments}
    if sticker:
        out["sticker"] = sticker
    if shares:
        out["shares"] = {"data": shares}
    return out


def story_attachment(spec: dict[str, Any], page_url: str) -> dict[str, Any]:
    """One attachment as a comment's ``attachment`` or an entry of a post's ``attachments``."""
    kind = spec["type"]
    graph_type = {"image": "photo", "sticker": "sticker", "video": "video_inline", "share": "share"}.get(
        kind, "file_upload"
    )
    entry: dict[str, Any] = {"type": graph_type, "target": {"id": spec["id"], "url": f"{page_url}/{spec['id']}"}}
    if kind in ("image", "sticker", "video"):
        image = {"height": 720, "width": 720, "src": spec["url"] if kind != "video" else f"{CDN}/{spec['id']}_t.jpg"}
        entry["media"] = {"image": image} | ({"source": spec["url"]} if kind == "video" else {})
        entry["url"] = f"{page_url}/{spec['id']}"
    else:
        entry["url"] = spec["url"]
        entry["title"] = spec["name"]
    if kind == "image":
        entry["media_type"] = "photo"
    return entry
