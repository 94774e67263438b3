"""Per-language complaint lexicons (``scoring/lexicons/*.toml``, extendable from config): terms by intent,
matched on word boundaries with light stemming, optionally without diacritics.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"


def fold(text: str) -> str:
    """Latin diacritics removed ("nestrādā" -> "nestrada"): customers often type without them."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


_STEM_KEY = 2

_TOKEN = re.compile(r"[\w\u0300-\u036f\u0900-\u0dff]+(?:'[\w\u0300-\u036f\u0900-\u0dff]+)*")


def tokens(text: str) -> list[str]:
    """Words of ``text`` (Indic vowel signs and inner apostrophes stay in the word: "d'internet")."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Entry:
    words: tuple[str, ...]  # the term's words, without the "*" marks
    intent: str
    weight: float
    prefix: bool  # the last word may continue ("kavē*")
    suffix: bool  # the first word may start earlier ("*chelewa")


@dataclass
class Lexicon:
    """Terms of one language with their intent and weight, indexed by word for speed.

    Matching works on words, not one big regular expression: Python's ``re`` tries every
    alternative at every position, which made a few hundred terms cost milliseconds a text.
    """

    lang: str
    fold: bool
    entries: tuple[Entry, ...]
    _exact: dict[str, Entry] = field(default_factory=dict, repr=False)
    _prefix: dict[str, Entry] = field(default_factory=dict, repr=False)
    _suffix: dict[str, Entry] = field(default_factory=dict, repr=False)
    _infix: list[Entry] = field(default_factory=list, repr=False)
    _phrases: dict[str, list[Entry]] = field(default_factory=dict, repr=False)
    # Stems by their first (last) two characters: a word is checked against a handful, not all.
    _prefix_index: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, repr=False)
    _suffix_index: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            if len(entry.words) > 1:
                self._phrases.setdefault(entry.words[0], []).append(entry)
            elif entry.prefix and entry.suffix:
                self._infix.append(entry)
            elif entry.prefix:
                self._prefix.setdefault(entry.words[0], entry)
            elif entry.suffix:
                self._suffix.setdefault(entry.words[0], entry)
            else:
                self._exact.setdefault(entry.words[0], entry)
        for phrases in self._phrases.values():
            phrases.sort(key=lambda e: len(e.words), reverse=True)
        for stem, entry in sorted(self._prefix.items(), key=lambda kv: -len(kv[0])):
            self._prefix_index.setdefault(stem[:_STEM_KEY], []).append((stem, entry))
        for stem, entry in sorted(self._suffix.items(), key=lambda kv: -len(kv[0])):
            self._suffix_index.setdefault(stem[-_STEM_KEY:], []).append((stem, entry))

    def find(self, text: str) -> list[tuple[str, float, str]]:
        """(intent, weight, matched words) for each term in ``text`` (already normalised).

        A phrase hides the words inside it: "paldies par neko" is not also "paldies".
        """
        words = tokens(fold(text) if self.fold else text)
        found: list[tuple[str, float, str]] = []
        covered: set[int] = set()
        for index, word in enumerate(words):
            for entry in self._phrases.get(word, ()):
                size = len(entry.words)
                window = words[index : index + size]
                if (
                    len(window) == size
                    and window[1:-1] == list(entry.words[1:-1])
                    and (window[-1] == entry.words[-1] or (entry.prefix and window[-1].startswith(entry.words[-1])))
                ):
                    found.append((entry.intent, entry.weight, " ".join(window)))
                    covered.update(range(index, index + size))
                    break
        for index, word in enumerate(words):
            if index in covered:
                continue
            found_entry: Entry | None = self._exact.get(word)
            if found_entry is None:
                for stem, candidate in self._prefix_index.get(word[:_STEM_KEY], ()):
                    if word.startswith(stem):
                        found_entry = candidate
                        break
            if found_entry is None:
                for stem, candidate in self._suffix_index.get(word[-_STEM_KEY:], ()):
                    if word.endswith(stem):
                        found_entry = candidate
                        break
            if found_entry is None:
                found_entry = next((e for e in self._infix if e.words[0] in word), None)
            if found_entry is not None:
                found.append((found_entry.intent, found_entry.weight, word))
        return found


def _entry(term: str, intent: str, weight: float) -> Entry | None:
    core = term.strip("*").strip()
    if not core:
        return None
    words = tuple(tokens(core))
    if not words:
        return None
    return Entry(words, intent, float(weight), prefix=term.endswith("*"), suffix=term.startswith("*"))


def build_lexicon(lang: str, intents: Mapping[str, Mapping[str, float]], fold_diacritics: bool) -> Lexicon:
    entries: list[Entry] = []
    seen: set[str] = set()
    for intent, terms in intents.items():
        for raw, weight in terms.items():
            term = " ".join(raw.lower().split())
            if fold_diacritics:
                term = fold(term)
            if term in seen:
                continue
            entry = _entry(term, intent, weight)
            if entry is not None:
                seen.add(term)
                entries.append(entry)
    return Lexicon(lang, fold_diacritics, tuple(entries))


def _read_lexicon_file(path: Path) -> tuple[str, bool, dict[str, dict[str, float]], tuple[str, ...]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    meta = data.get("meta", {})
    lang = str(meta.get("language") or path.stem)
    terms = {
        str(intent): {str(t): float(w) for t, w in table.items()} for intent, table in data.get("terms", {}).items()
    }
    return lang, bool(meta.get("fold_diacritics", True)), terms, tuple(meta.get("also_for", ()))


def load_lexicons(
    extra: Mapping[str, Mapping[str, float]] | None = None,
    directory: Path = LEXICON_DIR,
) -> dict[str, Lexicon]:
    """The shipped lexicons plus ``extra`` ({lang: {term: weight}}, e.g. from config), by language code.

    Extra terms go to the intent "complaint" (a negative weight: counter-evidence, "praise").
    A language in ``extra`` without a shipped file gets a lexicon of its own.
    """
    tables: dict[str, dict[str, dict[str, float]]] = {}
    folding: dict[str, bool] = {}
    aliases: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        lang, fold_diacritics, terms, also_for = _read_lexicon_file(path)
        tables[lang] = terms
        folding[lang] = fold_diacritics
        for alias in also_for:
            aliases[alias] = lang
    for extra_lang, extra_terms in (extra or {}).items():
        lang = extra_lang.lower()
        table = tables.setdefault(aliases.get(lang, lang), {})
        for term, weight in extra_terms.items():
            # The deployment knows its customers: its weight replaces a shipped one for the same term.
            for shipped in table.values():
                shipped.pop(term, None)
            table.setdefault("complaint" if weight >= 0 else "praise", {})[term] = float(weight)
    lexicons = {lang: build_lexicon(lang, table, folding.get(lang, True)) for lang, table in tables.items()}
    for alias, lang in aliases.items():
        if lang in lexicons and alias not in tables:
            lexicons[alias] = lexicons[lang]
    return lexicons
