"""Reply privately: the alert card's button that answers a public Facebook or Instagram comment with one
private message to its author (Meta's private replies), for the customer who posts an order number or
account details in public.

The button opens a modal prefilled with a suggestion rendered for a private message (within the
platform's message limit); the submission is checked (the limit, counted as the platform counts it,
and the 7 days Meta allows) and becomes the item's one reply in the reply outbox, marked private. No
second approver: it is not public. At most once: the outbox keeps one answer per item, and Meta one
private reply per comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from socialwatch.alerts import buttons, cards
from socialwatch.alerts.actions import Actions, Click, Responder, Submission, SubmissionResult
from socialwatch.config.schema import Config
from socialwatch.models import Author, AuthorHistory, Item, Kind, Suggestion, parse_time, utcnow
from socialwatch.scoring.replies import platforms
from socialwatch.scoring.replies.suggest import ReplyWriter
from socialwatch.store import alert_outbox, reply_outbox

PRIVATE_VIEW = "sw_private_view"
#: Meta accepts a private reply within 7 days of the comment.
WINDOW = timedelta(days=7)


def register(actions: Actions) -> None:
    """Put the Reply privately button and its modal on ``actions``."""
    actions.action(
        cards.PRIVATE, approvers_only=True, refusal=buttons.REPLY_REFUSAL, attempted="reply_privately", card=True
    )(open_private)
    actions.view(PRIVATE_VIEW)(submit_private)


def refusal(row: Mapping[str, Any]) -> str | None:
    """Why this item cannot be answered privately now, or None."""
    platform = str(row.get("platform"))
    words = cards.PLATFORM_WORDS.get(platform, platform)
    if platform not in cards.PRIVATE_REPLY_PLATFORMS or row.get("kind") != "comment":
        return f"Only a public comment on Facebook or Instagram can be answered privately, not this {words} item."
    created = parse_time(str(row.get("created_at") or "")) if row.get("created_at") else None
    if created is not None and utcnow() - created > WINDOW:
        days = (utcnow() - created).days
        return (
            f"{words} allows a private reply only within 7 days of the comment; this one is {days} days old. "
            "Answer publicly with Edit & send instead."
        )
    return None


def private_suggestion(row: Mapping[str, Any], config: Config) -> Suggestion | None:
    """The first suggestion for this comment as a private message: the templates rendered for a DM (a
    public comment's suggestions ask the customer to write privately, which makes no sense inside a DM)."""
    created = parse_time(str(row["created_at"])) or utcnow()
    as_message = Item(
        platform=str(row["platform"]),
        kind=Kind.DM,
        native_id=str(row["native_id"]),
        account=str(row["account"]),
        author=Author(str(row["author_id"]), handle=row.get("author_handle"), name=row.get("author_name")),
        text=str(row.get("text") or ""),
        created_at=created,
        lang=row.get("lang"),
        public=False,
    )
    label = str(row.get("label") or "neutral")
    written = _writer(config).write(
        as_message, str(row.get("category") or "other"), label, AuthorHistory(), str(row.get("lang") or "")
    )
    return written.suggestions[0] if written.suggestions else None


#: One writer per configuration: its templates are compiled once, not at every click (Slack's 3 s).
_WRITERS: dict[int, tuple[Config, ReplyWriter]] = {}


def _writer(config: Config) -> ReplyWriter:
    held = _WRITERS.get(id(config))
    if held is None or held[0] is not config:
        held = _WRITERS[id(config)] = (config, ReplyWriter(config))
    return held[1]


def open_private(responder: Responder, click: Click) -> None:
    slack = responder.config.slack
    if slack is not None and slack.alerts_only:
        responder.refuse(click.payload, "reply_privately", cards.item_key(click.item), buttons.ALERTS_ONLY_REFUSAL)
        return
    item = dict(click.item)
    problem = refusal(item)
    if problem:
        responder.ephemeral(click.payload, problem)
        return
    platform = str(item["platform"])
    chosen = private_suggestion(item, responder.config)
    text = chosen.text if chosen else ""
    limit, unit = platforms.reply_limit(platform, False), platforms.limit_unit(platform, False)
    view = cards.edit_modal(
        item,
        text=text,
        limit=limit,
        unit=unit,
        private={
            "item_id": item["id"],
            "suggested": text,
            "kind": chosen.kind if chosen else None,
            "attempt": click.version or 0,
        },
    )
    view["callback_id"] = PRIVATE_VIEW
    view["title"] = {"type": "plain_text", "text": "Reply privately"}
    view["blocks"][1]["label"]["text"] = f"Private message to the commenter (at most {limit} {unit})"
    responder.open_modal(click.payload, view)


def submit_private(responder: Responder, submission: Submission) -> SubmissionResult:
    item = dict(submission.item)
    text = str(submission.value(cards.REPLY_BLOCK, cards.REPLY_INPUT).get("value") or "").strip()
    problem = refusal(item) or (
        "The message is empty." if not text else buttons.check_length(str(item["platform"]), False, text)
    )
    if buttons.not_an_approver(responder, submission, item, "reply_privately"):
        problem = "Only approvers can send replies."
    if problem:
        return {"response_action": "errors", "errors": {cards.REPLY_BLOCK: problem}}, None

    def send_it() -> None:  # after the ack: Slack wants it within 3 s
        channel = (alert_outbox.alert_message(responder.store, int(item["id"])) or {}).get("channel")
        payload = {"user": submission.user, "channel": {"id": channel}}
        result = reply_outbox.queue_reply(
            responder.store,
            int(item["id"]),
            text=text,
            actor_id=submission.user_id,
            actor_name=buttons.user_name(submission.user),
            suggested_text=submission.private.get("suggested"),
            suggestion_kind=submission.private.get("kind"),
            private=True,
            expected_attempt=int(submission.private.get("attempt") or 0),
        )
        buttons.after_queue(responder, payload, item, result)

    return None, send_it
