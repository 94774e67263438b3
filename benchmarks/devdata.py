"""Labelled evaluation data for the triage benchmarks: the shared dev sets plus our hand-written sets.

The shared sets (../shared/data/sentiment-dev, or $SOCIALWATCH_EVAL_DATA) are read in place,
never copied (licences). Every example is put in the "tune" or the "report" half by a hash
of its text, so the split is deterministic and the same on every machine; patterns and
lexicons were tuned looking at the tune half only, and the benchmarks report the other.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "data"


def data_dir() -> Path:
    return Path(os.environ.get("SOCIALWATCH_EVAL_DATA") or REPO.parent / "shared/data/sentiment-dev")


@dataclass(frozen=True)
class Example:
    dataset: str
    lang: str  # the language the set is in (its tweets may code-switch)
    text: str
    negative: bool
    needs_reply: bool | None  # None: the set has no such label
    kind: str = "mention"

    @property
    def part(self) -> str:
        return split_of(self.text)


def split_of(text: str) -> str:
    """ "tune" or "report", by the first byte of a hash of the text (about half each)."""
    return "tune" if hashlib.blake2b(text.encode("utf-8"), digest_size=1).digest()[0] < 128 else "report"


def _vader_ground_truth(root: Path) -> Iterator[Example]:
    path = root / "tweets_GroundTruth.txt"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        for line in handle:
            parts = line.rstrip("\r\n").split("\t", 2)
            if len(parts) == 3:
                # VADER paper protocol: the sign of the mean rating (0 counts as not negative).
                yield Example("vader_gt", "en", parts[2], float(parts[1]) < 0, None)


def _tweeteval(root: Path) -> Iterator[Example]:
    texts, labels = root / "tweeteval/val_text.txt", root / "tweeteval/val_labels.txt"
    if not (texts.exists() and labels.exists()):
        return
    with texts.open(encoding="utf-8") as t, labels.open(encoding="utf-8") as lab:
        for text, label in zip(t, lab, strict=True):
            yield Example("tweeteval", "en", text.rstrip("\n"), label.strip() == "0", None)


def _afrisenti(root: Path) -> Iterator[Example]:
    for name in ("train.tsv", "dev.tsv"):
        path = root / "afrisenti_swa" / name
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(rows, None)
            for row in rows:
                if len(row) >= 2:
                    yield Example("afrisenti_swa", "sw", row[0], row[1].strip() == "negative", None)


def _latvian(root: Path) -> Iterator[Example]:
    path = root / "latvian/nicmanis_tweet_corpus.json"
    if not path.exists():
        return
    for row in json.loads(path.read_text(encoding="utf-8")):
        yield Example("latvian", "lv", row["text"], row["sentiment"] == "NEG", None)


def _ours() -> Iterator[Example]:
    for name, has_lang in (("cs_eval_en.tsv", False), ("cs_eval_multi.tsv", True)):
        path = HERE / name
        rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        for line in rows[1:]:
            cols = line.split("\t")
            lang = cols.pop(0) if has_lang else "en"
            kind, negative, needs_reply, text = cols
            dataset = "cs_en" if not has_lang else "cs_multi"
            yield Example(dataset, lang, text, negative == "1", needs_reply == "1", kind)


def shared_available() -> bool:
    return data_dir().is_dir()


def load(include_shared: bool = True) -> list[Example]:
    examples = list(_ours())
    if include_shared and shared_available():
        root = data_dir()
        for reader in (_vader_ground_truth, _tweeteval, _afrisenti, _latvian):
            examples.extend(reader(root))
    return examples
