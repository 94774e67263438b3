"""Slack's Web API, emulated: the methods socialwatch uses, under ``/api/``.

What slack_sdk's ``WebClient(base_url=<sandbox>/api/)`` sends is what this reads: form or
JSON bodies, the token in ``Authorization: Bearer`` (or a ``token`` argument). Answers
have Slack's shapes: ``{"ok": true, ...}``, or ``{"ok": false, "error": "..."}`` with HTTP
200, and HTTP 429 + ``Retry-After`` when a method's tier budget is spent.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.slack.blocks import check_blocks
from socialwatch.sandbox.slack.model import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_NAME,
    BOT_TOKEN,
    BOT_USER_ID,
    MAX_TEXT,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Message,
    SlackError,
    Trigger,
    UploadedFile,
    Version,
    View,
    as_bool,
    decode_cursor,
    encode_cursor,
    int_arg,
    json_arg,
    rand,
    ts_key,
)
from socialwatch.sandbox.slack.state import SlackState

logger = logging.getLogger(__name__)


@dataclass
class _Method:
    fn: Callable[[dict[str, Any], Request], dict[str, Any]]
    token: str  # "bot" | "app"


class SlackApi(SlackState):
    """The Web API methods, each called with the workspace's lock held."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
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

    def handle(self, req: Request) -> Response:
        name = req.path[len("/api/") :].strip("/") if req.path.startswith("/api/") else req.path.strip("/")
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

    def fault_response(
        self,
        kind: str,
        *,
        seconds: float | None = None,
        method: str = "GET",
        path: str = "",
        options: dict[str, Any] | None = None,
    ) -> Response | None:
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
            return Response.json(
                {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "channels:history"}
            )
        return None

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

    # -- methods -------------------------------------------------------------------------------
    def _auth_test(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        token = req.bearer or params.get("token")
        if token == APP_TOKEN:
            # An app-level token identifies the app, not a bot user.
            return {
                "url": f"https://{TEAM_DOMAIN}.slack.com/",
                "team": TEAM_NAME,
                "user": "",
                "team_id": TEAM_ID,
                "user_id": "",
                "app_id": APP_ID,
                "is_enterprise_install": False,
            }
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        text, blocks, attachments = self._content(params)
        metadata = self._metadata(params)
        thread_ts = self._thread(channel.id, params.get("thread_ts"))
        message = Message(
            channel=channel.id,
            ts=self._next_ts(),
            text=text or "",
            blocks=blocks,
            metadata=metadata,
            user=BOT_USER_ID,
            posted_at=time.time(),
            thread_ts=thread_ts,
            reply_broadcast=as_bool(params.get("reply_broadcast")),
            attachments=attachments,
            unfurl_links=as_bool(params["unfurl_links"]) if "unfurl_links" in params else None,
            unfurl_media=as_bool(params["unfurl_media"]) if "unfurl_media" in params else None,
        )
        self._add(message)
        return {"channel": channel.id, "ts": message.ts, "message": self.message_json(message)}

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
        message.history.append(
            Version(message.text, copy.deepcopy(message.blocks), copy.deepcopy(message.metadata), time.time())
        )
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
        for key in (
            "ts",
            "thread_ts",
            "parent_user_id",
            "reply_count",
            "reply_users_count",
            "latest_reply",
            "reply_users",
            "is_locked",
            "subscribed",
        ):
            shown.pop(key, None)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": shown}

    def _chat_post_ephemeral(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        user = self._user(str(params.get("user") or ""))
        text, blocks, attachments = self._content(params)
        thread_ts = self._thread(channel.id, params.get("thread_ts"))
        message = Message(
            channel=channel.id,
            ts=self._next_ts(),
            text=text or "",
            blocks=blocks,
            metadata=None,
            user=BOT_USER_ID,
            posted_at=time.time(),
            thread_ts=thread_ts,
            ephemeral_user=user.id,
            attachments=attachments,
        )
        self._add(message)
        return {"message_ts": message.ts}

    def _history_page(
        self, messages: list[Message], params: dict[str, Any], *, newest_first: bool, default_limit: int
    ) -> tuple[list[Message], bool, str | None]:
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
        candidates = [
            m
            for m in self.messages
            if m.channel == channel.id
            and not m.ephemeral
            and not m.deleted
            and (m.thread_ts in (None, m.ts) or m.reply_broadcast)
        ]
        page, has_more, cursor = self._history_page(candidates, params, newest_first=True, default_limit=100)
        with_metadata = as_bool(params.get("include_all_metadata"))
        out: dict[str, Any] = {
            "messages": [self.message_json(m, metadata=with_metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
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
        out: dict[str, Any] = {
            "messages": [self.message_json(m, metadata=with_metadata) for m in page],
            "has_more": has_more,
        }
        if cursor:
            out["response_metadata"] = {"next_cursor": cursor}
        return out

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

    # -- views ---------------------------------------------------------------------------------
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

    def _views_update(self, params: dict[str, Any], req: Request) -> dict[str, Any]:
        view = None
        if params.get("view_id"):
            view = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            view = next((v for v in self.views.values() if v.spec.get("external_id") == params["external_id"]), None)
        else:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] view_id or external_id is required"]}
            )
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

    # -- files ---------------------------------------------------------------------------------
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
        for f, item in zip(uploads, items, strict=True):
            f.completed = True
            f.title = item.get("title") or f.filename
        comment = str(params.get("initial_comment") or "")
        for channel_id in channel_ids:
            message = Message(
                channel=channel_id,
                ts=self._next_ts(),
                text=comment,
                blocks=None,
                metadata=None,
                user=BOT_USER_ID,
                posted_at=time.time(),
                thread_ts=thread_ts,
                files=[f.id for f in uploads],
            )
            self._add(message)
            for f in uploads:
                f.shares.append({"channel": channel_id, "ts": message.ts, "thread_ts": thread_ts or ""})
        return {"files": [{"id": f.id, "title": f.title} | self._file_json(f) for f in uploads]}
