"""The learned model's file and its predictions: weights, per-language thresholds, figures, one ``.npz``.

A model is a softmax regression over hashed n-gram features (``learning.features``): one weight row
per bucket and class. The file is a compressed numpy archive holding the weights (float16: half the
size, and the probabilities move by less than 0.001), the bias and a JSON header with the format
version, the classes, the per-language decision thresholds, the languages it was trained on, the
training sets with their rows and licences, and its figures on the dev splits. Loading checks all of
it and says what is wrong with which file; a process loads a model once and shares it between threads
(nothing in it changes after loading).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from socialwatch.learning.features import featurise

#: Bumped when the features or the file layout change: an older or newer file is refused, not misread.
FORMAT_VERSION = 1
CLASSES = ("negative", "neutral", "positive")
#: The file that ships in the package, and the name of an installed one in the data dir.
SHIPPED = Path(__file__).resolve().parent / "triage-model.npz"
INSTALLED_NAME = "triage-model.npz"
#: P(negative) at or above this labels an item negative in a language the file gives no threshold for.
DEFAULT_THRESHOLD = 0.5

FloatArray = npt.NDArray[np.float32]


class ModelError(Exception):
    """A model file that cannot be used: missing, corrupt or of another format version."""


@dataclass(frozen=True)
class Prediction:
    negative: float
    neutral: float
    positive: float

    @property
    def best(self) -> str:
        scores = (self.negative, self.neutral, self.positive)
        return CLASSES[scores.index(max(scores))]


@dataclass
class Model:
    weights: FloatArray  # (buckets, 3)
    bias: FloatArray  # (3,)
    thresholds: dict[str, float] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    #: Language whose weights a language without training data borrows (lt -> lv, ms -> id ...).
    transfer: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def buckets(self) -> int:
        return int(self.weights.shape[0])

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "triage-model"))

    def feature_lang(self, lang: str) -> str:
        return self.transfer.get(lang, lang)

    def knows(self, lang: str) -> bool:
        """Whether the model was trained on ``lang`` or borrows a trained language for it."""
        return self.feature_lang(lang) in self.languages

    def threshold(self, lang: str) -> float:
        return self.thresholds.get(lang, self.thresholds.get(self.feature_lang(lang), DEFAULT_THRESHOLD))

    def logits(self, text: str, lang: str) -> FloatArray:
        index = featurise(text, self.feature_lang(lang), self.buckets)
        # Each feature weighs 1/sqrt(n): the vector has unit length, so long and short texts compare.
        # take() + sum() is a third faster than fancy indexing for a few hundred rows.
        out: FloatArray = self.weights.take(index, axis=0).sum(axis=0) * np.float32(1.0 / math.sqrt(len(index)))
        return out + self.bias

    def predict(self, text: str, lang: str) -> Prediction:
        # Three numbers: plain floats are several times faster than numpy's small-array operations.
        a, b, c = self.logits(text, lang).tolist()
        top = max(a, b, c)
        ea, eb, ec = math.exp(a - top), math.exp(b - top), math.exp(c - top)
        total = ea + eb + ec
        return Prediction(ea / total, eb / total, ec / total)

    def decide(self, text: str, lang: str, threshold: float | None = None) -> tuple[str, Prediction]:
        """The model's label: negative at or above the language's threshold, else neutral or positive."""
        p = self.predict(text, lang)
        cut = self.threshold(lang) if threshold is None else threshold
        if p.negative >= cut:
            return "negative", p
        return ("positive" if p.positive > p.neutral else "neutral"), p

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "classes": list(CLASSES),
            "buckets": self.buckets,
            "thresholds": self.thresholds,
            "languages": list(self.languages),
            "transfer": self.transfer,
            "meta": self.meta,
        }

    def to_bytes(self) -> bytes:
        """The file's bytes: the same model always gives the same bytes (so its sha256 names it)."""
        buffer = io.BytesIO()
        # ZIP entries carry a time stamp: write them with a fixed one, so a retrain is byte-identical.
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in (
                ("weights", self.weights.astype(np.float16)),
                ("bias", self.bias.astype(np.float32)),
                ("header", np.frombuffer(json.dumps(self.header(), sort_keys=True).encode(), dtype=np.uint8)),
            ):
                entry = zipfile.ZipInfo(name + ".npy", date_time=(2020, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                body = io.BytesIO()
                np.save(body, array, allow_pickle=False)
                archive.writestr(entry, body.getvalue())
        return buffer.getvalue()

    def save(self, path: Path) -> str:
        """Write the file atomically; returns its sha256."""
        data = self.to_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
        return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(path: Path) -> Model:
    """The model in ``path``, or ModelError saying what is wrong and what to do."""
    if not path.exists():
        raise ModelError(f"model file {path} does not exist; run `socialwatch model train` or reinstall the package")
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode("utf-8"))
            weights = np.asarray(archive["weights"], dtype=np.float32)
            bias = np.asarray(archive["bias"], dtype=np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        raise ModelError(
            f"model file {path} is corrupt ({type(exc).__name__}: {exc}); "
            "delete it or install a good one with `socialwatch model install`"
        ) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelError(
            f"model file {path} has format version {found!r}, this socialwatch reads version {FORMAT_VERSION}; "
            "retrain it with `socialwatch model train` or remove it to use the shipped model"
        )
    if tuple(header.get("classes", ())) != CLASSES or weights.ndim != 2 or weights.shape[1] != len(CLASSES):
        raise ModelError(f"model file {path} has classes {header.get('classes')!r} or weights {weights.shape}")
    if bias.shape != (len(CLASSES),) or header.get("buckets") != weights.shape[0]:
        raise ModelError(f"model file {path}: bias {bias.shape} or buckets {header.get('buckets')} do not fit")
    if not np.isfinite(weights).all() or not np.isfinite(bias).all():
        raise ModelError(f"model file {path} holds non-finite weights; retrain it")
    return Model(
        weights=weights,
        bias=bias,
        thresholds={str(k): float(v) for k, v in header.get("thresholds", {}).items()},
        languages=tuple(header.get("languages", ())),
        transfer={str(k): str(v) for k, v in header.get("transfer", {}).items()},
        meta=dict(header.get("meta", {})),
    )


@dataclass(frozen=True)
class Loaded:
    """Which model a process runs on, or why it runs without one (VADER and the rules only)."""

    model: Model | None
    path: Path | None
    source: str  # "installed", "shipped", "configured", "none"
    error: str | None = None
    sha256: str | None = None


def resolve(data_dir: Path | None, configured: str = "auto") -> Loaded:
    """The model a process should run on: ``configured`` ("auto", "none" or a path), where "auto" is
    the model installed in the data dir if there is one, else the shipped one."""
    if configured == "none":
        return Loaded(None, None, "none")
    if configured != "auto":
        path, source = Path(configured), "configured"
    elif data_dir is not None and (data_dir / INSTALLED_NAME).exists():
        path, source = data_dir / INSTALLED_NAME, "installed"
    else:
        path, source = SHIPPED, "shipped"
    try:
        return Loaded(load(path), path, source, sha256=sha256_of(path))
    except ModelError as exc:
        return Loaded(None, path, source, str(exc))


_cache: dict[tuple[str, float], Loaded] = {}


def resolve_cached(data_dir: Path | None, configured: str = "auto") -> Loaded:
    """``resolve``, once per file and modification time: every Pipeline of a process shares one model."""
    probe = resolve_path(data_dir, configured)
    try:
        stamp = probe.stat().st_mtime if probe is not None else 0.0
    except OSError:
        stamp = -1.0
    key = (str(probe), stamp)
    if key not in _cache:
        _cache.clear()  # one model at a time: a new install replaces the old one in memory
        _cache[key] = resolve(data_dir, configured)
    return _cache[key]


def resolve_path(data_dir: Path | None, configured: str = "auto") -> Path | None:
    if configured == "none":
        return None
    if configured != "auto":
        return Path(configured)
    if data_dir is not None and (data_dir / INSTALLED_NAME).exists():
        return data_dir / INSTALLED_NAME
    return SHIPPED


def describe(loaded: Loaded) -> str:
    """One line for `check` and `status`: which model triage runs on, or that it runs without one."""
    if loaded.source == "none":
        return 'model: none ([sentiment] model = "none"); triage runs on VADER and the rules'
    if loaded.model is None:
        return f"model: UNAVAILABLE, triage runs on VADER and the rules only: {loaded.error}"
    sha = (loaded.sha256 or "")[:12]
    return f"model: OK ({loaded.source} {loaded.model.name}, {loaded.path}, sha256 {sha}…)"
