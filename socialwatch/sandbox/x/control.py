"""The X emulator's control API (``/_sandbox/x/...``) and its Python twin.

Seed mentions (one, many, or a generated bulk), tweets and DMs; read what the brand
posted and the whole timeline as the web view shows it; change the API tier, the
endpoints' budgets, revoke the credentials or let duplicate tweets through.
"""

from __future__ import annotations

from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.timefmt import ControlError
from socialwatch.sandbox.x.model import DM_EVENT_FIELDS, TIERS, TWEET_FIELDS, XTweet
from socialwatch.sandbox.x.state import XState


class XControl(XState):
    """``handle_control`` and the methods ``Sandbox`` calls directly."""

    def timeline(self) -> dict[str, Any]:
        """Everything, for the web view and scripts (``GET /_sandbox/x/timeline``)."""
        with self._lock:
            all_fields = set(TWEET_FIELDS)
            user_fields = {"public_metrics", "verified", "description", "created_at"}
            replies: dict[str, list[str]] = {}
            for tweet in self.tweets.values():
                if tweet.author_id == self.brand.id and tweet.in_reply_to_tweet_id:
                    replies.setdefault(tweet.in_reply_to_tweet_id, []).append(tweet.id)

            def tweet_json(tweet: XTweet) -> dict[str, Any]:
                data = tweet.render(all_fields, self.users_by_handle)
                data["author"] = self.users[tweet.author_id].render(user_fields)
                data["replies"] = replies.get(tweet.id, [])
                return data

            mentions = self.mentions_of(self.brand.id)
            tweets = sorted(self.tweets.values(), key=lambda t: int(t.id), reverse=True)
            dms = sorted(self.dm_events.values(), key=lambda e: int(e.id), reverse=True)
            return {
                "brand": self.brand.render(user_fields),
                "mentions": [tweet_json(tweet) for tweet in mentions],
                "tweets": [tweet_json(tweet) for tweet in tweets],
                "dms": [
                    {
                        **event.render(set(DM_EVENT_FIELDS)),
                        "sender": self.users[event.sender_id].render(user_fields),
                        "recipient": self.users[event.recipient_id].render(user_fields),
                        "from_brand": event.sender_id == self.brand.id,
                    }
                    for event in dms
                ],
                "posted": list(reversed(self.posted)),
                "tier": self.tier,
                "rate_limits": self.limits.snapshot(),
            }

    def posted_items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self.posted]

    def set_revoked(self, revoked: bool) -> None:
        """Every X credential fails with 401 while revoked."""
        with self._lock:
            self.revoked = revoked

    def set_search_lag(self, seconds: float) -> None:
        """Recent search finds a tweet only ``seconds`` after it was posted (X's index lags the timeline)."""
        with self._lock:
            self.search_lag = float(seconds)

    def set_tier(self, tier: str) -> None:
        if tier not in TIERS:
            raise ControlError(f"tier must be one of {sorted(TIERS)}")
        with self._lock:
            self.tier = tier

    def set_rate_limit(self, endpoint: str, limit: int | None = None, window: float | None = None) -> None:
        """Change one budget (``endpoint`` as in X's docs, e.g. ``GET /2/users/:id/mentions``) or ``*`` for all."""
        keys = self.limits.keys() if endpoint in ("*", "all") else [endpoint]
        for key in keys:
            try:
                self.limits.configure(key, limit=limit, window=window)
            except KeyError:
                raise ControlError(f"unknown endpoint {endpoint!r}; known: {sorted(self.limits.keys())}") from None
            except ValueError as exc:
                raise ControlError(str(exc)) from None

    def handle_control(self, req: Request) -> Response:
        """``/_sandbox/x/...``"""
        sub = req.path[len("/_sandbox/x") :].rstrip("/") or "/"
        try:
            body = req.json() if req.body else None
        except ValueError:
            return Response.json({"error": "body is not valid JSON"}, status=400)
        try:
            return self._control(req.method, sub, body, req)
        except ControlError as exc:
            return exc.response()

    def _control(self, method: str, sub: str, body: Any, req: Request) -> Response:
        if (method, sub) == ("POST", "/mentions"):
            if isinstance(body, list):
                tweets = self.add_mentions(body)
                return Response.json({"ids": [tweet.id for tweet in tweets]}, status=201)
            tweet = self.add_mention(body or {})
            return Response.json(
                {"id": tweet.id, "author_id": tweet.author_id, "conversation_id": tweet.conversation_id}, status=201
            )
        if (method, sub) == ("POST", "/mentions/bulk"):
            body = body or {}
            count = int(body.get("count", 0))
            if not 1 <= count <= 10_000:
                raise ControlError("count must be between 1 and 10000")
            text = str(body.get("text") or "sandbox mention {i}")
            author = body.get("author")
            specs = [
                {
                    "text": text.replace("{i}", str(i)),
                    "author": author if author else {"handle": f"bulk{i % 50}", "name": f"Bulk User {i % 50}"},
                }
                for i in range(count)
            ]
            tweets = self.add_mentions(specs)
            return Response.json({"ids": [tweet.id for tweet in tweets]}, status=201)
        if (method, sub) == ("POST", "/tweets"):
            tweet = self.add_tweet(body or {})
            return Response.json(
                {"id": tweet.id, "author_id": tweet.author_id, "conversation_id": tweet.conversation_id}, status=201
            )
        if (method, sub) == ("POST", "/dms"):
            event = self.add_dm(body or {})
            return Response.json(
                {"id": event.id, "sender_id": event.sender_id, "dm_conversation_id": event.dm_conversation_id},
                status=201,
            )
        if (method, sub) == ("GET", "/posted"):
            return Response.json(self.posted_items())
        if (method, sub) == ("GET", "/timeline"):
            return Response.json(self.timeline())
        if (method, sub) == ("GET", "/tier"):
            return Response.json({"tier": self.tier, "tiers": sorted(TIERS)})
        if (method, sub) == ("POST", "/tier"):
            self.set_tier(str((body or {}).get("tier")))
            return Response.json({"tier": self.tier})
        if (method, sub) == ("GET", "/ratelimits"):
            return Response.json(self.limits.snapshot())
        if (method, sub) == ("POST", "/ratelimits"):
            entries = body if isinstance(body, list) else [body or {}]
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("endpoint"):
                    raise ControlError('each entry needs "endpoint" (e.g. "GET /2/users/:id/mentions" or "*")')
                self.set_rate_limit(str(entry["endpoint"]), entry.get("limit"), entry.get("window"))
            return Response.json(self.limits.snapshot())
        if (method, sub) == ("POST", "/token"):
            self.set_revoked(bool((body or {}).get("revoked", True)))
            return Response.json({"revoked": self.revoked})
        if (method, sub) == ("POST", "/settings"):
            body = body or {}
            with self._lock:
                if "duplicate_check" in body:
                    self.duplicate_check = bool(body["duplicate_check"])
                if "search_lag" in body:
                    lag = body["search_lag"]
                    if not isinstance(lag, (int, float)) or isinstance(lag, bool) or not 0 <= lag <= 86400:
                        raise ControlError('"search_lag" must be seconds between 0 and 86400')
                    self.search_lag = float(lag)
            return Response.json({"duplicate_check": self.duplicate_check, "search_lag": self.search_lag})
        return Response.json({"error": f"no control endpoint {method} /_sandbox/x{sub}"}, status=404)
