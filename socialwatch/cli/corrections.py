"""`socialwatch corrections list`: the managers' corrections of triage, as the labelled examples a retrain
reads (``store.corrections.training_examples``), or every correction with ``--all``.

Texts are masked as in Slack (card numbers, e-mail addresses, phones, passwords): the listing is for
people and files, and a model needs none of those. Forgotten customers' and purged items never appear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from socialwatch.cli.options import store_options
from socialwatch.config.load import ConfigError, load_config

TEXT_WIDTH = 70


@click.group("corrections")
def corrections_group() -> None:
    """Managers' corrections of triage ("Needs a reply", "Complaint", "Not negative", the category)."""


@corrections_group.command("list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one labelled example (or correction) per line.")
@click.option("--all", "every", is_flag=True, help="Every correction, newest first, instead of one example per item.")
def list_command(config_path: str | None, database: Path | None, as_json: bool, every: bool) -> None:
    """One labelled example per corrected item: the latest correction of each field (label, needs_reply,
    category; empty where nobody corrected it), who made the latest and when."""
    from socialwatch.scoring.pii import mask
    from socialwatch.store import corrections
    from socialwatch.store.db import Store

    try:
        config = load_config(config_path, required=False, secrets=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    path = Path(database or config.daemon.database)
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; has the daemon run yet? (or pass --database)")
    store = Store(path)
    if every:
        rows = corrections.history(store)
        for row in rows:
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(
                    f"{row['corrected_at']}  {row['item_key']}  {row['field']}: {row['old']} -> {row['new']}"
                    f"  by {row['corrected_by_name']}"
                )
        if not as_json:
            click.echo(f"{len(rows)} correction(s)")
        return
    examples = corrections.training_examples(store)
    for example in examples:
        example = {**example, "text": mask(str(example["text"]))}
        if as_json:
            click.echo(json.dumps(example, ensure_ascii=False))
        else:
            click.echo(_line(example))
    if not as_json:
        click.echo(f"{len(examples)} corrected item(s)")


def _line(example: dict[str, Any]) -> str:
    said = [
        f"label={example['label']}" if example["label"] is not None else "",
        f"needs_reply={'yes' if example['needs_reply'] else 'no'}" if example["needs_reply"] is not None else "",
        f"category={example['category']}" if example["category"] is not None else "",
    ]
    text = " ".join(str(example["text"]).split())
    if len(text) > TEXT_WIDTH:
        text = text[: TEXT_WIDTH - 1] + "…"
    return (
        f"{example['item_key']}  {' '.join(s for s in said if s)}  "
        f"by {example['corrected_by_name']} {example['corrected_at']}  [{example['lang'] or '?'}] {text}"
    )
