"""Identity evidence: what an item says about who wrote it, so one customer on two platforms can be suggested.

Strong evidence only: an e-mail address or phone number (``scoring.pii`` finds them), an order, booking,
ticket or case number, the author's own handle on a platform with handles, and a handle the text names
for another platform ("my twitter is @jane", or any @handle in a Facebook message, where @handles are
not Facebook's own). Each is kept as a salted digest of its normalised value, never as text: the store
matches digests across platforms and a manager decides (a link is never made from evidence alone).
Pure: no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import re

from socialwatch.models import Evidence, Item
from socialwatch.scoring import pii

#: Platforms whose people have @handles, and the words that name each in a message ("my insta is @jane").
HANDLE_WORDS: dict[str, tuple[str, ...]] = {
    "x": ("twitter", "tweet", "tweets", "x.com", "on x", "my x", "x handle", "x account"),
    "instagram": ("instagram", "insta", "ig"),
}
HANDLE_PLATFORMS: dict[str, re.Pattern[str]] = {
    name: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b") for name, words in HANDLE_WORDS.items()
}
#: Platforms whose people have no @handles: there an @handle without a platform word names one elsewhere.
HANDLELESS = frozenset({"facebook"})
MAX_PER_ITEM = 12  # a message listing fifty handles is not fifty pieces of evidence

_SALT = "socialwatch identity evidence v1"
# "@jane" but not "jane@example.com": the handle's "@" follows no address character.
_HANDLE = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)(?![\w@])")
_REFERENCE = re.compile(
    r"\b(?:order|booking|reservation|ticket|case|ref|reference|invoice|tracking|parcel|shipment|confirmation|pnr)"
    r"(?:\s+(?:no\.?|nr\.?|number|id|code|ref))?(?:\s+(?:is|was))?\s*[:#-]?\s*#?\s*"
    r"([A-Z0-9](?:[A-Z0-9-]{3,30})[A-Z0-9])\b",
    re.IGNORECASE,
)


_DIGIT = re.compile(r"\d")
_EMAIL_AT = re.compile(r"[A-Za-z0-9._%+-]@")  # an address character right before "@" (a handle has a space)
# Substrings of the lower-cased text without which _REFERENCE cannot match ("ref" covers "reference").
_REFERENCE_HINTS = (
    "order",
    "booking",
    "reservation",
    "ticket",
    "case",
    "ref",
    "invoice",
    "tracking",
    "parcel",
    "shipment",
    "confirmation",
    "pnr",
)
#: For each platform with handles: the words naming one of the *other* platforms with handles.
_OTHER_WORDS = {
    name: tuple(w for other, ws in HANDLE_WORDS.items() if other != name for w in ws) for name in HANDLE_WORDS
}
_ALL_WORDS = tuple(w for words in HANDLE_WORDS.values() for w in words)  # a replay item, a platform to come


def digest(kind: str, value: str) -> str:
    """The one digest of a normalised value: the same on every platform, so two of them can be matched."""
    return hashlib.sha256(f"{_SALT}\n{kind}\n{value}".encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=4096)  # authors write again and again: their handle's digest once
def handle_digest(platform: str, handle: str) -> str:
    """An author's own handle and a handle named for that platform share this digest."""
    return digest("handle", f"{platform}:{handle.lstrip('@').lower()}")


def normalise_phone(text: str) -> str | None:
    """The last nine digits: "+44 7700 900123" and "07700 900123" are one number (national vs international)."""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) < 8:
        return None
    return digits[-9:]


def normalise_reference(text: str) -> str | None:
    value = text.upper().replace("-", "")
    if len(value) < 5 or not any(ch.isdigit() for ch in value):
        return None
    return value


def evidence(item: Item) -> tuple[Evidence, ...]:
    """What ``item`` says about its author, as digests (at most MAX_PER_ITEM, each once).

    Every pattern runs behind a cheap necessary condition (a digit, an address character before "@",
    a keyword), so the common message costs a few string scans (benchmarks: throughput)."""
    found: dict[tuple[str, str], None] = {}
    platform = item.platform
    if platform in HANDLE_PLATFORMS and item.author.handle:
        found[("handle", handle_digest(platform, item.author.handle))] = None
    text = item.text or ""
    digits = sum(map(text.count, "0123456789")) if text.isascii() else len(_DIGIT.findall(text))
    if digits >= 8 or ("@" in text and _EMAIL_AT.search(text)):
        for finding in pii.find(text):
            value = text[finding.start : finding.end]
            if finding.kind == "email":
                found[("email", digest("email", value.lower()))] = None
            elif finding.kind == "phone" and (phone := normalise_phone(value)):
                found[("phone", digest("phone", phone))] = None
    lowered = text.lower()
    if digits and any(map(lowered.__contains__, _REFERENCE_HINTS)):
        for match in _REFERENCE.finditer(text):
            if reference := normalise_reference(match.group(1)):
                found[("reference", digest("reference", reference))] = None
    # On a platform with handles of its own, an @handle is that platform's unless the text names another.
    hints = _OTHER_WORDS.get(platform, _ALL_WORDS)
    if "@" in text and (platform in HANDLELESS or any(map(lowered.__contains__, hints))):
        for match in _HANDLE.finditer(text):
            for target in _named_for(text, match, platform):
                found[("handle_named", handle_digest(target, match.group(1)))] = None
    return tuple(Evidence(kind, value) for kind, value in list(found)[:MAX_PER_ITEM])


def _named_for(text: str, match: re.Match[str], platform: str) -> tuple[str, ...]:
    """The platforms a handle in the text belongs to: the one the words around it name, else (on a
    platform without handles, ``HANDLELESS``) every platform with handles."""
    around = (text[max(0, match.start() - 30) : match.start()] + " " + text[match.end() : match.end() + 20]).lower()
    named = [name for name, words in HANDLE_PLATFORMS.items() if words.search(around)]
    if named:
        return tuple(name for name in named if name != platform)
    return tuple(HANDLE_PLATFORMS) if platform in HANDLELESS else ()
