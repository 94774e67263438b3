"""Optional Prometheus metrics on loopback, behind a tiny API that is a no-op when disabled.

The rest of the code calls the module functions (``metrics.items(...)``, ``metrics.api_call(...)``)
without caring whether metrics are on. ``prometheus-client`` is an optional extra
(``pip install 'socialwatch[metrics]'``), imported only by :func:`start`.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from socialwatch import __version__

log = logging.getLogger(__name__)

# API calls take 50 ms to a few seconds; the top buckets catch timeouts.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MetricsUnavailable(RuntimeError):
    """Metrics were asked for but cannot be served; ``str()`` says why and what to do."""


class _Recorder:
    """Does nothing: the recorder while metrics are disabled."""

    enabled = False

    def items(self, source: str, kind: str, count: int) -> None: ...
    def alert(self, priority: str) -> None: ...
    def reply(self, platform: str, outcome: str) -> None: ...
    def error(self, source: str, kind: str) -> None: ...
    def api_latency(self, platform: str, operation: str, seconds: float) -> None: ...
    def rate_limit_remaining(self, source: str, endpoint: str, remaining: float) -> None: ...
    def outbox_depth(self, outbox: str, depth: int) -> None: ...
    def source_success(self, source: str, timestamp: float) -> None: ...


class _PrometheusRecorder(_Recorder):
    enabled = True

    def __init__(self, prometheus_client: Any) -> None:
        pc = prometheus_client
        self.registry = pc.CollectorRegistry()
        # A private registry keeps repeated start/stop (tests, embedding) free of duplicate-name errors;
        # the process and platform collectors are added to it explicitly.
        pc.ProcessCollector(registry=self.registry)
        pc.PlatformCollector(registry=self.registry)
        reg = self.registry
        pc.Info("socialwatch_build", "socialwatch version", registry=reg).info({"version": __version__})
        self._items = pc.Counter(
            "socialwatch_items", "items stored, per source and kind", ["source", "kind"], registry=reg
        )
        self._alerts = pc.Counter("socialwatch_alerts", "alerts posted to Slack", ["priority"], registry=reg)
        self._replies = pc.Counter(
            "socialwatch_replies", "replies sent back to the platforms", ["platform", "outcome"], registry=reg
        )
        self._errors = pc.Counter("socialwatch_errors", "errors, per source and kind", ["source", "kind"], registry=reg)
        self._latency = pc.Histogram(
            "socialwatch_api_request_seconds",
            "platform API call latency",
            ["platform", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self._rate = pc.Gauge(
            "socialwatch_rate_limit_remaining",
            "requests left in the current rate-limit window",
            ["source", "endpoint"],
            registry=reg,
        )
        self._outbox = pc.Gauge("socialwatch_outbox_depth", "messages waiting in an outbox", ["outbox"], registry=reg)
        self._success = pc.Gauge(
            "socialwatch_source_last_success_timestamp_seconds",
            "Unix time of the last successful poll",
            ["source"],
            registry=reg,
        )

    def items(self, source: str, kind: str, count: int) -> None:
        self._items.labels(source, kind).inc(count)

    def alert(self, priority: str) -> None:
        self._alerts.labels(priority).inc()

    def reply(self, platform: str, outcome: str) -> None:
        self._replies.labels(platform, outcome).inc()

    def error(self, source: str, kind: str) -> None:
        self._errors.labels(source, kind).inc()

    def api_latency(self, platform: str, operation: str, seconds: float) -> None:
        self._latency.labels(platform, operation).observe(seconds)

    def rate_limit_remaining(self, source: str, endpoint: str, remaining: float) -> None:
        self._rate.labels(source, endpoint).set(remaining)

    def outbox_depth(self, outbox: str, depth: int) -> None:
        self._outbox.labels(outbox).set(depth)

    def source_success(self, source: str, timestamp: float) -> None:
        self._success.labels(source).set(timestamp)


@dataclass
class MetricsServer:
    """The running endpoint; ``port`` is the real one (useful with port 0)."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


_recorder: _Recorder = _Recorder()
_server: MetricsServer | None = None
_lock = threading.Lock()


def start(port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics`` on ``host:port`` (loopback only) and switch the recorder on.

    Raises :class:`MetricsUnavailable` when prometheus-client is missing or the port is taken,
    and ValueError for a non-loopback host (expose it through a reverse proxy if you must).
    """
    global _recorder, _server
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"metrics are served on loopback only, not {host}")
    try:
        import prometheus_client
    except ImportError:
        raise MetricsUnavailable(
            f"[daemon] metrics_port = {port} but prometheus-client is not installed: "
            "pip install 'socialwatch[metrics]', or set metrics_port = 0 to turn metrics off"
        ) from None
    with _lock:
        if _server is not None:
            raise RuntimeError(f"metrics already served at {_server.url}")
        recorder = _PrometheusRecorder(prometheus_client)
        try:
            httpd, thread = prometheus_client.start_http_server(port, addr=host, registry=recorder.registry)
        except OSError as exc:
            raise MetricsUnavailable(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                "choose another [daemon] metrics_port or set it to 0"
            ) from None
        _server = MetricsServer(host, httpd.server_port, httpd, thread)
        _recorder = recorder
    log.info("metrics at %s", _server.url)
    return _server


def stop() -> None:
    """Stop serving and switch back to the no-op recorder."""
    global _recorder, _server
    with _lock:
        server, _server = _server, None
        _recorder = _Recorder()
    if server is not None:
        server._server.shutdown()
        server._server.server_close()
        server._thread.join(5)


def enabled() -> bool:
    return _recorder.enabled


def items(source: str, kind: str, count: int = 1) -> None:
    """``count`` new items stored from ``source`` (kind: mention, dm, comment, post)."""
    _recorder.items(source, kind, count)


def alert(priority: str) -> None:
    """An alert was posted to Slack."""
    _recorder.alert(priority)


def reply(platform: str, outcome: str) -> None:
    """A reply left the outbox; outcome: sent, failed, duplicate."""
    _recorder.reply(platform, outcome)


def error(source: str, kind: str) -> None:
    """A poll or send failed; kind: auth, rate_limited, platform, network, internal."""
    _recorder.error(source, kind)


def api_latency(platform: str, operation: str, seconds: float) -> None:
    _recorder.api_latency(platform, operation, seconds)


@contextmanager
def api_call(platform: str, operation: str) -> Iterator[None]:
    """Time a platform call: ``with metrics.api_call("x", "mentions"): client.get_users_mentions(...)``.
    Failed calls are timed too."""
    started = time.perf_counter()
    try:
        yield
    finally:
        _recorder.api_latency(platform, operation, time.perf_counter() - started)


def rate_limit_remaining(source: str, endpoint: str, remaining: float) -> None:
    _recorder.rate_limit_remaining(source, endpoint, remaining)


def outbox_depth(outbox: str, depth: int) -> None:
    """Messages waiting in an outbox (alerts, replies)."""
    _recorder.outbox_depth(outbox, depth)


def source_success(source: str, timestamp: float | None = None) -> None:
    """A poll of ``source`` succeeded (Unix time; now by default)."""
    _recorder.source_success(source, time.time() if timestamp is None else timestamp)
