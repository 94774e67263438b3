"""Triage rules: negative public posts are urgent; DMs and questions need replies; spam needs nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import builders
import pytest

from socialwatch.config.load import parse_config
from socialwatch.config.schema import Config
from socialwatch.models import AuthorHistory, Item, Kind
from socialwatch.scoring.pipeline import Pipeline

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Config(), detect=lambda text: "en")


def item(text: str, kind: Kind = Kind.MENTION, followers: int = 50, public: bool | None = None) -> Item:
    return builders.item(text, kind=kind, followers=followers, public=public, created=T0)


def test_negative_public_is_urgent_with_sla(pipeline):
    a = pipeline.assess(item("This is the worst service I have ever had, absolutely awful"))
    assert a.sentiment.label == "negative"
    assert a.priority == "urgent" and a.needs_reply
    assert a.sla_due_at == T0 + timedelta(minutes=15)
    assert any("public mention" in r for r in a.reasons)


def test_negative_dm_is_high_not_urgent(pipeline):
    a = pipeline.assess(item("This is the worst service I have ever had, absolutely awful", kind=Kind.DM))
    assert a.priority == "high" and a.needs_reply
    assert a.sla_due_at == T0 + timedelta(hours=1)


def test_escalation_word_makes_urgent(pipeline):
    a = pipeline.assess(item("I'd like to cancel my account please", kind=Kind.DM))
    assert a.priority == "urgent"
    assert any("escalation word 'cancel my account'" in r for r in a.reasons)


@pytest.mark.parametrize(
    "text", ["The way your staff treated me was pure discrimination", "I was discriminated against at your store"]
)
def test_discrimination_escalates(pipeline, text):
    a = pipeline.assess(item(text, kind=Kind.DM))
    assert a.priority == "urgent" and any("escalation word 'discriminat" in r for r in a.reasons)


def test_spam_needs_nothing(pipeline):
    a = pipeline.assess(item("follow back for free followers, click here"))
    assert a.category == "spam" and a.priority == "none" and not a.needs_reply and a.sla_due_at is None
    assert a.suggestions == ()


def test_praise_low_and_thanks_for_nothing_is_not_praise(pipeline):
    praise = pipeline.assess(item("Thank you, amazing support today!"))
    assert praise.category == "praise" and praise.priority == "low" and not praise.needs_reply
    assert praise.suggestions and all(s.kind == "thank" for s in praise.suggestions)
    # VADER must call it negative for this rule to apply; sarcasm VADER misses is the complaints layer's job.
    sarcastic = pipeline.assess(item("Thanks, but this is terrible, awful and disgusting service"))
    assert sarcastic.sentiment.label == "negative"
    assert sarcastic.category != "praise" and sarcastic.needs_reply


def test_high_reach_raises_priority(pipeline):
    small = pipeline.assess(item("How do I change my delivery address?"))
    big = pipeline.assess(item("How do I change my delivery address?", followers=250_000))
    order = ["none", "low", "normal", "high", "urgent"]
    assert order.index(big.priority) == order.index(small.priority) + 1
    assert any("250,000 followers" in r for r in big.reasons)


def test_repeat_contact_raises_priority(pipeline):
    text = "My refund still hasn't arrived"
    first = pipeline.assess(item(text, kind=Kind.DM))
    repeat = pipeline.assess(item(text, kind=Kind.DM), AuthorHistory(contacts=5, negative_count=4))
    order = ["none", "low", "normal", "high", "urgent"]
    assert order.index(repeat.priority) > order.index(first.priority)
    assert any("repeat contact" in r for r in repeat.reasons)


def test_neutral_public_chatter_needs_no_reply():
    # VADER and the rules (the path without the learned model). With the shipped model this very sentence is
    # one of its English false flags (P(negative) 0.6; 32% of non-negatives flagged on the dev split, see
    # docs/model.md); a rule demanding more certainty where VADER finds no valence cost 3 points of caught.
    rules_only = Pipeline(parse_config({"sentiment": {"model": "none"}}), detect=lambda text: "en")
    a = rules_only.assess(item("just picked up my new headphones from the store"))
    assert not a.needs_reply and a.priority in ("none", "low")


def test_configured_category_and_sla(tmp_path):
    config = parse_config(
        {
            "triage": {
                "categories": {"warranty": {"keywords": ["warranty"]}},
                "category_order": ["warranty", "billing", "question"],
            },
            "sla": {"normal": 30},
        }
    )
    a = Pipeline(config, detect=lambda text: "en").assess(item("Is my blender still under warranty?"))
    assert a.category == "warranty" and a.needs_reply
    assert a.sla_due_at == T0 + timedelta(minutes=30 if a.priority == "normal" else 60)


def test_unknown_category_in_order_is_a_config_error():
    from socialwatch.config.load import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config({"triage": {"category_order": ["billing", "nonsense"]}})
    assert "nonsense" in str(err.value)


@pytest.mark.parametrize(
    "text, lang, category",
    [
        ("@acme my parcel arrived completely smashed", "en", "delivery"),
        ("@acme the package says delivered but it's not here", "en", "delivery"),
        ("@acme mon colis est arrivé cassé", "fr", "delivery"),  # other languages: the damage word alone, as before
        ("@acme Does the warranty cover a cracked screen?", "en", "question"),
        ("@acme the engineer never turned up", "en", "other"),
        ("@acme the noise from the bar kept us up until 3am, not what we paid for", "en", "other"),
    ],
)
def test_damage_words_mean_delivery_only_with_something_delivered(pipeline, text, lang, category):
    """A cracked screen under warranty must not get "sorry your order hasn't arrived" as a suggested reply."""
    assessed = pipeline.assess(replace(item(text), lang=lang))
    assert assessed.category == category
    assert assessed.needs_reply
    if category != "delivery":
        assert not any("hasn't arrived" in s.text for s in assessed.suggestions)
