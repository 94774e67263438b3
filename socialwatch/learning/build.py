"""Building a model from the corpora: split, train, choose thresholds, measure, and write the model card's facts.

Each training set's dev split (``corpus.is_dev``) is halved again by hash: the thresholds are chosen on
one half ("tune") and every figure is reported on the other ("report") and on the evaluation sets beside
the pack, which are never trained on. The figures go into the model file, so an install can compare a
new model with the one it would replace on the same splits.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialwatch.learning import corpus, figures
from socialwatch.learning.model import Model
from socialwatch.learning.training import Example, Settings, train

#: Languages without training data, and the trained language whose weights they borrow (docs/model.md).
#: Measured and left empty: Lithuanian through the Latvian weights flagged 86% of the non-negatives of our
#: hand-written set (the complaint lexicon and the routing policy: 41%, with the same 81% caught);
#: Malay through the Indonesian ones lost 11 points of recall on the Malay dev split.
TRANSFER: dict[str, str] = {}
#: A source needs this many negatives in its tune half to set its language's threshold on its own.
MIN_SOURCE_NEGATIVES = 10

#: What the rest of triage does without the model's "negative": which examples it sends to a person
#: anyway (a question, a DM, a complaint the rules see). Given by the caller, which may run the pipeline.
#: Per example: flagged without the model's "negative", and the model's P(negative) as triage saw it.
BaseFlags = Callable[[Model, Sequence[Example]], list[tuple[bool, float | None]]]
#: How a model's decisions are counted: the model alone (``model_decisions``) or the whole triage.
Decider = Callable[[Model, Sequence[Example]], list[tuple[str, figures.Decision]]]


@dataclass
class Splits:
    train: list[Example] = field(default_factory=list)
    tune: list[Example] = field(default_factory=list)
    report: list[Example] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)


def tune_half(example: Example) -> bool:
    return hashlib.blake2b(example.text.encode("utf-8", "surrogatepass"), digest_size=1).digest()[0] % 2 == 0


def split(root: Path, licences: str = "all") -> Splits:
    out = Splits()
    for source, examples in corpus.training_sets(root, licences):
        dev = [e for e in examples if corpus.is_dev(source.path, e.text)]
        rows = len(examples) - len(dev)
        out.train.extend(e for e in examples if not corpus.is_dev(source.path, e.text))
        for e in dev:
            (out.tune if tune_half(e) else out.report).append(e)
        out.sets.append(
            {
                "path": source.path,
                "lang": source.lang,
                "licence": source.licence,
                "permissive": source.permissive,
                "rows": len(examples),
                "trained_rows": rows,
            }
        )
    return out


def model_decisions(model: Model, examples: Sequence[Example]) -> list[tuple[str, figures.Decision]]:
    """The model alone (no complaint rules): what the install gate compares, quickly."""
    out = []
    for e in examples:
        label, _ = model.decide(e.text, e.lang)
        out.append((e.lang, figures.Decision(e.label, label, label == "negative")))
    return out


def choose_thresholds(model: Model, tune: Sequence[Example], base_flags: BaseFlags | None = None) -> dict[str, float]:
    """Per language, the lowest of its sources' thresholds: every source must reach the targets (a language's
    sets differ: AfriSenti's native tweets need a lower threshold than translated reviews)."""
    if base_flags is not None:
        flags = base_flags(model, tune)
    else:
        flags = [(False, model.predict(e.text, e.lang).negative) for e in tune]
    groups: dict[tuple[str, str], list[tuple[Example, tuple[bool, float | None]]]] = defaultdict(list)
    for e, flag in zip(tune, flags, strict=True):
        groups[(e.lang, e.source)].append((e, flag))
    per_lang: dict[str, list[float]] = defaultdict(list)
    for (lang, _source), rows in sorted(groups.items()):
        negatives = sum(e.label == "negative" for e, _ in rows)
        alone = sum(1 for (other, _) in groups if other == lang) == 1
        if negatives < MIN_SOURCE_NEGATIVES and not alone:
            continue
        per_lang[lang].append(
            figures.choose_threshold(
                # Where triage did not use the model, no threshold changes the decision.
                [-1.0 if score is None else score for _, (_, score) in rows],
                [e.label == "negative" for e, _ in rows],
                [flag for _, (flag, _) in rows],
            )
        )
    return {lang: min(cuts) for lang, cuts in sorted(per_lang.items())}


def measure(
    model: Model,
    report: Sequence[Example],
    evaluation: dict[str, list[Example]],
    decide: Decider | None = None,
) -> dict[str, Any]:
    """Per-language figures on the report half of the dev splits, and per evaluation set."""
    counted = decide or model_decisions
    dev = {lang: f.as_dict() for lang, f in figures.by_language(counted(model, report)).items()}
    beside = {
        name: figures.figures([d for _, d in counted(model, rows)]).as_dict() for name, rows in evaluation.items()
    }
    return {"dev": dev, "evaluation": beside, "counted": "triage" if decide else "model alone"}


def build(
    root: Path,
    licences: str = "all",
    settings: Settings | None = None,
    extra: Sequence[Example] = (),
    progress: Callable[[str], None] = lambda _: None,
    base_flags: BaseFlags | None = None,
    decide: Decider | None = None,
) -> Model:
    settings = settings or Settings()
    parts = split(root, licences)
    progress(f"training on {len(parts.train)} texts ({len(extra)} corrections), tuning on {len(parts.tune)}")
    model = train(
        parts.train,
        settings,
        extra=extra,
        meta={
            "name": f"triage-{licences}" + ("+feedback" if extra else ""),
            "licences": licences,
            "seed": settings.seed,
            "epochs": settings.epochs,
            "training_sets": parts.sets,
            "feedback_rows": len(extra),
        },
    )
    model.transfer = {lang: to for lang, to in TRANSFER.items() if to in model.languages}
    model.thresholds = choose_thresholds(model, parts.tune, base_flags)
    progress("measuring on the report half of the dev splits and the sets beside the pack")
    model.meta["figures"] = measure(model, parts.report, corpus.evaluation_sets(root), decide)
    return model
