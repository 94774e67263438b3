"""The sandbox web view: file serving, the no-innerHTML rule, and a real headless Chromium that
loads the page, sees a seeded alert, clicks its button and watches the click reach a Socket Mode
client (driven over the Chrome DevTools Protocol with ``websockets``)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import queue
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.sync.client import connect as ws_connect

from socialwatch.sandbox import Sandbox, web
from socialwatch.sandbox.http import Request

STATIC = Path(web.__file__).with_name("static")


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_index_and_assets_are_served_with_a_strict_csp(sandbox: Sandbox) -> None:
    status, headers, body = fetch(sandbox.url + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="/static/app.js"' in body
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert b'src="/static/instagram.js"' in body
    for name, kind in (("app.js", "text/javascript"), ("instagram.js", "text/javascript"), ("app.css", "text/css")):
        status, headers, _ = fetch(f"{sandbox.url}/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind)


@pytest.mark.parametrize(
    "path", ["/static/../server.py", "/static/.hidden", "/static/missing.js", "/static/%2e%2e/http.py", "/nope"]
)
def test_nothing_else_is_served(path: str) -> None:
    assert web.handle(Request("GET", path), None).status == 404


def test_only_reads_are_allowed() -> None:
    assert web.handle(Request("POST", "/"), None).status == 405


def test_page_script_never_builds_html_from_strings() -> None:
    # The page's safety rule: text goes in through textContent, never through HTML parsing.
    scripts = sorted(STATIC.glob("*.js"))
    assert {p.name for p in scripts} >= {"app.js", "instagram.js"}
    for script in scripts:
        code = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("//"))
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, (script.name, sink)


# -- headless Chromium ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HOSTILE = "<script>window.__pwned = 1</script> <img src=x onerror=window.__pwned=2> order #123 never came"


class Cdp:
    """A minimal Chrome DevTools Protocol session over one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"page never satisfied: {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre."""
        box = self.wait_for(f"""(() => {{
            const node = document.querySelector({json.dumps(selector)});
            if (!node) return null;
            node.scrollIntoView({{block: "center"}});
            const r = node.getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Cdp]:
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--remote-debugging-port=0",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-extensions",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LANG": "en_US.UTF-8"},
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        page = None
        while page is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                page = next((t for t in json.loads(resp.read()) if t["type"] == "page"), None)
            if page is None:
                if time.monotonic() > deadline:
                    pytest.fail("chromium opened no page")
                time.sleep(0.05)
        with ws_connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            yield Cdp(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def shoot(cdp: Cdp, path: Path) -> None:
    """A PNG of the page (kept under tmp_path; copied to $SOCIALWATCH_SCREENSHOT_DIR if set)."""
    png = base64.b64decode(cdp.send("Page.captureScreenshot", {"format": "png"})["data"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    path.write_bytes(png)
    if os.environ.get("SOCIALWATCH_SCREENSHOT_DIR"):
        shutil.copy(path, Path(os.environ["SOCIALWATCH_SCREENSHOT_DIR"]) / path.name)


@pytest.mark.browser
def test_click_in_the_browser_reaches_the_socket_mode_app(sandbox: Sandbox, chromium: Cdp, tmp_path: Path) -> None:
    sandbox.reset()
    info = sandbox.info()["slack"]
    bot = WebClient(token=info["bot_token"], base_url=sandbox.url + "/api/", timeout=5)
    clicks: queue.Queue[dict[str, Any]] = queue.Queue()
    submissions: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_request(client: SocketModeClient, req: SocketModeRequest) -> None:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        payload = req.payload
        if payload.get("type") == "block_actions" and payload["actions"][0]["action_id"] == "edit":
            bot.views_open(
                trigger_id=payload["trigger_id"],
                view={
                    "type": "modal",
                    "callback_id": "edit_reply",
                    "private_metadata": payload["container"]["message_ts"],
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
                                "initial_value": "Sorry, ",
                            },
                        }
                    ],
                },
            )
        elif payload.get("type") == "view_submission":
            submissions.put(payload)
        elif payload.get("type") == "block_actions":
            clicks.put(payload)
            bot.chat_update(
                channel=payload["channel"]["id"],
                ts=payload["container"]["message_ts"],
                text="Reply sent",
                blocks=[
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": f":white_check_mark: Reply sent by <@{payload['user']['id']}>",
                        },
                    }
                ],
            )

    app = SocketModeClient(app_token=info["app_token"], web_client=WebClient(base_url=sandbox.url + "/api/"))
    app.socket_mode_request_listeners.append(on_request)
    app.connect()
    try:
        assert sandbox.slack.socket.wait_for_connections(1, 5)
        sandbox.add_mention("@brand my order #123 never came", handle="casey_c", name="Casey")
        sandbox.add_comment("Great service today, thanks!", name="Robin Visitor")
        sandbox.add_ig_comment(HOSTILE, username="ig_casey")
        sandbox.add_ig_dm("", username="ig_casey", attachments=[{"type": "image"}])
        escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        ts = bot.chat_postMessage(
            channel=info["channel"],
            text="Negative mention from @casey_c",
            blocks=[
                {"type": "header", "text": {"type": "plain_text", "text": "Negative mention on X"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*Casey* (@casey_c): {escaped}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "sentiment -0.71 · SLA 30 min"}]},
                {"type": "divider"},
                {
                    "type": "actions",
                    "block_id": "suggestions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "send_0",
                            "value": "x:1:0",
                            "style": "primary",
                            "text": {"type": "plain_text", "text": "Send suggestion 1"},
                        },
                        {
                            "type": "button",
                            "action_id": "dismiss",
                            "value": "x:1",
                            "style": "danger",
                            "text": {"type": "plain_text", "text": "Dismiss"},
                        },
                    ],
                },
            ],
        )["ts"]

        chromium.send("Runtime.enable")
        chromium.send("Page.enable")
        chromium.send("Page.navigate", {"url": sandbox.url + "/"})
        chromium.wait_for(f"""!!document.querySelector('article[data-ts="{ts}"] button[data-action-id="send_0"]')""")
        chromium.wait_for(
            "document.querySelector('#x-view') && document.querySelector('#x-view').textContent.includes('never came')"
        )
        chromium.wait_for("document.querySelector('#fb-view').textContent.includes('Great service today')")
        chromium.wait_for("document.querySelector('#ig-view').textContent.includes('order #123 never came')")
        assert chromium.evaluate("document.querySelector('#ig-view').textContent.includes('ig_casey: [image]')")
        assert chromium.evaluate("document.querySelectorAll('#ig-view script, #ig-view img').length") == 0
        # The hostile customer text is shown as text, and nothing in it ran or became markup.
        card = f'article[data-ts="{ts}"]'
        assert chromium.evaluate(f"document.querySelector('{card}').textContent.includes('<script>')")
        assert chromium.evaluate(f"document.querySelectorAll('{card} script, {card} img').length") == 0
        assert chromium.evaluate("window.__pwned === undefined")

        shoot(chromium, tmp_path / "sandbox-web-alert.png")

        chromium.click(f'{card} button[data-action-id="send_0"]')
        payload = clicks.get(timeout=10)
        assert payload["actions"][0]["action_id"] == "send_0" and payload["actions"][0]["value"] == "x:1:0"
        assert payload["user"]["id"] == info["approver"]["id"]  # the page clicks as the approver by default
        assert payload["container"]["message_ts"] == ts
        (delivery,) = sandbox.slack.socket.deliveries()
        assert sandbox.slack.socket.delivery(delivery["id"]).done.wait(5)
        (delivery,) = sandbox.slack.socket.deliveries()
        assert delivery["acked"] and delivery["acked_in_time"]

        # The update the app made shows up, and the click's ack is reported on the card.
        chromium.wait_for(f"document.querySelector('{card}').textContent.includes('Reply sent by')")
        chromium.wait_for(f"document.querySelector('{card} .click-status.ok') !== null")
        assert chromium.evaluate(f"document.querySelector('{card} details.history') !== null")
        errors = [e for e in chromium.events if e.get("method") == "Runtime.exceptionThrown"]
        assert errors == []

        chromium.click(f"{card} details.history summary")  # show the replaced alert too
        shoot(chromium, tmp_path / "sandbox-web-clicked.png")

        # Edit & send: the app opens a modal, the person types in it and submits.
        second = bot.chat_postMessage(
            channel=info["channel"],
            text="Question from @robin",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": "Do you ship to Norway?"}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "edit",
                            "value": "x:2",
                            "text": {"type": "plain_text", "text": "Edit & send"},
                        }
                    ],
                },
            ],
        )["ts"]
        chromium.click(f'article[data-ts="{second}"] button[data-action-id="edit"]')
        chromium.wait_for("!!document.querySelector('form.modal textarea')")
        chromium.evaluate(
            "(() => { const t = document.querySelector('form.modal textarea');"
            " t.focus(); t.setSelectionRange(t.value.length, t.value.length); })()"
        )
        chromium.send("Input.insertText", {"text": "we ship to Norway in 3 days."})
        shoot(chromium, tmp_path / "sandbox-web-modal.png")
        chromium.click("form.modal button[type=submit]")
        submitted = submissions.get(timeout=10)
        assert submitted["view"]["private_metadata"] == second
        assert submitted["view"]["state"]["values"]["reply"]["text"]["value"] == "Sorry, we ship to Norway in 3 days."
        chromium.wait_for("document.getElementById('modal-layer').hidden === true")
    finally:
        app.close()
