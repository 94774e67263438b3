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


@lru_cache(maxsize=65536)
def _word_features(word: str, buckets: int) -> tuple[int, ...]:
    """A word's own hash and its character n-grams' (cached: words repeat, so most are hashed once)."""
    out = [zlib.crc32(b"w:" + word.encode("utf-8", "surrogatepass")) % buckets]
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
    return tuple(out)


def featurise(text: str, lang: str, buckets: int = DEFAULT_BUCKETS) -> IntArray:
    """The bucket indices of ``text`` (with repeats: a feature seen twice counts twice).

    The language enters twice: as a bias feature of its own, and conjoined with every word, so the
    one multilingual model has per-language word weights beside the shared n-grams (an English "sick"
    and an Indonesian "sakit" do not compete for one weight).
    """
    words = tokens(text)
    tag = lang.encode("ascii", "replace")
    out: list[int] = [zlib.crc32(b"lang:" + tag) % buckets]
    previous = b"<s>"
    for word in words:
        out.extend(_word_features(word, buckets))
        encoded = word.encode("utf-8", "surrogatepass")
        out.append(zlib.crc32(tag + b":" + encoded) % buckets)
        out.append(zlib.crc32(b"b:" + previous + b" " + encoded) % buckets)
        previous = encoded
    out.append(zlib.crc32(b"b:" + previous + b" </s>") % buckets)
    return np.fromiter(out, dtype=np.int64, count=len(out))
