"""What the emulators' control APIs share: reading a time, and refusing a bad request.

Times arrive as unix seconds (a number or a numeric string) or ISO 8601, with ``Z``, an
offset such as ``+01:00``, or Graph's own ``+0000``; a time without a zone is UTC. The X
and Graph APIs read their ``start_time`` / ``since`` parameters with the same parser, and
turn its ValueError into their own error bodies.

A ``ControlError`` is the answer to a control-API request the sandbox cannot honour: the
HTTP status (400 unless said otherwise) with ``{"error": message}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from socialwatch.sandbox.http import Response

_UNIX_SECONDS = re.compile(r"-?\d+(\.\d+)?")


def parse_when(value: Any) -> float | None:
    """Unix seconds, or ISO 8601 / Graph's +0000 form -> unix seconds; None for None or "".

    Raises ValueError for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if _UNIX_SECONDS.fullmatch(text):
        return float(text)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class ControlError(ValueError):
    """A control-API request the sandbox refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def response(self) -> Response:
        return Response.json({"error": self.message}, status=self.status)


def control_time(value: Any, key: str) -> float | None:
    """``parse_when`` for a control-API body's ``key``: a time it cannot read is a ControlError."""
    try:
        return parse_when(value)
    except ValueError:
        raise ControlError(f"{key} {value!r} is not ISO 8601 or unix time") from None
