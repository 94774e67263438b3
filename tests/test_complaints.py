"""The customer-service layer: complaint patterns VADER misses, lexicons per language, routing of
texts no sentiment model reads ("unscored"), and the exposed_pii path through the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import builders
import pytest

from socialwatch.config.load import ConfigError, parse_config
from socialwatch.models import AuthorHistory, Item, Kind
from socialwatch.scoring.complaints import ComplaintAnalyser, analyse
from socialwatch.scoring.lexicon import fold, load_lexicons, tokens
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.scoring.sentiment import Thresholds, decide_label, make_analyzer, score

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def item(text: str, kind: Kind = Kind.MENTION, lang: str | None = None) -> Item:
    return builders.item(text, kind=kind, lang=lang, created=T0)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(parse_config({}))  # real language detection, default policy


# --- English patterns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,intent",
    [
        ("@AcmeAir on hold for 2 hours and still nobody picks up", "waiting"),
        ("@ShopNow still waiting for my order from the 3rd", "waiting"),
        ("@ShopNow where is my refund?", "waiting"),
        ("flight delayed again, no update", "delay"),
        ("@CityRail 25 min late every single morning", "delay"),
        ("@CityRail train cancelled AGAIN", "cancellation"),
        ("@ParcelGo package says delivered but it's not here", "lost_damaged"),
        ("@ParcelGo my parcel arrived completely smashed", "lost_damaged"),
        ("@ShopNow I was charged twice for the same order", "charge"),
        ("@BankCo you've taken money from my account 3 times this month", "charge"),
        ("@TelcoOne internet down since this morning", "outage"),
        ("@BankCo your app keeps crashing when I log in", "outage"),
        ("@CloudDocs getting error 500 every time I save", "error"),
        ("@BankCo I think my account was hacked", "account_security"),
        ("@BankCo locked out of my account", "account_security"),
        ("@HotelGrand the staff were rude", "rude_staff"),
        ("@InsureMe you promised a callback yesterday", "broken_promise"),
        ("@InsureMe nobody has replied to my emails for 2 weeks", "no_response"),
        ("@InsureMe I will be taking this to the ombudsman", "escalation"),
    ],
)
def test_complaints_vader_misses_are_found_with_their_intent(text, intent):
    signals = analyse(text, "en")
    assert signals.complaint, signals
    assert intent in signals.intents
    assert any(m.startswith(intent + ":") for m in signals.matched)


@pytest.mark.parametrize(
    "text",
    [
        "thanks for nothing @FastFood",
        "great, another delay. love spending my weekend at the airport",
        "@AcmeAir thanks for the 6 hour delay, really made my holiday",
        "not happy with @StreamBox at all",
        "@TelcoOne 😡😡 sort it out",
        # A short thanks closing a problem does not cancel it (it did: "thx" counted as praise alone).
        "@ShopNow my order is 5 days late, thx",
        "@ShopNow still no refund. ty",
    ],
)
def test_sarcasm_negation_and_emoji(text):
    assert analyse(text, "en").complaint


@pytest.mark.parametrize(
    "text",
    [
        "@ShopNow got my order today, love it!",
        "just got my refund from @ShopNow, thank you!",
        "@TelcoOne no problem, thanks for fixing it so fast",
        "@ShopNow order arrived, all good thx",
        "never had a single problem with @BankCo",
        "@StreamBox can't wait for season 3!!",
        "@ShopNow do you ship to Canada?",
        "@CityRail what a view this morning",
        "waiting for my @ShopNow order like 🤩",
    ],
)
def test_praise_questions_and_solved_problems_are_not_complaints(text):
    assert not analyse(text, "en").complaint


def test_questions_to_the_brand():
    assert analyse("@ShopNow do you ship to Canada?", "en").question_to_brand
    assert analyse("How do I change my address", "en").question_to_brand
    assert analyse("¿a qué hora abre la tienda hoy", "es").question_to_brand
    assert not analyse("what a show, no spoilers but wow", "en").question_to_brand


def test_handles_and_links_are_not_evidence():
    assert analyse("@DelayedFlights https://example.com/refund-error", "en").intents == ()


# --- lexicons per language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang,text",
    [
        ("sw", "@TelcoOne mtandao hauna huduma tangu jana"),
        ("sw", "@AcmeAir ndege imechelewa masaa matatu"),  # "*chelewa*" catches the inflected verb
        ("ms", "@ShopNow dah dua minggu tunggu barang tak sampai lagi"),
        ("id", "@ShopNow pesanan saya belum sampai, kecewa"),  # Indonesian shares the Malay lexicon
        ("lv", "@TelcoOne internets nestrādā jau otro dienu"),
        ("lv", "@TelcoOne internets nestrada jau otro dienu"),  # typed without diacritics
        ("lt", "@ShopNow vis dar laukiu savo užsakymo"),
        ("ta", "@TelcoOne நேற்றிலிருந்து இணையம் வேலை செய்யவில்லை"),
        ("es", "@BankCo me cobraron dos veces la misma compra"),
        ("fr", "@BankCo j'ai été débité deux fois pour le même achat"),
        ("de", "@TelcoOne seit gestern kein Internet"),
        ("pt", "@BankCo fui cobrado duas vezes"),
    ],
)
def test_starter_lexicons_find_complaints(lang, text):
    signals = analyse(text, lang)
    assert signals.complaint and signals.lexicon and signals.problems, signals


@pytest.mark.parametrize(
    "lang,text",
    [
        ("sw", "@ShopNow asante sana, mzigo umefika salama"),
        ("lv", "@ShopNow paldies, viss atnāca laikā!"),
        ("ta", "@ShopNow நன்றி, பார்சல் சரியான நேரத்தில் வந்தது"),
        ("fr", "@AcmeAir super vol, merci"),
    ],
)
def test_thanks_in_other_languages_is_not_a_complaint(lang, text):
    assert not analyse(text, lang).complaint


def test_a_phrase_hides_the_words_inside_it():
    # "paldies" (thanks) alone would count against a complaint; "paldies par neko" is "thanks for nothing".
    signals = analyse("@ShopNow paldies par neko", "lv")
    assert signals.complaint and "praise" not in signals.intents


def test_unknown_language_tries_every_lexicon():
    assert analyse("ndege imechelewa masaa matatu", "und").complaint
    assert not analyse("ndege imechelewa masaa matatu", "ja").complaint  # a known language without lexicon


def test_every_shipped_lexicon_loads_with_terms():
    lexicons = load_lexicons()
    for lang in ("sw", "ms", "lv", "lt", "ta", "es", "fr"):
        assert len(lexicons[lang].entries) >= 40, lang
    assert lexicons["id"] is lexicons["ms"]


def test_config_lexicon_extends_and_adds_languages():
    analyser = ComplaintAnalyser({"sw": {"bando limeisha": 0.8}, "xh": {"andonwabanga": 0.9}, "en": {"crashy": 0.7}})
    assert analyser.analyse("@TelcoOne bando limeisha tena", "sw").complaint
    assert not analyse("@TelcoOne bando limeisha tena", "sw").complaint  # the default analyser is unchanged
    assert analyser.analyse("ndiyo andonwabanga", "xh").complaint
    assert analyser.analyse("the new app is so crashy", "en").complaint
    # A negative weight is evidence against.
    thanks = ComplaintAnalyser({"sw": {"tatizo": -0.9}})
    assert not thanks.analyse("tatizo", "sw").complaint


def test_config_rejects_bad_lexicon_entries():
    with pytest.raises(ConfigError) as err:
        parse_config({"sentiment": {"complaint_lexicon": {"sw": {"mbovu": 3.0}}}})
    assert "complaint_lexicon" in str(err.value) and "between -1 and 1" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({"sentiment": {"complaint_lexicon": {"swahili!": {"mbovu": 0.5}}}})
    assert "not a language code" in str(err.value)
    with pytest.raises(ConfigError):
        parse_config({"triage": {"unscored_policy": "sometimes"}})


def test_folding_and_tokens():
    assert fold("nestrādā ļoti užsakymo") == "nestrada loti uzsakymo"
    assert fold("வேலை செய்யவில்லை") == "வேலை செய்யவில்லை"  # vowel signs are not diacritics
    assert tokens("pas d'internet, வேலை!") == ["pas", "d'internet", "வேலை"]


# --- the label: VADER plus the complaint layer ---------------------------------------------------------


def test_label_listens_to_complaints_but_reports_vader_as_is():
    analyzer = make_analyzer()
    scored = score("@AcmeAir on hold for 2 hours", "en", analyzer)
    assert scored.compound == pytest.approx(0.0) and scored.label == "negative"
    sarcastic = score("great, another delay. love spending my weekend at the airport", "en", analyzer)
    assert sarcastic.compound > 0.05 and sarcastic.label == "negative"
    solved = score("never had a single problem with @BankCo", "en", analyzer)
    assert solved.compound < -0.05 and solved.label == "neutral"  # VADER counts the negated "problem"


def test_other_languages_are_unscored_even_when_they_complain():
    scored = score("@TelcoOne mtandao hauna huduma tangu jana", "sw", make_analyzer())
    assert scored.label == "unscored"
    assert decide_label(-0.9, "fr", None, Thresholds()) == "unscored"
    assert decide_label(-0.9, "und", None, Thresholds()) == "negative"


def test_complaint_threshold_from_config():
    strict = make_analyzer(complaint_threshold=0.99)
    assert score("@AcmeAir on hold for 2 hours", "en", strict).label == "neutral"
    assert score("@AcmeAir on hold for 2 hours", "en", make_analyzer()).label == "negative"


# --- routing through the real pipeline ---------------------------------------------------------------


def test_english_complaint_vader_misses_is_urgent_with_reasons(pipeline):
    a = pipeline.assess(item("@AcmeAir on hold for 2 hours and still nobody picks up"))
    assert a.sentiment.label == "negative" and a.sentiment.lang == "en"
    assert a.priority == "urgent" and a.needs_reply
    assert any("complaint signals" in r and "on hold" in r for r in a.reasons)
    assert any("VADER alone" in r for r in a.reasons)


@pytest.fixture(scope="module")
def rules_only() -> Pipeline:
    """VADER and the rules without the learned model: what runs in a language the model does not know,
    and everywhere when its file is missing or broken."""
    return Pipeline(parse_config({"sentiment": {"model": "none"}}))


def test_unscored_complaint_goes_to_a_person_tagged_with_the_language(rules_only):
    a = rules_only.assess(item("@BankCo huduma mbovu sana, hakuna anayejibu simu"))
    assert a.sentiment.label == "unscored" and a.sentiment.lang == "sw"
    assert a.needs_reply and a.priority == "high"
    assert "language sw" in a.reasons
    assert a.suggestions


def test_unscored_chatter_is_not_routed_but_dms_and_questions_are(rules_only):
    chatter = rules_only.assess(item("@BankCo habari za asubuhi, siku njema kwa wote"))
    assert chatter.sentiment.label == "unscored" and not chatter.needs_reply and chatter.priority == "low"
    assert any("no complaint or question" in r for r in chatter.reasons)
    question = rules_only.assess(item("@TelcoOne mnafungua saa ngapi leo?"))
    assert question.needs_reply
    dm = rules_only.assess(item("habari za asubuhi, siku njema kwa wote", kind=Kind.DM))
    assert dm.needs_reply and any("direct messages" in r for r in dm.reasons)


def test_with_the_model_swahili_is_scored_not_routed_by_policy(pipeline):
    if pipeline.model is None:
        pytest.skip(f"no model: {pipeline.loaded.error if pipeline.loaded else ''}")
    complaint = pipeline.assess(item("@BankCo huduma mbovu sana, hakuna anayejibu simu"))
    assert complaint.sentiment.lang == "sw" and complaint.sentiment.label == "negative" and complaint.needs_reply
    assert complaint.sentiment.model_score is not None
    chatter = pipeline.assess(item("@BankCo habari za asubuhi, siku njema kwa wote"))
    assert chatter.sentiment.label in ("neutral", "positive") and not chatter.needs_reply


def test_language_without_lexicon_is_read_by_a_person(pipeline):
    a = pipeline.assess(item("@ShopNow 注文した商品がまだ届きません"))
    assert a.sentiment.label == "unscored" and a.sentiment.lang == "ja"
    assert a.needs_reply and any("no complaint lexicon" in r for r in a.reasons)


@pytest.mark.parametrize(
    "policy,chatter_routed,complaint_routed",
    [
        ("all", True, True),
        ("dms", False, False),
        ("complaints", False, True),
    ],
)
def test_unscored_policy_from_config(policy, chatter_routed, complaint_routed):
    # The policy is for languages no model reads: here, all of them (no model).
    p = Pipeline(parse_config({"triage": {"unscored_policy": policy}, "sentiment": {"model": "none"}}))
    assert p.assess(item("@BankCo habari za asubuhi, siku njema kwa wote")).needs_reply is chatter_routed
    assert p.assess(item("@BankCo huduma mbovu sana, hakuna anayejibu simu")).needs_reply is complaint_routed
    assert p.assess(item("huduma mbovu sana, hakuna anayejibu simu", kind=Kind.DM)).needs_reply


def test_declared_language_is_used(pipeline, rules_only):
    a = rules_only.assess(item("Mi pedido llegó roto y nadie responde", lang="es"))
    assert a.sentiment.lang == "es" and a.sentiment.label == "unscored" and a.needs_reply
    # The learned model reads Spanish: the same complaint is negative.
    b = pipeline.assess(item("Mi pedido llegó roto y nadie responde", lang="es"))
    assert b.sentiment.lang == "es" and b.needs_reply
    assert b.sentiment.label == ("negative" if pipeline.model is not None else "unscored")


def test_complaint_refines_the_category(pipeline):
    assert pipeline.assess(item("@BankCo you've taken money from my account 3 times")).category == "billing"
    praise_word = pipeline.assess(item("thanks for nothing @FastFood, 40 minutes and still no food"))
    assert praise_word.category != "praise" and praise_word.needs_reply


def test_solved_problem_needs_no_reply(pipeline):
    a = pipeline.assess(item("@PowerGrid outage on our road is fixed, thanks team"))
    assert a.sentiment.label != "negative" and not a.needs_reply


def test_exposed_pii_in_public_is_urgent_masked_and_moved_private(pipeline):
    text = "@BankCo my card 4111 1111 1111 1111 was charged twice, password is hunter2"
    a = pipeline.assess(item(text))
    assert a.category == "exposed_pii" and a.priority == "urgent" and a.needs_reply
    assert any("card, password posted in a public mention" in r for r in a.reasons)
    joined = " ".join(a.reasons) + " ".join(s.text for s in a.suggestions)
    assert "4111" not in joined and "hunter2" not in joined
    assert a.suggestions and all("delete" in s.text or "remove" in s.text for s in a.suggestions)
    assert all(s.kind == "move_private" for s in a.suggestions)


def test_email_in_public_is_high_and_in_a_dm_is_normal_business(pipeline):
    public = pipeline.assess(item("@ShopNow please email me at jane.doe@example.com about my order"))
    assert public.category == "exposed_pii" and public.priority == "high"
    private = pipeline.assess(item("please email me at jane.doe@example.com about my order", kind=Kind.DM))
    assert private.category != "exposed_pii"


def test_reasons_never_repeat_a_secret(pipeline):
    a = pipeline.assess(item("my password is hunter2 and it doesn't work", kind=Kind.DM))
    assert "hunter2" not in " ".join(a.reasons)


def test_repeat_contact_counts_complaints_vader_missed(pipeline):
    first = pipeline.assess(item("@AcmeAir still no update on my lost bag", kind=Kind.DM))
    again = pipeline.assess(
        item("@AcmeAir still no update on my lost bag", kind=Kind.DM), AuthorHistory(contacts=4, negative_count=3)
    )
    order = ["none", "low", "normal", "high", "urgent"]
    assert first.sentiment.label == "negative"
    assert order.index(again.priority) > order.index(first.priority)


@pytest.mark.parametrize(
    "text",
    [
        "I will contact a lawyer if this isn't fixed today",
        "I will contact a lawyer if this isnt fixed today",
        "When will it be fixed? Been down for hours",
        "Still waiting to get it resolved",
    ],
)
def test_a_fix_that_has_not_happened_is_not_resolved(text):
    assert "resolved" not in analyse(text, "en").intents


@pytest.mark.parametrize(
    "text",
    [
        "My refund came through, all sorted now. Thanks!",
        "The app was down this morning but it is fixed now, thanks",
    ],
)
def test_a_fix_that_happened_is_resolved(text):
    assert "resolved" in analyse(text, "en").intents


@pytest.mark.parametrize(
    "text",
    [
        "Flight delayed again, no update from anyone at the gate. Great job.",
        "On hold for 2 hours and counting. Brilliant service",
        "Parcel lost, second time this month. Well done.",
    ],
)
def test_praise_closing_a_problem_is_sarcasm(text):
    signals = analyse(text, "en")
    assert signals.complaint and "sarcasm" in signals.intents
