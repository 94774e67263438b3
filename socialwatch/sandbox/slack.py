"""Slack, emulated: the Web API methods socialwatch uses (under ``/api/``) and a control API.

What slack_sdk's ``WebClient(base_url=<sandbox>/api/)`` sends is what this reads: form or
JSON bodies, the token in ``Authorization: Bearer`` (or a ``token`` argument). Answers
have Slack's shapes: ``{"ok": true, ...}``, or ``{"ok": false, "error": "..."}`` with HTTP
200, and HTTP 429 + ``Retry-After`` when a method's tier budget is spent. Interactivity
goes over Socket Mode (``socketmode.py``): ``POST /_sandbox/slack/actions`` clicks a button
of a posted message and delivers Slack's ``block_actions`` payload to a connected client.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import logging
import math
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .http import Headers, Request, Response
from .ratelimit import RateLimiter
from .socketmode import Delivery, SocketModeServer

logger = logging.getLogger(__name__)

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

_ALNUM = string.ascii_uppercase + string.digits
_B62 = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class SlackError(Exception):
    """A Slack ``{"ok": false}`` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class ControlError(Exception):
    """A control-API failure with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _json_arg(value: Any, name: str, error: str = "invalid_arguments") -> Any:
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


def _int_arg(value: Any, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    return max(low, min(high, number))


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac or "0").ljust(6, "0")[:6])


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise SlackError("invalid_cursor") from None
    if not raw.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return raw[len("next_ts:"):]


# -- Block Kit validation ---------------------------------------------------------------------
_TEXT_TYPES = ("plain_text", "mrkdwn")
_MESSAGE_BLOCKS = {"section", "context", "actions", "divider", "header", "image", "rich_text", "markdown",
                   "file", "video", "context_actions", "table"}
_INTERACTIVE = {"button", "static_select", "external_select", "users_select", "conversations_select",
                "channels_select", "multi_static_select", "multi_users_select", "multi_external_select",
                "multi_conversations_select", "multi_channels_select", "overflow", "datepicker",
                "timepicker", "datetimepicker", "checkboxes", "radio_buttons", "plain_text_input",
                "email_text_input", "url_text_input", "number_input", "rich_text_input", "image",
                "workflow_button", "file_input"}


class _BlockChecker:
    """Enough of Block Kit's rules to refuse obviously broken blocks with ``invalid_blocks``.

    Slack also fills in the ``block_id`` / ``action_id`` a client left out; so does this.
    """

    def __init__(self, *, in_view: bool) -> None:
        self.in_view = in_view
        self.errors: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if kind not in allowed:
            self.fail(pointer + "/type", f"must be one of {list(allowed)}")
        text = obj.get("text")
        if not isinstance(text, str):
            self.fail(pointer + "/text", "must provide a string")
        elif not text:
            self.fail(pointer + "/text", "must be more than 0 characters")
        elif len(text) > max_len:
            self.fail(pointer + "/text", f"must be less than {max_len + 1} characters")

    def element(self, el: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(el, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = el.get("type")
        if kind not in _INTERACTIVE:
            self.fail(pointer + "/type", "must be a valid element type")
            return
        if kind == "image":
            if not el.get("image_url") and not el.get("slack_file"):
                self.fail(pointer, "must provide image_url or slack_file")
            return
        action_id = el.get("action_id")
        if action_id is None:
            el["action_id"] = _rand(4, _B62)
        elif not isinstance(action_id, str) or not action_id or len(action_id) > 255:
            self.fail(pointer + "/action_id", "must be a string of 1-255 characters")
        elif action_id in action_ids:
            self.fail(pointer + "/action_id", f"action_id {action_id!r} already exists")
        action_ids.add(str(el["action_id"]))
        if kind == "button":
            self.text(el.get("text"), pointer + "/text", max_len=75, plain_only=True)
            value = el.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.fail(pointer + "/value", "must be a string of at most 2000 characters")
            if el.get("style") not in (None, "primary", "danger"):
                self.fail(pointer + "/style", "must be one of [primary, danger]")
            url = el.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.fail(pointer + "/url", "must be a string of at most 3000 characters")
        elif kind in ("static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None:
                self.fail(pointer, "must provide options or option_groups")
            for i, option in enumerate(options or []):
                if not isinstance(option, dict) or "value" not in option:
                    self.fail(f"{pointer}/options/{i}", "must provide an option with a value")

    def blocks(self, blocks: Any) -> list[dict[str, Any]]:
        limit = MAX_VIEW_BLOCKS if self.in_view else MAX_MESSAGE_BLOCKS
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if len(blocks) > limit:
            self.fail("/blocks", f"must contain at most {limit} blocks")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            pointer = f"/blocks/{i}"
            if not isinstance(block, dict):
                self.fail(pointer, "must provide an object")
                continue
            kind = block.get("type")
            allowed = _MESSAGE_BLOCKS | ({"input"} if self.in_view else set())
            if kind not in allowed:
                self.fail(pointer + "/type", "unsupported type" if kind else "missing required field: type")
                continue
            block_id = block.get("block_id")
            if block_id is None:
                block["block_id"] = _rand(4, _B62)
            elif not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                self.fail(pointer + "/block_id", "must be a string of 1-255 characters")
            elif block_id in block_ids:
                self.fail(pointer + "/block_id", f"block_id {block_id!r} already exists")
            block_ids.add(str(block["block_id"]))
            action_ids: set[str] = set()
            if kind == "section":
                if "text" not in block and "fields" not in block:
                    self.fail(pointer, "must provide text or fields")
                if "text" in block:
                    self.text(block["text"], pointer + "/text", max_len=3000)
                fields = block.get("fields")
                if fields is not None:
                    if not isinstance(fields, list) or len(fields) > 10:
                        self.fail(pointer + "/fields", "must be a list of at most 10 items")
                    else:
                        for j, item in enumerate(fields):
                            self.text(item, f"{pointer}/fields/{j}", max_len=2000)
                if "accessory" in block:
                    self.element(block["accessory"], pointer + "/accessory", action_ids)
            elif kind == "header":
                self.text(block.get("text"), pointer + "/text", max_len=150, plain_only=True)
            elif kind == "context":
                elements = block.get("elements")
                if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                    self.fail(pointer + "/elements", "must provide 1-10 elements")
                else:
                    for j, el in enumerate(elements):
                        if isinstance(el, dict) and el.get("type") == "image":
                            continue
                        self.text(el, f"{pointer}/elements/{j}", max_len=3000)
            elif kind == "actions":
                elements = block.get("elements")
                if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                    self.fail(pointer + "/elements", "must provide 1-25 elements")
                else:
                    for j, el in enumerate(elements):
                        self.element(el, f"{pointer}/elements/{j}", action_ids)
            elif kind == "input":
                self.text(block.get("label"), pointer + "/label", max_len=2000, plain_only=True)
                self.element(block.get("element"), pointer + "/element", action_ids)
            elif kind == "image":
                if not block.get("image_url") and not block.get("slack_file"):
                    self.fail(pointer, "must provide image_url or slack_file")
        return blocks


def check_blocks(blocks: Any, *, in_view: bool = False) -> list[dict[str, Any]]:
    """Validated blocks (with block/action ids filled in) or SlackError(invalid_blocks)."""
    checker = _BlockChecker(in_view=in_view)
    blocks = checker.blocks(copy.deepcopy(blocks))
    if checker.errors:
        raise SlackError("invalid_blocks", errors=checker.errors,
                         response_metadata={"messages": checker.errors})
    return blocks


def iter_elements(blocks: list[dict[str, Any]] | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (block, interactive element) pair of a message or view."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            found.extend((block, el) for el in block.get("elements") or [] if isinstance(el, dict))
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            found.append((block, block["accessory"]))
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            found.append((block, block["element"]))
    return found


@dataclass
class _Method:
    fn: Callable[[dict[str, Any], Request], dict[str, Any]]
    token: str  # "bot" | "app"


class SlackEmulator:
    """The Slack workspace of the sandbox: channels, messages, views, files, Socket Mode."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.RLock()
        self.socket = SocketModeServer(host, APP_ID, on_ack=self._on_ack)
        self.limits = RateLimiter(DEFAULT_LIMITS)
        self.trigger_ttl = TRIGGER_TTL
        self._methods: dict[str, _Method] = {
            "auth.test": _Method(self._auth_test, "any"),
            "chat.postMessage": _Method(self._chat_post_message, "bot"),
            "chat.update": _Method(self._chat_update, "bot"),
            "chat.postEphemeral": _Method(self._chat_post_ephemeral, "bot"),
            "views.open": _Method(self._views_open, "bot"),
            "views.update": _Method(self._views_update, "bot"),
            "conversations.history": _Method(self._conversations_history, "bot"),
            "conversations.replies": _Method(self._conversations_replies, "bot"),
            "users.info": _Method(self._users_info, "bot"),
            "apps.connections.open": _Method(self._apps_connections_open, "app"),
            "files.getUploadURLExternal": _Method(self._files_get_upload_url, "bot"),
            "files.completeUploadExternal": _Method(self._files_complete_upload, "bot"),
        }
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.socket.start()

    def stop(self) -> None:
        self.socket.stop()

    def reset(self) -> None:
        with self._lock:
            self.channels: dict[str, Channel] = {
                "C0SBXALERT": Channel("C0SBXALERT", "social-alerts"),
                "C0SBXOPS01": Channel("C0SBXOPS01", "social-ops"),
            }
            self.approver = SlackUser("U0SBXAPPR1", "alex.approver", "Alex Approver")
            self.non_approver = SlackUser("U0SBXVIEW1", "val.viewer", "Val Viewer")
            self.bot = SlackUser(BOT_USER_ID, BOT_NAME, "socialwatch", is_bot=True)
            self.users: dict[str, SlackUser] = {u.id: u for u in (self.approver, self.non_approver, self.bot)}
            self.messages: list[Message] = []
            self._by_ts: dict[tuple[str, str], Message] = {}
            self._thread_replies: dict[tuple[str, str], list[Message]] = {}
            self.views: dict[str, View] = {}
            self.triggers: dict[str, Trigger] = {}
            self.files: dict[str, UploadedFile] = {}
            self.response_urls: dict[str, ResponseUrl] = {}
            self._last_ts_us = 0
            self._view_ids = itertools.count(1)
            self.trigger_ttl = TRIGGER_TTL
        self.limits.reset()
        self.socket.reset()

    def info(self) -> dict[str, Any]:
        return {
            "bot_token": BOT_TOKEN,
            "app_token": APP_TOKEN,
            "channel": "C0SBXALERT",
            "channel_name": self.channels["C0SBXALERT"].name,
            "ops_channel": "C0SBXOPS01",
            "approver": {"id": self.approver.id, "name": self.approver.name},
            "non_approver": {"id": self.non_approver.id, "name": self.non_approver.name},
            "bot_user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "socket_mode_port": self.socket.port,
        }

    # -- Web API -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        name = req.path[len("/api/"):].strip("/") if req.path.startswith("/api/") else req.path.strip("/")
        method = self._methods.get(name)
        if method is None:
            return self._error("unknown_method", req_method=name)
        try:
            params = req.params()
        except ValueError:
            return self._error("invalid_json")
        token = req.bearer or params.get("token")
        if not token:
            return self._error("not_authed")
        if token not in (BOT_TOKEN, APP_TOKEN):
            return self._error("invalid_auth")
        kind = "app" if token == APP_TOKEN else "bot"
        if method.token != "any" and method.token != kind:
            return self._error("not_allowed_token_type")
        decision = self.limits.take(name)
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.reset_at - time.time()))
            logger.info("Slack %s rate limited for %ds", name, retry_after)
            return Response.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})
        try:
            with self._lock:
                body = method.fn(params, req)
        except SlackError as exc:
            return self._error(exc.error, **exc.extra)
        return Response.json({"ok": True, **body})

    @staticmethod
    def _error(error: str, **extra: Any) -> Response:
        return Response.json({"ok": False, "error": error, **extra})

    def fault_response(self, kind: str, *, seconds: float | None = None, method: str = "GET", path: str = "",
                       options: dict[str, Any] | None = None) -> Response | None:
        """Slack-shaped bodies for injected faults; None lets the server apply its generic one
        (``malformed``, ``timeout``, ``disconnect`` of the HTTP connection). ``seconds`` sets a
        429's ``Retry-After`` (default 1)."""
        if kind == "429":
            retry_after = max(0, math.ceil(seconds)) if seconds is not None else 1
            return Response.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})
        if kind == "500":
            return Response.json({"ok": False, "error": "fatal_error"}, 500)
        if kind == "503":
            return Response.json({"ok": False, "error": "service_unavailable"}, 503)
        if kind == "401":
            # Slack reports bad credentials in the body, with HTTP 200.
            return Response.json({"ok": False, "error": "invalid_auth"})
        if kind == "403":
            return Response.json({"ok": False, "error": "missing_scope", "needed": "chat:write",
                                  "provided": "channels:history"})
        return None

    def _base_url(self, req: Request) -> str:
        host = req.headers.get("host") or self.host
        return f"http://{host}"

    def _host_only(self, req: Request) -> str:
        host = req.headers.get("host") or self.host
        if host.startswith("["):
            return host[: host.index("]") + 1]
        return host.rsplit(":", 1)[0] if ":" in host else host

    def _next_ts(self) -> str:
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _channel(self, value: Any) -> Channel:
        ref = str(value or "").strip()
        if not ref:
            raise SlackError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        if ref in self.users:  # a user id: the app's DM with that user
            dm = Channel("D" + ref[1:], f"dm-{self.users[ref].name}")
            self.channels.setdefault(dm.id, dm)
            return self.channels[dm.id]
        raise SlackError("channel_not_found")

    def _add(self, message: Message) -> Message:
        self.messages.append(message)
        self._by_ts[(message.channel, message.ts)] = message
        if message.thread_ts and message.thread_ts != message.ts and not message.ephemeral:
            self._thread_replies.setdefault((message.channel, message.thread_ts), []).append(message)
        return message

    def _find(self, channel: str, ts: str, *, ephemeral: bool | None = False) -> Message | None:
        message = self._by_ts.get((channel, ts))
        if message is None or message.deleted:
            return None
        if ephemeral is not None and message.ephemeral != ephemeral:
            return None
        return message

    def _user(self, user_id: str) -> SlackUser:
        user = self.users.get(user_id)
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _content(self, params: dict[str, Any], *, require: bool = True) -> tuple[str | None, Any, Any]:
        text = params.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        blocks = _json_arg(params.get("blocks"), "blocks", "invalid_blocks_format")
        attachments = _json_arg(params.get("attachments"), "attachments", "invalid_attachments")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if require and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if blocks is not None:
            blocks = check_blocks(blocks)
        return text, blocks, attachments

    @staticmethod
    def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
        metadata = _json_arg(params.get("metadata"), "metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if not isinstance(metadata, dict):
            raise SlackError("invalid_metadata_format")
        if not isinstance(metadata.get("event_type"), str) or not metadata["event_type"]:
            raise SlackError("invalid_metadata_schema")
        payload = metadata.get("event_payload", {})
        if not isinstance(payload, dict):
            raise SlackError("invalid_metadata_schema")
        return {"event_type": metadata["event_type"], "event_payload": payload}

    def _bot_profile(self) -> dict[str, Any]:
        icon = "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"
        return {
            "id": BOT_ID, "deleted": False, "name": BOT_NAME, "updated": 1700000000, "app_id": APP_ID,
            "icons": {"image_36": icon, "image_48": icon.replace("36", "48"), "image_72": icon.replace("36", "72")},
            "team_id": TEAM_ID,
        }

    def _replies(self, message: Message) -> list[Message]:
        return [m for m in self._thread_replies.get((message.channel, message.ts), []) if not m.deleted]

    def message_json(self, message: Message, *, metadata: bool = True) -> dict[str, Any]:
        """A message as conversations.history / chat.postMessage show it."""
        out: dict[str, Any] = {"type": "message"}
        if message.bot_id:
            out["bot_id"] = message.bot_id
            out["app_id"] = APP_ID
        out.update({"text": message.text, "user": message.user, "ts": message.ts, "team": TEAM_ID})
        if message.bot_id:
            out["bot_profile"] = self._bot_profile()
        if message.blocks is not None:
            out["blocks"] = message.blocks
        if message.attachments is not None:
            out["attachments"] = message.attachments
        if metadata and message.metadata is not None:
            out["metadata"] = message.metadata
        if message.files:
            out["files"] = [self._file_json(self.files[f]) for f in message.files if f in self.files]
            out["upload"] = False
            out["display_as_bot"] = False
        if message.edited_ts:
            out["edited"] = {"user": message.bot_id or message.user, "ts": message.edited_ts}
        if message.thread_ts:
            out["thread_ts"] = message.thread_ts
            if message.thread_ts != message.ts:
                parent = self._find(message.channel, message.thread_ts)
                out["parent_user_id"] = parent.user if parent else message.user
            else:
                replies = self._replies(message)
                users = list(dict.fromkeys(r.user for r in replies))
                out.update({
                    "reply_count": len(replies), "reply_users_count": len(users),
                    "latest_reply": replies[-1].ts if replies else message.ts,
                    "reply_users": users, "is_locked": False, "subscribed": False,
                })
                if not replies:  # Slack lists no reply_users for an empty thread
                    out.pop("reply_users")
        return out

    # Web API methods (called with self._lock held) -------------------------------------------
    def _auth_test(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        token = req.bearer or params.get("token")
        if token == APP_TOKEN:
            # An app-level token identifies the app, not a bot user.
            return {"url": f"https://{TEAM_DOMAIN}.slack.com/", "team": TEAM_NAME, "user": "", "team_id": TEAM_ID,
                    "user_id": "", "app_id": APP_ID, "is_enterprise_install": False}
        return {"url": f"https://{TEAM_DOMAIN}.slack.com/", "team": TEAM_NAME, "user": BOT_NAME,
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _chat_post_message(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        text, blocks, attachments = self._content(params)
        metadata = self._metadata(params)
        thread_ts = self._thread(channel.id, params.get("thread_ts"))
        message = Message(
            channel=channel.id, ts=self._next_ts(), text=text or "", blocks=blocks, metadata=metadata,
            user=BOT_USER_ID, posted_at=time.time(), thread_ts=thread_ts,
            reply_broadcast=_bool(params.get("reply_broadcast")), attachments=attachments,
            unfurl_links=_bool(params["unfurl_links"]) if "unfurl_links" in params else None,
            unfurl_media=_bool(params["unfurl_media"]) if "unfurl_media" in params else None,
        )
        self._add(message)
        return {"channel": channel.id, "ts": message.ts, "message": self.message_json(message)}

    def _thread(self, channel: str, thread_ts: Any) -> str | None:
        if thread_ts in (None, ""):
            return None
        parent = self._find(channel, str(thread_ts))
        if parent is None:
            raise SlackError("thread_not_found")
        if parent.thread_ts is None:
            parent.thread_ts = parent.ts  # the message becomes a thread's parent
        # A reply to a reply lands in the parent's thread, as in Slack.
        return parent.thread_ts

    def _chat_update(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        message = self._find(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        if message.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks, attachments = self._content(params, require=False)
        if text is None and blocks is None and attachments is None:
            raise SlackError("no_text")
        metadata = self._metadata(params)
        message.history.append(Version(message.text, copy.deepcopy(message.blocks),
                                       copy.deepcopy(message.metadata), time.time()))
        message.text = text if text is not None else ("" if blocks is not None else message.text)
        if blocks is not None:
            message.blocks = blocks
        if attachments is not None:
            message.attachments = attachments
        if metadata is not None:
            message.metadata = metadata
        message.edited_ts = self._next_ts()
        shown = self.message_json(message)
        # chat.update's message carries neither its ts (it is top-level) nor thread fields.
        for key in ("ts", "thread_ts", "parent_user_id", "reply_count", "reply_users_count", "latest_reply",
                    "reply_users", "is_locked", "subscribed"):
            shown.pop(key, None)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": shown}

    def _chat_post_ephemeral(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        user = self._user(str(params.get("user") or ""))
        text, blocks, attachments = self._content(params)
        thread_ts = self._thread(channel.id, params.get("thread_ts"))
        message = Message(channel=channel.id, ts=self._next_ts(), text=text or "", blocks=blocks, metadata=None,
                          user=BOT_USER_ID, posted_at=time.time(), thread_ts=thread_ts,
                          ephemeral_user=user.id, attachments=attachments)
        self._add(message)
        return {"message_ts": message.ts}

    def _history_page(self, messages: list[Message], params: dict[str, Any], *, newest_first: bool,
                      default_limit: int) -> tuple[list[Message], bool, str | None]:
        limit = _int_arg(params.get("limit"), default_limit, 1, 999)
        oldest = str(params.get("oldest") or "0")
        latest = params.get("latest")
        inclusive = _bool(params.get("inclusive"))
        try:
            low = _ts_key(oldest)
            high = _ts_key(str(latest)) if latest not in (None, "") else None
        except ValueError:
            raise SlackError("invalid_ts_oldest" if latest in (None, "") else "invalid_ts_latest") from None
        cursor = params.get("cursor")
        after: tuple[int, int] | None = None
        if cursor:
            after = _ts_key(_decode_cursor(str(cursor)))

        def keep(m: Message) -> bool:
            key = _ts_key(m.ts)
            if key < low or (key == low and not inclusive and oldest != "0"):
                return False
            if high is not None and (key > high or (key == high and not inclusive)):
                return False
            if after is not None:
                return key < after if newest_first else key > after
            return True

        selected = sorted((m for m in messages if keep(m)), key=lambda m: _ts_key(m.ts), reverse=newest_first)
        page, rest = selected[:limit], selected[limit:]
        next_cursor = _encode_cursor(page[-1].ts) if rest else None
        return page, bool(rest), next_cursor

    def _conversations_history(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        candidates = [m for m in self.messages
                      if m.channel == channel.id and not m.ephemeral and not m.deleted
                      and (m.thread_ts in (None, m.ts) or m.reply_broadcast)]
        page, has_more, cursor = self._history_page(candidates, params, newest_first=True, default_limit=100)
        with_metadata = _bool(params.get("include_all_metadata"))
        out: dict[str, Any] = {
            "messages": [self.message_json(m, metadata=with_metadata) for m in page],
            "has_more": has_more, "pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0,
        }
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        for key in ("oldest", "latest"):
            if params.get(key) not in (None, ""):
                out[key] = str(params[key])
        return out

    def _conversations_replies(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        message = self._find(channel.id, ts)
        if message is None:
            raise SlackError("thread_not_found")
        root = self._find(channel.id, message.thread_ts) if message.thread_ts else message
        root = root or message
        thread = [root, *self._replies(root)]
        page, has_more, cursor = self._history_page(thread, params, newest_first=False, default_limit=1000)
        with_metadata = _bool(params.get("include_all_metadata"))
        out: dict[str, Any] = {"messages": [self.message_json(m, metadata=with_metadata) for m in page],
                               "has_more": has_more}
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

    def user_json(self, user: SlackUser) -> dict[str, Any]:
        first, _, last = user.real_name.partition(" ")
        image = f"https://secure.gravatar.com/avatar/{hashlib.md5(user.id.encode()).hexdigest()}.jpg"
        profile: dict[str, Any] = {
            "title": "", "phone": "", "skype": "", "real_name": user.real_name,
            "real_name_normalized": user.real_name, "display_name": user.name,
            "display_name_normalized": user.name, "status_text": "", "status_emoji": "",
            "status_expiration": 0, "avatar_hash": hashlib.md5(user.name.encode()).hexdigest()[:12],
            "first_name": first, "last_name": last, "team": TEAM_ID,
            **{f"image_{size}": f"{image}?s={size}" for size in (24, 32, 48, 72, 192, 512)},
        }
        if user.is_bot:
            profile.update({"bot_id": BOT_ID, "api_app_id": APP_ID, "always_active": True})
        else:
            profile["email"] = f"{user.name}@sandbox.invalid"
        return {
            "id": user.id, "team_id": TEAM_ID, "name": user.name, "deleted": False, "color": "9f69e7",
            "real_name": user.real_name, "tz": "Europe/London", "tz_label": "Greenwich Mean Time",
            "tz_offset": 0, "profile": profile, "is_admin": user.is_admin, "is_owner": False,
            "is_primary_owner": False, "is_restricted": False, "is_ultra_restricted": False,
            "is_bot": user.is_bot, "is_app_user": False, "updated": 1700000000,
            "is_email_confirmed": not user.is_bot, "who_can_share_contact_card": "EVERYONE",
        }

    def _users_info(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"user": self.user_json(self._user(str(params.get("user") or "")))}

    def _apps_connections_open(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        return {"url": self.socket.issue_url(self._host_only(req))}

    # views -------------------------------------------------------------------------------------
    def _issue_trigger(self, user: str, **context: Any) -> str:
        trigger = Trigger(f"{int(time.time() * 1000)}.{abs(hash(TEAM_ID)) % 10**10}.{secrets.token_hex(16)}",
                          user, time.time(), context=context)
        self.triggers[trigger.id] = trigger
        return trigger.id

    def _take_trigger(self, trigger_id: Any) -> Trigger:
        trigger = self.triggers.get(str(trigger_id or ""))
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.time() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _check_view(self, view: Any) -> dict[str, Any]:
        if isinstance(view, str):
            view = _json_arg(view, "view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing view"]})
        errors: list[str] = []
        if view.get("type") not in ("modal", "home"):
            errors.append("[ERROR] must be one of [modal, home] [json-pointer:/view/type]")
        if view.get("type") == "modal":
            title = view.get("title")
            if not isinstance(title, dict) or not isinstance(title.get("text"), str) or not title["text"]:
                errors.append("[ERROR] missing required field: title [json-pointer:/view/title]")
            elif len(title["text"]) > 24:
                errors.append("[ERROR] must be less than 25 characters [json-pointer:/view/title/text]")
            has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
            if has_input and not view.get("submit"):
                errors.append("[ERROR] must provide submit when using input blocks [json-pointer:/view/submit]")
        for key in ("private_metadata",):
            if len(str(view.get(key) or "")) > 3000:
                errors.append(f"[ERROR] must be less than 3001 characters [json-pointer:/view/{key}]")
        try:
            blocks = check_blocks(view.get("blocks", []), in_view=True)
        except SlackError as exc:
            errors.extend(exc.extra.get("errors", [exc.error]))
            blocks = []
        if errors:
            raise SlackError("invalid_arguments", response_metadata={"messages": errors})
        return {**view, "blocks": blocks}

    def view_json(self, view: View) -> dict[str, Any]:
        spec = view.spec
        out = {
            "id": view.id, "team_id": TEAM_ID, "type": spec.get("type", "modal"),
            "blocks": spec.get("blocks", []),
            "private_metadata": spec.get("private_metadata", ""), "callback_id": spec.get("callback_id", ""),
            "state": {"values": view.state_values}, "hash": view.hash,
            "title": spec.get("title"), "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)), "close": spec.get("close"),
            "submit": spec.get("submit"), "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id, "app_id": APP_ID, "external_id": spec.get("external_id", ""),
            "app_installed_team_id": TEAM_ID, "bot_id": BOT_ID,
        }
        return out

    def _views_open(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        view_spec = self._check_view(params.get("view"))
        trigger = self._take_trigger(params.get("trigger_id"))
        external_id = view_spec.get("external_id")
        if external_id and any(v.spec.get("external_id") == external_id for v in self.views.values()):
            raise SlackError("duplicate_external_id")
        view_id = f"V{next(self._view_ids):04d}{_rand(6)}"
        view = View(view_id, trigger.user, view_spec, trigger.id, time.time(), self._view_hash(), view_id)
        self.views[view_id] = view
        return {"view": self.view_json(view)}

    def _view_hash(self) -> str:
        return f"{int(time.time())}.{_rand(8, _B62)}"

    def _views_update(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        view = None
        if params.get("view_id"):
            view = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            view = next((v for v in self.views.values() if v.spec.get("external_id") == params["external_id"]),
                        None)
        else:
            raise SlackError("invalid_arguments",
                             response_metadata={"messages": ["[ERROR] view_id or external_id is required"]})
        if view is None or view.status != "open":
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != view.hash:
            raise SlackError("hash_conflict")
        spec = self._check_view(params.get("view"))
        view.history.append({"spec": view.spec, "replaced_at": time.time()})
        view.spec = spec
        view.hash = self._view_hash()
        view.errors = None
        return {"view": self.view_json(view)}

    # files -------------------------------------------------------------------------------------
    def _files_get_upload_url(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        filename = params.get("filename")
        if not filename:
            raise SlackError("invalid_arguments")
        length = _int_arg(params.get("length"), -1, -1, 1 << 40)
        if length < 0:
            raise SlackError("invalid_arguments")
        file_id = "F" + _rand(10)
        self.files[file_id] = UploadedFile(file_id, str(filename), length, params.get("alt_txt"), time.time())
        return {"upload_url": f"{self._base_url(req)}/_sandbox/slack/upload/{file_id}", "file_id": file_id}

    def _file_json(self, f: UploadedFile) -> dict[str, Any]:
        ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else "binary"
        mimetype = {"txt": "text/plain", "png": "image/png", "csv": "text/csv", "json": "application/json",
                    "pdf": "application/pdf"}.get(ext, "application/octet-stream")
        url = f"https://files.slack.com/files-pri/{TEAM_ID}-{f.id}/{f.filename}"
        shares: dict[str, Any] = {}
        for share in f.shares:
            shares.setdefault(share["channel"], []).append({
                "ts": share["ts"], "channel_name": self.channels[share["channel"]].name
                if share["channel"] in self.channels else "", "team_id": TEAM_ID,
                "share_user_id": BOT_USER_ID, "source": "UNKNOWN", "is_silent_share": False,
                **({"thread_ts": share["thread_ts"]} if share.get("thread_ts") else {}),
            })
        return {
            "id": f.id, "created": int(f.created), "timestamp": int(f.created), "name": f.filename,
            "title": f.title or f.filename, "mimetype": mimetype, "filetype": ext, "pretty_type": ext.upper(),
            "user": BOT_USER_ID, "user_team": TEAM_ID, "editable": False,
            "size": len(f.content) if f.content is not None else f.length, "mode": "hosted",
            "is_external": False, "external_type": "", "is_public": bool(f.shares), "public_url_shared": False,
            "display_as_bot": False, "username": "", "url_private": url, "url_private_download": url,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{f.id}/{f.filename}",
            "permalink_public": f"https://slack-files.com/{TEAM_ID}-{f.id}-{_rand(10).lower()}",
            "comments_count": 0, "is_starred": False, "shares": {"public": shares} if shares else {},
            "channels": sorted({s["channel"] for s in f.shares}), "groups": [], "ims": [],
            "has_more_shares": False, "has_rich_preview": False, "file_access": "visible",
            **({"alt_txt": f.alt_txt} if f.alt_txt else {}),
        }

    def _files_complete_upload(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        items = _json_arg(params.get("files"), "files")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        uploads: list[UploadedFile] = []
        for item in items:
            f = self.files.get(str(item.get("id") if isinstance(item, dict) else ""))
            if f is None or f.completed:
                raise SlackError("file_not_found")
            if f.content is None:
                raise SlackError("file_upload_not_found")  # the bytes never arrived
            if len(f.content) != f.length:
                raise SlackError("file_upload_size_mismatch")
            uploads.append(f)
        channel_ids: list[str] = []
        if params.get("channel_id"):
            channel_ids.append(self._channel(params["channel_id"]).id)
        for ref in str(params.get("channels") or "").split(","):
            if ref.strip():
                channel_ids.append(self._channel(ref.strip()).id)
        thread_ts = None
        if params.get("thread_ts"):
            if not channel_ids:
                raise SlackError("invalid_arguments")
            thread_ts = self._thread(channel_ids[0], params["thread_ts"])
        for f, item in zip(uploads, items):
            f.completed = True
            f.title = item.get("title") or f.filename
        comment = str(params.get("initial_comment") or "")
        for channel_id in channel_ids:
            message = Message(channel=channel_id, ts=self._next_ts(), text=comment, blocks=None, metadata=None,
                              user=BOT_USER_ID, posted_at=time.time(), thread_ts=thread_ts,
                              files=[f.id for f in uploads])
            self._add(message)
            for f in uploads:
                f.shares.append({"channel": channel_id, "ts": message.ts, "thread_ts": thread_ts or ""})
        return {"files": [{"id": f.id, "title": f.title} | self._file_json(f) for f in uploads]}

    # -- Socket Mode glue --------------------------------------------------------------------------
    def _on_ack(self, delivery: Delivery) -> None:
        """Apply a view_submission ack's response_action, as Slack does."""
        if delivery.payload_type != "view_submission":
            return
        view_id = delivery.info.get("view_id")
        response = delivery.ack_payload if isinstance(delivery.ack_payload, dict) else {}
        action = response.get("response_action")
        with self._lock:
            view = self.views.get(str(view_id))
            if view is None:
                return
            if action == "errors":
                view.errors = response.get("errors") or {}
            elif action == "update" and isinstance(response.get("view"), dict):
                try:
                    spec = self._check_view(response["view"])
                except SlackError:
                    view.errors = {"_": "invalid view in response_action update"}
                    return
                view.history.append({"spec": view.spec, "replaced_at": time.time()})
                view.spec, view.hash, view.errors = spec, self._view_hash(), None
                view.state_values = {}
            elif action == "push" and isinstance(response.get("view"), dict):
                try:
                    spec = self._check_view(response["view"])
                except SlackError:
                    return
                new_id = f"V{next(self._view_ids):04d}{_rand(6)}"
                self.views[new_id] = View(new_id, view.user, spec, view.trigger_id, time.time(), self._view_hash(),
                                          view.root_view_id, previous_view_id=view.id)
            elif action == "clear":
                for other in self.views.values():
                    if other.root_view_id == view.root_view_id:
                        other.status = "closed"
            else:
                view.status = "closed"

    # -- control API ---------------------------------------------------------------------------------
    def handle_control(self, req: Request) -> Response:
        sub = req.path[len("/_sandbox/slack"):] if req.path.startswith("/_sandbox/slack") else req.path
        sub = "/" + sub.strip("/")
        try:
            return self._control(req, sub)
        except ControlError as exc:
            return Response.json({"error": exc.message}, exc.status)
        except SlackError as exc:
            return Response.json({"error": exc.error, **exc.extra}, 400)

    def _control(self, req: Request, sub: str) -> Response:
        method = req.method.upper()
        if sub.startswith("/upload/") and method == "POST":
            return self._upload(sub[len("/upload/"):], req.body)
        if sub.startswith("/response_url/") and method == "POST":
            return self._response_url(sub[len("/response_url/"):], req)
        if sub.startswith("/files/") and sub.endswith("/content") and method == "GET":
            return self._file_content(sub[len("/files/"):-len("/content")])
        routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "/messages"): self._ctl_messages,
            ("POST", "/messages"): self._ctl_post_user_message,
            ("POST", "/actions"): self._ctl_action,
            ("GET", "/views"): lambda r: {"views": self._views_list()},
            ("POST", "/views/submit"): self._ctl_view_submit,
            ("POST", "/views/close"): self._ctl_view_close,
            ("GET", "/acks"): lambda r: {"deliveries": self.socket.deliveries(),
                                         "stray_acks": self.socket.stray_acks()},
            ("GET", "/files"): lambda r: {"files": self._files_list()},
            ("GET", "/connections"): lambda r: {"connections": self.socket.connections()},
            ("POST", "/socket/disconnect"): self._ctl_disconnect,
            ("GET", "/config"): lambda r: self._config_json(),
            ("POST", "/config"): self._ctl_config,
            ("GET", "/channels"): lambda r: {"channels": self._channels_json()},
            ("GET", "/users"): lambda r: {"users": [self.user_json(u) for u in self.users.values()]},
            ("POST", "/reset"): lambda r: (self.reset(), {"reset": True})[1],
        }
        handler = routes.get((method, sub))
        if handler is None:
            if any(path == sub for _, path in routes):
                raise ControlError(405, f"{method} not allowed on /_sandbox/slack{sub}")
            raise ControlError(404, f"no such control endpoint: /_sandbox/slack{sub}")
        result = handler(req)
        return result if isinstance(result, Response) else Response.json(result)

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except ValueError:
            raise ControlError(400, "body must be JSON") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ControlError(400, "body must be a JSON object")
        return body

    def _channels_json(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"id": c.id, "name": c.name} for c in self.channels.values()]

    def control_message_json(self, message: Message) -> dict[str, Any]:
        channel = self.channels.get(message.channel)
        return {
            "channel": message.channel, "channel_name": channel.name if channel else "",
            "ts": message.ts, "thread_ts": message.thread_ts, "text": message.text, "blocks": message.blocks,
            "attachments": message.attachments, "metadata": message.metadata, "user": message.user,
            "bot_id": message.bot_id, "ephemeral": message.ephemeral, "ephemeral_user": message.ephemeral_user,
            "reply_broadcast": message.reply_broadcast, "posted_at": message.posted_at,
            "edited_ts": message.edited_ts, "files": list(message.files),
            "unfurl_links": message.unfurl_links, "unfurl_media": message.unfurl_media,
            "history": [{"text": v.text, "blocks": v.blocks, "metadata": v.metadata, "replaced_at": v.replaced_at}
                        for v in message.history],
        }

    def _ctl_messages(self, req: Request) -> dict[str, Any]:
        channel = req.arg("channel")
        with self._lock:
            ids = {self._channel(channel).id} if channel else None
            items = [self.control_message_json(m) for m in self.messages
                     if not m.deleted and (ids is None or m.channel in ids)]
            return {"channels": self._channels_json(), "messages": items}

    def _ctl_post_user_message(self, req: Request) -> dict[str, Any]:
        """A person writes in a channel (or a thread), e.g. to see how the app copes."""
        body = self._body(req)
        with self._lock:
            user = self._ensure_user(body.get("user"))
            channel = self._channel(body.get("channel") or "C0SBXALERT")
            text = str(body.get("text") or "")
            if not text:
                raise ControlError(400, "text is required")
            thread_ts = self._thread(channel.id, body.get("thread_ts"))
            message = Message(channel=channel.id, ts=self._next_ts(), text=text, blocks=None, metadata=None,
                              user=user.id, posted_at=time.time(), bot_id=None, thread_ts=thread_ts)
            self._add(message)
            return {"channel": channel.id, "ts": message.ts}

    def _ensure_user(self, spec: Any) -> SlackUser:
        if spec is None:
            return self.approver
        if isinstance(spec, str):
            spec = {"id": spec}
        if not isinstance(spec, dict) or not spec.get("id"):
            raise ControlError(400, "user must be {\"id\", \"name\"}")
        user_id = str(spec["id"])
        user = self.users.get(user_id)
        if user is None:
            name = str(spec.get("name") or user_id.lower())
            user = SlackUser(user_id, name, str(spec.get("real_name") or name))
            self.users[user_id] = user
        return user

    def _ctl_action(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        for key in ("channel", "ts", "action_id"):
            if not body.get(key):
                raise ControlError(400, f"{key} is required")
        base = self._base_url(req)
        with self._lock:
            user = self._ensure_user(body.get("user"))
            try:
                channel = self._channel(body["channel"])
            except SlackError:
                raise ControlError(404, f"no channel {body['channel']!r}") from None
            message = self._find(channel.id, str(body["ts"]), ephemeral=None)
            if message is None:
                raise ControlError(404, f"no message {body['ts']} in {channel.id}")
            match = next(((b, el) for b, el in iter_elements(message.blocks)
                          if el.get("action_id") == body["action_id"]), None)
            if match is None:
                raise ControlError(404, f"message has no element with action_id {body['action_id']!r}")
            block, element = match
            action = self._action_json(block, element, body.get("value"))
            trigger_id = self._issue_trigger(user.id, channel=channel.id, message_ts=message.ts)
            response_url = ResponseUrl(_rand(12, _B62), channel.id, message.ts, user.id, time.time())
            self.response_urls[response_url.id] = response_url
            container: dict[str, Any] = {"type": "message", "message_ts": message.ts, "channel_id": channel.id,
                                         "is_ephemeral": message.ephemeral}
            if message.thread_ts:
                container["thread_ts"] = message.thread_ts
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": user.short(),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "container": container,
                "trigger_id": trigger_id,
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": channel.id, "name": channel.name},
                "state": {"values": {}},
                "response_url": f"{base}/_sandbox/slack/response_url/{response_url.id}",
                "actions": [action],
            }
            if not message.ephemeral:
                # Slack leaves the message out for ephemeral containers.
                payload["message"] = self.message_json(message)
        delivery = self.socket.deliver(payload, info={
            "action_id": action["action_id"], "block_id": action["block_id"], "value": action.get("value"),
            "channel": channel.id, "message_ts": message.ts, "user": user.id, "trigger_id": trigger_id})
        if delivery is None:
            raise ControlError(409, "no Socket Mode client is connected")
        return self._delivery_result(delivery, body, trigger_id=trigger_id)

    def _delivery_result(self, delivery: Delivery, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"envelope_id": delivery.id, **extra}
        wait = body.get("wait")
        if wait:
            delivery.done.wait(min(float(wait), 30.0))
            out["delivery"] = next((d for d in self.socket.deliveries() if d["id"] == delivery.id), None)
        return out

    @staticmethod
    def _action_json(block: dict[str, Any], element: dict[str, Any], value: Any) -> dict[str, Any]:
        kind = element.get("type", "button")
        action: dict[str, Any] = {"action_id": element.get("action_id"), "block_id": block.get("block_id"),
                                  "type": kind, "action_ts": f"{time.time():.6f}"}
        if kind == "button":
            action["text"] = element.get("text")
            action["value"] = str(value) if value is not None else element.get("value", "")
            if element.get("style"):
                action["style"] = element["style"]
            if element.get("url"):
                action["url"] = element["url"]
        elif kind in ("static_select", "overflow", "radio_buttons"):
            options = list(element.get("options") or [])
            for group in element.get("option_groups") or []:
                options.extend(group.get("options") or [])
            chosen = next((o for o in options if value is None or o.get("value") == value), None)
            if chosen is None:
                raise ControlError(404, f"no option with value {value!r}")
            action["selected_option"] = {"text": chosen.get("text"), "value": chosen.get("value")}
        elif kind == "users_select":
            action["selected_user"] = value
        else:
            action["value"] = value
        return action

    def _views_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**self.view_json(v), "user": v.user, "status": v.status, "errors": v.errors,
                     "opened_at": v.opened_at, "trigger_id": v.trigger_id, "submissions": list(v.submissions),
                     "history": v.history}
                    for v in self.views.values()]

    def _find_view(self, body: dict[str, Any]) -> View:
        view: View | None = None
        if body.get("view_id"):
            view = self.views.get(str(body["view_id"]))
        elif body.get("trigger_id"):
            matches = [v for v in self.views.values() if v.trigger_id == body["trigger_id"]]
            view = matches[-1] if matches else None
        else:
            raise ControlError(400, "view_id or trigger_id is required")
        if view is None:
            raise ControlError(404, "no such view")
        if view.status != "open":
            raise ControlError(409, f"view {view.id} is {view.status}")
        return view

    def _state_values(self, view: View, values: Any) -> dict[str, Any]:
        """Slack's ``view.state.values``: block_id -> action_id -> typed value.

        Accepts that exact shape, or the shorthand ``{action_id: value}`` (or ``{block_id: value}``)."""
        if not isinstance(values, dict):
            raise ControlError(400, "values must be an object")
        state: dict[str, Any] = {}
        given = dict(values)
        for block, element in iter_elements(view.spec.get("blocks")):
            if block.get("type") != "input":
                continue
            block_id, action_id = block["block_id"], element["action_id"]
            if isinstance(given.get(block_id), dict) and action_id in given[block_id]:
                raw = given[block_id][action_id]
                if isinstance(raw, dict) and "type" in raw:
                    state.setdefault(block_id, {})[action_id] = raw
                    continue
            elif action_id in given:
                raw = given[action_id]
            elif block_id in given:
                raw = given[block_id]
            else:
                raw = None
                if not block.get("optional"):
                    initial = element.get("initial_value")
                    if initial is None:
                        raise ControlError(422, f"required input {block_id}/{action_id} has no value")
                    raw = initial
            state.setdefault(block_id, {})[action_id] = self._typed_value(element, raw)
        return state

    @staticmethod
    def _typed_value(element: dict[str, Any], raw: Any) -> dict[str, Any]:
        kind = element.get("type", "plain_text_input")
        if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
            value = None if raw is None else str(raw)
            max_length = element.get("max_length")
            if value is not None and isinstance(max_length, int) and len(value) > max_length:
                raise ControlError(422, f"value longer than max_length {max_length}")
            return {"type": kind, "value": value}
        if kind in ("static_select", "radio_buttons"):
            if raw is None:
                return {"type": kind, "selected_option": None}
            options = list(element.get("options") or [])
            for group in element.get("option_groups") or []:
                options.extend(group.get("options") or [])
            chosen = next((o for o in options if o.get("value") == raw), None)
            if chosen is None:
                raise ControlError(422, f"no option with value {raw!r}")
            return {"type": kind, "selected_option": {"text": chosen.get("text"), "value": chosen["value"]}}
        if kind == "checkboxes":
            wanted = raw if isinstance(raw, list) else ([] if raw is None else [raw])
            options = [o for o in element.get("options") or [] if o.get("value") in wanted]
            return {"type": kind, "selected_options": options}
        if kind == "users_select":
            return {"type": kind, "selected_user": raw}
        return {"type": kind, "value": raw}

    def _ctl_view_submit(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        with self._lock:
            view = self._find_view(body)
            user = self._ensure_user(body.get("user") or view.user)
            view.state_values = self._state_values(view, body.get("values") or {})
            trigger_id = self._issue_trigger(user.id, view_id=view.id)
            payload = {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "user": user.short(),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "trigger_id": trigger_id,
                "view": self.view_json(view),
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }
        delivery = self.socket.deliver(payload, accepts_response_payload=True,
                                       info={"view_id": view.id, "callback_id": view.spec.get("callback_id", ""),
                                             "user": user.id, "trigger_id": trigger_id})
        if delivery is None:
            raise ControlError(409, "no Socket Mode client is connected")
        with self._lock:
            view.submissions.append(delivery.id)
        return self._delivery_result(delivery, body, trigger_id=trigger_id, view_id=view.id)

    def _ctl_view_close(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        with self._lock:
            view = self._find_view(body)
            view.status = "closed"
            user = self._ensure_user(body.get("user") or view.user)
            notify = bool(view.spec.get("notify_on_close"))
            payload = {"type": "view_closed", "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                       "user": user.short(), "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
                       "view": self.view_json(view), "is_cleared": False, "is_enterprise_install": False,
                       "enterprise": None}
        if not notify:
            return {"view_id": view.id, "notified": False}
        delivery = self.socket.deliver(payload, info={"view_id": view.id, "user": user.id})
        return {"view_id": view.id, "notified": delivery is not None,
                "envelope_id": delivery.id if delivery else None}

    def _ctl_disconnect(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        mode = body.get("mode", "frame")
        if mode not in ("frame", "close"):
            raise ControlError(400, "mode must be 'frame' or 'close'")
        connection = body.get("connection")
        count = self.socket.disconnect(str(body.get("reason") or "refresh_requested"), mode,
                                       int(connection) if connection is not None else None)
        return {"disconnected": count}

    def _config_json(self) -> dict[str, Any]:
        return {"ack_timeout": self.socket.ack_timeout, "max_redeliveries": self.socket.max_redeliveries,
                "disconnect_grace": self.socket.disconnect_grace, "trigger_ttl": self.trigger_ttl,
                "rate_limits": self.limits.snapshot()}

    def _ctl_config(self, req: Request) -> dict[str, Any]:
        body = self._body(req)
        try:
            if "ack_timeout" in body:
                self.socket.ack_timeout = max(0.05, float(body["ack_timeout"]))
            if "max_redeliveries" in body:
                self.socket.max_redeliveries = max(0, int(body["max_redeliveries"]))
            if "disconnect_grace" in body:
                self.socket.disconnect_grace = max(0.0, float(body["disconnect_grace"]))
            if "trigger_ttl" in body:
                self.trigger_ttl = max(0.0, float(body["trigger_ttl"]))
            for name, spec in (body.get("rate_limits") or {}).items():
                if isinstance(spec, (list, tuple)):
                    spec = {"limit": spec[0], "window": spec[1]}
                self.limits.configure(name, limit=spec.get("limit"), window=spec.get("window"))
        except KeyError as exc:
            raise ControlError(400, f"unknown method {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ControlError(400, f"bad config: {exc}") from None
        return self._config_json()

    def _files_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": f.id, "filename": f.filename, "title": f.title, "length": f.length,
                     "size": len(f.content) if f.content is not None else None,
                     "sha256": hashlib.sha256(f.content).hexdigest() if f.content is not None else None,
                     "completed": f.completed, "shares": f.shares}
                    for f in self.files.values()]

    def _upload(self, file_id: str, data: bytes) -> Response:
        with self._lock:
            f = self.files.get(unquote(file_id))
            if f is None or f.completed:
                return Response.text("file not found\n", 404)
            f.content = bytes(data)
        return Response.text(f"OK - {len(data)}")

    def _file_content(self, file_id: str) -> Response:
        with self._lock:
            f = self.files.get(unquote(file_id))
            if f is None or f.content is None:
                raise ControlError(404, "no such file")
            return Response(200, f.content, Headers({
                "content-type": "application/octet-stream", "x-content-type-options": "nosniff",
                "content-disposition": f'attachment; filename="{f.id}"'}))

    def _response_url(self, url_id: str, req: Request) -> Response:
        """Slack's response_url: replace, delete or answer the clicked message (ephemeral by default)."""
        body = self._body(req)
        with self._lock:
            hook = self.response_urls.get(url_id)
            if hook is None or hook.uses >= 5 or time.time() - hook.created > 1800:
                return Response.text("expired_url", 404)
            hook.uses += 1
            text = body.get("text")
            try:
                blocks = check_blocks(body["blocks"]) if body.get("blocks") is not None else None
            except SlackError as exc:
                return Response.json({"ok": False, "error": exc.error}, 400)
            original = self._find(hook.channel, hook.message_ts or "", ephemeral=None)
            if body.get("delete_original") and original is not None:
                original.deleted = True
            elif body.get("replace_original") and original is not None:
                original.history.append(Version(original.text, copy.deepcopy(original.blocks),
                                                copy.deepcopy(original.metadata), time.time()))
                original.text = str(text or "")
                original.blocks = blocks
                original.edited_ts = self._next_ts()
            else:
                ephemeral = body.get("response_type", "ephemeral") != "in_channel"
                self._add(Message(
                    channel=hook.channel, ts=self._next_ts(), text=str(text or ""), blocks=blocks, metadata=None,
                    user=BOT_USER_ID, posted_at=time.time(),
                    thread_ts=self._thread(hook.channel, body.get("thread_ts")) if body.get("thread_ts") else None,
                    ephemeral_user=hook.user if ephemeral else None))
        return Response.json({"ok": True})
