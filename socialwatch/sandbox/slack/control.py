"""The Slack emulator's control API (``/_sandbox/slack/...``): what tests and the web view use to
look at the workspace and to act in it as a person would.

Messages and channels, a person writing in a channel, the clicks and modals of
``interactions.py``, Socket Mode connections and deliveries, uploaded files and
``response_url`` answers, and the emulator's timing and rate-limit settings.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from socialwatch.sandbox.http import Headers, Request, Response
from socialwatch.sandbox.slack.blocks import check_blocks
from socialwatch.sandbox.slack.interactions import SlackInteractions
from socialwatch.sandbox.slack.model import BOT_USER_ID, Message, SlackError, Version, control_body
from socialwatch.sandbox.timefmt import ControlError


class SlackControl(SlackInteractions):
    """``handle_control``: the control API's routes."""

    def handle_control(self, req: Request) -> Response:
        sub = req.path.removeprefix("/_sandbox/slack")
        sub = "/" + sub.strip("/")
        try:
            return self._control(req, sub)
        except ControlError as exc:
            return exc.response()
        except SlackError as exc:
            return Response.json({"error": exc.error, **exc.extra}, 400)

    def _control(self, req: Request, sub: str) -> Response:
        method = req.method.upper()
        if sub.startswith("/upload/") and method == "POST":
            return self._upload(sub[len("/upload/") :], req.body)
        if sub.startswith("/response_url/") and method == "POST":
            return self._response_url(sub[len("/response_url/") :], req)
        if sub.startswith("/files/") and sub.endswith("/content") and method == "GET":
            return self._file_content(sub[len("/files/") : -len("/content")])
        routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "/messages"): self._ctl_messages,
            ("POST", "/messages"): self._ctl_post_user_message,
            ("POST", "/actions"): self._ctl_action,
            ("POST", "/actions/replay"): self._ctl_replay,
            ("GET", "/views"): lambda r: {"views": self._views_list()},
            ("POST", "/views/submit"): self._ctl_view_submit,
            ("POST", "/views/close"): self._ctl_view_close,
            ("GET", "/acks"): lambda r: {
                "deliveries": self.socket.deliveries(),
                "stray_acks": self.socket.stray_acks(),
            },
            ("GET", "/files"): lambda r: {"files": self._files_list()},
            ("GET", "/connections"): lambda r: {"connections": self.socket.connections()},
            ("POST", "/socket/disconnect"): self._ctl_disconnect,
            ("GET", "/config"): lambda r: self._config_json(),
            ("POST", "/config"): self._ctl_config,
            ("GET", "/channels"): lambda r: {"channels": self._channels_json()},
            ("GET", "/users"): lambda r: {"users": [self.user_json(u) for u in self.users.values()]},
            ("POST", "/reset"): self._ctl_reset,
        }
        handler = routes.get((method, sub))
        if handler is None:
            if any(path == sub for _, path in routes):
                raise ControlError(f"{method} not allowed on /_sandbox/slack{sub}", 405)
            raise ControlError(f"no such control endpoint: /_sandbox/slack{sub}", 404)
        result = handler(req)
        return result if isinstance(result, Response) else Response.json(result)

    def _ctl_reset(self, req: Request) -> dict[str, Any]:
        self.reset()
        return {"reset": True}

    def _channels_json(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"id": c.id, "name": c.name} for c in self.channels.values()]

    def control_message_json(self, message: Message) -> dict[str, Any]:
        channel = self.channels.get(message.channel)
        return {
            "channel": message.channel,
            "channel_name": channel.name if channel else "",
            "ts": message.ts,
            "thread_ts": message.thread_ts,
            "text": message.text,
            "blocks": message.blocks,
            "attachments": message.attachments,
            "metadata": message.metadata,
            "user": message.user,
            "bot_id": message.bot_id,
            "ephemeral": message.ephemeral,
            "ephemeral_user": message.ephemeral_user,
            "reply_broadcast": message.reply_broadcast,
            "posted_at": message.posted_at,
            "edited_ts": message.edited_ts,
            "files": list(message.files),
            "unfurl_links": message.unfurl_links,
            "unfurl_media": message.unfurl_media,
            "history": [
                {"text": v.text, "blocks": v.blocks, "metadata": v.metadata, "replaced_at": v.replaced_at}
                for v in message.history
            ],
        }

    def _ctl_messages(self, req: Request) -> dict[str, Any]:
        channel = req.arg("channel")
        with self._lock:
            ids = {self._channel(channel).id} if channel else None
            items = [
                self.control_message_json(m)
                for m in self.messages
                if not m.deleted and (ids is None or m.channel in ids)
            ]
            return {"channels": self._channels_json(), "messages": items}

    def _ctl_post_user_message(self, req: Request) -> dict[str, Any]:
        """A person writes in a channel (or a thread), e.g. to see how the app copes."""
        body = control_body(req)
        with self._lock:
            user = self._ensure_user(body.get("user"))
            channel = self._channel(body.get("channel") or "C0SBXALERT")
            text = str(body.get("text") or "")
            if not text:
                raise ControlError("text is required")
            thread_ts = self._thread(channel.id, body.get("thread_ts"))
            message = Message(
                channel=channel.id,
                ts=self._next_ts(),
                text=text,
                blocks=None,
                metadata=None,
                user=user.id,
                posted_at=time.time(),
                bot_id=None,
                thread_ts=thread_ts,
            )
            self._add(message)
            return {"channel": channel.id, "ts": message.ts}

    def _ctl_disconnect(self, req: Request) -> dict[str, Any]:
        body = control_body(req)
        mode = body.get("mode", "frame")
        if mode not in ("frame", "close"):
            raise ControlError("mode must be 'frame' or 'close'")
        connection = body.get("connection")
        count = self.socket.disconnect(
            str(body.get("reason") or "refresh_requested"), mode, int(connection) if connection is not None else None
        )
        return {"disconnected": count}

    def _config_json(self) -> dict[str, Any]:
        return {
            "ack_timeout": self.socket.ack_timeout,
            "max_redeliveries": self.socket.max_redeliveries,
            "disconnect_grace": self.socket.disconnect_grace,
            "trigger_ttl": self.trigger_ttl,
            "rate_limits": self.limits.snapshot(),
        }

    def _ctl_config(self, req: Request) -> dict[str, Any]:
        body = control_body(req)
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
            raise ControlError(f"unknown method {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ControlError(f"bad config: {exc}") from None
        return self._config_json()

    def _files_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "id": f.id,
                    "filename": f.filename,
                    "title": f.title,
                    "length": f.length,
                    "size": len(f.content) if f.content is not None else None,
                    "sha256": hashlib.sha256(f.content).hexdigest() if f.content is not None else None,
                    "completed": f.completed,
                    "shares": f.shares,
                }
                for f in self.files.values()
            ]

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
                raise ControlError("no such file", 404)
            return Response(
                200,
                f.content,
                Headers(
                    {
                        "content-type": "application/octet-stream",
                        "x-content-type-options": "nosniff",
                        "content-disposition": f'attachment; filename="{f.id}"',
                    }
                ),
            )

    def _response_url(self, url_id: str, req: Request) -> Response:
        """Slack's response_url: replace, delete or answer the clicked message (ephemeral by default)."""
        body = control_body(req)
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
                original.history.append(
                    Version(
                        original.text, copy.deepcopy(original.blocks), copy.deepcopy(original.metadata), time.time()
                    )
                )
                original.text = str(text or "")
                original.blocks = blocks
                original.edited_ts = self._next_ts()
            else:
                ephemeral = body.get("response_type", "ephemeral") != "in_channel"
                self._add(
                    Message(
                        channel=hook.channel,
                        ts=self._next_ts(),
                        text=str(text or ""),
                        blocks=blocks,
                        metadata=None,
                        user=BOT_USER_ID,
                        posted_at=time.time(),
                        thread_ts=self._thread(hook.channel, body.get("thread_ts")) if body.get("thread_ts") else None,
                        ephemeral_user=hook.user if ephemeral else None,
                    )
                )
        return Response.json({"ok": True})
