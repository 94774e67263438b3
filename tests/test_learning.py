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
from builders import item
from click.testing import CliRunner

from socialwatch.cli import main
from socialwatch.config.load import load_config
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
    # 84% of ten negatives is nine: the ninth highest score.
    assert cut == 0.2
    # Non-negatives scored like the negatives: recall would flag them all, so the cap wins.
    crowded = figures.choose_threshold(negatives + negatives, [True] * 10 + [False] * 10)
    flagged = sum(s >= crowded for s in negatives) / 10
    assert flagged <= figures.FALSE_FLAG_CAP and crowded > 0.2


def test_choose_threshold_prefers_a_point_meeting_both_targets_over_the_recall_margin():
    # 84% of 100 negatives needs the cut at 0.3, which flags 40 of 100 others (within the 45% cap, over the
    # 35% target); at 0.9, 83% are caught and none flagged: both targets met with room to spare.
    negatives = [0.9] * 83 + [0.3] * 17
    others = [0.5] * 40 + [0.1] * 60
    truth = [True] * 100 + [False] * 100
    cut = figures.choose_threshold(negatives + others, truth)
    assert cut == 0.9
    caught = sum(s >= cut for s in negatives) / 100
    flagged = sum(s >= cut for s in others) / 100
    assert caught >= figures.TARGET_CAUGHT + figures.BOTH_ROOM and flagged <= figures.TARGET_FALSE_FLAG
    # Only 81% caught at 0.9: too close to the target to trust, so the recall margin keeps its say.
    assert figures.choose_threshold([0.9] * 81 + [0.3] * 19 + others, truth) == 0.3
    # What the rules flag anyway counts: with 34 others flagged whatever the threshold, 0.9 leaves only one
    # point of room under the false-flag target, so again the recall margin wins.
    anyway = [False] * 100 + [True] * 34 + [False] * 66
    crowded = negatives + [0.1] * 34 + [0.5] * 6 + [0.1] * 60
    assert figures.choose_threshold(crowded, truth, anyway) == 0.3


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
    loaded = model_mod.Loaded(tiny_model, None, "configured")
    text = "atnāca laikā"  # Latvian, no complaint word: VADER and the rules alone leave it unscored
    lv = item(text, lang="lv")
    p_negative = tiny_model.predict(text, "lv").negative
    assessed = Pipeline(Config(), loaded=loaded).assess(lv)
    assert assessed.sentiment.model_score == pytest.approx(p_negative, abs=1e-4)
    assert assessed.sentiment.model == "tiny"
    assert assessed.sentiment.label == ("negative" if p_negative >= 0.5 else tiny_model.predict(text, "lv").best)
    # A brand that wants more caught in Latvian lowers its threshold below the score, and the other way.
    low = Config.model_validate({"sentiment": {"model_thresholds": {"lv": max(0.01, p_negative - 0.05)}}})
    high = Config.model_validate({"sentiment": {"model_thresholds": {"lv": min(0.99, p_negative + 0.05)}}})
    assert Pipeline(low, loaded=loaded).assess(lv).sentiment.label == "negative"
    high_label = Pipeline(high, loaded=loaded).assess(lv)
    assert high_label.sentiment.label != "negative" and high_label.sentiment.model_threshold == pytest.approx(
        min(0.99, p_negative + 0.05)
    )
    # Without a model the same text is what it was before: unscored, routed by the rules.
    without = Pipeline(Config(), loaded=model_mod.Loaded(None, None, "none")).assess(lv)
    assert without.sentiment.label == "unscored" and without.sentiment.model_score is None


def test_threshold_override_must_be_a_probability():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Config.model_validate({"sentiment": {"model_thresholds": {"en": 1.5}}})
    with pytest.raises(ValueError, match="not a language code"):
        Config.model_validate({"sentiment": {"model_thresholds": {"english": 0.4}}})


def _corrupt_files(tmp_path: Path, good: model_mod.Model) -> dict[str, Path]:
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.to_bytes()[:200])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model at all")
    future = tmp_path / "future.npz"
    header = good.header() | {"format": model_mod.FORMAT_VERSION + 1}
    with zipfile.ZipFile(future, "w") as archive:
        for name, array in (
            ("weights", good.weights.astype(np.float16)),
            ("bias", good.bias),
            ("header", np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)),
        ):
            with archive.open(name + ".npy", "w") as handle:
                np.save(handle, array)
    return {"missing": tmp_path / "absent.npz", "truncated": truncated, "garbage": garbage, "future": future}


@pytest.mark.parametrize(
    ("kind", "says"),
    [("missing", "does not exist"), ("truncated", "corrupt"), ("garbage", "corrupt"), ("future", "format version")],
)
def test_a_bad_model_file_is_a_clear_error(tiny_model, tmp_path, kind, says):
    path = _corrupt_files(tmp_path, tiny_model)[kind]
    with pytest.raises(model_mod.ModelError, match=says) as raised:
        model_mod.load(path)
    assert str(path) in str(raised.value)
    loaded = model_mod.resolve(None, str(path))
    assert loaded.model is None and says in (loaded.error or "")
    assert "VADER and the rules only" in model_mod.describe(loaded)


def _config_file(tmp_path: Path, model: str) -> Path:
    replay = tmp_path / "replay.jsonl"
    replay.write_text("")
    path = tmp_path / "socialwatch.toml"
    path.write_text(
        f'[daemon]\ndatabase = "{tmp_path / "sw.db"}"\n\n[sentiment]\nmodel = "{model}"\n\n'
        f'[[replay]]\nname = "file"\npath = "{replay}"\n'
    )
    return path


def test_check_and_the_daemon_with_a_corrupt_model(tiny_model, tmp_path):
    from socialwatch.daemon import Daemon

    bad = _corrupt_files(tmp_path, tiny_model)["truncated"]
    config_path = _config_file(tmp_path, str(bad))
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    assert "model: UNAVAILABLE" in result.output and "corrupt" in result.output and str(bad) in result.output

    events: list[tuple[str, dict]] = []
    daemon = Daemon(load_config(str(config_path)), on_event=lambda e, d: events.append((e, d)))
    assert daemon.pipeline.model is None
    # It still flags: an angry English mention is negative and needs a reply, on VADER and the rules.
    angry = daemon.pipeline.assess(item("this is the worst service ever, I am furious", lang="en"))
    assert angry.sentiment.label == "negative" and angry.needs_reply
    daemon.start()
    try:
        said = [d for e, d in events if e == "unhealthy" and d.get("source") == "triage model"]
        assert len(said) == 1 and "VADER and the rules only" in said[0]["detail"]
    finally:
        daemon.shutdown()
    from socialwatch.store import audit_log

    starts = [r for r in audit_log.audit_rows(daemon.store) if r["action"] == "daemon.start"]
    assert json.loads(starts[-1]["details"])["model"]["error"].startswith(f"model file {bad} is corrupt")
    status = CliRunner().invoke(main, ["status", "--config", str(config_path)])
    assert "model: UNAVAILABLE" in status.output, status.output


def _tiny_root(tmp_path: Path) -> Path:
    """A sentiment-dev/ folder with one training set in the pack's format, written by the test."""
    root = tmp_path / "data" / "sentiment-dev"
    (root / "pack" / "en").mkdir(parents=True)
    rows = ["text\tlabel"] + [f"{e.text}\t{e.label}" for e in tiny_examples(12) if e.lang == "en"]
    (root / "pack/en/semeval2013-2016_task4a.tsv").write_text("\n".join(rows) + "\n")
    return root


def test_install_is_refused_when_worse_accepted_when_not_and_audited(tiny_model, tmp_path):
    from socialwatch.store import audit_log
    from socialwatch.store.db import Store

    root = _tiny_root(tmp_path)
    assert split(root).report, "the tiny set must have a dev split to compare on"
    config_path = _config_file(tmp_path, "auto")
    good = tmp_path / "good.npz"
    tiny_model.save(good)
    worse = model_mod.Model(
        weights=np.zeros_like(tiny_model.weights),
        bias=np.array([5.0, 0.0, -5.0], dtype=np.float32),  # calls everything negative
        thresholds={"en": 0.5},
        languages=("en", "lv"),
        meta={"name": "worse"},
    )
    bad = tmp_path / "worse.npz"
    worse.save(bad)
    runner = CliRunner()
    base = ["--data", str(root.parent), "--config", str(config_path)]
    first = runner.invoke(main, ["model", "install", str(good), *base, "--force"])
    assert first.exit_code == 0, first.output
    installed = tmp_path / model_mod.INSTALLED_NAME
    assert installed.read_bytes() == good.read_bytes()

    refused = runner.invoke(main, ["model", "install", str(bad), *base])
    assert refused.exit_code == 1 and "not installed" in refused.output and "false flags" in refused.output
    assert installed.read_bytes() == good.read_bytes()

    again = tmp_path / "same.npz"
    tiny_model.save(again)
    accepted = runner.invoke(main, ["model", "install", str(again), *base])
    assert accepted.exit_code == 0, accepted.output

    entries = [r for r in audit_log.audit_rows(Store(tmp_path / "sw.db")) if r["action"] == "model.installed"]
    assert len(entries) == 2
    details = json.loads(entries[-1]["details"])
    assert details["sha256"] == model_mod.sha256_of(installed) and "en" in details["figures"]
    # The daemon's pipeline picks the installed model, not the shipped one.
    loaded = model_mod.resolve(tmp_path, "auto")
    assert loaded.source == "installed" and loaded.model is not None and loaded.model.name == "tiny"


def test_compare_allows_the_stated_tolerance(tiny_model):
    dev = [e for e in tiny_examples(1)]
    same = install.compare(tiny_model, tiny_model, dev)
    assert same.ok and same.problems == ()


def test_model_eval_prints_per_language_figures(tiny_model, tmp_path):
    path = tmp_path / "m.npz"
    tiny_model.save(path)
    labelled = tmp_path / "labelled.jsonl"
    rows = [{"text": e.text, "label": e.label, "lang": e.lang} for e in tiny_examples(1)]
    labelled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    result = CliRunner().invoke(main, ["model", "eval", str(labelled), "--model", str(path), "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)
    assert set(table["model"]) == {"en", "lv"} and table["model"]["en"]["n"] == 14
    # The tiny model was trained on these very texts: it catches the English negatives.
    assert table["model"]["en"]["caught"] >= 0.8
    assert table["vader"]["lv"]["recall"] == 0.0  # VADER alone labels no Latvian text negative
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("text\tlabel\nfine\tgood\n")
    bad = CliRunner().invoke(main, ["model", "eval", str(tsv), "--model", str(path)])
    assert bad.exit_code == 1 and "bad.tsv:2" in bad.output and "'good'" in bad.output


def test_feedback_examples_read_the_managers_corrections(tmp_path):
    from builders import ingest

    from socialwatch.cli.model import feedback_examples
    from socialwatch.store import corrections
    from socialwatch.store.db import Store

    config = Config.model_validate({"daemon": {"database": str(tmp_path / "sw.db")}})
    store = Store(tmp_path / "sw.db")
    texts = ["this is the worst, broken again", "nice weather for a walk", "is the shop open on sunday"]
    ingest(store, Pipeline(config), [item(t, native_id=str(i)) for i, t in enumerate(texts)], alert=True)
    with store.db() as db:
        ids = {row[1]: row[0] for row in db.execute("SELECT id, text FROM items")}
    assert feedback_examples(config) == []
    corrections.correct(store, ids[texts[0]], "label", "not_negative", actor_id="U1", actor_name="Ann")
    corrections.correct(store, ids[texts[1]], "label", "negative", actor_id="U1", actor_name="Ann")
    # "Needs a reply" alone says nothing of the label: not a training row for the label model.
    corrections.correct(store, ids[texts[2]], "needs_reply", "true", actor_id="U1", actor_name="Ann")
    examples = feedback_examples(config)
    assert sorted((e.text, e.label, e.source) for e in examples) == [
        (texts[1], "negative", "feedback"),
        (texts[0], "neutral", "feedback"),
    ]
    assert all(e.weight > 1 for e in examples)


def test_extra_examples_change_what_the_model_learns():
    base = tiny_examples(2)
    text = "the blue one came in medium"
    corrections = [Example(text, "en", "negative", True, "feedback", 3.0)] * 6
    before = train(base, SMALL).predict(text, "en").negative
    after = train(base, SMALL, extra=corrections).predict(text, "en").negative
    assert after > before + 0.1


def test_model_train_with_feedback_from_the_command_line(tmp_path):
    """`model train --with-feedback` reads the corrections, trains on the data given and writes the model,
    reproducibly (installing goes through the rule tested above)."""
    from socialwatch.store import corrections
    from socialwatch.store.db import Store

    root = _tiny_root(tmp_path)
    config_path = _config_file(tmp_path, "auto")
    store = Store(tmp_path / "sw.db")
    config = load_config(str(config_path))
    from builders import ingest

    ingest(store, Pipeline(config), [item("meh, the blue one came in medium", native_id="7")], alert=True)
    with store.db() as db:
        item_id = db.execute("SELECT id FROM items").fetchone()[0]
    corrections.correct(store, item_id, "label", "not_negative", actor_id="U1", actor_name="Ann")
    out = tmp_path / "trained.npz"
    args = ["model", "train", "--data", str(root.parent), "--config", str(config_path), "--with-feedback"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--no-install", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "1 correction(s)" in result.output and "dev splits" in result.output
    trained = model_mod.load(out)
    assert trained.meta["feedback_rows"] == 1 and trained.meta["name"] == "triage-all+feedback"
    assert [s["path"] for s in trained.meta["training_sets"]] == ["pack/en/semeval2013-2016_task4a.tsv"]
    assert "en" in trained.thresholds
    # Same data, same seed: the same bytes.
    again = tmp_path / "again.npz"
    CliRunner().invoke(main, [*args, "--out", str(again), "--no-install", "--epochs", "2"])
    assert again.read_bytes() == out.read_bytes()
