"""socialwatch's sandbox: local emulators of the X API v2, the Graph API and Slack on one port.

``Sandbox`` is what tests and the demo use::

    with Sandbox() as sandbox:            # loopback, port 0
        sandbox.add_mention("my order never arrived", handle="jo")
        client = tweepy.Client(bearer_token=sandbox.info()["x"]["bearer_token"])
        install_tweepy_session(client, sandbox.url)

Every convenience method goes through the same state as the JSON control API under
``/_sandbox/`` (documented in docs/sandbox.md).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from socialwatch.sandbox.configfile import write_config as _write_config
from socialwatch.sandbox.graph import GraphEmulator
from socialwatch.sandbox.server import PortUnavailable, SandboxServer
from socialwatch.sandbox.x import XEmulator

if TYPE_CHECKING:
    from socialwatch.sandbox.slack import SlackEmulator

__all__ = ["PortUnavailable", "Sandbox", "control", "serve_forever", "start_sandbox"]

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def control(base: str, path: str, body: Any = None, *, timeout: float = 10.0) -> Any:
    """A call to a running sandbox's control API at ``base`` (GET, or POST with a JSON body); its JSON answer."""
    request = urllib.request.Request(
        base + path,
        method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _when(value: datetime | str | float | None) -> str | float | None:
    return value.isoformat() if isinstance(value, datetime) else value


class Sandbox:
    """The emulators behind one HTTP server; a context manager."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] = time.time, slack: bool = True
    ) -> None:
        if host not in _LOOPBACK:
            log.warning("the sandbox will listen on %s, reachable from other machines", host)
        self._server = SandboxServer(host, port, clock=clock, owner=self, slack=slack)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def x(self) -> XEmulator:
        """The X emulator."""
        return self._server.x

    @property
    def graph(self) -> GraphEmulator:
        """The Graph emulator."""
        return self._server.graph

    @property
    def slack(self) -> SlackEmulator | None:
        """The Slack emulator, or None when it is not available."""
        return self._server.slack

    def info(self) -> dict[str, Any]:
        """What ``GET /_sandbox/info`` returns: base URL, fake credentials and ids."""
        return self._server.info()

    def reset(self) -> None:
        """All state back to the start (content, posted items, faults, request log, limits, tier, tokens)."""
        self._server.reset()

    def write_config(self, path: str | Path, *, poll_interval: float = 3) -> Path:
        """A complete socialwatch config for this sandbox, with its fake secrets beside it (mode 0600)."""
        return _write_config(self.info(), path, poll_interval=poll_interval)

    # -- X -------------------------------------------------------------------------------------

    def add_mention(
        self,
        text: str,
        *,
        handle: str = "customer",
        name: str | None = None,
        followers: int = 100,
        in_reply_to: str | None = None,
        created_at: datetime | str | float | None = None,
        lang: str | None = None,
    ) -> str:
        """A tweet mentioning the brand; returns its id. Without ``lang``, the emulator tags it as X would."""
        author: dict[str, Any] = {"handle": handle, "followers": followers}
        if name:
            author["name"] = name
        return self.x.add_mention(
            {"author": author, "text": text, "in_reply_to": in_reply_to, "created_at": _when(created_at), "lang": lang}
        ).id

    def add_mentions(self, specs: list[dict[str, Any]] | int) -> list[str]:
        """Many mentions at once: control-API objects, or a count of generated ones."""
        if isinstance(specs, int):
            specs = [{"text": f"sandbox mention {i}", "author": {"handle": f"bulk{i % 50}"}} for i in range(specs)]
        return [tweet.id for tweet in self.x.add_mentions(specs)]

    def add_tweet(self, text: str, *, handle: str | None = None) -> str:
        """A tweet by the brand (default) or by ``handle``; something to reply to."""
        return self.x.add_tweet({"text": text, "author": {"handle": handle} if handle else None}).id

    def add_dm(
        self,
        text: str,
        *,
        handle: str = "customer",
        name: str | None = None,
        followers: int = 100,
        created_at: datetime | str | float | None = None,
    ) -> str:
        """A direct message to the brand; returns the DM event id."""
        sender: dict[str, Any] = {"handle": handle, "followers": followers}
        if name:
            sender["name"] = name
        return self.x.add_dm({"sender": sender, "text": text, "created_at": _when(created_at)}).id

    def posted_x(self) -> list[dict[str, Any]]:
        """Everything the brand posted on X (replies, tweets, DMs) with the ids they answer."""
        return self.x.posted_items()

    def x_timeline(self) -> dict[str, Any]:
        return self.x.timeline()

    def set_x_tier(self, tier: str) -> None:
        """``pro`` (default), ``basic`` or ``free`` (no DMs, no search)."""
        self.x.set_tier(tier)

    def set_x_rate_limit(self, endpoint: str, *, limit: int | None = None, window: float | None = None) -> None:
        """E.g. ``("GET /2/users/:id/mentions", limit=2, window=1.0)``; ``"*"`` for every endpoint."""
        self.x.set_rate_limit(endpoint, limit, window)

    def set_x_search_lag(self, seconds: float) -> None:
        """Recent search finds a new tweet only ``seconds`` after it was posted (30-45 s on a bad day)."""
        self.x.set_search_lag(seconds)

    def revoke_x_token(self, revoked: bool = True) -> None:
        """Make every X credential fail with 401 (or work again)."""
        self.x.set_revoked(revoked)

    # -- Facebook ------------------------------------------------------------------------------

    def add_comment(
        self,
        text: str,
        *,
        name: str = "Visitor",
        post_id: str | None = None,
        parent_id: str | None = None,
        created_time: datetime | str | float | None = None,
        **shape: Any,
    ) -> str:
        """A visitor's comment (on ``post_id``, by default the page's latest post); returns its id.
        ``shape``: ``from_hidden=True``, ``attachments=[{"type": "image"}]``, ``by_page=True``."""
        return self.graph.add_comment(
            {
                "author": {"name": name},
                "text": text,
                "post_id": post_id,
                "parent_id": parent_id,
                "created_time": _when(created_time),
                **shape,
            }
        ).id

    def add_visitor_post(
        self,
        text: str,
        *,
        name: str = "Visitor",
        tagged: bool = False,
        created_time: datetime | str | float | None = None,
        **shape: Any,
    ) -> str:
        """A visitor's post on the page (or, ``tagged=True``, elsewhere tagging the page); ``shape`` as for
        ``add_comment``."""
        return self.graph.add_post(
            {"author": {"name": name}, "text": text, "tagged": tagged, "created_time": _when(created_time), **shape}
        ).id

    def add_page_post(self, text: str, *, created_time: datetime | str | float | None = None) -> str:
        """A post by the page itself."""
        return self.graph.add_post({"by_page": True, "text": text, "created_time": _when(created_time)}).id

    def add_message(
        self, text: str, *, name: str = "Visitor", created_time: datetime | str | float | None = None, **shape: Any
    ) -> str:
        """A visitor's Messenger message to the page; returns the message id. ``shape`` as for ``add_comment``
        (``text=""`` with ``attachments``: an image-only message)."""
        return self.graph.add_message(
            {"sender": {"name": name}, "text": text, "created_time": _when(created_time), **shape}
        ).id

    def add_one_of_each(self) -> None:
        """One new item on every stream a sandbox config polls: a mention, a DM, a comment, a visitor post, a
        post tagging the page, a Messenger message, and an Instagram comment, mention and DM."""
        self.add_mention("hello @brand")
        self.add_dm("hi there")
        self.add_comment("nice post")
        self.add_visitor_post("visitor says hi")
        self.add_visitor_post("tagging you", tagged=True)
        self.add_message("hello page")
        self.add_ig_comment("love this")
        self.add_ig_mention("wearing it today")
        self.add_ig_dm("hi brand")

    def posted_facebook(self) -> list[dict[str, Any]]:
        """Everything the page posted (comment replies, Messenger messages) with the ids they answer."""
        return self.graph.posted_items()

    def facebook_timeline(self) -> dict[str, Any]:
        return self.graph.timeline()

    def set_facebook_token(self, state: str) -> None:
        """``valid``, ``expired`` (190/463) or ``invalidated`` (190/460)."""
        self.graph.set_token_state(state)

    def set_facebook_rate_limit(
        self, *, limit: int | None = None, window: float | None = None, code: int | None = None
    ) -> None:
        """The page's call budget; ``code`` is the error on exhaustion (4, 17, 32 or 613)."""
        self.graph.set_rate_limit(limit, window, code)

    def set_facebook_app_secret(self, secret: str | None) -> None:
        """With a secret set, every call needs a matching ``appsecret_proof``."""
        self.graph.set_app_secret(secret)

    def set_facebook_hide_from(self, mode: str) -> None:
        """``none``, ``visitors`` (Graph withholds every visitor's ``from``) or ``all`` (the page's own too)."""
        self.graph.set_hide_from(mode)

    # -- Instagram (the page's linked professional account) ------------------------------------

    def add_ig_comment(
        self,
        text: str,
        *,
        username: str | None = "customer",
        media_id: str | None = None,
        parent_id: str | None = None,
        created_time: datetime | str | float | None = None,
    ) -> str:
        """A comment on the brand's media (default: its latest), or a reply (``parent_id``); ``username=None``
        makes one whose author Graph does not show. Returns its id."""
        author = {"username": username} if username is not None else None
        return self.graph.add_ig_comment(
            {
                "author": author,
                "text": text,
                "media_id": media_id,
                "parent_id": parent_id,
                "created_time": _when(created_time),
            }
        ).id

    def add_ig_media(self, caption: str, *, created_time: datetime | str | float | None = None) -> str:
        """A post of the brand's own on Instagram; returns the media id."""
        return self.graph.add_ig_media({"caption": caption, "created_time": _when(created_time)}).id

    def add_ig_mention(
        self, text: str, *, username: str = "customer", created_time: datetime | str | float | None = None
    ) -> str:
        """Someone's media that tags (and @mentions) the brand; returns the media id."""
        return self.graph.add_ig_mention(
            {"author": {"username": username}, "text": text, "created_time": _when(created_time)}
        ).id

    def add_ig_dm(
        self,
        text: str,
        *,
        username: str = "customer",
        attachments: list[dict[str, Any]] | None = None,
        created_time: datetime | str | float | None = None,
    ) -> str:
        """An Instagram DM to the brand; returns the message id."""
        return self.graph.add_ig_dm(
            {
                "sender": {"username": username},
                "text": text,
                "attachments": attachments,
                "created_time": _when(created_time),
            }
        ).id

    def posted_instagram(self) -> list[dict[str, Any]]:
        """Everything the brand posted on Instagram (comment replies, DMs, private replies)."""
        return self.graph.posted_instagram()

    def instagram_timeline(self) -> dict[str, Any]:
        return self.graph.instagram_timeline()

    def set_instagram_permissions(
        self, *, scopes: list[str] | None = None, grant: list[str] | None = None, revoke: list[str] | None = None
    ) -> list[str]:
        """The page token's permissions, e.g. ``revoke=["instagram_manage_messages"]``."""
        return self.graph.set_scopes(scopes=scopes, grant=grant, revoke=revoke)

    def set_instagram_human_agent(self, allowed: bool = True) -> None:
        """Whether the app has the Human Agent permission (DM replies for 7 days with the HUMAN_AGENT tag)."""
        self.graph.set_human_agent(allowed)

    # -- faults and the request log --------------------------------------------------------------

    def fault(
        self,
        target: str,
        fault: str | int,
        *,
        path: str = "",
        count: int = 1,
        seconds: float | None = None,
        method: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """The next ``count`` matching requests get ``fault`` (same as ``POST /_sandbox/faults``)."""
        body: dict[str, Any] = {
            "target": target,
            "fault": str(fault),
            "path": path,
            "count": count,
            "seconds": seconds,
            "method": method,
            **options,
        }
        return self._server.faults.add({key: value for key, value in body.items() if value is not None}).to_json()

    def clear_faults(self) -> None:
        self._server.faults.clear()

    def requests_log(
        self, target: str | None = None, *, method: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        """The API requests received, oldest first (``GET /_sandbox/requests``)."""
        return self._server.log.list(target=target, method=method, path=path)

    def clear_requests(self) -> None:
        self._server.log.clear()


def start_sandbox(
    host: str = "127.0.0.1", port: int = 8900, *, fallback: bool = True, echo: Callable[[str], None] = print
) -> Sandbox:
    """A started sandbox on ``port``; when the port is taken and ``fallback``, on a free one (said through
    ``echo``). Without ``fallback`` (the port was asked for), ``PortUnavailable`` says why."""
    try:
        return Sandbox(host, port).start()
    except PortUnavailable as exc:
        if not fallback or port == 0:
            raise
        echo(f"({exc.strerror}; using a free port instead)")
        return Sandbox(host, 0).start()


def serve_forever(
    host: str = "127.0.0.1", port: int = 8900, write_config: Path | str | None = None, *, fallback: bool = True
) -> None:
    """Run a sandbox until SIGINT/SIGTERM, printing its URL and credentials (the ``socialwatch sandbox`` command)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    sandbox = start_sandbox(host, port, fallback=fallback, echo=lambda line: print(line, flush=True))
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sandbox:
            print(f"socialwatch sandbox listening on {sandbox.url}", flush=True)
            print(f"  web view:     {sandbox.url}/", flush=True)
            print(f"  control API:  {sandbox.url}/_sandbox/info", flush=True)
            if write_config is not None:
                written = sandbox.write_config(write_config)
                print(f"  config:       {written}  (run: socialwatch run --config {written})", flush=True)
            print(json.dumps(sandbox.info(), indent=2), flush=True)
            stop.wait()
            print("socialwatch sandbox stopping", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
