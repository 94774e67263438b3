"""Suggestions: in the customer's language, within platform limits as the platforms count, never asking
for secrets or for what the customer already gave, personal, and safe with hostile names and templates."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta

import builders
import jinja2
import pytest

from socialwatch.config.schema import Config
from socialwatch.config.suggestions import SuggestionsConfig
from socialwatch.models import AuthorHistory, Item, Kind
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.scoring.replies import check, choice, personal, platforms
from socialwatch.scoring.replies.suggest import ReplyWriter, fit, suggest
from socialwatch.scoring.replies.templates import builtin_templates_dir, load_templates

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LANGUAGES = ("en", "sw", "ms", "id", "lv", "lt", "ta", "es", "fr", "de", "pt")
CATEGORIES = ["billing", "outage", "delivery", "account_security", "question", "praise", "other", "unknown_cat"]
# Asking for a secret: a request verb near a secret noun, not a warning such as "never ask for your password".
ASKS_FOR_SECRET = re.compile(
    r"\b(send|share|give|provide|tell|dm|message|reply with|confirm|enter|type)\b(?:(?!\b(?:never|don't|not|keep)\b)"
    r"[^.!?]){0,40}\b(password|passcode|pin|cvv|cvc|security code|card number|full card|one-time code|2fa code|"
    r"verification code)\b",
    re.IGNORECASE,
)


def item(
    platform: str, kind: Kind, name: str | None = "Sam Smith", handle: str = "sam", text: str = "text", **kw
) -> Item:
    return builders.item(
        text, platform=platform, kind=kind, native_id="42", author_id="7", handle=handle, name=name, followers=5,
        created=NOW, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report() -> check.TemplateReport:
    config = Config()
    config.x.reply_links = False  # the link-free variants are checked too
    return check.check_templates(config)


# --- X's length ---------------------------------------------------------------------------------------


def test_x_length_counts_like_x():
    x = platforms.x_length
    assert x("hello") == 5
    assert x("https://example.com/a/very/long/path/that/is/longer/than/23") == 23
    assert x("see https://a.co") == 4 + 23
    assert x("see a.co") == 4 + 23  # a bare domain is a link to X too
    assert x("write to help.example.com today") == 9 + 23 + 6
    assert x("e.g. this, or sam.smith") == len("e.g. this, or sam.smith")  # not a TLD: not a link
    assert x("日本語") == 6  # CJK weighs 2
    assert x("தமிழ்") == 5  # Tamil weighs 1 in twitter-text v3
    assert platforms.conservative_length("தமிழ்", "x") == 10  # ... and 2 in the conservative budget
    assert x("😀") == 2 and x("👍🏽") == 2 and x("👨‍👩‍👧") == 2 and x("🇰🇪") == 2  # an emoji sequence counts 2
    assert x("é") == 1 and x("e\u0301") == 1  # NFC


def test_x_length_is_twitter_texts_own_count():
    """Against the twitter-text port's whole parse (the conformance-tested reference) on many texts."""
    from twitter_text import parse_tweet

    pieces = [
        "a", " ", "é", "e\u0301", "日", "😀", "\u2000", "\u200d", "\u2010", "\u2030", "\u10ff", "\u1100",
        "https://t.co/abc", "HTTP://X.Y", "://", "ftp://no", "\n", "\r\n", "a.co", "see.me", "©", "#\ufe0f\u20e3",
        "👍🏽", "🇰🇪", "👨‍👩‍👧", "த", "மி", "ℹ", "‼", ".", "e.g.", "x.com/p?q=1", ")", "@", "#", "1", "\ufe0f",
        "sam.smith", "ends.in", "\u3000", "\xa0", "example.com/a(b)c", "www.", "'",
    ]  # fmt: skip
    rng = random.Random(17)
    for _ in range(1_500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert platforms.x_length(text) == parse_tweet(text).weightedLength, repr(text)


def test_the_surfaces_table_holds_every_platform_limit():
    assert platforms.reply_limit("x", True) == 280 and platforms.surface("x", True).weighted
    assert platforms.reply_limit("x", False) == 10_000
    assert platforms.reply_limit("facebook", True) == 8_000
    assert platforms.surface("facebook", False).window == timedelta(hours=24)
    assert platforms.reply_limit("instagram", True) == 2_200
    assert platforms.reply_limit("instagram", False) == 1_000 and platforms.limit_unit("instagram", False) == "bytes"
    assert platforms.measure("ஆ", "instagram", False) == 3  # Instagram counts a DM in UTF-8 bytes
    assert platforms.reply_limit("replay", True) == platforms.DEFAULT_SURFACE.limit


# --- every template, every language, every platform --------------------------------------------------


def test_every_template_of_every_language_renders_within_every_platform_limit(report):
    assert report.problems == [], "\n".join(p.render() for p in report.problems)
    assert set(report.languages) >= set(LANGUAGES)
    assert report.templates >= 27 * len(LANGUAGES)
    for (lang, where), longest in report.longest.items():
        assert longest.length <= longest.limit, (lang, where, longest)
        # The shipped templates fit X also if Tamil counted double (docs/replies.md).
        assert longest.conservative <= longest.limit, (lang, where, longest)
    surfaces = {where for _, where in report.longest}
    assert surfaces >= {
        "X reply",
        "X direct message",
        "Facebook comment",
        "Messenger message",
        "Instagram comment",
        "Instagram message",
    }


def test_every_language_has_every_category_and_intent():
    templates = load_templates(None)
    english = {name.split("/", 1)[1] for names in templates.by_language["en"].values() for name in names}
    kinds = {check_kind.split("-", 1)[1].removesuffix(".j2") for check_kind in english}
    assert kinds >= {"apologise", "acknowledge", "move_private", "help", "thank"}
    for lang in LANGUAGES:
        own = {name.split("/", 1)[1] for names in templates.by_language[lang].values() for name in names}
        assert own == english, lang
        assert templates.pieces[lang] >= {"_greeting.j2", "_sign.j2", "_ack.j2", "_followup.j2"}, lang


@pytest.mark.parametrize("platform,kind", [("x", Kind.MENTION), ("x", Kind.DM), ("facebook", Kind.COMMENT)])
def test_no_suggestion_asks_for_a_secret(platform, kind):
    total = 0
    for category, returning in itertools.product(CATEGORIES, [False, True]):
        history = AuthorHistory(contacts=3 * returning)
        out = suggest(item(platform, kind), category, "negative", history, SuggestionsConfig())
        assert 1 <= len(out) <= 3
        for suggestion in out:
            total += 1
            assert not ASKS_FOR_SECRET.search(suggestion.text), suggestion.text
    assert total > 20


def test_secret_pattern_would_catch_a_bad_template():
    assert ASKS_FOR_SECRET.search("Please DM us your card number and CVV")
    assert not ASKS_FOR_SECRET.search("We will never ask for your password.")


# --- the language ----------------------------------------------------------------------------------------

SAMPLES = {
    "sw": "Oda yangu haijafika bado na hakuna anayejibu simu",
    "ms": "pesanan saya belum sampai dan tiada jawapan dari khidmat pelanggan",
    "id": "pesanan saya belum sampai dan tidak ada yang menjawab",
    "lv": "Mans pasūtījums vēl nav atnācis, neviens neatbild",
    "lt": "Mano užsakymas dar neatvyko, niekas neatsako",
    "ta": "என் ஆர்டர் இன்னும் வரவில்லை, யாரும் பதில் சொல்லவில்லை",
    "es": "llevo una semana esperando mi pedido y nadie responde",
    "fr": "ma commande est en retard et le service client ne répond pas",
    "de": "meine Bestellung ist seit 10 Tagen nicht angekommen und niemand antwortet",
    "pt": "minha encomenda ainda não chegou e ninguém responde",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_a_message_is_answered_in_its_language(lang):
    pipeline = Pipeline(Config())
    assessed = pipeline.assess(item("facebook", Kind.DM, name="Amani", text=SAMPLES[lang], public=False))
    assert assessed.suggestions, assessed.reasons
    english = load_templates(None)
    for suggestion in assessed.suggestions:
        assert suggestion.lang == lang
        assert suggestion.english and suggestion.english != suggestion.text  # the team reads English
        assert suggestion.text.split()[0] != "Hi" and suggestion.english.startswith("Hi Amani")
    assert english.languages >= set(SAMPLES)


def test_an_english_platform_tag_does_not_overrule_a_confident_detection():
    writer = ReplyWriter(Config())
    tagged = item("x", Kind.MENTION, text="@brand " + SAMPLES["ms"], lang="en")
    assert writer.choose(tagged, "en", AuthorHistory()).lang == "ms"
    short = item("x", Kind.MENTION, text="@brand ok thanks", lang="en")
    assert writer.choose(short, "en", AuthorHistory()).lang == "en"


def test_unknown_language_falls_back_to_history_then_default():
    config = SuggestionsConfig()
    available = load_templates(None).languages
    assert choice.choose("", "sw", config, available).lang == "sw"
    assert choice.choose("", "sw", config, available).source == "history"
    assert choice.choose("", None, config, available).lang == "en"
    italian = choice.choose("it", None, config, available)
    # a language without templates is still named to the manager (one table of names, models.LANGUAGE_NAMES)
    assert italian.lang == "en" and "Italian (it)" in italian.why and "in English" in italian.why


def test_a_brand_limits_its_languages_and_says_what_happens_otherwise():
    available = load_templates(None).languages
    only = SuggestionsConfig(reply_languages=["en", "sw"])
    assert choice.choose("sw", None, only, available).lang == "sw"
    assert choice.choose("fr", None, only, available).lang == "en"
    none = SuggestionsConfig(reply_languages=["en", "sw"], other_languages="none")
    refused = choice.choose("fr", None, none, available)
    assert refused.lang is None and "French" in refused.why
    pipeline = Pipeline(Config(suggestions=none))
    assessed = pipeline.assess(item("facebook", Kind.DM, text=SAMPLES["fr"], public=False))
    assert assessed.suggestions == () and any("French" in reason for reason in assessed.reasons)
    with pytest.raises(ValueError, match="default_language"):
        SuggestionsConfig(reply_languages=["sw"])


def test_brand_words_per_language():
    config = SuggestionsConfig(
        brand_name="Acme",
        signature="^AC",
        languages={"sw": {"brand_name": "Acme Kenya", "help_url": "https://acme.example/sw", "signature": "^Timu"}},
    )
    out = suggest(item("facebook", Kind.COMMENT), "question", "neutral", AuthorHistory(), config, lang="sw")
    assert any("https://acme.example/sw" in s.text for s in out)
    assert all(s.text.endswith("^Timu") for s in out)
    english = suggest(item("facebook", Kind.COMMENT), "question", "neutral", AuthorHistory(), config)
    assert all(s.text.endswith("^AC") for s in english) and all(s.english is None for s in english)


def test_the_english_meaning_is_shown_only_to_a_team_that_may_not_read_the_language():
    sw = item("facebook", Kind.DM, public=False)
    shown = suggest(sw, "delivery", "negative", AuthorHistory(), SuggestionsConfig(), lang="sw")
    assert shown and all(s.english and s.english.startswith("Hi Sam") for s in shown)
    reads = SuggestionsConfig(team_languages=["en", "sw"])
    assert all(s.english is None for s in suggest(sw, "delivery", "negative", AuthorHistory(), reads, lang="sw"))


# --- personal -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "display,marker",
    [
        ("https://evil.example/login", "evil"),
        ("@SandboxCEO", "SandboxCEO"),
        ("<!here>", "here>"),
        ("evil.example", "evil"),
        ("Ѕam Smith", "Ѕam"),  # a Cyrillic Ѕ: a disguise
        ("\u202eevil", "evil"),
        ("Dr. Who", "Dr"),
        ("😀😀 Sam", "😀"),
    ],
)
def test_a_display_name_that_is_not_a_plain_name_is_never_posted(display, marker):
    for lang in ("en", "sw", "de"):
        out = suggest(item("x", Kind.MENTION, name=display), "other", "negative", AuthorHistory(), SuggestionsConfig(),
                      lang=lang)  # fmt: skip
        assert out
        for suggestion in out:
            assert marker not in suggestion.text and "<" not in suggestion.text, suggestion.text
            assert "@" not in suggestion.text, suggestion.text


def test_plain_names_are_used():
    assert personal.plain_first_name("Ama Mensah") == "Ama"
    assert personal.plain_first_name("Jean-Luc Picard") == "Jean-Luc"
    assert personal.plain_first_name("O'Brien") == "O'Brien"
    assert personal.plain_first_name("முருகன் K") == "முருகன்"
    assert personal.plain_first_name("JĀNIS") == "Jānis"
    assert personal.plain_first_name("Bartholomew-Maximilian") == ""  # wider than a reply should carry
    ama = item("x", Kind.MENTION, name="Ama Mensah")
    out = suggest(ama, "praise", "positive", AuthorHistory(), SuggestionsConfig())
    assert out and all(s.text.startswith("Hi Ama.") for s in out)


def test_never_asks_for_what_the_customer_gave():
    gave = item("x", Kind.DM, text="my order 55123 never arrived, email me at sam@example.com", public=False)
    texts = [s.text for s in suggest(gave, "delivery", "negative", AuthorHistory(), SuggestionsConfig())]
    assert texts and not any("share your order number" in t or "order number and" in t for t in texts)
    assert any("order 55123" in t for t in texts)
    public = item("x", Kind.MENTION, text="@brand order #55123 still missing")
    texts = [s.text for s in suggest(public, "delivery", "negative", AuthorHistory(), SuggestionsConfig())]
    assert any("Thanks for the order number" in t for t in texts) and not any("55123" in t for t in texts)
    security = item("x", Kind.DM, text="hacked! my login is sam@example.com", public=False)
    texts = [s.text for s in suggest(security, "account_security", "negative", AuthorHistory(), SuggestionsConfig())]
    assert not any("Which email address" in t for t in texts)
    dm = item("x", Kind.DM, public=False)
    asked = suggest(dm, "account_security", "negative", AuthorHistory(), SuggestionsConfig())
    assert any("Which email address" in s.text for s in asked)


def test_a_repeat_complainer_is_acknowledged():
    out = suggest(item("facebook", Kind.COMMENT, name="Ama Mensah"), "delivery", "negative", AuthorHistory(contacts=2),
                  SuggestionsConfig(case_prefix="AC"))  # fmt: skip
    ref = personal.case_reference("facebook:42", "AC")
    assert re.fullmatch(r"AC-[0-9A-F]{6}", ref)
    assert all(s.text.startswith("Hi Ama, and sorry you've had to contact us again.") for s in out)
    assert any(ref in s.text for s in out)
    ama = item("x", Kind.MENTION, name="Ama")
    praise = suggest(ama, "praise", "positive", AuthorHistory(contacts=2), SuggestionsConfig())
    assert all(s.text.startswith("Hi Ama, welcome back.") for s in praise)


def test_a_legal_or_fraud_threat_never_gets_a_password_reset_text():
    text = "@brand someone hacked my account and charged me, this is fraud and my lawyer will hear about it"
    pipeline = Pipeline(Config())
    assessed = pipeline.assess(item("x", Kind.MENTION, text=text))
    assert assessed.category == "account_security" and assessed.priority == "urgent"
    assert assessed.suggestions
    assert not any("password" in s.text.lower() and "reset" in s.text.lower() for s in assessed.suggestions)
    assert all("senior" in s.text for s in assessed.suggestions)
    plain = pipeline.assess(item("x", Kind.MENTION, text="@brand my account was hacked, please help"))
    assert any("reset your password" in s.text for s in plain.suggestions)
    assert personal.legal_threat("mon avocat va vous contacter") and personal.legal_threat("இது மோசடி")
    assert personal.legal_threat("the courteous staff") is None


# --- platform rules -----------------------------------------------------------------------------------


def test_reply_links_false_gives_link_free_variants_on_x_only():
    config = Config()
    config.x.reply_links = False
    writer = ReplyWriter(config)
    for lang, category in itertools.product(LANGUAGES, ["question", "outage", "billing", "delivery", "other"]):
        x = suggest(item("x", Kind.MENTION), category, "negative", AuthorHistory(), config.suggestions, lang=lang,
                    links=False)  # fmt: skip
        assert x and not any(platforms.has_link(s.text) for s in x), (lang, category)
    written = writer.write(item("facebook", Kind.COMMENT), "question", "neutral", AuthorHistory(), "en")
    assert any("https://example.com/help" in s.text for s in written.suggestions)


def test_x_replies_only_to_posts_that_mention_or_quote_the_brand():
    config = Config.model_validate({"x": {"accounts": [{"name": "acme", "bearer_token": "t", "handle": "AcmeHelp"}]}})
    writer = ReplyWriter(config)
    mention = item("x", Kind.MENTION, text="@acmehelp where is my parcel?", account="acme")
    assert writer.x_refusal(mention) is None
    quoted = {"referenced_tweets": [{"type": "quoted"}]}
    quote = item("x", Kind.MENTION, text="look at this", account="acme", raw=quoted)
    assert writer.x_refusal(quote) is None
    neither = item("x", Kind.MENTION, text="acme lost my parcel again", account="acme")
    why = writer.x_refusal(neither)
    assert why and "@acmehelp" in why
    written = writer.write(neither, "delivery", "negative", AuthorHistory(), "en")
    assert written.suggestions and all(s.refused == why for s in written.suggestions)
    assert writer.x_refusal(item("x", Kind.DM, text="hi", account="acme", public=False)) is None


def test_messengers_window_closes_after_24_hours():
    created = NOW - timedelta(hours=25)
    assert platforms.window_refusal("facebook", False, created, NOW)
    assert platforms.window_refusal("facebook", False, NOW - timedelta(hours=23), NOW) is None
    assert platforms.window_refusal("facebook", True, created, NOW) is None  # comments have no window
    assert platforms.window_refusal("x", False, created, NOW) is None


def test_fit_cuts_at_sentence_then_word():
    text = "First sentence here. " + "Second sentence " * 30 + "end."
    assert fit(text, "x", True) == "First sentence here."
    cut = fit("word " * 200, "x", True)
    assert cut.endswith("…") and platforms.x_length(cut) <= 280


# --- overrides, bad templates and the sandbox ---------------------------------------------------------


def test_override_directory_replaces_one_file_in_the_old_and_the_new_layout(tmp_path):
    (tmp_path / "praise").mkdir()
    (tmp_path / "praise" / "1-thank.j2").write_text("Cheers {{ name }}, from {{ brand }}!")
    (tmp_path / "sw" / "praise").mkdir(parents=True)
    (tmp_path / "sw" / "praise" / "1-thank.j2").write_text("Asante {{ name }}!")
    config = SuggestionsConfig(templates_dir=tmp_path, brand_name="Acme")
    out = suggest(item("x", Kind.MENTION), "praise", "positive", AuthorHistory(), config)
    assert out[0].text == "Cheers Sam, from Acme!" and len(out) == 2
    sw = suggest(item("x", Kind.MENTION), "praise", "positive", AuthorHistory(), config, lang="sw")
    assert sw[0].text == "Asante Sam!" and sw[0].english == "Cheers Sam, from Acme!"


HOSTILE = {
    "class": "{{ name.__class__.__mro__ }}",
    "globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "lipsum": "{{ lipsum() }}",
    "format": "{{ '{0.__class__}'.format(name) }}",
    "undefined": "Cheers {{ nmae }}",
    "syntax": "Cheers {{ name ",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_bad_template_is_left_out_at_run_time_and_named_by_check(tmp_path, case, caplog):
    (tmp_path / "en" / "praise").mkdir(parents=True)
    (tmp_path / "en" / "praise" / "1-thank.j2").write_text(HOSTILE[case])
    config = SuggestionsConfig(templates_dir=tmp_path)
    out = suggest(item("x", Kind.MENTION), "praise", "positive", AuthorHistory(), config)
    assert [s.text for s in out] == ["Hi Sam. Thanks for the kind words. We'll pass them on to the team."]
    assert "uid=" not in " ".join(s.text for s in out)
    only_english = SuggestionsConfig(templates_dir=tmp_path, reply_languages=["en"])
    problems = check.check_templates(Config(suggestions=only_english)).problems
    mine = [p for p in problems if p.template == "en/praise/1-thank.j2"]
    assert mine and all(str(tmp_path / "en" / "praise" / "1-thank.j2") == p.file for p in mine), problems
    assert all(p.fix for p in mine)


def test_the_sandbox_refuses_attribute_tricks_even_unchecked():
    env = load_templates(None).env
    with pytest.raises(jinja2.exceptions.SecurityError):
        env.from_string("{{ name.__class__.__mro__ }}").render(name="x")
    assert "cycler" not in env.globals and "range" not in env.globals


def test_check_names_a_missing_translation_and_an_over_limit_template(tmp_path):
    (tmp_path / "sw" / "billing").mkdir(parents=True)
    (tmp_path / "sw" / "billing" / "9-extra.j2").write_text("{% include '_greeting.j2' %} Ziada.")
    (tmp_path / "en" / "praise").mkdir(parents=True)
    (tmp_path / "en" / "praise" / "2-thank.j2").write_text("{% include '_greeting.j2' %} " + "Thanks! " * 40)
    config = SuggestionsConfig(templates_dir=tmp_path, reply_languages=["en", "sw"])
    problems = check.check_templates(Config(suggestions=config)).problems
    by_template = {p.template: p for p in problems}
    assert "no English source" in by_template["sw/billing/9-extra.j2"].message
    assert "over its limit of 280" in by_template["en/praise/2-thank.j2"].message
    assert "shorten" in by_template["en/praise/2-thank.j2"].fix
    missing = check.check_templates(Config(suggestions=SuggestionsConfig(reply_languages=["en", "it"]))).problems
    assert any(p.template == "it/" and "copy the en/ folder" in p.fix for p in missing)


def test_the_documented_variables_are_the_context():
    from socialwatch.scoring.replies.suggest import context_for

    context = context_for(item("x", Kind.MENTION), "other", "negative", AuthorHistory(), SuggestionsConfig(), "en")
    assert set(context) == check.SUGGESTION_VARIABLES
    text = (builtin_templates_dir() / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in check.SUGGESTION_VARIABLES | check.ACK_VARIABLES)


def test_socialwatch_check_names_a_bad_template_with_its_fix_and_fails(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from socialwatch.cli import main

    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    overrides = tmp_path / "templates"
    (overrides / "en" / "praise").mkdir(parents=True)
    bad = overrides / "en" / "praise" / "1-thank.j2"
    bad.write_text("{{ cycler.__init__.__globals__ }}")
    config = tmp_path / "socialwatch.toml"
    config.write_text(
        f'[daemon]\ndatabase = "{tmp_path / "db.sqlite"}"\n[suggestions]\ntemplates_dir = "{overrides}"\n'
        'reply_languages = ["en", "sw"]\n'
        f'[[replay]]\nname = "sample"\npath = "{tmp_path / "replay.jsonl"}"\n'
    )
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert str(bad) in result.output and "fix: use only the documented variables" in result.output
    assert "cycler" in result.output
    bad.write_text("{% include '_greeting.j2' %} Thank you!{% include '_sign.j2' %}")
    load_templates.cache_clear()
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "templates: OK (54 templates in 2 languages (en, sw); longest X reply" in result.output
