"""Write a socialwatch config that points every source and Slack at a running sandbox.

The fake credentials go into files (mode 0600) in a secrets directory next to the
config and are referenced as ``"secret:NAME"``, exactly as production secrets are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SECRETS_DIR_NAME = "socialwatch-credentials"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def _write_secret(directory: Path, name: str, value: str) -> None:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def render_config(info: dict[str, Any], *, poll_interval: float = 3) -> tuple[str, dict[str, str]]:
    """(TOML text, {secret name: value}) for the sandbox described by ``info``."""
    base = info["base_url"]
    x, fb, slack = info["x"], info["facebook"], info.get("slack")
    secrets: dict[str, str] = {
        "SANDBOX_X_BEARER_TOKEN": x["bearer_token"],
        "SANDBOX_X_CONSUMER_KEY": x["consumer_key"],
        "SANDBOX_X_CONSUMER_SECRET": x["consumer_secret"],
        "SANDBOX_X_ACCESS_TOKEN": x["access_token"],
        "SANDBOX_X_ACCESS_TOKEN_SECRET": x["access_token_secret"],
        "SANDBOX_FACEBOOK_PAGE_TOKEN": fb["page_token"],
    }
    if fb.get("app_secret"):
        secrets["SANDBOX_FACEBOOK_APP_SECRET"] = fb["app_secret"]
    lines = [
        "# Written by `socialwatch sandbox --write-config`: every source and Slack point at the sandbox",
        f"# at {base}. The credentials are the sandbox's fake ones; they work nowhere else.",
        "",
        "[daemon]",
        f"database = {_toml('socialwatch.db')}",
        f"poll_interval = {_toml(poll_interval)}",
        f"jitter = {_toml(0.5)}",
        f"http_timeout = {_toml(5.0)}",
        f"secrets_dir = {_toml(SECRETS_DIR_NAME)}",
        "",
        "[suggestions]",
        f"brand_name = {_toml(x.get('name') or 'Sandbox Brand')}",
        "",
        "[x]",
        f"api_base = {_toml(x.get('api_base') or base)}",
        "",
        "[[x.accounts]]",
        f"name = {_toml('sandbox')}",
        f"bearer_token = {_toml('secret:SANDBOX_X_BEARER_TOKEN')}",
        f"consumer_key = {_toml('secret:SANDBOX_X_CONSUMER_KEY')}",
        f"consumer_secret = {_toml('secret:SANDBOX_X_CONSUMER_SECRET')}",
        f"access_token = {_toml('secret:SANDBOX_X_ACCESS_TOKEN')}",
        f"access_token_secret = {_toml('secret:SANDBOX_X_ACCESS_TOKEN_SECRET')}",
        f"user_id = {_toml(x['user_id'])}",
        f"handle = {_toml(x['handle'])}",
        "",
        "[facebook]",
        f"graph_base = {_toml(fb.get('graph_base') or base)}",
        f"graph_version = {_toml(fb['graph_version'])}",
        "",
        "[[facebook.pages]]",
        f"name = {_toml('sandbox')}",
        f"page_id = {_toml(fb['page_id'])}",
        f"page_token = {_toml('secret:SANDBOX_FACEBOOK_PAGE_TOKEN')}",
    ]
    if fb.get("app_secret"):
        lines.append(f"app_secret = {_toml('secret:SANDBOX_FACEBOOK_APP_SECRET')}")
    ig = info.get("instagram")
    if ig:
        # The professional account linked to the sandbox page, read with the page's token.
        lines += [
            "",
            "[[instagram.accounts]]",
            f"name = {_toml('sandbox')}",
            f"ig_user_id = {_toml(ig['ig_user_id'])}",
            f"page_id = {_toml(ig['page_id'])}",
            f"page_token = {_toml('secret:SANDBOX_FACEBOOK_PAGE_TOKEN')}",
            f"username = {_toml(ig['username'])}",
        ]
        if fb.get("app_secret"):
            lines.append(f"app_secret = {_toml('secret:SANDBOX_FACEBOOK_APP_SECRET')}")
    if slack:
        secrets["SANDBOX_SLACK_BOT_TOKEN"] = slack["bot_token"]
        lines += [
            "",
            "[slack]",
            f"api_base = {_toml(base + '/api/')}",
            f"bot_token = {_toml('secret:SANDBOX_SLACK_BOT_TOKEN')}",
            f"channel = {_toml(slack['channel'])}",
        ]
        if slack.get("app_token"):
            secrets["SANDBOX_SLACK_APP_TOKEN"] = slack["app_token"]
            lines.append(f"app_token = {_toml('secret:SANDBOX_SLACK_APP_TOKEN')}")
        if slack.get("ops_channel"):
            lines.append(f"ops_channel = {_toml(slack['ops_channel'])}")
        approver = slack.get("approver") or {}
        if approver.get("id"):
            lines.append(f"approvers = {_toml([approver['id']])}")
    return "\n".join(lines) + "\n", secrets


def write_config(info: dict[str, Any], path: str | Path, *, poll_interval: float = 3) -> Path:
    """Write the config at ``path`` and its secrets beside it; returns the config path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text, secrets = render_config(info, poll_interval=poll_interval)
    secrets_dir = path.parent / SECRETS_DIR_NAME
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    for name, value in secrets.items():
        _write_secret(secrets_dir, name, value)
    path.write_text(text, encoding="utf-8")
    return path
