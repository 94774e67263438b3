"""Show original: an approver sees the customer's unmasked text in a private modal, and that is audited.

Alerts show card numbers, e-mail addresses, phone numbers and passwords masked (``cards.shown_text``):
a Slack channel is wide and kept for years. Someone answering may still need the original (to match an
order, to see what exactly was exposed), so the card of a masked item has a "Show original" button.
Only approvers may click it; the text opens in a modal, which only the person who clicked sees, never in
the channel or a thread; each reveal is an ``item.revealed`` audit entry naming who and what kinds of
data were shown (never the data itself). Registered on the click table like the card's other buttons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from socialwatch.alerts import cards
from socialwatch.alerts.actions import Actions, Click, Responder
from socialwatch.scoring import pii
from socialwatch.store import audit_log

REFUSAL = "only approvers can see the original text"
TEXT_MAX = 2900  # a section's text is at most 3000 characters


def register(actions: Actions) -> None:
    actions.action(cards.REVEAL, approvers_only=True, refusal=REFUSAL, attempted="reveal", card=True)(reveal)


def reveal(responder: Responder, click: Click) -> None:
    item = click.item
    original = str(item.get("text") or "")
    audit_log.append_audit(
        responder.store,
        "item.revealed",
        actor_id=click.user_id,
        actor_name=click.user_name,
        item_key=cards.item_key(item),
        details={"shown": list(pii.kinds(original)), "purged": not original},
    )
    responder.open_modal(click.payload, original_modal(item))


def original_modal(item: Mapping[str, Any]) -> dict[str, Any]:
    """The unmasked text, for the eyes of the approver who asked (a modal is never posted anywhere)."""
    original = str(item.get("text") or "")
    body = (
        "\n".join("> " + line for line in cards.safe(original, TEXT_MAX).split("\n"))
        if original
        else "_The original text is no longer stored (retention purged it)._"
    )
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Original text"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Only you see this. Please do not copy it into the channel: "
                        "this view is recorded in the audit log.",
                    }
                ],
            },
        ],
    }
