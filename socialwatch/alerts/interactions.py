"""Clicks and modals from Slack, over Socket Mode, dispatched through the click table (``alerts.actions``).

slack_sdk's own ``SocketModeClient`` rather than slack-bolt: a handful of listeners do not need a
framework, and bolt would be one more dependency between us and the wire format (see
docs/design.md); the table of handlers by action id is the part of bolt worth having. Every request
is acknowledged first (Slack wants it within 3 s) and then acted on; a modal submission is validated
*before* its ack, because the ack is the only way to show errors in the modal.

Who may do what: a registration says whether its button needs an approver (configured user ids or
members of the approver user group); anyone else gets an ephemeral refusal and the attempt is
audited, before the handler runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from socialwatch.alerts import cards
from socialwatch.alerts.actions import Actions, Click, Registration, Submission, SubmissionResult
from socialwatch.alerts.buttons import user_name
from socialwatch.alerts.click_retries import ClickRetries
from socialwatch.alerts.outbox import DeliveryError
from socialwatch.alerts.slack import SlackChannel, slack_errors
from socialwatch.config.schema import Config
from socialwatch.store import alert_outbox, audit_log, inbox, reply_outbox
from socialwatch.store.db import Store

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0
CLOSE_TIMEOUT = 5.0  # seconds; well under the unit's TimeoutStopSec
MISPLACED_REFUSAL = "that button does not belong to this alert's message; nothing was done"
SEND_ACTIONS = (cards.SEND, cards.EDIT, cards.SECOND, cards.CANCEL, cards.DISMISS, cards.RESOLVE)


class Interactions:
    """The Socket Mode side of Slack: implements ``actions.Responder`` for the handlers of ``actions``."""

    def __init__(
        self,
        config: Config,
        store: Store,
        channel: SlackChannel,
        actions: Actions,
        *,
        on_queued: Callable[[], None] | None = None,
    ):
        assert config.slack is not None
        self.config = config
        self.slack = config.slack
        self.store = store
        self.channel = channel
        self.client = channel.client
        self.actions = actions
        self.on_queued = on_queued
        self._socket: SocketModeClient | None = None
        self._group: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._group_lock = threading.Lock()
        self.retries = ClickRetries(store, self.ephemeral)

    # --- connection ------------------------------------------------------------------------------

    def start(self) -> None:
        assert self.slack.app_token is not None
        self._socket = SocketModeClient(
            app_token=self.slack.app_token.get_secret_value(), web_client=self.client, auto_reconnect_enabled=True
        )
        self._socket.socket_mode_request_listeners.append(self._on_request)
        self._socket.connect()
        log.info("Slack Socket Mode connected: clicks are handled")

    def stop(self) -> None:
        """Close Socket Mode, waiting at most CLOSE_TIMEOUT: slack_sdk's close() can block for ever when it
        races its own session runner (the runner resets ``terminated`` after close() set it, then sleeps in
        a loop nobody ends), and a SIGTERM must not wait for systemd's SIGKILL. Its threads are daemons."""
        self.retries.stop()
        socket, self._socket = self._socket, None
        if socket is None:
            return
        closer = threading.Thread(target=socket.close, name="socket-mode-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        if closer.is_alive():
            log.warning("Slack Socket Mode did not close within %.0f s; stopping without waiting for it", CLOSE_TIMEOUT)

    def _on_request(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        try:
            if req.type != "interactive":
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
                return
            payload = req.payload or {}
            if payload.get("type") == "view_submission":
                ack, then = self.on_submission(payload)
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=ack))
                if then:
                    told, key = self.submission_origin(payload)
                    self.retries.run(told, "form", key, then)
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
                    with slack_errors():
                        response = self.client.usergroups_users_list(usergroup=self.slack.approver_group)
                    members = frozenset(response.get("users") or [])
                    self._group = (time.monotonic(), members)
                except DeliveryError as exc:
                    # Fail closed, but keep the last known members for a while rather than lock everyone out.
                    log.warning("could not read the approver group %s: %s", self.slack.approver_group, exc)
            return user_id in members

    def refuse(self, payload: Mapping[str, Any], attempted: str, item_key: str | None, reason: str) -> None:
        user = payload.get("user") or {}
        audit_log.append_audit(
            self.store,
            "action.refused",
            actor_id=str(user.get("id") or "?"),
            actor_name=user_name(user),
            item_key=item_key,
            details={"attempted": attempted, "reason": reason},
        )
        self.ephemeral(payload, f":no_entry: {reason}")

    def ephemeral(self, payload: Mapping[str, Any], text: str) -> None:
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        user = (payload.get("user") or {}).get("id")
        if not channel or not user:
            return
        try:
            with slack_errors():
                self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except DeliveryError as exc:
            log.warning("could not tell %s: %s", user, exc)

    def open_modal(self, payload: Mapping[str, Any], view: dict[str, Any]) -> None:
        try:
            with slack_errors():
                self.client.views_open(trigger_id=payload.get("trigger_id"), view=view)
        except DeliveryError as exc:
            log.warning("could not open a modal: %s", exc)
            self.ephemeral(payload, "Slack did not open the form in time; please click again.")

    def refresh(self, item_id: int) -> None:
        self.channel.refresh(item_id)

    def replies_queued(self) -> None:
        if self.on_queued:
            self.on_queued()

    # --- dispatch --------------------------------------------------------------------------------

    def on_action(self, payload: Mapping[str, Any], action: Mapping[str, Any]) -> None:
        action_id = str(action.get("action_id") or "")
        found = self.actions.find(action_id)
        if found is None:
            log.info("ignoring unknown action %r", action_id)
            return
        registration, outcome = found
        user = payload.get("user") or {}
        choice = ""
        # A select sends the chosen option (Slack's block_actions ``selected_option``), a button its value.
        value = str((action.get("selected_option") or {}).get("value") or action.get("value") or "")
        try:
            if registration.choice:
                target, choice = cards.parse_choice(value)
                index, version = None, None
            else:
                target, index, version = cards.parse_value(value)
        except ValueError:
            log.warning("refusing a click with an unreadable value: %r", value)
            self.ephemeral(payload, "That button's value is unreadable; nothing was changed.")
            return
        if registration.target == "reply":
            reply = reply_outbox.reply(self.store, target)
            item = inbox.item(self.store, int(reply["item_id"])) if reply else None
        else:
            item = inbox.item(self.store, target)
        if item is None:
            self.ephemeral(payload, "This alert is no longer in the database.")
            return
        click = Click(
            payload,
            action_id,
            str(user.get("id") or ""),
            user_name(user),
            target,
            index,
            outcome,
            item,
            choice,
            version,
        )
        what = f"{registration.attempted.replace('_', ' ').capitalize()} click"
        # Acked already: a write the database cannot take now is retried, and the clicker is told.
        self.retries.run(payload, what, cards.item_key(item), lambda: self._act(registration, click))

    def _act(self, registration: Registration, click: Click) -> None:
        payload, item = click.payload, click.item
        if registration.approvers_only and not self.is_approver(click.user_id):
            self.refuse(payload, registration.attempted, cards.item_key(item), registration.refusal)
            return
        if registration.card and not self.from_its_alert(payload, item):
            self.refuse(payload, registration.attempted, cards.item_key(item), MISPLACED_REFUSAL)
            return
        registration.handler(self, click)

    def submission_origin(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Where a modal's clicker can be told something (its alert's channel) and the item key."""
        view = payload.get("view") or {}
        try:
            item_id = int(json.loads(view.get("private_metadata") or "{}")["item_id"])
        except (ValueError, KeyError, TypeError):
            return {"user": payload.get("user") or {}}, None
        item = inbox.item(self.store, item_id)
        channel = (alert_outbox.alert_message(self.store, item_id) or {}).get("channel")
        return {"user": payload.get("user") or {}, "channel": {"id": channel}}, (cards.item_key(item) if item else None)

    def from_its_alert(self, payload: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
        """Whether a card button's click came from the item's own alert message: a value naming another item
        (edited by a client, or pasted from another card) must not act on that item from here."""
        where = alert_outbox.alert_message(self.store, int(item["id"]))
        container = payload.get("container") or {}
        came_from = (
            container.get("channel_id") or (payload.get("channel") or {}).get("id"),
            container.get("message_ts"),
        )
        if where is not None:
            return came_from == (where["channel"], where["ts"])
        # Posted, but its ts not yet written (the dispatcher records it after Slack's answer): the message's
        # own metadata, which we set when posting, names its item.
        posted = ((payload.get("message") or {}).get("metadata") or {}).get("event_payload") or {}
        return posted.get("item_id") == item["id"] and posted.get("item_key") == cards.item_key(item)

    def on_submission(self, payload: Mapping[str, Any]) -> SubmissionResult:
        """(ack payload, work to do after the ack)."""
        view = payload.get("view") or {}
        user = payload.get("user") or {}
        handler = self.actions.submission_handler(str(view.get("callback_id") or ""))
        try:
            private = json.loads(view.get("private_metadata") or "{}")
            item = inbox.item(self.store, int(private["item_id"]))
        except (ValueError, KeyError, TypeError):
            return None, None
        if item is None:
            return {"response_action": "errors", "errors": {cards.REPLY_BLOCK: "This alert no longer exists."}}, None
        if handler is None:
            return None, None
        values = (view.get("state") or {}).get("values") or {}
        return handler(self, Submission(payload, str(user.get("id") or ""), user_name(user), private, values, item))
