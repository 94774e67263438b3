"""The fast paths of the scoring and the store give exactly what the code they replaced gave.

VADER's scores (socialwatch.sentiment.Analyzer vs upstream vaderSentiment), the cleaning of
text before scoring, templates whose includes are spliced at parse time
and are rendered with their globals flattened (scoring.replies.templates), sensitive-data detection (pii), triage's
keyword patterns and gates, and the complaint signals' gates and normalisation (complaints) are
compared with the reference (the code they replaced, kept here) on many generated inputs. No
timing here: speed is shown by `python -m benchmarks`.
"""

from __future__ import annotations

import itertools
import random
import re
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES, SentimentIntensityAnalyzer

from socialwatch.config.schema import Config, SuggestionsConfig
from socialwatch.config.triage import TriageConfig
from socialwatch.models import Author, AuthorHistory, Item, Kind, Sentiment, Suggestion
from socialwatch.scoring import complaints, gates, pii, triage
from socialwatch.scoring.replies import suggest as replies
from socialwatch.scoring.replies import templates as suggest
from socialwatch.scoring.sentiment import Analyzer, clean_text, make_analyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import synth

UPSTREAM = SentimentIntensityAnalyzer()
FAST = Analyzer()

EXAMPLES = [
    "",
    "   ",
    "😀",
    "a😀b",
    " 😀😀 x",
    "VADER is smart, handsome, and funny.",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been this good!",
    "With VADER, sentiment analysis is the shit!",
    "On the other hand, VADER is quite bad ass",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "no no no good",
    "no or nor bad",
    "great but bad but good",
    "kind of kind of good",
    "yeah right, the bomb",
    "kiss of death to die for",
]


def _fuzz(rng: random.Random) -> str:
    lexicon = list(UPSTREAM.lexicon)
    emojis = list(UPSTREAM.emojis)
    special = [word for key in SPECIAL_CASES for word in key.split()]
    extra = [
        "but",
        "BUT",
        "least",
        "at",
        "very",
        "no",
        "No",
        "NO",
        "kind",
        "of",
        "or",
        "nor",
        "never",
        "so",
        "this",
        "without",
        "doubt",
        "not",
        "isn't",
        "dont",
        "the",
        "a",
        "is",
        "I",
        "it",
    ]
    tokens = []
    for _ in range(rng.randint(0, 25)):
        r = rng.random()
        if r < 0.3:
            word = rng.choice(lexicon)
        elif r < 0.45:
            word = rng.choice(list(BOOSTER_DICT))
        elif r < 0.55:
            word = rng.choice(NEGATE)
        elif r < 0.65:
            word = rng.choice(special)
        elif r < 0.8:
            word = rng.choice(extra)
        elif r < 0.87:
            word = rng.choice(emojis)
        else:
            word = rng.choice(
                [
                    "!!!",
                    "?",
                    "??",
                    "...",
                    ":)",
                    ":-(",
                    ":D",
                    "<3",
                    "lol",
                    "LOL",
                    "@user",
                    "#tag",
                    "https://t.co/x",
                    "😡😡",
                    "word!",
                    "(great)",
                    "'ok'",
                    "é",
                    "日本",
                ]
            )
        if rng.random() < 0.15:
            word = word.upper()
        if rng.random() < 0.1:
            word += rng.choice("!?.,")
        tokens.append(word)
    text = rng.choice([" ", " ", "  ", "\n", " \t"]).join(tokens)
    return f"  {text} " if rng.random() < 0.2 else text


def test_vader_scores_are_upstream_scores():
    rng = random.Random(10)
    texts = EXAMPLES + [_fuzz(rng) for _ in range(15_000)] + synth.texts(5_000, seed=3)
    mismatches = [
        (t, UPSTREAM.polarity_scores(t), FAST.polarity_scores(t))
        for t in texts
        if UPSTREAM.polarity_scores(t) != FAST.polarity_scores(t)
    ]
    assert mismatches == []


def test_vader_with_brand_terms_and_ascii_emoji_matches_upstream():
    brand = make_analyzer({"Acme": 2.5, "meh": -1.0})
    upstream = SentimentIntensityAnalyzer()
    upstream.lexicon.update({"acme": 2.5, "meh": -1.0})

    class UpstreamAscii(SentimentIntensityAnalyzer):
        def make_emoji_dict(self):  # type: ignore[no-untyped-def]
            return dict(super().make_emoji_dict(), **{"#": "hash sign", "*": "star"})

    class FastAscii(Analyzer):
        def make_emoji_dict(self):  # type: ignore[no-untyped-def]
            return dict(super().make_emoji_dict(), **{"#": "hash sign", "*": "star"})

    up_ascii, fast_ascii = UpstreamAscii(), FastAscii()
    rng = random.Random(11)
    texts = EXAMPLES + ["Acme is meh #fail", "#1 *great*", "love#it*", "a # b"] + [_fuzz(rng) for _ in range(3_000)]
    for text in texts:
        assert brand.polarity_scores(text) == upstream.polarity_scores(text), text
        assert fast_ascii.polarity_scores(text) == up_ascii.polarity_scores(text), text


def _clean_reference(text: str) -> str:
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf") or ch == "\u200d")


def test_clean_text_is_the_reference_cleaning():
    rng = random.Random(12)
    alphabet = "ab é日😀\n\t\r\x00\x1b\u200b\u200d\u202e\ufeff\u00ad!"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert clean_text(text) == _clean_reference(text), repr(text)


class _PlainEnv(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """jinja's own sandbox, with the shared pieces found in the including template's language."""

    join_path = suggest._InliningEnvironment.join_path


def _plain_env(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return _PlainEnv(
        loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


def _inlining_env(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return suggest._InliningEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def _render(env: jinja2.Environment, name: str, context: dict) -> str:
    try:
        return env.get_template(name).render(context)
    except Exception as exc:  # the same failure is the same behaviour
        return f"{type(exc).__name__}: {exc}"


def test_shipped_templates_render_the_same_with_spliced_includes():
    loader = suggest.load_templates(None).env.loader
    plain, fast = _plain_env(loader), _inlining_env(loader)
    names = plain.list_templates(extensions=["j2"])
    assert names
    for name, (returning, public, negative, signature) in itertools.product(
        names, itertools.product([True, False], [True, False], [True, False], ["", "- the Acme team"])
    ):
        context = {
            "name": "Sam",
            "handle": "sam",
            "returning": returning,
            "previous_contacts": 2,
            "case_ref": "AC-12AB34",
            "brand": "Acme",
            "help_url": "https://h.example",
            "status_url": "https://s",
            "signature": signature,
            "public": public,
            "platform": "x",
            "kind": "mention",
            "lang": "en",
            "negative": negative,
            "category": "other",
            "repeat_complaint": returning and negative,
            "links": public,
            "order_number": "55123" if negative else "",
            "email_given": signature == "",
            "within": "2 hours",
            "due": "Mon 09:00",
            "open_now": public,
            "within_minutes": 120,
            "within_hours": "2",
            "within_days": 1,
            "due_time": "09:00",
            "due_date": "2026-01-12",
            "due_today": negative,
        }
        assert _render(fast, name, context) == _render(plain, name, context), name
        try:
            rendered = suggest.render(fast.get_template(name), context)
        except Exception as exc:
            rendered = f"{type(exc).__name__}: {exc}"
        assert rendered == _render(plain, name, context), name


def test_fast_render_raises_what_render_raises():
    loader = suggest.load_templates(None).env.loader
    fast = _inlining_env(loader)
    template = fast.get_template("en/other/1-apologise.j2")
    with pytest.raises(jinja2.UndefinedError) as slow_error:
        template.render({"name": "Sam"})
    with pytest.raises(jinja2.UndefinedError) as fast_error:
        suggest.render(template, {"name": "Sam"})
    assert str(fast_error.value) == str(slow_error.value)


TRICKY = {
    "greet.j2": "Hi {{ name }}{% if vip %}, welcome back{% endif %}.\n",
    "sets.j2": "{% set name = 'X' %}Hello {{ name }}",
    "loop.j2": "{% for i in [1, 2] %}{{ i }}{% endfor %}",
    "indented.j2": "  {% if vip %}VIP{% endif %}\n    text {{ name }}\n",
    "nested.j2": "[{% include 'greet.j2' %}]",
    "self.j2": "{% include 'self.j2' if false else 'greet.j2' %}",
    "uses_loop.j2": "{{ loop.index if loop is defined else '-' }}",
    "a.j2": "{% include 'greet.j2' %}\nnext line {% include 'greet.j2' %}   \n  {% include 'indented.j2' %} end",
    "b.j2": "{% set name = 'Outer' %}{% include 'sets.j2' %} then {{ name }}",
    "c.j2": "{% for x in 'ab' %}{% include 'uses_loop.j2' %}{% include 'greet.j2' %}{% endfor %}",
    "d.j2": "{%- include 'greet.j2' -%}  x  {%+ include 'greet.j2' %}\n\n{% include 'nested.j2' %}",
    "e.j2": "{% if vip %}{% include 'loop.j2' %}{% else %}{% include 'greet.j2' %}{% endif %}",
    "f.j2": "{% include 'missing.j2' ignore missing %}{% include 'greet.j2' without context %}",
    "g.j2": "{% include 'missing.j2' %}",
    "h.j2": "{% include ['nope.j2', 'greet.j2'] %} {% include 'self.j2' %} {{ undefined_name }}",
}


@pytest.mark.parametrize("name", sorted(n for n in TRICKY if len(n) == 4))
def test_spliced_includes_keep_jinja_semantics(name):
    loader = jinja2.DictLoader(TRICKY)
    plain, fast = _plain_env(loader), _inlining_env(loader)
    for vip in (True, False):
        assert _render(fast, name, {"name": "Sam", "vip": vip}) == _render(plain, name, {"name": "Sam", "vip": vip})


# --- sensitive data (socialwatch.pii): cheap conditions per kind before the patterns -----------------------


def _reference_pii_find(text: str) -> list:
    """pii.find before the per-kind conditions: every pattern on every text that passes _QUICK."""
    if not text or not pii._QUICK.search(text):
        return []
    candidates = pii._cards(text)
    candidates += [
        pii.Finding("iban", m.start(), m.end()) for m in pii._IBAN.finditer(text) if pii._iban_ok(m.group(0))
    ]
    candidates += [pii.Finding("email", m.start(), m.end()) for m in pii._EMAIL.finditer(text)]
    candidates += pii._secrets(text)
    candidates += pii._phones(text)
    priority = {kind: index for index, kind in enumerate(pii.KINDS)}
    chosen: list = []
    for finding in sorted(candidates, key=lambda f: (priority[f.kind], f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


_PII_PIECES = [
    "4111 1111 1111 1111",
    "4111111111111111",
    "5555-5555-5555-4444",
    "378282246310005",
    "1234567890123",
    "4222222222222",
    "+1234 5678",
    "+12 345 678",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR14 2004 1010 0505 0001 3M02 606",
    "sam@example.com",
    "a.b+c@mail.co.uk",
    "@AcmeHelp",
    "x@y",
    " @ ",
    "me@",
    "@home.com",
    "+44 7911 123456",
    "(555) 123-4567",
    "555.123.4567",
    "0712 345 678",
    "020 7946 0000",
    "06-12345678",
    "0044 20 7946 0000",
    "12/05/2024",
    "10:30",
    "2019-2020",
    "£25.99",
    "#12345678901",
    "password: hunter2",
    "my password is abc123",
    "PIN=1234",
    "pin 1234",
    "pwd:secret!",
    "pw= x9y",
    "CVV 123",
    "otp is 884422",
    "one-time code 5512",
    "verification code: 991",
    "2fa code 123456",
    "login code is 44",
    "pass: Texas",
    "bus pass is",
    "security code - 998",
    "paſsword: hunter2",
    "PİN: 4444",
    "pın: 1234",
    "\u212aey",
    "cvc2",
    "code",
    "passcode=77",
    "otp: abc!x",
    "OTP=zz$y",
    "cvc: ab#c",
    "Code: xy!z",
    "security code: ab!c",
    "PASSWORD IS Hunter2",
    "call me on",
    "phone",
    "order",
    "tracking #",
    "card",
    "visa",
    "ref",
    "٣٤٥٦٧٨٩٠١٢٣٤٥٦",
    "１２３",
    "😀",
    "é",
    "日本",
    "\n",
    ",",
    ".",
    "-",
    "(",
    ")",
    ":",
    "=",
    "is",
    "0",
    "1",
    "12",
    "123",
    "1234",
    "4",
    "5",
    "9",
    " ",
    " ",
    "  ",
]


def _pii_fuzz(rng: random.Random) -> str:
    parts = [rng.choice(_PII_PIECES) for _ in range(rng.randint(0, 8))]
    return "".join(p + rng.choice(["", " ", " ", "  ", ".", ",", "\n"]) for p in parts)


def test_pii_find_is_the_reference_find():
    rng = random.Random(14)
    texts = [_pii_fuzz(rng) for _ in range(30_000)] + synth.texts(5_000, seed=4) + _PII_PIECES
    for text in texts:
        assert pii.find(text) == _reference_pii_find(text), repr(text)


# --- triage (socialwatch.triage): keyword patterns with \b, and a gate on the text's words ------------------


def _reference_keyword_pattern(keywords: list[str]):
    """triage._keyword_pattern before \\b: a lookaround on each side of each keyword."""
    alternatives = []
    for keyword in sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True):
        escaped = re.escape(keyword)
        left = r"(?<!\w)" if keyword[0].isalnum() else ""
        right = r"(?!\w)" if keyword[-1].isalnum() else ""
        alternatives.append(f"{left}{escaped}{right}")
    return re.compile("|".join(alternatives)) if alternatives else None


def _reference_categorise(lowered: str, label: str, rules) -> tuple:
    """triage._categorise before the word gate: a substring test per keyword, then the reference pattern."""
    for name in rules.category_order:
        keywords = rules.category_keywords.get(name)
        if not keywords or not any(map(lowered.__contains__, keywords)):
            continue
        match = _reference_keyword_pattern(list(keywords)).search(lowered)
        if match is None or (name == "praise" and label == "negative"):
            continue
        return name, match.group(0)
    return "other", None


_KEYWORD_VOCAB = [
    "bill",
    "billing",
    "fee",
    "late",
    "lateness",
    "can't log in",
    "can",
    "t",
    "log",
    "in",
    "?",
    "??",
    "earn $",
    "$",
    "f*** you",
    "***",
    "wi-fi",
    "wi",
    "fi",
    "500",
    "5000",
    "_x",
    "x_",
    "_",
    "é",
    "école",
    "日本",
    "本",
    "²",
    "x²",
    "ǅ",
    "ſ",
    "İ",
    "a",
    "ab",
    "abc",
    "do you",
    "you",
    "2fa",
    "#tag",
    "@me",
    "e-mail",
    "mail",
    "re:",
    ":",
    "up",
    "upset",
    "set",
    "no service",
    "service",
    "ice",
    "?!",
    "!",
]


def _keyword_text(rng: random.Random) -> str:
    words = [rng.choice(_KEYWORD_VOCAB) for _ in range(rng.randint(0, 8))]
    return "".join(w + rng.choice(["", " ", " ", "  ", "-", ".", ",", "'", "_", "\n", "x", "é"]) for w in words)


def test_keyword_patterns_match_what_the_lookaround_patterns_match():
    rng = random.Random(15)
    for _ in range(3_000):
        keywords = [rng.choice(_KEYWORD_VOCAB) + rng.choice(["", "", " ", "s"]) for _ in range(rng.randint(1, 6))]
        fast, slow = triage._keyword_pattern(keywords), _reference_keyword_pattern(keywords)
        for _ in range(20):
            text = _keyword_text(rng).lower()
            a, b = fast.search(text), slow.search(text)
            assert (a and (a.span(), a.group(0))) == (b and (b.span(), b.group(0))), (keywords, text)


def test_categorise_and_escalation_are_the_reference():
    rng = random.Random(16)
    texts = [x.lower() for x in synth.texts(3_000, seed=5)]
    for round_ in range(200):
        if round_ == 0:
            config = Config().triage  # the shipped categories and escalation words
        else:
            categories = {
                f"c{i}": {"keywords": [rng.choice(_KEYWORD_VOCAB) for _ in range(rng.randint(1, 5))]} for i in range(4)
            }
            config = TriageConfig(
                categories=categories,
                category_order=sorted(categories) + ["praise"],
                escalation_words=[rng.choice(_KEYWORD_VOCAB) for _ in range(rng.randint(1, 5))],
            )
        rules = triage.compile_rules(config)
        sample = texts if round_ == 0 else rng.sample(texts, 30) + [_keyword_text(rng).lower() for _ in range(60)]
        for lowered in sample:
            for label in ("negative", "neutral"):
                sentiment = Sentiment(compound=0.0, neg=0.0, neu=1.0, pos=0.0, label=label, lang="en")
                assert triage._categorise(lowered, sentiment, rules) == _reference_categorise(lowered, label, rules)
            gate = rules.escalation_gate
            words = set(triage._WORD.findall(lowered))
            bits = triage._gate_bits(lowered, rules)
            opens = triage._opens(gate, bits, len(rules.category_order), lowered)
            assert opens == gate.admits(words, lowered), lowered
            fast = rules.escalation.search(lowered) if opens else None
            slow = _reference_keyword_pattern(list(rules.escalation_keywords)).search(lowered)
            assert (fast and fast.group(0)) == (slow and slow.group(0)), lowered


# --- complaint signals (socialwatch.complaints): normalisation and rule gates --------------------------------

_REFERENCE_HANDLE_OR_LINK = re.compile(r"https?://\S+|www\.\S+|(?<!\w)@\w+|(?<!\w)RT\b:?|&amp;")


def _reference_normalise(text: str) -> str:
    """complaints.normalise before the fast paths: translate, then lookbehinds at every position."""
    text = _REFERENCE_HANDLE_OR_LINK.sub(" ", text.translate(complaints._APOSTROPHES))
    return " ".join(text.split()).lower()


def _reference_analyse(analyser, text: str, lang: str):
    """ComplaintAnalyser.analyse with no gates: every English rule searched on every text, in order."""
    norm = _reference_normalise(text)
    if not norm:
        return complaints.Signals(False, 0.0, (), False, (), lang)
    evidence = []
    for rule in analyser.rules:
        match = rule.pattern.search(norm)
        if match:
            evidence.append((rule.intent, rule.weight, match.group(0).strip()))
    if not norm.isascii() and not complaints._ANGRY_EMOJI.isdisjoint(norm):
        evidence.append(("dissatisfaction", 0.6, next(ch for ch in norm if ch in complaints._ANGRY_EMOJI)))
    lexicon = analyser.lexicons.get(lang)
    if lexicon is not None:
        evidence.extend(lexicon.find(norm))
    elif lang == "und":
        evidence.extend(analyser._any.find(norm))
    score, intents, matched = complaints._combine(evidence)
    question = "?" in norm or "¿" in norm or bool(complaints._QUESTION_START.match(norm))
    if question and "question" not in intents:
        intents = intents + ("question",)
    return complaints.Signals(
        score >= analyser.threshold,
        round(score, 3),
        intents,
        question,
        matched,
        lang,
        lexicon is not None and lang != "en",
    )


def _complaint_vocabulary(analyser) -> list[str]:
    words = {word for text in synth.texts(500, seed=6) for word in text.split()}
    for rule in analyser.rules:
        words.update(rule.gate or ())
    for lexicon in analyser.lexicons.values():
        words.update(" ".join(entry.words) for entry in lexicon.entries)
    words.update(
        [
            "@AcmeHelp",
            "@x",
            "a@b",
            "RT",
            "RT:",
            "xRT",
            "&amp;",
            "https://t.co/x",
            "www.x.com",
            "’",
            "‘",
            "ʼ",
            "`",
            "“",
            "”",
            "don’t",
            "can`t",
            "?",
            "¿",
            ":(",
            ":'(",
            ">:(",
            "d:",
            "/s",
            "😡",
            "👏",
            "❤️",
            "😍",
            "️",
            "\n",
            ".",
            ",",
            "!",
            "2",
            "10",
            "£5",
            "hours",
            "days",
            "ÉCOLE",
            "nestrādā",
            "İ",
        ]
    )
    return sorted(words)


def test_complaint_signals_are_the_ungated_reference():
    analyser = complaints.ComplaintAnalyser()
    vocabulary = _complaint_vocabulary(analyser)
    rng = random.Random(17)
    # Gate strings next to word characters ("xdelay", "_late", "édelay") must not count as word starts.
    separators = [" ", " ", " ", "", "  ", ". ", "\n", "'", "(", "_", "é", "x", "-", "/", "2", "😡"]
    texts = synth.texts(3_000, seed=8) + [
        "".join(rng.choice(vocabulary) + rng.choice(separators) for _ in range(rng.randint(0, 14)))
        for _ in range(15_000)
    ]
    langs = ["en", "und", "es", "sw", "lv", "ta", "zz"]
    for index, text in enumerate(texts):
        assert complaints.normalise(text) == _reference_normalise(text), repr(text)
        lang = langs[index % len(langs)]
        assert analyser.analyse(text, lang) == _reference_analyse(analyser, text, lang), (text, lang)


# --- pipeline: author history threaded through a batch -------------------------------------------------------


def test_history_after_an_item_is_what_replace_gives():
    from dataclasses import replace
    from datetime import datetime, timedelta

    from socialwatch.models import AuthorHistory
    from socialwatch.scoring.pipeline import _after

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(18)
    times = [None] + [t0 + timedelta(hours=h) for h in range(5)]
    for _ in range(2_000):
        history = AuthorHistory(
            rng.randint(0, 3),
            rng.randint(0, 3),
            rng.choice(times),
            rng.choice(times),
            rng.choice([None, "negative", "neutral"]),
        )
        seen, label = rng.choice(times[1:]), rng.choice(["negative", "positive", "unscored"])
        expected = replace(
            history,
            contacts=history.contacts + 1,
            negative_count=history.negative_count + (label == "negative"),
            first_seen=history.first_seen or seen,
            last_seen=max(history.last_seen, seen) if history.last_seen else seen,
            last_label=label,
        )
        assert _after(history, seen, label) == expected


# --- suggested replies: the whole of suggest() against jinja's own Template.render -------------------------


def _reference_suggest(item, category, label, history, config, templates, lang):
    """replies.suggest with jinja's own Template.render for every template."""
    if category != "exposed_pii" and templates.has_category(lang, "legal") and replies.personal.legal_threat(item.text):
        category = "legal"
    context = replies.context_for(item, category, label, history, config, lang)
    out, seen = [], set()
    explain = lang not in config.team_languages
    for name in templates.names_for(lang, category):
        text = " ".join(templates.env.get_template(name).render(context).split())
        english = None
        if explain:
            english = " ".join(templates.env.get_template(suggest.english_source(name)).render(context).split())
        limit = replies.platforms.reply_limit(item.platform, context["public"])
        if replies.platforms.measure(text, item.platform, context["public"]) > limit:
            continue
        if text and text not in seen:
            seen.add(text)
            out.append(Suggestion(suggest.kind_of(name), text, lang=lang, english=english))
        if len(out) >= config.max_suggestions:
            break
    return tuple(out)


def test_suggestions_are_the_reference_renders():
    templates = suggest.load_templates(None)
    rng = random.Random(19)
    categories = sorted(templates.by_language["en"]) + ["unknown"]
    for index in range(3_000):
        config = SuggestionsConfig(
            signature=rng.choice(["", "- the Acme team", "^JS"]),
            max_suggestions=rng.randint(1, 3),
            brand_name=rng.choice(["Acme", "Ünï", ""]),
        )
        item = Item(
            platform=rng.choice(["x", "facebook"]),
            kind=rng.choice(list(Kind)),
            native_id=str(index),
            account="acme",
            author=Author(str(index), handle=rng.choice(["sam", None]), name=rng.choice(["Sam Smith", "", None, "☆☆"])),
            text=rng.choice(["x", "order 55123 lost", "my lawyer says fraud", "mail me: a@b.co"]),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            lang=rng.choice([None, "en"]),
            public=rng.random() < 0.7,
        )
        history = AuthorHistory(contacts=rng.randint(0, 2))
        category, label = rng.choice(categories), rng.choice(["negative", "neutral"])
        lang = rng.choice(sorted(templates.languages))
        assert replies.suggest(item, category, label, history, config, templates, lang=lang) == _reference_suggest(
            item, category, label, history, config, templates, lang
        )


def test_render_with_flattened_globals_is_template_render():
    loader = jinja2.DictLoader(TRICKY)
    fast = _inlining_env(loader)
    plain = _plain_env(loader)
    rng = random.Random(20)
    names = sorted(TRICKY)
    for _ in range(500):
        sequence = [rng.choice(names) for _ in range(rng.randint(1, 5))]
        context = {"name": rng.choice(["Sam", "Jo"]), "vip": rng.random() < 0.5}
        for name in sequence:
            try:
                fast_out = suggest.render(fast.get_template(name), context)
            except Exception as exc:
                fast_out = f"{type(exc).__name__}: {exc}"
            assert fast_out == _render(plain, name, context), (sequence, name)


_PATTERN_ATOMS = [
    "ab",
    "abc",
    "delay",
    "x y",
    "'s",
    ":(",
    "no",
    "lay",
    "y d",
    "é",
    "b",
    r"\b",
    r"\b",
    r"\B",
    "^",
    r"\s+",
    r"\s*",
    r"\w+",
    r"\w*",
    r"\W",
    "[^.!?]{0,5}",
    "(?:my |the )?",
    "[a-z]",
    ".",
    "(?<!x)",
    "(?!y)",
    "[:;]",
    "[😡x]",
    r"\d+",
    "_",
    r"\b[a-z]delay",
    r"\b[xy]abc",
    r"\b\Wabc",
]


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    while True:
        pattern = _random_sequence(rng, depth)
        try:
            re.compile(pattern)
        except re.error:  # e.g. a quantifier after a quantifier
            continue
        return pattern


def _random_sequence(rng: random.Random, depth: int) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.15 and depth < 2:
            branches = [_random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 3))]
            # No unbounded repeat of a group: nested unbounded repeats can backtrack for ever.
            parts.append("(?:" + "|".join(branches) + ")" + rng.choice(["", "", "?", "{2}", "{1,2}"]))
        else:
            parts.append(rng.choice(_PATTERN_ATOMS))
    return "".join(parts)


def test_complaint_rule_gates_never_skip_a_rule_that_matches():
    """Gates and word starts derived from arbitrary patterns: every rule that matches is searched."""
    analyser = complaints.ComplaintAnalyser()
    rng = random.Random(21)
    words = [
        "ab",
        "abc",
        "delay",
        "x",
        "y",
        "'s",
        ":(",
        "no",
        "lay",
        "yd",
        "é",
        "b",
        "my",
        "the",
        "xdelay",
        "_",
        "a",
        "12",
        "😡",
        ".",
        "!",
        "d",
        "layab",
        "s",
        "xabc",
        "zdelay",
        ":abc",
    ]
    separators = [" ", " ", "", "'", "(", "_", "é", "x", "-", "2", "\n"]
    for _ in range(600):
        patterns = [_random_pattern(rng) for _ in range(8)]
        analyser.rules = gates.compile_rules(("dissatisfaction", 0.6, pattern) for pattern in patterns)
        analyser._index_rules()
        for _ in range(40):
            text = "".join(rng.choice(words) + rng.choice(separators) for _ in range(rng.randint(1, 9)))
            assert analyser.analyse(text, "en") == _reference_analyse(analyser, text, "en"), (patterns, text)


def test_squeeze_is_split_and_join():
    rng = random.Random(22)
    alphabet = [
        "a",
        "b",
        " ",
        " ",
        "  ",
        "\n",
        "\t",
        "\xa0",
        "\u2000",
        "\u3000",
        "\x1c",
        "\x85",
        "\u200b",
        "é",
        "😀",
        "\u2028",
        "\r",
        "\x0b",
        "x y",
    ]
    for _ in range(30_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        assert suggest.squeeze(text) == " ".join(text.split()), repr(text)
