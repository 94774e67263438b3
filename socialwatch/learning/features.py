"""Features of the learned model: hashed word uni/bi-grams and word-bounded character n-grams, per language.

The hash is CRC-32 (``zlib.crc32``): stable across processes and machines, unlike Python's salted
``hash()``, and implemented in C, so featurising a tweet costs microseconds. Text is normalised the way
tweets vary without changing meaning: lower case, links and handles replaced by one token each, digits
folded to ``0``, letters repeated more than three times cut to three ("soooooo" -> "sooo").
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

import numpy as np
import numpy.typing as npt

#: Number of hash buckets (2**19): measured against 2**18 and 2**20 in docs/model.md.
DEFAULT_BUCKETS = 1 << 19
#: Character n-gram lengths, inside "<word>" (so a 1-gram is a letter and "<n" marks a word's start).
CHAR_MIN, CHAR_MAX = 2, 5

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_DIGITS = re.compile(r"\d")
_REPEAT = re.compile(r"(.)\1{3,}")
_TOKEN = re.compile(r"\w+|[^\w\s]")

IntArray = npt.NDArray[np.int64]


def normalise(text: str) -> str:
    text = _URL.sub(" httpurl ", text.lower())
    text = _HANDLE.sub(" atuser ", text)
    text = _DIGITS.sub("0", text)
    return _REPEAT.sub(r"\1\1\1", text)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


_BIGRAM = zlib.crc32(b"b:")
_START = zlib.crc32(b" ", zlib.crc32(b"<s>", _BIGRAM))


@lru_cache(maxsize=16384)
def _word_features(word: str, buckets: int) -> tuple[tuple[int, ...], bytes, int]:
    """A word's own hash and its character n-grams' (cached: words repeat, so most are hashed once),
    its UTF-8 bytes, and the CRC state of "b:<word> " from which every bigram starting with it continues."""
    encoded = word.encode("utf-8", "surrogatepass")
    out = [zlib.crc32(b"w:" + encoded) % buckets]
    if word.isalpha() and len(word) > 1:
        padded = ("<" + word + ">").encode("utf-8", "surrogatepass") if word.isascii() else None
        if padded is not None:
            size = len(padded)
            for n in range(CHAR_MIN, CHAR_MAX + 1):
                out.extend(zlib.crc32(padded[i : i + n]) % buckets for i in range(size - n + 1))
        else:
            chars = "<" + word + ">"
            size = len(chars)
            for n in range(CHAR_MIN, CHAR_MAX + 1):
                out.extend(
                    zlib.crc32(chars[i : i + n].encode("utf-8", "surrogatepass")) % buckets for i in range(size - n + 1)
                )
    return tuple(out), encoded, zlib.crc32(b" ", zlib.crc32(encoded, _BIGRAM))


@lru_cache(maxsize=256)
def _lang_state(lang: str) -> tuple[int, int]:
    tag = lang.encode("ascii", "replace")
    return zlib.crc32(b"lang:" + tag), zlib.crc32(tag + b":")


def featurise(text: str, lang: str, buckets: int = DEFAULT_BUCKETS) -> IntArray:
    """The bucket indices of ``text`` (with repeats: a feature seen twice counts twice).

    The language enters twice: as a bias feature of its own, and conjoined with every word, so the
    one multilingual model has per-language word weights beside the shared n-grams (an English "sick"
    and an Indonesian "sakit" do not compete for one weight). CRC-32 continues from a prefix's state
    (``crc32(b, crc32(a)) == crc32(a + b)``), so the conjoined and bigram hashes cost one call each.
    """
    bias, conjoined = _lang_state(lang)
    out: list[int] = [bias]
    left = _START
    crc32 = zlib.crc32
    for word in tokens(text):
        grams, encoded, state = _word_features(word, buckets)
        out.extend(grams)
        out.append(crc32(encoded, conjoined))
        out.append(crc32(encoded, left))
        left = state
    out.append(crc32(b"</s>", left))
    index = np.fromiter(out, dtype=np.int64, count=len(out))
    # One vectorised modulo for the hashes made here (the cached ones are already reduced: a no-op).
    index %= buckets
    return index
