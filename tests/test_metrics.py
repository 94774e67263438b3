"""The optional Prometheus endpoint: scraped for real over loopback, and a no-op when off."""

from __future__ import annotations

import socket
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from socialwatch.ops import metrics

prometheus_parser = pytest.importorskip(
    "prometheus_client.parser", reason="prometheus-client not installed: pip install -e '.[test]'"
)


@pytest.fixture
def server() -> Iterator[metrics.MetricsServer]:
    running = metrics.start(0)
    yield running
    metrics.stop()


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_scrape_shows_what_was_recorded(server: metrics.MetricsServer) -> None:
    assert metrics.enabled()
    assert server.host == "127.0.0.1" and server.port > 0
    metrics.items("x-brand", "mention", 3)
    metrics.items("x-brand", "mention")
    metrics.items("fb-page", "comment", 2)
    metrics.alert("urgent")
    metrics.reply("x", "sent")
    metrics.reply("x", "failed")
    metrics.error("fb-page", "rate_limited")
    metrics.api_latency("x", "mentions", 0.2)
    with metrics.api_call("facebook", "feed"):
        pass
    with pytest.raises(ZeroDivisionError), metrics.api_call("facebook", "feed"):
        1 / 0  # noqa: B018 - a failing call is still timed
    metrics.rate_limit_remaining("x-brand", "mentions", 14)
    metrics.outbox_depth("alerts", 5)
    metrics.outbox_depth("alerts", 2)
    metrics.source_success("x-brand", 1_700_000_000.0)

    samples = _scrape(server.url)
    assert samples[("socialwatch_items_total", (("kind", "mention"), ("source", "x-brand")))] == 4
    assert samples[("socialwatch_items_total", (("kind", "comment"), ("source", "fb-page")))] == 2
    assert samples[("socialwatch_alerts_total", (("priority", "urgent"),))] == 1
    assert samples[("socialwatch_replies_total", (("outcome", "sent"), ("platform", "x")))] == 1
    assert samples[("socialwatch_replies_total", (("outcome", "failed"), ("platform", "x")))] == 1
    assert samples[("socialwatch_errors_total", (("kind", "rate_limited"), ("source", "fb-page")))] == 1
    assert samples[("socialwatch_api_request_seconds_count", (("operation", "mentions"), ("platform", "x")))] == 1
    assert samples[("socialwatch_api_request_seconds_count", (("operation", "feed"), ("platform", "facebook")))] == 2
    assert (
        samples[
            ("socialwatch_api_request_seconds_bucket", (("le", "0.25"), ("operation", "mentions"), ("platform", "x")))
        ]
        == 1
    )
    assert samples[("socialwatch_rate_limit_remaining", (("endpoint", "mentions"), ("source", "x-brand")))] == 14
    assert samples[("socialwatch_outbox_depth", (("outbox", "alerts"),))] == 2
    assert samples[("socialwatch_source_last_success_timestamp_seconds", (("source", "x-brand"),))] == 1.7e9
    assert any(name == "socialwatch_build_info" for name, _ in samples)


def test_only_loopback_is_reachable(server: metrics.MetricsServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    with pytest.raises(ValueError, match="loopback"):
        metrics.start(0, host="0.0.0.0")


def test_disabled_is_a_silent_noop() -> None:
    assert not metrics.enabled()
    metrics.items("x-brand", "mention", 3)
    metrics.error("x-brand", "auth")
    with metrics.api_call("x", "mentions"):
        pass
    metrics.stop()  # stopping when never started is fine


def test_stop_closes_the_port_and_restart_starts_fresh() -> None:
    first = metrics.start(0)
    metrics.items("x-brand", "mention", 7)
    metrics.stop()
    assert not metrics.enabled()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", first.port), timeout=2).close()
    second = metrics.start(0)
    try:
        samples = _scrape(second.url)
        assert ("socialwatch_items_total", (("kind", "mention"), ("source", "x-brand"))) not in samples
    finally:
        metrics.stop()


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(metrics.MetricsUnavailable, match=f"127.0.0.1:{port}.*metrics_port"):
            metrics.start(port)
    assert not metrics.enabled()


def test_missing_prometheus_client_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # makes the import raise ImportError
    with pytest.raises(metrics.MetricsUnavailable, match=r"socialwatch\[metrics\].*metrics_port = 0"):
        metrics.start(9464)
    assert not metrics.enabled()
