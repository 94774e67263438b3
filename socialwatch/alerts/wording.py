"""How an alert reads to a manager: why it needs them, in their words, and the facts line under the quote.

Triage writes its reasons for the record ("complaint signals 0.85: charge: 'charged twice'", "negative
from complaint signals (VADER alone: +0.00)"): they stay in the item row and the audit, scores and all.
The card says the same in a manager's words ("complains about: charged twice", "an unhappy customer in a
public mention") and never shows a score. A reason this table does not know is shown with its numbers
taken out, so nothing triage says is lost on the way. Pure functions over an ``items`` row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from socialwatch.models import ANONYMOUS, LANGUAGE_NAMES, Attachment, describe_attachments

LABEL_WORDS = {"negative": "unhappy", "neutral": "neutral", "positive": "happy", "unscored": "mood not scored"}
CATEGORY_WORDS = {
    "billing": "billing",
    "outage": "outage",
    "delivery": "delivery",
    "account_security": "account security",
    "exposed_pii": "personal data in public",
    "question": "question",
    "praise": "praise",
    "abuse": "abuse",
    "spam": "spam",
    "other": "",
}
PII_WORDS = {
    "card": "a card number",
    "iban": "a bank account number",
    "email": "an e-mail address",
    "phone": "a phone number",
    "password": "a password or code",
}
MAX_REASONS = 5


def language_name(code: Any) -> str | None:
    """ "Swahili" for "sw"; None when unknown to us or undetermined."""
    text = str(code or "").lower().split("-")[0]
    if not text or text in ("und", "zxx"):
        return None
    return LANGUAGE_NAMES.get(text, text)


def _quoted(evidence: str) -> str:
    phrases = re.findall(r"'([^']+)'", evidence)
    return ", ".join(dict.fromkeys(phrases)) if phrases else evidence


def _pii(kinds: str, where: str) -> str:
    named = [PII_WORDS.get(kind.strip(), kind.strip()) for kind in kinds.split(",") if kind.strip()]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return (
        f"they posted {listed} in a {where}: ask them to delete it and continue in private "
        "(hidden in this alert; an approver can show the original)"
    )


def _unscored(lang: str, rest: str) -> str:
    name = language_name(lang) or "a language we cannot identify"
    head = f"written in {name}, which socialwatch cannot read for mood"
    rest = re.sub(r"\s*\([+-]?\d+(?:\.\d+)?\)", "", rest).strip()
    tails = {
        "direct messages go to a person": "a person should read private messages",
        "it looks like a complaint": "it looks like a complaint",
        "it asks a question": "it asks a question",
        "no complaint or question found": "no complaint or question found",
    }
    for key, words in tails.items():
        if rest.startswith(key):
            return f"{head}; {words}"
    return f"{head}; a person should read it" if "read it" in rest or "lexicon" in rest else head


#: (pattern over a stored reason, what the card says; None drops it because the facts line says it).
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]] = [
    (re.compile(r"^category \S+ \((?:matched|complaint about) .*\)$"), lambda m: None),
    (re.compile(r"^language [\w-]+$"), lambda m: None),
    (re.compile(r"^complaint signals [\d.]+: (?P<e>.*)$"), lambda m: f"complains about: {_quoted(m['e'])}"),
    (
        re.compile(r"^negative (?:sentiment \([^)]*\)|from complaint signals \([^)]*\)) in a (?P<w>.+)$"),
        lambda m: f"an unhappy customer in a {m['w']}",
    ),
    (
        re.compile(r"^(?P<k>[\w, ]+) posted in a (?P<w>[\w ]+?): ask them to delete it.*$"),
        lambda m: _pii(m["k"], m["w"]),
    ),
    (re.compile(r"^language '(?P<l>[^']*)' is not scored(?:;| and) ?(?P<r>.*)$"), lambda m: _unscored(m["l"], m["r"])),
    (re.compile(r"^(?P<c>[\w ]+) problem in a (?P<w>.+)$"), lambda m: f"a {m['c']} problem in a {m['w']}"),
    (re.compile(r"^question in a (?P<w>.+)$"), lambda m: f"asks us a question in a {m['w']}"),
    (re.compile(r"^direct message$"), lambda m: "a private message to us"),
    (re.compile(r"^escalation word '(?P<w>[^']*)'$"), lambda m: f"threatens to take it further (“{m['w']}”)"),
    (re.compile(r"^author reaches (?P<n>[\d,]+) followers$"), lambda m: f"{m['n']} people follow them"),
    (
        re.compile(r"^repeat contact: (?P<n>\d+) earlier negative messages$"),
        lambda m: f"unhappy before: {m['n']} earlier messages",
    ),
]
_SCORE = re.compile(r"\s*\(?\b(?:VADER(?: alone)?:?\s*)?[+-]?\d+\.\d+\)?")


def manager_reason(reason: str) -> str | None:
    """One stored reason in a manager's words; None when the facts line already says it."""
    for pattern, words in _RULES:
        match = pattern.match(reason)
        if match:
            return words(match)
    cleaned = _SCORE.sub("", reason).strip(" ;:,")
    return cleaned or None


def why(item: Mapping[str, Any]) -> list[str]:
    """Why this item needs a person, in a manager's words (scores stay in the item row and the audit)."""
    try:
        stored = json.loads(item.get("reasons") or "[]")
    except ValueError:
        stored = []
    said = [manager_reason(str(reason)) for reason in stored if isinstance(reason, str)]
    return list(dict.fromkeys(words for words in said if words))[:MAX_REASONS]


def facts(item: Mapping[str, Any]) -> list[str]:
    """The line under the quote: mood, topic and language in words (the due time and link are added by the card)."""
    out = [LABEL_WORDS.get(str(item.get("label")), str(item.get("label") or ""))]
    category = str(item.get("category") or "")
    topic = CATEGORY_WORDS.get(category, category.replace("_", " "))
    if topic:
        out.append(topic)
    language = language_name(item.get("lang"))
    if language and language != "English":
        out.append(f"in {language}")
    return [part for part in out if part]


def attachments_of(item: Mapping[str, Any]) -> list[Attachment]:
    """The stored attachments of an ``items`` row."""
    try:
        value = json.loads(item.get("attachments") or "[]")
    except ValueError:
        return []
    found = [Attachment.from_json(entry) for entry in value] if isinstance(value, list) else []
    return [attachment for attachment in found if attachment is not None]


def attachments_text(item: Mapping[str, Any]) -> str:
    """ "sent an image (image/jpeg)"; "" when nothing was attached."""
    return describe_attachments(attachments_of(item))


def anonymous(item: Mapping[str, Any]) -> bool:
    """The platform did not say who wrote it (Graph withholds ``from``): a person of their own."""
    return str(item.get("author_id") or "").startswith(ANONYMOUS)
