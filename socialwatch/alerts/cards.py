"""Alert messages: what a manager sees in Slack for one item, as Block Kit (pure functions).

Customer text is hostile by default: every piece of it is escaped (``&``, ``<``, ``>``) so
``<!channel>``, ``<@U…>`` or ``<http://evil|bank.com>`` in a post can never ping anyone or
disguise a link, stripped of control and bidi-override characters, and cut to Block Kit's
limits. The same item row always renders the same message, so the daemon can re-render an
alert after any change (sent, dismissed, assigned) from the database alone.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch.alerts import wording
from socialwatch.models import PLATFORM_NAMES, language_name, parse_time
from socialwatch.scoring import pii
from socialwatch.scoring.replies.platforms import window_refusal

EVENT_TYPE = "socialwatch_alert"

# Block Kit limits (api.slack.com/reference/block-kit): section text 3000, header 150,
# button text 75 and value 2000, context element text 3000, 50 blocks per message.
SECTION_MAX = 3000
POST_MAX = 2800  # the customer's text, leaving room for the quote markup inside one section
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
FALLBACK_MAX = 3000  # notification text; Slack truncates at 40k but 3k is what people can read
NAME_MAX = 80

# The header is plain_text, where :shortcodes: are not rendered: the emoji themselves.
PRIORITY_EMOJI = {"urgent": "🚨", "high": "⚠️", "normal": "💬", "low": "ℹ️"}
LABEL_EMOJI = {
    "negative": ":red_circle:",
    "neutral": ":white_circle:",
    "positive": ":large_green_circle:",
    "unscored": ":grey_question:",
}
KIND_WORDS = {"mention": "mention", "dm": "direct message", "comment": "comment", "post": "visitor post"}
PLATFORM_WORDS = PLATFORM_NAMES  # one place names the platforms (models)

# Actions (action_id); values carry the item id, and for Send the suggestion's index.
SEND = "sw_send"  # sw_send_0 .. sw_send_2
EDIT = "sw_edit"
ASSIGN = "sw_assign"
DISMISS = "sw_dismiss"
NOT_NEGATIVE = "sw_not_negative"  # with the other corrections in alerts/corrections.py
SECOND = "sw_second"  # second approval under the two-person rule
CANCEL = "sw_cancel"  # withdraw a reply still waiting for its second approval
RESOLVE = "sw_resolve"  # sw_resolve_sent | _resend | _drop: a person settles a reply in needs_check
PRIVATE = "sw_private"  # reply privately to a public comment (alerts/private_reply.py)
#: Where a public comment can be answered with one private message (Meta's private replies).
PRIVATE_REPLY_PLATFORMS = ("facebook", "instagram")
REVEAL = "sw_reveal"  # an approver sees the masked original in a private modal (alerts/reveal.py)
RESOLUTIONS = {"sent": "It is posted", "resend": "Not posted: send it", "drop": "Not posted: drop it"}
SAME_CUSTOMER = "sw_same_customer"  # link the author to another identity (alerts.customer_links)
EDIT_VIEW = "sw_edit_view"
DISMISS_VIEW = "sw_dismiss_view"
REPLY_BLOCK, REPLY_INPUT = "reply", "text"
CONFIRM_BLOCK, CONFIRM_INPUT = "confirm", "checked"  # the edited reply's mentions and links, confirmed
REASON_BLOCK, REASON_INPUT = "reason", "choice"
NOTE_BLOCK, NOTE_INPUT = "note", "text"
DISMISS_REASONS = {
    "spam": "Spam or bot",
    "handled": "Already handled elsewhere",
    "not_for_us": "Not for us",
    "no_reply": "Needs no reply",
    "other": "Other",
}

_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"  # C0/C1 controls (keep \t \n)
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"  # zero-width, bidi overrides and isolates
)


def clean(text: str) -> str:
    """Customer text made safe to show: no controls, no bidi overrides, no zero-width tricks."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFC", text or ""))


def escape(text: str) -> str:
    """Slack's own rule: escape exactly these three, and no markup can come through."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, on a character boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut_at = limit - 1
    # Never split an escape sequence like "&amp;" in half.
    amp = text.rfind("&", max(0, cut_at - 5), cut_at)
    if amp != -1 and ";" not in text[amp:cut_at]:
        cut_at = amp
    return text[:cut_at] + "…"


def safe(text: str, limit: int) -> str:
    return cut(escape(text), limit)


def one_line(text: str, limit: int) -> str:
    return safe(" ".join(clean(text).split()), limit)


# Slack's mrkdwn has no escape for its emphasis marks: a name like ``Bob* <- bold ends here`` would close
# the bold author line and style what follows. Look-alike characters keep the name readable and inert.
_MRKDWN_MARKS = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"})


def inert(text: str) -> str:
    """Already-escaped mrkdwn with Slack's emphasis marks (``* _ ~ ` ``) replaced by look-alikes, so a
    customer's name can sit inside ``*...*`` or ``_..._`` and never end it."""
    return text.translate(_MRKDWN_MARKS)


def name_line(text: str, limit: int) -> str:
    """A display name or handle for mrkdwn: one line, escaped, cut and inert."""
    return inert(one_line(text, limit))


@dataclass(frozen=True)
class AlertState:
    """What happened to the alert since it was posted; drives the status line and the buttons."""

    reply: Mapping[str, Any] | None = None  # the active reply_outbox row, if any
    assigned_to: str | None = None
    dismissed_by: str | None = None
    dismissed_reason: str | None = None
    corrections: Mapping[str, Any] | None = None  # the row of corrections (alerts/corrections.py), when open
    correction_lines: tuple[str, ...] = ()  # who corrected what
    alerts_only: bool = False
    now: datetime | None = None  # when it is rendered: a reply window may have closed since the alert
    attempts: int = 0  # manager replies queued for the item so far (failed and withdrawn ones too)


def shown_text(item: Mapping[str, Any]) -> str:
    """The customer's text as Slack may show it: card numbers, e-mail addresses, phones and passwords
    masked (a channel is wide and kept for years; an approver can reveal the original, audited)."""
    return pii.mask(item.get("text") or "")


def has_masked(item: Mapping[str, Any]) -> bool:
    return shown_text(item) != (item.get("text") or "")


def _author_line(item: Mapping[str, Any], history: Mapping[str, Any] | None) -> str:
    if wording.anonymous(item):
        platform = PLATFORM_WORDS.get(item["platform"], str(item["platform"]))
        return f"someone {platform} does not name · no earlier contacts can be linked"
    name = name_line(item.get("author_name") or "", NAME_MAX)
    handle = name_line(item.get("author_handle") or "", NAME_MAX)
    who = " ".join(p for p in (f"*{name}*" if name else "", f"@{handle}" if handle else "") if p) or "someone"
    parts = [who]
    followers = item.get("author_followers")
    if isinstance(followers, int):
        parts.append(f"{followers:,} followers")
    if history:  # the customer's earlier contacts on every channel (alerts.customer_links.history_words)
        parts.extend(str(words) for words in history.get("words") or ())
    return " · ".join(parts)


def _due_text(due: str | None) -> str | None:
    when = parse_time(due) if due else None
    if when is None:
        return None
    # Slack renders <!date^…> in each reader's own time zone; the fallback is UTC.
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{when.strftime('%Y-%m-%d %H:%M UTC')}>"


def suggestions_of(item: Mapping[str, Any]) -> list[dict[str, str]]:
    try:
        value = json.loads(item.get("suggestions") or "[]")
    except ValueError:
        return []
    return [s for s in value if isinstance(s, dict) and isinstance(s.get("text"), str)]


def send_refusal(item: Mapping[str, Any], now: datetime | None) -> str | None:
    """Why the platform would refuse a reply to this item (then no Send is offered): a rule the suggestions
    carry (X's mention rule), or the reply window that has closed by ``now``."""
    for suggestion in suggestions_of(item):
        if isinstance(suggestion.get("refused"), str):
            return str(suggestion["refused"])
    if now is None:
        return None
    public = bool(item.get("public")) and item.get("kind") != "dm"
    return window_refusal(str(item["platform"]), public, parse_time(item.get("created_at")), now)


def item_key(item: Mapping[str, Any]) -> str:
    return f"{item['platform']}:{item['native_id']}"


def fallback_text(item: Mapping[str, Any]) -> str:
    """The notification text (shown in pushes and by screen readers): escaped like the blocks."""
    head = (
        f"[{str(item.get('priority') or '').upper()}] {PLATFORM_WORDS.get(item['platform'], item['platform'])} "
        f"{KIND_WORDS.get(item['kind'], item['kind'])}"
    )
    author = one_line(item.get("author_name") or item.get("author_handle") or "", NAME_MAX) or "someone"
    said = " ".join(part for part in (shown_text(item), wording.attachments_text(item)) if part)
    return cut(f"{head} from {author}: {one_line(said, FALLBACK_MAX)}", FALLBACK_MAX)


def render(
    item: Mapping[str, Any], *, history: Mapping[str, Any] | None = None, state: AlertState = AlertState()
) -> dict[str, Any]:
    """The full message for ``item`` (an ``items`` row): ``{"text", "blocks", "metadata"}``."""
    priority = str(item.get("priority") or "normal")
    platform = PLATFORM_WORDS.get(item["platform"], str(item["platform"]))
    kind = KIND_WORDS.get(item["kind"], str(item["kind"]))
    visibility = "public" if item.get("public") else "private"
    header = cut(
        f"{priority.upper()} · {platform} {kind} ({visibility}) · {one_line(item.get('account') or '', 40)}", HEADER_MAX
    )
    body = safe(shown_text(item), POST_MAX)
    quoted = "\n".join("> " + line if line else ">" for line in body.split("\n")) if body.strip() else ""
    sent = _attachment_lines(item)
    quoted = "\n".join(part for part in (quoted, sent) if part) or "_(nothing to show)_"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{PRIORITY_EMOJI.get(priority, '💬')} {header}"[:HEADER_MAX],
                "emoji": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(_author_line(item, history), SECTION_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(quoted, SECTION_MAX)}},
    ]
    # In a manager's words; the scores are in the item row and the audit (alerts/wording.py).
    facts = [escape(part) for part in wording.facts(item)]
    facts[0] = f"{LABEL_EMOJI.get(str(item.get('label')), '')} {facts[0]}".strip()
    due = _due_text(item.get("sla_due_at"))
    if due:
        facts.append(f"reply due {due}")
    url = item.get("url")
    if isinstance(url, str) and url.startswith("https://"):
        facts.append(link(url, "open post"))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(" · ".join(facts), SECTION_MAX)}]})
    reasons = wording.why(item)
    if reasons:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": cut("why: " + escape("; ".join(reasons)), SECTION_MAX)}],
            }
        )

    closed = _status_blocks(item, state, blocks)
    if not closed:
        blocks.extend(_suggestion_blocks(item, state))
        blocks.append(_actions(item, state))
        if state.corrections:
            blocks.append(dict(state.corrections))
    return {
        "text": fallback_text(item),
        "blocks": blocks[:50],
        "metadata": {
            "event_type": EVENT_TYPE,
            "event_payload": {"item_key": item_key(item), "item_id": int(item["id"])},
        },
    }


def link(url: Any, label: str) -> str:
    """``<url|label>`` for an https URL (its delimiters encoded, so a stored URL cannot break out of
    the markup), else ``label`` alone: a link is never made from anything else. ``label`` is mrkdwn
    the caller made safe."""
    if not (isinstance(url, str) and url.startswith("https://")):
        return label
    safe_url = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe_url}|{label}>"


def _attachment_lines(item: Mapping[str, Any]) -> str:
    """ ":paperclip: sent an image (image/jpeg) · open" per attachment; a link only to an https URL."""
    lines = []
    for attachment in wording.attachments_of(item)[:5]:
        line = f":paperclip: sent {escape(attachment.describe())}"
        if isinstance(attachment.url, str) and attachment.url.startswith("https://"):
            line += " · " + link(attachment.url, "open")
        lines.append(line)
    return "\n".join(lines)


def _suggestion_blocks(item: Mapping[str, Any], state: AlertState) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    refusal = send_refusal(item, state.now)
    for index, suggestion in enumerate(suggestions_of(item)[:3]):
        label = suggestion.get("kind", "reply").replace("_", " ")
        lang = suggestion.get("lang")
        if isinstance(lang, str) and lang:
            label += f" · in {language_name(lang)}"
        block: dict[str, Any] = {
            "type": "section",
            "block_id": f"suggestion_{index}",
            "text": {"type": "mrkdwn", "text": cut(f"*{escape(label)}*\n{escape(suggestion['text'])}", SECTION_MAX)},
        }
        if not state.alerts_only and not state.reply and refusal is None:
            block["accessory"] = button("Send", f"{SEND}_{index}", reply_value(item, state, index), "primary")
        blocks.append(block)
        english = suggestion.get("english")
        if isinstance(english, str) and english:
            # The same template in English, beside it: what the manager would be sending.
            meaning = cut("_English:_ " + escape(english), SECTION_MAX)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": meaning}]})
    if refusal and blocks:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": cut(":no_entry: " + escape(refusal), SECTION_MAX)}],
            }
        )
    return blocks


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text[:BUTTON_TEXT_MAX]},
    }
    if style:
        button["style"] = style
    return button


def _actions(item: Mapping[str, Any], state: AlertState) -> dict[str, Any]:
    value = str(item["id"])
    elements = []
    reply = state.reply
    if reply and reply.get("status") == "awaiting_second":
        elements.append(button("Approve (second)", SECOND, str(reply["id"]), "primary"))
        elements.append(button("Withdraw", CANCEL, str(reply["id"])))
    elif reply and reply.get("status") == "needs_check":
        for outcome, label in RESOLUTIONS.items():
            elements.append(
                button(label, f"{RESOLVE}_{outcome}", str(reply["id"]), "primary" if outcome == "sent" else None)
            )
    elif not state.alerts_only and not reply and send_refusal(item, state.now) is None:
        elements.append(button("Edit & send", EDIT, reply_value(item, state)))
        if item.get("platform") in PRIVATE_REPLY_PLATFORMS and item.get("kind") == "comment":
            elements.append(button("Reply privately", PRIVATE, reply_value(item, state)))
    if not state.assigned_to:
        elements.append(button("Assign to me", ASSIGN, value))
    elements.append(button("Dismiss", DISMISS, value, "danger"))
    if has_masked(item):
        elements.append(button("Show original", REVEAL, value))
    if not state.alerts_only:
        elements.append(button("Same customer as…", SAME_CUSTOMER, value))
    return {"type": "actions", "block_id": "alert_actions", "elements": elements}


def _status_blocks(item: Mapping[str, Any], state: AlertState, blocks: list[dict[str, Any]]) -> bool:
    """Appends the status lines; True when the alert is closed (no more buttons)."""
    lines: list[str] = []
    closed = False
    reply = state.reply
    if state.assigned_to:
        lines.append(f":bust_in_silhouette: assigned to <@{user_mention_id(state.assigned_to)}>")
    lines.extend(state.correction_lines)
    if reply:
        status = reply.get("status")
        approver = user_mention_id(str(reply.get("approved_by") or ""))
        text = one_line(str(reply.get("text") or ""), 500)
        if status == "sent":
            when = _due_text(reply.get("sent_at")) or ""
            private = bool(reply.get("private_reply"))
            url = None if private else reply_url(item, reply.get("platform_reply_id"))
            lines.append(
                f":white_check_mark: <@{approver}> sent {'a private reply ' if private else ''}{when}"
                + (f" · {link(url, 'view reply')}" if url else "")
                + f"\n>{text}"
            )
            closed = True
        elif status == "awaiting_second":
            lines.append(
                f":hourglass: <@{approver}> approved; a second approver must confirm before it is sent\n>{text}"
            )
        elif status in ("approved", "sending"):
            lines.append(f":outbox_tray: sending reply approved by <@{approver}>\n>{text}")
            closed = True
        elif status == "reconciling":
            lines.append(
                f":mag: reply approved by <@{approver}> may be posted already (no clear answer came back): "
                f"checking the platform; nothing is resent meanwhile\n>{text}"
            )
            closed = True
        elif status == "needs_check":
            reason = one_line(str(reply.get("needs_check_reason") or ""), 300)
            lines.append(
                ":warning: *needs a manual check*: we could not confirm whether this reply was posted"
                + (f" ({reason})" if reason else "")
                + "; nothing is resent until someone checks the post "
                f"and says what they found.\n>{text}"
            )
        elif status == "failed":
            error = one_line(str(reply.get("last_error") or "refused by the platform"), 300)
            lines.append(f":x: reply by <@{approver}> was not posted: {error}")
    if state.dismissed_by:
        reason = DISMISS_REASONS.get(state.dismissed_reason or "", one_line(state.dismissed_reason or "", 200))
        lines.append(
            f":no_entry_sign: dismissed by <@{user_mention_id(state.dismissed_by)}>" + (f": {reason}" if reason else "")
        )
        closed = True
    if lines:
        blocks.append(
            {
                "type": "section",
                "block_id": "status",
                "text": {"type": "mrkdwn", "text": cut("\n".join(lines), SECTION_MAX)},
            }
        )
    return closed


def user_mention_id(value: str) -> str:
    # Only our own stored Slack ids reach <@…>; anything else is neutralised.
    return value if re.fullmatch(r"[UW][A-Z0-9]{2,20}", value or "") else "unknown"


def reply_url(item: Mapping[str, Any], platform_reply_id: Any) -> str | None:
    if not platform_reply_id:
        return None
    if item["platform"] == "x" and item["kind"] != "dm":
        return f"https://x.com/i/web/status/{platform_reply_id}"
    if item["platform"] == "facebook" and item["kind"] != "dm":
        return f"https://www.facebook.com/{platform_reply_id}"
    return None


# --- modals -------------------------------------------------------------------------------------


def modal(callback_id: str, title: str, submit: str, private: Mapping[str, Any], blocks: list[Any]) -> dict[str, Any]:
    """A modal that submits back to us: its callback, title, submit label, Cancel, and what we keep in it."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(dict(private)),
        "blocks": blocks,
    }


def edit_modal(
    item: Mapping[str, Any], *, text: str, limit: int, private: Mapping[str, Any], unit: str = "characters"
) -> dict[str, Any]:
    """Edit & send: the reply prefilled; the limit is shown and re-checked on submit (X counts
    characters its own way, so Slack's max_length is only a first guard)."""
    platform = PLATFORM_WORDS.get(item["platform"], str(item["platform"]))
    blocks: list[Any] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": cut(
                        f"Replying on {platform} to "
                        f"{name_line(item.get('author_name') or item.get('author_handle') or '', 80)}:"
                        f" _{inert(one_line(shown_text(item) or wording.attachments_text(item), 400))}_",
                        SECTION_MAX,
                    ),
                }
            ],
        },
        {
            "type": "input",
            "block_id": REPLY_BLOCK,
            "label": {"type": "plain_text", "text": f"Reply (at most {limit} {unit} on {platform})"},
            "element": {
                "type": "plain_text_input",
                "action_id": REPLY_INPUT,
                "multiline": True,
                "initial_value": text[:3000],
                "max_length": min(limit, 3000),
            },
        },
    ]
    return modal(EDIT_VIEW, "Edit & send", "Send", private, blocks)


def confirm_reach(view: Mapping[str, Any], reach: list[str], private: Mapping[str, Any]) -> dict[str, Any]:
    """The Edit & send modal again, asking to confirm the accounts the edited reply mentions and the links
    it adds (``reach``) before anything is posted: a second look at what reaches beyond the customer."""
    listed = ", ".join(f"`{inert(one_line(entry, 200))}`" for entry in reach[:10]) + (" …" if len(reach) > 10 else "")
    blocks = [b for b in view.get("blocks") or [] if b.get("block_id") not in ("reach", CONFIRM_BLOCK)]
    at = next((i for i, b in enumerate(blocks) if b.get("block_id") == REPLY_BLOCK), len(blocks))
    blocks[at:at] = [
        {
            "type": "section",
            "block_id": "reach",
            "text": {
                "type": "mrkdwn",
                "text": cut(
                    f":warning: The edited reply mentions other accounts or adds links: {listed}. "
                    "They are posted as written, for everyone the reply reaches.",
                    SECTION_MAX,
                ),
            },
        },
        {
            "type": "input",
            "block_id": CONFIRM_BLOCK,
            "label": {"type": "plain_text", "text": "Confirm"},
            "element": {
                "type": "checkboxes",
                "action_id": CONFIRM_INPUT,
                "options": [
                    {"text": {"type": "plain_text", "text": "Send it with these mentions and links"}, "value": "yes"}
                ],
            },
        },
    ]
    return {
        **view,
        "title": {"type": "plain_text", "text": "Confirm & send"},
        "private_metadata": json.dumps({**private, "confirm": reach}),
        "blocks": blocks,
    }


def dismiss_modal(item: Mapping[str, Any], private: Mapping[str, Any]) -> dict[str, Any]:
    blocks: list[Any] = [
        {
            "type": "input",
            "block_id": REASON_BLOCK,
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {
                "type": "static_select",
                "action_id": REASON_INPUT,
                "options": [
                    {"text": {"type": "plain_text", "text": label}, "value": value}
                    for value, label in DISMISS_REASONS.items()
                ],
            },
        },
        {
            "type": "input",
            "block_id": NOTE_BLOCK,
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": NOTE_INPUT, "max_length": 500},
        },
    ]
    return modal(DISMISS_VIEW, "Dismiss alert", "Dismiss", private, blocks)


def followup_text(item: Mapping[str, Any]) -> str:
    """A follow-up from the same author or conversation, posted in the alert's thread."""
    return cut(f"Follow-up: {fallback_text(item)}", FALLBACK_MAX)


def ops_text(event: str, details: Mapping[str, Any]) -> str:
    """One line for the ops channel (source unhealthy or silent). Details are ours, still escaped."""
    source = one_line(str(details.get("source", "?")), 120)
    state = one_line(str(details.get("state", event)), 40)
    detail = one_line(str(details.get("detail") or ""), 600)
    return f":rotating_light: socialwatch: source *{source}* is {state}: {detail}"


def parse_choice(value: str) -> tuple[int, str]:
    """A select option's value: ``"<item id>:<choice>"`` (ValueError when it is not)."""
    head, sep, tail = (value or "").partition(":")
    if not sep or not tail:
        raise ValueError(f"not <item id>:<choice>: {value!r}")
    return int(head), tail


def parse_value(value: str) -> tuple[int, int | None, int | None]:
    """A button value: ``"<id>"``, ``"<id>:<suggestion index>"``, either with ``"@<attempt>"`` (see
    ``reply_value``): (id, index or None, attempt or None)."""
    body, at, version = (value or "").partition("@")
    head, _, tail = body.partition(":")
    return int(head), (int(tail) if tail else None), (int(version) if at else None)


def reply_value(item: Mapping[str, Any], state: AlertState, index: int | None = None) -> str:
    """The value of a button that queues a reply: the item, the suggestion and the reply attempt the card
    was rendered for (``AlertState.attempts``), so a click replayed from an older card is told apart."""
    return f"{item['id']}{'' if index is None else f':{index}'}@{state.attempts}"
