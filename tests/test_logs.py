"""Log redaction: real tweepy, facebook-sdk and slack_sdk calls at DEBUG must leak no secret.

The clients talk to a tiny HTTP server on loopback started here (the platform emulators of
``socialwatch/sandbox`` are not needed: only what the libraries *log* matters). A control run
without redaction proves the libraries really do print these secrets, so the redaction test
could fail.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import socket
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import facebook
import pytest
import requests
import tweepy
from requests.adapters import HTTPAdapter
from slack_sdk import WebClient

from socialwatch.ops import logs

# Fake secrets in the shapes the platforms use, plus plain ones only exact matching can catch.
SECRETS = {
    "x_bearer": "AAAAAAAAAAAAAAAAAAAAAFakeBearer%2Fsw0test%3DQ9x7Lr2mN4kT",
    "x_consumer_key": "fakeConsumerKey4sWtest",
    "x_consumer_secret": "fakeConsumerSecret9zQ8sWtestSecretValue0",
    "x_access_token": "1234567890-FakeAccessTokenSwTest00aa",
    "x_access_token_secret": "fakeAccessTokenSecretSwTest77",
    "fb_page_token": "EAAFakePageTokenForSocialwatchTests0123456789abcdef",
    "fb_app_secret": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "slack_bot": "xoxb-000000000001-000000000002-FakeBotTokenSwTest",
    "slack_app": "xapp-1-A000FAKE-000000000003-fakeapptokenswtest",
    "slack_user": "xoxp-000000000001-000000000004-FakeUserTokenSwTest",
}
# Obtained at run time (e.g. an exchanged long-lived token) and only then registered.
LATE_TOKEN = "lateTokenFromExchangeSwTest42"


class _Api(BaseHTTPRequestHandler):
    """Answers just enough of X v2, Graph and Slack for the clients to be happy."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path.startswith("/2/users/") and path.endswith("/mentions"):
            self._reply(
                {
                    "data": [
                        {
                            "id": "1700000000000000001",
                            "text": "@brand my order never arrived",
                            "edit_history_tweet_ids": ["1700000000000000001"],
                        }
                    ],
                    "meta": {"result_count": 1, "newest_id": "1700000000000000001"},
                }
            )
        elif path == "/2/tweets":
            self._reply(
                {
                    "data": {
                        "id": "1700000000000000002",
                        "text": "sorry!",
                        "edit_history_tweet_ids": ["1700000000000000002"],
                    }
                },
                201,
            )
        elif path.endswith("/oauth/access_token"):
            self._reply({"access_token": LATE_TOKEN, "token_type": "bearer", "expires_in": 5183944})
        elif path.startswith("/v21.0/"):
            self._reply({"data": [{"id": "111_222", "message": "hello", "created_time": "2024-01-01T00:00:00+0000"}]})
        elif path == "/api/apps.connections.open":
            self._reply({"ok": True, "url": "ws://127.0.0.1:9/link/?ticket=t&app_id=A000FAKE"})
        elif path.startswith("/api/"):
            self._reply({"ok": True, "channel": "C0FAKE", "ts": "1700000000.000100", "user_id": "U0FAKE"})
        else:
            self._reply({"error": "not found"}, 404)

    do_GET = do_POST = _route


@pytest.fixture(scope="module")
def api_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _ToLoopback(HTTPAdapter):
    """tweepy hard-codes https://api.twitter.com: send its requests to the local server instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        request.url = (request.url or "").replace("https://api.twitter.com", self.base, 1)
        kwargs["timeout"] = 5
        return super().send(request, **kwargs)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exercise_clients(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The calls the daemon makes, through the real client libraries, with logging on."""
    log = logging.getLogger("socialwatch.test")

    app_only = tweepy.Client(bearer_token=SECRETS["x_bearer"])
    app_only.session.mount("https://api.twitter.com", _ToLoopback(base))
    mentions = app_only.get_users_mentions(id="42")
    assert mentions.data and mentions.data[0].id == 1700000000000000001

    user = tweepy.Client(
        consumer_key=SECRETS["x_consumer_key"],
        consumer_secret=SECRETS["x_consumer_secret"],
        access_token=SECRETS["x_access_token"],
        access_token_secret=SECRETS["x_access_token_secret"],
    )
    user.session.mount("https://api.twitter.com", _ToLoopback(base))
    posted = user.create_tweet(text="Sorry to hear that!", in_reply_to_tweet_id="1700000000000000001")
    assert posted.data["id"] == "1700000000000000002"

    monkeypatch.setattr(facebook, "FACEBOOK_GRAPH_URL", base + "/")
    graph = facebook.GraphAPI(access_token=SECRETS["fb_page_token"], timeout=5)
    graph.version = "v21.0"  # facebook-sdk's own check rejects current versions
    proof = hmac.new(SECRETS["fb_app_secret"].encode(), SECRETS["fb_page_token"].encode(), hashlib.sha256).hexdigest()
    feed = graph.get_connections("1234567890", "feed", appsecret_proof=proof)
    assert feed["data"][0]["id"] == "111_222"
    exchanged = graph.extend_access_token("1234", SECRETS["fb_app_secret"])
    assert exchanged["access_token"] == LATE_TOKEN
    logs.add_secret(exchanged["access_token"])
    log.debug("exchanged the page token, new one is %s", exchanged["access_token"])

    # A fault: the Graph API is unreachable; the exception text carries the URL with the token.
    monkeypatch.setattr(facebook, "FACEBOOK_GRAPH_URL", f"http://127.0.0.1:{_closed_port()}/")
    try:
        graph.get_object("me")
    except requests.ConnectionError:
        log.exception("facebook poll failed")
    else:
        pytest.fail("the closed port accepted a connection")

    slack = WebClient(token=SECRETS["slack_bot"], base_url=base + "/api/", timeout=5)
    assert slack.chat_postMessage(channel="C0FAKE", text="Negative mention from @someone")["ok"]
    assert slack.auth_test(token=SECRETS["slack_user"])["ok"]
    opened = WebClient(base_url=base + "/api/", timeout=5).apps_connections_open(app_token=SECRETS["slack_app"])
    assert opened["url"].startswith("ws://")

    # Our own mistakes are covered as well.
    log.info("config says bot_token=%s", SECRETS["slack_bot"])
    log.warning("retrying with consumer secret %s", SECRETS["x_consumer_secret"])


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    logs.teardown_logging()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _assert_clean(text: str, where: str) -> None:
    leaked = [name for name, value in [*SECRETS.items(), ("late", LATE_TOKEN)] if value in text]
    assert not leaked, f"secrets {leaked} leaked into {where}"


def test_control_the_libraries_really_log_secrets(
    api_base: str, monkeypatch: pytest.MonkeyPatch, clean_logging: None
) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    exercise_clients(api_base, monkeypatch)
    raw = buffer.getvalue()
    # Without redaction these appear verbatim: tweepy's Authorization header, oauthlib's parameters,
    # urllib3's request line, the exception text and our own careless lines. (slack_sdk masks its
    # own Authorization header; its tokens leak only through what we log.)
    for name in (
        "x_bearer",
        "x_consumer_key",
        "x_access_token",
        "fb_page_token",
        "fb_app_secret",
        "slack_bot",
        "x_consumer_secret",
    ):
        assert SECRETS[name] in raw, f"control: {name} never reached the log, the redaction test proves nothing"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_any_output_at_debug(
    fmt: str,
    api_base: str,
    monkeypatch: pytest.MonkeyPatch,
    clean_logging: None,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    logs.setup_logging("DEBUG", fmt, [v for k, v in SECRETS.items()], stream=stream)
    caplog.set_level(logging.DEBUG)
    exercise_clients(api_base, monkeypatch)
    out = stream.getvalue()

    # The libraries did log at DEBUG, the fault was logged, and redaction happened.
    assert "Making API request" in out and "Sending a request" in out and "/oauth/access_token" in out
    assert "facebook poll failed" in out and "ConnectionError" in out
    assert out.count(logs.REDACTED) >= 10
    _assert_clean(out, "the log stream")
    _assert_clean(caplog.text, "another handler on the root logger")  # redaction happens at record creation
    captured = capfd.readouterr()
    _assert_clean(captured.out + captured.err, "stdout/stderr")

    if fmt == "json":
        lines = out.splitlines()
        assert lines
        for line in lines:
            entry = json.loads(line)
            assert {"ts", "level", "logger", "message"} <= entry.keys()
        failures = [json.loads(line) for line in lines if "facebook poll failed" in line]
        assert failures and "[REDACTED]" in failures[0]["exc"]


def test_uncaught_thread_exception_and_warnings_are_redacted(clean_logging: None) -> None:
    stream = io.StringIO()
    logs.setup_logging("INFO", "text", [SECRETS["fb_page_token"]], stream=stream)

    def boom() -> None:
        raise RuntimeError(f"Graph said no for access_token={SECRETS['fb_page_token']}")

    worker = threading.Thread(target=boom, name="poll-facebook")
    worker.start()
    worker.join()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"token {SECRETS['fb_page_token']} expires soon", UserWarning, stacklevel=1)
    out = stream.getvalue()
    assert "uncaught exception in thread poll-facebook" in out
    assert "expires soon" in out
    _assert_clean(out, "the log stream")


def test_records_made_outside_the_factory_are_redacted_by_the_handler(clean_logging: None) -> None:
    stream = io.StringIO()
    handler = logs.setup_logging("INFO", "text", [SECRETS["slack_bot"]], stream=stream)
    record = logging.makeLogRecord(
        {"name": "x", "levelno": logging.INFO, "levelname": "INFO", "msg": "token %s", "args": (SECRETS["slack_bot"],)}
    )
    handler.handle(record)
    assert "token [REDACTED]" in stream.getvalue()


def test_setup_replaces_the_previous_configuration(clean_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.setup_logging("INFO", "text", [SECRETS["slack_app"]], stream=first)
    logs.setup_logging("WARNING", "text", [SECRETS["slack_bot"]], stream=second)
    log = logging.getLogger("socialwatch.test")
    log.info("not shown at WARNING")
    log.warning("plain value %s", "fakeConsumerKey4sWtest-not-registered")
    assert first.getvalue() == ""
    assert "not shown" not in second.getvalue()
    assert "fakeConsumerKey4sWtest-not-registered" in second.getvalue()  # only registered values are masked
    assert len([h for h in logging.getLogger().handlers if getattr(h, "_socialwatch_handler", False)]) == 1


def test_journald_text_has_priority_prefix_and_no_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_logging: None
) -> None:
    with open(tmp_path / "journal", "w+", encoding="utf-8") as stream:
        info = (tmp_path / "journal").stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        logs.setup_logging("INFO", "text", [], stream=stream)
        logging.getLogger("socialwatch.daemon").error("source x failed\nsecond line")
        stream.flush()
        assert (tmp_path / "journal").read_text() == "<3>socialwatch.daemon: source x failed\n<3>second line\n"


def test_redirected_stderr_keeps_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_logging: None
) -> None:
    # JOURNAL_STREAM inherited, but stderr now points elsewhere (e.g. `socialwatch run 2>file`).
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    with open(tmp_path / "file.log", "w+", encoding="utf-8") as stream:
        logs.setup_logging("INFO", "text", [], stream=stream)
        logging.getLogger("socialwatch.daemon").warning("hello")
        stream.flush()
    line = (tmp_path / "file.log").read_text()
    assert not line.startswith("<") and "WARNING socialwatch.daemon: hello" in line
    assert line[:4].isdigit()  # starts with the year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Headers: {'Authorization': 'Bearer abcdefghijklmnop123'}", "Headers: {'Authorization': 'Bearer [REDACTED]'}"),
        (
            '"GET /v21.0/me?fields=id&access_token=abc123&appsecret_proof=ff00 HTTP/1.1"',
            '"GET /v21.0/me?fields=id&access_token=[REDACTED]&appsecret_proof=[REDACTED] HTTP/1.1"',
        ),
        (
            'Authorization: OAuth oauth_consumer_key="ck", oauth_nonce="n", oauth_token="t"',
            "Authorization: OAuth [REDACTED]",
        ),
        ("[('oauth_token', 'tok'), ('status', 'hi')]", "[('oauth_token', '[REDACTED]'), ('status', 'hi')]"),
        ("{'token': 'xoxb-1-2-abc', 'channel': 'C1'}", "{'token': '[REDACTED]', 'channel': 'C1'}"),
        ("posting with xoxb-123-456-abcdef then xapp-1-A1-2-ff", "posting with [REDACTED] then [REDACTED]"),
        ("base: POST&u&oauth_consumer_key%3Dck123", "base: POST&u&oauth_consumer_key%3D[REDACTED]"),
        # Not secrets: pagination cursors and prose stay readable.
        (
            '{"next_token": "7140dibdnow9c7btw4", "pagination_token": "b26v89c19zqg8o3f"}',
            '{"next_token": "7140dibdnow9c7btw4", "pagination_token": "b26v89c19zqg8o3f"}',
        ),
        ("the bearer token was rejected (401)", "the bearer token was rejected (401)"),
    ],
)
def test_token_shapes(text: str, expected: str) -> None:
    assert logs.Redactor().redact(text) == expected


def test_known_secret_variants_and_short_values() -> None:
    redactor = logs.Redactor(["p@ss/w0rd+x", "abc"])
    assert redactor.redact("raw p@ss/w0rd+x, url p%40ss%2Fw0rd%2Bx, form p%40ss%2Fw0rd%2Bx") == (
        "raw [REDACTED], url [REDACTED], form [REDACTED]"
    )
    assert redactor.redact("abc stays: too short to be a real secret") == "abc stays: too short to be a real secret"
