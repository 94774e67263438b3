"""The customer-service signal layer: does this message complain, about what, and does it ask us something?

VADER reads general sentiment; customers complain in neutral words ("on hold for 2 hours",
"where is my refund?") or in sarcastic positive ones ("great, another delay"). This module
finds that evidence with English patterns (compiled once) and per-language lexicons
(``scoring/lexicons/*.toml``, extendable from config), and says what it matched so
triage can give human-readable reasons. Pure and thread-safe once built.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from socialwatch.scoring.english_rules import ENGLISH_RULES
from socialwatch.scoring.gates import WORD_START_PIECES, compile_rules, word_start_key
from socialwatch.scoring.lexicon import Lexicon, build_lexicon, load_lexicons

log = logging.getLogger(__name__)

#: A score at or above this makes ``Signals.complaint`` true.
COMPLAINT_THRESHOLD = 0.5

#: Intents that are problems a support agent must handle (the rest are tone or form).
PROBLEM_INTENTS = frozenset(
    {
        "waiting",
        "delay",
        "cancellation",
        "lost_damaged",
        "refund",
        "charge",
        "outage",
        "error",
        "account_security",
        "rude_staff",
        "broken_promise",
        "no_response",
        "repeat_contact",
        "escalation",
    }
)

#: Intents that count against a complaint.
COUNTER_INTENTS = frozenset({"praise", "resolved"})


@dataclass(frozen=True)
class Signals:
    complaint: bool
    score: float  # 0..1: how complaint-like
    intents: tuple[str, ...]  # distinct, in order of first evidence
    question_to_brand: bool
    matched: tuple[str, ...]  # human-readable evidence: "delay: 'delayed again'"
    lang: str = "und"
    lexicon: bool = False  # whether a lexicon for ``lang`` (beyond English) was consulted

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(i for i in self.intents if i in PROBLEM_INTENTS)


NO_SIGNALS = Signals(False, 0.0, (), False, ())


#: Emoji customers use to complain (a set test: a character class of emoji is slow in ``re``).
_ANGRY_EMOJI = frozenset("😡🤬👎🙄😤😠💩🤮😒😞😩😫🤦😣😖😑")
# The same set as a character class: ``re`` scans for it in C (a set test walks the text in Python objects);
# the first match is the first such character of the text.
_ANGRY_EMOJI_SEARCH = re.compile("[" + "".join(sorted(_ANGRY_EMOJI)) + "]").search

_QUESTION_START = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|excuse me|quick question|question)?[,!.:\s]*"
    r"(?:(?:how|what|when|where|which|who|why)(?:'s|'re)?\s+(?:do|does|did|is|are|was|were|can|could|will|would|"
    r"should|shall|have|has|much|many|long|often|time|day|kind|type|happened|happens|about)\b|"
    r"(?:can|could|do|does|did|is|are|will|would|should|may|have|has|any)\s+(?:i|you|we|it|there|my|your|u|ya|they|"
    r"he|she|this|that|anyone|someone|somebody|one|update|news)\b|is there\b|are there\b|anyone know\b)"
)
# Handles and "RT" only where no word character precedes them. The lookbehind comes after the first
# character ("@(?<!\w@)" is "(?<!\w)@"): every alternative then starts with a literal, and ``re`` skips
# to the next "h", "w", "@", "R" or "&" instead of trying a lookbehind at every position (3x faster).
_HANDLE_OR_LINK = re.compile(r"https?://\S+|www\.\S+|@(?<!\w@)\w+|R(?<!\wR)T\b:?|&amp;")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u201c": '"', "\u201d": '"'})
# The same mapping as replacements: one-character keys, values that are not keys (no order effects).
_APOSTROPHE_PAIRS = tuple((chr(key), str(value)) for key, value in _APOSTROPHES.items())


def normalise(text: str) -> str:
    """Lower case, plain apostrophes, handles and links removed, spaces collapsed."""
    # str.translate walks every character; the six it maps are rare.
    for key, value in _APOSTROPHE_PAIRS:
        if key in text:
            text = text.replace(key, value)
    text = _HANDLE_OR_LINK.sub(" ", text)
    return " ".join(text.split()).lower()


# --- the analyser ----------------------------------------------------------------------------------------


class ComplaintAnalyser:
    """English rules plus per-language lexicons. Build once (compiles ~150 patterns); share between threads."""

    def __init__(
        self,
        extra_lexicon: Mapping[str, Mapping[str, float]] | None = None,
        threshold: float = COMPLAINT_THRESHOLD,
    ) -> None:
        self.rules = compile_rules(ENGLISH_RULES)
        self._index_rules()
        self.lexicons = load_lexicons(extra_lexicon)
        self.threshold = threshold
        # Unknown language: every lexicon is tried (one alternation of all terms, folded).
        self._any = build_lexicon(
            "und",
            _merge_tables(lex for code, lex in self.lexicons.items() if code != "en"),
            fold_diacritics=True,
        )

    def _index_rules(self) -> None:
        """Index self.rules' gates (called again after replacing the rules, e.g. in tests)."""
        # Which rules can match a text, in three cheap steps before any regular expression runs: the
        # three characters at each start of a word of the text select gate strings by a piece of them
        # that starts a word wherever they occur (_word_start_key), a substring test keeps those that
        # occur, and only the rules gated by them are searched (plus ungated rules, and rules of gate
        # strings with no such piece, tested as substrings on every text). Rule sets are bit masks
        # (bit i: rule i): collecting candidates is integer ORs, and they come out in rule order.
        self._ungated = tuple(i for i, rule in enumerate(self.rules) if rule.gate is None)
        self._ungated_mask = sum(1 << index for index in self._ungated)
        by_key: dict[str, dict[str, int]] = {}
        direct: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            at_word_start = set(rule.gate_word_start)
            for string in rule.gate or ():
                key = word_start_key(string, string in at_word_start)
                table = direct if key is None else by_key.setdefault(key, {})
                table[string] = table.get(string, 0) | 1 << index
        self._key_set = set(by_key)
        self._key_masks = {key: tuple(sorted(strings.items())) for key, strings in sorted(by_key.items())}
        self._direct_ascii = tuple((s, mask) for s, mask in sorted(direct.items()) if s.isascii())
        self._direct_other = tuple((s, mask) for s, mask in sorted(direct.items()) if not s.isascii())

    def analyse(self, text: str, lang: str = "und") -> Signals:
        norm = normalise(text)
        if not norm:
            return Signals(False, 0.0, (), False, (), lang)
        evidence: list[tuple[str, float, str]] = []
        mask = self._ungated_mask
        key_masks = self._key_masks
        for key in self._key_set.intersection(WORD_START_PIECES.findall(norm)):
            for string, rules in key_masks[key]:
                if string in norm:
                    mask |= rules
        for string, rules in self._direct_ascii:
            if string in norm:
                mask |= rules
        if not norm.isascii():  # the other strings cannot occur in ASCII text
            for string, rules in self._direct_other:
                if string in norm:
                    mask |= rules
        rules_ = self.rules
        while mask:
            low = mask & -mask
            mask ^= low
            rule = rules_[low.bit_length() - 1]
            match = rule.pattern.search(norm)
            if match:
                evidence.append((rule.intent, rule.weight, match.group(0).strip()))
        if not norm.isascii():
            angry = _ANGRY_EMOJI_SEARCH(norm)
            if angry is not None:
                evidence.append(("dissatisfaction", 0.6, angry.group()))
        lexicon = self.lexicons.get(lang)
        if lexicon is not None:
            evidence.extend(lexicon.find(norm))
        elif lang == "und":
            evidence.extend(self._any.find(norm))
        score, intents, matched = _combine(evidence)
        question = "?" in norm or "¿" in norm or bool(_QUESTION_START.match(norm))
        if question and "question" not in intents:
            intents = intents + ("question",)
        return Signals(
            complaint=score >= self.threshold,
            score=round(score, 3),
            intents=intents,
            question_to_brand=question,
            matched=matched,
            lang=lang,
            lexicon=lexicon is not None and lang != "en",
        )


def _merge_tables(lexicons: Iterable[Lexicon]) -> dict[str, dict[str, float]]:
    merged: dict[str, dict[str, float]] = {}
    for lex in lexicons:
        for entry in lex.entries:
            term = ("*" if entry.suffix else "") + " ".join(entry.words) + ("*" if entry.prefix else "")
            # Folding only touches marks on ASCII letters, so non-Latin terms pass through unchanged.
            merged.setdefault(entry.intent, {}).setdefault(term, entry.weight)
    return merged


def _combine(evidence: list[tuple[str, float, str]]) -> tuple[float, tuple[str, ...], tuple[str, ...]]:
    """Noisy-OR of the evidence for a complaint, damped by the evidence against.

    Praise only damps when no sarcasm was found: "thanks for nothing" is not thanks.
    """
    best: dict[str, tuple[float, str]] = {}
    for intent, weight, text in evidence:
        # One piece of evidence per intent: five "delay" words are not five times the evidence.
        if intent not in best or abs(weight) > abs(best[intent][0]):
            best[intent] = (weight, text)
    sarcastic = "sarcasm" in best
    keep_against = {i for i in best if best[i][0] < 0 and not (sarcastic and i == "praise")}
    for_ = 1.0
    against = 1.0
    for intent, (weight, _) in best.items():
        if weight > 0:
            for_ *= 1.0 - min(weight, 0.99)
        elif intent in keep_against:
            against *= 1.0 - min(-weight, 0.99)
    score = (1.0 - for_) * against
    order = [i for i, _, _ in evidence]
    intents = tuple(i for i in dict.fromkeys(order) if best[i][0] > 0 or i in keep_against)
    matched = tuple(f"{i}: '{best[i][1]}'" for i in intents)
    return score, intents, matched


@lru_cache(maxsize=1)
def default_analyser() -> ComplaintAnalyser:
    return ComplaintAnalyser()


def analyse(text: str, lang: str = "und") -> Signals:
    """Customer-service signals of ``text`` with the shipped patterns and lexicons."""
    return default_analyser().analyse(text, lang)
