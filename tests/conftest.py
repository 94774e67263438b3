"""Shared fixtures: one sandbox per test module, and the real client libraries pointed at it.

Tests of a platform boundary use ``sandbox`` (module-scoped, port 0) with unmodified
tweepy, facebook-sdk and slack_sdk clients over loopback; nothing is mocked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from socialwatch.sandbox import Sandbox
from socialwatch.sources.transport import install_tweepy_session, make_graph_api

#: The shared published schemas and recorded payloads; read in place, never copied into the repo.
API_SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "api-specs"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox shared by the tests of one module; call ``sandbox.reset()`` for a clean slate."""
    with Sandbox() as running:
        yield running


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    """The module's sandbox, reset before the test."""
    sandbox.reset()
    return sandbox


class FakeClock:
    """A settable clock for sandboxes whose time a test controls (windows, expiry)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture
def clocked_sandbox() -> Iterator[tuple[Sandbox, FakeClock]]:
    """A sandbox of its own on a fake clock (function-scoped: starting one takes milliseconds)."""
    clock = FakeClock()
    with Sandbox(clock=clock, slack=False) as running:
        yield running, clock


def tweepy_client(sandbox: Sandbox, *, auth: str = "bearer", timeout: float = 5.0, **kwargs: Any) -> Any:
    """A real ``tweepy.Client`` reaching ``sandbox``.

    ``auth``: ``"bearer"`` (OAuth 2.0 user context), ``"app"`` (app-only bearer) or ``"oauth1"``.
    """
    import tweepy

    info = sandbox.info()["x"]
    if auth == "oauth1":
        client = tweepy.Client(
            consumer_key=info["consumer_key"],
            consumer_secret=info["consumer_secret"],
            access_token=info["access_token"],
            access_token_secret=info["access_token_secret"],
            **kwargs,
        )
    else:
        token = info["app_bearer_token"] if auth == "app" else info["bearer_token"]
        client = tweepy.Client(bearer_token=token, **kwargs)
    return install_tweepy_session(client, sandbox.url, timeout=timeout)


def graph_api(
    sandbox: Sandbox,
    *,
    timeout: float = 5.0,
    version: str = "v21.0",
    token: str | None = None,
    app_secret: str | None = None,
) -> Any:
    """A real ``facebook.GraphAPI`` reaching ``sandbox`` with the page token."""
    info = sandbox.info()["facebook"]
    return make_graph_api(
        token if token is not None else info["page_token"],
        sandbox.url,
        version=version,
        timeout=timeout,
        app_secret=app_secret,
    )


@pytest.fixture
def make_tweepy(sandbox: Sandbox) -> Callable[..., Any]:
    """``make_tweepy(auth="oauth1", timeout=1.0, wait_on_rate_limit=True)`` -> tweepy.Client."""
    return lambda **kwargs: tweepy_client(sandbox, **kwargs)


@pytest.fixture
def make_graph(sandbox: Sandbox) -> Callable[..., Any]:
    """``make_graph(version="v19.0", app_secret=...)`` -> facebook.GraphAPI."""
    return lambda **kwargs: graph_api(sandbox, **kwargs)


@pytest.fixture
def x_client(sandbox: Sandbox) -> Any:
    """tweepy.Client with the brand's OAuth 2.0 user-context bearer token (pass ``user_auth=False``)."""
    return tweepy_client(sandbox)


@pytest.fixture
def graph(sandbox: Sandbox) -> Any:
    """facebook.GraphAPI with the page token, version v21.0."""
    return graph_api(sandbox)


@pytest.fixture
def slack_client(sandbox: Sandbox) -> Any:
    """slack_sdk.WebClient with the sandbox's bot token (skips when the Slack emulator is absent)."""
    if sandbox.slack is None:
        pytest.skip("the Slack emulator (socialwatch/sandbox/slack/) is not available")
    from slack_sdk import WebClient

    return WebClient(token=sandbox.info()["slack"]["bot_token"], base_url=sandbox.url + "/api/", timeout=5)


@pytest.fixture(scope="session")
def api_specs() -> Path:
    """The shared api-specs folder; skips the test when this checkout has none."""
    if not API_SPECS.is_dir():
        pytest.skip(f"published API schemas not found at {API_SPECS} (the shared data folder is absent)")
    return API_SPECS


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def slack(fresh_sandbox: Sandbox, slack_client: Any) -> tuple[Any, dict[str, Any]]:
    """(slack_sdk.WebClient with the bot token, the workspace info) on a freshly reset sandbox."""
    return slack_client, fresh_sandbox.info()["slack"]
