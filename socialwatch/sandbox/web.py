"""The sandbox's web view: one static page that polls the control API and drives it.

The page (``static/``) renders the emulated Slack channels from their Block Kit blocks,
with buttons that click through ``POST /_sandbox/slack/actions`` (the Socket Mode path),
and the brand's X and Facebook timelines. It reads everything from the JSON control
endpoints, so this module only serves files. A strict Content-Security-Policy backs up
the page's rule of never putting customer text into HTML.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from socialwatch.sandbox.http import Headers, Request, Response

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _file(name: str) -> Response:
    if not _SAFE_NAME.match(name):
        return Response.text("not found\n", 404)
    path = STATIC_DIR / name
    content_type = _TYPES.get(path.suffix)
    if content_type is None or not path.is_file():
        return Response.text("not found\n", 404)
    headers = Headers({"content-type": content_type, **_SECURITY_HEADERS})
    return Response(200, path.read_bytes(), headers)


def handle(req: Request, sandbox: Any = None) -> Response:
    """Serve ``/`` and ``/static/<file>``. ``sandbox`` is unused: the page reads state over HTTP."""
    if req.method.upper() not in ("GET", "HEAD"):
        return Response.text("method not allowed\n", 405)
    path = req.path
    if path in ("/", "/index.html"):
        return _file("index.html")
    if path.startswith("/static/"):
        return _file(path[len("/static/") :])
    if path == "/favicon.ico":
        return Response(204, b"", Headers({"cache-control": "max-age=86400"}))
    return Response.text("not found\n", 404)
