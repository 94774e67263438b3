"""The alert card's "Same customer as…" (a manager links the author to their identity on another channel)
and what the card says of the customer's history across channels.

Registered on the click table (``register``). The button opens a modal offering the identities that
evidence suggests (``store.customers``: the same e-mail address, phone or order number, a handle named
in a message) and a field for any other identity. The submission is checked before its ack, so an
unknown identity, the author itself or another brand's customer is said in the modal and nothing
changes; the link is one store transaction with its audit entry, and the customer's alerts are
re-rendered with the history of every identity. Only approvers link: a wrong link would also widen
what a later erasure takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from socialwatch.alerts import cards
from socialwatch.alerts.actions import Actions, Click, Responder, Submission, SubmissionResult
from socialwatch.models import parse_time
from socialwatch.store import alert_outbox, customers

LINK_VIEW = "sw_same_customer_view"
PICK_BLOCK, PICK_INPUT = "candidate", "choice"
OTHER_BLOCK, OTHER_INPUT = "other", "key"
REFUSAL = "only approvers can link customers"
REFRESH_AT_MOST = 10  # alerts of the customer re-rendered after a link (the newest)
OPTION_TEXT_MAX = 75


def register(actions: Actions) -> None:
    """Put "Same customer as…" and its modal on ``actions``."""
    actions.action(cards.SAME_CUSTOMER, approvers_only=True, refusal=REFUSAL, attempted="link_customer", card=True)(
        open_link
    )
    actions.view(LINK_VIEW)(submit_link)


def open_link(responder: Responder, click: Click) -> None:
    item = click.item
    brand_of = responder.config.customers.brand_of
    key = str(item["author_key"])
    suggested = customers.suggestions(responder.store, key, brand_of)
    shown = [(s.key, f"{_who(responder, s.key)} ({s.why})") for s in suggested[:10]]
    linked = [i.display for i in customers.identities(responder.store, key)[1:]]
    responder.open_modal(click.payload, link_modal(item, shown, linked))


def _who(responder: Responder, key: str) -> str:
    found = customers.identities(responder.store, key)
    return found[0].display if found else key


def link_modal(item: Mapping[str, Any], suggested: Sequence[tuple[str, str]], linked: Sequence[str]) -> dict[str, Any]:
    """The modal: who the author is, whom they are linked to already, the suggestions, a free field."""
    platform = cards.PLATFORM_WORDS.get(item["platform"], str(item["platform"]))
    who = cards.name_line(item.get("author_name") or item.get("author_handle") or str(item["author_key"]), 80)
    intro = f"*{platform} {who}* is the same person as another identity: their histories become one."
    if linked:
        intro += f"\nAlready linked: {cards.escape(', '.join(linked))}."
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": cards.cut(intro, 3000)}}]
    if suggested:
        blocks.append(
            {
                "type": "input",
                "block_id": PICK_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Suggested (matching details)"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": PICK_INPUT,
                    "options": [
                        {"text": {"type": "plain_text", "text": cards.cut(label, OPTION_TEXT_MAX)}, "value": key}
                        for key, label in suggested
                    ],
                },
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": OTHER_BLOCK,
            "optional": bool(suggested),
            "label": {"type": "plain_text", "text": "Or the other identity"},
            "hint": {"type": "plain_text", "text": "x:@handle, x:<user id>, facebook:<id>, instagram:@name"},
            "element": {"type": "plain_text_input", "action_id": OTHER_INPUT, "max_length": 160},
        }
    )
    return cards.modal(LINK_VIEW, "Same customer as…", "Link", {"item_id": item["id"]}, blocks)


def submit_link(responder: Responder, submission: Submission) -> SubmissionResult:
    """Link before the ack, so that any reason not to is shown in the modal; re-render after it."""
    item = submission.item
    picked = (submission.value(PICK_BLOCK, PICK_INPUT).get("selected_option") or {}).get("value")
    typed = str(submission.value(OTHER_BLOCK, OTHER_INPUT).get("value") or "").strip()
    if not responder.is_approver(submission.user_id):  # approvers changed since the modal opened
        responder.refuse(submission.payload, "link_customer", cards.item_key(item), "not an approver")
        return _error("Only approvers can link customers."), None
    if picked and typed:
        return _error("Choose a suggestion or type an identity, not both."), None
    other = str(picked or typed)
    if not other:
        return _error("Choose a suggestion or type the other identity."), None
    evidence = "entered by hand"
    if picked:
        found = customers.suggestions(responder.store, str(item["author_key"]), responder.config.customers.brand_of)
        reasons = next((s.reasons for s in found if s.key == picked), ())
        evidence = "suggested: " + ",".join(reasons) if reasons else "suggested"
    try:
        other_key = customers.resolve(responder.store, other)
        result = customers.link(
            responder.store,
            str(item["author_key"]),
            other_key,
            actor_id=submission.user_id,
            actor_name=submission.user_name,
            brand_of=responder.config.customers.brand_of,
            evidence=evidence,
        )
    except customers.CustomerError as exc:
        return _error(str(exc)), None

    def after() -> None:  # after the ack: Slack wants it within 3 s
        for alerted in _alerts_of(responder, result.identities):
            responder.refresh(alerted)
        channel = (alert_outbox.alert_message(responder.store, int(item["id"])) or {}).get("channel")
        names = ", ".join(_who(responder, key) for key in result.identities)
        note = (
            f"Linked: {names} are one customer now; their alerts count every channel. "
            f"Undo: `socialwatch customers unlink {cards.escape(other_key)}`."
            if result.changed
            else f"{names} were one customer already; nothing changed."
        )
        responder.ephemeral({"user": submission.user, "channel": {"id": channel}}, cards.cut(note, 3000))

    return None, after


def _alerts_of(responder: Responder, keys: Sequence[str]) -> list[int]:
    """The customer's newest items with an alert in Slack: their author lines change with the link."""
    rows = customers.items_of(responder.store, keys, limit=50)
    posted = [int(r["id"]) for r in rows if alert_outbox.alert_message(responder.store, int(r["id"]))]
    return posted[:REFRESH_AT_MOST]


def _error(message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {OTHER_BLOCK: cards.cut(message, 300)}}


def history_words(item: Mapping[str, Any], history: Mapping[str, Any]) -> list[str]:
    """What the alert's author line says of the customer's past (``store.customers.contacts_before``):
    "3 earlier contacts: X 2, Facebook 1; last negative on X 2 days ago, answered", the negatives, and
    up to two suggested identities. Counted from the item's own time, so a re-render says the same;
    mrkdwn-safe."""
    words = [_contacts(item, history)]
    if int(history.get("negative_count") or 0) > 1:
        words.append(f"{history['negative_count']} negative")
    for other in list(history.get("suggested") or [])[:2]:
        words.append(f"may also be {cards.one_line(str(other['who']), cards.NAME_MAX)} ({cards.escape(other['why'])})")
    return words


def _contacts(item: Mapping[str, Any], history: Mapping[str, Any]) -> str:
    earlier = int(history.get("contacts") or 0) - 1
    if earlier <= 0:
        return "first contact"
    words = f"{earlier} earlier contact{'s' if earlier != 1 else ''}"
    by_platform: Mapping[str, int] = history.get("by_platform") or {}
    name = cards.PLATFORM_WORDS.get
    if len(by_platform) > 1:
        words += ": " + ", ".join(f"{name(p, p)} {n}" for p, n in by_platform.items())
    last: Mapping[str, Any] = history.get("last") or {}
    if not last.get("label"):
        return words
    said = f"last {last['label']}"
    if last.get("platform") and (len(by_platform) > 1 or last["platform"] != item.get("platform")):
        said += f" on {name(last['platform'], last['platform'])}"
    then, now = parse_time(last.get("created_at")), parse_time(item.get("created_at"))
    if then and now:
        said += f" {_ago((now - then).total_seconds())}"
    if last.get("first_reply_at") or last.get("status") == "replied":
        said += ", answered"
    elif last.get("status") == "dismissed":
        said += ", dismissed"
    elif last.get("status") in ("open", "alerted"):
        said += ", not answered"
    return words + ("; " if len(by_platform) > 1 else ", ") + said


def _ago(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just before"


def redacted_message(erased_at: str | None) -> tuple[str, list[dict[str, Any]]]:
    """What an alert (or a follow-up suggestion) of a forgotten customer becomes in Slack: no text, no
    name, no link, no button; when and that the audit log keeps only hashes."""
    moment = parse_time(erased_at)
    when = f"on <!date^{int(moment.timestamp())}^{{date_short_pretty}}|{moment.strftime('%Y-%m-%d')}>" if moment else ""
    text = "Erased at the customer's request"
    body = (
        f":wastebasket: *{text}* {when}. What they wrote, their name and links were removed from socialwatch "
        "(`socialwatch customers forget`); the audit log keeps only salted hashes."
    )
    return text, [{"type": "section", "block_id": "erased", "text": {"type": "mrkdwn", "text": body}}]
