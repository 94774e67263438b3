"""The X API's front door: routing, and the checks every request passes, in X's order.

Authentication (401), app-only auth on a user-context endpoint (403), the API tier (403
``client-forbidden``), the endpoint's budget (429 with ``x-rate-limit-*`` headers). Then
the user endpoints here, the tweet endpoints (``tweets.py``) and the DM endpoints
(``dms.py``). Injected faults get X-shaped bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.ids import transaction_id
from socialwatch.sandbox.ratelimit import Decision
from socialwatch.sandbox.x.auth import authenticate
from socialwatch.sandbox.x.dms import XDms
from socialwatch.sandbox.x.model import ID_RE, TIERS, TWEET_FIELDS, USER_EXPANSIONS, USER_FIELDS, WINDOW
from socialwatch.sandbox.x.params import check_known, csv_param
from socialwatch.sandbox.x.problems import (
    PROBLEM_UNSUPPORTED_AUTH,
    XApiError,
    client_forbidden,
    invalid_request,
    not_found,
    problem,
)
from socialwatch.sandbox.x.tweets import XTweets


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    key: str
    handler: str
    user_context: bool  # refused with app-only auth


def _route(method: str, template: str, handler: str, user_context: bool) -> _Route:
    regex = re.sub(r":(\w+)", r"(?P<\1>[^/]+)", template)
    return _Route(method, re.compile(f"^{regex}$"), f"{method} {template}", handler, user_context)


ROUTES = [
    _route("GET", "/2/users/me", "_users_me", True),
    _route("GET", "/2/users/by/username/:username", "_user_by_username", False),
    _route("GET", "/2/users/:id/mentions", "_mentions", False),
    _route("GET", "/2/users/:id/tweets", "_user_tweets", False),
    _route("GET", "/2/users/:id", "_user_by_id", False),
    _route("GET", "/2/tweets/search/recent", "_search_recent", False),
    _route("GET", "/2/tweets/:id", "_tweet_by_id", False),
    _route("GET", "/2/tweets", "_tweets_by_ids", False),
    _route("POST", "/2/tweets", "_create_tweet", True),
    _route("GET", "/2/dm_events", "_dm_events", True),
    _route("GET", "/2/dm_conversations/with/:participant_id/dm_events", "_dm_events_with", True),
    _route("GET", "/2/dm_conversations/:dm_conversation_id/dm_events", "_dm_events_conversation", True),
    _route("POST", "/2/dm_conversations/with/:participant_id/messages", "_create_dm", True),
]


class XApi(XTweets, XDms):
    """``handle``: routing, authentication, tiers and budgets, the user endpoints, injected faults."""

    def handle(self, req: Request) -> Response:
        for route in ROUTES:
            if route.method != req.method:
                continue
            match = route.pattern.match(req.path)
            if match:
                return self._dispatch(route, match.groupdict(), req)
        return self._finish(
            Response.json({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, status=404)
        )

    def _finish(self, response: Response, decision: Decision | None = None) -> Response:
        response.headers["x-transaction-id"] = transaction_id()
        response.headers["x-response-time"] = "12"
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    def _dispatch(self, route: _Route, args: dict[str, str], req: Request) -> Response:
        context = self._authenticate(req)
        if context is None:
            return self._finish(Response.json(problem(401, "Unauthorized", "Unauthorized"), status=401))
        if context == "app" and route.user_context:
            return self._finish(
                Response.json(
                    problem(
                        403,
                        "Unsupported Authentication",
                        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                        "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                        PROBLEM_UNSUPPORTED_AUTH,
                    ),
                    status=403,
                )
            )
        with self._lock:
            tier = self.tier
        if route.key in TIERS.get(tier, frozenset()):
            return self._finish(Response.json(client_forbidden(), status=403))
        decision = self.limits.take(route.key)
        if not decision.allowed:
            return self._finish(
                Response.json(problem(429, "Too Many Requests", "Too Many Requests"), status=429), decision
            )
        try:
            with self._lock:
                response = getattr(self, route.handler)(req, **args)
        except XApiError as exc:
            response = exc.response
        return self._finish(response, decision)

    def _authenticate(self, req: Request) -> str | None:
        """ "user", "app" or None (401): every credential fails while revoked."""
        with self._lock:
            if self.revoked:
                return None
        return authenticate(req, self.credentials)

    def _users_me(self, req: Request) -> Response:
        check_known(req, {"user.fields", "expansions", "tweet.fields"})
        fields = csv_param(req, "user.fields", USER_FIELDS)
        csv_param(req, "expansions", USER_EXPANSIONS)
        csv_param(req, "tweet.fields", TWEET_FIELDS)
        return Response.json({"data": self.brand.render(fields)})

    def _user_by_id(self, req: Request, id: str) -> Response:
        fields = csv_param(req, "user.fields", USER_FIELDS)
        if not ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$", {"id": [id]})
        user = self.users.get(id)
        if user is None:
            return Response.json({"errors": [not_found("user", "id", id)]})
        return Response.json({"data": user.render(fields)})

    def _user_by_username(self, req: Request, username: str) -> Response:
        fields = csv_param(req, "user.fields", USER_FIELDS)
        user = self.users_by_handle.get(username.lower())
        if user is None:
            return Response.json({"errors": [not_found("user", "username", username)]})
        return Response.json({"data": user.render(fields)})

    def _route_key(self, method: str, path: str) -> str | None:
        for route in ROUTES:
            if route.method == method and route.pattern.match(path):
                return route.key
        return None

    def fault_response(
        self,
        kind: str,
        *,
        seconds: float | None = None,
        method: str = "GET",
        path: str = "",
        options: dict[str, Any] | None = None,
    ) -> Response | None:
        """X-shaped responses for injected faults (timeouts and disconnects are the server's job)."""
        if kind == "429":
            key = self._route_key(method, path)
            limit = self.limits.peek(key).limit if key else 300
            if seconds is not None:
                reset = self._now() + seconds
            elif key:
                reset = self.limits.peek(key).reset_at
            else:
                reset = self._now() + WINDOW
            decision = Decision(False, limit, 0, reset)
            return self._finish(
                Response.json(problem(429, "Too Many Requests", "Too Many Requests"), status=429), decision
            )
        if kind == "401":
            return self._finish(Response.json(problem(401, "Unauthorized", "Unauthorized"), status=401))
        if kind == "403":
            return self._finish(Response.json(client_forbidden(), status=403))
        if kind == "500":
            return self._finish(
                Response.json(problem(500, "Internal Server Error", "Internal Server Error"), status=500)
            )
        if kind == "503":
            return self._finish(Response.json(problem(503, "Service Unavailable", "Service Unavailable"), status=503))
        if kind == "malformed":
            body = b'{"data":[{"id":"1580000000000000123","text":"@SandboxBrand this respo'
            return self._finish(Response(200, body, Response.json({}).headers))
        return None
