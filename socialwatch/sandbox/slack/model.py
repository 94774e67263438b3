"""The Slack emulator's workspace: fixed ids and credentials, the records it keeps, and small
argument helpers shared by the Web API (``api.py``) and the control API (``control.py``)."""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from socialwatch.sandbox.http import Request
from socialwatch.sandbox.timefmt import ControlError

TEAM_ID = "T0SBXTEAM1"
TEAM_DOMAIN = "socialwatch-sandbox"
TEAM_NAME = "socialwatch sandbox"
APP_ID = "A0SBXAPP01"
BOT_ID = "B0SBXBOT01"
BOT_USER_ID = "U0SBXBOT01"
BOT_NAME = "socialwatch"
# Fixed (not random) so a config written by `socialwatch sandbox --write-config` keeps
# working across sandbox restarts. They say "sandbox" so nobody mistakes them for real ones.
BOT_TOKEN = "xoxb-0000000001-sandbox-bot-token"
APP_TOKEN = "xapp-1-A0SBXAPP01-0000000001-sandbox-app-token"
VERIFICATION_TOKEN = "sandboxverificationtoken"

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
TRIGGER_TTL = 3.0

#: Requests per window (seconds) per method. Slack's tiers: 1 = 1+/min, 2 = 20+/min,
#: 3 = 50+/min, 4 = 100+/min; chat.postMessage is "special" (about one per second per
#: channel, bursts allowed). apps.connections.open is nominally tier 1; it gets 20/min
#: here so reconnect tests don't stall for a minute.
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "auth.test": (100, 60.0),
    "chat.postMessage": (60, 60.0),
    "chat.update": (50, 60.0),
    "chat.postEphemeral": (100, 60.0),
    "views.open": (100, 60.0),
    "views.update": (100, 60.0),
    "conversations.history": (50, 60.0),
    "conversations.replies": (50, 60.0),
    "users.info": (100, 60.0),
    "apps.connections.open": (20, 60.0),
    "files.getUploadURLExternal": (100, 60.0),
    "files.completeUploadExternal": (100, 60.0),
}

ALNUM = string.ascii_uppercase + string.digits
B62 = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class SlackError(Exception):
    """A Slack ``{"ok": false}`` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    is_admin: bool = False

    def short(self) -> dict[str, str]:
        """The ``user`` object of interactive payloads."""
        return {"id": self.id, "username": self.name, "name": self.name, "team_id": TEAM_ID}


@dataclass
class Channel:
    id: str
    name: str


@dataclass
class Version:
    text: str
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    replaced_at: float


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    user: str
    posted_at: float
    bot_id: str | None = BOT_ID
    thread_ts: str | None = None
    reply_broadcast: bool = False
    ephemeral_user: str | None = None
    attachments: list[Any] | None = None
    files: list[str] = field(default_factory=list)
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    edited_ts: str | None = None
    history: list[Version] = field(default_factory=list)
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return self.ephemeral_user is not None


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    used: bool = False
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class View:
    id: str
    user: str
    spec: dict[str, Any]
    trigger_id: str
    opened_at: float
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    status: str = "open"  # open | closed
    state_values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[str] = field(default_factory=list)


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None
    created: float
    content: bytes | None = None
    title: str | None = None
    completed: bool = False
    shares: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ResponseUrl:
    id: str
    channel: str
    message_ts: str | None
    user: str
    created: float
    uses: int = 0


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def json_arg(value: Any, name: str, error: str = "invalid_arguments") -> Any:
    """A structured argument: JSON bodies carry objects, form bodies carry JSON strings."""
    if value is None or isinstance(value, (list, dict)):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error, response_metadata={"messages": [f"[ERROR] {name} is not valid JSON"]}) from None
    raise SlackError(error)


def int_arg(value: Any, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    return max(low, min(high, number))


def ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac or "0").ljust(6, "0")[:6])


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise SlackError("invalid_cursor") from None
    if not raw.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return raw[len("next_ts:") :]


def control_body(req: Request) -> dict[str, Any]:
    """A control-API request's JSON object body ({} when empty)."""
    try:
        body = req.json()
    except ValueError:
        raise ControlError("body must be JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body
