"""Managers' corrections on the alert card: "Needs a reply", "Complaint", "Not negative" and the category
select, what the card shows of them, and their handlers on the click table.

Each click is one correction in the store (``store.corrections``: a label for training, audited) and the
alert is re-rendered with who corrected what. Open to everyone who sees the alert, as Assign is: a
correction asks for more care or tells the model something, it never answers or closes anything. A
repeated click changes nothing and says so; an item that is gone or a category that no longer exists
is refused in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from socialwatch.alerts import cards
from socialwatch.alerts.actions import Actions, Click, Responder
from socialwatch.models import utcnow
from socialwatch.scoring.triage import sla_due
from socialwatch.store import corrections as store_corrections
from socialwatch.store import customers
from socialwatch.store.corrections import Correction

NEEDS_REPLY = "sw_needs_reply"
COMPLAINT = "sw_complaint"
CATEGORY = "sw_category"  # a static_select; each option's value is "<item id>:<category>"
BLOCK_ID = "alert_corrections"
OPTIONS_MAX = 100  # Block Kit's limit for a static_select
OPTION_TEXT_MAX = 75

#: How each correction reads on the card, after "<@who> ".
_SAID = {
    ("label", "negative"): "marked it a *complaint*",
    ("label", "not_negative"): "marked it *not negative*",
    ("needs_reply", "true"): "said it *needs a reply*",
    ("needs_reply", "false"): "said it *needs no reply*",
}


def register(actions: Actions) -> None:
    """Put the correction buttons and the category select on ``actions``."""
    actions.action(cards.NOT_NEGATIVE, card=True)(not_negative)
    actions.action(COMPLAINT, card=True)(complaint)
    actions.action(NEEDS_REPLY, card=True)(needs_reply)
    actions.action(CATEGORY, choice=True, card=True)(category)


# --- what the card shows -----------------------------------------------------------------------------


def effective(item: Mapping[str, Any], latest: Mapping[str, Correction], field: str) -> Any:
    """The item's value of ``field`` once the latest correction is taken into account."""
    correction = latest.get(field)
    if field == "label":
        return correction.new if correction else item.get("label")
    if field == "needs_reply":
        return correction.new == "true" if correction else bool(item.get("needs_reply"))
    return correction.new if correction else item.get("category")


def block(item: Mapping[str, Any], latest: Mapping[str, Correction], categories: Sequence[str]) -> dict[str, Any]:
    """The card's row of corrections, each shown only where it changes something."""
    value = str(item["id"])
    elements: list[dict[str, Any]] = []
    if not effective(item, latest, "needs_reply"):
        elements.append(cards.button("Needs a reply", NEEDS_REPLY, value, "primary"))
    if effective(item, latest, "label") == "negative":
        elements.append(cards.button("Not negative", cards.NOT_NEGATIVE, value))
    else:
        elements.append(cards.button("Complaint", COMPLAINT, value))
    options = [
        {
            "text": {"type": "plain_text", "text": cards.cut(name.replace("_", " "), OPTION_TEXT_MAX)},
            "value": f"{value}:{name}",
        }
        for name in categories[:OPTIONS_MAX]
    ]
    if options:
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": CATEGORY,
            "placeholder": {"type": "plain_text", "text": "Correct the category"},
            "options": options,
        }
        current = next((o for o in options if o["value"] == f"{value}:{effective(item, latest, 'category')}"), None)
        if current is not None:
            select["initial_option"] = current
        elements.append(select)
    return {"type": "actions", "block_id": BLOCK_ID, "elements": elements}


def lines(latest: Mapping[str, Correction]) -> tuple[str, ...]:
    """One status line per corrected field: who said what."""
    out = []
    for field in store_corrections.FIELDS:
        correction = latest.get(field)
        if correction is None:
            continue
        who = f"<@{cards.user_mention_id(correction.corrected_by)}>"
        said = _SAID.get((field, correction.new))
        if said is None:  # a category
            was = f" (was {cards.one_line(correction.old, 60)})" if correction.old else ""
            said = f"set the category to *{cards.one_line(correction.new, 60)}*{was}"
        out.append(f":memo: {who} {said}")
    return tuple(out)


# --- clicks ------------------------------------------------------------------------------------------


def not_negative(responder: Responder, click: Click) -> None:
    _correct(responder, click, "label", "not_negative", "marked not negative")


def complaint(responder: Responder, click: Click) -> None:
    _correct(responder, click, "label", "negative", "marked a complaint")


def needs_reply(responder: Responder, click: Click) -> None:
    """The item joins the queue: due under the SLA counted from now (when a person saw that it needs us),
    at least at normal priority; the response-time reports still count from the customer's post."""
    item, now = click.item, utcnow()
    priority = store_corrections.raised_priority(item.get("priority"))
    due = sla_due(now, priority, responder.config.sla, str(item["platform"]), str(item["kind"]))
    _correct(responder, click, "needs_reply", "true", "marked as needing a reply", due_at=due)


def category(responder: Responder, click: Click) -> None:
    known = responder.config.triage.category_names()
    if click.choice not in known:
        responder.refuse(
            click.payload,
            "category",
            cards.item_key(click.item),
            f"there is no category {cards.one_line(click.choice, 60)!s} any more; choose one of: {', '.join(known)}",
        )
        return
    _correct(responder, click, "category", click.choice, f"in category {click.choice}")


def _correct(responder: Responder, click: Click, field: str, new: str, done: str, *, due_at: Any = None) -> None:
    item_id = int(click.item["id"])
    if str(click.item.get("author_key") or "").startswith(f"{customers.FORGOTTEN}:"):
        responder.ephemeral(click.payload, "This customer was forgotten on request: nothing about them is kept.")
        return
    outcome = store_corrections.correct(
        responder.store, item_id, field, new, actor_id=click.user_id, actor_name=click.user_name, due_at=due_at
    )
    if outcome.status == "recorded":
        responder.refresh(item_id)
    elif outcome.status == "unchanged":
        earlier = outcome.correction
        who = f" by <@{cards.user_mention_id(earlier.corrected_by)}>" if earlier else " by triage"
        responder.ephemeral(click.payload, f"Already {done}{who}: nothing changed.")
    else:
        responder.ephemeral(click.payload, "This alert is no longer in the database.")
