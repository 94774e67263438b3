"""The sandbox control API over HTTP, for the tests that drive the emulators (waiting lives in builders)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from socialwatch.sandbox import Sandbox


def control(sandbox: Sandbox, path: str, body: Any = None, method: str | None = None) -> tuple[int, Any]:
    """(status, JSON answer) of a control-API request; POST when there is a body, else GET."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        sandbox.url + path,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
