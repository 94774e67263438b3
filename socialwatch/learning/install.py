"""Installing a model: only if it is not worse than the one it replaces on the dev splits, and audited.

"Not worse", per language present in both: ``caught`` may drop by at most ``CAUGHT_TOLERANCE`` and
``false_flag`` may rise by at most ``FALSE_FLAG_TOLERANCE`` (docs/model.md). Both models are measured
here, on the same examples, so figures from different data or code cannot be compared by mistake.
The installed file goes into the data dir (never into the package), written atomically, and the
install is an audit entry with its sha256 and figures.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialwatch.learning import figures
from socialwatch.learning.build import Decider, model_decisions
from socialwatch.learning.model import INSTALLED_NAME, Model, sha256_of
from socialwatch.learning.training import Example
from socialwatch.store import model_log
from socialwatch.store.db import Store

CAUGHT_TOLERANCE = 0.01
FALSE_FLAG_TOLERANCE = 0.02


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problems: tuple[str, ...]
    new: dict[str, figures.Figures]
    old: dict[str, figures.Figures]


def compare(new: Model, old: Model | None, dev: Sequence[Example], decide: Decider | None = None) -> Verdict:
    counted = decide or model_decisions
    new_figs = figures.by_language(counted(new, dev))
    if old is None:
        return Verdict(True, (), new_figs, {})
    old_figs = figures.by_language(counted(old, dev))
    problems = []
    for lang in sorted(new_figs.keys() & old_figs.keys()):
        n, o = new_figs[lang], old_figs[lang]
        if n.caught < o.caught - CAUGHT_TOLERANCE:
            problems.append(f"{lang}: caught {n.caught:.3f} < {o.caught:.3f} (allowed drop {CAUGHT_TOLERANCE})")
        if n.false_flag > o.false_flag + FALSE_FLAG_TOLERANCE:
            problems.append(
                f"{lang}: false flags {n.false_flag:.3f} > {o.false_flag:.3f} (allowed rise {FALSE_FLAG_TOLERANCE})"
            )
    return Verdict(not problems, tuple(problems), new_figs, old_figs)


def install(
    candidate: Path,
    data_dir: Path,
    store: Store,
    verdict: Verdict,
    *,
    forced: bool,
    actor_id: str,
    actor_name: str,
) -> tuple[Path, str]:
    """Copy ``candidate`` into the data dir as the installed model and audit it; returns (path, sha256)."""
    if not verdict.ok and not forced:
        raise ValueError("refused: " + "; ".join(verdict.problems))
    target = data_dir / INSTALLED_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(candidate, partial)
    partial.replace(target)
    sha = sha256_of(target)
    figs: dict[str, Any] = {lang: f.as_dict() for lang, f in verdict.new.items()}
    model_log.record_install(
        store,
        sha256=sha,
        path=str(target),
        figures=figs,
        forced=forced and not verdict.ok,
        actor_id=actor_id,
        actor_name=actor_name,
    )
    return target, sha
