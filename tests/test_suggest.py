"""Suggestions: within platform limits as the platforms count, never asking for secrets, personalised."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import builders
import pytest

from socialwatch.config.schema import SuggestionsConfig
from socialwatch.models import AuthorHistory, Item, Kind
from socialwatch.scoring.suggest import case_reference, fit, load_templates, reply_limit, suggest, x_length

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CATEGORIES = ["billing", "outage", "delivery", "account_security", "question", "praise", "other", "unknown_cat"]
# Asking for a secret: a request verb near a secret noun, not a warning such as "never ask for your password".
ASKS_FOR_SECRET = re.compile(
    r"\b(send|share|give|provide|tell|dm|message|reply with|confirm|enter|type)\b(?:(?!\b(?:never|don't|not|keep)\b)"
    r"[^.!?]){0,40}\b(password|passcode|pin|cvv|cvc|security code|card number|full card|one-time code|2fa code|"
    r"verification code)\b",
    re.IGNORECASE,
)


def item(platform: str, kind: Kind, name: str = "Sam Smith", handle: str = "sam") -> Item:
    return builders.item(
        "text",
        platform=platform,
        kind=kind,
        native_id="42",
        author_id="7",
        handle=handle,
        name=name,
        followers=5,
        created=NOW,
    )


def test_x_length_counts_like_x():
    assert x_length("hello") == 5
    assert x_length("https://example.com/a/very/long/path/that/is/longer/than/23") == 23
    assert x_length("see https://a.co") == 4 + 23
    assert x_length("日本語") == 6  # CJK weighs 2
    assert x_length("😀") == 2
    assert x_length("é") == 1  # NFC


@pytest.mark.parametrize(
    "platform,kind", [("x", Kind.MENTION), ("x", Kind.DM), ("facebook", Kind.COMMENT), ("facebook", Kind.DM)]
)
def test_every_suggestion_fits_the_platform_and_asks_no_secret(platform, kind):
    long_name = "Bartholomew-Maximilian " + "日本" * 30
    configs = [
        SuggestionsConfig(),
        SuggestionsConfig(
            brand_name="A" * 200,
            help_url="https://help.example.com/" + "x" * 300,
            signature="— the Acme customer care team, available 24/7 " + "🙂" * 40,
        ),
    ]
    total = 0
    for category, config, name, returning in itertools.product(
        CATEGORIES, configs, ["Sam", long_name, "", "😀😀"], [False, True]
    ):
        history = AuthorHistory(contacts=3 if returning else 0)
        out = suggest(item(platform, kind, name=name), category, "negative", history, config)
        assert 1 <= len(out) <= 3
        for suggestion in out:
            total += 1
            length = x_length(suggestion.text) if platform == "x" else len(suggestion.text)
            assert 0 < length <= reply_limit(platform, kind is not Kind.DM), suggestion.text
            assert not ASKS_FOR_SECRET.search(suggestion.text), suggestion.text
    assert total > 100


def test_secret_pattern_would_catch_a_bad_template():
    assert ASKS_FOR_SECRET.search("Please DM us your card number and CVV")
    assert ASKS_FOR_SECRET.search("Reply with your password so we can check")
    assert not ASKS_FOR_SECRET.search("We will never ask for your password.")


def test_public_complaints_move_to_private_and_dms_do_not():
    public = suggest(item("x", Kind.MENTION), "billing", "negative", AuthorHistory(), SuggestionsConfig())
    private = suggest(item("x", Kind.DM), "billing", "negative", AuthorHistory(), SuggestionsConfig())
    assert any("private message" in s.text or "direct message" in s.text for s in public)
    assert not any("private message" in s.text or "direct message" in s.text for s in private)
    assert {s.kind for s in public} >= {"apologise", "move_private"}


def test_personalised_with_name_returning_and_case_reference():
    out = suggest(
        item("facebook", Kind.COMMENT, name="Ama Mensah"),
        "delivery",
        "negative",
        AuthorHistory(contacts=2),
        SuggestionsConfig(case_prefix="AC"),
    )
    ref = case_reference("facebook:42", "AC")
    assert re.fullmatch(r"AC-[0-9A-F]{6}", ref)
    assert all(s.text.startswith("Hi Ama, welcome back.") for s in out)
    assert any(ref in s.text for s in out)


def test_praise_is_thanked():
    out = suggest(item("x", Kind.MENTION), "praise", "positive", AuthorHistory(), SuggestionsConfig())
    assert out and all(s.kind == "thank" for s in out)


def test_override_directory_replaces_one_file(tmp_path):
    (tmp_path / "praise").mkdir()
    (tmp_path / "praise" / "1-thank.j2").write_text("Cheers {{ name }}, from {{ brand }}!")
    out = suggest(
        item("x", Kind.MENTION),
        "praise",
        "positive",
        AuthorHistory(),
        SuggestionsConfig(templates_dir=tmp_path, brand_name="Acme"),
    )
    assert out[0].text == "Cheers Sam, from Acme!"
    assert len(out) == 2  # the other built-in praise template still applies


def test_template_typo_fails_loudly(tmp_path):
    import jinja2

    (tmp_path / "praise").mkdir()
    (tmp_path / "praise" / "1-thank.j2").write_text("Cheers {{ nmae }}")
    with pytest.raises(jinja2.UndefinedError):
        suggest(
            item("x", Kind.MENTION), "praise", "positive", AuthorHistory(), SuggestionsConfig(templates_dir=tmp_path)
        )


def test_fit_cuts_at_sentence_then_word():
    text = "First sentence here. " + "Second sentence " * 30 + "end."
    assert fit(text, "x", True) == "First sentence here."
    one_long = "word " * 200
    cut = fit(one_long, "x", True)
    assert cut.endswith("…") and x_length(cut) <= 280


def test_shipped_templates_cover_every_builtin_needing_reply_category():
    from socialwatch.config.triage import DEFAULT_CATEGORIES

    templates = load_templates(None)
    for name, rule in DEFAULT_CATEGORIES.items():
        if rule.needs_reply:
            assert name in templates.by_category, f"no templates for {name}"
