"""Triage quality on labelled data: negative class and needs_reply, per data set and language.

    python benchmarks/triage_eval.py [--part report|tune|all] [--errors N]

Reads the shared dev sets from ../shared/data/sentiment-dev (or $SOCIALWATCH_EVAL_DATA) when
present, plus the hand-written customer-service sets in benchmarks/data. Every set is split
by a hash of the text (benchmarks/devdata.py); patterns and lexicons were tuned on the
"tune" half, and the default report is on the other half. Columns:

- ``vader``: raw VADER compound <= -0.05 as "negative", measured in this run;
- ``label``: socialwatch's label == "negative" (VADER + complaint layer; "unscored" is not negative);
- ``routed``: needs_reply, i.e. a person is asked to look (for non-English text this is what
  keeps a complaint from being dropped), scored against the negative labels;
- ``reply``: needs_reply against the hand-written needs_reply labels (our sets only).

The shared sets are general tweets, not messages to a brand: "negative" there is any
negative mood (news of a death, a bad day), which a complaint layer is not built to catch.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import devdata
from benchmarks.common import rss_mb
from socialwatch.config.schema import Config
from socialwatch.models import Author, Item, Kind
from socialwatch.scoring.pipeline import Pipeline

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def cell(self) -> str:
        p, r, f = self.prf()
        return f"{p:.2f}/{r:.2f}/{f:.2f}"


def to_item(example: devdata.Example, index: int) -> Item:
    kind = Kind.DM if example.kind == "dm" else Kind.MENTION
    return Item(
        "x",
        kind,
        str(index),
        "eval",
        Author(str(index), "customer", "Sam Customer", 100),
        example.text,
        T0,
        public=kind is not Kind.DM,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("report", "tune", "all"), default="report")
    parser.add_argument("--errors", type=int, default=0, help="print up to N misses per set (tune part only)")
    args = parser.parse_args(argv)

    examples = [e for e in devdata.load() if args.part == "all" or e.part == args.part]
    if not devdata.shared_available():
        print(f"note: shared dev data not found at {devdata.data_dir()}; only the hand-written sets are used")
    pipeline = Pipeline(Config())
    items = [to_item(e, i) for i, e in enumerate(examples)]

    # Throughput: language detection + VADER + complaint layer + triage, then with suggestions too.
    # CPU time of this process, not wall time: the figure stays honest on a machine shared with other work.
    start = time.process_time()
    verdicts = []
    for item in items:
        lang = pipeline.language(item)
        scored = pipeline_score(pipeline, item, lang)
        verdicts.append((scored, triage_only(pipeline, item, scored)))
    triage_rate = len(items) / (time.process_time() - start)
    sample = items[: min(len(items), 2000)]
    start = time.process_time()
    for item in sample:
        pipeline.assess(item)
    full_rate = len(sample) / (time.process_time() - start)

    table: dict[tuple[str, str], dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    misses: dict[tuple[str, str], list[str]] = defaultdict(list)
    for example, (scored, verdict) in zip(examples, verdicts, strict=True):
        for key in ((example.dataset, example.lang), (example.dataset, "*")):
            row = table[key]
            row["vader"].add(scored.compound <= -0.05, example.negative)
            row["label"].add(scored.label == "negative", example.negative)
            row["routed"].add(verdict.needs_reply, example.negative)
            if example.needs_reply is not None:
                row["reply"].add(verdict.needs_reply, example.needs_reply)
        wrong_label = (scored.label == "negative") != example.negative and scored.label != "unscored"
        wrong_reply = example.needs_reply is not None and verdict.needs_reply != example.needs_reply
        if args.errors and args.part == "tune" and (wrong_label or wrong_reply):
            misses[(example.dataset, example.lang)].append(
                f"  gold neg={int(example.negative)} reply={example.needs_reply} | {scored.label} "
                f"{scored.compound:+.2f} reply={verdict.needs_reply} {verdict.category} | {example.text[:110]!r}"
                f" | {'; '.join(scored.signals.matched) if getattr(scored, 'signals', None) else ''}"
            )

    print(f"part: {args.part} (patterns and lexicons were tuned on 'tune'; 'report' was not looked at)")
    print("cells: precision/recall/F1 of the negative class (vader, label, routed) and of needs_reply (reply)")
    header = f"{'set':<14}{'lang':<5}{'n':>6}{'neg':>6}  {'vader':<15}{'label':<15}{'routed':<15}{'reply':<15}"
    print(header)
    print("-" * len(header))
    for (dataset, lang), row in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1] != "*", kv[0][1])):
        counts = row["vader"]
        n = counts.tp + counts.fp + counts.fn + counts.tn
        if lang != "*" and sum(1 for (d, _) in table if d == dataset) == 2:
            continue  # one language: the "*" row says it all
        reply = row["reply"].cell() if "reply" in row else "-"
        print(
            f"{dataset:<14}{lang:<5}{n:>6}{counts.tp + counts.fn:>6}  {counts.cell():<15}{row['label'].cell():<15}"
            f"{row['routed'].cell():<15}{reply:<15}"
        )
    print(
        f"\n{len(items)} items: {triage_rate:,.0f} items/s for language + sentiment + complaints + triage, "
        f"{full_rate:,.0f} items/s with suggestions (per CPU-second of one core); RSS {rss_mb():.0f} MB"
    )
    for key, lines in sorted(misses.items()):
        print(f"\nmisses in {key[0]} {key[1]} ({len(lines)}):")
        print("\n".join(lines[: args.errors]))
    return 0


def pipeline_score(pipeline: Pipeline, item: Item, lang: str):  # type: ignore[no-untyped-def]
    from socialwatch.scoring import sentiment

    return sentiment.score(item.text, lang, pipeline.analyzer, pipeline.thresholds)


def triage_only(pipeline: Pipeline, item: Item, scored):  # type: ignore[no-untyped-def]
    from socialwatch.models import AuthorHistory
    from socialwatch.scoring import triage

    return triage.triage(item, scored, AuthorHistory(), pipeline.rules, pipeline.config.sla)


if __name__ == "__main__":
    raise SystemExit(main())
