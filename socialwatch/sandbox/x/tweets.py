"""The X API's tweet endpoints: the mentions timeline, recent search, lookups by id, and posting.

Timelines are newest first and paged by ``since_id``/``until_id``, ``start_time``/
``end_time`` and opaque tokens; the mentions timeline reaches the newest 800, search the
last 7 days. ``expansions`` bring the authors, mentioned users and replied-to tweets into
``includes``. A reply by the brand gets the ``@mention`` X adds in front of it (outside
``display_text_range``), and a duplicate of the brand's own text is refused.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from socialwatch.sandbox.http import Request, Response
from socialwatch.sandbox.x.model import (
    ID_RE,
    MAX_TWEET_LENGTH,
    MEDIA_FIELDS,
    MENTIONS_REACHABLE,
    PLACE_FIELDS,
    POLL_FIELDS,
    SEARCH_RECENT_DAYS,
    TWEET_EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    XTweet,
    iso,
)
from socialwatch.sandbox.x.params import (
    check_known,
    csv_param,
    id_param,
    int_param,
    json_body,
    time_param,
    token_for,
    token_position,
)
from socialwatch.sandbox.x.problems import PROBLEM_INVALID, XApiError, invalid_request, not_found, problem
from socialwatch.sandbox.x.search import compile_query
from socialwatch.sandbox.x.state import XState

log = logging.getLogger(__name__)


#: The query parameters X's user timelines (mentions, a user's tweets) accept.
TIMELINE_PARAMS = frozenset(
    {
        "since_id",
        "until_id",
        "max_results",
        "pagination_token",
        "start_time",
        "end_time",
        "tweet.fields",
        "expansions",
        "media.fields",
        "poll.fields",
        "user.fields",
        "place.fields",
    }
)


class XTweets(XState):
    """Reading and posting tweets."""

    def _tweet_includes(self, tweets: list[XTweet], req: Request) -> tuple[set[str], dict[str, Any]]:
        tweet_fields = csv_param(req, "tweet.fields", TWEET_FIELDS)
        user_fields = csv_param(req, "user.fields", USER_FIELDS)
        expansions = csv_param(req, "expansions", TWEET_EXPANSIONS)
        csv_param(req, "media.fields", MEDIA_FIELDS)
        csv_param(req, "poll.fields", POLL_FIELDS)
        csv_param(req, "place.fields", PLACE_FIELDS)
        includes: dict[str, Any] = {}
        user_ids: list[str] = []
        ref_tweets: list[XTweet] = []
        for tweet in tweets:
            if "author_id" in expansions:
                user_ids.append(tweet.author_id)
            if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
                user_ids.append(tweet.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                user_ids.extend(sorted(tweet.mentioned_user_ids))
            if (
                tweet.in_reply_to_tweet_id
                and tweet.in_reply_to_tweet_id in self.tweets
                and ("referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions)
            ):
                parent = self.tweets[tweet.in_reply_to_tweet_id]
                if "referenced_tweets.id" in expansions:
                    ref_tweets.append(parent)
                if "referenced_tweets.id.author_id" in expansions:
                    user_ids.append(parent.author_id)
        users = [self.users[uid] for uid in dict.fromkeys(user_ids) if uid in self.users]
        if users:
            includes["users"] = [user.render(user_fields) for user in users]
        if ref_tweets:
            unique = {tweet.id: tweet for tweet in ref_tweets}
            includes["tweets"] = [tweet.render(tweet_fields, self.users_by_handle) for tweet in unique.values()]
        return tweet_fields, includes

    def _tweet_page(
        self,
        req: Request,
        candidates: list[XTweet],
        *,
        max_low: int,
        max_high: int,
        max_default: int,
        token_params: tuple[str, ...],
    ) -> Response:
        """Filter, paginate (newest first) and render a tweet timeline."""
        max_results = int_param(req, "max_results", max_low, max_high, max_default)
        since_id = id_param(req, "since_id")
        until_id = id_param(req, "until_id")
        start = time_param(req, "start_time")
        end = time_param(req, "end_time")
        token = None
        for name in token_params:
            if req.arg(name):
                token = token_position(req.arg(name) or "", name)
        selected = []
        for tweet in candidates:
            number = int(tweet.id)
            if since_id is not None and number <= since_id:
                continue
            if until_id is not None and number >= until_id:
                continue
            # since_id/until_id take precedence over the time bounds, as documented by X.
            if since_id is None and start is not None and tweet.created_at < start:
                continue
            if until_id is None and end is not None and tweet.created_at >= end:
                continue
            if token is not None and number >= token:
                continue
            selected.append(tweet)
        page = selected[:max_results]
        tweet_fields, includes = self._tweet_includes(page, req)
        body: dict[str, Any] = {}
        if page:
            body["data"] = [tweet.render(tweet_fields, self.users_by_handle) for tweet in page]
            if includes:
                body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta = {"newest_id": page[0].id, "oldest_id": page[-1].id, "result_count": len(page)}
            if len(selected) > len(page):
                meta["next_token"] = token_for(int(page[-1].id))
        body["meta"] = meta
        return Response.json(body)

    def _timeline_request(self, req: Request, id: str, extra: tuple[str, ...] = ()) -> Response | None:
        """What a user timeline endpoint (mentions, own tweets) checks first: its query parameters, the id's
        form (400) and whether the user exists (X's 200 with an ``errors`` list); None when all is well."""
        check_known(req, TIMELINE_PARAMS | set(extra))
        if not ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$", {"id": [id]})
        if id not in self.users:
            return Response.json({"errors": [not_found("user", "id", id)]})
        return None

    def _mentions(self, req: Request, id: str) -> Response:
        missing = self._timeline_request(req, id)
        if missing is not None:
            return missing
        reachable = self.mentions_of(id)[:MENTIONS_REACHABLE]
        return self._tweet_page(
            req, reachable, max_low=5, max_high=100, max_default=10, token_params=("pagination_token",)
        )

    def _user_tweets(self, req: Request, id: str) -> Response:
        """A user's own tweets, newest first (X's "user Tweet timeline": no search index, so no lag)."""
        missing = self._timeline_request(req, id, extra=("exclude",))
        if missing is not None:
            return missing
        excluded = set(csv_param(req, "exclude", ("replies", "retweets")))
        own = [
            tweet
            for tweet in self.tweets.values()
            if tweet.author_id == id and not ("replies" in excluded and tweet.in_reply_to_tweet_id)
        ]
        own.sort(key=lambda tweet: int(tweet.id), reverse=True)
        return self._tweet_page(req, own, max_low=5, max_high=100, max_default=10, token_params=("pagination_token",))

    def _search_recent(self, req: Request) -> Response:
        check_known(
            req,
            {
                "query",
                "start_time",
                "end_time",
                "since_id",
                "until_id",
                "max_results",
                "next_token",
                "pagination_token",
                "sort_order",
                "tweet.fields",
                "expansions",
                "media.fields",
                "poll.fields",
                "user.fields",
                "place.fields",
            },
        )
        query = req.arg("query")
        if not query:
            raise invalid_request("The `query` query parameter can not be empty", {"query": [query or ""]})
        matcher = compile_query(query, self.users, self.brand)
        now = self._now()
        horizon = now - SEARCH_RECENT_DAYS * 86400
        # The search index lags behind the timeline (30-45 s at times): younger tweets are not found yet.
        indexed = now - self.search_lag
        tweets = [tweet for tweet in self.tweets.values() if horizon <= tweet.created_at <= indexed and matcher(tweet)]
        tweets.sort(key=lambda tweet: int(tweet.id), reverse=True)
        return self._tweet_page(
            req, tweets, max_low=10, max_high=100, max_default=10, token_params=("next_token", "pagination_token")
        )

    def _tweet_by_id(self, req: Request, id: str) -> Response:
        if not ID_RE.match(id):
            raise invalid_request(f"The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$", {"id": [id]})
        tweet = self.tweets.get(id)
        if tweet is None:
            self._tweet_includes([], req)
            return Response.json({"errors": [not_found("tweet", "id", id)]})
        fields, includes = self._tweet_includes([tweet], req)
        body: dict[str, Any] = {"data": tweet.render(fields, self.users_by_handle)}
        if includes:
            body["includes"] = includes
        return Response.json(body)

    def _tweets_by_ids(self, req: Request) -> Response:
        raw = req.arg("ids") or ""
        ids = [value.strip() for value in raw.split(",") if value.strip()]
        if not ids or len(ids) > 100 or not all(ID_RE.match(value) for value in ids):
            raise invalid_request(f"The `ids` query parameter value [{raw}] is not 1 to 100 tweet ids", {"ids": [raw]})
        found = [self.tweets[value] for value in ids if value in self.tweets]
        fields, includes = self._tweet_includes(found, req)
        body: dict[str, Any] = {}
        if found:
            body["data"] = [tweet.render(fields, self.users_by_handle) for tweet in found]
        if includes:
            body["includes"] = includes
        missing = [not_found("tweet", "ids", value) for value in ids if value not in self.tweets]
        if missing:
            body["errors"] = missing
        return Response.json(body)

    def _create_tweet(self, req: Request) -> Response:
        body = json_body(req)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise XApiError(
                Response.json(
                    {
                        "errors": [{"message": "$.text: is missing but it is required"}],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": PROBLEM_INVALID,
                    },
                    status=400,
                )
            )
        if len(text) > MAX_TWEET_LENGTH:
            raise XApiError(
                Response.json(
                    problem(
                        403,
                        "Forbidden",
                        "Your Tweet text is too long. For more information on how X determines text "
                        "length see https://github.com/twitter/twitter-text.",
                    ),
                    status=403,
                )
            )
        reply = body.get("reply") or {}
        in_reply_to = str(reply.get("in_reply_to_tweet_id")) if reply.get("in_reply_to_tweet_id") else None
        full_text = text
        prefix = ""
        if in_reply_to:
            parent = self.tweets.get(in_reply_to)
            if parent is None:
                raise XApiError(
                    Response.json(
                        problem(
                            403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not visible to you."
                        ),
                        status=403,
                    )
                )
            parent_author = self.users[parent.author_id]
            # X auto-populates the @mention of the author replied to (outside display_text_range).
            if parent_author.id != self.brand.id and not re.match(
                rf"@{re.escape(parent_author.username)}(?![A-Za-z0-9_])", text, re.IGNORECASE
            ):
                prefix = f"@{parent_author.username} "
                full_text = prefix + text
        if self.duplicate_check and any(
            tweet.author_id == self.brand.id and tweet.text == full_text for tweet in self.tweets.values()
        ):
            raise XApiError(
                Response.json(
                    problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."),
                    status=403,
                )
            )
        tweet = self._new_tweet(self.brand, full_text, at=None, in_reply_to=in_reply_to)
        tweet.display_start = len(prefix)
        self.posted.append(
            {
                "kind": "reply" if in_reply_to else "tweet",
                "id": tweet.id,
                "text": tweet.text,
                "in_reply_to": in_reply_to,
                "conversation_id": tweet.conversation_id,
                "in_reply_to_user_id": tweet.in_reply_to_user_id,
                "created_at": iso(tweet.created_at),
            }
        )
        log.debug("x sandbox: brand posted tweet %s in reply to %s", tweet.id, in_reply_to)
        return Response.json(
            {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}, status=201
        )
