"""`socialwatch model train|eval|install`: the learned triage model built, judged and installed from the shell.

A thin shell over ``socialwatch.learning``: ``train`` builds a model from the labelled corpora (and, with
``--with-feedback``, the managers' corrections) and installs it into the data dir if it is not worse than
the one it replaces on the dev splits; ``eval`` scores a labelled file through the whole triage; ``install``
puts a given model file in place under the same rule. Installs are audited.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from socialwatch.cli.options import config_option, load
from socialwatch.config.schema import Config
from socialwatch.learning import build, corpus, figures
from socialwatch.learning import model as model_mod
from socialwatch.learning.training import Example, Settings

REPO = Path(__file__).resolve().parents[2]

data_option = click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder holding sentiment-dev/ (default: ../shared/data beside the repository).",
)


def _root(data: Path | None) -> Path:
    root = corpus.resolve_root(data) if data else corpus.default_root(REPO)
    if not root.is_dir():
        raise click.ClickException(f"no labelled data at {root}; pass --data DIR (the folder holding sentiment-dev/)")
    return root


def _data_dir(config: Config) -> Path:
    from socialwatch.scoring.pipeline import model_dir

    return model_dir(config)


def _actor() -> tuple[str, str]:
    name = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"cli:{name}", name


def feedback_examples(config: Config) -> list[Example]:
    """The managers' corrections in the store (``store.corrections.training_examples``: the latest per item
    and field, forgotten and purged texts left out), as training examples (``source="feedback"``). A
    correction of needs_reply alone says nothing of the label, so it is not a training row for this model."""
    from socialwatch.store import corrections
    from socialwatch.store.db import Store

    path = Path(config.daemon.database)
    if not path.is_file():
        return []
    rows = corrections.training_examples(Store(path))
    # A correction is one person's judgement on the brand's own traffic: it weighs more than a corpus row.
    return [
        Example(r["text"], r["lang"] or "en", r["label"], r["needs_reply"], "feedback", 3.0)
        for r in rows
        if r["label"] in ("negative", "neutral", "positive")
    ]


@click.group("model")
def model_group() -> None:
    """The learned triage model: train it, evaluate it on a labelled file, install it."""


@model_group.command("train")
@data_option
@config_option
@click.option(
    "--licences",
    type=click.Choice(["all", "permissive"]),
    default="all",
    show_default=True,
    help="'permissive': only the clearly redistributable sets (MIT, Apache-2.0, CC BY).",
)
@click.option("--with-feedback", is_flag=True, help="Add the managers' corrections from the database.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the model here.")
@click.option("--no-install", is_flag=True, help="Only write --out; install nothing.")
@click.option("--force", is_flag=True, help="Install even if the dev figures drop more than allowed.")
@click.option("--epochs", type=click.IntRange(1, 50), default=Settings.epochs, show_default=True)
def train_command(
    data: Path | None,
    config_path: str | None,
    licences: str,
    with_feedback: bool,
    out: Path | None,
    no_install: bool,
    force: bool,
    epochs: int,
) -> None:
    """Train the model reproducibly (fixed seed) from sentiment-dev/ and its pack/, print its figures on
    the held-back dev splits and the sets beside the pack, and install it into the data dir if it is not
    worse than the installed (or shipped) one (docs/model.md)."""
    config = load(config_path, required=False, secrets=False)
    root = _root(data)
    for missing in corpus.missing_sets(root, licences):
        click.echo(f"warning: training set {missing} is missing under {root}; training without it", err=True)
    extra = feedback_examples(config) if with_feedback else []
    if with_feedback:
        click.echo(f"{len(extra)} correction(s) from {config.daemon.database}")
    try:
        model = build.build(
            root,
            licences,
            Settings(epochs=epochs),
            extra,
            progress=click.echo,
            base_flags=_base_flags,
            decide=triage_decisions,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_figures(model.meta.get("figures", {}))
    if out is None and no_install:
        raise click.ClickException("--no-install needs --out FILE")
    target = out or Path(tempfile.mkdtemp(prefix="socialwatch-model-")) / model_mod.INSTALLED_NAME
    sha = model.save(target)
    click.echo(f"model written to {target} (sha256 {sha}, {target.stat().st_size / 1e6:.1f} MB)")
    if not no_install:
        _install(config, target, model, build.split(root).report, force)


def _pipeline(model: model_mod.Model) -> Any:
    from socialwatch.scoring.pipeline import Pipeline

    return Pipeline(Config(), loaded=model_mod.Loaded(model, None, "candidate"))


def triage_decisions(model: model_mod.Model, examples: Sequence[Example]) -> list[tuple[str, figures.Decision]]:
    """The whole triage's decisions with ``model`` (what a manager would see), default config."""
    from socialwatch.learning.evaluate import decisions

    return decisions(_pipeline(model), examples)


def _base_flags(model: model_mod.Model, examples: Sequence[Example]) -> list[tuple[bool, float | None]]:
    """Per example, what triage flags when the model never says "negative" (the rules' part of the
    decision), and the model's P(negative) as triage computed it (None where triage did not use the model:
    another language detected, or one the model does not know)."""
    from socialwatch.learning.evaluate import as_item

    pipeline = _pipeline(model)
    pipeline.model_thresholds = {lang: 1.01 for lang in model.languages}
    out: list[tuple[bool, float | None]] = []
    for index, example in enumerate(examples):
        assessment = pipeline.assess(as_item(example, index))
        flagged = assessment.needs_reply or assessment.sentiment.label == "negative"
        out.append((flagged, getattr(assessment.sentiment, "model_score", None)))
    return out


def _print_figures(figs: dict[str, Any]) -> None:
    counted = figs.get("counted", "model alone")
    for title, key in (
        (f"dev splits (report half, never trained or tuned on), {counted}", "dev"),
        (f"sets beside the pack (never trained on), {counted}", "evaluation"),
    ):
        table = {name: figures.Figures(**values) for name, values in figs.get(key, {}).items()}
        if table:
            click.echo(figures.render(table, title))


def _install(config: Config, candidate: Path, new: model_mod.Model, dev: list[Example], force: bool) -> None:
    from socialwatch.learning import install
    from socialwatch.store.db import Store

    data_dir = _data_dir(config)
    current = model_mod.resolve(data_dir, "auto")
    verdict = install.compare(new, current.model, dev, triage_decisions)
    if current.model is None:
        click.echo(f"no usable model to compare with ({current.error}); installing")
    if not verdict.ok:
        click.echo("the new model is worse on the dev splits than the " + current.source + " one:", err=True)
        for problem in verdict.problems:
            click.echo("  " + problem, err=True)
        if not force:
            raise click.ClickException("not installed (pass --force to install anyway)")
    store = Store(Path(config.daemon.database))
    actor_id, actor_name = _actor()
    path, sha = install.install(
        candidate, data_dir, store, verdict, forced=force, actor_id=actor_id, actor_name=actor_name
    )
    click.echo(f"installed {path} (sha256 {sha}); audited as model.installed")


@model_group.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
@config_option
@click.option("--force", is_flag=True, help="Install even if the dev figures drop more than allowed.")
def install_command(file: Path, data: Path | None, config_path: str | None, force: bool) -> None:
    """Install FILE as the daemon's model if it is not worse than the current one on the dev splits
    (allowed: caught -0.01, false flags +0.02 per language); audited. Restart the daemon to load it."""
    config = load(config_path, required=False, secrets=False)
    try:
        new = model_mod.load(file)
    except model_mod.ModelError as exc:
        raise click.ClickException(str(exc)) from None
    root = corpus.resolve_root(data) if data else corpus.default_root(REPO)
    if not root.is_dir() and not force:
        raise click.ClickException(f"no dev data at {root} to compare on; pass --data DIR, or --force")
    dev = build.split(root).report if root.is_dir() else []
    _install(config, file, new, dev, force)


@model_group.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Evaluate this model file instead of the installed or shipped one.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_command(file: Path, config_path: str | None, model_path: Path | None, as_json: bool) -> None:
    """Score a labelled FILE (JSONL with "text", "label", optional "lang"; or TSV text<TAB>label or
    lang<TAB>text<TAB>label) through the whole triage, and print per-language precision and recall of
    "negative", caught, false flags and 3-class macro-recall, beside VADER and the rules alone."""
    from socialwatch.scoring.pipeline import Pipeline

    config = load(config_path, required=False, secrets=False)
    try:
        examples = corpus.read_labelled(file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    loaded = model_mod.resolve(None, str(model_path)) if model_path else None
    pipeline = Pipeline(config, loaded=loaded)
    if pipeline.model is None:
        assert pipeline.loaded is not None
        click.echo(f"warning: no model ({pipeline.loaded.error}); figures are VADER and the rules only", err=True)
    baseline = Pipeline(config, loaded=model_mod.Loaded(None, None, "none"))
    result = {
        "model": _eval(pipeline, examples),
        "vader": _eval(baseline, examples),
    }
    if as_json:
        click.echo(json.dumps({k: {lang: f.as_dict() for lang, f in v.items()} for k, v in result.items()}, indent=2))
        return
    name = pipeline.model.name if pipeline.model else "none"
    click.echo(figures.render(result["model"], f"with the model ({name})"))
    click.echo(figures.render(result["vader"], "VADER and the rules only"))
    if not examples:
        sys.exit(1)


def _eval(pipeline: Any, examples: list[Example]) -> dict[str, figures.Figures]:
    from socialwatch.learning.evaluate import decisions

    return figures.by_language(decisions(pipeline, examples))
