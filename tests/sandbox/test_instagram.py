"""The Graph emulator's Instagram side, driven by an unmodified facebook.GraphAPI over loopback: field
expansion and paging, Graph's errors, permissions, the messaging windows, private replies and the control API."""

from __future__ import annotations

import json
from datetime import timedelta

import facebook
import pytest
from sandbox_support import control

from socialwatch.models import utcnow


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.reset()


def ids(sandbox) -> tuple[str, str]:
    info = sandbox.info()["instagram"]
    return info["ig_user_id"], info["page_id"]


def error_of(caught: pytest.ExceptionInfo[facebook.GraphAPIError]) -> dict:
    return caught.value.result["error"]


def send(graph, recipient: dict, text: str, **extra: str) -> dict:
    return graph.request(
        "v21.0/me/messages",
        post_args={"recipient": json.dumps(recipient), "message": json.dumps({"text": text}), **extra},
    )


def test_the_page_names_its_instagram_account_and_the_account_its_media(sandbox, graph):
    ig, page = ids(sandbox)
    assert graph.get_object(page, fields="instagram_business_account") == {
        "instagram_business_account": {"id": ig},
        "id": page,
    }
    media = sandbox.add_ig_media("Autumn drop")
    assert graph.get_object(ig, fields="id,username,media_count") == {
        "id": ig,
        "username": "sandboxbrand",
        "media_count": 1,
    }
    listed = graph.get_connections(ig, "media", fields="id,caption,comments_count,permalink,timestamp")
    assert [m["id"] for m in listed["data"]] == [media]
    assert listed["data"][0]["permalink"].startswith("https://www.instagram.com/p/")
    assert graph.get_object(media) == {"id": media}  # Instagram's default fields: the id alone


def test_comments_replies_and_paging_as_graph_pages_them(sandbox, graph):
    media = sandbox.add_ig_media("Launch")
    top = [sandbox.add_ig_comment(f"comment {i}", username=f"u{i}", media_id=media) for i in range(7)]
    replies = [sandbox.add_ig_comment(f"reply {i}", username="amy", parent_id=top[0]) for i in range(3)]
    hidden = sandbox.add_ig_comment("no name", username=None, media_id=media)
    page = graph.get_connections(
        media, "comments", fields="id,text,from,username,replies.limit(2){id,parent_id}", limit=5
    )
    assert len(page["data"]) == 5 and page["data"][0]["id"] == hidden  # newest first
    assert "from" not in page["data"][0] and "username" not in page["data"][0]  # an author Graph does not show
    seen = [c["id"] for c in page["data"]]
    following = graph.request(page["paging"]["next"].split("/", 3)[3])  # the next URL, as a client follows it
    seen += [c["id"] for c in following["data"]]
    assert sorted(seen) == sorted([*top, hidden]) and "next" not in following.get("paging", {})
    first = next(c for c in following["data"] + page["data"] if c["id"] == top[0])
    assert [r["id"] for r in first["replies"]["data"]] == replies[:2]  # replies oldest first, 2 a page
    assert first["replies"]["data"][0]["parent_id"] == top[0] and "next" in first["replies"]["paging"]
    assert graph.get_object(top[1], fields="from{username}")["from"]["username"] == "u1"


def test_unknown_fields_and_edges_get_graphs_error_100(sandbox, graph):
    ig, _ = ids(sandbox)
    media = sandbox.add_ig_media("x")
    for call in (
        lambda: graph.get_object(media, fields="message"),  # Facebook's name; Instagram's is caption
        lambda: graph.get_connections(media, "comments", fields="id,message"),
        lambda: graph.get_object(ig, fields="media{id,comments{id,from{name}}}"),
    ):
        with pytest.raises(facebook.GraphAPIError) as caught:
            call()
        assert error_of(caught)["code"] == 100 and "nonexisting field" in error_of(caught)["message"]


def test_tags_and_mentioned_media(sandbox, graph):
    ig, _ = ids(sandbox)
    tagged = sandbox.add_ig_mention("my new boots", username="kim")
    found = graph.get_connections(ig, "tags", fields="id,caption,username,owner")["data"]
    assert [(m["id"], m["username"]) for m in found] == [(tagged, "kim")] and "@sandboxbrand" in found[0]["caption"]
    answer = graph.request(f"v21.0/{ig}/mentions", post_args={"media_id": tagged, "message": "Enjoy them!"})
    lookup = graph.get_object(ig, fields=f"mentioned_media.media_id({tagged}){{caption,comments{{id,text,username}}}}")
    assert lookup["mentioned_media"]["comments"]["data"] == [
        {"id": answer["id"], "text": "Enjoy them!", "username": "sandboxbrand"}
    ]
    with pytest.raises(facebook.GraphAPIError):  # someone else's media takes no /comments from the brand
        graph.put_object(tagged, "comments", message="hi")


def test_public_replies_only_under_top_level_comments_and_within_2200_characters(sandbox, graph):
    top = sandbox.add_ig_comment("zip broke", username="jo")
    reply = sandbox.add_ig_comment("same", username="amy", parent_id=top)
    created = graph.request(f"v21.0/{top}/replies", post_args={"message": "Sorry Jo!"})
    assert sandbox.posted_instagram()[0]["in_reply_to"] == top and created["id"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.request(f"v21.0/{reply}/replies", post_args={"message": "Sorry Amy!"})
    assert "top-level" in error_of(caught)["message"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.request(f"v21.0/{top}/replies", post_args={"message": "a" * 2201})
    assert "2200" in error_of(caught)["message"]


def test_dms_window_human_agent_and_1000_bytes(sandbox, graph):
    _, page = ids(sandbox)
    sandbox.add_ig_dm("hello", username="fresh")
    sandbox.add_ig_dm("hello?", username="stale", created_time=utcnow() - timedelta(hours=30))
    people = {
        c["participant"]["username"]: c["participant"]["id"] for c in sandbox.instagram_timeline()["conversations"]
    }
    assert send(graph, {"id": people["fresh"]}, "Hi!")["recipient_id"] == people["fresh"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        send(graph, {"id": people["stale"]}, "Hi!")
    assert (error_of(caught)["code"], error_of(caught)["error_subcode"]) == (10, 2534022)
    with pytest.raises(facebook.GraphAPIError) as caught:  # the tag needs the app's Human Agent permission
        send(graph, {"id": people["stale"]}, "Hi!", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert error_of(caught)["code"] == 200
    sandbox.set_instagram_human_agent(True)
    assert send(graph, {"id": people["stale"]}, "Hi!", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")["message_id"]
    with pytest.raises(facebook.GraphAPIError) as caught:  # 400 Tamil letters: 1,200 bytes
        send(graph, {"id": people["fresh"]}, "த" * 400)
    assert "1000 bytes" in error_of(caught)["message"]
    messages = graph.get_connections(page, "conversations", platform="instagram", fields="messages{message,from}")
    assert {m["from"]["username"] for c in messages["data"] for m in c["messages"]["data"]} >= {"sandboxbrand", "fresh"}


def test_private_replies_once_within_7_days_never_to_the_brand(sandbox, graph):
    comment = sandbox.add_ig_comment("card 4111 charged twice", username="cara")
    old = sandbox.add_ig_comment("hello", username="dan", created_time=utcnow() - timedelta(days=8))
    fb_comment = sandbox.add_comment("order 1234 missing", name="Fay")
    sent = send(graph, {"comment_id": comment}, "Hi Cara, refunded.")
    assert sandbox.posted_instagram()[0]["kind"] == "private_reply" and sent["message_id"]
    for target, code in ((comment, 10900), (old, 10)):
        with pytest.raises(facebook.GraphAPIError) as caught:
            send(graph, {"comment_id": target}, "again")
        assert error_of(caught)["code"] == code
    brand = graph.request(f"v21.0/{comment}/replies", post_args={"message": "Check your DMs"})["id"]
    with pytest.raises(facebook.GraphAPIError) as caught:
        send(graph, {"comment_id": brand}, "to myself")
    assert error_of(caught)["code"] == 10903
    # Facebook: the comment then names the conversation the private reply opened.
    assert "private_reply_conversation" not in graph.get_object(fb_comment, fields="id,private_reply_conversation")
    send(graph, {"comment_id": fb_comment}, "Hi Fay, we found it.")
    thread = graph.get_object(fb_comment, fields="private_reply_conversation{id}")["private_reply_conversation"]["id"]
    assert graph.get_connections(thread, "messages", fields="message")["data"][0]["message"] == "Hi Fay, we found it."


def test_permissions_are_enforced_and_debug_token_tells_them(sandbox, graph):
    ig, page = ids(sandbox)
    token = sandbox.info()["facebook"]["page_token"]
    assert "instagram_manage_messages" in graph.request("v21.0/debug_token", {"input_token": token})["data"]["scopes"]
    sandbox.set_instagram_permissions(revoke=["instagram_manage_messages"])
    with pytest.raises(facebook.GraphAPIError) as caught:
        graph.get_connections(page, "conversations", platform="instagram")
    assert error_of(caught)["code"] == 10
    assert graph.get_connections(ig, "media")["data"] == []  # comments' permissions are still there
    assert (
        "instagram_manage_messages" not in graph.request("v21.0/debug_token", {"input_token": token})["data"]["scopes"]
    )


def test_control_api(sandbox):
    status, created = control(sandbox, "/_sandbox/instagram/comments", {"author": {"username": "jo"}, "text": "hi"})
    assert status == 201 and created["media_id"] and created["author_id"]
    status, reply = control(
        sandbox, "/_sandbox/instagram/comments", {"author": None, "text": "who?", "parent_id": created["id"]}
    )
    assert status == 201 and reply["author_id"] is None and reply["parent_id"] == created["id"]
    assert control(sandbox, "/_sandbox/instagram/mentions", {"author": {"username": "kim"}, "text": "boots"})[0] == 201
    status, dm = control(sandbox, "/_sandbox/instagram/dms", {"sender": {"username": "lee"}, "text": "refund?"})
    assert status == 201 and dm["conversation_id"]
    timeline = control(sandbox, "/_sandbox/instagram/timeline")[1]
    assert timeline["media"][0]["comments"][0]["replies"][0]["from"] is None
    assert (
        timeline["mentions"][0]["username"] == "kim"
        and timeline["conversations"][0]["participant"]["username"] == "lee"
    )
    for path, body, words in (
        ("/_sandbox/instagram/comments", {"author": {"username": "jo"}}, "text is required"),
        ("/_sandbox/instagram/comments", {"text": "x", "parent_id": "1"}, "no Instagram comment"),
        ("/_sandbox/instagram/dms", {"sender": {"username": "sandboxbrand"}, "text": "x"}, "other than the brand"),
        ("/_sandbox/instagram/dms", {"text": "x", "attachments": [{"type": "hologram"}]}, "attachment type"),
        ("/_sandbox/instagram/permissions", {"revoke": ["instagram_everything"]}, "unknown permissions"),
    ):
        status, answer = control(sandbox, path, body)
        assert status == 400 and words in answer["error"], (path, answer)
    assert control(sandbox, "/_sandbox/instagram/nothing")[0] == 404
    assert control(sandbox, "/_sandbox/info")[1]["instagram"]["username"] == "sandboxbrand"
