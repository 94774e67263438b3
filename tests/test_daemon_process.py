"""The daemon as ops run it: a real process, killed and stopped at the worst moments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import builders
import pytest

from socialwatch.config.load import load_config
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, streams
from socialwatch.store.db import Store

DEADLINE = 60.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


class Daemon:
    """`socialwatch run` in a subprocess, its stderr collected line by line."""

    started: ClassVar[list[Daemon]] = []  # so a failing test cannot leave a daemon running (see no_leftovers)

    def __init__(self, config: Path, env: dict[str, str] | None = None):
        self.lines: list[str] = []
        self._seen = threading.Condition()
        Daemon.started.append(self)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "socialwatch", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    def wait_for_line(self, needle: str, timeout: float = DEADLINE) -> str:
        end = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(needle in line for line in self.lines)):
                    raise AssertionError(f"never saw {needle!r}; stderr:\n" + "\n".join(self.lines[-30:]))
                self._seen.wait(min(left, 0.2))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    yield
    while Daemon.started:
        daemon = Daemon.started.pop()
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(DEADLINE)


def wait_until(predicate: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    return builders.wait_until(predicate, timeout, what)


def stored(config_path: Path) -> list[str]:
    store = Store(load_config(config_path).daemon.database)
    with store.db() as db:
        return [r[0] for r in db.execute("SELECT native_id FROM items").fetchall()]


@pytest.fixture
def setup(sandbox: Sandbox, tmp_path: Path) -> Path:
    sandbox.reset()
    return sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)


def test_sigkill_mid_poll_then_restart_loses_and_duplicates_nothing(sandbox, setup):
    expected = set(sandbox.add_mentions(350)) | {sandbox.add_dm(f"dm {i}", handle=f"u{i}") for i in range(40)}
    first = Daemon(setup, {"SOCIALWATCH_CRASHPOINT": "ingest.page_committed.mentions:2:kill"})
    first.wait_for_line("crashpoint ingest.page_committed.mentions reached")
    assert first.proc.wait(DEADLINE) == -signal.SIGKILL
    partial = stored(setup)
    assert 0 < len(partial) < len(expected)  # it really died mid-way
    expected |= set(sandbox.add_mentions(50))  # traffic goes on while it is down

    second = Daemon(setup)
    wait_until(lambda: set(stored(setup)) == expected, what="every item stored after restart")
    assert second.stop() == 0
    ids = stored(setup)
    assert len(ids) == len(set(ids)) == len(expected)
    store = Store(load_config(setup).daemon.database)
    with store.db() as db:
        received = db.execute("SELECT COUNT(*) FROM audit WHERE action = 'item.received'").fetchone()[0]
    assert received == len(expected)  # each item processed once, not once per attempt


def test_sigkill_mid_instagram_poll_then_restart_loses_and_duplicates_nothing(sandbox, setup):
    """Instagram DMs: 60 conversations are three pages; the daemon dies after committing the second."""
    expected = {sandbox.add_ig_dm(f"where is order {i}?", username=f"ig{i}") for i in range(60)}
    first = Daemon(setup, {"SOCIALWATCH_CRASHPOINT": "ingest.page_committed.instagram.dms:2:kill"})
    first.wait_for_line("crashpoint ingest.page_committed.instagram.dms reached")
    assert first.proc.wait(DEADLINE) == -signal.SIGKILL
    partial = set(stored(setup)) & expected
    assert 0 < len(partial) < len(expected)  # it really died mid-way
    expected |= {sandbox.add_ig_dm("still waiting", username="ig0")}  # traffic goes on while it is down
    second = Daemon(setup)
    wait_until(lambda: expected <= set(stored(setup)), what="every Instagram DM stored after restart")
    assert second.stop() == 0
    ids = [i for i in stored(setup) if i in expected]
    assert len(ids) == len(set(ids)) == len(expected)


def test_sigterm_during_a_poll_finishes_it_and_exits_zero(sandbox, setup):
    expected = set(sandbox.add_mentions(350))
    daemon = Daemon(setup, {"SOCIALWATCH_CRASHPOINT": "ingest.page_committed.mentions:1:stall"})
    daemon.wait_for_line("crashpoint ingest.page_committed.mentions reached (stall)")
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 30  # well inside TimeoutStopSec
    assert any("stopped" in line for line in daemon.lines)
    # The poll that was in flight completed: all pages stored, cursor moved.
    assert set(stored(setup)) == expected
    assert streams.cursor(Store(load_config(setup).daemon.database), "x:sandbox:mentions") is not None


def test_notify_ready_watchdog_stopping_in_order(sandbox, setup, tmp_path):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(0.2)
    messages: list[str] = []
    daemon = Daemon(setup, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
    try:
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and not any("WATCHDOG=1" in m for m in messages):
            try:
                messages.append(listener.recv(4096).decode())
            except TimeoutError:
                continue
        assert daemon.stop(signal.SIGTERM) == 0
        while True:
            try:
                messages.append(listener.recv(4096).decode())
            except TimeoutError:
                break
    finally:
        listener.close()
    fields = [field for message in messages for field in message.split("\n")]
    ready = fields.index("READY=1")
    watchdog = fields.index("WATCHDOG=1")
    stopping = fields.index("STOPPING=1")
    assert ready < watchdog < stopping
    assert "WATCHDOG=1" not in fields[stopping:]
    assert any(f.startswith("STATUS=") for f in fields)


def test_no_watchdog_while_the_scheduler_is_wedged(sandbox, setup, tmp_path):
    """All workers stuck: the heartbeat job cannot run, so the watchdog stops pinging; it resumes after."""
    import io

    from socialwatch.alerts.console import ConsoleChannel
    from socialwatch.daemon import HEARTBEAT_INTERVAL
    from socialwatch.daemon import Daemon as InProcess
    from socialwatch.ops.systemd import Heartbeat, Notifier

    address = str(tmp_path / "n.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.setblocking(False)
    config = load_config(setup)
    config.daemon.max_workers = 1
    config.slack = None
    now = [1000.0]
    daemon = InProcess(
        config,
        channel=ConsoleChannel(io.StringIO()),
        notifier=Notifier.from_environment({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "60000000"}),
    )
    daemon.beats = Heartbeat(clock=lambda: now[0])
    release = threading.Event()
    scheduler = daemon.start()
    try:
        watchdog = daemon._watchdog
        assert watchdog is not None
        wait_until(lambda: daemon.beats.age() is not None, what="first heartbeat")
        assert watchdog.tick() is True
        blocked = threading.Event()
        scheduler.add_job(lambda: (blocked.set(), release.wait(30)))  # the only worker hangs
        blocked.wait(10)
        now[0] += 3 * HEARTBEAT_INTERVAL + 1
        assert watchdog.tick() is False
        release.set()
        wait_until(lambda: daemon.beats.fresh(3 * HEARTBEAT_INTERVAL), what="heartbeat after unwedging")
        assert watchdog.tick() is True
    finally:
        release.set()
        scheduler.shutdown(wait=True)
        listener.close()


def test_sigkill_between_the_platform_call_and_the_db_write_never_posts_twice(sandbox, setup):
    """A manager clicks Send in Slack; the daemon posts the reply on X and is killed before it records
    it. The restarted daemon finds the reply on X and records it: one reply, never two."""
    import json
    import urllib.request

    tweet = sandbox.add_mention("@brand my refund never arrived, 3 weeks now", handle="killed")
    first = Daemon(setup, {"SOCIALWATCH_CRASHPOINT": "replies.platform_called:1:kill"})
    first.wait_for_line("Socket Mode connected")

    def alert() -> dict | None:
        with urllib.request.urlopen(sandbox.url + "/_sandbox/slack/messages", timeout=10) as response:
            found = [
                m
                for m in json.load(response)["messages"]
                if (m.get("metadata") or {}).get("event_payload", {}).get("item_key") == f"x:{tweet}"
            ]
        return found[0] if found else None

    wait_until(lambda: alert() is not None, what="the alert in Slack")
    message = alert()
    assert message is not None
    click = urllib.request.Request(
        sandbox.url + "/_sandbox/slack/actions",
        method="POST",
        data=json.dumps({"channel": message["channel"], "ts": message["ts"], "action_id": "sw_send_0"}).encode(),
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(click, timeout=10).read()
    first.wait_for_line("crashpoint replies.platform_called reached")
    assert first.proc.wait(DEADLINE) == -signal.SIGKILL
    replies = [p for p in sandbox.posted_x() if p.get("in_reply_to") == tweet]
    assert len(replies) == 1  # it did reach X
    store = Store(load_config(setup).daemon.database)
    with store.db() as db:
        assert db.execute("SELECT status FROM reply_outbox").fetchall()[0][0] == "sending"  # ...but not our DB

    second = Daemon(setup)

    def recorded() -> bool:
        with store.db() as db:
            row = db.execute("SELECT status, platform_reply_id FROM reply_outbox").fetchone()
        return tuple(row) == ("sent", replies[0]["id"])

    wait_until(recorded, what="the reply reconciled as sent")
    second.wait_for_line("socialwatch running")
    assert second.stop() == 0  # SIGTERM lets a running sender round finish: nothing more may go out
    assert [p["id"] for p in sandbox.posted_x() if p.get("in_reply_to") == tweet] == [replies[0]["id"]]
    assert audit_log.verify_audit(store).ok
