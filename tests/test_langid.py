"""Which language an item is in: the platform's tag checked against the text, Malay vs Indonesian,
Tamil in Latin letters, short texts and the author's history; ``lang_source`` says who decided."""

from __future__ import annotations

import pytest
from builders import item

from socialwatch.config.schema import Config
from socialwatch.models import AuthorHistory
from socialwatch.scoring.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Config())


@pytest.mark.parametrize(
    ("text", "tag", "lang", "source"),
    [
        # X's "und" on a clear Spanish sentence: we detect.
        ("llevo una semana esperando mi reembolso y nadie responde", "und", "es", "detected"),
        # X's "en" on German: the text says otherwise.
        ("meine Bestellung ist seit zehn Tagen nicht angekommen, sehr enttäuschend", "en", "de", "detected"),
        # X tags Malay "in": Malaysian words make it Malay.
        ("pesanan saya belum sampai dan tiada jawapan dari khidmat pelanggan", "in", "ms", "detected"),
        # ... and Indonesian stays Indonesian (the tag "in" is ISO "id").
        ("pesanan saya belum dikirim juga, kok lama banget sih", "in", "id", "platform"),
        # Tamil in Latin letters, which no platform tags.
        ("romba mosama irukku unga service, enna da panringa", "en", "ta", "detected"),
        ("romba mosama irukku unga service, enna da panringa", None, "ta", "detected"),
        # A right tag is kept.
        ("the parcel never arrived and nobody answers", "en", "en", "platform"),
        # Tamil script decides whatever the tag.
        ("உங்கள் சேவை மிகவும் மோசம்", "en", "ta", "detected"),
    ],
)
def test_language_and_who_decided(pipeline, text, tag, lang, source):
    found = pipeline.language_of(item(text, lang=tag))
    assert (found.lang, found.source) == (lang, source)


def test_a_short_text_takes_the_authors_language_then_the_default():
    pipeline = Pipeline(Config())
    short = item("ok?", lang="und")
    assert pipeline.language_of(short).source == "default"
    known = AuthorHistory(contacts=2, language="lv")
    assert (pipeline.language_of(short, known).lang, pipeline.language_of(short, known).source) == ("lv", "history")
    one = Pipeline(Config.model_validate({"sentiment": {"languages": ["sw"]}}))
    assert (one.language_of(short).lang, one.language_of(short).source) == ("sw", "default")


def test_the_assessment_carries_lang_source_and_the_model(pipeline):
    assessed = pipeline.assess(item("meine Bestellung ist seit zehn Tagen nicht angekommen", lang="en"))
    assert assessed.sentiment.lang == "de"
    assert assessed.sentiment.lang_source == "detected"
    if pipeline.model is not None:  # the shipped model
        assert assessed.sentiment.model_score is not None
