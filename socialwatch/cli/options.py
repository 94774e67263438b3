"""Options and helpers every command shares, as one decorator each (as sqlite-utils' and datasette's CLIs do)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from socialwatch.config.load import ConfigError, load_config
from socialwatch.config.schema import Config

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $SOCIALWATCH_CONFIG, /etc/socialwatch/socialwatch.toml, ./config/socialwatch.toml).",
)
database_option = click.option(
    "--database",
    "database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The SQLite database to use instead of the config's [daemon] database (e.g. a copy or a backup).",
)


def store_options(command: F) -> F:
    """--config and --database: the commands that read the database, whose path the config names."""
    return config_option(database_option(command))


def load(path: str | None, *, required: bool, secrets: bool = True) -> Config:
    """The config, or a click error that names the file, the key and the fix."""
    try:
        return load_config(path, required=required, secrets=secrets)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: list[str] | None = None) -> None:
    from socialwatch.ops.logs import setup_logging as setup

    setup(level, fmt, secrets or [])  # type: ignore[arg-type]
