"""Training the learned model: softmax regression over hashed features, by AdaGrad in numpy, reproducibly.

Why this and not a library: the model is linear (fast on one core at run time, a few MB), and numpy is
already what inference needs, so training adds no dependency and runs wherever the tests run. The
fixed seed orders the examples; the same examples give the same weights, byte for byte.

Examples are weighted so that no corpus drowns the others: within a corpus every class weighs the
same in total (a corpus with 70% positive texts must not teach "positive" as the default, and the rare
negatives of AfriSenti's native tweets are not drowned by translated reviews), and a corpus's total
weight grows with the square root of its rows. A correction by a manager
(``source="feedback"``) carries its own weight on top.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from socialwatch.learning.features import DEFAULT_BUCKETS, featurise
from socialwatch.learning.model import CLASSES, Model, Prediction

LABEL_INDEX = {label: i for i, label in enumerate(CLASSES)}


@dataclass(frozen=True)
class Example:
    """One labelled text: from a corpus, or a manager's correction (``source="feedback"``)."""

    text: str
    lang: str
    label: str  # negative / neutral / positive
    needs_reply: bool | None = None  # None: the set does not say
    source: str = ""
    weight: float = 1.0


@dataclass(frozen=True)
class Settings:
    buckets: int = DEFAULT_BUCKETS
    epochs: int = 4
    batch: int = 128
    rate: float = 0.5
    l2: float = 1e-6
    seed: int = 16


def balanced_weights(examples: Sequence[Example]) -> np.ndarray:
    """Within each corpus (language and source) every class weighs the same; a corpus weighs the square
    root of its rows. Corrections (``source="feedback"``) form a corpus of their own, times their weight."""
    per_group = Counter((e.lang, e.source) for e in examples)
    per_class = Counter((e.lang, e.source, e.label) for e in examples)
    classes_in = Counter((lang, source) for lang, source, _ in per_class)
    raw = np.array(
        [
            math.sqrt(per_group[(e.lang, e.source)])
            / (classes_in[(e.lang, e.source)] * per_class[(e.lang, e.source, e.label)])
            * e.weight
            for e in examples
        ],
        dtype=np.float64,
    )
    return raw * (len(raw) / raw.sum()) if len(raw) else raw


def train(
    examples: Sequence[Example],
    settings: Settings = Settings(),
    extra: Iterable[Example] = (),
    meta: dict[str, object] | None = None,
) -> Model:
    """A model fitted on ``examples`` plus ``extra`` (e.g. managers' corrections); thresholds are left
    empty (``thresholds.choose`` sets them on dev splits)."""
    data = [e for e in list(examples) + list(extra) if e.label in LABEL_INDEX]
    if not data:
        raise ValueError("no labelled examples to train on")
    rows = [featurise(e.text, e.lang, settings.buckets) for e in data]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.concatenate(rows)
    scale = 1.0 / np.sqrt(lengths)
    y = np.array([LABEL_INDEX[e.label] for e in data], dtype=np.int64)
    w = balanced_weights(data)
    k = len(CLASSES)
    weights = np.zeros((settings.buckets, k), dtype=np.float64)
    squares = np.full((settings.buckets, k), 1e-8, dtype=np.float64)
    bias = np.zeros(k, dtype=np.float64)
    bias_squares = np.full(k, 1e-8)
    rng = np.random.default_rng(settings.seed)
    eye = np.eye(k)
    for _ in range(settings.epochs):
        order = rng.permutation(len(data))
        for start in range(0, len(order), settings.batch):
            batch = order[start : start + settings.batch]
            index = np.concatenate([flat[offsets[i] : offsets[i + 1]] for i in batch])
            owner = np.repeat(np.arange(len(batch)), lengths[batch])
            values = scale[batch][owner]
            z = np.zeros((len(batch), k))
            np.add.at(z, owner, weights[index] * values[:, None])
            z += bias
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - eye[y[batch]]) * w[batch][:, None] / len(batch)
            unique, inverse = np.unique(index, return_inverse=True)
            contrib = g[owner] * values[:, None]
            grad = np.zeros((len(unique), k))
            for c in range(k):
                grad[:, c] = np.bincount(inverse, weights=contrib[:, c], minlength=len(unique))
            grad += settings.l2 * weights[unique]
            squares[unique] += grad * grad
            weights[unique] -= settings.rate * grad / np.sqrt(squares[unique])
            gb = g.sum(axis=0)
            bias_squares += gb * gb
            bias -= settings.rate * gb / np.sqrt(bias_squares)
    languages = tuple(sorted({e.lang for e in data}))
    return Model(
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        languages=languages,
        meta=dict(meta or {}),
    )


def predict_all(model: Model, examples: Sequence[Example]) -> list[Prediction]:
    return [model.predict(e.text, e.lang) for e in examples]
