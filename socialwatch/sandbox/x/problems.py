"""X's error bodies: RFC 7807 problems, and ``XApiError``, which carries a finished one out of a handler."""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.http import Response

PROBLEM_INVALID = "https://api.twitter.com/2/problems/invalid-request"
PROBLEM_FORBIDDEN_CLIENT = "https://api.twitter.com/2/problems/client-forbidden"
PROBLEM_UNSUPPORTED_AUTH = "https://api.twitter.com/2/problems/unsupported-authentication"
PROBLEM_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


class XApiError(Exception):
    """Raised inside handlers; carries the finished error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "detail": detail, "type": type_, "status": status}
    body.update(extra)
    return body


def invalid_request(message: str, parameters: dict[str, list[str]]) -> XApiError:
    return XApiError(
        Response.json(
            {
                "errors": [{"parameters": parameters, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": PROBLEM_INVALID,
            },
            status=400,
        )
    )


def client_forbidden() -> dict[str, Any]:
    """The 403 of an endpoint the app's access level does not include."""
    return {
        "client_id": "28000001",
        "detail": "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
        "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
        "different access level. You can learn more here: https://developer.x.com/en/portal/product",
        "registration_url": "https://developer.x.com/en/portal/product",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": PROBLEM_FORBIDDEN_CLIENT,
    }


def not_found(resource: str, parameter: str, value: str) -> dict[str, Any]:
    """X's "Not Found Error" for a user or tweet that does not exist (an entry of a 200 answer's ``errors``)."""
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEM_NOT_FOUND,
    }
