"""Config errors name the file, the key, what is wrong and the fix; secrets resolve from env and credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from socialwatch.cli import main
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


# --- values that pass a schema but fail at run time -----------------------------------------------------

REPLAY_ONLY = '[daemon]\ndatabase = "sw.db"\n[[replay]]\nname = "r"\npath = "r.jsonl"\n'


@pytest.mark.parametrize(
    ("snippet", "key", "words"),
    [
        ("[daemon]\npoll_interval = 1e308", "daemon.poll_interval", "less than or equal to 86400"),
        ("[daemon]\nbackfill_hours = inf", "daemon.backfill_hours", "finite number"),
        ("[daemon]\nbackfill_hours = nan", "daemon.backfill_hours", "finite number"),
        ("[sla]\nurgent = inf", "sla.urgent", "finite number"),
        ("[sla]\nnormal = 1e300", "sla.normal", "less than or equal to 525600"),
        ('[sla.overrides."x:dm"]\nhigh = nan', "sla.overrides.x:dm.high", "finite number"),
        ("[sla]\nreopen_window_hours = 1e20", "sla.reopen_window_hours", "less than or equal to 8760"),
        (
            '[[x.accounts]]\nname = "a"\nbearer_token = "t"\npoll_interval = inf',
            "x.accounts[0].poll_interval",
            "finite",
        ),
    ],
)
def test_check_refuses_values_that_would_fail_at_run_time(tmp_path, snippet, key, words):
    (tmp_path / "r.jsonl").write_text("")
    if snippet.startswith("[daemon]\n"):  # one [daemon] table: the key goes into REPLAY_ONLY's
        text = REPLAY_ONLY.replace("[daemon]\n", snippet + "\n", 1)
    else:
        text = REPLAY_ONLY + snippet + "\n"
    path = write(tmp_path, text)
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(path)])
    assert result.exit_code != 0
    assert str(path) in result.output and f"  {key}: " in result.output and words in result.output, result.output
    assert "fix: " in result.output


@pytest.mark.parametrize("where", ["/", "empty", "missing", "a-file"])
def test_check_refuses_a_templates_dir_without_templates(tmp_path, where):
    (tmp_path / "r.jsonl").write_text("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    path = write(tmp_path, REPLAY_ONLY + f'[suggestions]\ntemplates_dir = "{where}"\n')
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(path)])
    assert result.exit_code != 0
    assert str(path) in result.output and "suggestions.templates_dir: " in result.output, result.output
    assert "fix: point it at a folder holding only your overrides" in result.output
    with_one = tmp_path / "overrides" / "en" / "other"
    with_one.mkdir(parents=True)
    (with_one / "1-apologise.j2").write_text("Sorry about that.")
    assert load_config(write(tmp_path, REPLAY_ONLY + '[suggestions]\ntemplates_dir = "overrides"\n'))


def test_check_names_an_include_circle_instead_of_hanging(tmp_path):
    (tmp_path / "r.jsonl").write_text("")
    pieces = tmp_path / "overrides" / "en"
    pieces.mkdir(parents=True)
    (pieces / "_greeting.j2").write_text('{% include "_sign.j2" %}')
    (pieces / "_sign.j2").write_text('Thanks{% include "_greeting.j2" %}')
    path = write(tmp_path, REPLAY_ONLY + '[suggestions]\ntemplates_dir = "overrides"\n')
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(path)])
    assert result.exit_code == 1
    assert "an include circle: en/_greeting.j2 -> en/_sign.j2 -> en/_greeting.j2" in result.output, result.output
    assert "fix: remove one of those includes" in result.output


# --- secrets are never echoed ------------------------------------------------------------------------------

TOKEN = "AAAAbCdEf0123456789xYz0987654321QwErTy"


@pytest.mark.parametrize(
    "reference",
    [f"secret:{TOKEN}", f"secret: {TOKEN} ", f"secret:{TOKEN}%2B", f"secret:Bearer {TOKEN}", f"secret:{TOKEN}!"],
)
def test_a_secret_reference_never_echoes_its_value(tmp_path, monkeypatch, caplog, reference):
    monkeypatch.delenv(TOKEN, raising=False)
    path = write(tmp_path, REPLAY_ONLY + f'[[x.accounts]]\nname = "acme"\nbearer_token = "{reference}"\n')
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "x.accounts[0].bearer_token" in text and "fix:" in text
    assert TOKEN not in text and TOKEN[:12] not in text and TOKEN not in caplog.text
    result = CliRunner().invoke(main, ["check", "--offline", "--config", str(path)])
    assert result.exit_code != 0 and TOKEN[:12] not in result.output


def test_a_secret_of_the_wrong_type_is_not_echoed_either(tmp_path):
    path = write(tmp_path, REPLAY_ONLY + '[[x.accounts]]\nname = "acme"\nbearer_token = 12345678987654321\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "x.accounts[0].bearer_token" in str(err.value) and "12345678987654321" not in str(err.value)
    named = write(tmp_path, REPLAY_ONLY + '[[x.accounts]]\nname = "acme"\nbearer_token = "secret:X_TOKEN_NOT_SET"\n')
    with pytest.raises(ConfigError) as err:
        load_config(named)
    assert "secret X_TOKEN_NOT_SET not found" in str(err.value)  # a name is shown: it is what to fix


def test_status_and_backup_are_not_stopped_by_a_templates_dir(tmp_path):
    path = write(tmp_path, REPLAY_ONLY + '[suggestions]\ntemplates_dir = "missing"\n')
    assert load_config(path, secrets=False).daemon.database == tmp_path / "sw.db"
    with pytest.raises(ConfigError):
        load_config(path)
