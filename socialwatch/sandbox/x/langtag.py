"""X's ``lang`` on a tweet, emulated: a tiny tagger of its own, since the sandbox imports nothing of the product.

X tags each tweet by its own detector, and the tags have X's quirks, which the product must survive:
``und`` for text too short or unclear to tell, ``zxx`` for a tweet that is only media or links,
``in`` (not ``id``) for Indonesian, and Malay tagged ``in`` as often as not (the two are close). Handles,
links and hashtags are not language. The tagger counts common function words per language; a tweet
with fewer than three words of text, or with no clear winner, is ``und``.
"""

from __future__ import annotations

import re

_NOISE = re.compile(r"https?://\S+|www\.\S+|(?<!\w)[@#]\w+")
_WORD = re.compile(r"[^\W\d_]+")

#: A handful of frequent words per language X tags (Malay is absent on purpose: X tags it ``in``).
_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was my i you it to of for on in this that not no have has with me your can't don't "
        "been what how why please thanks thank still again at be do".split()
    ),
    "es": frozenset("el la los las que de y en un una es no mi por para con se lo del al nadie esta está".split()),
    "fr": frozenset("le la les et est un une des du de en ne pas je mon ma que qui pour avec sur au".split()),
    "de": frozenset("der die das und ist nicht ich mein meine ein eine mit von seit sehr auf für zu den dem".split()),
    "pt": frozenset("o a os as que de e em um uma não meu minha por para com do da no na é".split()),
    "in": frozenset(
        "saya yang dan tidak ini itu dari belum sudah ada untuk dengan di ke kami aku tak tiada dah pun".split()
    ),
    "lv": frozenset("un ir es man nav ar kā par uz vēl jau bet tas kas".split()),
    "lt": frozenset("ir aš man ne yra su kaip dar jau bet kad tai mano".split()),
    "sw": frozenset("na ya wa kwa ni za la hii yangu sana bado nimekuwa tena".split()),
    "ta": frozenset("romba nalla enna illa da super anna semma".split()),
}


def tag(text: str) -> str:
    """The ``lang`` X would give ``text``."""
    bare = _NOISE.sub(" ", text)
    words = [w.lower() for w in _WORD.findall(bare)]
    if not words:
        return "zxx" if text.strip() else "und"
    if len(words) < 3:
        return "und"
    if any("\u0b80" <= ch <= "\u0bff" for ch in bare):
        return "ta"
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    best = max(scores.values())
    winners = [lang for lang, score in scores.items() if score == best]
    if best == 0 or len(winners) > 1:
        return "und"
    return winners[0]
