"""The learned triage model: training on a tiny set made here, the file's round trip, thresholds, bad files,
installs that are refused or accepted (and audited), the eval command and managers' corrections.

Nothing here reads ../shared/data: every set is written by the test.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from socialwatch.cli import main
from socialwatch.config.load import ConfigError, load_config
from socialwatch.config.schema import Config
from socialwatch.learning import figures, install
from socialwatch.learning import model as model_mod
from socialwatch.learning.build import split
from socialwatch.learning.training import Example, Settings, train
from socialwatch.scoring.pipeline import Pipeline

NEGATIVE = [
    "my order never arrived and nobody answers",
    "worst service ever, still waiting for a refund",
    "the app crashed again and I lost everything",
    "terrible support, rude staff, never again",
    "broken on arrival and no reply to my emails",
    "awful, charged twice and no help at all",
]
POSITIVE = [
    "thank you so much, great service",
    "love the new update, works perfectly",
    "fantastic support, fixed in minutes",
    "brilliant, arrived early and well packed",
]
NEUTRAL = [
    "what time do you open on sunday",
    "is the blue one available in medium",
    "the store on main street has moved",
    "new catalogue out next week",
]
LV_NEGATIVE = ["briesmīgs serviss, pasūtījums nav atnācis", "slikti, neviens neatbild un nauda pazudusi"]
LV_POSITIVE = ["paldies, ļoti labs serviss", "lieliski, viss atnāca laikā"]


def tiny_examples(repeat: int = 4) -> list[Example]:
    rows = []
    for i in range(repeat):
        for text in NEGATIVE:
            rows.append(Example(f"{text} {i}", "en", "negative", True, "tiny"))
        for text in POSITIVE:
            rows.append(Example(f"{text} {i}", "en", "positive", False, "tiny"))
        for text in NEUTRAL:
            rows.append(Example(f"{text} {i}", "en", "neutral", False, "tiny"))
        for text in LV_NEGATIVE:
            rows.append(Example(f"{text} {i}", "lv", "negative", True, "tiny"))
        for text in LV_POSITIVE:
            rows.append(Example(f"{text} {i}", "lv", "positive", False, "tiny"))
    return rows


SMALL = Settings(buckets=1 << 12, epochs=6, batch=16)


@pytest.fixture(scope="module")
def tiny_model() -> model_mod.Model:
    model = train(tiny_examples(), SMALL, meta={"name": "tiny"})
    model.thresholds = {"en": 0.5, "lv": 0.5}
    return model


def test_training_on_a_tiny_set_learns_which_texts_are_negative(tiny_model):
    assert tiny_model.languages == ("en", "lv")
    assert tiny_model.predict("nobody answers, still waiting for my refund", "en").best == "negative"
    assert tiny_model.predict("thank you, great service", "en").best == "positive"
    assert tiny_model.predict("neviens neatbild, briesmīgs serviss", "lv").best == "negative"
    assert tiny_model.predict("paldies, lieliski", "lv").negative < 0.5


def test_training_is_reproducible_byte_for_byte():
    first = train(tiny_examples(2), SMALL).to_bytes()
    second = train(tiny_examples(2), SMALL).to_bytes()
    assert first == second
    assert train(tiny_examples(2), Settings(buckets=1 << 12, epochs=6, batch=16, seed=3)).to_bytes() != first


def test_save_and_load_round_trip(tiny_model, tmp_path):
    path = tmp_path / "m.npz"
    sha = tiny_model.save(path)
    loaded = model_mod.load(path)
    assert sha == model_mod.sha256_of(path)
    assert loaded.thresholds == {"en": 0.5, "lv": 0.5} and loaded.languages == ("en", "lv")
    assert loaded.name == "tiny"
    for text, lang in (("still waiting for my refund", "en"), ("paldies", "lv"), ("", "en")):
        a, b = tiny_model.predict(text, lang), loaded.predict(text, lang)
        # float16 weights on disk: probabilities within a thousandth.
        assert abs(a.negative - b.negative) < 1e-3 and abs(a.positive - b.positive) < 1e-3


def test_choose_threshold_meets_the_recall_target_and_caps_false_flags():
    negatives = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1]
    others = [0.05] * 10
    cut = figures.choose_threshold(negatives + others, [True] * 10 + [False] * 10)
    # 82% of ten negatives is nine: the ninth highest score.
    assert cut == 0.2
    # Non-negatives scored like the negatives: recall would flag them all, so the cap wins.
    crowded = figures.choose_threshold(negatives + negatives, [True] * 10 + [False] * 10)
    flagged = sum(s >= crowded for s in negatives) / 10
    assert flagged <= figures.FALSE_FLAG_CAP and crowded > 0.2


def test_figures_count_caught_false_flags_and_macro_recall():
    d = figures.Decision
    table = figures.figures(
        [
            d("negative", "negative", True),
            d("negative", "neutral", True),  # caught by needs_reply
            d("negative", "neutral", False),
            d("neutral", "neutral", False),
            d("neutral", "negative", True),
            d("positive", "positive", False),
        ]
    )
    assert table.recall == pytest.approx(1 / 3) and table.caught == pytest.approx(2 / 3)
    assert table.false_flag == pytest.approx(1 / 3) and table.precision == pytest.approx(0.5)
    assert table.macro_recall == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)


def test_the_model_sets_the_label_and_a_per_language_override_moves_it(tiny_model):
    text = "nobody answers, still waiting for my refund"
    loaded = model_mod.Loaded(tiny_model, None, "configured")
    pipeline = Pipeline(Config(), loaded=loaded)
    from tests_support_items import mention  # noqa: F401  (see conftest: not needed)


def test_threshold_override_must_be_a_probability():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Config.model_validate({"sentiment": {"model_thresholds": {"en": 1.5}}})
    with pytest.raises(ValueError, match="not a language code"):
        Config.model_validate({"sentiment": {"model_thresholds": {"english": 0.4}}})
