"""Loading the configuration: find the TOML file, validate it once, resolve secrets, explain every mistake.

Every error names the file, the key, what is wrong and how to fix it. Secrets are
written in the TOML as ``"secret:NAME"`` and resolved from the environment variable
NAME, then ``$CREDENTIALS_DIRECTORY/NAME`` (systemd ``LoadCredential=``), then
``[daemon] secrets_dir/NAME``. A secret written inline works but logs a warning.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from socialwatch.config.schema import Config, secret_fields

log = logging.getLogger(__name__)

ENV_VAR = "SOCIALWATCH_CONFIG"
DEFAULT_LOCATIONS = (Path("/etc/socialwatch/socialwatch.toml"), Path("config/socialwatch.toml"))
SECRET_PREFIX = "secret:"


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str

    def render(self) -> str:
        return f"  {self.key}: {self.message}\n    fix: {self.fix}"


class ConfigError(Exception):
    """A configuration that cannot be used. ``str()`` is the message shown to the user."""

    def __init__(self, file: Path | str | None, problems: list[Problem]):
        self.file = str(file) if file else "<built-in defaults>"
        self.problems = problems
        lines = [f"config error in {self.file}:"] + [p.render() for p in problems]
        super().__init__("\n".join(lines))


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The config file to use, or None when there is none anywhere (built-in defaults)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                path,
                [
                    Problem(
                        "--config",
                        f"file not found: {path}",
                        "check the path, or run without --config to use "
                        f"${ENV_VAR}, {' or '.join(str(p) for p in DEFAULT_LOCATIONS)}",
                    )
                ],
            )
        return path
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(
                path,
                [
                    Problem(
                        ENV_VAR,
                        f"points at {path}, which does not exist",
                        f"fix or unset the {ENV_VAR} environment variable",
                    )
                ],
            )
        return path
    for candidate in DEFAULT_LOCATIONS:
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None = None, *, required: bool = False, secrets: bool = True) -> Config:
    """Find, parse, validate and resolve. ``required`` makes 'no config anywhere' an error;
    ``secrets=False`` skips resolving them (status and backup run as root, without credentials)."""
    found = find_config(path)
    if found is None:
        if required:
            raise ConfigError(
                None,
                [
                    Problem(
                        "config",
                        "no config file found (looked at --config, "
                        f"${ENV_VAR}, {', '.join(str(p) for p in DEFAULT_LOCATIONS)})",
                        "copy config/socialwatch.example.toml to one of those places and edit it, "
                        "or try `socialwatch demo` which needs none",
                    )
                ],
            )
        return Config()
    return parse_config(found.read_bytes(), found, secrets=secrets)


def parse_config(data: bytes | str | dict[str, Any], file: Path | None = None, *, secrets: bool = True) -> Config:
    if isinstance(data, dict):
        raw = data
    else:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                file,
                [
                    Problem(
                        "(syntax)",
                        f"not valid TOML: {exc}",
                        "fix the line named above; strings need quotes, tables look like [section]",
                    )
                ],
            ) from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(file, [_explain(err) for err in exc.errors()]) from None
    config._source_path = file
    base = file.parent if file else Path.cwd()
    config.daemon.database = _relative_to(config.daemon.database, base)
    if config.daemon.secrets_dir is not None:
        config.daemon.secrets_dir = _relative_to(config.daemon.secrets_dir, base)
    if config.suggestions.templates_dir is not None:
        config.suggestions.templates_dir = _relative_to(config.suggestions.templates_dir, base)
    for replay in config.replay:
        replay.path = _relative_to(replay.path, base)
    # Commands that never suggest a reply (status, backup: secrets=False) are not stopped by a templates_dir.
    problems = templates_dir_problems(config.suggestions.templates_dir) if secrets else []
    problems += _resolve_secrets(config, file) if secrets else []
    if problems:
        raise ConfigError(file, problems)
    return config


#: How many directory entries a templates folder may have (three levels deep) before it is clearly not one.
TEMPLATES_DIR_SCAN = 5000
TEMPLATES_KEY = "suggestions.templates_dir"
TEMPLATES_FIX = (
    "point it at a folder holding only your overrides (<lang>/<category>/NN-kind.j2 and <lang>/_piece.j2, "
    "see config/templates/README.md), or remove the key to use the built-in templates"
)


def templates_dir_problems(path: Path | None) -> list[Problem]:
    """What makes ``[suggestions] templates_dir`` unusable: missing, not a folder, or a folder without one
    template (jinja would walk all of it, "/" included, at every start, and override nothing)."""
    if path is None:
        return []
    if not path.exists():
        return [Problem(TEMPLATES_KEY, f"{path} does not exist", TEMPLATES_FIX)]
    if not path.is_dir():
        return [Problem(TEMPLATES_KEY, f"{path} is not a folder", TEMPLATES_FIX)]
    seen = 0
    folders = [(path, 0)]
    while folders:
        folder, depth = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > TEMPLATES_DIR_SCAN:
                return [Problem(TEMPLATES_KEY, f"{path} holds far more than templates (over {TEMPLATES_DIR_SCAN} "
                                "entries without a template)", TEMPLATES_FIX)]  # fmt: skip
            if entry.name.endswith(".j2") and entry.is_file():
                return []
            if depth < 2 and entry.is_dir(follow_symlinks=False):
                folders.append((Path(entry.path), depth + 1))
    return [Problem(TEMPLATES_KEY, f"{path} holds no reply templates (*.j2)", TEMPLATES_FIX)]


def _relative_to(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path)


def _set_by_key(config: Config, key: str, value: SecretStr) -> None:
    target: Any = config
    parts = key.split(".")
    for part in parts[:-1]:
        if part.endswith("]"):
            name, index = part[:-1].split("[")
            target = getattr(target, name)[int(index)]
        else:
            target = getattr(target, part)
    setattr(target, parts[-1], value)


def secret_locations(name: str, secrets_dir: Path | None) -> list[str]:
    places = [f"environment variable {name}"]
    if os.environ.get("CREDENTIALS_DIRECTORY"):
        places.append(f"{os.environ['CREDENTIALS_DIRECTORY']}/{name}")
    if secrets_dir:
        places.append(str(secrets_dir / name))
    return places


def resolve_secret(name: str, secrets_dir: Path | None) -> str | None:
    value = os.environ.get(name)
    if value:
        return value.strip()
    for directory in (os.environ.get("CREDENTIALS_DIRECTORY"), secrets_dir):
        if not directory:
            continue
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8").strip()
    return None


def looks_like_a_name(name: str) -> bool:
    """Whether a secret reference's NAME reads as a name (``X_BEARER_TOKEN``, ``slack-bot.token``) rather than
    a pasted token (long, or upper and lower case mixed with digits and no word breaks): only a name is
    ever shown in an error."""
    if len(name) > 64:
        return False
    words = [w for w in name.replace("-", "_").replace(".", "_").split("_") if w]
    return all(w.isupper() or w.islower() or w.isdigit() for w in words) and all(len(w) <= 24 for w in words)


def _resolve_secrets(config: Config, file: Path | None) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in secret_fields(config):
        if not value.startswith(SECRET_PREFIX):
            log.warning(
                "a secret is written inline in %s at %s; move it to an environment variable or a systemd "
                'credential and write "secret:NAME" instead',
                file or "the config",
                key,
            )
            continue
        name = value[len(SECRET_PREFIX) :].strip()
        if not name or not all(c.isalnum() or c in "_-." for c in name):
            # Never echoed: what follows "secret:" may be the secret itself, pasted in by mistake.
            problems.append(
                Problem(
                    key,
                    f"is not a valid secret reference (the text after secret: has {len(name)} characters, "
                    "not shown: it may be the secret itself)",
                    'write "secret:NAME" where NAME is letters, digits, _ - or . and names an environment '
                    "variable or a credential file; never the secret itself",
                )
            )
            continue
        resolved = resolve_secret(name, config.daemon.secrets_dir)
        if resolved is None:
            if not looks_like_a_name(name):
                problems.append(
                    Problem(
                        key,
                        f"no secret found under the name after secret: ({len(name)} characters, not shown: it "
                        "looks like a token, not the name of one)",
                        'write "secret:NAME" with the NAME of an environment variable or a systemd credential '
                        "(e.g. secret:X_BEARER_TOKEN) and put the value there",
                    )
                )
                continue
            problems.append(
                Problem(
                    key,
                    f"secret {name} not found "
                    f"(looked in {', '.join(secret_locations(name, config.daemon.secrets_dir))})",
                    f"export {name}=..., or add LoadCredential={name}:/path/to/file to the systemd unit",
                )
            )
            continue
        _set_by_key(config, key, SecretStr(resolved))
    return problems


_TYPE_HINTS = {
    "int_parsing": "write a whole number without quotes, e.g. 60",
    "int_type": "write a whole number without quotes, e.g. 60",
    "float_parsing": "write a number without quotes, e.g. 60 or 0.5",
    "float_type": "write a number without quotes, e.g. 60 or 0.5",
    "bool_parsing": "write true or false without quotes",
    "bool_type": "write true or false without quotes",
    "string_type": 'write a quoted string, e.g. "value"',
    "list_type": 'write a list, e.g. ["a", "b"]',
    "dict_type": "write a table, e.g. [section] followed by key = value lines",
    "model_type": "write a table, e.g. [section] followed by key = value lines",
    "literal_error": "use one of the values listed",
    "string_pattern_mismatch": "see the allowed characters in config/socialwatch.example.toml",
    "finite_number": "write a finite number, e.g. 60 (inf and nan are not durations)",
    "less_than_equal": "write a smaller number (the bound is named above)",
}


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _explain(err: Any) -> Problem:
    loc = tuple(err.get("loc", ()))
    key = _dotted(loc)
    kind = err.get("type", "")
    message = err.get("msg", "invalid")
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        candidates = _known_keys(loc[:-1])
        close = difflib.get_close_matches(name, candidates, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "remove it"
        if candidates:
            fix += f" Valid keys here: {', '.join(sorted(candidates))}"
        return Problem(key, f"unknown key '{name}'", fix)
    if kind == "missing":
        return Problem(key, "required key is missing", f"add `{loc[-1]} = ...` (see config/socialwatch.example.toml)")
    shown = err.get("input")
    hidden = _is_secret(loc) or (isinstance(shown, str) and shown.strip().startswith(SECRET_PREFIX))
    if shown is not None and not isinstance(shown, (dict, list)) and not hidden:  # a secret is never echoed
        message = f"{message} (got {shown!r})"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return Problem(key, message, _TYPE_HINTS.get(kind, "see config/socialwatch.example.toml for the expected form"))


def _is_secret(loc: tuple[Any, ...]) -> bool:
    """Whether ``loc`` names a secret field (its value must not appear in an error)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        if "SecretStr" in str(field.annotation):
            return True
        model = _model_in(field.annotation)
        if model is None:
            return False
    return False


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at ``loc`` (for 'did you mean')."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        model = _model_in(annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
