"""Judging the whole triage (model, rules and VADER together) on labelled examples, as items.

Each example becomes an X mention (or a DM where it says so) from a stranger; the decision counted is
the one a manager sees: the label, and whether a person is asked to look (needs_reply).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from socialwatch.learning.figures import Decision
from socialwatch.learning.training import Example
from socialwatch.models import Assessment, Author, Item, Kind

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Assesses(Protocol):
    def assess(self, item: Item) -> Assessment: ...


def as_item(example: Example, index: int, kind: Kind = Kind.MENTION) -> Item:
    return Item(
        "x",
        kind,
        str(index),
        "eval",
        Author(str(index), "customer", "Sam Customer", 100),
        example.text,
        T0,
        public=kind is not Kind.DM,
        lang=example.lang or None,
    )


def decisions(pipeline: Assesses, examples: Sequence[Example]) -> list[tuple[str, Decision]]:
    out = []
    for index, example in enumerate(examples):
        assessment = pipeline.assess(as_item(example, index))
        label = assessment.sentiment.label
        lang = example.lang or assessment.sentiment.lang
        out.append((lang, Decision(example.label, label, label == "negative" or assessment.needs_reply)))
    return out
