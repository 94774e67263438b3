"""Socket Mode against the emulator with slack_sdk's own SocketModeClient: hello, clicks, acks,
modals, redelivery, disconnect and reconnect, load-balancing across connections."""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import builders
import pytest
from sandbox_support import control
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from socialwatch.sandbox import Sandbox

WAIT = 5.0

ALERT_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "text", "text": {"type": "mrkdwn", "text": "*@casey*: where is my parcel?"}},
    {
        "type": "actions",
        "block_id": "suggestions",
        "elements": [
            {
                "type": "button",
                "action_id": "send_0",
                "value": "item-7:0",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Send"},
            },
            {"type": "button", "action_id": "edit", "value": "item-7", "text": {"type": "plain_text", "text": "Edit"}},
        ],
    },
]
METADATA = {"event_type": "socialwatch_alert", "event_payload": {"item_key": "x:mention:7"}}


class App:
    """A SocketModeClient plus what it received; ``respond`` decides the ack for each request."""

    def __init__(self, sandbox: Sandbox, respond: Callable[[SocketModeRequest], Any] | None = None) -> None:
        info = sandbox.info()["slack"]
        self.requests: queue.Queue[SocketModeRequest] = queue.Queue()
        self.raw: list[dict[str, Any]] = []
        self.respond = respond or (lambda req: {})
        self.client = SocketModeClient(
            app_token=info["app_token"],
            web_client=WebClient(base_url=sandbox.url + "/api/", timeout=5),
            on_message_listeners=[lambda raw: self.raw.append(json.loads(raw))],
            ping_interval=1,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

    def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        answer = self.respond(req)
        if answer is not None:
            payload = answer or None
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))
        self.requests.put(req)

    def next(self, timeout: float = WAIT) -> SocketModeRequest:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def info(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.info()["slack"]


@pytest.fixture(scope="module")
def web(sandbox: Sandbox, info: dict[str, Any]) -> WebClient:
    return WebClient(token=info["bot_token"], base_url=sandbox.url + "/api/", timeout=5)


@pytest.fixture(scope="module")
def shared_app(sandbox: Sandbox) -> Iterator[App]:
    # One client for the module: slack_sdk's builtin client takes about a second to close.
    application = App(sandbox)
    application.client.connect()
    yield application
    application.close()


@pytest.fixture
def app(sandbox: Sandbox, shared_app: App) -> App:
    sandbox.reset()  # keeps open connections, as a real client would stay connected
    shared_app.respond = lambda req: {}
    while not shared_app.requests.empty():
        shared_app.requests.get_nowait()
    assert sandbox.slack.socket.wait_for_connections(1, WAIT)
    return shared_app


def delivery(sandbox: Sandbox, envelope_id: str) -> dict[str, Any]:
    _, body = control(sandbox, "/_sandbox/slack/acks")
    return next(d for d in body["deliveries"] if d["id"] == envelope_id)


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
    return builders.wait_until(predicate, timeout)


def post_alert(web: WebClient, info: dict[str, Any]) -> str:
    return web.chat_postMessage(channel=info["channel"], text="New alert", blocks=ALERT_BLOCKS, metadata=METADATA)["ts"]


def test_hello_frame_on_connect(app: App, info: dict[str, Any]) -> None:
    hello = wait_until(lambda: next((f for f in app.raw if f.get("type") == "hello"), None))
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": info["app_id"]}
    assert set(hello["debug_info"]) == {"host", "build_number", "approximate_connection_time"}


def test_click_delivers_block_actions_and_records_the_ack(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]
) -> None:
    ts = post_alert(web, info)
    status, result = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": info["channel"], "ts": ts, "action_id": "send_0", "user": info["approver"]},
    )
    assert status == 200
    req = app.next()
    assert req.type == "interactive" and req.envelope_id == result["envelope_id"]
    assert req.retry_attempt == 0 and req.retry_reason == ""
    payload = req.payload
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": info["approver"]["id"],
        "username": info["approver"]["name"],
        "name": info["approver"]["name"],
        "team_id": info["team_id"],
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": info["channel"],
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == info["channel"] and payload["team"]["id"] == info["team_id"]
    assert payload["api_app_id"] == info["app_id"]
    assert payload["trigger_id"] == result["trigger_id"]
    assert payload["response_url"].startswith(sandbox.url + "/_sandbox/slack/response_url/")
    assert payload["message"]["ts"] == ts and payload["message"]["metadata"] == METADATA
    assert payload["message"]["blocks"][1]["block_id"] == "suggestions"
    (action,) = payload["actions"]
    assert action["action_id"] == "send_0" and action["block_id"] == "suggestions"
    assert action["value"] == "item-7:0" and action["type"] == "button"
    assert action["text"]["text"] == "Send" and float(action["action_ts"]) > 0
    record = wait_until(
        lambda: delivery(sandbox, result["envelope_id"])["acked"] and delivery(sandbox, result["envelope_id"])
    )
    assert record["acked_in_time"] is True and 0 <= record["ack_latency"] <= 3
    assert record["action_id"] == "send_0" and record["user"] == info["approver"]["id"]


def test_value_override_and_wait_for_ack(sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]) -> None:
    ts = post_alert(web, info)
    status, result = control(
        sandbox,
        "/_sandbox/slack/actions",
        {
            "channel": info["channel"],
            "ts": ts,
            "action_id": "send_0",
            "value": "item-7:2",
            "user": {"id": "U0NEWPERSON", "name": "new.person"},
            "wait": 3,
        },
    )
    assert status == 200 and result["delivery"]["acked"] is True
    payload = app.next().payload
    assert payload["actions"][0]["value"] == "item-7:2"
    assert payload["user"]["id"] == "U0NEWPERSON"
    # The clicking user now exists for users.info, as a workspace member would.
    assert web.users_info(user="U0NEWPERSON")["user"]["name"] == "new.person"


def test_a_select_sends_its_option_and_state_and_an_old_version_can_be_clicked(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]
) -> None:
    select = {
        "type": "static_select",
        "action_id": "pick",
        "placeholder": {"type": "plain_text", "text": "Pick one"},
        "options": [
            {"text": {"type": "plain_text", "text": name}, "value": f"7:{name}"} for name in ("billing", "outage")
        ],
    }
    first = [{"type": "actions", "block_id": "row", "elements": [select]}]
    ts = web.chat_postMessage(channel=info["channel"], text="alert", blocks=first)["ts"]
    body = {"channel": info["channel"], "ts": ts, "action_id": "pick", "value": "7:outage"}
    assert control(sandbox, "/_sandbox/slack/actions", body)[0] == 200
    payload = app.next().payload
    (action,) = payload["actions"]
    chosen = {"text": {"type": "plain_text", "text": "outage"}, "value": "7:outage"}
    assert action["type"] == "static_select" and action["selected_option"] == chosen and "value" not in action
    assert action["placeholder"] == select["placeholder"]
    assert payload["state"]["values"] == {"row": {"pick": {"type": "static_select", "selected_option": chosen}}}
    assert control(sandbox, "/_sandbox/slack/actions", {**body, "value": "7:nothing"})[0] == 404
    # The message changes; a screen that has not caught up still shows (and clicks) the select.
    web.chat_update(channel=info["channel"], ts=ts, text="alert", blocks=[{"type": "divider"}])
    assert control(sandbox, "/_sandbox/slack/actions", body)[0] == 404
    assert control(sandbox, "/_sandbox/slack/actions", {**body, "version": 0})[0] == 200
    assert app.next().payload["actions"][0]["selected_option"] == chosen
    status, answer = control(sandbox, "/_sandbox/slack/actions", {**body, "version": 5})
    assert status == 404 and "no version 5 (0..1)" in json.dumps(answer)


def test_modal_open_update_and_submit(sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]) -> None:
    views: list[dict[str, Any]] = []

    def respond(req: SocketModeRequest) -> Any:
        payload = req.payload
        if payload["type"] == "block_actions":
            opened = web.views_open(
                trigger_id=payload["trigger_id"],
                view={
                    "type": "modal",
                    "callback_id": "edit_reply",
                    "private_metadata": "item-7",
                    "title": {"type": "plain_text", "text": "Edit reply"},
                    "submit": {"type": "plain_text", "text": "Send"},
                    "blocks": [
                        {
                            "type": "input",
                            "block_id": "reply",
                            "label": {"type": "plain_text", "text": "Reply"},
                            "element": {
                                "type": "plain_text_input",
                                "action_id": "text",
                                "multiline": True,
                                "initial_value": "Sorry about that!",
                                "max_length": 280,
                            },
                        }
                    ],
                },
            )["view"]
            views.append(opened)
            with pytest.raises(SlackApiError) as caught:  # a trigger works once
                web.views_open(trigger_id=payload["trigger_id"], view=opened | {"id": None})
            assert caught.value.response["error"] == "exchanged_trigger_id"
            return {}
        if payload["type"] == "view_submission":
            text = payload["view"]["state"]["values"]["reply"]["text"]["value"]
            if "refund" in text:
                return {"response_action": "errors", "errors": {"reply": "No promises of refunds"}}
            return {}
        return {}

    app.respond = respond
    ts = post_alert(web, info)
    _, click = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": info["channel"], "ts": ts, "action_id": "edit", "user": info["approver"]},
    )
    app.next()
    (view,) = views
    assert view["id"].startswith("V") and view["callback_id"] == "edit_reply"
    updated = web.views_update(
        view_id=view["id"],
        hash=view["hash"],
        view={
            "type": "modal",
            "callback_id": "edit_reply",
            "private_metadata": "item-7",
            "title": {"type": "plain_text", "text": "Edit reply (X)"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": view["blocks"],
        },
    )["view"]
    assert updated["title"]["text"] == "Edit reply (X)" and updated["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as caught:
        web.views_update(view_id=view["id"], hash=view["hash"], view=updated | {"id": None})
    assert caught.value.response["error"] == "hash_conflict"

    status, first = control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {"trigger_id": click["trigger_id"], "values": {"text": "We will refund you"}, "wait": 3},
    )
    assert status == 200 and first["delivery"]["acked"] is True
    submission = app.next().payload
    assert submission["type"] == "view_submission"
    assert submission["view"]["id"] == view["id"] and submission["view"]["private_metadata"] == "item-7"
    assert submission["view"]["state"]["values"] == {
        "reply": {"text": {"type": "plain_text_input", "value": "We will refund you"}}
    }
    assert submission["user"]["id"] == info["approver"]["id"]
    _, listed = control(sandbox, "/_sandbox/slack/views")
    (state,) = listed["views"]
    assert state["status"] == "open" and state["errors"] == {"reply": "No promises of refunds"}

    status, second = control(
        sandbox,
        "/_sandbox/slack/views/submit",
        {"view_id": view["id"], "values": {"reply": {"text": "Sorry, we're on it."}}, "wait": 3},
    )
    assert status == 200 and second["delivery"]["acked"] is True
    assert app.next().payload["view"]["state"]["values"]["reply"]["text"]["value"] == "Sorry, we're on it."
    _, listed = control(sandbox, "/_sandbox/slack/views")
    assert listed["views"][0]["status"] == "closed"
    assert control(sandbox, "/_sandbox/slack/views/submit", {"view_id": view["id"], "values": {}})[0] == 409


def test_expired_trigger(sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]) -> None:
    control(sandbox, "/_sandbox/slack/config", {"trigger_ttl": 0})
    ts = post_alert(web, info)
    control(sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ts, "action_id": "edit"})
    trigger = app.next().payload["trigger_id"]
    with pytest.raises(SlackApiError) as caught:
        web.views_open(
            trigger_id=trigger, view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}
        )
    assert caught.value.response["error"] == "expired_trigger_id"


def test_unacked_envelopes_are_redelivered_then_given_up(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]
) -> None:
    control(sandbox, "/_sandbox/slack/config", {"ack_timeout": 0.3, "max_redeliveries": 1})
    silent = app
    silent.respond = lambda req: None  # never acks
    ts = post_alert(web, info)
    _, result = control(
        sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ts, "action_id": "send_0"}
    )
    first, retry = silent.next(), silent.next()
    assert first.retry_attempt == 0 and retry.retry_attempt == 1 and retry.retry_reason == "timeout"
    assert retry.envelope_id != first.envelope_id
    assert retry.payload["actions"] == first.payload["actions"]
    record = wait_until(
        lambda: delivery(sandbox, result["envelope_id"])["gave_up"] and delivery(sandbox, result["envelope_id"])
    )
    assert record["acked"] is False and len(record["attempts"]) == 2
    with pytest.raises(queue.Empty):
        silent.next(timeout=0.6)  # bounded: no third attempt


def test_a_late_ack_of_the_retry_counts(sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]) -> None:
    control(sandbox, "/_sandbox/slack/config", {"ack_timeout": 0.3, "max_redeliveries": 1})
    app.respond = lambda req: {} if req.retry_attempt == 1 else None
    ts = post_alert(web, info)
    _, result = control(
        sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ts, "action_id": "send_0"}
    )
    app.next()
    retry = app.next()
    record = wait_until(
        lambda: delivery(sandbox, result["envelope_id"])["acked"] and delivery(sandbox, result["envelope_id"])
    )
    assert record["acked_envelope_id"] == retry.envelope_id
    assert [a["retry_attempt"] for a in record["attempts"]] == [0, 1]


def connections_opened(sandbox: Sandbox) -> int:
    return len(sandbox.requests_log("slack", path="/api/apps.connections.open"))


@pytest.mark.parametrize("mode", ["frame", "close"])
def test_disconnect_makes_the_client_reconnect(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any], mode: str
) -> None:
    control(sandbox, "/_sandbox/slack/config", {"disconnect_grace": 0.5})
    before = connections_opened(sandbox)
    old = [c["id"] for c in sandbox.slack.socket.connections()]
    status, body = control(sandbox, "/_sandbox/slack/socket/disconnect", {"mode": mode})
    assert status == 200 and body["disconnected"] == 1
    wait_until(lambda: any(c["id"] not in old and not c["draining"] for c in sandbox.slack.socket.connections()))
    assert connections_opened(sandbox) > before  # the client asked apps.connections.open for a new URL
    if mode == "frame":
        assert any(f.get("type") == "disconnect" and f.get("reason") == "refresh_requested" for f in app.raw)
    wait_until(lambda: all(c["id"] not in old for c in sandbox.slack.socket.connections()))
    ts = post_alert(web, info)
    _, result = control(
        sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ts, "action_id": "send_0", "wait": 3}
    )
    assert result["delivery"]["acked"] is True
    assert app.next().payload["container"]["message_ts"] == ts


def test_deliveries_are_spread_over_connections(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]
) -> None:
    second = App(sandbox)
    second.client.connect()
    try:
        assert sandbox.slack.socket.wait_for_connections(2, WAIT)
        ts = post_alert(web, info)
        for _ in range(4):
            status, _ = control(
                sandbox,
                "/_sandbox/slack/actions",
                {"channel": info["channel"], "ts": ts, "action_id": "send_0", "wait": 3},
            )
            assert status == 200
        _, body = control(sandbox, "/_sandbox/slack/acks")
        used = {d["attempts"][0]["connection"] for d in body["deliveries"]}
        assert len(used) == 2 and all(d["acked"] for d in body["deliveries"])
        assert app.requests.qsize() == 2 and second.requests.qsize() == 2
    finally:
        second.close()


def test_connection_tickets_are_single_use(sandbox: Sandbox, web: WebClient, info: dict[str, Any]) -> None:
    url = WebClient(token=info["app_token"], base_url=sandbox.url + "/api/").apps_connections_open(
        app_token=info["app_token"]
    )["url"]
    with ws_connect(url, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    with pytest.raises(InvalidStatus) as caught, ws_connect(url, open_timeout=5):
        pass
    assert caught.value.response.status_code == 401


def test_response_url_replaces_the_original(sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]) -> None:
    done = threading.Event()

    def respond(req: SocketModeRequest) -> Any:
        body = json.dumps({"replace_original": True, "text": "Handled by alex"}).encode()
        request = urllib.request.Request(
            req.payload["response_url"], data=body, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
        done.set()
        return {}

    app.respond = respond
    ts = post_alert(web, info)
    control(sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ts, "action_id": "send_0"})
    assert done.wait(WAIT)
    message = web.conversations_history(channel=info["channel"])["messages"][0]
    assert message["text"] == "Handled by alex" and "blocks" not in message
    _, body = control(sandbox, "/_sandbox/slack/messages")
    assert body["messages"][0]["history"][0]["text"] == "New alert"


def test_clicks_on_ephemeral_messages_and_selects(
    sandbox: Sandbox, app: App, web: WebClient, info: dict[str, Any]
) -> None:
    ephemeral_ts = web.chat_postEphemeral(
        channel=info["channel"],
        user=info["approver"]["id"],
        text="Undo?",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "undo",
                        "value": "r-1",
                        "text": {"type": "plain_text", "text": "Undo"},
                    }
                ],
            }
        ],
    )["message_ts"]
    status, _ = control(
        sandbox, "/_sandbox/slack/actions", {"channel": info["channel"], "ts": ephemeral_ts, "action_id": "undo"}
    )
    assert status == 200
    payload = app.next().payload
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    ts = web.chat_postMessage(
        channel=info["channel"],
        text="Dismiss?",
        blocks=[
            {
                "type": "section",
                "block_id": "why",
                "text": {"type": "mrkdwn", "text": "Reason?"},
                "accessory": {
                    "type": "static_select",
                    "action_id": "reason",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Spam"}, "value": "spam"},
                        {"text": {"type": "plain_text", "text": "Handled elsewhere"}, "value": "elsewhere"},
                    ],
                },
            }
        ],
    )["ts"]
    control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": info["channel"], "ts": ts, "action_id": "reason", "value": "elsewhere"},
    )
    (action,) = app.next().payload["actions"]
    assert action["type"] == "static_select" and action["block_id"] == "why"
    assert action["selected_option"]["value"] == "elsewhere"
    status, _ = control(
        sandbox,
        "/_sandbox/slack/actions",
        {"channel": info["channel"], "ts": ts, "action_id": "reason", "value": "nope"},
    )
    assert status == 404
