"""End-to-end latency through the sandbox: a mention becoming visible on the emulated X -> its alert
posted in the emulated Slack, excluding the poll wait.

The real daemon runs (``Daemon.run``: APScheduler jobs, the X adapter over tweepy, the pipeline,
SQLite, the alert dispatcher, ``SlackChannel`` over slack_sdk), polling the mentions stream every
second (the shortest interval the config allows). A feeder thread makes complaint mentions visible
at a steady rate.

Method: the mentions source is wrapped so that each page records when its request started (the
wrapper's ``next()`` on the adapter, which issues the HTTP request) and which tweet ids it returned.
A mention's latency is ``posted_at`` of its Slack message (recorded by the emulator) minus the later
of (its page request's start, the moment it was added): the time it waited for the next poll is
excluded; everything after the poll began is counted, including any wait for the alert dispatcher.
Slack's rate limits are lifted in the emulator (``chat.postMessage`` allows about one message a
second per channel: a burst would measure the queue behind it, not socialwatch), and incident
grouping is off (a burst of complaints is what it is for: one incident alert instead of many).
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import synth
from benchmarks.common import LogCounter, Result, control, lift_slack_limits, percentile, size

TITLE = "End-to-end latency (mention visible on X -> alert posted in Slack, poll wait excluded)"
RATE = 10.0  # mentions per second


class TimedSource:
    """A source whose pages remember when their request started and which ids they brought."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.page_start: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def fetch(self, cursor: str | None, *, since: datetime) -> Any:
        pages = self._inner.fetch(cursor, since=since)
        while True:
            started = time.time()
            try:
                page = next(pages)  # the adapter issues this page's HTTP request now
            except StopIteration:
                return
            for item in page.items:
                self.page_start.setdefault(item.native_id, started)
            yield page


def _one_run(sandbox: Any, tmp: Path, count: int) -> dict[str, Any]:
    from socialwatch.config.load import load_config
    from socialwatch.daemon import Daemon, build_sources

    sandbox.set_x_rate_limit("*", limit=100_000, window=900)
    lift_slack_limits(sandbox.url)
    config = load_config(sandbox.write_config(tmp / "socialwatch.toml", poll_interval=1))
    config.daemon.database = tmp / "latency.db"
    config.daemon.jitter = 0
    config.incidents.enabled = False
    mentions = TimedSource(next(s for s in build_sources(config) if s.key.endswith(":mentions")))
    daemon = Daemon(config, sources=[mentions])
    daemon.poll_source(mentions)  # first poll: sets the cursor (no backlog)
    runner = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, name="bench-daemon")
    runner.start()
    visible: dict[str, float] = {}
    try:
        time.sleep(1.0)  # the scheduler's first runs
        next_at = time.time()
        for index, text in enumerate(synth.complaints(count, seed=42)):
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            before = time.time()
            tweet_id = sandbox.add_mention(text, handle=f"lat{index % 150}", followers=100 + index)
            visible[tweet_id] = before
            next_at += 1 / RATE
        # Drained when every mention is stored and no alert is waiting in the outbox.
        deadline = time.time() + 30
        while time.time() < deadline:
            with daemon.store.db() as db:
                stored = db.execute("SELECT COUNT(*) FROM items WHERE kind = 'mention'").fetchone()[0]
                pending = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'").fetchone()[0]
            if stored >= count and pending == 0:
                break
            time.sleep(0.25)
    finally:
        daemon.stop()
        runner.join(timeout=60)
    with daemon.store.db() as db:
        alerted = db.execute("SELECT COUNT(*) FROM alert_outbox").fetchone()[0]
    posted = _slack_posts(sandbox)
    slack_requests = [e for e in sandbox.requests_log("slack") if "chat.postMessage" in e["path"]]
    latency, waits = [], []
    for tweet_id, seen in visible.items():
        if tweet_id in posted and tweet_id in mentions.page_start:
            anchor = max(mentions.page_start[tweet_id], seen)
            latency.append(posted[tweet_id] - anchor)
            waits.append(anchor - seen)
    return {
        "latency": latency,
        "poll_wait": waits,
        "sent": count,
        "alerted": alerted,
        "posted": len(latency),
        "post_requests": len(slack_requests),
    }


def _slack_posts(sandbox: Any) -> dict[str, float]:
    """tweet id -> when the emulator received its alert (first post; threads count too)."""
    out: dict[str, float] = {}
    for message in control(sandbox.url, "/_sandbox/slack/messages")["messages"]:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        key = str(payload.get("item_key") or "")
        if key.startswith("x:"):
            out.setdefault(key[2:], float(message["posted_at"]))
    return out


def run(mode: str) -> Result:
    from socialwatch.sandbox import Sandbox

    count = size(mode, 500, 100, 6)
    result = Result("latency", TITLE)
    logs = LogCounter()
    with Sandbox() as sandbox, tempfile.TemporaryDirectory(prefix="sw-bench-lat-") as tmp:
        measured = _one_run(sandbox, Path(tmp), count)
    values = measured["latency"]
    if not values:
        result.add("no alert arrived", None, "s", target="p95 < 1 s", ok=False)
        return result
    p50, p95 = percentile(values, 50), percentile(values, 95)
    result.add(
        f"p95 (p50 {p50:.3f} s, max {max(values):.3f} s)",
        p95,
        "s",
        "excluded poll wait, p50",
        percentile(measured["poll_wait"], 50),
        None,
        "p95 < 1 s",
        p95 < 1.0,
    )
    result.add(
        "alerts posted / alerts due",
        measured["posted"],
        "items",
        "due",
        measured["alerted"],
        measured["posted"] / max(1, measured["alerted"]),
    )
    result.details = {
        "log_records": logs.counts,
        "log_samples": logs.samples,
        **{k: v for k, v in measured.items() if k not in ("latency", "poll_wait")},
        "latency_s": sorted(values),
    }
    result.notes.append(
        f"{count} complaint mentions at {RATE:g}/s to the X emulator, daemon polling every 1 s, alerts to the "
        f"Slack emulator; latency = the alert's arrival in Slack - max(its page request's start, its creation). "
        f"{count - measured['alerted']} of the mentions did not need a person by triage (no alert)."
    )
    return result
