"""The tiny request/response contract shared by the sandbox's emulators, and the ``Emulator`` protocol.

Each emulator (X, Graph, Slack) is a plain object that answers a ``Request`` with a
``Response`` (see ``Emulator``); ``server.py`` owns sockets, routing, fault injection and
the request log. Keeping the emulators free of socket code makes them easy to unit-test
and keeps one HTTP stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs


class Headers(dict[str, str]):
    """Case-insensitive header mapping (keys stored lower-case)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        pairs = items.items() if hasattr(items, "items") else items
        for key, value in pairs:
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def update(self, other: Any = (), **kwargs: str) -> None:  # type: ignore[override]
        pairs = other.items() if hasattr(other, "items") else other
        for key, value in [*pairs, *kwargs.items()]:
            self[key] = value


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON; ``None`` when empty. Raises ValueError when malformed."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (last value wins)."""
        if not self.body:
            return {}
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the query string (last value)."""
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self) -> dict[str, Any]:
        """Query, then form or JSON body merged: how Slack's Web API reads arguments."""
        merged: dict[str, Any] = {key: values[-1] for key, values in self.query.items()}
        content_type = (self.headers.get("content-type") or "").lower()
        if "application/json" in content_type:
            body = self.json()
            if isinstance(body, dict):
                merged.update(body)
        else:
            merged.update(self.form())
        return merged

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, if any."""
        value = self.headers.get("authorization") or ""
        if value.lower().startswith("bearer "):
            return value[7:].strip()
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: Headers = field(default_factory=Headers)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        merged = Headers({"content-type": "application/json; charset=utf-8"})
        merged.update(Headers(headers or {}))
        try:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (half an emoji) is legal JSON only escaped: send "\ud83d" as the platforms do.
            body = json.dumps(payload, ensure_ascii=True).encode("ascii")
        return cls(status, body, merged)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode("utf-8"), Headers({"content-type": content_type}))


class Emulator(Protocol):
    """One platform's emulator, as ``server.py`` drives it.

    ``target`` names the platform in fault rules and the request log (``x``, ``facebook``,
    ``slack``). API requests (``/2/...``, ``/vNN.N/...``, ``/api/...``) go to ``handle``,
    control requests (``/_sandbox/<target>/...``) to ``handle_control``.
    """

    target: str

    def handle(self, req: Request) -> Response:
        """Answer an API request in the platform's wire format."""

    def handle_control(self, req: Request) -> Response:
        """Answer a control-API request (seed content, read what was posted, change limits...)."""

    def fault_response(
        self,
        kind: str,
        *,
        seconds: float | None = None,
        method: str = "GET",
        path: str = "",
        options: dict[str, Any] | None = None,
    ) -> Response | None:
        """The platform's own answer for an injected fault (``429``, ``500``, ``malformed``...); None lets
        the server answer generically. Timeouts and disconnects never get here."""

    def info(self) -> dict[str, Any]:
        """The base URL, fake credentials and ids a client needs (part of ``GET /_sandbox/info``)."""

    def reset(self) -> None:
        """All state back to the start; credentials stay."""

    def start(self) -> None:
        """Start whatever runs beside the HTTP port (Slack's Socket Mode server)."""

    def stop(self) -> None:
        """Stop what ``start`` started."""
