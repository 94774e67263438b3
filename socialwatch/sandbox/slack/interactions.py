"""The Slack emulator's interactive flows: clicks, modal submits and closes, over Socket Mode.

``POST /_sandbox/slack/actions`` clicks an element of a posted message (``actions/replay`` delivers an
earlier envelope again, as a replaying client would); ``views/submit`` and ``views/close`` act on an
open modal. Each becomes Slack's interactive payload
(``block_actions``, ``view_submission``, ``view_closed``) delivered to a connected Socket
Mode client; acks of ``view_submission`` apply their ``response_action``, as Slack does.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from socialwatch.sandbox.http import Request
from socialwatch.sandbox.slack.blocks import iter_elements
from socialwatch.sandbox.slack.model import (
    APP_ID,
    B62,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    Message,
    ResponseUrl,
    SlackError,
    View,
    control_body,
    rand,
)
from socialwatch.sandbox.slack.socketmode import Delivery
from socialwatch.sandbox.slack.state import SlackState
from socialwatch.sandbox.timefmt import ControlError


class SlackInteractions(SlackState):
    """Clicks and modals delivered over Socket Mode, and what their acks change."""

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
                self.views[new_id] = View(
                    new_id,
                    view.user,
                    spec,
                    view.trigger_id,
                    time.time(),
                    self._view_hash(),
                    view.root_view_id,
                    previous_view_id=view.id,
                )
            elif action == "clear":
                for other in self.views.values():
                    if other.root_view_id == view.root_view_id:
                        other.status = "closed"
            else:
                view.status = "closed"

    def _ctl_action(self, req: Request) -> dict[str, Any]:
        body = control_body(req)
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
            match = next(
                (
                    (b, el)
                    for b, el in iter_elements(self._shown_blocks(message, body.get("version")))
                    if el.get("action_id") == body["action_id"]
                ),
                None,
            )
            if match is None:
                raise ControlError(f"message has no element with action_id {body['action_id']!r}", 404)
            block, element = match
            action = self._action_json(block, element, body.get("value"))
            trigger_id = self._issue_trigger(user.id, channel=channel.id, message_ts=message.ts)
            response_url = ResponseUrl(rand(12, B62), channel.id, message.ts, user.id, time.time())
            self.response_urls[response_url.id] = response_url
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel.id,
                "is_ephemeral": message.ephemeral,
            }
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
                "state": {"values": self._message_state(action)},
                "response_url": f"{base}/_sandbox/slack/response_url/{response_url.id}",
                "actions": [action],
            }
            if not message.ephemeral:
                # Slack leaves the message out for ephemeral containers.
                payload["message"] = self.message_json(message)
        delivery = self.socket.deliver(
            payload,
            info={
                "action_id": action["action_id"],
                "block_id": action["block_id"],
                "value": action.get("value"),
                "channel": channel.id,
                "message_ts": message.ts,
                "user": user.id,
                "trigger_id": trigger_id,
            },
        )
        if delivery is None:
            raise ControlError("no Socket Mode client is connected", 409)
        return self._delivery_result(delivery, body, trigger_id=trigger_id)

    @staticmethod
    def _message_state(action: dict[str, Any]) -> dict[str, Any]:
        """A message's ``state.values`` as Slack sends it with a click: what its selects now hold."""
        if "selected_option" not in action:
            return {}
        value = {"type": action["type"], "selected_option": action["selected_option"]}
        return {str(action["block_id"]): {str(action["action_id"]): value}}

    @staticmethod
    def _shown_blocks(message: Message, version: Any) -> list[dict[str, Any]] | None:
        """The blocks a person sees: the message as it is, or (``version`` n, 0 = as first posted) as a
        screen that has not caught up with ``chat.update`` yet still shows it: a double click, or a second
        person clicking the same button a moment later."""
        if version is None:
            return message.blocks
        versions = [v.blocks for v in message.history] + [message.blocks]
        try:
            return versions[int(version)]
        except (TypeError, ValueError, IndexError):
            raise ControlError(f"message has no version {version!r} (0..{len(versions) - 1})", 404) from None

    def _ctl_replay(self, req: Request) -> dict[str, Any]:
        """Deliver an earlier envelope's payload again as a new envelope: a click replayed by a client that
        retries on its own, a proxy, or an attacker holding an old payload (Slack itself never re-sends an
        acked one; its retries of unacked envelopes are ``max_redeliveries``)."""
        body = control_body(req)
        earlier = self.socket.delivery(str(body.get("delivery") or body.get("envelope_id") or ""))
        if earlier is None:
            raise ControlError("no such delivery: give delivery (or envelope_id) of an earlier one", 404)
        delivery = self.socket.deliver(
            copy.deepcopy(earlier.payload),
            envelope_type=earlier.envelope_type,
            accepts_response_payload=earlier.accepts_response_payload,
            info={**earlier.info, "replay_of": earlier.id},
        )
        if delivery is None:
            raise ControlError("no Socket Mode client is connected", 409)
        return self._delivery_result(delivery, body)

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
        action: dict[str, Any] = {
            "action_id": element.get("action_id"),
            "block_id": block.get("block_id"),
            "type": kind,
            "action_ts": f"{time.time():.6f}",
        }
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
            if element.get("placeholder"):
                action["placeholder"] = element["placeholder"]
        elif kind == "users_select":
            action["selected_user"] = value
        else:
            action["value"] = value
        return action

    def _views_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    **self.view_json(v),
                    "user": v.user,
                    "status": v.status,
                    "errors": v.errors,
                    "opened_at": v.opened_at,
                    "trigger_id": v.trigger_id,
                    "submissions": list(v.submissions),
                    "history": v.history,
                }
                for v in self.views.values()
            ]

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
        body = control_body(req)
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
        delivery = self.socket.deliver(
            payload,
            accepts_response_payload=True,
            info={
                "view_id": view.id,
                "callback_id": view.spec.get("callback_id", ""),
                "user": user.id,
                "trigger_id": trigger_id,
            },
        )
        if delivery is None:
            raise ControlError("no Socket Mode client is connected", 409)
        with self._lock:
            view.submissions.append(delivery.id)
        return self._delivery_result(delivery, body, trigger_id=trigger_id, view_id=view.id)

    def _ctl_view_close(self, req: Request) -> dict[str, Any]:
        body = control_body(req)
        with self._lock:
            view = self._find_view(body)
            view.status = "closed"
            user = self._ensure_user(body.get("user") or view.user)
            notify = bool(view.spec.get("notify_on_close"))
            payload = {
                "type": "view_closed",
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "user": user.short(),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "view": self.view_json(view),
                "is_cleared": False,
                "is_enterprise_install": False,
                "enterprise": None,
            }
        if not notify:
            return {"view_id": view.id, "notified": False}
        delivery = self.socket.deliver(payload, info={"view_id": view.id, "user": user.id})
        return {"view_id": view.id, "notified": delivery is not None, "envelope_id": delivery.id if delivery else None}
