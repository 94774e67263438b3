"""`socialwatch check`: ask every configured platform whether our credentials work, and what they allow.

One cheap call per account (X ``get_me``, Graph ``/me``, Slack ``auth.test``) plus one probe per
capability that a token may lack (X DMs, Messenger, Instagram's permissions, Socket Mode). Nothing is
posted. Each platform's questions live with its adapter (``sources.x.check``, ``sources.facebook.check``,
``sources.instagram.check``, ``alerts.slack.check``).
"""

from __future__ import annotations

from socialwatch.alerts import slack
from socialwatch.config.schema import Config
from socialwatch.models import AccountCheck
from socialwatch.sources import facebook, instagram, x


def check_all(config: Config) -> list[AccountCheck]:
    return x.check(config) + facebook.check(config) + instagram.check(config) + slack.check(config)


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
