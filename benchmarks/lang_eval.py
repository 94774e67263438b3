"""Language detection on the labelled sets: agreement with each set's language, items/s, RSS.

    python benchmarks/lang_eval.py

The gold language is the set's language; real tweets code-switch (Swahili with English,
Latvian retweets of English), so 100% is not reachable and "und" is an honest answer.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import devdata
from benchmarks.common import rss_mb
from socialwatch.scoring.language import LanguageDetector


def main() -> int:
    examples = devdata.load()
    detector = LanguageDetector()
    by_set: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    start = time.perf_counter()
    for example in examples:
        by_set[(example.dataset, example.lang)][detector.detect(example.text)] += 1
    elapsed = time.perf_counter() - start
    print(f"{'set':<15} {'lang':<5} {'n':>5} {'right':>6} {'und':>5} {'wrong':>6}  most common wrong")
    for (dataset, lang), counts in sorted(by_set.items()):
        n = sum(counts.values())
        wrong = {k: v for k, v in counts.items() if k not in (lang, "und")}
        top = ", ".join(f"{k}:{v}" for k, v in Counter(wrong).most_common(4))
        print(
            f"{dataset:<15} {lang:<5} {n:>5} {counts[lang] / n:>6.1%} {counts['und'] / n:>5.1%} "
            f"{sum(wrong.values()) / n:>6.1%}  {top}"
        )
    print(f"{len(examples)} texts in {elapsed:.2f}s: {len(examples) / elapsed:,.0f} items/s; RSS {rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
