"""Figures of a triage decision on labelled examples, per language, and choosing decision thresholds.

- precision / recall of the negative class (the label);
- ``caught``: share of negatives labelled negative *or* sent to a person (needs_reply);
- ``false_flag``: share of non-negatives labelled negative or sent to a person;
- ``macro_recall``: mean recall of negative, neutral and positive (where the set has all three).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from socialwatch.learning.model import CLASSES

#: Targets of the thresholds (every language): catch 80% of negatives, flag at most 35% of the rest.
TARGET_CAUGHT = 0.80
TARGET_FALSE_FLAG = 0.35
#: Thresholds aim a little above the target, since the dev split is a sample.
MARGIN = 0.04
#: A threshold meeting both targets is preferred to the margin above only with this much room on each side.
BOTH_ROOM = MARGIN / 2
#: Where the two targets conflict, recall wins up to this share of false flags.
FALSE_FLAG_CAP = 0.45


@dataclass(frozen=True)
class Decision:
    """What triage made of one example."""

    gold: str
    label: str
    flagged: bool  # labelled negative or needs_reply


@dataclass(frozen=True)
class Figures:
    n: int
    negatives: int
    precision: float
    recall: float
    caught: float
    false_flag: float
    macro_recall: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def figures(decisions: Sequence[Decision]) -> Figures:
    neg = [d for d in decisions if d.gold == "negative"]
    rest = [d for d in decisions if d.gold != "negative"]
    said_neg = [d for d in decisions if d.label == "negative"]
    precision = sum(d.gold == "negative" for d in said_neg) / len(said_neg) if said_neg else 0.0
    recall = sum(d.label == "negative" for d in neg) / len(neg) if neg else 0.0
    caught = sum(d.flagged for d in neg) / len(neg) if neg else 0.0
    false_flag = sum(d.flagged for d in rest) / len(rest) if rest else 0.0
    present = {d.gold for d in decisions}
    macro = None
    if set(CLASSES) <= present:
        macro = sum(
            sum(d.label == c for d in decisions if d.gold == c) / sum(d.gold == c for d in decisions) for c in CLASSES
        ) / len(CLASSES)
    return Figures(len(decisions), len(neg), precision, recall, caught, false_flag, macro)


def by_language(pairs: Iterable[tuple[str, Decision]]) -> dict[str, Figures]:
    groups: dict[str, list[Decision]] = defaultdict(list)
    for lang, decision in pairs:
        groups[lang].append(decision)
    return {lang: figures(ds) for lang, ds in sorted(groups.items())}


def choose_threshold(scores: Sequence[float], negative: Sequence[bool], flagged: Sequence[bool] | None = None) -> float:
    """The highest P(negative) threshold that still catches TARGET_CAUGHT + MARGIN of the negatives; if that
    flags more than TARGET_FALSE_FLAG of the rest, a threshold meeting both targets where one exists
    (``_meeting_both``); else, if it flags more than FALSE_FLAG_CAP, the lowest threshold within the cap.

    ``flagged`` says which examples the rest of triage sends to a person anyway (a question, a complaint
    the rules see): they count as caught, or as flagged, whatever the threshold."""
    base = list(flagged) if flagged is not None else [False] * len(scores)
    rows = list(zip(scores, negative, base, strict=True))
    caught_anyway = sum(1 for _, n, b in rows if n and b)
    flagged_anyway = sum(1 for _, n, b in rows if not n and b)
    pos = sorted((s for s, n, b in rows if n and not b), reverse=True)
    others = sorted(s for s, n, b in rows if not n and not b)
    negatives = caught_anyway + len(pos)
    non_negatives = flagged_anyway + len(others)
    if not pos:
        return 0.5 if negatives else 0.99
    need = round(negatives * (TARGET_CAUGHT + MARGIN) + 0.4999) - caught_anyway
    if need <= 0:
        # The rules already catch enough: only the model's sure negatives.
        return 0.5
    need = min(len(pos), need)
    # Stored rounded down (never above the score it keeps); scores of -1 (not the model's call) never count.
    threshold = max(0.01, math.floor(pos[need - 1] * 10_000) / 10_000)
    if others:
        share = (flagged_anyway + sum(s >= threshold for s in others)) / non_negatives
        if share > TARGET_FALSE_FLAG:
            both = _meeting_both(pos, others, caught_anyway, flagged_anyway, negatives, non_negatives)
            if both is not None:
                return both
        if share > FALSE_FLAG_CAP:
            # Just above the score of the highest non-negative that must not be flagged: at most
            # FALSE_FLAG_CAP of them (with those flagged anyway) lie above it.
            allowed = max(0, int(non_negatives * FALSE_FLAG_CAP) - flagged_anyway)
            if allowed >= len(others):
                return round(float(threshold), 4)
            threshold = max(0.01, math.floor(others[len(others) - allowed - 1] * 10_000) / 10_000 + 0.0001)
    return round(float(threshold), 4)


def _meeting_both(
    pos: Sequence[float],
    others: Sequence[float],
    caught_anyway: int,
    flagged_anyway: int,
    negatives: int,
    non_negatives: int,
) -> float | None:
    """The threshold meeting both targets with the most room on its tighter side, or None if none does.

    Where catching TARGET_CAUGHT + MARGIN costs more than TARGET_FALSE_FLAG, a point that meets both
    targets (with less margin on each) is what a brand asked for; the room left is split evenly, since
    the report half drifts either way, and a point is taken only with BOTH_ROOM to spare on each side (a
    point just at both targets on a tune half of ~50 negatives is a coin toss on the report half).
    ``pos`` is sorted high to low, ``others`` low to high."""
    candidates = sorted({max(0.01, math.floor(s * 10_000) / 10_000) for s in pos})
    high = sorted(pos)
    best: tuple[float, float] | None = None
    for cut in candidates:
        caught = (caught_anyway + len(high) - bisect.bisect_left(high, cut)) / negatives
        flagged = (flagged_anyway + len(others) - bisect.bisect_left(others, cut)) / non_negatives
        room = min(caught - TARGET_CAUGHT, TARGET_FALSE_FLAG - flagged)
        if room >= BOTH_ROOM - 1e-9 and (best is None or room > best[0]):
            best = (room, cut)
    return None if best is None else round(best[1], 4)


def render(table: dict[str, Figures], title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{'lang':<18}{'n':>6}{'neg':>6}{'P(neg)':>8}{'R(neg)':>8}{'caught':>8}{'f-flag':>8}{'macroR':>8}")
    for lang, f in table.items():
        macro = f"{f.macro_recall:.3f}" if f.macro_recall is not None else "-"
        lines.append(
            f"{lang:<18}{f.n:>6}{f.negatives:>6}{f.precision:>8.3f}{f.recall:>8.3f}{f.caught:>8.3f}"
            f"{f.false_flag:>8.3f}{macro:>8}"
        )
    return "\n".join(lines)
