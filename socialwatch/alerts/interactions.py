"""Clicks and modals from Slack, over Socket Mode: send, edit & send, assign, dismiss, not negative.

slack_sdk's own ``SocketModeClient`` rather than slack-bolt: five listeners do not need a
framework, and bolt would be one more dependency between us and the wire format (see
docs/design.md). Every request is acknowledged first (Slack wants it within 3 s) and then
acted on; a modal submission is validated *before* its ack, because the ack is the only way
to show errors in the modal.

Who may do what: sending, editing and dismissing need an approver (configured user ids or
members of the approver user group); anyone else gets an ephemeral refusal and the attempt
is audited. Assigning and "not negative" feedback are open to everyone in the channel.
Each decision is one store transaction with its audit entry; the reply outbox makes a
double click, a second approver or a redelivered envelope harmless.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from socialwatch.alerts import cards

from socialwatch.scoring import suggest
from socialwatch.config.schema import Config
from socialwatch.alerts.slack import SlackChannel
from socialwatch.models import utcnow
from socialwatch.store.db import Store
from socialwatch.store import alert_outbox
from socialwatch.store import audit_log
from socialwatch.store import inbox
from socialwatch.store import reply_outbox
from socialwatch.sla import customer

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0
CLOSE_TIMEOUT = 5.0  # seconds; well under the unit's TimeoutStopSec
FOLLOWUP_SEND, FOLLOWUP_SKIP = customer.FOLLOWUP_SEND, customer.FOLLOWUP_SKIP  # buttons of timers.followup_blocks
SEND_ACTIONS = (cards.SEND, cards.EDIT, cards.SECOND, cards.CANCEL, cards.DISMISS, cards.RESOLVE)


class Interactions:
    def __init__(self, config: Config, store: Store, channel: SlackChannel, *,
                 on_queued: Callable[[], None] | None = None):
        assert config.slack is not None
        self.config = config
        self.slack = config.slack
        self.store = store
        self.channel = channel
        self.client = channel.client
        self.on_queued = on_queued
        self._socket: SocketModeClient | None = None
        self._group: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._group_lock = threading.Lock()

    # --- connection ------------------------------------------------------------------------------

    def start(self) -> None:
        assert self.slack.app_token is not None
        self._socket = SocketModeClient(app_token=self.slack.app_token.get_secret_value(), web_client=self.client,
                                        auto_reconnect_enabled=True)
        self._socket.socket_mode_request_listeners.append(self._on_request)
        self._socket.connect()
        log.info("Slack Socket Mode connected: clicks are handled")

    def stop(self) -> None:
        """Close Socket Mode, waiting at most CLOSE_TIMEOUT: slack_sdk's close() can block for ever when it
        races its own session runner (the runner resets ``terminated`` after close() set it, then sleeps in
        a loop nobody ends), and a SIGTERM must not wait for systemd's SIGKILL. Its threads are daemons."""
        socket, self._socket = self._socket, None
        if socket is None:
            return
        closer = threading.Thread(target=socket.close, name="socket-mode-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        if closer.is_alive():
            log.warning("Slack Socket Mode did not close within %.0f s; stopping without waiting for it",
                        CLOSE_TIMEOUT)

    def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        try:
            if req.type != "interactive":
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
                return
            payload = req.payload or {}
            if payload.get("type") == "view_submission":
                ack, then = self.on_submission(payload)
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=ack))
                if then:
                    then()
                return
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            if payload.get("type") == "block_actions":
                for action in payload.get("actions") or []:
                    self.on_action(payload, action)
        except Exception:  # a bug here must never take the Socket Mode connection down
            log.exception("could not handle a Slack interaction")

    # --- authorisation ---------------------------------------------------------------------------

    def is_approver(self, user_id: str) -> bool:
        if user_id in self.slack.approvers:
            return True
        if not self.slack.approver_group:
            return False
        with self._group_lock:
            fetched, members = self._group
            if time.monotonic() - fetched > GROUP_CACHE_SECONDS:
                try:
                    response = self.client.usergroups_users_list(usergroup=self.slack.approver_group)
                    members = frozenset(response.get("users") or [])
                    self._group = (time.monotonic(), members)
                except (SlackApiError, SlackClientError, OSError) as exc:
                    # Fail closed, but keep the last known members for a while rather than lock everyone out.
                    log.warning("could not read the approver group %s: %s", self.slack.approver_group, exc)
            return user_id in members

    def refuse(self, payload: Mapping[str, Any], attempted: str, item_key: str | None, reason: str) -> None:
        user = payload.get("user") or {}
        audit_log.append_audit(self.store, "action.refused", actor_id=str(user.get("id") or "?"),
                                actor_name=_name(user), item_key=item_key,
                                details={"attempted": attempted, "reason": reason})
        self.ephemeral(payload, f":no_entry: {reason}")

    def ephemeral(self, payload: Mapping[str, Any], text: str) -> None:
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        user = (payload.get("user") or {}).get("id")
        if not channel or not user:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not tell %s: %s", user, exc)

    # --- buttons ---------------------------------------------------------------------------------

    def on_action(self, payload: Mapping[str, Any], action: Mapping[str, Any]) -> None:
        action_id = str(action.get("action_id") or "")
        verb, outcome = action_id, ""
        for prefixed in (cards.SEND, cards.RESOLVE):
            if action_id.startswith(prefixed + "_"):
                verb, outcome = prefixed, action_id[len(prefixed) + 1:]
        user = payload.get("user") or {}
        user_id, user_name = str(user.get("id") or ""), _name(user)
        try:
            target, index = cards.parse_value(str(action.get("value") or ""))
        except ValueError:
            log.warning("ignoring a click with an unreadable value: %r", action.get("value"))
            return
        if verb in (cards.SECOND, cards.CANCEL, cards.RESOLVE):
            reply = reply_outbox.reply(self.store, target)
            item = inbox.item(self.store, int(reply["item_id"])) if reply else None
        else:
            item = inbox.item(self.store, target)
        if item is None:
            self.ephemeral(payload, "This alert is no longer in the database.")
            return
        key = cards.item_key(item)
        if action_id in (FOLLOWUP_SEND, FOLLOWUP_SKIP):
            self.on_followup(payload, item, send=action_id == FOLLOWUP_SEND)
            return
        if verb in SEND_ACTIONS and not self.is_approver(user_id):
            self.refuse(payload, verb.removeprefix("sw_"), key, "only approvers can send, edit or dismiss replies")
            return
        if verb in (cards.SEND, cards.EDIT) and self.slack.alerts_only:
            self.refuse(payload, verb.removeprefix("sw_"), key, "socialwatch runs in alerts-only mode: answer on the platform")
            return
        if verb == cards.SEND:
            suggestions = cards.suggestions_of(item)
            if index is None or not 0 <= index < len(suggestions):
                self.ephemeral(payload, "That suggestion no longer exists; use Edit & send.")
                return
            chosen = suggestions[index]
            self.queue(payload, item, chosen["text"], suggested=chosen["text"], kind=chosen.get("kind"))
        elif verb == cards.EDIT:
            self.open_edit(payload, item)
        elif verb == cards.SECOND:
            result = reply_outbox.second_approval(self.store, target, actor_id=user_id, actor_name=user_name)
            if result.status == "awaiting_second":
                self.ephemeral(payload, "A second, different approver must confirm this reply.")
                return
            self._after_queue(payload, item, result)
        elif verb == cards.CANCEL:
            if reply_outbox.cancel_reply(self.store, target, actor_id=user_id, actor_name=user_name, reason="withdrawn in Slack"):
                self.channel.refresh(int(item["id"]))
            else:
                self.ephemeral(payload, "Too late to withdraw: the reply is already on its way.")
        elif verb == cards.RESOLVE:
            if outcome not in cards.RESOLUTIONS:
                return
            resolved = reply_outbox.resolve_reply(self.store, target, outcome=outcome, actor_id=user_id, actor_name=user_name)
            if resolved is None:
                self.ephemeral(payload, "Someone already settled this reply.")
                return
            self.channel.refresh(int(item["id"]))
            if outcome == "resend" and self.on_queued:
                self.on_queued()
        elif verb == cards.ASSIGN:
            if inbox.assign_item(self.store, int(item["id"]), actor_id=user_id, actor_name=user_name):
                self.channel.refresh(int(item["id"]))
        elif verb == cards.DISMISS:
            self.open_modal(payload, cards.dismiss_modal(item, {"item_id": item["id"]}))
        elif verb == cards.NOT_NEGATIVE:
            if inbox.record_feedback(self.store, int(item["id"]), feedback="not_negative", actor_id=user_id,
                                          actor_name=user_name):
                self.channel.refresh(int(item["id"]))
        else:
            log.info("ignoring unknown action %r", action_id)

    def on_followup(self, payload: Mapping[str, Any], item: Mapping[str, Any], *, send: bool) -> None:
        """The "did this solve it?" suggestion some hours after a reply: send it (approvers) or skip it."""
        user = payload.get("user") or {}
        user_id = str(user.get("id") or "")
        if not self.is_approver(user_id):
            self.refuse(payload, "followup", cards.item_key(item), "only approvers can send or skip follow-ups")
            return
        outcome = customer.decide_followup(self.store, self.config, int(item["id"]), send=send, actor_id=user_id,
                                      actor_name=_name(user), now=utcnow())
        if outcome == "queued" and self.on_queued:
            self.on_queued()
        self.ephemeral(payload, {"queued": "Follow-up queued; it goes out in a moment.",
                                 "skipped": "Follow-up skipped.",
                                 "decided": "Someone already decided about this follow-up."}.get(
                                     outcome, f"Follow-up not sent: {outcome}."))

    def queue(self, payload: Mapping[str, Any], item: Mapping[str, Any], text: str, *, suggested: str | None,
              kind: str | None) -> None:
        user = payload.get("user") or {}
        result = reply_outbox.queue_reply(self.store, 
            int(item["id"]), text=text, actor_id=str(user.get("id")), actor_name=_name(user),
            suggested_text=suggested, suggestion_kind=kind,
            needs_second=bool(self.slack.two_person_rule and item.get("public")))
        self._after_queue(payload, item, result)

    def _after_queue(self, payload: Mapping[str, Any], item: Mapping[str, Any], result: Any) -> None:
        status = result.status
        if status in ("queued", "awaiting_second"):
            self.channel.refresh(int(item["id"]))
            if status == "queued" and self.on_queued:
                self.on_queued()
        elif status == "duplicate":
            reply = result.reply or {}
            self.ephemeral(payload, f"Already answered: a reply approved by <@{cards._user_id(str(reply.get('approved_by') or ''))}>"
                                    f" is {reply.get('status', 'queued')}. Nothing else was sent.")
        elif status == "closed":
            self.ephemeral(payload, "This alert was dismissed; nothing was sent.")

    # --- modals ----------------------------------------------------------------------------------

    def open_edit(self, payload: Mapping[str, Any], item: Mapping[str, Any]) -> None:
        suggestions = cards.suggestions_of(item)
        first = suggestions[0] if suggestions else {"text": "", "kind": None}
        limit = suggest.reply_limit(str(item["platform"]), bool(item.get("public")))
        self.open_modal(payload, cards.edit_modal(item, text=first["text"], limit=limit,
                                                   private={"item_id": item["id"], "suggested": first["text"],
                                                            "kind": first.get("kind")}))

    def open_modal(self, payload: Mapping[str, Any], view: dict[str, Any]) -> None:
        try:
            self.client.views_open(trigger_id=payload.get("trigger_id"), view=view)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not open a modal: %s", exc)
            self.ephemeral(payload, "Slack did not open the form in time; please click again.")

    def on_submission(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Callable[[], None] | None]:
        """(ack payload, work to do after the ack)."""
        view = payload.get("view") or {}
        user = payload.get("user") or {}
        user_id, user_name = str(user.get("id") or ""), _name(user)
        try:
            private = json.loads(view.get("private_metadata") or "{}")
            item = inbox.item(self.store, int(private["item_id"]))
        except (ValueError, KeyError, TypeError):
            return None, None
        if item is None:
            return {"response_action": "errors", "errors": {cards.REPLY_BLOCK: "This alert no longer exists."}}, None
        values = (view.get("state") or {}).get("values") or {}
        callback = view.get("callback_id")
        if callback == cards.EDIT_VIEW:
            text = str(((values.get(cards.REPLY_BLOCK) or {}).get(cards.REPLY_INPUT) or {}).get("value") or "").strip()
            problem = self.check_reply(item, text)
            if not self.is_approver(user_id):
                problem = "Only approvers can send replies."
                audit_log.append_audit(self.store, "action.refused", actor_id=user_id, actor_name=user_name,
                                        item_key=cards.item_key(item),
                                        details={"attempted": "edit", "reason": "not an approver"})
            if problem:
                return {"response_action": "errors", "errors": {cards.REPLY_BLOCK: problem}}, None

            def send() -> None:  # after the ack: Slack wants it within 3 s
                # Refusals and "already answered" notes go to the alert's channel, as for a button.
                channel = (alert_outbox.alert_message(self.store, int(item["id"])) or {}).get("channel")
                self.queue({"user": user, "channel": {"id": channel}}, item, text, suggested=private.get("suggested"),
                           kind=private.get("kind"))

            return None, send
        if callback == cards.DISMISS_VIEW:
            if not self.is_approver(user_id):
                return {"response_action": "errors", "errors": {cards.REASON_BLOCK: "Only approvers can dismiss."}}, None
            reason = (((values.get(cards.REASON_BLOCK) or {}).get(cards.REASON_INPUT) or {}).get("selected_option")
                      or {}).get("value") or "other"
            note = str(((values.get(cards.NOTE_BLOCK) or {}).get(cards.NOTE_INPUT) or {}).get("value") or "")

            def dismiss() -> None:
                if inbox.dismiss_item(self.store, int(item["id"]), actor_id=user_id, actor_name=user_name, reason=reason,
                                           note=note):
                    self.channel.refresh(int(item["id"]))

            return None, dismiss
        return None, None

    @staticmethod
    def check_reply(item: Mapping[str, Any], text: str) -> str | None:
        if not text:
            return "The reply is empty."
        platform, public = str(item["platform"]), bool(item.get("public"))
        limit, length = suggest.reply_limit(platform, public), suggest.measure(text, platform)
        if length > limit:
            return f"Too long for {cards.PLATFORM_WORDS.get(platform, platform)}: {length} of at most {limit} characters."
        return None


def _name(user: Mapping[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user.get("id") or "?")
