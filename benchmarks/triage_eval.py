"""Triage quality per language: the old pipeline (VADER + rules) beside the new one (learned model + rules).

    python benchmarks/triage_eval.py [--data DIR] [--model FILE] [--sets dev,beside,ours]

Sets: ``dev`` = the report half of each training set's dev split (never trained on, nor used to choose
the thresholds; socialwatch/learning/build.py), ``beside`` = the sets beside the pack (TweetEval val,
AfriSenti dev, VADER's ground truth, the Latvian nicmanis corpus: never trained on), ``ours`` = the
hand-written sets in benchmarks/data (customer-service English and other languages; Lithuanian and
Malay written for this). The shared data is read in place from ../shared/data/sentiment-dev (or --data)
and skipped when absent. Each text is triaged as a public X mention, tagged with its set's language as
the platform would tag it (the language detection may overrule the tag).

Columns per pipeline: precision / recall of "negative" (the label), ``caught`` (negatives labelled
negative or sent to a person), ``f-flag`` (non-negatives labelled negative or sent to a person) and
3-class macro-recall where the set has three classes. The sets of ours also have needs_reply labels:
``reply P/R`` is needs_reply against them. Throughput: CPU time of this process, one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import rss_mb
from socialwatch.config.schema import Config
from socialwatch.learning import build, corpus, figures
from socialwatch.learning import model as model_mod
from socialwatch.learning.evaluate import as_item, decisions
from socialwatch.learning.training import Example
from socialwatch.scoring.pipeline import Pipeline

HERE = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[1]


def ours() -> dict[str, list[Example]]:
    """The hand-written sets, with their needs_reply labels."""
    sets: dict[str, list[Example]] = defaultdict(list)
    for name in ("cs_eval_en.tsv", "cs_eval_multi.tsv", "handwritten_lt.tsv", "handwritten_ms.tsv"):
        lines = [x for x in (HERE / name).read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
        for line in lines[1:]:
            cols = line.split("\t")
            lang = cols.pop(0) if name == "cs_eval_multi.tsv" else {"handwritten_lt.tsv": "lt"}.get(name, "")
            lang = lang or ("ms" if name == "handwritten_ms.tsv" else "en")
            _kind, negative, needs_reply, text = cols
            label = "negative" if negative == "1" else "neutral"
            sets[name.removesuffix(".tsv")].append(Example(text, lang, label, needs_reply == "1", name))
    return dict(sets)


def reply_cell(pipeline: Pipeline, examples: list[Example]) -> str:
    tp = fp = fn = 0
    for i, e in enumerate(examples):
        said = pipeline.assess(as_item(e, i)).needs_reply
        tp += said and bool(e.needs_reply)
        fp += said and not e.needs_reply
        fn += (not said) and bool(e.needs_reply)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return f"{p:.2f}/{r:.2f}"


def row(f: figures.Figures) -> str:
    macro = f"{f.macro_recall:.3f}" if f.macro_recall is not None else "  -  "
    return f"{f.precision:.2f}/{f.recall:.2f} {f.caught:.2f} {f.false_flag:.2f} {macro}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None, help="a model file (default: the shipped one)")
    parser.add_argument("--sets", default="dev,beside,ours")
    args = parser.parse_args(argv)
    wanted = set(args.sets.split(","))
    root = corpus.resolve_root(args.data) if args.data else corpus.default_root(REPO)
    loaded = model_mod.resolve(None, str(args.model) if args.model else str(model_mod.SHIPPED))
    if loaded.model is None:
        print(f"no model: {loaded.error}")
        return 1
    new = Pipeline(Config(), loaded=loaded)
    old = Pipeline(Config(), loaded=model_mod.Loaded(None, None, "none"))

    groups: list[tuple[str, str, list[Example]]] = []  # (set, lang, examples)
    if root.is_dir():
        if "dev" in wanted:
            by_lang: dict[str, list[Example]] = defaultdict(list)
            for e in build.split(root).report:
                by_lang[e.lang].append(e)
            groups += [("dev", lang, rows) for lang, rows in sorted(by_lang.items())]
        if "beside" in wanted:
            groups += [(name, rows[0].lang, rows) for name, rows in corpus.evaluation_sets(root).items() if rows]
    else:
        print(f"note: no shared data at {root}: only the hand-written sets")
    if "ours" in wanted:
        for name, rows in ours().items():
            langs: dict[str, list[Example]] = defaultdict(list)
            for e in rows:
                langs[e.lang].append(e)
            groups += [(name, lang, part) for lang, part in sorted(langs.items())]

    print(f"model: {loaded.model.name} ({loaded.path}, sha256 {(loaded.sha256 or '')[:12]})")
    print("cells: P/R(negative) caught f-flag macroR   (old = VADER + rules, new = model + rules)")
    head = f"{'set':<20}{'lang':<5}{'n':>6}{'neg':>5}  {'old':<28}{'new':<28}{'reply P/R old':>14}{'new':>10}"
    print(head)
    print("-" * len(head))
    total = 0
    for name, lang, rows in groups:
        o = figures.figures([d for _, d in decisions(old, rows)])
        n = figures.figures([d for _, d in decisions(new, rows)])
        total += len(rows)
        replies = ""
        if rows[0].needs_reply is not None:
            replies = f"{reply_cell(old, rows):>14}{reply_cell(new, rows):>10}"
        print(f"{name:<20}{lang:<5}{n.n:>6}{n.negatives:>5}  {row(o):<28}{row(n):<28}{replies}")

    # Throughput on the same texts, interleaved: raw VADER, the old pipeline, the new one.
    texts = [e for _, _, rows in groups for e in rows][:20_000]
    items = [as_item(e, i) for i, e in enumerate(texts)]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    spent = {"vader": 0.0, "old": 0.0, "new": 0.0}
    for start in range(0, len(items), 1000):
        chunk = items[start : start + 1000]
        c = time.process_time()
        for item in chunk:
            vader.polarity_scores(item.text)
        spent["vader"] += time.process_time() - c
        for key, pipeline in (("old", old), ("new", new)):
            c = time.process_time()
            for item in chunk:
                pipeline.assess(item)
            spent[key] += time.process_time() - c
    rates = {k: len(items) / v for k, v in spent.items() if v}
    print(
        f"\n{len(items)} items, one core (CPU time): raw VADER {rates['vader']:,.0f}/s, "
        f"old triage {rates['old']:,.0f}/s, new triage with the model {rates['new']:,.0f}/s "
        f"(full assess: language, VADER, model, rules, triage, suggestions); RSS {rss_mb():.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
