"""The X API v2 emulator, driven by an unmodified tweepy.Client over loopback."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import tweepy
from conftest import tweepy_client

MENTION_FIELDS = [
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
    "author_id",
    "public_metrics",
    "entities",
]


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.reset()


def brand_id(sandbox) -> str:
    return sandbox.info()["x"]["user_id"]


def test_get_me_with_bearer_and_with_oauth1(sandbox, make_tweepy):
    info = sandbox.info()["x"]
    me = make_tweepy().get_me(user_auth=False, user_fields=["public_metrics", "verified"]).data
    assert (me.id, me.username) == (int(info["user_id"]), info["handle"])
    assert me.public_metrics["followers_count"] == 12_345
    # OAuth 1.0a: tweepy signs for api.twitter.com, the transport rewrites, the sandbox checks the signature.
    assert make_tweepy(auth="oauth1").get_me().data.username == info["handle"]


def test_mentions_newest_first_with_fields_and_author_expansion(sandbox, x_client):
    root = sandbox.add_tweet("We are live!")
    first = sandbox.add_mention("my order never arrived", handle="jo", name="Jo Bloggs", followers=50)
    reply = sandbox.add_mention("still waiting", handle="amy", followers=20_000, in_reply_to=root)
    response = x_client.get_users_mentions(
        brand_id(sandbox),
        user_auth=False,
        tweet_fields=MENTION_FIELDS,
        expansions=["author_id"],
        user_fields=["public_metrics", "name", "username"],
    )
    assert [t.id for t in response.data] == [int(reply), int(first)]
    newest = response.data[0]
    assert newest.text.startswith("@SandboxBrand ")
    assert newest.conversation_id == int(root)
    assert newest.in_reply_to_user_id == int(brand_id(sandbox))
    assert newest.referenced_tweets[0].type == "replied_to" and newest.referenced_tweets[0].id == int(root)
    assert newest.entities["mentions"][0]["username"] == "SandboxBrand"
    assert response.data[1].conversation_id == int(first)  # not a reply: its own conversation
    users = {u.username: u for u in response.includes["users"]}
    assert users["amy"].public_metrics["followers_count"] == 20_000
    assert users["jo"].name == "Jo Bloggs"
    assert response.meta == {"newest_id": reply, "oldest_id": first, "result_count": 2}


def test_since_id_returns_only_newer_mentions(sandbox, x_client):
    old = [sandbox.add_mention(f"old {i}") for i in range(3)]
    new = [sandbox.add_mention(f"new {i}") for i in range(2)]
    response = x_client.get_users_mentions(brand_id(sandbox), since_id=old[-1], user_auth=False)
    assert sorted(str(t.id) for t in response.data) == sorted(new)
    empty = x_client.get_users_mentions(brand_id(sandbox), since_id=new[-1], user_auth=False)
    assert empty.data is None and empty.meta == {"result_count": 0}


def test_until_id_and_backdated_mentions_with_start_time(sandbox, x_client):
    now = datetime.now(UTC)
    recent = sandbox.add_mention("recent")
    old = sandbox.add_mention("from last week", created_at=now - timedelta(days=6))
    listed = x_client.get_users_mentions(brand_id(sandbox), user_auth=False, tweet_fields=["created_at"]).data
    assert [str(t.id) for t in listed] == [recent, old]  # ids follow creation time, as on X
    assert listed[1].created_at < now - timedelta(days=5)
    newer = x_client.get_users_mentions(brand_id(sandbox), user_auth=False, start_time=now - timedelta(days=1))
    assert [str(t.id) for t in newer.data] == [recent]
    older = x_client.get_users_mentions(brand_id(sandbox), user_auth=False, until_id=recent)
    assert [str(t.id) for t in older.data] == [old]


def test_paginator_walks_every_page_without_overlap(sandbox, x_client):
    ids = sandbox.add_mentions(23)
    pages = list(tweepy.Paginator(x_client.get_users_mentions, brand_id(sandbox), max_results=10, user_auth=False))
    assert [page.meta["result_count"] for page in pages] == [10, 10, 3]
    seen = [str(tweet.id) for page in pages for tweet in page.data]
    assert seen == sorted(ids, key=int, reverse=True)
    assert "next_token" in pages[0].meta and "next_token" not in pages[-1].meta


@pytest.mark.parametrize("bad", [3, 101])
def test_max_results_outside_5_to_100_is_a_400(sandbox, x_client, bad):
    with pytest.raises(tweepy.BadRequest) as caught:
        x_client.get_users_mentions(brand_id(sandbox), max_results=bad, user_auth=False)
    assert "not between 5 and 100" in str(caught.value)


def test_only_the_newest_800_mentions_are_reachable(sandbox, x_client):
    # Seeded through the control API's batch form, as a script would.
    specs = [{"author": {"handle": f"fan{i % 30}"}, "text": f"mention number {i}"} for i in range(1000)]
    created = requests.post(f"{sandbox.url}/_sandbox/x/mentions", json=specs, timeout=10)
    assert created.status_code == 201
    ids = created.json()["ids"]
    got = [
        str(t.id)
        for t in tweepy.Paginator(
            x_client.get_users_mentions, brand_id(sandbox), max_results=100, user_auth=False
        ).flatten()
    ]
    assert len(got) == 800
    assert got == sorted(ids, key=int, reverse=True)[:800]


def test_rate_limit_depletes_then_resets(sandbox, make_tweepy):
    sandbox.set_x_rate_limit("GET /2/users/:id/mentions", limit=2, window=1.0)
    sandbox.add_mention("hello")
    raw = make_tweepy(return_type=requests.Response)
    remaining = [
        raw.get_users_mentions(brand_id(sandbox), user_auth=False).headers["x-rate-limit-remaining"] for _ in range(2)
    ]
    assert remaining == ["1", "0"]
    with pytest.raises(tweepy.TooManyRequests) as caught:
        raw.get_users_mentions(brand_id(sandbox), user_auth=False)
    assert caught.value.response.headers["x-rate-limit-limit"] == "2"
    assert caught.value.reset_time >= int(time.time())
    # Other endpoints keep their own budget.
    assert raw.get_me(user_auth=False).status_code == 200
    # tweepy's own wait-until-reset succeeds once the window has rolled over.
    waiting = make_tweepy(wait_on_rate_limit=True)
    assert waiting.get_users_mentions(brand_id(sandbox), user_auth=False).meta["result_count"] == 1


def test_bad_credentials_are_401(sandbox):
    import tweepy as tw

    from socialwatch.sources.transport import install_tweepy_session

    bad = install_tweepy_session(tw.Client(bearer_token="not-the-token"), sandbox.url, timeout=5)
    with pytest.raises(tw.Unauthorized) as caught:
        bad.get_users_mentions(brand_id(sandbox), user_auth=False)
    assert caught.value.response.json()["title"] == "Unauthorized"
    info = sandbox.info()["x"]
    forged = install_tweepy_session(
        tw.Client(
            consumer_key=info["consumer_key"],
            consumer_secret="wrong-secret",
            access_token=info["access_token"],
            access_token_secret=info["access_token_secret"],
        ),
        sandbox.url,
        timeout=5,
    )
    with pytest.raises(tw.Unauthorized):
        forged.get_me()  # signature check fails


def test_revoked_token_is_401_until_restored(sandbox, x_client):
    sandbox.revoke_x_token()
    with pytest.raises(tweepy.Unauthorized):
        x_client.get_me(user_auth=False)
    sandbox.revoke_x_token(False)
    assert x_client.get_me(user_auth=False).data.username == "SandboxBrand"


def test_app_only_token_reads_mentions_but_not_user_context_endpoints(sandbox, make_tweepy):
    sandbox.add_mention("hi")
    app = make_tweepy(auth="app")
    assert app.get_users_mentions(brand_id(sandbox), user_auth=False).meta["result_count"] == 1
    with pytest.raises(tweepy.Forbidden) as caught:
        app.get_direct_message_events(user_auth=False)
    assert caught.value.response.json()["type"].endswith("/unsupported-authentication")


def test_dm_endpoints_are_403_on_a_tier_without_dm_access(sandbox, x_client):
    sandbox.add_dm("help", handle="jo")
    sandbox.set_x_tier("free")
    with pytest.raises(tweepy.Forbidden) as caught:
        x_client.get_direct_message_events(user_auth=False)
    body = caught.value.response.json()
    assert body["reason"] == "client-not-enrolled" and body["title"] == "Client Forbidden"
    user_id = sandbox.x_timeline()["dms"][0]["sender_id"]
    with pytest.raises(tweepy.Forbidden):
        x_client.create_direct_message(participant_id=user_id, text="hi", user_auth=False)
    assert x_client.get_users_mentions(brand_id(sandbox), user_auth=False).meta["result_count"] == 0
    # The control API switches the tier back.
    assert requests.post(f"{sandbox.url}/_sandbox/x/tier", json={"tier": "pro"}, timeout=5).ok
    assert len(x_client.get_direct_message_events(user_auth=False).data) == 1


def test_dm_events_include_the_brands_own_messages(sandbox, x_client, make_tweepy):
    first = sandbox.add_dm("where is my refund?", handle="jo", name="Jo")
    jo = sandbox.x_timeline()["dms"][0]["sender_id"]
    sent = make_tweepy(auth="oauth1").create_direct_message(participant_id=jo, text="Looking into it")
    later = sandbox.add_dm("thanks", handle="jo")
    events = x_client.get_direct_message_events(
        user_auth=False, dm_event_fields=["created_at", "sender_id", "dm_conversation_id"], expansions=["sender_id"]
    )
    assert [str(e.id) for e in events.data] == [later, sent.data["dm_event_id"], first]
    echo = events.data[1]
    assert str(echo.sender_id) == brand_id(sandbox)  # the brand's own DM comes back: socialwatch filters it
    assert echo.dm_conversation_id == sent.data["dm_conversation_id"] == f"{brand_id(sandbox)}-{jo}"
    assert {u.username for u in events.includes["users"]} == {"jo", "SandboxBrand"}
    pages = list(tweepy.Paginator(x_client.get_direct_message_events, max_results=2, user_auth=False))
    assert [len(p.data) for p in pages] == [2, 1]
    posted = sandbox.posted_x()
    assert posted == [{**posted[0], "kind": "dm", "recipient_id": jo, "in_reply_to": first}]


def test_reply_is_stored_in_the_conversation_and_found_by_search(sandbox, x_client, make_tweepy):
    mention = sandbox.add_mention("my parcel is lost", handle="jo")
    created = make_tweepy(auth="oauth1").create_tweet(text="So sorry, DM us please", in_reply_to_tweet_id=mention)
    reply_id = created.data["id"]
    assert created.data["text"] == "@jo So sorry, DM us please"  # X adds the replied-to author
    for query in (
        f"conversation_id:{mention} from:SandboxBrand",
        f"in_reply_to_tweet_id:{mention}",
        "from:SandboxBrand is:reply",
    ):
        found = x_client.search_recent_tweets(query, user_auth=False, tweet_fields=["in_reply_to_user_id"])
        assert [str(t.id) for t in found.data] == [reply_id], query
    assert x_client.search_recent_tweets("from:nobody", user_auth=False).meta == {"result_count": 0}
    tweet = x_client.get_tweet(reply_id, user_auth=False, tweet_fields=["referenced_tweets", "conversation_id"]).data
    assert tweet.conversation_id == int(mention) and tweet.referenced_tweets[0].id == int(mention)
    assert sandbox.posted_x() == [
        {
            "kind": "reply",
            "id": reply_id,
            "text": "@jo So sorry, DM us please",
            "in_reply_to": mention,
            "conversation_id": mention,
            "in_reply_to_user_id": sandbox.x_timeline()["mentions"][0]["author_id"],
            "created_at": sandbox.posted_x()[0]["created_at"],
        }
    ]
    # The brand's reply does not come back as a mention of the brand.
    assert [str(t.id) for t in x_client.get_users_mentions(brand_id(sandbox), user_auth=False).data] == [mention]


def test_duplicate_and_orphan_replies_are_refused(sandbox, x_client):
    mention = sandbox.add_mention("hello?")
    x_client.create_tweet(text="Hi there", in_reply_to_tweet_id=mention, user_auth=False)
    with pytest.raises(tweepy.Forbidden) as caught:
        x_client.create_tweet(text="Hi there", in_reply_to_tweet_id=mention, user_auth=False)
    assert "duplicate content" in str(caught.value)
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        x_client.create_tweet(text="Hello", in_reply_to_tweet_id="1234567890123", user_auth=False)
    assert len(sandbox.posted_x()) == 1


def test_search_recent_only_reaches_back_seven_days(sandbox, x_client):
    sandbox.add_mention("ancient complaint", created_at=datetime.now(UTC) - timedelta(days=8))
    fresh = sandbox.add_mention("fresh complaint")
    found = x_client.search_recent_tweets("complaint", user_auth=False)
    assert [str(t.id) for t in found.data] == [fresh]
    with pytest.raises(tweepy.BadRequest):
        x_client.search_recent_tweets("(a OR b)", user_auth=False)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", tweepy.TwitterServerError),
        ("503", tweepy.TwitterServerError),
        ("401", tweepy.Unauthorized),
        ("403", tweepy.Forbidden),
    ],
)
def test_injected_status_faults_reach_tweepy(sandbox, x_client, fault, error):
    sandbox.add_mention("hi")
    sandbox.fault("x", fault, path="/2/users/")
    with pytest.raises(error) as caught:
        x_client.get_users_mentions(brand_id(sandbox), user_auth=False)
    assert caught.value.response.status_code == int(fault)
    assert x_client.get_users_mentions(brand_id(sandbox), user_auth=False).meta["result_count"] == 1


def test_injected_429_carries_rate_limit_headers(sandbox, x_client):
    sandbox.fault("x", 429, path="/2/users/", count=2, seconds=30)
    for _ in range(2):
        with pytest.raises(tweepy.TooManyRequests) as caught:
            x_client.get_users_mentions(brand_id(sandbox), user_auth=False)
        headers = caught.value.response.headers
        assert headers["x-rate-limit-remaining"] == "0"
        assert int(time.time()) + 25 <= caught.value.reset_time <= int(time.time()) + 31
        assert caught.value.response.json()["title"] == "Too Many Requests"
    assert x_client.get_users_mentions(brand_id(sandbox), user_auth=False).meta["result_count"] == 0


def test_malformed_timeout_and_disconnect_faults(sandbox, make_tweepy):
    client = make_tweepy(timeout=0.5)
    sandbox.fault("x", "malformed", path="/2/users/me")
    with pytest.raises(requests.JSONDecodeError):
        client.get_me(user_auth=False)
    sandbox.fault("x", "timeout", path="/2/users/me", seconds=3)
    with pytest.raises(requests.ReadTimeout):
        client.get_me(user_auth=False)
    sandbox.fault("x", "disconnect", path="/2/users/me")
    with pytest.raises(requests.ConnectionError):
        client.get_me(user_auth=False)
    assert client.get_me(user_auth=False).data.username == "SandboxBrand"
    faults = [entry["fault"] for entry in sandbox.requests_log("x")]
    assert faults == ["malformed", "timeout", "disconnect", None]


def test_posting_is_budgeted_too(sandbox, x_client):
    sandbox.set_x_rate_limit("POST /2/tweets", limit=1, window=60)
    mention = sandbox.add_mention("hi")
    x_client.create_tweet(text="one", in_reply_to_tweet_id=mention, user_auth=False)
    with pytest.raises(tweepy.TooManyRequests):
        x_client.create_tweet(text="two", in_reply_to_tweet_id=mention, user_auth=False)
    assert [p["text"] for p in sandbox.posted_x()] == ["@customer one"]


def test_control_api_validates_its_input(sandbox):
    url = f"{sandbox.url}/_sandbox/x"
    assert requests.post(f"{url}/mentions", json={"author": {"handle": "jo"}}, timeout=5).status_code == 400
    bad_handle = requests.post(f"{url}/mentions", json={"author": {"handle": "no spaces"}, "text": "x"}, timeout=5)
    assert bad_handle.status_code == 400 and "handle" in bad_handle.json()["error"]
    assert requests.post(f"{url}/tier", json={"tier": "platinum"}, timeout=5).status_code == 400
    assert requests.post(f"{url}/ratelimits", json={"endpoint": "GET /2/nope"}, timeout=5).status_code == 400
    made = requests.post(f"{url}/dms", json={"sender": {"handle": "kim", "followers": 3}, "text": "yo"}, timeout=5)
    assert made.status_code == 201 and made.json()["dm_conversation_id"].startswith(brand_id(sandbox))
    assert tweepy_client(sandbox).get_direct_message_events(user_auth=False).data[0].text == "yo"


def test_mentions_carry_the_lang_x_would_tag(sandbox, x_client):
    """X tags by its own detector: not "en" for everything, "und" when it cannot tell, "zxx" for a link
    alone, "in" for Indonesian and for Malay, and a tag given by the test is kept."""
    texts = {
        "llevo una semana esperando mi reembolso y nadie responde": "es",
        "meine Bestellung ist seit 10 Tagen nicht angekommen": "de",
        "la livraison est en retard et le service client ne répond pas": "fr",
        "pesanan saya belum sampai dan tiada jawapan": "in",
        "my order never arrived and nobody answers": "en",
        "ok": "und",
        "https://t.co/abc123": "zxx",
    }
    ids = {sandbox.add_mention(text): lang for text, lang in texts.items()}
    tagged = sandbox.add_mention("the parcel never came", lang="qme")
    response = x_client.get_users_mentions(brand_id(sandbox), user_auth=False, tweet_fields=["lang"])
    got = {str(t.id): t.lang for t in response.data}
    assert {i: got[i] for i in ids} == ids
    assert got[tagged] == "qme"


def test_search_lag_and_after_write_faults_over_the_control_api(sandbox, make_tweepy):
    from sandbox_support import control

    assert control(sandbox, "/_sandbox/x/settings", {"search_lag": -1})[0] == 400
    assert control(sandbox, "/_sandbox/x/settings", {"search_lag": 30})[1]["search_lag"] == 30
    status, rule = control(
        sandbox, "/_sandbox/faults", {"target": "x", "fault": "503_after_write", "path": "/2/tweets", "method": "POST"}
    )
    assert status == 201 and rule["fault"] == "503_after_write"
    client = make_tweepy(auth="oauth1")
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="written, then a 503", user_auth=True)
    [posted] = sandbox.posted_x()  # the write happened
    assert posted["text"] == "written, then a 503"
    own = client.get_users_tweets(brand_id(sandbox), user_auth=True).data
    assert [str(t.id) for t in own] == [posted["id"]]  # the brand's timeline shows it at once
    assert not client.search_recent_tweets("from:SandboxBrand", user_auth=True).data  # search lags 30 s
