"""Triage: category, priority, whether a reply is needed, the SLA due time, and why.

Pure functions over an Item, its Sentiment and the author's history. The rules come
from config (keywords per category, escalation words, reach), compiled once. The
customer-service signals (scoring/complaints.py) refine the category, decide
whether a post in a language no sentiment model reads goes to a person (the
``unscored_policy``), and sensitive data posted in public becomes ``exposed_pii``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from socialwatch.config.response_times import SlaConfig
from socialwatch.config.triage import TriageConfig
from socialwatch.models import PUBLIC_KINDS, AuthorHistory, Item, Kind, Sentiment
from socialwatch.scoring import pii
from socialwatch.scoring.complaints import ComplaintAnalyser, Signals, default_analyser
from socialwatch.scoring.hours import due_at

PRIORITY_ORDER = ("none", "low", "normal", "high", "urgent")

#: Categories that are problems: they need a reply whatever the sentiment score says.
PROBLEM_CATEGORIES = frozenset({"billing", "outage", "delivery", "account_security"})
BUILTIN_CATEGORIES = PROBLEM_CATEGORIES | {"question", "praise", "abuse", "spam", "other", "exposed_pii"}

#: Sensitive data in a public post: a person must ask the customer to delete it, before anyone copies it.
EXPOSED_PII = "exposed_pii"
#: Kinds of exposed data that are urgent (money or account access) rather than high.
URGENT_PII = frozenset({"card", "iban", "password"})

#: Where a complaint intent points when the keyword rules found no category.
INTENT_CATEGORY = {
    "lost_damaged": "delivery",
    "refund": "billing",
    "charge": "billing",
    "outage": "outage",
    "error": "outage",
    "account_security": "account_security",
}

#: What an English text must also mention for its complaint intent to choose the category. "Does the warranty
#: cover a cracked screen?" is about the product, not the delivery: it stays a question, and is not
#: answered "sorry your order hasn't arrived".
INTENT_CONTEXT = {
    "lost_damaged": re.compile(
        r"\b(?:orders?|ordered|package|packages|parcels?|deliver(?:y|ies|ed)?|arriv(?:e|ed|es|al)|ship(?:ped|ping|ment)?|"
        r"couriers?|box|boxes|tracking|post|mail|received|came|sent|drivers?|doorstep|porch|luggage|bags?|suitcase|"
        r"food|meal|takeaway|groceries|basket|item|items|refund|replacement|return)\b"
    ),
}

#: Unscored items below this complaint score count as "not complaint-looking" for the routing policy.
UNSCORED_COMPLAINT_LOOKING = 0.35


@dataclass(frozen=True)
class Rules:
    """TriageConfig compiled into regular expressions."""

    category_order: tuple[str, ...]
    category_patterns: dict[str, re.Pattern[str]]
    category_needs_reply: dict[str, bool]
    escalation: re.Pattern[str] | None
    high_reach_followers: int
    repeat_contact_threshold: int
    # A necessary condition for each pattern (every category with one, and escalation), tested before it:
    # one of its keywords' words is a word of the text (see _word_gate).
    category_gates: dict[str, WordGate]
    escalation_gate: WordGate
    # Every gate word with the gates it opens, as bits: bit i for category_order[i], then escalation.
    gate_index: dict[str, int]
    unscored_policy: str = "complaints"
    # The plain keywords behind each pattern and gate.
    category_keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    escalation_keywords: tuple[str, ...] = ()
    # Used only when the Sentiment does not carry its signals (built by hand, e.g. in tests).
    complaints: ComplaintAnalyser | None = None


@dataclass(frozen=True)
class WordGate:
    """A necessary condition for a keyword pattern to match a lower-cased text: one of ``words`` is a word
    of the text (``\\w+``), or one of ``strings`` occurs in it."""

    words: frozenset[str]
    strings: tuple[str, ...]

    def admits(self, words: set[str], lowered: str) -> bool:
        return not self.words.isdisjoint(words) or any(map(lowered.__contains__, self.strings))


_WORD = re.compile(r"\w+")


def _word_gate(keywords: tuple[str, ...]) -> WordGate:
    """Where a keyword starts with a word character, the pattern wants no word character before it
    (_keyword_pattern), so its first run of word characters is a whole word of the text: exactly that
    run when the keyword goes on after it or ends with a boundary, else (a keyword ending in "_")
    only its start. Keywords without such a word are tested as substrings, as before."""
    words: set[str] = set()
    strings: list[str] = []
    for keyword in keywords:
        run = _WORD.match(keyword)
        if keyword[0].isalnum() and run is not None and (run.end() < len(keyword) or keyword[-1].isalnum()):
            words.add(run.group(0))
        else:
            strings.append(keyword)
    return WordGate(frozenset(words), tuple(strings))


@dataclass(frozen=True)
class Triage:
    category: str
    priority: str
    needs_reply: bool
    reasons: tuple[str, ...]
    sla_due_at: datetime | None


def _keyword_pattern(keywords: list[str]) -> re.Pattern[str] | None:
    bounded: list[str] = []
    unbounded: list[str] = []
    for keyword in sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True):
        escaped = re.escape(keyword)
        # Word boundaries only where the keyword starts/ends with a word character: "?" must still match.
        # Next to a word character of the keyword, ``\b`` is "no word character on the other side", i.e.
        # (?<!\w) before it and (?!\w) after it, and ``re`` tests it ten times faster than a lookaround.
        right = r"\b" if keyword[-1].isalnum() else ""
        (bounded if keyword[0].isalnum() else unbounded).append(f"{escaped}{right}")
    if not bounded and not unbounded:
        return None
    # One ``\b`` for all keywords starting with a word character. Keywords that can match at one position
    # start with the same character, so they stay in the same group and in the same (longest first) order:
    # the match is the one of the plain alternation of every keyword.
    alternatives = ([r"\b(?:" + "|".join(bounded) + ")"] if bounded else []) + unbounded
    # Matched against lower-cased text: IGNORECASE makes ``re`` several times slower.
    return re.compile("|".join(alternatives))


def _keywords(keywords: list[str]) -> tuple[str, ...]:
    return tuple(sorted({k.strip().lower() for k in keywords if k.strip()}))


def compile_rules(config: TriageConfig) -> Rules:
    categories = config.effective_categories()
    order = tuple(config.category_order) + tuple(sorted(set(categories) - set(config.category_order)))
    patterns = {}
    for name in order:
        pattern = _keyword_pattern(categories[name].keywords)
        if pattern is not None:
            patterns[name] = pattern
    category_keywords = {name: _keywords(categories[name].keywords) for name in patterns}
    escalation_keywords = _keywords(config.escalation_words)
    category_gates = {name: _word_gate(keywords) for name, keywords in category_keywords.items()}
    escalation_gate = _word_gate(escalation_keywords)
    gate_index: dict[str, int] = {}
    for bit, gate in enumerate([category_gates.get(name) for name in order] + [escalation_gate]):
        for word in gate.words if gate is not None else ():
            gate_index[word] = gate_index.get(word, 0) | 1 << bit
    return Rules(
        category_keywords=category_keywords,
        escalation_keywords=escalation_keywords,
        category_gates=category_gates,
        escalation_gate=escalation_gate,
        gate_index=gate_index,
        category_order=order,
        category_patterns=patterns,
        category_needs_reply={name: rule.needs_reply for name, rule in categories.items()},
        escalation=_keyword_pattern(config.escalation_words),
        high_reach_followers=config.high_reach_followers,
        repeat_contact_threshold=config.repeat_contact_threshold,
        unscored_policy=config.unscored_policy,
    )


def bump(priority: str, steps: int = 1) -> str:
    index = min(PRIORITY_ORDER.index(priority) + steps, len(PRIORITY_ORDER) - 1)
    return PRIORITY_ORDER[index]


def categorise(text: str, sentiment: Sentiment, rules: Rules) -> tuple[str, str | None]:
    """The first category (in configured order) whose keyword occurs, with the keyword."""
    return _categorise(text.lower(), sentiment, rules)


def _gate_bits(lowered: str, rules: Rules) -> int:
    """The gates (Rules.gate_index bits) whose words are words of ``lowered``."""
    index = rules.gate_index
    bits = 0
    for word in index.keys() & _WORD.findall(lowered):
        bits |= index[word]
    return bits


def _opens(gate: WordGate, bits: int, bit: int, lowered: str) -> bool:
    """gate.admits(words of lowered, lowered), with its words already looked up in ``bits``."""
    return bool(bits >> bit & 1) or any(map(lowered.__contains__, gate.strings))


def _categorise(lowered: str, sentiment: Sentiment, rules: Rules, bits: int | None = None) -> tuple[str, str | None]:
    if bits is None:
        bits = _gate_bits(lowered, rules)
    for bit, name in enumerate(rules.category_order):
        pattern = rules.category_patterns.get(name)
        if pattern is None or not _opens(rules.category_gates[name], bits, bit, lowered):
            continue
        match = pattern.search(lowered)
        if match is None:
            continue
        # "Thanks for nothing" is not praise.
        if name == "praise" and sentiment.label == "negative":
            continue
        return name, match.group(0)
    return "other", None


def sla_due(
    created_at: datetime, priority: str, sla: SlaConfig, platform: str | None = None, kind: str | None = None
) -> datetime | None:
    """Per priority (and platform/kind overrides), counted in business hours when configured (scoring/hours.py)."""
    return due_at(created_at, priority, platform, kind, sla)


def signals_of(item: Item, sentiment: Sentiment, rules: Rules) -> Signals:
    """The complaint signals the sentiment was labelled with, or computed now if it carries none."""
    carried = getattr(sentiment, "signals", None)
    if isinstance(carried, Signals):
        return carried
    return (rules.complaints or default_analyser()).analyse(item.text, sentiment.lang)


def _unscored_route(item: Item, signals: Signals, policy: str) -> tuple[bool, str]:
    """Whether an item no sentiment model could read goes to a person, and why (the routing policy)."""
    lang = signals.lang
    if item.kind is Kind.DM:
        return policy != "none", f"language '{lang}' is not scored; direct messages go to a person"
    if policy == "all":
        return True, f"language '{lang}' is not scored; policy sends every such item to a person"
    if policy == "dms":
        return False, f"language '{lang}' is not scored; policy sends only direct messages to a person"
    if not signals.lexicon:
        return True, f"language '{lang}' is not scored and has no complaint lexicon; a person should read it"
    if signals.question_to_brand:
        return True, f"language '{lang}' is not scored; it asks a question"
    if signals.score >= UNSCORED_COMPLAINT_LOOKING:
        return True, f"language '{lang}' is not scored; it looks like a complaint ({signals.score:.2f})"
    return False, f"language '{lang}' is not scored; no complaint or question found"


def triage(
    item: Item,
    sentiment: Sentiment,
    history: AuthorHistory,
    rules: Rules,
    sla: SlaConfig,
) -> Triage:
    text = item.text
    reasons: list[str] = []
    signals = signals_of(item, sentiment, rules)
    public = item.public and item.kind in PUBLIC_KINDS
    where = "public " + item.kind.value if public else "private message"
    exposed = pii.kinds(text) if public else ()

    lowered = text.lower()
    bits = _gate_bits(lowered, rules)
    category, keyword = _categorise(lowered, sentiment, rules, bits)
    if keyword:
        # Keywords can be customer text; never repeat a card number or password in a reason.
        reasons.append(f"category {category} (matched '{pii.mask(keyword)}')")
    if category in ("other", "question", "praise") and signals.complaint:
        for intent in signals.problems:
            # English context words only: the other languages' damage words stay tied to delivery.
            context = INTENT_CONTEXT.get(intent) if signals.lang == "en" else None
            if (
                intent in INTENT_CATEGORY
                and INTENT_CATEGORY[intent] in rules.category_order
                and (context is None or context.search(lowered))
            ):
                category = INTENT_CATEGORY[intent]
                reasons.append(f"category {category} (complaint about {intent.replace('_', ' ')})")
                break
        else:
            if category == "praise":
                category = "other"
    if exposed:
        category = EXPOSED_PII
        reasons.append(
            f"{', '.join(exposed)} posted in a {where}: ask them to delete it and continue privately; "
            "the text is masked in alerts"
        )
    negative = sentiment.label == "negative"
    unscored = sentiment.label == "unscored"
    if signals.lang not in ("en", "und"):
        reasons.append(f"language {signals.lang}")
    if signals.matched and (negative or signals.complaint or signals.problems):
        evidence = ", ".join(pii.mask(m) for m in signals.matched[:4])
        reasons.append(f"complaint signals {signals.score:.2f}: {evidence}")

    if category == "spam" and not exposed:
        return Triage(category, "none", False, tuple(reasons + ["looks like spam"]), None)

    unscored_route = False
    if exposed:
        priority = "urgent" if URGENT_PII & set(exposed) else "high"
    elif negative:
        priority = "urgent" if public else "high"
        if signals.complaint and sentiment.compound > -0.05:
            reasons.append(f"negative from complaint signals (VADER alone: {sentiment.compound:+.2f}) in a {where}")
        else:
            reasons.append(f"negative sentiment ({sentiment.compound:+.2f}) in a {where}")
    elif unscored:
        unscored_route, why = _unscored_route(item, signals, rules.unscored_policy)
        # A clear complaint in public is as visible as an English one, if less certain: high, not urgent.
        priority = ("high" if public and signals.complaint else "normal") if unscored_route else "low"
        reasons.append(why)
    elif category in PROBLEM_CATEGORIES and _is_problem(sentiment, signals):
        priority = "high" if public else "normal"
        reasons.append(f"{category.replace('_', ' ')} problem in a {where}")
    elif category == "question" or (signals.question_to_brand and category not in ("praise", "abuse")):
        priority = "normal"
        reasons.append(f"question in a {where}")
    elif item.kind is Kind.DM:
        priority = "normal"
        reasons.append("direct message")
    elif category in ("praise", "abuse"):
        priority = "low"
    else:
        priority = "low" if sentiment.label == "positive" else "none"

    escalation = None
    if rules.escalation and _opens(rules.escalation_gate, bits, len(rules.category_order), lowered):
        escalation = rules.escalation.search(lowered)
    if escalation and category not in ("spam", "abuse"):
        priority = "urgent"
        reasons.append(f"escalation word '{escalation.group(0)}'")
    followers = item.author.followers or 0
    if followers >= rules.high_reach_followers and priority not in ("none", "low"):
        priority = bump(priority)
        reasons.append(f"author reaches {followers:,} followers")
    problem = category in PROBLEM_CATEGORIES and _is_problem(sentiment, signals)
    if history.negative_count >= rules.repeat_contact_threshold and (negative or problem):
        priority = bump(priority)
        reasons.append(f"repeat contact: {history.negative_count} earlier negative messages")

    needs_reply = exposed != () or (
        rules.category_needs_reply.get(category, True)
        and (
            negative
            or unscored_route
            or problem
            or category == "question"
            or (signals.question_to_brand and not unscored)
            or (item.kind is Kind.DM and not unscored)
            or escalation is not None
        )
    )
    if category == "abuse":
        needs_reply = False
        reasons.append("abusive language: review, do not engage")
    due = sla_due(item.created_at, priority, sla, item.platform, item.kind.value) if needs_reply else None
    return Triage(category, priority, needs_reply, tuple(reasons), due)


def _is_problem(sentiment: Sentiment, signals: Signals) -> bool:
    """A problem-category keyword is a problem unless everything says it is already solved or praise
    ("arrived a day early, nice one", "thanks for sorting my broadband")."""
    if sentiment.label == "negative" or signals.complaint:
        return True
    happy = sentiment.label == "positive" or "resolved" in signals.intents or "praise" in signals.intents
    return not happy
