"""Reading an X API request's parameters as X does: unknown names, values out of range and
malformed ids, times or pagination tokens are refused with X's ``invalid-request`` problem.

Pagination tokens are opaque (at least 16 characters, as X's are) and decode to the id a
page stops at.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.timefmt import parse_when
from socialwatch.sandbox.x.model import ID_RE
from socialwatch.sandbox.x.problems import PROBLEM_INVALID, XApiError, invalid_request, problem


def token_for(value: int) -> str:
    # Opaque, >= 16 characters (X's base32 tokens have minLength 16), decodable to a position.
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return "7" + out.rjust(15, "0")


def token_position(token: str, parameter: str) -> int:
    try:
        if len(token) < 16 or not token.startswith("7"):
            raise ValueError
        return int(token[1:], 36)
    except ValueError:
        raise invalid_request(
            f"The `{parameter}` query parameter value [{token}] is not a valid token", {parameter: [token]}
        ) from None


def check_known(req: Request, allowed: AbstractSet[str]) -> None:
    """Refuse any query parameter the endpoint does not define."""
    for name in req.query:
        if name not in allowed:
            raise invalid_request(
                f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]", {name: req.query[name]}
            )


def csv_param(req: Request, name: str, allowed: tuple[str, ...]) -> set[str]:
    """A comma-separated parameter (``tweet.fields=...``), each value one of ``allowed``."""
    raw = req.arg(name)
    if raw is None:
        return set()
    values = [value.strip() for value in raw.split(",") if value.strip()]
    for value in values:
        if value not in allowed:
            raise invalid_request(
                f"The `{name}` query parameter value [{value}] is not one of [{','.join(allowed)}]", {name: [raw]}
            )
    return set(values)


def int_param(req: Request, name: str, low: int, high: int, default: int) -> int:
    raw = req.arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            f"The `{name}` query parameter value [{raw}] is not a valid integer", {name: [raw]}
        ) from None
    if not low <= value <= high:
        raise invalid_request(
            f"The `{name}` query parameter value [{raw}] is not between {low} and {high}", {name: [raw]}
        )
    return value


def id_param(req: Request, name: str) -> int | None:
    raw = req.arg(name)
    if raw is None:
        return None
    if not ID_RE.match(raw):
        raise invalid_request(
            f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$", {name: [raw]}
        )
    return int(raw)


def time_param(req: Request, name: str) -> float | None:
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        return parse_when(raw)
    except ValueError:
        raise invalid_request(
            f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 date-time", {name: [raw]}
        ) from None


def json_body(req: Request) -> dict[str, Any]:
    """A POST's JSON object body."""
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        raise XApiError(
            Response.json(
                problem(400, "Invalid Request", "Request body is not valid JSON.", PROBLEM_INVALID), status=400
            )
        ) from None
    if not isinstance(body, dict):
        raise XApiError(
            Response.json(
                problem(400, "Invalid Request", "Request body must be a JSON object.", PROBLEM_INVALID), status=400
            )
        )
    return body
