"""The sandbox's one HTTP port: routing by path, fault injection, the request log and the control API.

``/2/...`` X, ``/vNN.N/...`` Graph, ``/api/...`` Slack, ``/_sandbox/...`` control,
``/`` and ``/static/...`` the web view. Emulators are plain objects that keep the
``Emulator`` protocol (``http.py``); only this module touches sockets.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from socialwatch.sandbox import web
from socialwatch.sandbox.faults import (
    AFTER_WRITE_FAULTS,
    DEFAULT_TIMEOUT_SECONDS,
    FaultInjector,
    FaultRule,
    FaultSpecError,
)
from socialwatch.sandbox.graph import GraphEmulator
from socialwatch.sandbox.http import Emulator, Headers, Request, Response
from socialwatch.sandbox.x import XEmulator

if TYPE_CHECKING:
    from socialwatch.sandbox.slack import SlackEmulator

log = logging.getLogger(__name__)

_GRAPH_PATH = re.compile(r"^/v\d{1,2}\.\d{1,2}(/|$)")
_REDACTED_PARAMS = ("access_token", "appsecret_proof", "token")
LOG_CAPACITY = 20_000


@dataclass
class LogEntry:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, Any]
    target: str
    status: int | None
    fault: str | None
    duration_ms: float


class RequestLog:
    """The API requests received (not control or web-view traffic), oldest first. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=LOG_CAPACITY)
        self._seq = itertools.count(1)

    def add(self, req: Request, target: str, status: int | None, fault: str | None, started: float) -> None:
        query: dict[str, Any] = {}
        for key, values in req.query.items():
            shown = ["***" for _ in values] if key in _REDACTED_PARAMS else values
            query[key] = shown[-1] if len(shown) == 1 else shown
        entry = LogEntry(
            next(self._seq),
            time.time(),
            req.method,
            req.path,
            query,
            target,
            status,
            fault,
            round((time.monotonic() - started) * 1000, 2),
        )
        with self._lock:
            self._entries.append(entry)

    def list(
        self,
        *,
        target: str | None = None,
        method: str | None = None,
        path: str | None = None,
        since: float | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
        return [
            asdict(entry)
            for entry in entries
            if (target is None or entry.target == target)
            and (method is None or entry.method == method.upper())
            and (path is None or entry.path.startswith(path))
            and (since is None or entry.time >= since)
            and (after_seq is None or entry.seq > after_seq)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True)
class Abort:
    """Answer with no HTTP response at all: hold the socket ``seconds`` then close (0 = close at once)."""

    kind: str
    seconds: float


def classify(path: str) -> str:
    """Which platform (or part of the sandbox) a path belongs to."""
    if path.startswith("/2/"):
        return "x"
    if _GRAPH_PATH.match(path):
        return "facebook"
    if path.startswith("/api/"):
        return "slack"
    if path.startswith("/_sandbox/slack/") or path == "/_sandbox/slack":
        return "slack-control"
    if path.startswith("/_sandbox/") or path == "/_sandbox":
        return "control"
    if path == "/" or path.startswith("/static/") or path in ("/index.html", "/favicon.ico"):
        return "web"
    return "unknown"


def _fault_paths(target: str, path: str) -> list[str]:
    """The forms a fault's ``path`` prefix may take: full path, or without the /vNN.N or /api prefix."""
    candidates = [path]
    if target == "facebook":
        candidates.append(_GRAPH_PATH.sub("/", path, count=1))
    elif target == "slack" and path.startswith("/api/"):
        candidates.append(path[len("/api") :])
    return candidates


def _load_slack(host: str) -> SlackEmulator | None:
    """The Slack emulator; without it (a broken install of its WebSocket half) the sandbox still serves X and Graph."""
    try:
        from socialwatch.sandbox.slack import SlackEmulator

        return SlackEmulator(host)
    except Exception:  # a broken Slack half must not take X and Graph down with it
        log.warning("Slack emulator unavailable; serving X and Graph only", exc_info=True)
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "socialwatch-sandbox"
    sys_version = ""
    # Idle keep-alive connections are dropped after this; clients reconnect transparently.
    timeout = 30
    # Without it, small responses wait for the client's delayed ACK (~40 ms each).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=unquote(split.path) or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=Headers(self.headers.items()),
            body=self._read_body(),
        )
        outcome = self.server.sandbox.dispatch(req)
        if isinstance(outcome, Abort):
            if outcome.seconds > 0:
                self.server.sandbox.stopping.wait(outcome.seconds)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(outcome)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            if key not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(response.body)))
        self.send_header("connection", "close" if self.close_connection else "keep-alive")
        buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # stdlib internal
        buffer.append(b"\r\n")
        if self.command != "HEAD":
            buffer.append(response.body)
        self.flush_headers()  # status line, headers and body in one write

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class PortUnavailable(OSError):
    """The sandbox cannot listen on the port asked for (in use, or reserved); the message says which."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    sandbox: SandboxServer


class SandboxServer:
    """Owns the emulators, the HTTP server thread, fault rules and the request log."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        owner: Any = None,
        slack: bool = True,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.owner = owner  # the public Sandbox object, handed to the web view
        self.stopping = threading.Event()
        self.faults = FaultInjector()
        self.log = RequestLog()
        self.x = XEmulator(clock, base_url=lambda: self.base_url)
        self.graph = GraphEmulator(clock, base_url=lambda: self.base_url)
        self.slack = _load_slack(host) if slack else None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last_port: int | None = None  # the URL stays meaningful after stop()

    @property
    def emulators(self) -> list[Emulator]:
        """X, Graph and (when available) Slack."""
        running: list[Emulator] = [self.x, self.graph]
        if self.slack is not None:
            running.append(self.slack)
        return running

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._last_port}" if self._last_port is not None else ""

    def start(self) -> None:
        if self._httpd is not None:
            return
        server_class: type[_HTTPServer] = _HTTPServer
        if ":" in self.host:
            server_class = type("_HTTPServer6", (_HTTPServer,), {"address_family": socket.AF_INET6})
        self.stopping.clear()
        try:
            self._httpd = server_class((self.host, self.requested_port), _Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                why = {errno.EADDRINUSE: "is in use", errno.EACCES: "needs privileges"}.get(
                    exc.errno or 0, "is not available on this machine"
                )
                raise PortUnavailable(exc.errno, f"port {self.requested_port} on {self.host} {why}") from None
            raise
        self._httpd.sandbox = self
        self._last_port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        for emulator in self.emulators:
            emulator.start()
        log.info("sandbox listening on %s", self.base_url)

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()  # releases requests held by "timeout" faults
        for emulator in self.emulators:
            try:
                emulator.stop()
            except Exception:
                log.warning("stopping the %s emulator failed", emulator.target, exc_info=True)
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def reset(self) -> None:
        """Every emulator back to its initial state; faults and the request log cleared. Credentials stay."""
        self.faults.clear()
        self.log.clear()
        for emulator in self.emulators:
            emulator.reset()

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "x": self.x.info(),
            "facebook": self.graph.info(),
            "instagram": self.graph.instagram_info(),
            "slack": self.slack.info() if self.slack is not None else None,
        }

    # -- dispatch ------------------------------------------------------------------------------

    def _emulator(self, target: str) -> Emulator | None:
        return next((emulator for emulator in self.emulators if emulator.target == target), None)

    def dispatch(self, req: Request) -> Response | Abort:
        target = classify(req.path)
        try:
            if target in ("x", "facebook", "slack"):
                return self._dispatch_api(target, req)
            if target == "control":
                return self._control(req)
            if target == "slack-control":
                if self.slack is None:
                    return Response.json({"error": "the Slack emulator is not available"}, status=404)
                return self.slack.handle_control(req)
            if target == "web":
                return self._web(req)
            return Response.json({"error": f"nothing at {req.path}"}, status=404)
        except Exception as exc:
            log.exception("sandbox failed on %s %s", req.method, req.path)
            return Response.json({"error": f"sandbox internal error: {type(exc).__name__}: {exc}"}, status=500)

    def _dispatch_api(self, target: str, req: Request) -> Response | Abort:
        started = time.monotonic()
        emulator = self._emulator(target)
        if emulator is None:
            response = Response.json({"ok": False, "error": "slack_emulator_unavailable"}, status=404)
            self.log.add(req, target, response.status, None, started)
            return response
        rule = self.faults.take(target, req.method, _fault_paths(target, req.path))
        if rule is not None:
            outcome = self._fault_outcome(emulator, rule, req)
            status = outcome.status if isinstance(outcome, Response) else None
            self.log.add(req, target, status, rule.fault, started)
            log.debug("injected %s fault on %s %s", rule.fault, req.method, req.path)
            return outcome
        response = emulator.handle(req)
        self.log.add(req, target, response.status, None, started)
        return response

    def _fault_outcome(self, emulator: Emulator, rule: FaultRule, req: Request) -> Response | Abort:
        if rule.fault in AFTER_WRITE_FAULTS:
            # The platform does the work (the post exists), and the client never learns it.
            done = emulator.handle(req)
            log.debug("sandbox: %s %s answered %s, then %s", req.method, req.path, done.status, rule.fault)
            if rule.fault == "disconnect_after_write":
                return Abort("disconnect", 0.0)
            status = rule.fault.split("_")[0]
            return emulator.fault_response(
                status, seconds=rule.seconds, method=req.method, path=req.path, options=rule.options
            ) or Response.json({"error": f"injected fault {rule.fault}"}, status=int(status))
        if rule.fault == "timeout":
            return Abort("timeout", rule.seconds if rule.seconds is not None else DEFAULT_TIMEOUT_SECONDS)
        if rule.fault == "disconnect":
            return Abort("disconnect", 0.0)
        response = emulator.fault_response(
            rule.fault, seconds=rule.seconds, method=req.method, path=req.path, options=rule.options
        )
        if response is not None:
            return response
        if rule.fault == "malformed":
            return Response(200, b'{"ok": tru', Headers({"content-type": "application/json; charset=utf-8"}))
        return Response.json({"error": f"injected fault {rule.fault}"}, status=int(rule.fault))

    def _web(self, req: Request) -> Response:
        return web.handle(req, self.owner if self.owner is not None else self)

    # -- control API ---------------------------------------------------------------------------

    def _control(self, req: Request) -> Response:
        path = req.path.rstrip("/")
        if path.startswith("/_sandbox/x"):
            return self.x.handle_control(req)
        if path.startswith("/_sandbox/facebook"):
            return self.graph.handle_control(req)
        if path.startswith("/_sandbox/instagram"):
            return self.graph.handle_instagram_control(req)
        route = (req.method, path)
        if route in (("GET", "/_sandbox/info"), ("GET", "/_sandbox")):
            return Response.json(self.info())
        if route == ("GET", "/_sandbox/health"):
            return Response.json({"ok": True})
        if route == ("POST", "/_sandbox/reset"):
            self.reset()
            return Response.json({"ok": True})
        if route == ("GET", "/_sandbox/faults"):
            return Response.json(self.faults.list())
        if route == ("DELETE", "/_sandbox/faults"):
            self.faults.clear()
            return Response.json({"ok": True})
        if route == ("POST", "/_sandbox/faults"):
            try:
                body = req.json()
                rules = body if isinstance(body, list) else [body]
                added = [self.faults.add(rule).to_json() for rule in rules]
            except ValueError as exc:  # FaultSpecError and bad JSON alike
                message = str(exc) if isinstance(exc, FaultSpecError) else "body is not valid JSON"
                return Response.json({"error": message}, status=400)
            return Response.json(added if isinstance(body, list) else added[0], status=201)
        if route == ("GET", "/_sandbox/requests"):
            return self._requests(req)
        if route == ("DELETE", "/_sandbox/requests"):
            self.log.clear()
            return Response.json({"ok": True})
        return Response.json({"error": f"no control endpoint {req.method} {req.path}"}, status=404)

    def _requests(self, req: Request) -> Response:
        def number(name: str, cast: Callable[[str], Any]) -> Any:
            raw = req.arg(name)
            return cast(raw) if raw not in (None, "") else None

        try:
            entries = self.log.list(
                target=req.arg("target"),
                method=req.arg("method"),
                path=req.arg("path"),
                since=number("since", float),
                after_seq=number("after", int),
            )
        except ValueError:
            return Response.json({"error": "since must be unix seconds and after a sequence number"}, status=400)
        return Response(200, json.dumps(entries).encode(), Headers({"content-type": "application/json"}))
