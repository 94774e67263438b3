"""Regex pre-filters: for each compiled rule, literal strings one of which every match must contain.

A rule's ``gate`` lets the analyser skip its regular expression for the texts that cannot match (most
of them); the strings are derived exactly from ``re``'s own parse of the pattern, so a gate never
hides a match. When the private parser changes, rules simply run ungated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    intent: str
    weight: float  # > 0 evidence of a complaint, < 0 evidence against
    pattern: re.Pattern[str]
    # Strings one of which every match contains (derived from the pattern): a cheap test that skips
    # the regular expression for most texts. None: no such set could be derived, always search.
    gate: tuple[str, ...] | None = None
    # The gate strings that start with a word character at the start of a word in every match (after
    # ``\b``, a space or other non-word character): a piece of them can be looked for at word starts only.
    gate_word_start: tuple[str, ...] = ()


_RARITY = {ch: rank for rank, ch in enumerate("etaoinsrhldcumfpgwybvkxjqz")}


_WORD_CHAR = re.compile(r"\w")
#: The three characters from each start of a word (a word character after a non-word one, or first).
WORD_START_PIECES = re.compile(r"\b(?=(\w[\s\S][\s\S]))")


def word_start_key(string: str, at_word_start: bool) -> str | None:
    """Three characters of ``string`` that, wherever ``string`` occurs in a match, start a word of the
    text (so WORD_START_PIECES finds them), the rarest-looking; None if there are none."""
    keys = [
        string[j : j + 3]
        for j in range(len(string) - 2)
        if _WORD_CHAR.match(string[j])
        and ((j > 0 and not _WORD_CHAR.match(string[j - 1])) or (j == 0 and at_word_start))
    ]
    return max(keys, key=lambda g: sum(_RARITY.get(ch, 13) for ch in g)) if keys else None


def compile_rules(rules: Iterable[tuple[str, float, str]]) -> tuple[Rule, ...]:
    # No IGNORECASE: texts are lower-cased by normalise(), and IGNORECASE makes ``re`` several times slower.
    rules_: list[Rule] = []
    for intent, weight, pattern in rules:
        parts = _gate_parts(pattern)
        gate = tuple(sorted({string for string, _ in parts})) if parts else None
        at_word_start = {string for string, start in parts or () if start}
        # A string found both at and not at a word start (two branches) counts as not: the safe side.
        at_word_start -= {string for string, start in parts or () if not start}
        rules_.append(Rule(intent, weight, re.compile(pattern), gate, tuple(sorted(at_word_start))))
    return tuple(rules_)


def _only_non_word(op: Any, arg: Any) -> bool:
    """Whether the parsed item consumes a non-word character (and nothing else)."""
    from re import _constants as c  # type: ignore[attr-defined]

    if op is c.LITERAL:
        return not _WORD_CHAR.match(chr(arg))
    if op is c.IN:
        return all(
            (member is c.LITERAL and not _WORD_CHAR.match(chr(value)))
            or (member is c.CATEGORY and value in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD))
            for member, value in arg
        )
    return False


def _gate_parts(pattern: str) -> set[tuple[str, bool]] | None:
    r"""Literal strings one of which must occur in any text the pattern matches, or None; each with
    whether, in every match, it starts at the start of a word of the text.

    Derived from the parsed pattern (a literal run, or every branch of an alternation, or the
    body of a repeat of at least one, or a class of plain characters), so it is exact, not a
    guess; the rarest-looking choice (fewest, longest strings) wins. A run starts a word when it
    starts with a word character right after ``\b``, ``^``, or something that consumes only
    non-word characters (a space, ``\s+``, "my "). Uses ``re``'s parser, which is private: if it
    changes, rules simply run without gates.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser as parser  # type: ignore[attr-defined]

        # The parser's items are (opcode, argument) pairs whose argument's type depends on the opcode: Any.
        def required(items: Iterable[tuple[Any, Any]], start: bool) -> tuple[set[tuple[str, bool]] | None, bool]:
            """(the rarest requirement of the sequence, whether what follows it starts a word) when a word
            character after what precedes it (``start``) would start a word."""
            run, run_start = "", False
            options: list[set[tuple[str, bool]] | None] = []
            for op, arg in items:
                if op is c.LITERAL:
                    if not run:
                        run_start = start
                    run += chr(arg)
                    start = _only_non_word(op, arg)
                    continue
                if run:
                    options.append({(run, run_start)})
                    run = ""
                if op is c.AT:  # zero width: what held still holds
                    if arg in (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING):
                        start = True
                    elif arg is c.AT_NON_BOUNDARY:
                        start = False
                    continue
                if op in (c.ASSERT, c.ASSERT_NOT):  # zero width
                    continue
                if op is c.SUBPATTERN:
                    found, start = required(arg[-1], start)
                    options.append(found)
                elif op is c.BRANCH:
                    branches = [required(branch, start) for branch in arg[1]]
                    sets = [b for b, _ in branches if b is not None]
                    options.append(None if len(sets) < len(branches) else set().union(*sets))
                    start = all(end for _, end in branches)
                elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                    low, _, body = arg
                    if low >= 1:
                        options.append(required(body, start)[0])  # the first repetition
                    # After the last repetition (any start: the weakest assumption), or after none.
                    end = required(body, False)[1]
                    start = end if low >= 1 else start and end
                elif op is c.IN and all(member is c.LITERAL for member, _ in arg):
                    # A class of plain characters ("[😍🔥]"): one of them occurs.
                    options.append({(chr(value), start) for _, value in arg})
                    start = _only_non_word(op, arg)
                else:
                    start = _only_non_word(op, arg)
            if run:
                options.append({(run, run_start)})
            usable = [o for o in options if o]
            best = min(usable, key=lambda o: sum(len(x) ** -3 for x in {s for s, _ in o})) if usable else None
            return best, start

        found = required(list(parser.parse(pattern)), False)[0]
    except Exception:  # pragma: no cover - depends on the interpreter's private modules
        log.debug("no gate for pattern %.40s", pattern)
        return None
    return found or None
