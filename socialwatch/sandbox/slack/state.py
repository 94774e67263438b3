"""The Slack emulator's workspace as it stands: channels, users, messages, views, files, and how
the Web API and the control API both show them.

``SlackState`` holds everything behind one lock, with the primitives both APIs build on
(find a channel or a message, add a message, the next ``ts``) and the JSON shapes of a
message, a user, a view and a file. The Web API (``api.py``) and the control API
(``control.py``, ``interactions.py``) are mixins over it.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from typing import Any

from socialwatch.sandbox.http import Request
from socialwatch.sandbox.ratelimit import RateLimiter
from socialwatch.sandbox.slack.blocks import check_blocks
from socialwatch.sandbox.slack.model import (
    APP_ID,
    APP_TOKEN,
    B62,
    BOT_ID,
    BOT_NAME,
    BOT_TOKEN,
    BOT_USER_ID,
    DEFAULT_LIMITS,
    TEAM_DOMAIN,
    TEAM_ID,
    TRIGGER_TTL,
    Channel,
    Message,
    ResponseUrl,
    SlackError,
    SlackUser,
    Trigger,
    UploadedFile,
    View,
    json_arg,
    rand,
)
from socialwatch.sandbox.slack.socketmode import Delivery, SocketModeServer
from socialwatch.sandbox.timefmt import ControlError


class SlackState:
    """The workspace behind one lock, its Socket Mode server and budgets, and what both APIs build on."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.RLock()
        self.socket = SocketModeServer(host, APP_ID, on_ack=self._on_ack)
        self.limits = RateLimiter(DEFAULT_LIMITS)
        self.trigger_ttl = TRIGGER_TTL
        self.reset()

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

    def _on_ack(self, delivery: Delivery) -> None:
        """A Socket Mode client acked an envelope; the interactive flows (``interactions.py``) act on it."""

    # -- the workspace -------------------------------------------------------------------------
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

    def _ensure_user(self, spec: Any) -> SlackUser:
        if spec is None:
            return self.approver
        if isinstance(spec, str):
            spec = {"id": spec}
        if not isinstance(spec, dict) or not spec.get("id"):
            raise ControlError('user must be {"id", "name"}')
        user_id = str(spec["id"])
        user = self.users.get(user_id)
        if user is None:
            name = str(spec.get("name") or user_id.lower())
            user = SlackUser(user_id, name, str(spec.get("real_name") or name))
            self.users[user_id] = user
        return user

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

    def _replies(self, message: Message) -> list[Message]:
        return [m for m in self._thread_replies.get((message.channel, message.ts), []) if not m.deleted]

    def _issue_trigger(self, user: str, **context: Any) -> str:
        trigger = Trigger(
            f"{int(time.time() * 1000)}.{abs(hash(TEAM_ID)) % 10**10}.{secrets.token_hex(16)}",
            user,
            time.time(),
            context=context,
        )
        self.triggers[trigger.id] = trigger
        return trigger.id

    def _view_hash(self) -> str:
        return f"{int(time.time())}.{rand(8, B62)}"

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

    # -- how messages, users, views and files look ---------------------------------------------
    def _bot_profile(self) -> dict[str, Any]:
        icon = "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"
        return {
            "id": BOT_ID,
            "deleted": False,
            "name": BOT_NAME,
            "updated": 1700000000,
            "app_id": APP_ID,
            "icons": {"image_36": icon, "image_48": icon.replace("36", "48"), "image_72": icon.replace("36", "72")},
            "team_id": TEAM_ID,
        }

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
                out.update(
                    {
                        "reply_count": len(replies),
                        "reply_users_count": len(users),
                        "latest_reply": replies[-1].ts if replies else message.ts,
                        "reply_users": users,
                        "is_locked": False,
                        "subscribed": False,
                    }
                )
                if not replies:  # Slack lists no reply_users for an empty thread
                    out.pop("reply_users")
        return out

    def user_json(self, user: SlackUser) -> dict[str, Any]:
        first, _, last = user.real_name.partition(" ")
        image = f"https://secure.gravatar.com/avatar/{hashlib.md5(user.id.encode()).hexdigest()}.jpg"
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": hashlib.md5(user.name.encode()).hexdigest()[:12],
            "first_name": first,
            "last_name": last,
            "team": TEAM_ID,
            **{f"image_{size}": f"{image}?s={size}" for size in (24, 32, 48, 72, 192, 512)},
        }
        if user.is_bot:
            profile.update({"bot_id": BOT_ID, "api_app_id": APP_ID, "always_active": True})
        else:
            profile["email"] = f"{user.name}@sandbox.invalid"
        return {
            "id": user.id,
            "team_id": TEAM_ID,
            "name": user.name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "is_email_confirmed": not user.is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }

    def view_json(self, view: View) -> dict[str, Any]:
        spec = view.spec
        out = {
            "id": view.id,
            "team_id": TEAM_ID,
            "type": spec.get("type", "modal"),
            "blocks": spec.get("blocks", []),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": view.state_values},
            "hash": view.hash,
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id,
            "app_id": APP_ID,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        return out

    def _file_json(self, f: UploadedFile) -> dict[str, Any]:
        ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else "binary"
        mimetype = {
            "txt": "text/plain",
            "png": "image/png",
            "csv": "text/csv",
            "json": "application/json",
            "pdf": "application/pdf",
        }.get(ext, "application/octet-stream")
        url = f"https://files.slack.com/files-pri/{TEAM_ID}-{f.id}/{f.filename}"
        shares: dict[str, Any] = {}
        for share in f.shares:
            shares.setdefault(share["channel"], []).append(
                {
                    "ts": share["ts"],
                    "channel_name": self.channels[share["channel"]].name if share["channel"] in self.channels else "",
                    "team_id": TEAM_ID,
                    "share_user_id": BOT_USER_ID,
                    "source": "UNKNOWN",
                    "is_silent_share": False,
                    **({"thread_ts": share["thread_ts"]} if share.get("thread_ts") else {}),
                }
            )
        return {
            "id": f.id,
            "created": int(f.created),
            "timestamp": int(f.created),
            "name": f.filename,
            "title": f.title or f.filename,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": BOT_USER_ID,
            "user_team": TEAM_ID,
            "editable": False,
            "size": len(f.content) if f.content is not None else f.length,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(f.shares),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url,
            "url_private_download": url,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{f.id}/{f.filename}",
            "permalink_public": f"https://slack-files.com/{TEAM_ID}-{f.id}-{rand(10).lower()}",
            "comments_count": 0,
            "is_starred": False,
            "shares": {"public": shares} if shares else {},
            "channels": sorted({s["channel"] for s in f.shares}),
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
            **({"alt_txt": f.alt_txt} if f.alt_txt else {}),
        }
