"""Triage: category, priority, whether a reply is needed, the SLA due time, and why.

Pure functions over an Item, its Sentiment and the author's history. The rules come
from config (keywords per category, escalation words, reach), compiled once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from socialwatch.config import SlaConfig, TriageConfig
from socialwatch.models import PUBLIC_KINDS, AuthorHistory, Item, Kind, Sentiment

PRIORITY_ORDER = ("none", "low", "normal", "high", "urgent")

#: Categories that are problems: they need a reply whatever the sentiment score says.
PROBLEM_CATEGORIES = frozenset({"billing", "outage", "delivery", "account_security"})
BUILTIN_CATEGORIES = PROBLEM_CATEGORIES | {"question", "praise", "abuse", "spam", "other"}


@dataclass(frozen=True)
class Rules:
    """TriageConfig compiled into regular expressions."""

    category_order: tuple[str, ...]
    category_patterns: dict[str, re.Pattern[str]]
    category_needs_reply: dict[str, bool]
    escalation: re.Pattern[str] | None
    high_reach_followers: int
    repeat_contact_threshold: int


@dataclass(frozen=True)
class Triage:
    category: str
    priority: str
    needs_reply: bool
    reasons: tuple[str, ...]
    sla_due_at: datetime | None


def _keyword_pattern(keywords: list[str]) -> re.Pattern[str] | None:
    alternatives = []
    for keyword in sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True):
        escaped = re.escape(keyword)
        # Word boundaries only where the keyword starts/ends with a word character: "?" must still match.
        left = r"(?<!\w)" if keyword[0].isalnum() else ""
        right = r"(?!\w)" if keyword[-1].isalnum() else ""
        alternatives.append(f"{left}{escaped}{right}")
    if not alternatives:
        return None
    return re.compile("|".join(alternatives), re.IGNORECASE)


def compile_rules(config: TriageConfig) -> Rules:
    categories = config.effective_categories()
    order = tuple(config.category_order) + tuple(sorted(set(categories) - set(config.category_order)))
    patterns = {}
    for name in order:
        pattern = _keyword_pattern(categories[name].keywords)
        if pattern is not None:
            patterns[name] = pattern
    return Rules(
        category_order=order,
        category_patterns=patterns,
        category_needs_reply={name: rule.needs_reply for name, rule in categories.items()},
        escalation=_keyword_pattern(config.escalation_words),
        high_reach_followers=config.high_reach_followers,
        repeat_contact_threshold=config.repeat_contact_threshold,
    )


def bump(priority: str, steps: int = 1) -> str:
    index = min(PRIORITY_ORDER.index(priority) + steps, len(PRIORITY_ORDER) - 1)
    return PRIORITY_ORDER[index]


def categorise(text: str, sentiment: Sentiment, rules: Rules) -> tuple[str, str | None]:
    """The first category (in configured order) whose keyword occurs, with the keyword."""
    for name in rules.category_order:
        pattern = rules.category_patterns.get(name)
        if pattern is None:
            continue
        match = pattern.search(text)
        if match is None:
            continue
        # "Thanks for nothing" is not praise.
        if name == "praise" and sentiment.label == "negative":
            continue
        return name, match.group(0)
    return "other", None


def sla_due(created_at: datetime, priority: str, sla: SlaConfig) -> datetime | None:
    minutes = sla.minutes(priority)
    return None if minutes is None else created_at + timedelta(minutes=minutes)


def triage(
    item: Item,
    sentiment: Sentiment,
    history: AuthorHistory,
    rules: Rules,
    sla: SlaConfig,
) -> Triage:
    text = item.text
    reasons: list[str] = []
    category, keyword = categorise(text, sentiment, rules)
    if keyword:
        reasons.append(f"category {category} (matched '{keyword}')")
    negative = sentiment.label == "negative"
    public = item.public and item.kind in PUBLIC_KINDS
    where = "public " + item.kind.value if public else "private message"

    if category == "spam":
        return Triage(category, "none", False, tuple(reasons + ["looks like spam"]), None)

    if negative:
        priority = "urgent" if public else "high"
        reasons.append(f"negative sentiment ({sentiment.compound:+.2f}) in a {where}")
    elif sentiment.label == "unscored":
        priority = "normal"
        reasons.append(f"language '{sentiment.lang}' is not scored; a person should read this {where}")
    elif category in PROBLEM_CATEGORIES:
        priority = "high" if public else "normal"
        reasons.append(f"{category.replace('_', ' ')} problem in a {where}")
    elif category == "question" or (category not in BUILTIN_CATEGORIES and rules.category_needs_reply.get(category)):
        priority = "normal"
        reasons.append(f"{category.replace('_', ' ')} in a {where}")
    elif item.kind is Kind.DM:
        priority = "normal"
        reasons.append("direct message")
    elif category in ("praise", "abuse"):
        priority = "low"
    else:
        priority = "low" if sentiment.label == "positive" else "none"

    escalation = rules.escalation.search(text) if rules.escalation else None
    if escalation and category not in ("spam", "abuse"):
        priority = "urgent"
        reasons.append(f"escalation word '{escalation.group(0)}'")
    followers = item.author.followers or 0
    if followers >= rules.high_reach_followers and priority not in ("none", "low"):
        priority = bump(priority)
        reasons.append(f"author reaches {followers:,} followers")
    if history.negative_count >= rules.repeat_contact_threshold and (negative or category in PROBLEM_CATEGORIES):
        priority = bump(priority)
        reasons.append(f"repeat contact: {history.negative_count} earlier negative messages")

    if category == "other":
        needs_reply = negative or sentiment.label == "unscored" or item.kind is Kind.DM or escalation is not None
    else:
        # A category that wants replies gets them whatever the score; one that doesn't (praise,
        # abuse) still does when the customer is unhappy or writes privately.
        needs_reply = rules.category_needs_reply.get(category, True) or (
            category == "praise" and (item.kind is Kind.DM or escalation is not None)
        )
    if category == "abuse":
        needs_reply = False
        reasons.append("abusive language: review, do not engage")
    due = sla_due(item.created_at, priority, sla) if needs_reply else None
    return Triage(category, priority, needs_reply, tuple(reasons), due)
