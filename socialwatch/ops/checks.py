"""`socialwatch check`: ask every configured platform whether our credentials work, and what they allow.

One cheap call per account (X ``get_me``, Graph ``/me``, Slack ``auth.test``) plus one probe per
capability that a token may lack (X DMs, Messenger, Socket Mode). Nothing is posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socialwatch.config.schema import Config
from socialwatch.sources.base import CapabilityLost, SourceError


@dataclass
class AccountCheck:
    platform: str
    account: str
    ok: bool
    detail: str
    capabilities: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _probe(call: Callable[[], Any]) -> tuple[bool, str | None]:
    try:
        call()
    except CapabilityLost as exc:
        return False, str(exc)
    except SourceError as exc:
        return False, str(exc)
    return True, None


def check_x(config: Config) -> list[AccountCheck]:
    from socialwatch.sources.x import DM_FIELDS, XAccountClient

    rows = []
    for account in config.x.accounts:
        client = XAccountClient(account, config.x.api_base, config.daemon.http_timeout)
        try:
            user_id, handle = client.me(refresh=True)  # a real call, even when the id is configured
        except SourceError as exc:
            rows.append(AccountCheck("x", account.name, False, str(exc)))
            continue
        row = AccountCheck("x", account.name, True, f"@{handle} (id {user_id})", ["mentions"])
        if account.dms:
            ok, why = _probe(lambda: client.call(lambda: client.client.get_direct_message_events(
                dm_event_fields=DM_FIELDS, max_results=1, user_auth=client.user_auth), "GET /2/dm_events"))
            (row.capabilities if ok else row.missing).append("dms" if ok else f"dms: {why}")
        row.capabilities.append("replies")
        rows.append(row)
    return rows


def check_facebook(config: Config) -> list[AccountCheck]:
    from socialwatch.sources.facebook import PageClient

    rows = []
    for page in config.facebook.pages:
        client = PageClient(page, config.facebook.graph_base, config.facebook.graph_version, config.daemon.http_timeout)
        try:
            me = client.get("me", {"fields": "id,name"}, "GET /me")
        except SourceError as exc:
            rows.append(AccountCheck("facebook", page.name, False, str(exc)))
            continue
        detail = f"{me.get('name', '?')} (id {me.get('id', '?')})"
        if str(me.get("id")) != page.page_id:
            rows.append(AccountCheck("facebook", page.name, False,
                                     f"the token belongs to {detail}, not to page_id {page.page_id}"))
            continue
        row = AccountCheck("facebook", page.name, True, detail, [
            name for name, wanted in (("posts", page.posts), ("tagged", page.tagged), ("comments", page.comments))
            if wanted] + ["comment replies"])
        if page.messenger:
            ok, why = _probe(lambda: client.get(f"{page.page_id}/conversations", {"platform": "messenger", "limit": 1},
                                                "GET /{page}/conversations"))
            (row.capabilities if ok else row.missing).append("messenger" if ok else f"messenger: {why}")
        rows.append(row)
    return rows


def check_slack(config: Config) -> list[AccountCheck]:
    if config.slack is None:
        return []
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    slack = config.slack
    client = WebClient(token=slack.bot_token.get_secret_value(), base_url=slack.api_base,
                       timeout=int(config.daemon.http_timeout))
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        return [AccountCheck("slack", slack.channel, False, f"auth.test: {exc.response.get('error')}")]
    except Exception as exc:  # connection problems: the answer the user asked for
        return [AccountCheck("slack", slack.channel, False, f"auth.test: {type(exc).__name__}: {exc}")]
    row = AccountCheck("slack", slack.channel, True, f"{auth.get('user')} in {auth.get('team')}", ["alerts"])
    if slack.app_token is None:
        row.missing.append("buttons: no app_token, so Socket Mode cannot receive clicks")
    else:
        app = WebClient(token=slack.app_token.get_secret_value(), base_url=slack.api_base,
                        timeout=int(config.daemon.http_timeout))
        try:
            app.apps_connections_open(app_token=slack.app_token.get_secret_value())
            row.capabilities.append("buttons" if not slack.alerts_only else "alerts only (configured)")
        except SlackApiError as exc:
            row.missing.append(f"buttons: apps.connections.open: {exc.response.get('error')}")
    return [row]


def check_all(config: Config) -> list[AccountCheck]:
    return check_x(config) + check_facebook(config) + check_slack(config)


def render(rows: list[AccountCheck]) -> str:
    if not rows:
        return "no accounts configured"
    lines = [f"{'platform':<9} {'account':<20} {'credentials':<12} details"]
    for row in rows:
        lines.append(f"{row.platform:<9} {row.account[:20]:<20} {'OK' if row.ok else 'FAILED':<12} {row.detail}")
        if row.capabilities:
            lines.append(f"{'':<43} can: {', '.join(row.capabilities)}")
        for missing in row.missing:
            lines.append(f"{'':<43} cannot: {missing}")
    return "\n".join(lines)
