"""The Slack emulator's answers checked against Slack's published schema and recorded payloads.

Two references (see ../shared/data/api-specs/README.md):
- ``slack/slack-web-openapi.json`` (Swagger 2.0): required fields, types and id patterns. Its
  ``additionalProperties: false`` is stricter than Slack itself (it predates fields such as
  ``metadata``), so that one keyword is relaxed; everything else is enforced.
- ``slack/samples/*.json`` (unions of every field seen in real responses) and
  ``slack/payloads/*.json`` (real Socket Mode frames): every field the emulator sends must be
  a field Slack sends, with the same JSON type.
"""

from __future__ import annotations

import copy
import json
import queue
import urllib.request
from typing import Any

import jsonschema
import pytest
from conftest import API_SPECS
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from socialwatch.sandbox import Sandbox

SPECS = API_SPECS / "slack"

pytestmark = pytest.mark.skipif(
    not (SPECS / "slack-web-openapi.json").is_file(),
    reason=f"Slack API reference data not found at {SPECS} (the shared data folder beside the repository)",
)

#: Sub-trees that are free-form by design (Block Kit, app-defined metadata, view state).
FREE_FORM = {"blocks", "event_payload", "state", "values", "attachments", "private_metadata"}
#: Objects keyed by ids (a file's shares per channel): each value is checked against the sample's.
KEYED_BY_ID = {"public", "private"}


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    spec = json.loads((SPECS / "slack-web-openapi.json").read_text())
    return _relax(spec)


def _relax(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _relax(value) for key, value in node.items() if key != "additionalProperties"}
    if isinstance(node, list):
        return [_relax(item) for item in node]
    return node


def sample(name: str) -> Any:
    return json.loads((SPECS / "samples" / name).read_text())


def payload(name: str) -> Any:
    return json.loads((SPECS / "payloads" / name).read_text())


def check_swagger(spec: dict[str, Any], method: str, body: dict[str, Any], *, error: bool = False) -> None:
    operations = spec["paths"]["/" + method]
    (operation,) = operations.values()
    schema = operation["responses"]["default" if error else "200"]["schema"]
    resolver_schema = {**schema, "definitions": spec["definitions"]}
    jsonschema.Draft4Validator(resolver_schema).validate(body)


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "null"


def _merge(items: list[Any]) -> Any:
    """The union of a list's element shapes (samples list one example per variant)."""
    dicts = [item for item in items if isinstance(item, dict)]
    if not dicts:
        return items[0] if items else None
    merged: dict[str, Any] = {}
    for item in dicts:
        for key, value in item.items():
            merged.setdefault(key, value)
    return merged


def unknown_fields(ours: Any, reference: Any, path: str = "") -> list[str]:
    """Fields in ``ours`` that ``reference`` never has, or whose JSON type differs."""
    problems: list[str] = []
    if isinstance(ours, dict) and isinstance(reference, dict):
        for key, value in ours.items():
            where = f"{path}.{key}" if path else key
            if key not in reference:
                problems.append(f"{where}: not a field Slack sends")
                continue
            if key in FREE_FORM or value is None or reference[key] is None:
                continue
            if _type(value) != _type(reference[key]):
                problems.append(f"{where}: {_type(value)} where Slack sends {_type(reference[key])}")
                continue
            if key in KEYED_BY_ID and isinstance(value, dict):
                shape = _merge(list(reference[key].values()))
                for sub_key, sub_value in value.items():
                    problems.extend(unknown_fields(sub_value, shape, f"{where}.{sub_key}"))
                continue
            problems.extend(unknown_fields(value, reference[key], where))
    elif isinstance(ours, list) and isinstance(reference, list) and reference:
        shape = _merge(reference)
        for i, item in enumerate(ours):
            problems.extend(unknown_fields(item, shape, f"{path}[{i}]"))
    return problems


def same_shape(ours: Any, reference: Any, path: str = "") -> list[str]:
    """Like unknown_fields, and also every field of ``reference`` must be present."""
    problems = unknown_fields(ours, reference, path)
    if isinstance(ours, dict) and isinstance(reference, dict):
        for key, value in reference.items():
            where = f"{path}.{key}" if path else key
            if key not in ours:
                problems.append(f"{where}: missing")
            elif isinstance(value, dict) and key not in FREE_FORM:
                problems.extend(p for p in same_shape(ours[key], value, where) if p.endswith("missing"))
    return problems


@pytest.fixture(scope="module")
def info(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.info()["slack"]


@pytest.fixture(scope="module")
def web(sandbox: Sandbox, info: dict[str, Any]) -> WebClient:
    return WebClient(token=info["bot_token"], base_url=sandbox.url + "/api/", timeout=5)


BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*alert*"}},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "send", "value": "1", "text": {"type": "plain_text", "text": "Send"}}
        ],
    },
]
METADATA = {"event_type": "socialwatch_alert", "event_payload": {"item_key": "x:1"}}


@pytest.fixture(scope="module")
def thread(web: WebClient, info: dict[str, Any]) -> dict[str, Any]:
    """A posted alert with an edit and two thread replies, as the checks' material."""
    parent = web.chat_postMessage(channel=info["channel"], text="alert", blocks=BLOCKS, metadata=METADATA)
    web.chat_update(channel=info["channel"], ts=parent["ts"], text="alert (assigned)", blocks=BLOCKS)
    replies = [
        web.chat_postMessage(channel=info["channel"], text=f"follow-up {i}", thread_ts=parent["ts"]) for i in range(2)
    ]
    return {"parent": parent, "replies": replies}


def test_auth_test(swagger: dict[str, Any], web: WebClient) -> None:
    body = web.auth_test().data
    check_swagger(swagger, "auth.test", body)
    assert unknown_fields(body, sample("auth.test.json")) == []


def test_chat_post_message(swagger: dict[str, Any], thread: dict[str, Any]) -> None:
    body = thread["parent"].data
    check_swagger(swagger, "chat.postMessage", body)
    assert unknown_fields(body, sample("chat.postMessage.json")) == []
    reply = thread["replies"][0].data
    check_swagger(swagger, "chat.postMessage", reply)
    assert unknown_fields(reply, sample("chat.postMessage.json")) == []


def test_chat_update(swagger: dict[str, Any], web: WebClient, info: dict[str, Any], thread: dict[str, Any]) -> None:
    body = web.chat_update(channel=info["channel"], ts=thread["parent"]["ts"], text="alert (sent)").data
    schema_body = copy.deepcopy(body)
    # The 2020 schema types message.blocks as an object; Slack (and its own samples) send a list.
    schema_body["message"].pop("blocks", None)
    check_swagger(swagger, "chat.update", schema_body)
    assert isinstance(body["message"]["blocks"], list)
    assert unknown_fields(body, sample("chat.update.json")) == []


def test_chat_post_ephemeral(swagger: dict[str, Any], web: WebClient, info: dict[str, Any]) -> None:
    body = web.chat_postEphemeral(channel=info["channel"], user=info["approver"]["id"], text="only you").data
    check_swagger(swagger, "chat.postEphemeral", body)
    assert unknown_fields(body, sample("chat.postEphemeral.json")) == []


def test_conversations_history(
    swagger: dict[str, Any], web: WebClient, info: dict[str, Any], thread: dict[str, Any]
) -> None:
    web.chat_postMessage(channel=info["channel"], text="another")
    body = web.conversations_history(channel=info["channel"], limit=1, include_all_metadata=True).data
    assert body["response_metadata"]["next_cursor"]
    check_swagger(swagger, "conversations.history", body)
    assert unknown_fields(body, sample("conversations.history.json")) == []
    full = web.conversations_history(channel=info["channel"], include_all_metadata=True).data
    check_swagger(swagger, "conversations.history", full)
    assert unknown_fields(full, sample("conversations.history.json")) == []
    assert any("metadata" in m and "edited" in m and m.get("reply_count") == 2 for m in full["messages"])


def test_conversations_replies(
    swagger: dict[str, Any], web: WebClient, info: dict[str, Any], thread: dict[str, Any]
) -> None:
    body = web.conversations_replies(channel=info["channel"], ts=thread["parent"]["ts"]).data
    # The schema lists the parent's and a reply's shapes positionally (Draft 4 tuple items).
    check_swagger(swagger, "conversations.replies", {**body, "messages": body["messages"][:2]})
    assert unknown_fields(body, sample("conversations.replies.json")) == []


def test_users_info(swagger: dict[str, Any], web: WebClient, info: dict[str, Any]) -> None:
    for user in (info["approver"]["id"], info["bot_user_id"]):
        body = web.users_info(user=user).data
        check_swagger(swagger, "users.info", body)
        assert unknown_fields(body, sample("users.info.json")) == []


def test_apps_connections_open(sandbox: Sandbox, info: dict[str, Any]) -> None:
    app = WebClient(token=info["app_token"], base_url=sandbox.url + "/api/")
    body = app.apps_connections_open(app_token=info["app_token"]).data
    assert unknown_fields(body, sample("apps.connections.open.json")) == []


def test_files_upload(web: WebClient, info: dict[str, Any]) -> None:
    url = web.files_getUploadURLExternal(filename="report.txt", length=5).data
    assert unknown_fields(url, sample("files.getUploadURLExternal.json")) == []
    done = web.files_upload_v2(channel=info["channel"], content="hello", filename="report.txt", title="R").data
    done.pop("file")  # slack_sdk adds this convenience copy of files[0]
    assert unknown_fields(done, sample("files.completeUploadExternal.json")) == []


@pytest.mark.parametrize(
    ("method", "kwargs", "error"),
    [
        ("chat_postMessage", {"channel": "C0NOSUCHCHAN", "text": "x"}, "channel_not_found"),
        ("chat_postMessage", {"channel": "C0SBXALERT", "text": "x" * 40_001}, "msg_too_long"),
        ("chat_update", {"channel": "C0SBXALERT", "ts": "1000000000.000001", "text": "x"}, "message_not_found"),
        ("conversations_history", {"channel": "C0NOSUCHCHAN"}, "channel_not_found"),
        ("conversations_replies", {"channel": "C0SBXALERT", "ts": "1000000000.000001"}, "thread_not_found"),
    ],
)
def test_error_bodies(swagger: dict[str, Any], web: WebClient, method: str, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as caught:
        getattr(web, method)(**kwargs)
    body = caught.value.response.data
    assert body["error"] == error
    check_swagger(swagger, method.replace("_", ".", 1), body, error=True)


def test_invalid_auth_body(swagger: dict[str, Any], sandbox: Sandbox) -> None:
    with pytest.raises(SlackApiError) as caught:
        WebClient(token="xoxb-wrong", base_url=sandbox.url + "/api/").auth_test()
    check_swagger(swagger, "auth.test", caught.value.response.data, error=True)


def test_socket_mode_frames_match_the_recorded_ones(
    swagger: dict[str, Any], sandbox: Sandbox, web: WebClient, info: dict[str, Any], thread: dict[str, Any]
) -> None:
    frames: list[dict[str, Any]] = []
    requests: queue.Queue[SocketModeRequest] = queue.Queue()

    opened: list[dict[str, Any]] = []

    def on_request(client: SocketModeClient, req: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        if req.payload.get("type") == "block_actions":
            opened.append(
                web.views_open(
                    trigger_id=req.payload["trigger_id"],
                    view={
                        "type": "modal",
                        "callback_id": "edit",
                        "title": {"type": "plain_text", "text": "Edit"},
                        "submit": {"type": "plain_text", "text": "Send"},
                        "close": {"type": "plain_text", "text": "Cancel"},
                        "blocks": [
                            {
                                "type": "input",
                                "label": {"type": "plain_text", "text": "Reply"},
                                "element": {"type": "plain_text_input", "action_id": "text"},
                            }
                        ],
                    },
                ).data
            )
        requests.put(req)

    client = SocketModeClient(
        app_token=info["app_token"],
        web_client=WebClient(base_url=sandbox.url + "/api/"),
        on_message_listeners=[lambda raw: frames.append(json.loads(raw))],
    )
    client.socket_mode_request_listeners.append(on_request)
    client.connect()
    try:
        assert sandbox.slack.socket.wait_for_connections(1, 5)
        sandbox.slack.socket.disconnect("warning", "frame")  # a disconnect frame to compare, too
        assert sandbox.slack.socket.wait_for_connections(1, 5)
        body = json.dumps(
            {"channel": info["channel"], "ts": thread["parent"]["ts"], "action_id": "send", "user": info["approver"]}
        ).encode()
        request = urllib.request.Request(
            sandbox.url + "/_sandbox/slack/actions", data=body, headers={"content-type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=5).close()
        requests.get(timeout=5)
    finally:
        client.close()
    hello = next(f for f in frames if f.get("type") == "hello")
    assert same_shape(hello, payload("socket-mode-hello.json")) == []
    disconnect = next(f for f in frames if f.get("type") == "disconnect")
    assert unknown_fields(disconnect, payload("socket-mode-disconnect.json")) == []
    envelope = next(f for f in frames if f.get("type") == "interactive")
    recorded = payload("socket-mode-envelope-interactive-block_actions-modal.json")
    # The recorded interactive envelope has no retry fields; the emulator adds the events_api
    # ones because it redelivers unacked envelopes (see docs/sandbox.md, Slack section).
    retry_fields = {
        k: v for k, v in payload("socket-mode-envelope-events_api-app_mention.json").items() if k.startswith("retry_")
    }
    assert (
        same_shape(
            {k: v for k, v in envelope.items() if k != "payload"},
            {**{k: v for k, v in recorded.items() if k != "payload"}, **retry_fields},
        )
        == []
    )
    block_actions = envelope["payload"]
    # Every field of the real recorded block_actions payload is there (but the Enterprise Grid
    # ones: the sandbox is a plain workspace), and nothing Slack never sends.
    missing = [
        p for p in same_shape(block_actions, payload("block_actions-message-button.json")) if p.endswith(": missing")
    ]
    assert [p for p in missing if p not in ("team.enterprise_id: missing", "team.enterprise_name: missing")] == []
    assert unknown_fields(block_actions, sample("BlockActionPayload.json")) == []
    (view,) = opened
    check_swagger(swagger, "views.open", view)
    assert unknown_fields(view, sample("views.open.json")) == []
