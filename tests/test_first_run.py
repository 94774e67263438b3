"""What a new user meets on a clean machine: one name for each credential everywhere, a taken port,
`check` and `status` without a config or without sources (a monitoring probe must not stay green)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_service_unit import UNIT, parse_unit

from socialwatch.cli import main
from socialwatch.config.load import parse_config
from socialwatch.sandbox import PortUnavailable, Sandbox, start_sandbox
from socialwatch.store import streams
from socialwatch.store.db import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "socialwatch.example.toml"
DEPLOY = ROOT / "docs" / "deploy.md"

# --- 7. one name for each credential ------------------------------------------------------------------


def _example_secrets() -> set[str]:
    """Every secret:NAME in the example config, commented-out keys included (they are the optional ones)."""
    return set(re.findall(r"\"secret:(SOCIALWATCH_[A-Z0-9_]+)\"", EXAMPLE.read_text(encoding="utf-8")))


def _deploy_secrets() -> set[str]:
    """The credential names in deploy.md's table of what the unit passes."""
    text = DEPLOY.read_text(encoding="utf-8")
    table = text[text.index("The unit passes these credentials") :].split("\n\n", 2)[1]
    return set(re.findall(r"`(SOCIALWATCH_[A-Z0-9_]+)`", table))


def test_the_unit_the_example_config_and_the_deploy_doc_name_the_same_credentials() -> None:
    unit = {entry.split(":")[0] for entry in parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]["LoadCredential"]}
    assert unit == _example_secrets() == _deploy_secrets(), (unit, _example_secrets(), _deploy_secrets())
    assert "SOCIALWATCH_FACEBOOK_PAGE_TOKEN" in unit


def test_following_the_deploy_doc_check_offline_passes(tmp_path: Path) -> None:
    """Credentials put where deploy.md says, under the names it gives, are the ones the example reads."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in _deploy_secrets():
        (credentials / name).write_text(f"dummy-{name.lower()}\n")
    config = tmp_path / "socialwatch.toml"
    config.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            'database = "/var/lib/socialwatch/socialwatch.db"', f'database = "{tmp_path / "sw.db"}"'
        )
    )
    env = {"CREDENTIALS_DIRECTORY": str(credentials), "SOCIALWATCH_CONFIG": ""}
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "config: OK" in result.output


def test_the_sandbox_config_uses_the_same_kind_of_names(tmp_path: Path) -> None:
    with Sandbox(slack=False) as box:
        text = box.write_config(tmp_path / "sw.toml").read_text()
    assert "secret:SANDBOX_FACEBOOK_PAGE_TOKEN" in text and "_FB_" not in text
    assert parse_config(text, tmp_path / "sw.toml", secrets=False).facebook.pages


# --- 8. a taken port -------------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


def test_a_taken_default_port_gives_way_to_a_free_one(taken_port: int) -> None:
    said: list[str] = []
    box = start_sandbox(port=taken_port, fallback=True, echo=said.append)
    try:
        assert box.port != taken_port and f"port {taken_port}" in said[0] and "free port" in said[0]
    finally:
        box.stop()
    with pytest.raises(PortUnavailable, match=f"port {taken_port} on 127.0.0.1 is in use"):
        start_sandbox(port=taken_port, fallback=False)


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_an_explicit_taken_port_is_a_clear_error_not_a_traceback(taken_port: int, command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "socialwatch", command, "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"port {taken_port} on 127.0.0.1 is in use" in result.stderr and "--port" in result.stderr


# --- 9. check and status without a config, without sources ----------------------------------------------


def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean machine: no config in the default places (the cwd is empty), none in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    monkeypatch.setattr("socialwatch.config.load.DEFAULT_LOCATIONS", (tmp_path / "etc" / "socialwatch.toml",))
    return {}


def test_check_without_a_config_file_fails_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolated(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["check", "--offline"])
    assert result.exit_code == 1
    assert "OK" not in result.output and "no config file found" in result.output
    assert "socialwatch.example.toml" in result.output
    assert list(tmp_path.iterdir()) == []  # no ./socialwatch.db


def test_check_does_not_create_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolated(tmp_path, monkeypatch)
    config = tmp_path / "sw.toml"
    config.write_text(f'[daemon]\ndatabase = "{tmp_path / "sw.db"}"\n[[replay]]\nname = "r"\npath = "x.jsonl"\n')
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "not created yet" in result.output and not (tmp_path / "sw.db").exists()
    nowhere = tmp_path / "sw2.toml"
    nowhere.write_text(f'[daemon]\ndatabase = "{tmp_path / "missing" / "sw.db"}"\n[[replay]]\nname = "r"\npath = "x"\n')
    bad = CliRunner().invoke(main, ["check", "--offline", "--config", str(nowhere)])
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_check_of_a_config_without_sources_is_not_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolated(tmp_path, monkeypatch)
    config = tmp_path / "sw.toml"
    config.write_text(f'[daemon]\ndatabase = "{tmp_path / "sw.db"}"\n')
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(config)])
    assert result.exit_code == 1 and "names no source" in result.output and "config: OK" not in result.output


def test_status_without_config_or_without_any_source_is_not_green(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _isolated(tmp_path, monkeypatch)
    Store(tmp_path / "socialwatch.db")  # a database left by someone, e.g. an old `check`
    nothing = CliRunner().invoke(main, ["status", "--json"])
    assert nothing.exit_code == 1 and "no config file found" in nothing.output
    config = tmp_path / "sw.toml"
    config.write_text(f'[daemon]\ndatabase = "{tmp_path / "socialwatch.db"}"\n')
    empty = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
    assert empty.exit_code == 2, empty.output
    assert "no source has reported" in empty.output
    streams.record_poll(Store(tmp_path / "socialwatch.db"), "replay:r", "replay", "r", ok=True)
    healthy = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
    assert healthy.exit_code == 0, healthy.output
