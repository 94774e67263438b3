"""What makes a reply personal, and safe to post in public: the customer's first name only when it is a
plain name, what they already told us (an order number, an e-mail address), a threat of legal action or a
claim of fraud (which takes the reply away from self-service texts), and the case reference.

A display name is chosen by whoever owns the account, so it is hostile input that would be posted by the
brand: ``Hi https://evil.example/login.``, ``Hi @SandboxCEO.`` (a third account pinged), ``Hi <!here>.``
A name is used only when its first word is made of letters of one script (with the marks those scripts
need, and an inner apostrophe or hyphen: O'Brien, Jean-Luc); anything else gives no name at all.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from socialwatch.scoring import pii
from socialwatch.scoring.language import script_counts
from socialwatch.scoring.replies.platforms import conservative_length

#: Wider first words are not names a reply should repeat (and would crowd X's 280): the width is X's
#: weighted length with Tamil counted double, as the shipped templates' conservative budget counts it.
NAME_MAX = 20
_NAME_PUNCTUATION = "'’-"
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


@lru_cache(maxsize=8192)  # authors write again and again; the checks below cost ~20 us a name
def plain_first_name(display_name: str | None) -> str:
    """The first word of the display name when it is a plain name, else "" (the reply greets no one)."""
    words = (display_name or "").split()
    if not words:
        return ""
    first = unicodedata.normalize("NFC", words[0])
    if _width(first) > NAME_MAX or not first[0].isalpha() or (not first[-1].isalpha() and not _is_mark(first[-1])):
        return ""
    previous = ""
    for ch in first:
        if ch in _NAME_PUNCTUATION:
            if previous in _NAME_PUNCTUATION or previous == "":
                return ""
        elif not (ch.isalpha() or _is_mark(ch)):
            return ""
        previous = ch
    letters = sum(ch.isalpha() for ch in first)
    if letters < 2:
        return ""
    scripts = [script for script, count in script_counts(first).items() if count]
    if len(scripts) != 1 or scripts[0] == "other":
        return ""
    return first.title() if first.isupper() else first  # "Hi Sam", not "Hi SAM"


def _width(name: str) -> int:
    return conservative_length(name, "x", True)


def _is_mark(ch: str) -> bool:
    # Tamil, Devanagari ... write vowels as combining marks: part of a name, not punctuation.
    return unicodedata.category(ch) in ("Mn", "Mc")


def plain_handle(handle: str | None) -> str:
    """An X-style handle (letters, digits, underscore), else "": replay files can carry anything."""
    return handle if handle and _HANDLE.match(handle) else ""


# --- what the customer already gave us ----------------------------------------------------------------

#: "order" in the shipped languages, then an optional "number"/"no."/"#", then the reference itself.
_ORDER_WORDS = (
    r"order|oda|agizo|pesanan|pesenan|pasūtījum[a-z]*|pasutijum[a-z]*|užsakym[a-z]*|uzsakym[a-z]*|ஆர்டர்|"
    r"pedido|orden|commande|bestellung|bestellnummer|auftrag|encomenda|encomendas"
)
_ORDER = re.compile(
    rf"(?:\b(?:{_ORDER_WORDS})\b|ஆர்டர்)\s*(?:(?:number|no\.?|nr\.?|nro\.?|n[º°o]\.?|num\.?|número|numero|nummer|"
    r"nambari|namba|nombor|nomor|numurs|numeris|எண்)\s*)?(?:[:#]\s*)?(?P<ref>#?[A-Za-z]{0,4}-?\d[\dA-Za-z-]{2,19})\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_HASH_REF = re.compile(r"(?<![\w&])#(?P<ref>\d{4,20})\b")


def order_number(text: str) -> str:
    """The order reference the customer wrote ("order 55123", "pedido nº 4411", "#55123"), or ""."""
    if not _DIGIT.search(text):
        return ""
    found = _ORDER.search(text) or _HASH_REF.search(text)
    return found.group("ref").lstrip("#") if found else ""


def email_given(text: str) -> bool:
    return "@" in text and "email" in pii.kinds(text)


# --- legal threats and fraud -------------------------------------------------------------------------

#: Words that take a reply out of self-service: legal action, a lawyer, a regulator, fraud. Case-insensitive,
#: in any language (customers mix them); "word*" matches words starting with "word" ("fraudulent").
LEGAL_WORDS = (
    # en
    "lawyer*", "attorney*", "solicitor*", "legal action", "lawsuit*", "sue", "suing", "court", "ombudsman",
    "regulator*", "trading standards", "fraud*", "scam*", "chargeback*",
    # sw
    "wakili", "mawakili", "mahakama*", "kesi", "ulaghai", "utapeli", "tapeli",
    # ms / id
    "peguam", "mahkamah", "saman", "penipuan", "penipu", "pengacara", "pengadilan", "gugat*", "menipu",
    # lv
    "advokāt*", "jurist*", "tiesā", "tiesu", "tiesas", "krāpniek*", "krāpšan*", "krapniek*",
    # lt
    "advokat*", "teism*", "sukčiav*", "sukciav*", "apgavyst*",
    # es / pt
    "abogad*", "demanda*", "tribunal*", "estafa*", "fraude*", "denuncia*", "advogad*", "processar", "golpe",
    # fr
    "avocat*", "plainte", "escroqu*", "arnaque*",
    # de
    "anwalt*", "rechtsanwalt*", "klage", "klagen", "gericht*", "betrug*", "betrüg*", "verbraucherzentrale", "abzocke*",
)  # fmt: skip
_LEGAL = re.compile(
    r"(?<!\w)(?:"
    + "|".join(re.escape(word[:-1]) if word.endswith("*") else re.escape(word) + r"(?!\w)" for word in LEGAL_WORDS)
    + ")",
    re.IGNORECASE,
)
#: Tamil words (no word boundary before Tamil letters in every text): lawyer, court, case, fraud, cheating.
_LEGAL_TAMIL = re.compile("வழக்கறிஞர்|நீதிமன்ற|வழக்கு|மோசடி|ஏமாற்ற")


#: The first letters of every legal word: a text none of whose words starts so cannot match (a cheap gate,
#: as scoring/gates.py does for triage: the alternation costs ~12 us a text, the gate ~2).
_GATE = 4
_LEGAL_STARTS = frozenset(word.rstrip("*").split()[0][:_GATE].casefold() for word in LEGAL_WORDS)
_WORDS = re.compile(r"\w+")


def legal_threat(text: str) -> str | None:
    """The legal or fraud word a message uses, or None."""
    lowered = text.casefold()
    if not any(word[:_GATE] in _LEGAL_STARTS for word in _WORDS.findall(lowered)):
        found = _LEGAL_TAMIL.search(text) if not text.isascii() else None
    else:
        found = _LEGAL.search(text) or _LEGAL_TAMIL.search(text)
    return found.group(0) if found else None


def case_reference(item_key: str, prefix: str) -> str:
    """A short, stable reference the customer can quote; derived from the item, so no lookup table."""
    digest = hashlib.sha256(item_key.encode()).hexdigest()[:6].upper()
    return f"{prefix}-{digest}"
