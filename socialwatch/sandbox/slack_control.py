"""The Slack emulator's control API (``/_sandbox/slack/...``) and its Socket Mode glue.

Clicks, modal submits and closes become Slack's interactive payloads delivered over Socket
Mode; acks of ``view_submission`` apply their ``response_action``. Mixed into
``SlackEmulator`` (``slack.py``), whose state it reads and changes under its lock.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .http import Headers, Request, Response
from .slack_blocks import check_blocks, iter_elements
from .slack_model import (
    APP_ID, B62, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, VERIFICATION_TOKEN, Message, ResponseUrl,
    SlackError, SlackUser, Version, View, rand,
)
from .socketmode import Delivery
from .timefmt import ControlError

if TYPE_CHECKING:
    import itertools
    import threading

    from .ratelimit import RateLimiter
    from .slack_model import Channel, Trigger, UploadedFile
    from .socketmode import SocketModeServer


class SlackControlMixin:
    """``handle_control`` and the interactive flows, for ``SlackEmulator``."""

    if TYPE_CHECKING:  # what SlackEmulator provides
        _lock: threading.RLock
        _view_ids: itertools.count[int]
        socket: SocketModeServer
        limits: RateLimiter
        trigger_ttl: float
        approver: SlackUser
        channels: dict[str, Channel]
        users: dict[str, SlackUser]
        messages: list[Message]
        views: dict[str, View]
        triggers: dict[str, Trigger]
        files: dict[str, UploadedFile]
        response_urls: dict[str, ResponseUrl]

        def reset(self) -> None: ...
        def _add(self, message: Message) -> Message: ...
        def _base_url(self, req: Request) -> str: ...
        def _channel(self, value: Any) -> Channel: ...
        def _check_view(self, view: Any) -> dict[str, Any]: ...
        def _find(self, channel: str, ts: str, *, ephemeral: bool | None = False) -> Message | None: ...
        def _issue_trigger(self, user: str, **context: Any) -> str: ...
        def _next_ts(self) -> str: ...
        def _thread(self, channel: str, thread_ts: Any) -> str | None: ...
        def _view_hash(self) -> str: ...
        def message_json(self, message: Message, *, metadata: bool = True) -> dict[str, Any]: ...
        def user_json(self, user: SlackUser) -> dict[str, Any]: ...
        def view_json(self, view: View) -> dict[str, Any]: ...

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
                new_id = f"V{next(self._view_ids):04d}{rand(6)}"
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
            return exc.response()
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

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except ValueError:
            raise ControlError("body must be JSON") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
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
                raise ControlError("text is required")
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
            raise ControlError('user must be {"id", "name"}')
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
                raise ControlError(f"{key} is required")
        base = self._base_url(req)
        with self._lock:
            user = self._ensure_user(body.get("user"))
            try:
                channel = self._channel(body["channel"])
            except SlackError:
                raise ControlError(f"no channel {body['channel']!r}", 404) from None
            message = self._find(channel.id, str(body["ts"]), ephemeral=None)
            if message is None:
                raise ControlError(f"no message {body['ts']} in {channel.id}", 404)
            match = next(((b, el) for b, el in iter_elements(message.blocks)
                          if el.get("action_id") == body["action_id"]), None)
            if match is None:
                raise ControlError(f"message has no element with action_id {body['action_id']!r}", 404)
            block, element = match
            action = self._action_json(block, element, body.get("value"))
            trigger_id = self._issue_trigger(user.id, channel=channel.id, message_ts=message.ts)
            response_url = ResponseUrl(rand(12, B62), channel.id, message.ts, user.id, time.time())
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
            raise ControlError("no Socket Mode client is connected", 409)
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
                raise ControlError(f"no option with value {value!r}", 404)
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
            raise ControlError("view_id or trigger_id is required")
        if view is None:
            raise ControlError("no such view", 404)
        if view.status != "open":
            raise ControlError(f"view {view.id} is {view.status}", 409)
        return view

    def _state_values(self, view: View, values: Any) -> dict[str, Any]:
        """Slack's ``view.state.values``: block_id -> action_id -> typed value.

        Accepts that exact shape, or the shorthand ``{action_id: value}`` (or ``{block_id: value}``)."""
        if not isinstance(values, dict):
            raise ControlError("values must be an object")
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
                        raise ControlError(f"required input {block_id}/{action_id} has no value", 422)
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
                raise ControlError(f"value longer than max_length {max_length}", 422)
            return {"type": kind, "value": value}
        if kind in ("static_select", "radio_buttons"):
            if raw is None:
                return {"type": kind, "selected_option": None}
            options = list(element.get("options") or [])
            for group in element.get("option_groups") or []:
                options.extend(group.get("options") or [])
            chosen = next((o for o in options if o.get("value") == raw), None)
            if chosen is None:
                raise ControlError(f"no option with value {raw!r}", 422)
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
            raise ControlError("no Socket Mode client is connected", 409)
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
            raise ControlError("mode must be 'frame' or 'close'")
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
            raise ControlError(f"unknown method {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ControlError(f"bad config: {exc}") from None
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
                raise ControlError("no such file", 404)
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

