"""Config errors name the file, the key, what is wrong and the fix; secrets resolve from env and credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from socialwatch.config.load import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "socialwatch.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "socialwatch.toml"
    path.write_text(text)
    return path


def test_no_config_anywhere_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    config = load_config(None)
    assert config.daemon.poll_interval == 60
    assert config.sla.urgent == 15
    assert config.source_path is None


def test_no_config_when_required_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    with pytest.raises(ConfigError) as err:
        load_config(None, required=True)
    text = str(err.value)
    assert "/etc/socialwatch/socialwatch.toml" in text and "socialwatch.example.toml" in text


def test_missing_file_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert "nope.toml" in str(err.value) and "file not found" in str(err.value)


def test_env_var_pointing_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCIALWATCH_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError) as err:
        load_config(None)
    assert "SOCIALWATCH_CONFIG" in str(err.value) and "gone.toml" in str(err.value)


def test_bad_type_names_file_key_and_fix(tmp_path):
    path = write(tmp_path, '[daemon]\npoll_interval = "often"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text
    assert "daemon.poll_interval" in text
    assert "'often'" in text
    assert "fix: write a number without quotes" in text


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "[sla]\nurgant = 10\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "sla.urgant" in text and "unknown key 'urgant'" in text and "did you mean 'urgent'" in text


def test_toml_syntax_error(tmp_path):
    path = write(tmp_path, "[daemon\npoll_interval = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "not valid TOML" in str(err.value) and str(path) in str(err.value)


def test_several_problems_reported_at_once(tmp_path):
    path = write(tmp_path, '[daemon]\nlog_level = "LOUD"\nmax_workers = 0\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.problems) == 2


ACCOUNT = """
[x]
[[x.accounts]]
name = "acme"
bearer_token = "secret:ACME_X_TOKEN"
"""


def test_missing_secret_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ACME_X_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = write(tmp_path, ACCOUNT)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "x.accounts[0].bearer_token" in text
    assert "ACME_X_TOKEN not found" in text
    assert "LoadCredential=ACME_X_TOKEN" in text


def test_secret_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_X_TOKEN", "tok-from-env")
    config = load_config(write(tmp_path, ACCOUNT))
    assert config.x.accounts[0].bearer_token.get_secret_value() == "tok-from-env"
    assert "tok-from-env" not in repr(config)
    assert "tok-from-env" in config.secret_values()


def test_secret_from_systemd_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("ACME_X_TOKEN", raising=False)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ACME_X_TOKEN").write_text("tok-from-cred\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load_config(write(tmp_path, ACCOUNT))
    assert config.x.accounts[0].bearer_token.get_secret_value() == "tok-from-cred"


def test_inline_secret_works_with_warning(tmp_path, caplog):
    path = write(tmp_path, ACCOUNT.replace('"secret:ACME_X_TOKEN"', '"inline-token"'))
    with caplog.at_level(logging.WARNING):
        config = load_config(path)
    assert config.x.accounts[0].bearer_token.get_secret_value() == "inline-token"
    assert "inline" in caplog.text and "x.accounts[0].bearer_token" in caplog.text
    assert "inline-token" not in caplog.text


def test_relative_database_is_relative_to_config_file(tmp_path):
    config = load_config(write(tmp_path, '[daemon]\ndatabase = "data/sw.db"\n'))
    assert config.daemon.database == tmp_path / "data" / "sw.db"


def test_duplicate_account_names_rejected():
    with pytest.raises(ConfigError) as err:
        parse_config({"replay": [{"name": "a", "path": "x.jsonl"}, {"name": "a", "path": "y.jsonl"}]})
    assert "more than once" in str(err.value)


def test_fingerprint_ignores_secret_values(tmp_path, monkeypatch):
    path = write(tmp_path, ACCOUNT)
    monkeypatch.setenv("ACME_X_TOKEN", "one")
    first = load_config(path).fingerprint()
    monkeypatch.setenv("ACME_X_TOKEN", "two")
    assert load_config(path).fingerprint() == first
    assert load_config(write(tmp_path, ACCOUNT + "\n[sla]\nurgent = 5\n")).fingerprint() != first


def test_example_config_is_valid_and_documents_every_key(monkeypatch):
    """The shipped example parses, and every key of every section appears in it."""
    text = EXAMPLE.read_text()
    for name in (
        "SOCIALWATCH_X_BEARER_TOKEN",
        "SOCIALWATCH_FACEBOOK_PAGE_TOKEN",
        "SOCIALWATCH_SLACK_BOT_TOKEN",
        "SOCIALWATCH_SLACK_APP_TOKEN",
        "SOCIALWATCH_FACEBOOK_APP_SECRET",
    ):
        monkeypatch.setenv(name, "dummy")
    config = parse_config(text, EXAMPLE)
    from pydantic import BaseModel

    def keys(model: type[BaseModel]) -> set[str]:
        out = set()
        for name, field in model.model_fields.items():
            out.add(name)
            annotation = field.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                for inner in (candidate, *getattr(candidate, "__args__", ())):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        out |= keys(inner)
        return out

    missing = sorted(
        k
        for k in keys(type(config))
        if f"{k} =" not in text and f"[{k}]" not in text and f".{k}]" not in text and f".{k}." not in text
    )
    assert not missing, f"keys not documented in {EXAMPLE.name}: {missing}"
