"""Who may call the Graph API: the page token (valid, expired or invalidated) and ``appsecret_proof``.

A token comes as ``access_token`` in the query or the body, or in an ``Authorization``
header (``Bearer`` or ``OAuth``). With an app secret configured, every call needs
``appsecret_proof`` = HMAC-SHA256(token, secret), as Graph does for "Require App Secret".
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from socialwatch.sandbox.graph.errors import GraphError
from socialwatch.sandbox.graph.state import GraphState
from socialwatch.sandbox.http import Request


def appsecret_proof(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def body_params(req: Request) -> dict[str, Any]:
    """A POST's arguments: a JSON object or a form ({} for a multipart upload, which the sandbox does not read)."""
    content_type = (req.headers.get("content-type") or "").lower()
    if "application/json" in content_type:
        try:
            body = req.json()
        except ValueError:
            raise GraphError(100, "(#100) The request body is not valid JSON") from None
        return body if isinstance(body, dict) else {}
    if "multipart/form-data" in content_type:
        return {}
    try:
        return req.form()
    except UnicodeDecodeError:
        return {}


def request_token(req: Request) -> str | None:
    """The access token, wherever the client put it."""
    token = req.arg("access_token")
    if token:
        return token
    if req.method != "GET":
        try:
            value = body_params(req).get("access_token")
        except GraphError:
            value = None
        if value:
            return str(value)
    header = req.headers.get("authorization") or ""
    for scheme in ("Bearer ", "OAuth "):
        if header.startswith(scheme):
            return header[len(scheme) :].strip()
    return None


class GraphAuth(GraphState):
    """The check every Graph API call passes first."""

    def _check_auth(self, req: Request) -> None:
        token = request_token(req)
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if not hmac.compare_digest(token, self.page_token):
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if self.token_state == "expired":
            expired_at = datetime.fromtimestamp(self._now() - 3600, UTC)
            now = datetime.fromtimestamp(self._now(), UTC)
            raise GraphError(
                190,
                "Error validating access token: Session has expired on "
                f"{expired_at.strftime('%A, %d-%b-%y %H:%M:%S')} UTC. The current time is "
                f"{now.strftime('%A, %d-%b-%y %H:%M:%S')} UTC.",
                subcode=463,
            )
        if self.token_state == "invalidated":
            raise GraphError(
                190,
                "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons.",
                subcode=460,
            )
        if self.app_secret:
            proof = req.arg("appsecret_proof") or (
                body_params(req).get("appsecret_proof") if req.method != "GET" else None
            )
            if not proof:
                raise GraphError(
                    100, "API calls from the server require an appsecret_proof argument", type_="GraphMethodException"
                )
            if not hmac.compare_digest(str(proof), appsecret_proof(token, self.app_secret)):
                raise GraphError(
                    100, "Invalid appsecret_proof provided in the API argument", type_="GraphMethodException"
                )
