"""The sandbox core: lifecycle, routing, control API, fault injection, request log, config, transport,
and the rule that the sandbox imports nothing of the product."""

from __future__ import annotations

import ast
import importlib.util
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from builders import wait_until

import socialwatch.sandbox
from socialwatch.sandbox import Sandbox
from socialwatch.sandbox.server import classify
from socialwatch.sources.transport import RewritingAdapter, make_session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.reset()


def test_info_over_http_matches_python_and_names_every_credential(sandbox):
    info = requests.get(f"{sandbox.url}/_sandbox/info", timeout=5).json()
    assert info == sandbox.info()
    assert info["base_url"] == sandbox.url and sandbox.url.startswith("http://127.0.0.1:")
    assert set(info["x"]) >= {"bearer_token", "user_id", "handle", "api_base"}
    assert set(info["facebook"]) >= {"page_id", "page_token", "graph_version", "graph_base"}
    if info["slack"] is not None:
        assert set(info["slack"]) >= {"bot_token", "app_token", "channel", "approver", "non_approver"}


def test_two_sandboxes_on_port_zero_are_independent(sandbox):
    with Sandbox(slack=False) as other:
        assert other.port != sandbox.port
        other.add_mention("only here")
        assert len(other.x_timeline()["mentions"]) == 1
        assert sandbox.x_timeline()["mentions"] == []
        assert other.info()["slack"] is None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{other.url}/_sandbox/health", timeout=2)


def test_routing_by_path():
    assert classify("/2/users/me") == "x"
    assert classify("/v21.0/me/feed") == classify("/v19.0/") == "facebook"
    assert classify("/api/chat.postMessage") == "slack"
    assert classify("/_sandbox/slack/messages") == "slack-control"
    assert classify("/_sandbox/faults") == "control"
    assert classify("/") == classify("/static/app.js") == "web"
    assert classify("/v2") == classify("/wp-admin") == "unknown"


def test_unknown_paths_are_404_json(sandbox):
    response = requests.get(f"{sandbox.url}/nothing/here", timeout=5)
    assert response.status_code == 404 and "error" in response.json()
    x_unknown = requests.get(f"{sandbox.url}/2/nope", headers={"Authorization": "Bearer x"}, timeout=5)
    assert x_unknown.status_code == 404 and x_unknown.json()["errors"][0]["code"] == 34
    assert requests.post(f"{sandbox.url}/_sandbox/nope", timeout=5).status_code == 404


def test_request_log_filters_and_redacts(sandbox, x_client, graph):
    x_client.get_me(user_auth=False)
    graph.get_object("me")
    requests.get(f"{sandbox.url}/_sandbox/info", timeout=5)  # control traffic is not logged
    everything = requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json()
    assert [(e["target"], e["method"], e["path"], e["status"]) for e in everything] == [
        ("x", "GET", "/2/users/me", 200),
        ("facebook", "GET", "/v21.0/me", 200),
    ]
    assert everything[1]["query"]["access_token"] == "***"
    only_x = requests.get(f"{sandbox.url}/_sandbox/requests", params={"target": "x"}, timeout=5).json()
    assert [e["path"] for e in only_x] == ["/2/users/me"]
    after = requests.get(f"{sandbox.url}/_sandbox/requests", params={"after": everything[0]["seq"]}, timeout=5)
    assert [e["target"] for e in after.json()] == ["facebook"]
    assert requests.delete(f"{sandbox.url}/_sandbox/requests", timeout=5).ok
    assert sandbox.requests_log() == []


def test_reset_clears_content_faults_log_and_settings(sandbox, x_client):
    sandbox.add_mention("hi")
    sandbox.add_comment("hello")
    sandbox.set_x_tier("free")
    sandbox.set_facebook_token("expired")
    sandbox.fault("x", 500, path="/2/tweets", count=5)
    x_client.get_me(user_auth=False)
    assert sandbox.requests_log() and requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).json() == {"ok": True}
    assert sandbox.requests_log() == [] and requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json() == []
    assert sandbox.x_timeline()["mentions"] == [] and sandbox.facebook_timeline()["posts"] == []
    assert sandbox.x_timeline()["tier"] == "pro" and sandbox.facebook_timeline()["token_state"] == "valid"
    assert x_client.get_me(user_auth=False).data.username == "SandboxBrand"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"target": "myspace", "fault": 500}, "target"),
        ({"target": "x", "fault": 418}, "fault"),
        ({"target": "x", "fault": 500, "count": 0}, "count"),
        ({"target": "x", "fault": "timeout", "seconds": "soon"}, "seconds"),
        (["not", "objects"], "object"),
    ],
)
def test_fault_requests_are_validated(sandbox, body, message):
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=5)
    assert response.status_code == 400 and message in response.json()["error"]


def test_fault_count_path_prefix_and_method(sandbox, x_client):
    created = requests.post(
        f"{sandbox.url}/_sandbox/faults",
        timeout=5,
        json={"target": "x", "path": "/2/users/me", "fault": 503, "count": 2, "method": "GET"},
    )
    assert created.status_code == 201 and created.json()["count"] == 2
    sandbox.add_mention("unaffected path")
    brand = sandbox.info()["x"]["user_id"]
    assert x_client.get_users_mentions(brand, user_auth=False).meta["result_count"] == 1
    statuses = [
        requests.get(
            f"{sandbox.url}/2/users/me", timeout=5, headers={"Authorization": f"Bearer {x_client.bearer_token}"}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json() == []
    log = sandbox.requests_log("x", path="/2/users/me")
    assert [(e["status"], e["fault"]) for e in log] == [(503, "503"), (503, "503"), (200, None)]


def test_timeout_holds_then_closes_without_a_response(sandbox):
    sandbox.fault("x", "timeout", path="/2/users/me", seconds=3)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sandbox.url}/2/users/me", timeout=0.3)
    sandbox.fault("x", "timeout", path="/2/users/me", seconds=0.2)
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get(f"{sandbox.url}/2/users/me", timeout=5)
    assert not isinstance(caught.value, requests.ReadTimeout)  # closed by the server, not timed out
    sandbox.fault("slack", "disconnect", path="/api/auth.test")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/api/auth.test", timeout=5)


def test_slack_faults_are_delegated_when_the_emulator_is_present(sandbox):
    if sandbox.slack is None:
        pytest.skip("the Slack emulator is not available")
    sandbox.fault("slack", 429, path="chat.postMessage", seconds=2)  # prefix without /api works too
    response = requests.post(
        f"{sandbox.url}/api/chat.postMessage",
        timeout=5,
        headers={"Authorization": f"Bearer {sandbox.info()['slack']['bot_token']}"},
    )
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert response.json()["ok"] is False


def test_stop_releases_requests_held_by_a_timeout_fault():
    import threading

    sandbox = Sandbox(slack=False).start()
    sandbox.fault("x", "timeout", path="/2/", seconds=60)
    outcome: list[BaseException] = []
    done = threading.Event()

    def call() -> None:
        try:
            requests.get(f"{sandbox.url}/2/users/me", timeout=30)
        except requests.RequestException as exc:
            outcome.append(exc)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    wait_until(lambda: sandbox.requests_log("x"), 5.0, "the request reaching the sandbox")
    sandbox.stop()
    assert done.wait(10) and isinstance(outcome[0], requests.ConnectionError)


def test_write_config_is_a_valid_socialwatch_config(sandbox, tmp_path, monkeypatch):
    config_module = pytest.importorskip("socialwatch.config.load")
    for name in list(os.environ):
        if name.startswith("SANDBOX_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = sandbox.write_config(tmp_path / "sw" / "socialwatch.toml")
    config = config_module.load_config(path)
    info = sandbox.info()
    assert config.x.api_base == sandbox.url and config.facebook.graph_base == sandbox.url
    account = config.x.accounts[0]
    assert account.bearer_token.get_secret_value() == info["x"]["bearer_token"]
    assert account.access_token_secret.get_secret_value() == info["x"]["access_token_secret"]
    assert account.user_id == info["x"]["user_id"] and account.handle == info["x"]["handle"]
    page = config.facebook.pages[0]
    assert page.page_id == info["facebook"]["page_id"]
    assert page.page_token.get_secret_value() == info["facebook"]["page_token"]
    assert config.facebook.graph_version == info["facebook"]["graph_version"]
    assert config.daemon.poll_interval <= 5
    if info["slack"]:
        assert config.slack.api_base == sandbox.url + "/api/"
        assert config.slack.bot_token.get_secret_value() == info["slack"]["bot_token"]
        assert config.slack.approvers == [info["slack"]["approver"]["id"]]
    secrets_dir = path.parent / "socialwatch-credentials"
    for secret in secrets_dir.iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert info["x"]["bearer_token"] not in path.read_text()  # only references in the TOML


def test_transport_rewrites_origins_and_enforces_a_default_timeout(sandbox):
    session = make_session({"https://api.twitter.com": sandbox.url}, timeout=0.3)
    adapter = session.get_adapter("https://api.twitter.com")
    assert isinstance(adapter, RewritingAdapter)
    assert adapter.rewrite_url("https://api.twitter.com/2/users/me?x=1") == f"{sandbox.url}/2/users/me?x=1"
    assert adapter.rewrite_url("https://example.com/2/users/me") is None
    token = sandbox.info()["x"]["bearer_token"]
    ok = session.get("https://api.twitter.com/2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.url.startswith(sandbox.url)
    sandbox.fault("x", "timeout", path="/2/users/me", seconds=3)
    with pytest.raises(requests.ReadTimeout):  # no timeout passed: the adapter's default applies
        session.get("https://api.twitter.com/2/users/me")


def test_transport_never_resends_a_post_that_reached_the_server(sandbox, x_client):
    session = make_session({"https://api.twitter.com": sandbox.url}, timeout=2, retries=3)
    sandbox.fault("x", "disconnect", path="/2/tweets")
    token = sandbox.info()["x"]["bearer_token"]
    with pytest.raises(requests.ConnectionError):
        session.post(
            "https://api.twitter.com/2/tweets", json={"text": "once"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert len(sandbox.requests_log("x", method="POST")) == 1
    assert sandbox.posted_x() == []


def test_serve_forever_prints_the_url_writes_config_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "cfg" / "socialwatch.toml"
    code = "import sys; from socialwatch.sandbox import serve_forever; serve_forever('127.0.0.1', 0, sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code, str(config)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("socialwatch sandbox listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[-1].strip()
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json() == {"ok": True}
        wait_until(config.exists, 5.0, "the written config")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "api_base" in config.read_text()


def test_concurrent_writers_and_readers_keep_state_consistent(sandbox, x_client):
    from concurrent.futures import ThreadPoolExecutor

    brand = sandbox.info()["x"]["user_id"]

    def write(worker: int) -> list[str]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{sandbox.url}/_sandbox/x/mentions",
                    timeout=5,
                    json={"author": {"handle": f"w{worker}"}, "text": f"note {worker}-{i}"},
                ).json()["id"]
                for i in range(40)
            ]

    def read(_: int) -> int:
        return sum(1 for _ in range(20) if x_client.get_users_mentions(brand, user_auth=False).meta)

    with ThreadPoolExecutor(max_workers=10) as pool:
        writes = [pool.submit(write, worker) for worker in range(6)]
        reads = [pool.submit(read, worker) for worker in range(4)]
        ids = [mention for future in writes for mention in future.result()]
        assert [future.result() for future in reads] == [20] * 4
    assert len(set(ids)) == 240
    assert sorted(t["id"] for t in sandbox.x_timeline()["mentions"]) == sorted(ids)


def test_the_sandbox_imports_nothing_of_the_product():
    package = Path(socialwatch.sandbox.__file__).parent
    reached = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [importlib.util.resolve_name("." * node.level + (node.module or ""), here)]
            else:
                continue
            reached += [
                f"{module}: {name}"
                for name in names
                if name.split(".")[0] == "socialwatch" and not name.startswith("socialwatch.sandbox")
            ]
    assert reached == []
