"""Sensitive data customers post in public: find it and mask it before socialwatch shows or stores it.

Kinds: ``card`` (13-19 digits passing Luhn, with a card-like prefix), ``iban`` (mod-97),
``email``, ``phone`` (international or clearly national formats; dates, times, prices and
order/tracking numbers are left alone) and ``password`` (the value after "my password is",
"pwd:", "PIN:", "CVV", "OTP" ...). Pure functions, compiled once, thread-safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("card", "iban", "email", "phone", "password")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    start: int
    end: int  # text[start:end] is the sensitive part


# Anything that could be PII has a digit, an "@" or a secret keyword; most posts have none.
_QUICK = re.compile(r"[\d@]|pass|pwd|\bpw\b|\bpin\b|code|cv[cv]|otp", re.IGNORECASE)

_CARD = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){12,18}(?![\w/]|[.,-]\d)")
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w])")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
# A phone candidate: optional +, digits with space, dash, dot or parenthesis separators.
_PHONE = re.compile(r"(?<![\w+#/.,:$£€-])(?:\+|00)?\(?\d[\d ().-]{6,20}\d(?![\w/]|[.,:-]\d)")
_PHONE_PLUS = re.compile(r"^(?:\+|00)")
_NANP = re.compile(r"^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$")
_DATE_OR_TIME = re.compile(
    r"^\d{4}[./-]\d{1,2}[./-]\d{1,2}|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$|^\d{1,2}[.:]\d{2}(?:\s|$)|^(?:19|20)\d{2}\s*-\s*(?:19|20)?\d{2}$"
)
_SECRET = re.compile(
    r"\b(?P<key>pass(?:word|wd|code|phrase)?|pwd|pw|pin(?: number| code)?|cvv2?|cvc|security code|otp|"
    r"one[- ]time (?:code|password|pin)|verification code|login code|2fa code)"
    r"(?P<sep>\s*(?:[:=]|\bis\b|\bwas\b|-)\s*|\s+)(?:is\s+|was\s+)?[\"'“‘]?(?P<value>[^\s\"'”’]{3,64})",
    re.IGNORECASE,
)
# After "password is"/"pin was", these words are talk about the password, not the password.
_NOT_A_SECRET = frozenset(
    """
wrong incorrect invalid expired correct right not too still being the a an my your our their this that it
changed reset required blocked locked weak strong case sensitive same different new old working broken
incorrectly fine ok okay there here and or but so because when if for to from with without in on at of by
never always just only also already now again sent emailed texted protected saved stored hidden masked
rejected accepted valid empty missing blank forgotten lost stolen compromised leaked hacked
""".split()
)
# Keywords too common as ordinary words to trust without ":" or "=" ("a bus pass is", "pin the blame").
_WEAK_KEYS = frozenset({"pass", "pin", "pw", "code"})
_NUMBER_CONTEXT = re.compile(
    r"(?:order|tracking|track|ref|reference|invoice|ticket|booking|case|parcel|shipment|awb|imei|serial|"
    r"account|acct|member|policy|claim|confirmation|reservation|pnr|flight|id|no|nr|number|#)\W{0,4}$",
    re.IGNORECASE,
)
_CARD_CONTEXT = re.compile(r"\b(?:card|visa|mastercard|master card|amex|cc|debit|credit|cvv|expir\w*)\b", re.IGNORECASE)
_PHONE_CONTEXT = re.compile(
    r"\b(?:call|phone|tel|mobile|cell|whatsapp|text|sms|ring|number|contact|reach)\b", re.IGNORECASE
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = ord(ch) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_prefix_ok(digits: str) -> bool:
    # Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Discover/UnionPay/Maestro 6, Diners/JCB 30/35/36/38.
    return digits[0] in "3456" or ("2221" <= digits[:4] <= "2720")


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rotated)) % 97 == 1
    except ValueError:
        return False


def _context_before(text: str, start: int, width: int = 30) -> str:
    return text[max(0, start - width) : start]


def _cards(text: str) -> list[Finding]:
    found = []
    for match in _CARD.finditer(text):
        raw = match.group(0)
        digits = raw.replace(" ", "").replace("-", "")
        if not (13 <= len(digits) <= 19 and _card_prefix_ok(digits) and luhn_ok(digits)):
            continue
        before = _context_before(text, match.start())
        # An order or tracking number passes Luhn one time in ten: believe it is a card only with card words.
        if _NUMBER_CONTEXT.search(before) and not _CARD_CONTEXT.search(_context_before(text, match.start(), 40)):
            continue
        found.append(Finding("card", match.start(), match.end()))
    return found


def _phones(text: str) -> list[Finding]:
    found = []
    for match in _PHONE.finditer(text):
        raw = match.group(0).strip()
        start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
        digits = re.sub(r"\D", "", raw)
        if _DATE_OR_TIME.search(raw) or raw.count("(") != raw.count(")"):
            continue
        if re.search(r"[.-]{2}|\s{2}|\.\s|\s\.", raw):
            continue
        before = _context_before(text, start)
        phone_words = _PHONE_CONTEXT.search(_context_before(text, start, 40)) is not None
        if _NUMBER_CONTEXT.search(before) and not phone_words:
            continue
        if _PHONE_PLUS.match(raw):
            ok = 8 <= len(digits) - (2 if raw.startswith("00") else 0) <= 15
        elif _NANP.match(raw):
            ok = True
        elif raw.startswith("0") and raw[1:2] != "0":
            # National format with a trunk prefix: 0712 345 678, 020 7946 0000, 06-12345678.
            ok = 10 <= len(digits) <= 12
        else:
            # A bare run of digits is an order number more often than a phone: only with phone words.
            ok = phone_words and 9 <= len(digits) <= 15
        if ok:
            found.append(Finding("phone", start, start + len(raw)))
    return found


def _secrets(text: str) -> list[Finding]:
    found = []
    for match in _SECRET.finditer(text):
        key = match.group("key").lower()
        sep = match.group("sep")
        value = match.group("value").rstrip(".,;!?)")
        explicit = any(mark in sep for mark in ":=")
        if not value or value.lower() in _NOT_A_SECRET:
            continue
        # "pass: Texas voters" is not a password; a weak keyword needs ":"/"=" and a value with a digit or symbol.
        if key in _WEAK_KEYS and (not explicit or value.isalpha()):
            continue
        if not explicit and not sep.strip() and not any(ch.isdigit() for ch in value):
            # "password hunter2" is plausible, "password reset" is not; without "is"/":" want a digit.
            continue
        start = match.start("value")
        found.append(Finding("password", start, start + len(value)))
    return found


# Cheap necessary conditions per kind, so most texts skip most of the patterns below (the result is the
# same: a kind whose condition fails has no finding). A card has 13+ digits, a phone that passes 8+, an
# IBAN 2+; an e-mail address has an address character right before its "@" (a handle's "@" follows a
# space); a secret starts with one of its keywords, whose ASCII lower case contains one of _SECRET_HINTS.
_DIGIT_CHARS = "0123456789"
_ANY_DIGIT = re.compile(r"\d")
_EMAIL_AT = re.compile(r"[A-Za-z0-9._%+-]@")
_IBAN_HINT = re.compile(r"[A-Z]{2}\d{2}")  # starts with a character class: ``re`` skips to capitals fast
_SECRET_HINTS = ("pass", "pw", "pin", "cv", "code", "otp")
_SECRET_HINT = re.compile("|".join(_SECRET_HINTS), re.IGNORECASE)  # the same case folding as _SECRET
# The only non-ASCII characters IGNORECASE matches to ASCII letters ("ſ" s, "ı" and "İ" i, Kelvin "K" k),
# which are also the only ones whose str.lower() has ASCII letters: without them, lower() decides.
_FOLDS_TO_ASCII = re.compile("[\u017f\u0131\u0130\u212a]")


def _digit_count(text: str) -> int:
    if text.isascii():
        return sum(map(text.count, _DIGIT_CHARS))
    return len(_ANY_DIGIT.findall(text))  # \d is every Unicode decimal digit


def _may_have_secret(text: str) -> bool:
    if not text.isascii() and _FOLDS_TO_ASCII.search(text):
        return _SECRET_HINT.search(text) is not None  # the same case folding as _SECRET
    lowered = text.lower()
    return any(hint in lowered for hint in _SECRET_HINTS)


#: For ASCII text, what _QUICK needs without its IGNORECASE alternation: a digit or "@", or one of
#: _SECRET_HINTS in the lower-cased text ("pw" for "pwd" and \bpw\b, "cv" for cvc/cvv). Short texts (the
#: evidence and keywords triage masks) mostly have none.
_DIGIT_OR_AT = re.compile(r"[\d@]")


def find(text: str) -> list[Finding]:
    """Every piece of sensitive data in ``text``, by position; overlaps resolved (cards beat phones)."""
    if not text:
        return []
    if text.isascii() and _DIGIT_OR_AT.search(text) is None:
        lowered = text.lower()
        if not any(map(lowered.__contains__, _SECRET_HINTS)):
            return []
    if not _QUICK.search(text):
        return []
    digits = _digit_count(text)
    candidates = _cards(text) if digits >= 13 else []
    if digits >= 2 and _IBAN_HINT.search(text):
        candidates += [Finding("iban", m.start(), m.end()) for m in _IBAN.finditer(text) if _iban_ok(m.group(0))]
    if "@" in text and _EMAIL_AT.search(text):
        candidates += [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if _may_have_secret(text):
        candidates += _secrets(text)
    if digits >= 8:
        candidates += _phones(text)
    if not candidates:
        return []
    priority = {kind: index for index, kind in enumerate(KINDS)}
    chosen: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (priority[f.kind], f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def _replacement(kind: str, original: str) -> str:
    if kind == "card":
        digits = re.sub(r"\D", "", original)
        # The last four are what card receipts print; enough for an agent to match, useless to a thief.
        return f"[card ••••{digits[-4:]}]"
    return f"[{kind} hidden]"


def mask(text: str) -> str:
    """``text`` with every finding replaced by a marker such as "[card ••••1111]" or "[email hidden]"."""
    findings = find(text)
    if not findings:
        return text
    out = []
    position = 0
    for finding in findings:
        out.append(text[position : finding.start])
        out.append(_replacement(finding.kind, text[finding.start : finding.end]))
        position = finding.end
    out.append(text[position:])
    return "".join(out)


def kinds(text: str) -> tuple[str, ...]:
    """The distinct kinds found, in KINDS order (for reasons: "exposed card, phone")."""
    present = {finding.kind for finding in find(text)}
    return tuple(kind for kind in KINDS if kind in present)
