"""Which language an item is in, and on whose word: the platform's tag, our detection, the author's history.

Platforms tag by their own detectors and get it wrong where it matters to us: X tags much non-English
text ``en``, gives ``und`` for short texts, ``in`` for Indonesian and, as often as not, for Malay, and
no platform recognises Tamil written in Latin letters. So a platform's tag is taken only when our
detection does not confidently say otherwise; Malay and Indonesian are told apart by the words only one
of them uses; romanised Tamil by its common words. ``lang_source`` says which of ``platform``,
``detected``, ``history`` or ``default`` decided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from socialwatch.scoring.language import UNDETERMINED, Detection

#: Tags that say "no language" or "cannot tell" (X: und, zxx media-only, qme/qam/... special content; CLD2's
#: un and xx-). The one list: the reply language choice reads it too.
NO_LANGUAGE = frozenset({"", UNDETERMINED, "zxx", "qme", "qam", "qct", "qht", "qst", "art", "un", "xx"})
#: Old, regional or platform-specific codes, as the ISO 639-1 code triage and the template folders use.
TAG_FIX = {
    "in": "id",
    "iw": "he",
    "ji": "yi",
    "jw": "jv",
    "nb": "no",
    "zsm": "ms",
    "swh": "sw",
    "msa": "ms",
    "fil": "tl",
    "zh-cn": "zh",
    "zh-tw": "zh",
}

#: Words Malaysians write and Indonesians do not (or rarely), and the other way round.
MALAY = frozenset(
    "tiada tak nak dah kerana awak korang wang kereta percuma sahaja betul sikit bila macam pejabat jawapan "
    "khidmat perkhidmatan semalam cik encik bas teksi polis hantar dihantar bayaran kedai teruk je".split()
)
INDONESIAN = frozenset(
    "nggak gak ga enggak banget kok sih dong deh udah aja bisa uang mobil gratis kalau kalo karena "
    "gimana kapan kantor jawaban layanan pelayanan kemarin beneran emang kayak gitu gini lho loh parah mantap "
    "dikirim".split()
)
#: Common words of Tamil as written in Latin letters on social media (thanglish).
TAMIL_LATIN = frozenset(
    "romba nalla semma sema enna illa illai irukku iruku irukkum pannunga pannu sollu vanakkam nandri thalaivar "
    "thala padam paatu kandippa unga enga namma ennoda neenga naan avan aval ithu athu enakku ungal kaasu "
    "panam seri thambi akka anna machan poda ponga vera level mass vaa vaanga ennada yenna yen eppo epdi "
    "evlo konjam kadai velai mudiyala mudiyathu varala vandhu vanthu kodunga thirumba kevalam mokka".split()
)
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Language:
    lang: str
    source: str  # platform, detected, history, default


def normalise_tag(tag: str | None) -> str:
    code = (tag or "").strip().lower()
    code = TAG_FIX.get(code, code)
    return TAG_FIX.get(code.split("-")[0], code.split("-")[0]) if code not in NO_LANGUAGE else ""


def malay_or_indonesian(text: str) -> str | None:
    """ "ms" or "id" when the words say which, else None."""
    words = {w.lower() for w in _WORD.findall(text)}
    ms, id_ = len(words & MALAY), len(words & INDONESIAN)
    if ms > id_:
        return "ms"
    if id_ > ms:
        return "id"
    return None


def romanised_tamil(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return False
    hits = sum(w in TAMIL_LATIN for w in words)
    return (hits >= 2 and hits * 6 >= len(words)) or (hits >= 1 and len(words) <= 3 and hits == len(words))


def refine(detection: Detection, text: str) -> Detection:
    """Our detection, corrected where CLD2 is known to be weak (Malay/Indonesian, romanised Tamil)."""
    if detection.lang in ("ms", "id"):
        which = malay_or_indonesian(text)
        if which and which != detection.lang:
            return Detection(which, detection.method + "+words", detection.letters)
    if detection.method != "script" and detection.lang in (UNDETERMINED, "en", "id", "ms", "tl", "so", "jw", "su"):
        if romanised_tamil(text):
            return Detection("ta", "tamil-words", detection.letters)
    return detection


#: Detections this sure overrule a platform's tag (a script decides; CLD2 on enough letters).
SURE_LETTERS = 20


def decide(tag: str | None, detection: Detection, text: str, history: str | None, default: str) -> Language:
    """The item's language: see the module docstring."""
    declared = normalise_tag(tag)
    found = refine(detection, text)
    if declared:
        if declared in ("ms", "id") and found.lang not in ("ms", "id"):
            # A tag of in/ms on text CLD2 did not place: the words may still tell which of the two.
            which = malay_or_indonesian(text)
            if which:
                return Language(which, "platform" if which == declared else "detected")
        sure = found.method == "script" or found.method.endswith("+words") or found.method == "tamil-words"
        # CLD2 reads code-mixed and romanised text as English: its "en" overrules only an "en" tag's absence
        # of evidence, never a platform's non-English tag.
        sure = sure or (found.method == "cld2" and found.letters >= SURE_LETTERS and found.lang != "en")
        if found.lang != UNDETERMINED and found.lang != declared and sure:
            return Language(found.lang, "detected")
        return Language(declared, "platform")
    if found.lang != UNDETERMINED:
        return Language(found.lang, "detected")
    if history and history != UNDETERMINED:
        return Language(history, "history")
    return Language(default, "default")
