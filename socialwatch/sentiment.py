"""Sentiment: the VADER compound score and a label, with the brand's own lexicon on top.

VADER is English-only; text in a language it cannot read is labelled "unscored"
rather than silently "neutral", so routing can send it to a human instead of dropping it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from socialwatch.models import Sentiment

#: Languages VADER's lexicon and rules were built for.
SCORED_LANGUAGES = frozenset({"en"})

#: Longer texts are scored on their start: the score is stable by then and the cost stays bounded.
MAX_SCORED_CHARS = 10_000


@dataclass(frozen=True)
class Thresholds:
    negative: float = -0.05
    positive: float = 0.05


def make_analyzer(lexicon: Mapping[str, float] | None = None) -> SentimentIntensityAnalyzer:
    """A VADER analyzer with brand terms merged in (e.g. a product name VADER misreads)."""
    analyzer = _base_analyzer() if not lexicon else SentimentIntensityAnalyzer()
    if lexicon:
        analyzer.lexicon.update({term.lower(): float(valence) for term, valence in lexicon.items()})
    return analyzer


@lru_cache(maxsize=1)
def _base_analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon costs ~50 ms; share the read-only default between threads.
    return SentimentIntensityAnalyzer()


def clean_text(text: str) -> str:
    """Drop characters that carry no meaning for scoring (NUL, zero-width, other controls)."""
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


def score(
    text: str,
    lang: str,
    analyzer: SentimentIntensityAnalyzer,
    thresholds: Thresholds = Thresholds(),
) -> Sentiment:
    """VADER scores for ``text``; label "unscored" when ``lang`` is one VADER cannot read."""
    scores = analyzer.polarity_scores(clean_text(text[:MAX_SCORED_CHARS]))
    compound = float(scores["compound"])
    scored = lang in SCORED_LANGUAGES or lang == "und"
    return Sentiment(
        compound=compound,
        neg=float(scores["neg"]),
        neu=float(scores["neu"]),
        pos=float(scores["pos"]),
        label=label_for(compound, thresholds) if scored else "unscored",
        lang=lang,
    )
