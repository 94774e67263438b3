"""The alert card's buttons and modals: Send, Edit & send, the second approval, Withdraw, settling a reply
that needs a check, Assign and Dismiss (the corrections, "Not negative" among them, are alerts/corrections.py).

Each is registered on the click table (``register``). Sending, editing, dismissing and settling need an
approver; the dispatcher refuses anyone else before a handler runs. Each decision is one store
transaction with its audit entry; the reply outbox makes a double click, a second approver or a
redelivered envelope harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from socialwatch.alerts import cards
from socialwatch.alerts.actions import Actions, Click, ClickHandler, Responder, Submission, SubmissionResult
from socialwatch.models import utcnow
from socialwatch.scoring.replies import platforms
from socialwatch.store import alert_outbox, audit_log, inbox, reply_outbox
from socialwatch.store.reply_outbox import QueueResult

REPLY_REFUSAL = "only approvers can send, edit or dismiss replies"
STALE_REFUSAL = "that click came from an older state of the alert (a reply was tried since); nothing was sent"
ALERTS_ONLY_REFUSAL = "socialwatch runs in alerts-only mode: answer on the platform"


def register(actions: Actions) -> None:
    """Put the card's buttons and modals on ``actions``."""

    def for_approvers(action_id: str, **options: Any) -> Callable[[ClickHandler], ClickHandler]:
        return actions.action(action_id, approvers_only=True, refusal=REPLY_REFUSAL, card=True, **options)

    for_approvers(cards.SEND, prefix=True, attempted="send")(send)
    for_approvers(cards.EDIT)(open_edit)
    for_approvers(cards.SECOND, target="reply")(second_approval)
    for_approvers(cards.CANCEL, target="reply")(withdraw)
    for_approvers(cards.RESOLVE, prefix=True, target="reply", attempted="resolve")(resolve)
    for_approvers(cards.DISMISS)(open_dismiss)
    actions.action(cards.ASSIGN, card=True)(assign)
    actions.view(cards.EDIT_VIEW)(submit_edit)
    actions.view(cards.DISMISS_VIEW)(submit_dismiss)


# --- buttons ---------------------------------------------------------------------------------------


def send(responder: Responder, click: Click) -> None:
    if _alerts_only(responder, click, "send"):
        return
    suggestions = cards.suggestions_of(click.item)
    if _refused(responder, click.payload, click.item):
        return
    if click.index is None or not 0 <= click.index < len(suggestions):
        responder.ephemeral(click.payload, "That suggestion no longer exists; use Edit & send.")
        return
    chosen = suggestions[click.index]
    queue(
        responder,
        click.payload,
        click.item,
        chosen["text"],
        suggested=chosen["text"],
        kind=chosen.get("kind"),
        attempt=click.version or 0,
    )


def open_edit(responder: Responder, click: Click) -> None:
    if _alerts_only(responder, click, "edit"):
        return
    item = click.item
    if _refused(responder, click.payload, item):
        return
    suggestions = cards.suggestions_of(item)
    first = suggestions[0] if suggestions else {"text": "", "kind": None}
    platform, public = str(item["platform"]), bool(item.get("public"))
    responder.open_modal(
        click.payload,
        cards.edit_modal(
            item,
            text=first["text"] or "",
            limit=platforms.reply_limit(platform, public),
            unit=platforms.limit_unit(platform, public),
            private={
                "item_id": item["id"],
                "suggested": first["text"],
                "kind": first.get("kind"),
                "attempt": click.version or 0,
            },
        ),
    )


def second_approval(responder: Responder, click: Click) -> None:
    result = reply_outbox.second_approval(
        responder.store, click.target, actor_id=click.user_id, actor_name=click.user_name
    )
    if result.status == "awaiting_second":
        responder.ephemeral(click.payload, "A second, different approver must confirm this reply.")
        return
    after_queue(responder, click.payload, click.item, result)


def withdraw(responder: Responder, click: Click) -> None:
    if reply_outbox.cancel_reply(
        responder.store, click.target, actor_id=click.user_id, actor_name=click.user_name, reason="withdrawn in Slack"
    ):
        responder.refresh(int(click.item["id"]))
    else:
        responder.ephemeral(click.payload, "Too late to withdraw: the reply is already on its way.")


def resolve(responder: Responder, click: Click) -> None:
    if click.outcome not in cards.RESOLUTIONS:
        return
    resolved = reply_outbox.resolve_reply(
        responder.store, click.target, outcome=click.outcome, actor_id=click.user_id, actor_name=click.user_name
    )
    if resolved is None:
        responder.ephemeral(click.payload, "Someone already settled this reply.")
        return
    responder.refresh(int(click.item["id"]))
    if click.outcome == "resend":
        responder.replies_queued()


def open_dismiss(responder: Responder, click: Click) -> None:
    responder.open_modal(click.payload, cards.dismiss_modal(click.item, {"item_id": click.item["id"]}))


def assign(responder: Responder, click: Click) -> None:
    if inbox.assign_item(responder.store, int(click.item["id"]), actor_id=click.user_id, actor_name=click.user_name):
        responder.refresh(int(click.item["id"]))


def _alerts_only(responder: Responder, click: Click, attempted: str) -> bool:
    slack = responder.config.slack
    if slack is not None and slack.alerts_only:
        responder.refuse(click.payload, attempted, cards.item_key(click.item), ALERTS_ONLY_REFUSAL)
        return True
    return False


# --- queueing a reply --------------------------------------------------------------------------------


def queue(
    responder: Responder,
    payload: Mapping[str, Any],
    item: Mapping[str, Any],
    text: str,
    *,
    suggested: str | None,
    kind: str | None,
    attempt: int,
) -> None:
    """Put the approved text in the reply outbox (waiting for a second approver under the two-person rule
    when the reply is public) and tell the approver what happened. ``attempt``: the card's version of the
    item's replies (``cards.reply_value``); a click from an older card queues nothing."""
    user = payload.get("user") or {}
    slack = responder.config.slack
    result = reply_outbox.queue_reply(
        responder.store,
        int(item["id"]),
        text=text,
        actor_id=str(user.get("id")),
        actor_name=user_name(user),
        suggested_text=suggested,
        suggestion_kind=kind,
        needs_second=bool(slack is not None and slack.two_person_rule and item.get("public")),
        expected_attempt=attempt,
    )
    after_queue(responder, payload, item, result)


def after_queue(responder: Responder, payload: Mapping[str, Any], item: Mapping[str, Any], result: QueueResult) -> None:
    status = result.status
    if status in ("queued", "awaiting_second"):
        responder.refresh(int(item["id"]))
        if status == "queued":
            responder.replies_queued()
    elif status == "duplicate":
        reply = result.reply or {}
        responder.ephemeral(
            payload,
            f"Already answered: a reply approved by "
            f"<@{cards.user_mention_id(str(reply.get('approved_by') or ''))}> "
            f"is {reply.get('status', 'queued')}. Nothing else was sent.",
        )
    elif status == "closed":
        responder.ephemeral(payload, "This alert was dismissed; nothing was sent.")
    elif status == "stale":
        # A replayed or long-delayed click from before a reply was tried: what it approved is not what
        # the card shows now, so it is refused and audited, never posted.
        responder.refuse(payload, "send", cards.item_key(item), STALE_REFUSAL)


def _refused(responder: Responder, payload: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """A card posted before a reply window closed still shows Send: say why nothing can go, queue nothing."""
    refusal = cards.send_refusal(item, utcnow())
    if refusal is None:
        return False
    responder.ephemeral(payload, f"Not sent: {refusal}")
    return True


# --- modals ------------------------------------------------------------------------------------------


def check_reply(item: Mapping[str, Any], text: str) -> str | None:
    """What is wrong with an edited reply for this item's platform, or None."""
    if not text:
        return "The reply is empty."
    return check_length(str(item["platform"]), bool(item.get("public")), text)


def check_length(platform: str, public: bool, text: str) -> str | None:
    """What is wrong with ``text``'s length on the platform, or None (Instagram DMs count UTF-8 bytes)."""
    limit, length = platforms.reply_limit(platform, public), platforms.measure(text, platform, public)
    if length > limit:
        unit = platforms.limit_unit(platform, public)
        return f"Too long for {cards.PLATFORM_WORDS.get(platform, platform)}: {length} of at most {limit} {unit}."
    return None


def submit_edit(responder: Responder, submission: Submission) -> SubmissionResult:
    item = submission.item
    text = str(submission.value(cards.REPLY_BLOCK, cards.REPLY_INPUT).get("value") or "").strip()
    problem = check_reply(item, text)
    if not_an_approver(responder, submission, item, "edit"):
        problem = "Only approvers can send replies."
    if problem:
        return {"response_action": "errors", "errors": {cards.REPLY_BLOCK: problem}}, None
    confirming = needs_confirmation(submission, text)
    if confirming is not None:
        return confirming, None

    def send_it() -> None:  # after the ack: Slack wants it within 3 s
        # Refusals and "already answered" notes go to the alert's channel, as for a button.
        channel = (alert_outbox.alert_message(responder.store, int(item["id"])) or {}).get("channel")
        queue(
            responder,
            {"user": submission.user, "channel": {"id": channel}},
            item,
            text,
            suggested=submission.private.get("suggested"),
            kind=submission.private.get("kind"),
            attempt=int(submission.private.get("attempt") or 0),
        )

    return None, send_it


def reach_of(item: Mapping[str, Any], text: str, suggested: str) -> list[str]:
    """The accounts an edited reply mentions and the links it adds that the suggestion did not have; the
    customer's own handle (the platform addresses them anyway) does not count."""
    own = {f"@{str(item.get('author_handle') or '').lower()}"}
    known = set(platforms.mentions_and_links(suggested)) | own
    return [entry for entry in platforms.mentions_and_links(text) if entry not in known]


def needs_confirmation(submission: Submission, text: str) -> dict[str, Any] | None:
    """The modal's ack when an edited reply must be confirmed first (it mentions other accounts or adds
    links), else None: the modal is updated to list them and ask; a submission that ticks the box for
    exactly those goes through. An edit after the confirmation that reaches further asks again."""
    reach = reach_of(submission.item, text, str(submission.private.get("suggested") or ""))
    if not reach:
        return None
    ticked = submission.value(cards.CONFIRM_BLOCK, cards.CONFIRM_INPUT).get("selected_options") or []
    confirmed = list(submission.private.get("confirm") or [])
    if confirmed and set(reach) <= set(confirmed):
        if any(option.get("value") == "yes" for option in ticked):
            return None
        return {"response_action": "errors", "errors": {cards.CONFIRM_BLOCK: "Tick the box to send it as it is."}}
    view = cards.confirm_reach(submission.payload.get("view") or {}, reach, submission.private)
    keep = ("type", "callback_id", "title", "submit", "close", "private_metadata", "blocks")
    view = {key: view[key] for key in keep if key in view}  # Slack's own fields (id, hash, state) stay out
    for block in view["blocks"]:  # keep what the approver wrote
        if block.get("block_id") == cards.REPLY_BLOCK:
            block["element"] = {**block["element"], "initial_value": text[:3000]}
    return {"response_action": "update", "view": view}


def not_an_approver(responder: Responder, submission: Submission, item: Mapping[str, Any], attempted: str) -> bool:
    """Whether the submitter of a reply is no approver; the attempt is then audited as ``action.refused``."""
    if responder.is_approver(submission.user_id):
        return False
    audit_log.append_audit(
        responder.store,
        "action.refused",
        actor_id=submission.user_id,
        actor_name=submission.user_name,
        item_key=cards.item_key(item),
        details={"attempted": attempted, "reason": "not an approver"},
    )
    return True


def submit_dismiss(responder: Responder, submission: Submission) -> SubmissionResult:
    if not_an_approver(responder, submission, submission.item, "dismiss"):
        return {"response_action": "errors", "errors": {cards.REASON_BLOCK: "Only approvers can dismiss."}}, None
    reason = (submission.value(cards.REASON_BLOCK, cards.REASON_INPUT).get("selected_option") or {}).get(
        "value"
    ) or "other"
    note = str(submission.value(cards.NOTE_BLOCK, cards.NOTE_INPUT).get("value") or "")
    item_id = int(submission.item["id"])

    def dismiss() -> None:
        if inbox.dismiss_item(
            responder.store,
            item_id,
            actor_id=submission.user_id,
            actor_name=submission.user_name,
            reason=reason,
            note=note,
        ):
            responder.refresh(item_id)

    return None, dismiss


def user_name(user: Mapping[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user.get("id") or "?")
