"""Sentiment: the VADER compound score, and a label that also listens to the customer-service layer.

VADER's scores are reported as they are. The label is VADER's unless the complaint layer
(scoring/complaints.py) has evidence: "on hold for 2 hours" or "great, another delay"
are negative whatever VADER says, and "never had a problem with you" is not. VADER is
English-only; text in another language is labelled "unscored" (never silently "neutral"),
and triage routes it by policy, using the complaint lexicons of that language to tell
complaints from chatter, so a complaint goes to a human instead of being dropped.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT as _BOOSTER_DICT
from vaderSentiment.vaderSentiment import C_INCR as _C_INCR
from vaderSentiment.vaderSentiment import N_SCALAR as _N_SCALAR
from vaderSentiment.vaderSentiment import NEGATE as _NEGATE_WORDS
from vaderSentiment.vaderSentiment import SPECIAL_CASES as _SPECIAL_CASES
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
from vaderSentiment.vaderSentiment import scalar_inc_dec as _scalar_inc_dec

from socialwatch.learning.model import Model
from socialwatch.models import Sentiment
from socialwatch.scoring.complaints import COMPLAINT_THRESHOLD, ComplaintAnalyser, Signals, default_analyser

if TYPE_CHECKING:
    from socialwatch.config.schema import SentimentConfig

_NEGATE = frozenset(_NEGATE_WORDS)
_PUNCTUATION = string.punctuation
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ANY_CHAR = re.compile(r"[\s\S]")

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
    #: The learned model's P(negative), its threshold in this language and its name; None without a model.
    model_score: float | None = None
    model_threshold: float | None = None
    model: str | None = None
    #: Who said which language this is: platform, detected, history or default (scoring/langid.py).
    lang_source: str = "platform"


# vaderSentiment has no type information: mypy sees its class as Any.
class Analyzer(SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER plus the complaint analyser the label listens to.

    ``polarity_scores`` is upstream VADER's (vaderSentiment 3.3.2) rule for rule, in the same order and
    with the same float operations, so the scores are identical (tests/test_perf_equivalence.py compares
    them on ~20,000 texts); it is more than twice as fast because it lower-cases the words once instead
    of once per rule, skips the emoji scan for ASCII text (no emoji is ASCII), and returns upstream's
    all-neutral scores directly for a text without a word of valence.
    """

    complaints: ComplaintAnalyser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Upstream replaces emojis character by character; no emoji of its lexicon is ASCII, so ASCII text
        # has none (a lexicon with an ASCII key makes every character a candidate).
        self._emoji_candidates = _ANY_CHAR if any(key.isascii() for key in self.emojis) else _NON_ASCII

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not isinstance(text, str):  # upstream accepts anything str() takes
            return dict(super().polarity_scores(text))  # type: ignore[unreachable]
        if self._emoji_candidates is _ANY_CHAR or not text.isascii():
            # Each emoji becomes its description, after a space unless it starts the text or follows a
            # space: upstream's character loop says exactly that (an emoji is never a space itself).
            emojis = self.emojis
            original = text

            def describe(match: re.Match[str]) -> str:
                ch = match.group()
                description: str | None = emojis.get(ch)
                if description is None:
                    return ch
                start = match.start()
                return description if start == 0 or original[start - 1] == " " else " " + description

            text = self._emoji_candidates.sub(describe, text)
        text = text.strip()
        words = [token if len(stripped := token.strip(_PUNCTUATION)) <= 2 else stripped for token in text.split()]
        lowers = [word.lower() for word in words]
        count = len(words)
        caps = sum(1 for word in words if word.isupper())
        is_cap_diff = 0 < count - caps < count
        lexicon = self.lexicon
        sentiments: list[float] = []
        for i, item in enumerate(words):
            lower = lowers[i]
            if lower in _BOOSTER_DICT or (i < count - 1 and lower == "kind" and lowers[i + 1] == "of"):
                sentiments.append(0)
                continue
            valence: float = 0
            if lower in lexicon:
                valence = lexicon[lower]
                if lower == "no" and i != count - 1 and lowers[i + 1] in lexicon:
                    valence = 0.0
                if (
                    (i > 0 and lowers[i - 1] == "no")
                    or (i > 1 and lowers[i - 2] == "no")
                    or (i > 2 and lowers[i - 3] == "no" and lowers[i - 1] in ("or", "nor"))
                ):
                    valence = lexicon[lower] * _N_SCALAR
                if item.isupper() and is_cap_diff:
                    if valence > 0:
                        valence += _C_INCR
                    else:
                        valence -= _C_INCR
                for start_i in range(0, 3):
                    if i > start_i and lowers[i - (start_i + 1)] not in lexicon:
                        s = _scalar_inc_dec(words[i - (start_i + 1)], valence, is_cap_diff)
                        if start_i == 1 and s != 0:
                            s = s * 0.95
                        if start_i == 2 and s != 0:
                            s = s * 0.9
                        valence = valence + s
                        valence = _negation_check(valence, lowers, start_i, i)
                        if start_i == 2:
                            valence = _special_idioms_check(valence, lowers, i)
                # _least_check
                if i > 1 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
                    if lowers[i - 2] != "at" and lowers[i - 2] != "very":
                        valence = valence * _N_SCALAR
                elif i > 0 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
                    valence = valence * _N_SCALAR
            sentiments.append(valence)
        if "but" in lowers:
            sentiments = self._but_check(words, sentiments)
        if sentiments and not any(sentiments):
            # No word with a valence (a quarter of tweets): upstream's score_valence sums to 0.0, which no
            # punctuation amplifies, normalises to 0.0 and counts every word neutral.
            return {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}
        scores: dict[str, float] = self.score_valence(sentiments, text)
        return scores


def _negated(word: str) -> bool:
    """Upstream ``negated([word])`` for one lower-cased word."""
    return word in _NEGATE or "n't" in word


def _negation_check(valence: float, lowers: list[str], start_i: int, i: int) -> float:
    if start_i == 0:
        if _negated(lowers[i - 1]):
            valence = valence * _N_SCALAR
    if start_i == 1:
        if lowers[i - 2] == "never" and (lowers[i - 1] == "so" or lowers[i - 1] == "this"):
            valence = valence * 1.25
        elif lowers[i - 2] == "without" and lowers[i - 1] == "doubt":
            pass
        elif _negated(lowers[i - 2]):
            valence = valence * _N_SCALAR
    if start_i == 2:
        if (lowers[i - 3] == "never" and (lowers[i - 2] == "so" or lowers[i - 2] == "this")) or (
            lowers[i - 1] == "so" or lowers[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lowers[i - 3] == "without" and (lowers[i - 2] == "doubt" or lowers[i - 1] == "doubt"):
            pass
        elif _negated(lowers[i - 3]):
            valence = valence * _N_SCALAR
    return valence


def _special_idioms_check(valence: float, lowers: list[str], i: int) -> float:
    onezero = f"{lowers[i - 1]} {lowers[i]}"
    twoonezero = f"{lowers[i - 2]} {lowers[i - 1]} {lowers[i]}"
    twoone = f"{lowers[i - 2]} {lowers[i - 1]}"
    threetwoone = f"{lowers[i - 3]} {lowers[i - 2]} {lowers[i - 1]}"
    threetwo = f"{lowers[i - 3]} {lowers[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in _SPECIAL_CASES:
            valence = _SPECIAL_CASES[seq]
            break
    if len(lowers) - 1 > i:
        zeroone = f"{lowers[i]} {lowers[i + 1]}"
        if zeroone in _SPECIAL_CASES:
            valence = _SPECIAL_CASES[zeroone]
    if len(lowers) - 1 > i + 1:
        zeroonetwo = f"{lowers[i]} {lowers[i + 1]} {lowers[i + 2]}"
        if zeroonetwo in _SPECIAL_CASES:
            valence = _SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in _BOOSTER_DICT:
            valence = valence + _BOOSTER_DICT[n_gram]
    return valence


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
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf") or ch == "\u200d")


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


#: A plain question to the brand is labelled negative only when the model is this sure: it needs a reply
#: anyway, and "How do I change my delivery address?" is no unhappy customer.
QUESTION_NEGATIVE = 0.8


def learned_label(label: str, p_negative: float, fallback: str, signals: Signals | None) -> str:
    """The learned model's label, with the complaint rules kept (they were written for customer service,
    the corpora are general): a complaint they recognise is negative whatever the model says; a problem
    they see solved ("the outage is fixed, thanks") or a plain question is not negative unless the model
    is sure. ``fallback`` is the model's best label other than negative."""
    if signals is None:
        return label
    if signals.complaint:
        return "negative"
    if label != "negative" or (signals.problems and "dissatisfaction" in signals.intents):
        return label
    if "resolved" in signals.intents and signals.score < 0.25 and "dissatisfaction" not in signals.intents:
        return fallback
    if signals.question_to_brand and p_negative < QUESTION_NEGATIVE:
        return fallback
    return label


def score(
    text: str,
    lang: str,
    analyzer: SentimentIntensityAnalyzer,
    thresholds: Thresholds = Thresholds(),
    model: Model | None = None,
    model_thresholds: Mapping[str, float] | None = None,
    lang_source: str = "platform",
) -> Sentiment:
    """VADER scores for ``text`` and the label (negative/neutral/positive/unscored) for ``lang``.

    With a learned model that knows ``lang`` (trained on it or borrowing a neighbour's weights), the
    model sets the label, with the complaint rules; VADER's compound is still reported (managers see it).
    Without one, or in a language it does not know, the label is VADER's and the rules' as before.
    """
    head = clean_text(text[:MAX_SCORED_CHARS])
    scores = analyzer.polarity_scores(head)
    compound = float(scores["compound"])
    complaints = getattr(analyzer, "complaints", None) or default_analyser()
    signals = complaints.analyse(head, lang)
    model_score = cut = None
    name = None
    if model is not None and model.knows(lang):
        cut = (model_thresholds or {}).get(lang, model.threshold(lang))
        label, prediction = model.decide(head, lang, cut)
        fallback = "positive" if prediction.positive > prediction.neutral else "neutral"
        label = learned_label(label, prediction.negative, fallback, signals)
        model_score, name = round(prediction.negative, 4), model.name
    else:
        label = decide_label(compound, lang, signals, thresholds)
    return ScoredSentiment(
        compound=compound,
        neg=float(scores["neg"]),
        neu=float(scores["neu"]),
        pos=float(scores["pos"]),
        label=label,
        lang=lang,
        signals=signals,
        model_score=model_score,
        model_threshold=cut,
        model=name,
        lang_source=lang_source,
    )
