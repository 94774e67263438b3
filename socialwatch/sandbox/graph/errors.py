"""Graph's error envelope: ``GraphError`` and the errors every endpoint shares.

``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` with the HTTP
status Facebook uses; code 190 (a bad token) also sets ``WWW-Authenticate``.
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.http import Response
from socialwatch.sandbox.ids import fbtrace_id

RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}


class GraphError(Exception):
    """A Graph API error; ``response()`` renders Graph's error envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        type_: str = "OAuthException",
        subcode: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.type = type_
        self.subcode = subcode
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def response(self) -> Response:
        response = Response.json(self.body(), status=self.status)
        if self.code == 190:
            response.headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'
        return response


def no_such_object(object_id: str, method: str = "get") -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        type_="GraphMethodException",
        subcode=33,
    )


def no_such_field(name: str, node_type: str) -> GraphError:
    return GraphError(100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})")
