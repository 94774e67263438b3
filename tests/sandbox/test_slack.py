"""The Slack Web API emulator, driven by the real slack_sdk WebClient over loopback."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
from sandbox_support import control
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from socialwatch.sandbox import Sandbox

TS = re.compile(r"^\d{10}\.\d{6}$")

ALERT_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Negative mention on X"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*@casey*: my order never arrived"}},
    {
        "type": "actions",
        "block_id": "suggestions",
        "elements": [
            {
                "type": "button",
                "action_id": "send_0",
                "value": "item-1:0",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Send"},
            },
            {
                "type": "button",
                "action_id": "dismiss",
                "value": "item-1",
                "text": {"type": "plain_text", "text": "Dismiss"},
            },
        ],
    },
]


@pytest.fixture(autouse=True)
def fresh(sandbox: Sandbox) -> None:
    sandbox.reset()


@pytest.fixture(scope="module")
def info(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.info()["slack"]


@pytest.fixture(scope="module")
def client(sandbox: Sandbox, info: dict[str, Any]) -> WebClient:
    return WebClient(token=info["bot_token"], base_url=sandbox.url + "/api/", timeout=5)


def test_auth_test_identifies_the_bot(client: WebClient, info: dict[str, Any]) -> None:
    resp = client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == info["bot_user_id"]
    assert resp["team_id"] == info["team_id"]
    assert resp["bot_id"].startswith("B")


def test_bad_or_missing_token_is_refused(sandbox: Sandbox, info: dict[str, Any]) -> None:
    bad = WebClient(token="xoxb-not-a-real-token", base_url=sandbox.url + "/api/")
    with pytest.raises(SlackApiError) as caught:
        bad.chat_postMessage(channel=info["channel"], text="hi")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=sandbox.url + "/api/")
    with pytest.raises(SlackApiError) as caught:
        anonymous.auth_test()
    assert caught.value.response["error"] == "not_authed"
    assert sandbox.slack.messages == []


def test_token_types_are_enforced(sandbox: Sandbox, info: dict[str, Any], client: WebClient) -> None:
    app = WebClient(token=info["app_token"], base_url=sandbox.url + "/api/")
    with pytest.raises(SlackApiError) as caught:
        app.chat_postMessage(channel=info["channel"], text="hi")
    assert caught.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as caught:
        client.apps_connections_open(app_token=info["bot_token"])
    assert caught.value.response["error"] == "not_allowed_token_type"
    url = client.apps_connections_open(app_token=info["app_token"])["url"]
    assert re.match(rf"^ws://127\.0\.0\.1:{info['socket_mode_port']}/link/\?ticket=[0-9a-f-]+", url)


def test_post_message_returns_increasing_ts_and_full_message(client: WebClient, info: dict[str, Any]) -> None:
    metadata = {"event_type": "socialwatch_alert", "event_payload": {"item_key": "x:mention:1"}}
    first = client.chat_postMessage(
        channel=info["channel"],
        text="fallback",
        blocks=ALERT_BLOCKS,
        metadata=metadata,
        unfurl_links=False,
        unfurl_media=False,
    )
    assert first["channel"] == info["channel"]
    message = first["message"]
    assert message["metadata"] == metadata
    assert message["bot_id"] == info["bot_id"] and message["user"] == info["bot_user_id"]
    # Slack fills in the block_ids a client leaves out and keeps the ones it gave.
    assert all(block.get("block_id") for block in message["blocks"])
    assert message["blocks"][2]["block_id"] == "suggestions"
    stamps = [first["ts"]] + [client.chat_postMessage(channel=info["channel"], text=f"m{i}")["ts"] for i in range(5)]
    assert all(TS.match(ts) for ts in stamps)
    assert stamps == sorted(stamps, key=lambda ts: tuple(map(int, ts.split(".")))) and len(set(stamps)) == 6


def test_post_message_accepts_a_channel_name(client: WebClient, info: dict[str, Any]) -> None:
    resp = client.chat_postMessage(channel="#" + info["channel_name"], text="by name")
    assert resp["channel"] == info["channel"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOSUCHCHAN", "text": "x"}, "channel_not_found"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
        ({"text": "x", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        (
            {"text": "x", "blocks": [{"type": "actions", "elements": [{"type": "button", "action_id": "a"}]}]},
            "invalid_blocks",
        ),
        (
            {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}]},
            "invalid_blocks",
        ),
        ({"text": "x", "metadata": {"event_payload": {}}}, "invalid_metadata_schema"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_message_errors(client: WebClient, info: dict[str, Any], kwargs: dict[str, Any], error: str) -> None:
    kwargs = {"channel": info["channel"], **kwargs}
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(**kwargs)
    assert caught.value.response["ok"] is False
    assert caught.value.response["error"] == error


def test_exactly_40000_characters_is_accepted(client: WebClient, info: dict[str, Any]) -> None:
    assert client.chat_postMessage(channel=info["channel"], text="y" * 40_000)["ok"]


def test_threads_and_replies(client: WebClient, info: dict[str, Any]) -> None:
    parent = client.chat_postMessage(channel=info["channel"], text="alert")["ts"]
    replies = [
        client.chat_postMessage(channel=info["channel"], text=f"follow-up {i}", thread_ts=parent)["ts"]
        for i in range(3)
    ]
    # A reply to a reply lands in the same thread.
    nested = client.chat_postMessage(channel=info["channel"], text="nested", thread_ts=replies[0])
    assert nested["message"]["thread_ts"] == parent
    thread = client.conversations_replies(channel=info["channel"], ts=parent)
    assert [m["ts"] for m in thread["messages"]] == [parent, *replies, nested["ts"]]
    assert thread["messages"][0]["reply_count"] == 4
    assert all(m["parent_user_id"] == info["bot_user_id"] for m in thread["messages"][1:])
    history = client.conversations_history(channel=info["channel"])
    assert [m["ts"] for m in history["messages"]] == [parent]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=info["channel"], text="x", thread_ts="1000000000.000001")
    assert caught.value.response["error"] == "thread_not_found"


def test_history_pagination_with_the_client_iterator(client: WebClient, info: dict[str, Any]) -> None:
    posted = [client.chat_postMessage(channel=info["channel"], text=f"n{i}")["ts"] for i in range(7)]
    # slack_sdk's response iterates over pages, reusing one object: copy each page's data.
    pages = [dict(page.data) for page in client.conversations_history(channel=info["channel"], limit=3)]
    assert [len(page["messages"]) for page in pages] == [3, 3, 1]
    assert [page["has_more"] for page in pages] == [True, True, False]
    seen = [m["ts"] for page in pages for m in page["messages"]]
    assert seen == list(reversed(posted))
    window = client.conversations_history(channel=info["channel"], oldest=posted[1], latest=posted[4])
    assert [m["ts"] for m in window["messages"]] == [posted[3], posted[2]]
    inclusive = client.conversations_history(
        channel=info["channel"], oldest=posted[1], latest=posted[4], inclusive=True
    )
    assert len(inclusive["messages"]) == 4
    with pytest.raises(SlackApiError) as caught:
        client.conversations_history(channel=info["channel"], cursor="bm90LWEtY3Vyc29y")
    assert caught.value.response["error"] == "invalid_cursor"


def test_history_returns_metadata_only_when_asked(client: WebClient, info: dict[str, Any]) -> None:
    metadata = {"event_type": "socialwatch_alert", "event_payload": {"item_key": "fb:comment:9"}}
    client.chat_postMessage(channel=info["channel"], text="alert", metadata=metadata)
    plain = client.conversations_history(channel=info["channel"])["messages"][0]
    assert "metadata" not in plain
    full = client.conversations_history(channel=info["channel"], include_all_metadata=True)["messages"][0]
    assert full["metadata"] == metadata


def test_chat_update_keeps_an_edit_history(sandbox: Sandbox, client: WebClient, info: dict[str, Any]) -> None:
    ts = client.chat_postMessage(
        channel=info["channel"], text="v1", blocks=ALERT_BLOCKS, metadata={"event_type": "a", "event_payload": {"n": 1}}
    )["ts"]
    client.chat_update(channel=info["channel"], ts=ts, text="v2")
    updated = client.chat_update(
        channel=info["channel"],
        ts=ts,
        text="v3 sent by alex",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Sent"}}],
    )
    assert updated["ts"] == ts and updated["text"] == "v3 sent by alex"
    status, body = control(sandbox, "/_sandbox/slack/messages")
    assert status == 200
    (message,) = [m for m in body["messages"] if m["ts"] == ts]
    assert message["text"] == "v3 sent by alex"
    assert [v["text"] for v in message["history"]] == ["v1", "v2"]
    assert message["history"][0]["blocks"][0]["type"] == "header"
    assert message["metadata"] == {"event_type": "a", "event_payload": {"n": 1}}  # kept when not resent
    shown = client.conversations_history(channel=info["channel"])["messages"][0]
    assert shown["edited"]["ts"] > ts
    with pytest.raises(SlackApiError) as caught:
        client.chat_update(channel=info["channel"], ts="1000000000.000001", text="x")
    assert caught.value.response["error"] == "message_not_found"


def test_ephemeral_messages_are_marked_and_hidden_from_history(
    sandbox: Sandbox, client: WebClient, info: dict[str, Any]
) -> None:
    resp = client.chat_postEphemeral(
        channel=info["channel"], user=info["non_approver"]["id"], text="You are not allowed to send replies."
    )
    assert TS.match(resp["message_ts"])
    assert client.conversations_history(channel=info["channel"])["messages"] == []
    _, body = control(sandbox, "/_sandbox/slack/messages")
    (message,) = body["messages"]
    assert message["ephemeral"] is True and message["ephemeral_user"] == info["non_approver"]["id"]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postEphemeral(channel=info["channel"], user="U0NOBODY00", text="x")
    assert caught.value.response["error"] == "user_not_found"


def test_users_info_knows_the_approvers(client: WebClient, info: dict[str, Any]) -> None:
    for person in (info["approver"], info["non_approver"]):
        user = client.users_info(user=person["id"])["user"]
        assert user["id"] == person["id"] and user["name"] == person["name"]
        assert user["is_bot"] is False and user["team_id"] == info["team_id"]
    assert client.users_info(user=info["bot_user_id"])["user"]["is_bot"] is True
    with pytest.raises(SlackApiError) as caught:
        client.users_info(user="U0NOBODY00")
    assert caught.value.response["error"] == "user_not_found"


def test_views_open_needs_a_trigger_the_emulator_issued(client: WebClient) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Edit reply"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}],
    }
    with pytest.raises(SlackApiError) as caught:
        client.views_open(trigger_id="12345.98765.abcdef", view=view)
    assert caught.value.response["error"] == "invalid_trigger_id"


def test_files_upload_v2_shares_into_a_thread(sandbox: Sandbox, client: WebClient, info: dict[str, Any]) -> None:
    parent = client.chat_postMessage(channel=info["channel"], text="weekly digest")["ts"]
    content = "date,mentions\n2024-05-01,12\n"
    resp = client.files_upload_v2(
        channel=info["channel"],
        thread_ts=parent,
        content=content,
        filename="digest.csv",
        title="Digest",
        initial_comment="This week",
    )
    file = resp["file"]
    assert file["id"].startswith("F") and file["title"] == "Digest" and file["size"] == len(content)
    shared = file["shares"]["public"][info["channel"]][0]
    assert shared["thread_ts"] == parent
    _, files = control(sandbox, "/_sandbox/slack/files")
    (stored,) = files["files"]
    assert stored["sha256"] == hashlib.sha256(content.encode()).hexdigest() and stored["completed"] is True
    replies = client.conversations_replies(channel=info["channel"], ts=parent)["messages"]
    assert replies[1]["files"][0]["id"] == file["id"] and replies[1]["text"] == "This week"
    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/slack/files/{file['id']}/content", timeout=5) as got:
        assert got.read().decode() == content


def test_upload_without_bytes_cannot_complete(client: WebClient, info: dict[str, Any]) -> None:
    url = client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert url["upload_url"].endswith("/_sandbox/slack/upload/" + url["file_id"])
    with pytest.raises(SlackApiError) as caught:
        client.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id=info["channel"])
    assert caught.value.response["error"] == "file_upload_not_found"


def test_rate_limit_depletes_and_the_retry_handler_recovers(
    sandbox: Sandbox, client: WebClient, info: dict[str, Any]
) -> None:
    status, config = control(
        sandbox, "/_sandbox/slack/config", {"rate_limits": {"chat.postMessage": {"limit": 2, "window": 1}}}
    )
    assert status == 200 and config["rate_limits"]["chat.postMessage"]["limit"] == 2
    for i in range(2):
        client.chat_postMessage(channel=info["channel"], text=f"ok {i}")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=info["channel"], text="too many")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    # Other methods have their own budgets.
    assert client.auth_test()["ok"]
    patient = WebClient(
        token=info["bot_token"],
        base_url=sandbox.url + "/api/",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    assert patient.chat_postMessage(channel=info["channel"], text="after the wait")["ok"]
    assert [m.text for m in sandbox.slack.messages] == ["ok 0", "ok 1", "after the wait"]


def test_injected_faults(sandbox: Sandbox, client: WebClient, info: dict[str, Any]) -> None:
    sandbox.fault("slack", 500, path="/chat.postMessage")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=info["channel"], text="x")
    assert caught.value.response.status_code == 500
    sandbox.fault("slack", 503, path="/api/chat.postMessage")
    retrying = WebClient(
        token=info["bot_token"],
        base_url=sandbox.url + "/api/",
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel=info["channel"], text="made it")["ok"]
    sandbox.fault("slack", 429, path="/chat.update", seconds=7)
    ts = sandbox.slack.messages[-1].ts
    with pytest.raises(SlackApiError) as caught:
        client.chat_update(channel=info["channel"], ts=ts, text="y")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    sandbox.fault("slack", 401, path="/auth.test")
    with pytest.raises(SlackApiError) as caught:
        client.auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    sandbox.fault("slack", "malformed", path="/auth.test")
    with pytest.raises(Exception):  # noqa: B017 - slack_sdk raises whatever json parsing gives
        client.auth_test()
    sandbox.fault("slack", "timeout", path="/auth.test", seconds=2)
    impatient = WebClient(token=info["bot_token"], base_url=sandbox.url + "/api/", timeout=0.5)
    with pytest.raises(Exception):  # noqa: B017 - a socket timeout from urllib
        impatient.auth_test()
    assert [m.text for m in sandbox.slack.messages] == ["made it"]


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.doesNotExist")
    assert caught.value.response["error"] == "unknown_method"


def test_control_actions_need_a_socket_mode_client(sandbox: Sandbox, client: WebClient, info: dict[str, Any]) -> None:
    ts = client.chat_postMessage(channel=info["channel"], text="alert", blocks=ALERT_BLOCKS)["ts"]
    click = {"channel": info["channel"], "ts": ts, "action_id": "send_0", "user": info["approver"]}
    assert control(sandbox, "/_sandbox/slack/actions", click)[0] == 409
    assert control(sandbox, "/_sandbox/slack/actions", {**click, "action_id": "nope"})[0] == 404
    assert control(sandbox, "/_sandbox/slack/actions", {**click, "ts": "1000000000.000001"})[0] == 404
    assert control(sandbox, "/_sandbox/slack/actions", {"channel": info["channel"]})[0] == 400
    assert control(sandbox, "/_sandbox/slack/nothing-here")[0] == 404


def test_info_and_reset(sandbox: Sandbox, client: WebClient, info: dict[str, Any]) -> None:
    assert info["bot_token"].startswith("xoxb-") and info["app_token"].startswith("xapp-")
    assert info["channel"].startswith("C") and info["ops_channel"].startswith("C")
    assert info["approver"]["id"] != info["non_approver"]["id"]
    client.chat_postMessage(channel=info["ops_channel"], text="ops")
    status, _ = control(sandbox, "/_sandbox/reset", method="POST")
    assert status == 200
    assert control(sandbox, "/_sandbox/slack/messages")[1]["messages"] == []
