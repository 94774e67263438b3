"""Suggested replies: 2-3 per item, in the reply's language, chosen by the category (a legal threat or a fraud
claim takes its own), personal (first name, the earlier contact, what the customer already gave), within the
platform's rules, each with its English meaning beside it when the team may not read the language.

A template that does not render, or renders over the platform's limit, is left out (logged once) and the
others stay; ``socialwatch check`` names the file and the fix (``replies.check``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from socialwatch.config.schema import Config
from socialwatch.config.suggestions import SuggestionsConfig
from socialwatch.models import AuthorHistory, Item, Kind, Suggestion
from socialwatch.scoring.language import LanguageDetector
from socialwatch.scoring.replies import choice as choice_mod
from socialwatch.scoring.replies import personal, platforms
from socialwatch.scoring.replies.choice import Explain, LanguageChoice
from socialwatch.scoring.replies.templates import ENGLISH, Templates, load_templates, render, squeeze

log = logging.getLogger(__name__)

#: Categories that are problems: a returning author writing about one is a repeat complainer.
PROBLEMS = frozenset({"billing", "outage", "delivery", "account_security", "exposed_pii"})
#: The template folder for a legal threat or a fraud claim: no self-service texts, a person takes it.
LEGAL = "legal"
EXPOSED_PII = "exposed_pii"


def is_public(item: Item) -> bool:
    return item.public and item.kind is not Kind.DM


def context_for(
    item: Item,
    category: str,
    label: str,
    history: AuthorHistory,
    config: SuggestionsConfig,
    lang: str,
    links: bool = True,
) -> dict[str, Any]:
    """The documented variables of a suggestion template (``config/templates/README.md``)."""
    words = config.words_for(lang)
    negative = label == "negative"
    return {
        "name": personal.plain_first_name(item.author.name),
        "handle": personal.plain_handle(item.author.handle),
        "returning": history.returning,
        "previous_contacts": history.contacts,
        "repeat_complaint": history.returning and (negative or category in PROBLEMS or category == LEGAL),
        "case_ref": personal.case_reference(item.key, config.case_prefix),
        "brand": words.brand_name,
        "help_url": words.help_url,
        "status_url": words.status_url,
        "signature": words.signature,
        "public": is_public(item),
        "platform": item.platform,
        "kind": item.kind.value,
        "lang": lang,
        "negative": negative,
        "category": category,
        "links": links,
        "order_number": personal.order_number(item.text),
        "email_given": personal.email_given(item.text),
    }


def suggest(
    item: Item,
    category: str,
    label: str,
    history: AuthorHistory,
    config: SuggestionsConfig,
    templates: Templates | None = None,
    *,
    lang: str = ENGLISH,
    links: bool = True,
    refused: str | None = None,
) -> tuple[Suggestion, ...]:
    """Up to ``max_suggestions`` replies in ``lang``; ``refused`` says why none can be sent as it stands."""
    templates = templates or load_templates(config.templates_dir)
    if category != EXPOSED_PII and templates.has_category(lang, LEGAL) and personal.legal_threat(item.text):
        category = LEGAL
    context = context_for(item, category, label, history, config, lang, links)
    public = context["public"]
    limit = platforms.reply_limit(item.platform, public)
    explain = lang not in config.team_languages
    out: list[Suggestion] = []
    seen: set[str] = set()
    for compiled in templates.compiled(lang, category):
        try:
            text = squeeze(render(compiled.template, context))
            english = squeeze(render(compiled.english, context)) if explain and compiled.english else None
        except Exception as exc:  # a broken template is left out; the others stay
            templates.report(compiled.name, f"does not render: {type(exc).__name__}: {exc}")
            continue
        if explain and english is None:
            templates.report(compiled.name, "has no English source to show beside it")
            continue
        length = platforms.measure(text, item.platform, public)
        if length > limit:
            templates.report(
                f"{compiled.name} ({item.platform}, {'public' if public else 'private'})",
                f"renders {length} characters, over the limit of {limit}",
            )
            continue
        if text and text not in seen:
            seen.add(text)
            out.append(Suggestion(compiled.kind, text, lang=lang, english=english, refused=refused))
        if len(out) >= config.max_suggestions:
            break
    return tuple(out)


@dataclass(frozen=True)
class Written:
    """What the writer made of one item: the suggestions, and the language choice behind them."""

    suggestions: tuple[Suggestion, ...]
    choice: LanguageChoice


@dataclass
class ReplyWriter:
    """The language choice, the suggestions and the customer messages (acknowledgement, follow-up) for a
    configuration; build once, share between threads."""

    config: Config
    templates: Templates | None = None
    explain: Explain | None = None
    _handles: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.templates is None:
            self.templates = load_templates(self.config.suggestions.templates_dir)
        if self.explain is None:
            self.explain = LanguageDetector(expected=self.config.sentiment.languages).explain
        self._handles = {account.name: account.handle.lower() for account in self.config.x.accounts if account.handle}

    @property
    def loaded(self) -> Templates:
        assert self.templates is not None
        return self.templates

    def answerable(self) -> frozenset[str]:
        return self.loaded.languages

    def choose(self, item: Item, assessed_lang: str, history: AuthorHistory) -> LanguageChoice:
        available = self.answerable()
        written = choice_mod.message_language(assessed_lang, item.lang, item.text, self.explain, available)
        return choice_mod.choose(written, history.language, self.config.suggestions, available)

    def write(self, item: Item, category: str, label: str, history: AuthorHistory, assessed_lang: str) -> Written:
        chosen = self.choose(item, assessed_lang, history)
        if chosen.lang is None:
            return Written((), chosen)
        links = not (item.platform == "x" and not self.config.x.reply_links)
        suggestions = suggest(
            item,
            category,
            label,
            history,
            self.config.suggestions,
            self.loaded,
            lang=chosen.lang,
            links=links,
            refused=self.x_refusal(item),
        )
        return Written(suggestions, chosen)

    def x_refusal(self, item: Item) -> str | None:
        """X accepts an API reply only to a post that mentions or quotes the brand: why not, or None."""
        if not (platforms.surface(item.platform, is_public(item)).needs_mention and is_public(item)):
            return None
        handle = self._handles.get(item.account)
        if handle is None:
            return None  # without the brand's handle nobody can tell; the platform will say
        if re.search(rf"(?<!\w)@{re.escape(handle)}(?!\w)", item.text, re.IGNORECASE) or _quotes(item.raw):
            return None
        return (
            f"X lets the brand reply by API only to posts that mention or quote @{handle}; this one does neither, "
            "so X would refuse the send. Answer on X itself, or privately if they wrote to us."
        )

    # --- whole messages to the customer: the acknowledgement and the follow-up -------------------------

    def language_of_row(self, row: Mapping[str, Any]) -> str:
        """The language a stored item is answered in: its suggestions', else chosen from its language."""
        for suggestion in _suggestions_json(row.get("suggestions")):
            lang = suggestion.get("lang")
            if isinstance(lang, str) and lang in self.answerable():
                return lang
        chosen = choice_mod.choose(
            choice_mod.normalise(row.get("lang")), None, self.config.suggestions, self.answerable()
        )
        return chosen.lang or self.config.suggestions.default_language

    def customer_message(self, piece: str, lang: str, context: dict[str, Any], platform: str, public: bool) -> str:
        """A shared piece (``_ack.j2``, ``_followup.j2``) in ``lang``, else in the default language, else English."""
        words = self.config.suggestions.words_for(lang)
        tried: list[str] = []
        for candidate in dict.fromkeys((lang, self.config.suggestions.default_language, ENGLISH)):
            if piece not in self.loaded.pieces.get(candidate, ()):
                continue
            template = self.loaded.get(f"{candidate}/{piece}")
            if template is None:
                continue
            words = self.config.suggestions.words_for(candidate)
            full = {
                **context,
                "brand": words.brand_name,
                "help_url": words.help_url,
                "signature": words.signature,
                "lang": candidate,
            }
            try:
                text = squeeze(render(template, full))
            except Exception as exc:
                self.loaded.report(f"{candidate}/{piece}", f"does not render: {type(exc).__name__}: {exc}")
                tried.append(candidate)
                continue
            return fit(text, platform, public)
        raise ValueError(f"no usable {piece} template in {tried or [lang, ENGLISH]}; run `socialwatch check`")


def fit(text: str, platform: str, public: bool) -> str:
    """Shorten at a sentence, then a word, boundary until the text fits the platform's limit (used for the
    automatic messages, which no person reads before they go; suggestions over the limit are left out)."""
    limit = platforms.reply_limit(platform, public)
    text = text.strip()
    if platforms.measure(text, platform, public) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?।])\s+", text)
    while len(sentences) > 1:
        sentences.pop()
        candidate = " ".join(sentences)
        if platforms.measure(candidate, platform, public) <= limit:
            return candidate
    words = text.split()
    while words:
        candidate = " ".join(words) + "…"
        if platforms.measure(candidate, platform, public) <= limit:
            return candidate
        words.pop()
    return ""


def _quotes(raw: Mapping[str, Any]) -> bool:
    refs = raw.get("referenced_tweets") if isinstance(raw, Mapping) else None
    return any(isinstance(ref, dict) and ref.get("type") == "quoted" for ref in refs or [])


def _suggestions_json(value: Any) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value or "[]")
    except (TypeError, ValueError):
        return []
    return [entry for entry in parsed if isinstance(entry, dict)] if isinstance(parsed, list) else []
