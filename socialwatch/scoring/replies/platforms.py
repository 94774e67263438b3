"""Platform rules for replies: one table of surfaces (limit, how length is counted, reply window, who may
be answered), X's weighted length as twitter-text v3 counts it, and the reasons a platform refuses a send.

X counts text as twitter-text v3 does: code points in 0-4351, 8192-8205, 8208-8223 and 8242-8247 weigh 1,
every other weighs 2 (so CJK, most emoji and Ethiopic weigh 2, while Tamil, U+0B80-0BFF, weighs 1); a URL,
with or without ``https://`` (``a.co``), counts 23; an emoji sequence (skin tone, ZWJ family, flag, keycap)
counts 2. URL and emoji recognition are twitter-text's own (the ``twitter-text-parser`` port, which passes
twitter-text's conformance suite), asked only where a text could hold one: the weights are summed here,
because the port's whole-text parse costs about a millisecond a reply.

Tamil is a known disagreement: X's published notes once said Indic scripts count double, while the v3
configuration weighs them 1. Replies are measured as X's configuration says (``x_length``); the shipped
templates are also kept under ``conservative_length``, which counts Tamil double, so they fit either way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from re import Pattern
from typing import Any

X_URL_LENGTH = 23
EMOJI_LENGTH = 2
# twitter-text v3: code points in these ranges weigh 1, every other weighs 2.
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
#: Tamil, which the conservative count weighs 2 although X's configuration weighs it 1.
TAMIL = (0x0B80, 0x0BFF)


@dataclass(frozen=True)
class Surface:
    """Where a reply lands: a public reply or a private message on one platform, and that place's rules."""

    name: str  # how managers read it: "X reply", "Messenger message"
    limit: int  # characters, as ``weighted`` says they are counted
    weighted: bool = False  # counted as X counts a post (twitter-text v3), else in code points
    in_bytes: bool = False  # counted in UTF-8 bytes (an Instagram DM: "1000 bytes or less")
    window: timedelta | None = None  # the platform refuses a reply this long after the customer's message
    needs_mention: bool = False  # X: a reply only to a post that mentions or quotes the brand


#: (platform, public) -> the surface. A new platform adds its rows here, and nowhere else.
SURFACES: dict[tuple[str, bool], Surface] = {
    ("x", True): Surface("X reply", 280, weighted=True, needs_mention=True),
    ("x", False): Surface("X direct message", 10_000),
    ("facebook", True): Surface("Facebook comment", 8_000),
    ("facebook", False): Surface("Messenger message", 2_000, window=timedelta(hours=24)),
    ("instagram", True): Surface("Instagram comment", 2_200),
    # Instagram's 24 h window (7 days with the human-agent tag, [[instagram.accounts]] human_agent) depends on
    # the account, so the Instagram replier refuses outside it; the card does not guess.
    ("instagram", False): Surface("Instagram message", 1_000, in_bytes=True),
}
DEFAULT_SURFACE = Surface("reply", 2_000)


def surface(platform: str, public: bool) -> Surface:
    return SURFACES.get((platform, public), DEFAULT_SURFACE)


def reply_limit(platform: str, public: bool) -> int:
    return surface(platform, public).limit


def measure(text: str, platform: str, public: bool = True) -> int:
    """The length of ``text`` as the platform counts it where it lands."""
    rules = surface(platform, public)
    if rules.in_bytes:
        return len(text.encode("utf-8"))
    return x_length(text) if rules.weighted else len(text)


def limit_unit(platform: str, public: bool) -> str:
    """What ``reply_limit`` counts: "characters", or "bytes" for Instagram DMs."""
    return "bytes" if surface(platform, public).in_bytes else "characters"


def conservative_length(text: str, platform: str, public: bool = True) -> int:
    """``measure``, with Tamil weighing 2 on weighted surfaces: the shipped templates' budget."""
    length = measure(text, platform, public)
    if surface(platform, public).weighted and not text.isascii():
        length += sum(1 for ch in _outside_urls(_normal(text)) if TAMIL[0] <= ord(ch) <= TAMIL[1])
    return length


def window_refusal(platform: str, public: bool, created_at: datetime | None, now: datetime) -> str | None:
    """Why the platform would refuse a reply now (its reply window has closed), or None."""
    rules = surface(platform, public)
    if rules.window is None or created_at is None or now - created_at <= rules.window:
        return None
    hours = int(rules.window.total_seconds() // 3600)
    return (
        f"{rules.name}s can be answered only within {hours} hours of the customer's message; that window has "
        "closed, so the platform would refuse this send. Answer in the platform's own inbox (with a message tag "
        "where the page has one), or wait for the customer to write again."
    )


# --- X's weighted length --------------------------------------------------------------------------

#: Where a URL could start: "://", or a dot between a domain character and a letter (``a.co``, ``xn--``).
_URL_HINT = re.compile(r"://|[^\s.]\.[^\W\d_]", re.UNICODE)
#: Code points outside the light ranges: each weighs 2, i.e. adds 1 to the text's length.
_X_HEAVY = re.compile("[^" + "".join(f"{chr(low)}-{chr(high)}" for low, high in X_LIGHT_RANGES) + "]")
#: Where every emoji sequence but a keycap starts (a cheap test before the exact one).
_EMOJI_BLOCKS = ((0x00A0, 0x00FF), (0x2000, 0x33FF), (0x1F000, 0x1FAFF))
_MAYBE_EMOJI = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _EMOJI_BLOCKS) + "]")
#: Characters in an emoji keycap sequence (``1️⃣``) or a text/emoji presentation selector.
_KEYCAP_OR_SELECTOR = frozenset("\u20e3\ufe0f")


def x_length(text: str) -> int:
    """The length of ``text`` as X counts a post (twitter-text v3): exact, not an estimate."""
    text = _normal(text)
    if not _URL_HINT.search(text):
        return _weighted(text)
    length = 0
    position = 0
    for start, end in _urls(text):
        length += _weighted(text[position:start]) + X_URL_LENGTH
        position = end
    return length + _weighted(text[position:])


def has_link(text: str) -> bool:
    """Whether X would read a link in ``text`` (with or without a protocol)."""
    text = _normal(text)
    return bool(_URL_HINT.search(text)) and bool(_urls(text))


#: An @mention as X, Facebook and Instagram read one: not inside a word or an e-mail address; Instagram
#: handles may hold dots (never at the end).
_MENTION = re.compile(r"(?<![\w@\uff20!#$%&*.])[@\uff20]([\w.]{1,30}\w|\w)")


def mentions_and_links(text: str) -> list[str]:
    """The accounts ``text`` mentions (``@handle``, lowercased) and the links it holds (as written,
    bare domains too, as X and Facebook link them), in order: what a reply would show beyond its words."""
    text = _normal(text)
    found = [f"@{m.group(1).lower()}" for m in _MENTION.finditer(_outside_urls(text))]
    if _URL_HINT.search(text):
        found.extend(text[start:end].strip() for start, end in _urls(text))
    return list(dict.fromkeys(found))


def _normal(text: str) -> str:
    if text.isascii():  # ASCII is NFC already
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")


def _outside_urls(text: str) -> str:
    if not _URL_HINT.search(text):
        return text
    parts, position = [], 0
    for start, end in _urls(text):
        parts.append(text[position:start])
        position = end
    return "".join(parts) + text[position:]


def _weighted(text: str) -> int:
    if text.isascii():
        return len(text)
    length = len(text) + len(_X_HEAVY.findall(text))
    candidates = {found.start() for found in _emoji_starts().finditer(text)} if _MAYBE_EMOJI.search(text) else set()
    if not _KEYCAP_OR_SELECTOR.isdisjoint(text):  # a keycap starts with an ASCII "#", "*" or digit before these
        candidates.update(i - back for i, ch in enumerate(text) if ch in _KEYCAP_OR_SELECTOR for back in (1, 2))
    if not candidates:
        return length
    emoji = _emoji_pattern()
    end = 0
    for position in sorted(candidates):
        if position < end or position < 0:
            continue
        found = emoji.match(text, position)
        if found is None:
            continue
        sequence = found.group(0)
        # twitter-text counts a whole emoji sequence as one character of weight 2.
        length += EMOJI_LENGTH - (len(sequence) + len(_X_HEAVY.findall(sequence)))
        end = found.end()
    return length


def _urls(text: str) -> list[tuple[int, int]]:
    """Where X reads URLs in ``text``: asked word by word (a URL holds no space), each word once."""
    if text.isprintable():  # the only space is " " (every other whitespace is unprintable): find words by it
        words: list[tuple[int, int]] = []
        for hint in _URL_HINT.finditer(text):
            if words and hint.start() < words[-1][1]:
                continue  # in the word just found
            after = text.find(" ", hint.end())
            words.append((text.rfind(" ", 0, hint.start()) + 1, len(text) if after < 0 else after))
    else:
        words = [(word.start(), word.end()) for word in _WORD.finditer(text) if _URL_HINT.search(word.group(0))]
    found: list[tuple[int, int]] = []
    for start, end in words:
        # With the space before it: what precedes a URL decides whether X reads one.
        offset = max(start - 1, 0)
        found.extend((offset + a, offset + b) for a, b in _word_urls(text[offset:end]))
    return found


_WORD = re.compile(r"\S+")


@lru_cache(maxsize=4096)
def _word_urls(word: str) -> tuple[tuple[int, int], ...]:
    from twitter_text import extract_urls_with_indices  # 0.2 s of regex compiling: only when a text may hold a URL

    urls: list[dict[str, Any]] = extract_urls_with_indices(word)
    return tuple((int(url["indices"][0]), int(url["indices"][1])) for url in urls)


@cache
def _emoji_pattern() -> Pattern[str]:
    from twitter_text.regexp.emoji import emoji

    pattern: Pattern[str] = emoji
    return pattern


@cache
def _emoji_starts() -> Pattern[str]:
    """Non-ASCII code points an emoji sequence can start with (found once, by asking twitter-text's pattern)."""
    emoji = _emoji_pattern()
    codes = [
        code
        for low, high in _EMOJI_BLOCKS
        for code in range(low, high + 1)
        if emoji.match(chr(code)) or emoji.match(chr(code) + "\ufe0f")
    ]
    codes.extend(range(0x1F1E6, 0x1F200))  # regional indicators: a flag is a pair of them
    ranges: list[list[int]] = []
    for code in sorted(set(codes)):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile("[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]")
