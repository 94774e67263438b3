"""The console channel: alerts printed for a person watching a terminal (the demo, or no Slack configured).

Customer text is masked (card numbers, e-mail addresses) and flattened, so it can neither leak personal
data into a terminal's scrollback nor drive the terminal with escape sequences.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from socialwatch.alerts.outbox import Delivered
from socialwatch.scoring import pii


class ConsoleChannel:
    """Prints alerts for a person watching a terminal (demo, or no Slack configured)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def deliver(self, alert: dict[str, Any]) -> Delivered:
        suggestions = json.loads(alert.get("suggestions") or "[]")
        reasons = json.loads(alert.get("reasons") or "[]")
        author = terminal_line(
            alert.get("author_name") or alert.get("author_handle") or alert.get("author_id") or "?", 80
        )
        lines = [
            f"[{alert['priority'].upper()}] {alert['platform']} {alert['kind']} from {author}"
            f" ({alert['label']}, {alert['compound']:+.2f}, {alert['category']})",
            f"    {terminal_line(pii.mask(alert['text']))}",
        ]
        if reasons:
            lines.append(f"    why: {'; '.join(reasons)}")
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
