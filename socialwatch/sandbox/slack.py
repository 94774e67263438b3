"""Slack, emulated: the Web API methods socialwatch uses (under ``/api/``) and a control API.

What slack_sdk's ``WebClient(base_url=<sandbox>/api/)`` sends is what this reads: form or
JSON bodies, the token in ``Authorization: Bearer`` (or a ``token`` argument). Answers
have Slack's shapes: ``{"ok": true, ...}``, or ``{"ok": false, "error": "..."}`` with HTTP
200, and HTTP 429 + ``Retry-After`` when a method's tier budget is spent. Interactivity
goes over Socket Mode (``socketmode.py``): ``POST /_sandbox/slack/actions`` clicks a button
of a posted message and delivers Slack's ``block_actions`` payload to a connected client.

Split for size: ids and records in ``slack_model.py``, Block Kit checks in ``slack_blocks.py``,
the control API in ``slack_control.py``; this module holds the state and the Web API.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .http import Request, Response
from .ratelimit import RateLimiter
from .slack_blocks import check_blocks
from .slack_control import SlackControlMixin
from .slack_model import (
    APP_ID, APP_TOKEN, B62, BOT_ID, BOT_NAME, BOT_TOKEN, BOT_USER_ID, DEFAULT_LIMITS, MAX_TEXT, TEAM_DOMAIN,
    TEAM_ID, TEAM_NAME, TRIGGER_TTL, Channel, Message, ResponseUrl, SlackError, SlackUser, Trigger, UploadedFile,
    Version, View, as_bool, decode_cursor, encode_cursor, int_arg, json_arg, rand, ts_key,
)
from .socketmode import SocketModeServer

__all__ = ["APP_TOKEN", "BOT_TOKEN", "SlackEmulator", "SlackError", "check_blocks"]

logger = logging.getLogger(__name__)

@dataclass
class _Method:
    fn: Callable[[dict[str, Any], Request], dict[str, Any]]
    token: str  # "bot" | "app"


class SlackEmulator(SlackControlMixin):
    """The Slack workspace of the sandbox: channels, messages, views, files, Socket Mode."""

    target = "slack"

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
            "usergroups.users.list": _Method(self._usergroups_users_list, "bot"),
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
            # User groups (Slack's "subteams"): approvers and on-call, editable by tests.
            self.usergroups: dict[str, list[str]] = {"S0SBXAPPRV": [self.approver.id], "S0SBXONCAL": [self.approver.id]}
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
            "approver_group": "S0SBXAPPRV",
            "oncall_group": "S0SBXONCAL",
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
        blocks = json_arg(params.get("blocks"), "blocks", "invalid_blocks_format")
        attachments = json_arg(params.get("attachments"), "attachments", "invalid_attachments")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if require and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if blocks is not None:
            blocks = check_blocks(blocks)
        return text, blocks, attachments

    @staticmethod
    def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
        metadata = json_arg(params.get("metadata"), "metadata", "invalid_metadata_format")
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
            reply_broadcast=as_bool(params.get("reply_broadcast")), attachments=attachments,
            unfurl_links=as_bool(params["unfurl_links"]) if "unfurl_links" in params else None,
            unfurl_media=as_bool(params["unfurl_media"]) if "unfurl_media" in params else None,
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
        limit = int_arg(params.get("limit"), default_limit, 1, 999)
        oldest = str(params.get("oldest") or "0")
        latest = params.get("latest")
        inclusive = as_bool(params.get("inclusive"))
        try:
            low = ts_key(oldest)
            high = ts_key(str(latest)) if latest not in (None, "") else None
        except ValueError:
            raise SlackError("invalid_ts_oldest" if latest in (None, "") else "invalid_ts_latest") from None
        cursor = params.get("cursor")
        after: tuple[int, int] | None = None
        if cursor:
            after = ts_key(decode_cursor(str(cursor)))

        def keep(m: Message) -> bool:
            key = ts_key(m.ts)
            if key < low or (key == low and not inclusive and oldest != "0"):
                return False
            if high is not None and (key > high or (key == high and not inclusive)):
                return False
            if after is not None:
                return key < after if newest_first else key > after
            return True

        selected = sorted((m for m in messages if keep(m)), key=lambda m: ts_key(m.ts), reverse=newest_first)
        page, rest = selected[:limit], selected[limit:]
        next_cursor = encode_cursor(page[-1].ts) if rest else None
        return page, bool(rest), next_cursor

    def _conversations_history(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        candidates = [m for m in self.messages
                      if m.channel == channel.id and not m.ephemeral and not m.deleted
                      and (m.thread_ts in (None, m.ts) or m.reply_broadcast)]
        page, has_more, cursor = self._history_page(candidates, params, newest_first=True, default_limit=100)
        with_metadata = as_bool(params.get("include_all_metadata"))
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
        with_metadata = as_bool(params.get("include_all_metadata"))
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

    def _usergroups_users_list(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        with self._lock:
            members = self.usergroups.get(str(params.get("usergroup") or ""))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"users": list(members)}

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
            view = json_arg(view, "view")
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
        view_id = f"V{next(self._view_ids):04d}{rand(6)}"
        view = View(view_id, trigger.user, view_spec, trigger.id, time.time(), self._view_hash(), view_id)
        self.views[view_id] = view
        return {"view": self.view_json(view)}

    def _view_hash(self) -> str:
        return f"{int(time.time())}.{rand(8, B62)}"

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
        length = int_arg(params.get("length"), -1, -1, 1 << 40)
        if length < 0:
            raise SlackError("invalid_arguments")
        file_id = "F" + rand(10)
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
            "permalink_public": f"https://slack-files.com/{TEAM_ID}-{f.id}-{rand(10).lower()}",
            "comments_count": 0, "is_starred": False, "shares": {"public": shares} if shares else {},
            "channels": sorted({s["channel"] for s in f.shares}), "groups": [], "ims": [],
            "has_more_shares": False, "has_rich_preview": False, "file_access": "visible",
            **({"alt_txt": f.alt_txt} if f.alt_txt else {}),
        }

    def _files_complete_upload(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        items = json_arg(params.get("files"), "files")
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

