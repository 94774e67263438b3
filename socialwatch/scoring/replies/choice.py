"""The reply's language: the message's own language, else the author's earlier messages', else the brand's
default; limited to the languages the brand answers in (``[suggestions] reply_languages``), and what happens
to any other (``other_languages``: the default language, or no suggestion at all).

The message's language is the assessment's. One correction is made here because a reply in the wrong
language is posted in public: a platform tag of ``en`` (or none) is not taken over a confident detection of
another language that the brand has templates for (X tags much non-English text ``en``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from socialwatch.config.suggestions import SuggestionsConfig
from socialwatch.models import language_name
from socialwatch.scoring.langid import NO_LANGUAGE, SURE_LETTERS, TAG_FIX
from socialwatch.scoring.language import Detection

Explain = Callable[[str], Detection]


def normalise(code: str | None) -> str:
    """``"pt-BR"`` -> ``"pt-br"``, ``"in"`` -> ``"id"``, unknown tags -> ``""``."""
    code = (code or "").strip().lower().replace("_", "-")
    base = code.split("-")[0]
    if base in NO_LANGUAGE:
        return ""
    return TAG_FIX.get(base, base) + code[len(base) :]


@dataclass(frozen=True)
class LanguageChoice:
    lang: str | None  # the reply's language, or None: no suggestion (``other_languages = "none"``)
    source: str  # "message" | "history" | "default" | "other"
    written: str  # the language the customer wrote in, "" when nobody can tell
    why: str  # one line for the alert's reasons, "" when nothing needs saying

    @property
    def from_message(self) -> bool:
        return self.source == "message"


def message_language(
    assessed: str, declared: str | None, text: str, explain: Explain | None, answered: Collection[str]
) -> str:
    """The language the message is written in: the assessment's, unless it only repeats a platform's "en"
    and the text itself is confidently another language, one with templates (``answered``)."""
    lang = normalise(assessed)
    # Without a tag the assessment detected the text itself already: only a platform's "en" is doubted.
    if explain is None or normalise(declared) != "en" or lang not in ("", "en"):
        return lang
    detection = explain(text)
    detected = normalise(detection.lang)
    confident = detection.method == "script" or (detection.method == "cld2" and detection.letters >= SURE_LETTERS)
    return detected if detected in answered and confident else lang


@lru_cache(maxsize=64)
def answered_languages(reply_languages: tuple[str, ...], available: frozenset[str]) -> frozenset[str]:
    """The languages replies are written in: those the brand answers in that have templates."""
    if reply_languages:
        return frozenset(lang for lang in reply_languages if lang in available)
    return available


def choose(
    written: str,
    earlier: str | None,
    config: SuggestionsConfig,
    available: Collection[str],
) -> LanguageChoice:
    """The reply's language for a message in ``written`` (normalised, "" when unknown) by an author whose
    earlier messages were in ``earlier``, given the languages that have templates (``available``)."""
    answered = answered_languages(tuple(config.reply_languages), frozenset(available))

    def answerable(lang: str) -> str | None:
        if lang in answered:
            return lang
        base = lang.split("-")[0]
        return base if base in answered else None

    default = config.default_language if config.default_language in available else "en"
    if written:
        found = answerable(written)
        if found:
            return LanguageChoice(found, "message", written, "")
        if config.other_languages == "none":
            return LanguageChoice(
                None,
                "other",
                written,
                f"written in {language_name(written)} ({written}), which the brand does not answer in: "
                "no suggestion, a person writes the reply",
            )
        return LanguageChoice(
            default,
            "other",
            written,
            f"written in {language_name(written)} ({written}); no reply templates in it, "
            f"so suggestions are in {language_name(default)}",
        )
    previous = answerable(normalise(earlier)) if earlier else None
    if previous:
        return LanguageChoice(
            previous, "history", "", f"language not clear; replies in {language_name(previous)}, as they wrote before"
        )
    return LanguageChoice(default, "default", "", "")
