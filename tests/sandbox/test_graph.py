"""The Graph API emulator, driven by an unmodified facebook.GraphAPI over loopback."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import facebook
import pytest
import requests
from conftest import graph_api

from socialwatch.sandbox.graph.fields import FieldSyntaxError, parse_fields
from socialwatch.sandbox.graph.nodes import FIELD_NAMES

COMMENT_FIELDS = "id,message,from,created_time,comment_count,parent"


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.reset()


def page_id(sandbox) -> str:
    return sandbox.info()["facebook"]["page_id"]


def error_of(caught: pytest.ExceptionInfo[facebook.GraphAPIError]) -> dict:
    return caught.value.result["error"]


def test_me_is_the_page_and_the_version_header_is_echoed(sandbox, graph, make_graph):
    assert graph.get_object("me") == {"name": "Sandbox Brand", "id": page_id(sandbox)}
    assert graph.get_object("me", fields="id,name,fan_count")["fan_count"] == 12_345
    assert graph.get_version() == "21.0"
    assert make_graph(version="v19.0").get_version() == "19.0"


def test_feed_expands_nested_comments(sandbox, graph):
    post = sandbox.add_visitor_post("Your app ate my homework", name="Ann")
    first = sandbox.add_comment("Same here!", name="Bob", post_id=post)
    reply = sandbox.add_comment("Me too", name="Cid", parent_id=first)
    feed = graph.get_connections(
        page_id(sandbox), "feed", fields=f"id,message,from,created_time,comments{{{COMMENT_FIELDS}}}"
    )
    assert [p["id"] for p in feed["data"]] == [post]
    entry = feed["data"][0]
    assert entry["from"]["name"] == "Ann" and entry["message"] == "Your app ate my homework"
    nested = entry["comments"]["data"]
    assert [c["id"] for c in nested] == [first]  # top level only, as Graph's default filter
    assert nested[0]["comment_count"] == 1 and "parent" not in nested[0]
    assert set(entry["comments"]["paging"]["cursors"]) == {"before", "after"}
    stream = graph.get_connections(
        page_id(sandbox), "feed", fields="comments.filter(stream).limit(10){id,parent{id},from{name}}"
    )
    replies = {c["id"]: c for c in stream["data"][0]["comments"]["data"]}
    assert replies[reply]["parent"] == {"id": first}
    assert replies[reply]["from"] == {"name": "Cid", "id": replies[reply]["from"]["id"]}


def test_posts_without_comments_omit_the_edge_and_tagged_posts_stay_out_of_the_feed(sandbox, graph):
    own = sandbox.add_page_post("New opening hours")
    tagged = sandbox.add_visitor_post("Shout out to", name="Dee", tagged=True)
    feed = graph.get_connections(page_id(sandbox), "feed", fields="id,comments{id}")
    assert feed["data"] == [{"id": own}]
    tagged_edge = graph.get_connections(page_id(sandbox), "tagged", fields="id,message,message_tags,from")
    assert [p["id"] for p in tagged_edge["data"]] == [tagged]
    assert tagged_edge["data"][0]["message_tags"][0]["id"] == page_id(sandbox)
    assert graph.get_connections(page_id(sandbox), "posts")["data"][0]["id"] == own


def test_comment_paging_next_urls_and_get_all_connections(sandbox, graph):
    post = sandbox.add_page_post("Tell us everything")
    base = time.time() - 3600
    made = [sandbox.add_comment(f"comment {i}", name=f"P{i}", post_id=post, created_time=base + i) for i in range(30)]
    first_page = graph.get_connections(post, "comments", limit=7, fields="id,message")
    next_url = urlsplit(first_page["paging"]["next"])
    assert f"{next_url.scheme}://{next_url.netloc}" == sandbox.url  # points back at the sandbox
    params = parse_qs(next_url.query)
    assert params["limit"] == ["7"] and params["after"] and params["access_token"]
    sandbox.clear_requests()
    everything = list(graph.get_all_connections(post, "comments", limit=7, fields="id,message"))
    assert [c["id"] for c in everything] == made  # chronological, no gaps, no repeats
    assert len(sandbox.requests_log("facebook", path=f"/v21.0/{post}/comments")) == 5
    # following paging.next as a plain URL works too
    follow = requests.get(first_page["paging"]["next"], timeout=5).json()
    assert [c["id"] for c in follow["data"]] == made[7:14]
    assert "previous" in follow["paging"]


def test_comment_order_filter_since_and_summary(sandbox, graph):
    post = sandbox.add_page_post("Hi")
    now = time.time()
    old = sandbox.add_comment("old", post_id=post, created_time=now - 7200)
    new = sandbox.add_comment("new", post_id=post, created_time=now - 60)
    reply = sandbox.add_comment("reply", parent_id=old, created_time=now - 30)
    reverse = graph.get_connections(post, "comments", order="reverse_chronological", summary="true")
    assert [c["id"] for c in reverse["data"]] == [new, old]
    assert reverse["summary"] == {"order": "reverse_chronological", "total_count": 2, "can_comment": True}
    stream = graph.get_connections(post, "comments", filter="stream", since=int(now - 3600), fields="id,parent")
    assert [c["id"] for c in stream["data"]] == [new, reply]
    assert stream["data"][1]["parent"]["id"] == old
    assert graph.get_connections(old, "comments")["data"][0]["id"] == reply


def test_page_reply_to_a_comment_appears_as_a_comment_from_the_page(sandbox, graph):
    comment = sandbox.add_comment("Where is my order?", name="Eve")
    created = graph.put_comment(comment, "Sorry Eve, we are on it")
    replies = graph.get_connections(comment, "comments", fields="id,message,from,parent")["data"]
    assert replies == [
        {
            "id": created["id"],
            "message": "Sorry Eve, we are on it",
            "from": {"name": "Sandbox Brand", "id": page_id(sandbox)},
            "parent": {
                "created_time": replies[0]["parent"]["created_time"],
                "from": replies[0]["parent"]["from"],
                "message": "Where is my order?",
                "id": comment,
            },
        }
    ]
    posted = sandbox.posted_facebook()
    assert posted[0]["kind"] == "comment_reply" and posted[0]["in_reply_to"] == comment
    assert posted[0]["id"] == created["id"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.put_comment("999_999", "hello?")
    assert error_of(caught)["code"] == 100 and error_of(caught)["error_subcode"] == 33


def test_conversations_with_nested_messages(sandbox, graph):
    now = time.time()
    sandbox.add_message("My refund?", name="Fay", created_time=now - 120)
    sandbox.add_message("Hello??", name="Fay", created_time=now - 60)
    sandbox.add_message("Hi there", name="Gus", created_time=now - 600)
    result = graph.get_connections(
        "me",
        "conversations",
        platform="messenger",
        fields="updated_time,participants,messages{message,from,created_time}",
    )
    threads = result["data"]
    assert [t["participants"]["data"][0]["name"] for t in threads] == ["Fay", "Gus"]  # newest activity first
    fay = threads[0]["messages"]["data"]
    assert [m["message"] for m in fay] == ["Hello??", "My refund?"]  # newest first, as Graph
    assert fay[0]["from"]["name"] == "Fay" and fay[0]["id"].startswith("m_")
    assert threads[0]["updated_time"] == fay[0]["created_time"]
    instagram = graph.get_connections("me", "conversations", platform="instagram")
    assert instagram == {"data": []}


def send(graph, page: str, recipient: str, text: str, **extra: str) -> dict:
    return graph.put_object(
        page,
        "messages",
        recipient=json.dumps({"id": recipient}),
        message=json.dumps({"text": text}),
        **{"messaging_type": "RESPONSE", **extra},
    )


def test_send_api_respects_the_24_hour_window(sandbox, graph):
    sandbox.add_message("Please help", name="Hal")
    sandbox.add_message("Hello from yesterday", name="Ida", created_time=time.time() - 25 * 3600)
    people = {c["participant"]["name"]: c["participant"]["id"] for c in sandbox.facebook_timeline()["conversations"]}
    sent = send(graph, page_id(sandbox), people["Hal"], "We are on it")
    assert sent["recipient_id"] == people["Hal"] and sent["message_id"].startswith("m_")
    with pytest.raises(facebook.GraphAPIError) as caught:
        send(graph, "me", people["Ida"], "Sorry for the wait")
    assert (error_of(caught)["code"], error_of(caught)["error_subcode"]) == (10, 2018278)
    tagged = send(graph, "me", people["Ida"], "A human here", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert tagged["recipient_id"] == people["Ida"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        send(graph, "me", "7199999999999999", "hi")
    assert error_of(caught)["error_subcode"] == 2018001
    posted = sandbox.posted_facebook()
    assert [(p["recipient_id"], p["text"]) for p in posted] == [
        (people["Hal"], "We are on it"),
        (people["Ida"], "A human here"),
    ]
    thread = graph.get_connections("me", "conversations", user_id=people["Hal"], fields="messages{message,from}")
    assert thread["data"][0]["messages"]["data"][0]["from"]["id"] == page_id(sandbox)


def test_send_api_accepts_a_json_body(sandbox):
    sandbox.add_message("hi", name="Jon")
    jon = sandbox.facebook_timeline()["conversations"][0]["participant"]["id"]
    token = sandbox.info()["facebook"]["page_token"]
    response = requests.post(
        f"{sandbox.url}/v21.0/me/messages",
        params={"access_token": token},
        timeout=5,
        json={"recipient": {"id": jon}, "messaging_type": "RESPONSE", "message": {"text": "hello Jon"}},
    )
    assert response.status_code == 200 and response.json()["recipient_id"] == jon


@pytest.mark.parametrize(("state", "subcode"), [("expired", 463), ("invalidated", 460)])
def test_expired_or_invalidated_token_is_190(sandbox, graph, state, subcode):
    requests.post(f"{sandbox.url}/_sandbox/facebook/token", json={"state": state}, timeout=5).raise_for_status()
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_object("me")
    assert caught.value.code == 190 and error_of(caught)["error_subcode"] == subcode
    assert error_of(caught)["type"] == "OAuthException" and error_of(caught)["fbtrace_id"]
    sandbox.set_facebook_token("valid")
    assert graph.get_object("me")["id"] == page_id(sandbox)


def test_unknown_or_missing_token(sandbox):
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph_api(sandbox, token="EAAnotthepagetoken").get_object("me")
    assert caught.value.code == 190 and "error_subcode" not in error_of(caught)
    missing = requests.get(f"{sandbox.url}/v21.0/me", timeout=5)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104


def test_appsecret_proof_is_checked_when_an_app_secret_is_set(sandbox, graph):
    sandbox.set_facebook_app_secret("s3cr3t")
    with pytest.raises(facebook.GraphAPIError, match="appsecret_proof"):
        graph.get_object("me")
    assert graph_api(sandbox, app_secret="s3cr3t").get_object("me")["id"] == page_id(sandbox)
    with pytest.raises(facebook.GraphAPIError, match="Invalid appsecret_proof"):
        graph_api(sandbox, app_secret="wrong").get_object("me")
    sandbox.add_comment("hi")
    comment = sandbox.facebook_timeline()["posts"][0]["comments"][0]["id"]
    assert graph_api(sandbox, app_secret="s3cr3t").put_comment(comment, "proof on POST too")["id"]


def test_page_budget_depletes_with_usage_headers_and_resets(clocked_sandbox):
    sandbox, clock = clocked_sandbox
    sandbox.set_facebook_rate_limit(limit=4, window=600, code=32)
    session = requests.Session()
    url = f"{sandbox.url}/v21.0/me"
    token = {"access_token": sandbox.info()["facebook"]["page_token"]}
    usage = []
    for _ in range(4):
        response = session.get(url, params=token, timeout=5)
        assert response.status_code == 200
        usage.append(json.loads(response.headers["x-app-usage"])["call_count"])
        buc = json.loads(response.headers["x-business-use-case-usage"])[page_id(sandbox)][0]
        assert buc["type"] == "pages" and buc["call_count"] == usage[-1]
    assert usage == [25, 50, 75, 100]
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph_api(sandbox).get_object("me")
    assert caught.value.code == 32 and caught.value.message == "(#32) Page request limit reached"
    limited = session.get(url, params=token, timeout=5)
    assert (
        json.loads(limited.headers["x-business-use-case-usage"])[page_id(sandbox)][0]["estimated_time_to_regain_access"]
        == 10
    )
    clock.advance(601)
    assert graph_api(sandbox).get_object("me")["id"] == page_id(sandbox)


def test_send_window_with_a_fake_clock(clocked_sandbox):
    sandbox, clock = clocked_sandbox
    sandbox.add_message("hello", name="Kay")
    kay = sandbox.facebook_timeline()["conversations"][0]["participant"]["id"]
    graph = graph_api(sandbox)
    clock.advance(23 * 3600)
    assert send(graph, "me", kay, "still in the window")["recipient_id"] == kay
    clock.advance(2 * 3600)
    with pytest.raises(facebook.GraphAPIError) as caught:
        send(graph, "me", kay, "too late")
    assert error_of(caught)["error_subcode"] == 2018278


@pytest.mark.parametrize(
    ("fault", "options", "code", "status"),
    [
        ("429", {}, 4, 400),
        ("429", {"code": 32}, 32, 400),
        ("429", {"code": 613}, 613, 400),
        ("401", {}, 190, 400),
        ("403", {}, 200, 403),
        ("500", {}, 1, 500),
        ("503", {}, 2, 503),
    ],
)
def test_injected_status_faults_are_graph_errors(sandbox, graph, fault, options, code, status):
    sandbox.fault("facebook", fault, path="/me", **options)  # path prefix without the version
    raw = requests.get(f"{sandbox.url}/v21.0/me", params={"access_token": graph.access_token}, timeout=5)
    assert raw.status_code == status
    body = raw.json()["error"]
    assert body["code"] == code and body["fbtrace_id"] and body["type"]
    assert "x-app-usage" in raw.headers
    sandbox.fault("facebook", fault, path="/v21.0/me", **options)
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_object("me")
    assert caught.value.code == code
    assert graph.get_object("me")["id"] == page_id(sandbox)


def test_malformed_timeout_and_disconnect_faults(sandbox):
    graph = graph_api(sandbox, timeout=0.5)
    sandbox.fault("facebook", "malformed", path="/me")
    with pytest.raises(requests.JSONDecodeError):
        graph.get_object("me")
    sandbox.fault("facebook", "timeout", path="/me", seconds=3)
    with pytest.raises(requests.ReadTimeout):
        graph.get_object("me")
    sandbox.fault("facebook", "disconnect", path="/me")
    with pytest.raises(requests.ConnectionError):
        graph.get_object("me")
    assert graph.get_object("me")["id"] == page_id(sandbox)


def test_unknown_fields_and_syntax_errors(sandbox, graph):
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_connections("me", "feed", fields="id,bogus")
    assert "nonexisting field (bogus)" in caught.value.message
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_object("me", fields="id,{")
    assert caught.value.code == 2500 and "Syntax error" in caught.value.message
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_object("123456")
    assert error_of(caught)["type"] == "GraphMethodException"


def test_control_api_seeds_and_reports(sandbox, graph):
    url = f"{sandbox.url}/_sandbox/facebook"
    post = requests.post(f"{url}/posts", json={"author": {"name": "Lou"}, "text": "Visitor post"}, timeout=5)
    assert post.status_code == 201 and post.json()["kind"] == "visitor"
    comment = requests.post(
        f"{url}/comments", json={"author": {"name": "Mo"}, "text": "c", "post_id": post.json()["id"]}, timeout=5
    )
    assert comment.status_code == 201
    message = requests.post(f"{url}/messages", json={"sender": {"name": "Ned"}, "text": "m"}, timeout=5)
    assert message.status_code == 201 and message.json()["conversation_id"].startswith("t_")
    assert requests.post(f"{url}/comments", json={"text": "x", "post_id": "nope"}, timeout=5).status_code == 400
    timeline = requests.get(f"{url}/timeline", timeout=5).json()
    assert timeline["posts"][0]["comments"][0]["from"]["name"] == "Mo"
    assert timeline["conversations"][0]["messages"][0]["message"] == "m"
    graph.put_comment(comment.json()["id"], "thanks Mo")
    assert requests.get(f"{url}/posted", timeout=5).json()[0]["text"] == "thanks Mo"


def test_field_expansion_parser():
    specs = parse_fields("id, comments.limit(5).order(reverse_chronological){id,from{name}}.summary(true),x.as(y)")
    assert specs is not None
    assert [s.name for s in specs] == ["id", "comments", "x"]
    comments = specs[1]
    assert comments.modifiers == {"limit": "5", "order": "reverse_chronological", "summary": "true"}
    assert [c.name for c in comments.children or []] == ["id", "from"]
    assert (comments.children or [])[1].children[0].name == "name"
    assert specs[2].alias == "y"
    assert parse_fields("") is None
    for bad in ("id,", "a{b", "a{}", "a.limit(5", "a}"):
        with pytest.raises(FieldSyntaxError):
            parse_fields(bad)


def test_field_name_lists_match_what_each_node_renders(sandbox):
    emulator = sandbox.graph
    post = emulator.add_post({"text": "p", "author": {"name": "Q"}})
    comment = emulator.add_comment({"text": "c", "post_id": post.id})
    message = emulator.add_message({"text": "m", "sender": {"name": "R"}})
    nodes = {
        "Page": emulator._fields_page(emulator.page),
        "User": emulator._fields_user(emulator.profiles[post.author_id]),
        "PagePost": emulator._fields_pagepost(post),
        "Comment": emulator._fields_comment(comment),
        "Conversation": emulator._fields_conversation(emulator.threads[message.thread_id]),
        "Message": emulator._fields_message(message),
    }
    for node_type, table in nodes.items():
        assert set(table) == set(FIELD_NAMES[node_type]), node_type
