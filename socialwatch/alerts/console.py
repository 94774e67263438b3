"""The console channel: alerts printed for a person watching a terminal (the demo, or no Slack configured).

Customer text is masked (card numbers, e-mail addresses) and flattened, so it can neither leak personal
data into a terminal's scrollback nor drive the terminal with escape sequences.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from socialwatch.alerts import wording
from socialwatch.alerts.outbox import Delivered
from socialwatch.scoring import pii


class ConsoleChannel:
    """Prints alerts for a person watching a terminal (demo, or no Slack configured)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def deliver(self, alert: dict[str, Any]) -> Delivered:
        suggestions = json.loads(alert.get("suggestions") or "[]")
        reasons = wording.why(alert)  # a manager's words; the scores are in the item row and the audit
        anonymous = wording.anonymous(alert)
        author = terminal_line(
            "someone unnamed" if anonymous else alert.get("author_name") or alert.get("author_handle") or "?", 80
        )
        said = " ".join(part for part in (pii.mask(alert["text"] or ""), wording.attachments_text(alert)) if part)
        lines = [
            f"[{alert['priority'].upper()}] {alert['platform']} {alert['kind']} from {author}"
            f" ({', '.join(wording.facts(alert))})",
            f"    {terminal_line(said)}",
        ]
        if reasons:
            lines.append(f"    why: {'; '.join(terminal_line(r) for r in reasons)}")
        if alert.get("sla_due_at"):
            lines.append(f"    reply due by {alert['sla_due_at']}")
        for index, suggestion in enumerate(suggestions, 1):
            lines.append(f"    {index}. [{suggestion['kind']}] {suggestion['text']}")
        print("\n".join(lines), file=self.stream, flush=True)
        return Delivered(channel="console")


def terminal_line(text: str, limit: int = 300) -> str:
    # Customer text must not drive the terminal: drop control characters (ANSI escapes start with ESC).
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
