"""The replay source: JSONL files, one item per line.

Runs the daemon with no credentials (demo, trials), and imports exported data
(backfills): an item that says ``"platform": "x"`` with its X id is the same item
the X source would store, so importing and polling never duplicate each other.
The file may grow while watched; the cursor is the byte offset after the last
complete line, so a half-written last line waits for the next poll.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from socialwatch.models import Author, Item, Kind, Reject, parse_time, utcnow
from socialwatch.sources.base import Page, PlatformError

log = logging.getLogger(__name__)

MAX_LINES_PER_PAGE = 500
MAX_TEXT_CHARS = 100_000


def item_from_json(obj: Any, *, platform: str = "replay", account: str = "replay", raw_line: str = "") -> Item:
    """Build an Item from the JSONL contract; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError('missing "text" (a string)' if text is None else '"text" must be a string')
    text = text[:MAX_TEXT_CHARS]
    kind_value = obj.get("kind", "mention")
    try:
        kind = Kind(kind_value)
    except ValueError:
        raise ValueError(f'"kind" must be one of {[k.value for k in Kind]}, got {kind_value!r}') from None
    author_obj = obj.get("author") or {}
    if not isinstance(author_obj, dict):
        raise ValueError('"author" must be an object')
    followers = author_obj.get("followers")
    if followers is not None and not (isinstance(followers, int) and not isinstance(followers, bool)):
        raise ValueError('"author.followers" must be a whole number')
    handle = author_obj.get("handle")
    name = author_obj.get("name")
    author_id = str(author_obj.get("id") or handle or name or "anonymous")
    native_id = obj.get("id")
    if native_id is None:
        # No id: the content is the identity, so re-importing the same line is still a no-op.
        native_id = "h" + hashlib.sha256((raw_line or json.dumps(obj, sort_keys=True)).encode()).hexdigest()[:24]
    public = obj.get("public")
    if public is None:
        public = kind is not Kind.DM
    try:
        created = parse_time(obj.get("created_at")) or utcnow()
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f'"created_at" is not a date: {exc}') from None
    return Item(
        platform=str(obj.get("platform") or platform),
        kind=kind,
        native_id=str(native_id),
        account=str(obj.get("account") or account),
        author=Author(
            id=author_id,
            handle=handle if isinstance(handle, str) else None,
            name=name if isinstance(name, str) else None,
            followers=followers,
        ),
        text=text,
        created_at=created,
        lang=obj.get("lang") if isinstance(obj.get("lang"), str) else None,
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        conversation_id=str(obj["conversation_id"]) if obj.get("conversation_id") else None,
        in_reply_to=str(obj["in_reply_to"]) if obj.get("in_reply_to") else None,
        public=bool(public),
        raw=obj,
    )


class ReplaySource:
    platform = "replay"
    stream = "replay"

    def __init__(self, name: str, path: Path, slack_channel: str | None = None):
        self.account = name
        self.path = path
        self.key = f"replay:{name}"
        self.slack_channel = slack_channel

    def fetch(self, cursor: str | None, *, since: datetime) -> Iterator[Page]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise PlatformError(f"replay file {self.path} does not exist", retryable=True) from None
        offset = int(cursor or 0)
        if offset > size:
            log.warning("replay file %s shrank (rotated?); reading it again from the start", self.path)
            offset = 0
        with self.path.open("rb") as handle:
            handle.seek(offset)
            while True:
                page = Page()
                consumed = offset
                for _ in range(MAX_LINES_PER_PAGE):
                    line = handle.readline()
                    if not line or not line.endswith(b"\n"):
                        break  # EOF, or a line still being written
                    consumed += len(line)
                    self._parse_into(page, line, consumed)
                if consumed == offset:
                    return
                offset = consumed
                page.cursor = str(offset)
                yield page

    def _parse_into(self, page: Page, line: bytes, offset: int) -> None:
        text = line.decode("utf-8", errors="replace").strip()
        if not text:
            return
        try:
            page.items.append(item_from_json(json.loads(text), account=self.account, raw_line=text))
        except (ValueError, RecursionError) as exc:
            log.warning("replay %s: skipping bad line ending at byte %d: %s", self.path, offset, exc)
            page.rejects.append(Reject(str(exc), text))
