"""Sentiment: the VADER compound score, and a label that also listens to the customer-service layer.

VADER's scores are reported as they are. The label is VADER's unless the complaint layer
(socialwatch/complaints.py) has evidence: "on hold for 2 hours" or "great, another delay"
are negative whatever VADER says, and "never had a problem with you" is not. VADER is
English-only; text in another language is labelled "unscored" (never silently "neutral"),
and triage routes it by policy, using the complaint lexicons of that language to tell
complaints from chatter, so a complaint goes to a human instead of being dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from socialwatch.complaints import COMPLAINT_THRESHOLD, ComplaintAnalyser, Signals, default_analyser
from socialwatch.models import Sentiment

if TYPE_CHECKING:
    from socialwatch.config import SentimentConfig

#: Languages VADER's lexicon and rules were built for.
SCORED_LANGUAGES = frozenset({"en"})

#: Longer texts are scored on their start: the score is stable by then and the cost stays bounded.
MAX_SCORED_CHARS = 10_000


@dataclass(frozen=True)
class Thresholds:
    negative: float = -0.05
    positive: float = 0.05


@dataclass(frozen=True)
class ScoredSentiment(Sentiment):
    """A Sentiment that also carries the customer-service signals it was labelled with (for triage)."""

    signals: Signals | None = None


class Analyzer(SentimentIntensityAnalyzer):
    """VADER plus the complaint analyser the label listens to."""

    complaints: ComplaintAnalyser


def make_analyzer(
    lexicon: Mapping[str, float] | None = None,
    *,
    complaint_lexicon: Mapping[str, Mapping[str, float]] | None = None,
    complaint_threshold: float = COMPLAINT_THRESHOLD,
) -> Analyzer:
    """A VADER analyzer with brand terms merged in (e.g. a product name VADER misreads).

    ``complaint_lexicon`` ({lang: {term: weight}}) extends the shipped complaint lexicons.
    """
    if not lexicon and not complaint_lexicon and complaint_threshold == COMPLAINT_THRESHOLD:
        return _base_analyzer()
    analyzer = Analyzer()
    if lexicon:
        analyzer.lexicon.update({term.lower(): float(valence) for term, valence in lexicon.items()})
    analyzer.complaints = (
        ComplaintAnalyser(complaint_lexicon, complaint_threshold)
        if complaint_lexicon or complaint_threshold != COMPLAINT_THRESHOLD
        else default_analyser()
    )
    return analyzer


def analyzer_for(config: SentimentConfig) -> Analyzer:
    """The analyzer a [sentiment] config section asks for."""
    return make_analyzer(
        config.lexicon,
        complaint_lexicon=config.complaint_lexicon,
        complaint_threshold=config.complaint_threshold,
    )


@lru_cache(maxsize=1)
def _base_analyzer() -> Analyzer:
    # Loading the lexicon costs ~50 ms; share the read-only default between threads.
    analyzer = Analyzer()
    analyzer.complaints = default_analyser()
    return analyzer


def clean_text(text: str) -> str:
    """Drop characters that carry no meaning for scoring (NUL, zero-width, other controls)."""
    # Printable text has no Cc or Cf character at all (str.isprintable is False for both): nothing to drop.
    if text.isprintable() or text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return "".join(
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf") or ch == "\u200d"
    )


def label_for(compound: float, thresholds: Thresholds) -> str:
    if compound <= thresholds.negative:
        return "negative"
    if compound >= thresholds.positive:
        return "positive"
    return "neutral"


def decide_label(compound: float, lang: str, signals: Signals | None, thresholds: Thresholds = Thresholds()) -> str:
    """The label from VADER's compound and the complaint signals (see the module docstring)."""
    if lang not in SCORED_LANGUAGES and lang != "und":
        # The complaint lexicons route such items (triage's unscored policy) but are no sentiment model.
        return "unscored"
    if signals is not None and signals.complaint:
        return "negative"
    label = label_for(compound, thresholds)
    if (
        label == "negative"
        and signals is not None
        and "resolved" in signals.intents
        and signals.score < 0.25
        and "dissatisfaction" not in signals.intents
    ):
        # "No problems at all", "never had an issue": VADER counts the negated problem word.
        return "neutral"
    return label


def score(
    text: str,
    lang: str,
    analyzer: SentimentIntensityAnalyzer,
    thresholds: Thresholds = Thresholds(),
) -> Sentiment:
    """VADER scores for ``text`` and the label (negative/neutral/positive/unscored) for ``lang``."""
    head = clean_text(text[:MAX_SCORED_CHARS])
    scores = analyzer.polarity_scores(head)
    compound = float(scores["compound"])
    complaints = getattr(analyzer, "complaints", None) or default_analyser()
    signals = complaints.analyse(head, lang)
    return ScoredSentiment(
        compound=compound,
        neg=float(scores["neg"]),
        neu=float(scores["neu"]),
        pos=float(scores["pos"]),
        label=decide_label(compound, lang, signals, thresholds),
        lang=lang,
        signals=signals,
    )
