"""Recent search's query language, as much of it as the sandbox needs: an AND of terms.

``from:``, ``to:``, ``conversation_id:``, ``in_reply_to_tweet_id:``, ``lang:``, ``is:reply``,
``has:mentions``/``has:hashtags``, ``@handle``, ``#tag``, plain words and ``-`` negation.
``OR`` and parentheses are refused, with X's error shape, rather than misread.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from socialwatch.sandbox.x.model import HASHTAG_RE, MENTION_RE, XTweet, XUser
from socialwatch.sandbox.x.problems import invalid_request


def compile_query(query: str, users: dict[str, XUser], brand: XUser) -> Callable[[XTweet], bool]:
    """AND of terms: from:, to:, conversation_id:, in_reply_to_tweet_id:, is:reply, @x, #x, words, -negation."""
    try:
        terms = shlex.split(query)
    except ValueError:
        raise invalid_request(
            f"There were errors processing your request: unbalanced quotes in [{query}]", {"query": [query]}
        ) from None
    checks: list[Callable[[XTweet], bool]] = []
    for term in terms:
        negate = term.startswith("-") and len(term) > 1
        body = term[1:] if negate else term
        check = _term_check(body, query, users, brand)
        checks.append(_negated(check) if negate else check)
    return lambda tweet: all(check(tweet) for check in checks)


def _negated(check: Callable[[XTweet], bool]) -> Callable[[XTweet], bool]:
    return lambda tweet: not check(tweet)


def _term_check(term: str, query: str, users: dict[str, XUser], brand: XUser) -> Callable[[XTweet], bool]:
    lowered = term.lower()
    if term in ("OR", "AND") or term.startswith("(") or term.endswith(")"):
        raise invalid_request(
            f"There were errors processing your request: the sandbox supports only space-separated (AND) "
            f"terms, not [{term}]",
            {"query": [query]},
        )
    if ":" in term and not term.startswith(("http:", "https:")):
        operator, _, value = term.partition(":")
        operator = operator.lower()
        if operator == "from":
            handle = value.lstrip("@").lower()
            return lambda t: users[t.author_id].username.lower() == handle
        if operator == "to":
            handle = value.lstrip("@").lower()
            return lambda t: (
                t.in_reply_to_user_id is not None and users.get(t.in_reply_to_user_id, brand).username.lower() == handle
            )
        if operator == "conversation_id":
            return lambda t: t.conversation_id == value
        if operator == "in_reply_to_tweet_id" or operator == "in_reply_to_status_id":
            return lambda t: t.in_reply_to_tweet_id == value
        if operator == "lang":
            return lambda t: t.lang == value
        if operator == "is":
            if value == "reply":
                return lambda t: t.in_reply_to_tweet_id is not None
            if value in ("retweet", "quote", "verified"):
                return lambda t: value == "verified" and users[t.author_id].verified
            raise invalid_request(
                f"There were errors processing your request: unknown operator [is:{value}]", {"query": [query]}
            )
        if operator == "has":
            if value == "mentions":
                return lambda t: bool(MENTION_RE.search(t.text))
            if value == "hashtags":
                return lambda t: bool(HASHTAG_RE.search(t.text))
            return lambda t: False
        raise invalid_request(
            f"There were errors processing your request: the sandbox does not support the operator [{operator}:]",
            {"query": [query]},
        )
    if lowered.startswith("@"):
        return lambda t: any(m.group(1).lower() == lowered[1:] for m in MENTION_RE.finditer(t.text))
    if lowered.startswith("#"):
        return lambda t: any(m.group(1).lower() == lowered[1:] for m in HASHTAG_RE.finditer(t.text))
    return lambda t: lowered in t.text.lower()
