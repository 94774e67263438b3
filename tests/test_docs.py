"""Every command a user can run is documented in the README (as sqlite-utils' tests/test_docs.py checks)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from socialwatch.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        found.append(prefix + name)
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + name + " "))
    return found


COMMANDS = _commands(main)


def test_the_cli_has_the_commands_this_test_expects_to_see() -> None:
    assert {"run", "triage", "check", "status", "audit", "audit verify", "backup"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    """`socialwatch audit verify` may be written `socialwatch audit verify|export|head|purge` (`\\|` in tables)."""
    *group, name = command.split(" ")
    pattern = (
        r"`socialwatch " + "".join(re.escape(g) + " " for g in group) + r"(?:[\w-]+\\?\|)*" + re.escape(name) + r"\b"
    )
    assert re.search(pattern, README), f"`socialwatch {command}` is not documented in README.md"
