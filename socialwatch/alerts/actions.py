"""The click table: Slack buttons and modal submissions dispatched to handlers by action id.

Each feature registers its own buttons on an ``Actions`` table, as bolt's ``App.action("...")`` does:
the alert card's buttons in ``alerts.buttons``, the follow-up suggestion's in ``sla.customer``. A
registration says what the value of the button names (an item, or a reply of the reply outbox) and
whether only approvers may click it; the dispatcher (``alerts.interactions``) finds the item, checks the
approver and refuses, audited, before any handler runs. Pure: no Slack client here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from socialwatch.config.schema import Config
from socialwatch.store.db import Store


@dataclass(frozen=True)
class Click:
    """One button click, read: who clicked, which button, and on what."""

    payload: Mapping[str, Any]
    action_id: str
    user_id: str
    user_name: str
    target: int  # the id the button's value names: an item, or a reply (``Registration.target``)
    index: int | None  # the suggestion a Send button stands for
    outcome: str  # the rest of a prefixed action id: "sent" of "sw_resolve_sent"
    item: Mapping[str, Any]  # the item the click is about (found through the reply for reply buttons)
    choice: str = ""  # what a select's option stands for: "billing" of "12:billing" (``Registration.choice``)
    version: int | None = None  # the reply attempt the card was rendered for (``cards.reply_value``)

    @property
    def user(self) -> Mapping[str, Any]:
        return self.payload.get("user") or {}


@dataclass(frozen=True)
class Submission:
    """A modal submitted: its values, who submitted it, and the item its private metadata names."""

    payload: Mapping[str, Any]
    user_id: str
    user_name: str
    private: Mapping[str, Any]
    values: Mapping[str, Any]
    item: Mapping[str, Any]

    @property
    def user(self) -> Mapping[str, Any]:
        return self.payload.get("user") or {}

    def value(self, block: str, element: str) -> Mapping[str, Any]:
        return (self.values.get(block) or {}).get(element) or {}


class Responder(Protocol):
    """What a handler may do in answer to a click: the dispatcher implements it with Slack."""

    config: Config
    store: Store

    def is_approver(self, user_id: str) -> bool: ...

    def refuse(self, payload: Mapping[str, Any], attempted: str, item_key: str | None, reason: str) -> None:
        """Tell the clicker why not (ephemeral) and audit the attempt as ``action.refused``."""

    def ephemeral(self, payload: Mapping[str, Any], text: str) -> None:
        """A message only the clicker sees, in the channel of the click."""

    def open_modal(self, payload: Mapping[str, Any], view: dict[str, Any]) -> None: ...

    def refresh(self, item_id: int) -> None:
        """Re-render the item's alert from the database."""

    def replies_queued(self) -> None:
        """Wake the reply sender: a reply is waiting."""


#: (ack payload for Slack, or None to close the modal; work to do after the ack, or None)
SubmissionResult = tuple[dict[str, Any] | None, Callable[[], None] | None]
ClickHandler = Callable[[Responder, Click], None]
SubmissionHandler = Callable[[Responder, Submission], SubmissionResult]


@dataclass(frozen=True)
class Registration:
    handler: ClickHandler
    target: Literal["item", "reply"]
    approvers_only: bool
    refusal: str  # what a non-approver is told
    attempted: str  # the name the refusal is audited under
    choice: bool = False  # a select: its options' values are "<target>:<choice>" and the click carries the choice
    card: bool = False  # a button of the item's alert card: only a click from that very message counts


class Actions:
    """Handlers by action id (exact, or a prefix for families such as ``sw_send_0`` .. ``sw_send_2``) and
    modal handlers by callback id."""

    def __init__(self) -> None:
        self._exact: dict[str, Registration] = {}
        self._prefixes: dict[str, Registration] = {}
        self._views: dict[str, SubmissionHandler] = {}

    def action(
        self,
        action_id: str,
        *,
        prefix: bool = False,
        target: Literal["item", "reply"] = "item",
        approvers_only: bool = False,
        refusal: str = "only approvers can do this",
        attempted: str | None = None,
        choice: bool = False,
        card: bool = False,
    ) -> Callable[[ClickHandler], ClickHandler]:
        """Register the decorated function for ``action_id`` (``prefix``: for ``action_id`` + "_" + anything;
        ``choice``: a select, whose chosen option's value names the target and the choice; ``card``: the
        control sits on the item's alert, so the dispatcher refuses a click from any other message)."""
        table = self._prefixes if prefix else self._exact

        def register(handler: ClickHandler) -> ClickHandler:
            if action_id in table:
                raise ValueError(f"action {action_id!r} is registered twice")
            table[action_id] = Registration(
                handler, target, approvers_only, refusal, attempted or action_id.removeprefix("sw_"), choice, card
            )
            return handler

        return register

    def view(self, callback_id: str) -> Callable[[SubmissionHandler], SubmissionHandler]:
        def register(handler: SubmissionHandler) -> SubmissionHandler:
            if callback_id in self._views:
                raise ValueError(f"view {callback_id!r} is registered twice")
            self._views[callback_id] = handler
            return handler

        return register

    def find(self, action_id: str) -> tuple[Registration, str] | None:
        """The registration for a clicked id and the rest of a prefixed id ("" for an exact one)."""
        if action_id in self._exact:
            return self._exact[action_id], ""
        head, sep, _ = action_id.rpartition("_")
        while sep:
            if head in self._prefixes:
                return self._prefixes[head], action_id[len(head) + 1 :]
            head, sep, _ = head.rpartition("_")
        return None

    def submission_handler(self, callback_id: str) -> SubmissionHandler | None:
        return self._views.get(callback_id)
