"""sd_notify and the liveness-gated watchdog, against a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialwatch.ops.systemd import Heartbeat, Notifier, Watchdog


class FakeManager:
    """The receiving end of $NOTIFY_SOCKET, as systemd would bind it."""

    def __init__(self, address: str) -> None:
        self.address = address  # as written in NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(5)

    def recv(self) -> list[str]:
        """The next datagram as its fields; fails the test after 5 s of silence."""
        return self.sock.recv(4096).decode().split("\n")

    def drain(self) -> list[list[str]]:
        self.sock.setblocking(False)
        out: list[list[str]] = []
        try:
            while True:
                out.append(self.sock.recv(4096).decode().split("\n"))
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(5)
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[FakeManager]:
    # sun_path holds 107 bytes; pytest's tmp_path can be longer on some machines.
    directory = tmp_path if len(str(tmp_path)) < 90 else Path(tempfile.mkdtemp(prefix="sw-"))
    fake = FakeManager(str(directory / "notify"))
    yield fake
    fake.close()


def test_ready_status_watchdog_stopping_arrive_in_order(manager: FakeManager) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": manager.address})
    assert notifier.enabled
    assert notifier.ready(status="polling 3 sources")
    assert notifier.status("3 sources, 0 errors")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert manager.recv() == ["READY=1", "STATUS=polling 3 sources"]
    assert manager.recv() == ["STATUS=3 sources, 0 errors"]
    assert manager.recv() == ["WATCHDOG=1"]
    assert manager.recv() == ["STOPPING=1"]
    notifier.close()


def test_abstract_namespace_socket() -> None:
    manager = FakeManager(f"@socialwatch-test-{uuid.uuid4().hex}")
    try:
        notifier = Notifier(manager.address)
        assert notifier.ready()
        assert manager.recv() == ["READY=1"]
    finally:
        manager.close()


def test_status_cannot_inject_fields(manager: FakeManager) -> None:
    notifier = Notifier(manager.address)
    notifier.status("x: 401 Unauthorized\nREADY=1\r\nWATCHDOG=1")
    assert manager.recv() == ["STATUS=x: 401 Unauthorized READY=1 WATCHDOG=1"]


def test_reloading_and_extend_timeout(manager: FakeManager) -> None:
    notifier = Notifier(manager.address)
    notifier.reloading()
    reload_fields = manager.recv()
    assert reload_fields[0] == "RELOADING=1"
    assert reload_fields[1].startswith("MONOTONIC_USEC=") and int(reload_fields[1].split("=")[1]) > 0
    notifier.extend_timeout(30)
    assert manager.recv() == ["EXTEND_TIMEOUT_USEC=30000000"]


def test_noop_without_systemd() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval() is None
    assert Watchdog(notifier, lambda: True, interval=0.01).start() is False


def test_unsupported_address_disables_notifications() -> None:
    assert not Notifier("vsock:2:1234").enabled


def test_vanished_manager_is_not_fatal(manager: FakeManager) -> None:
    notifier = Notifier(manager.address)
    manager.close()
    os.unlink(manager.address)
    assert notifier.ready() is False  # ENOENT/ECONNREFUSED, swallowed and logged
    assert notifier.watchdog() is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "garbage"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "/run/systemd/notify", **env})
    assert notifier.watchdog_interval() == expected


def test_watchdog_withholds_pings_while_scheduler_is_wedged(manager: FakeManager) -> None:
    now = [1000.0]
    heartbeat = Heartbeat(clock=lambda: now[0])
    notifier = Notifier(manager.address, watchdog_usec=20_000_000)
    dog = Watchdog(notifier, lambda: heartbeat.fresh(max_age=30))
    assert dog.interval == 10.0

    assert dog.tick() is False  # no heartbeat yet: the scheduler has not proven anything
    heartbeat.beat()
    assert dog.tick() is True
    assert manager.recv() == ["WATCHDOG=1"]

    now[0] += 31  # the heartbeat job stopped running: wedged
    assert dog.tick() is False
    assert dog.tick() is False
    notifier.status("marker")
    assert manager.recv() == ["STATUS=marker"]  # nothing was sent before the marker

    heartbeat.beat()  # the scheduler recovered
    assert dog.tick() is True
    assert manager.recv() == ["WATCHDOG=1"]


def test_watchdog_treats_a_crashing_check_as_wedged(manager: FakeManager) -> None:
    def broken() -> bool:
        raise RuntimeError("scheduler state unreadable")

    notifier = Notifier(manager.address)
    assert Watchdog(notifier, broken, interval=1).tick() is False
    notifier.status("marker")
    assert manager.recv() == ["STATUS=marker"]


def test_watchdog_thread_stops_and_resumes_pinging(manager: FakeManager) -> None:
    wedged = threading.Event()
    lock = threading.Lock()
    failed_checks = [0]
    enough_failures = threading.Event()
    target = [0]

    def alive() -> bool:
        if not wedged.is_set():
            return True
        with lock:
            failed_checks[0] += 1
            if failed_checks[0] >= target[0]:
                enough_failures.set()
        return False

    notifier = Notifier(manager.address)
    dog = Watchdog(notifier, alive, interval=0.01)
    assert dog.start()
    try:
        assert manager.recv() == ["WATCHDOG=1"]

        wedged.set()
        # After two failed checks, the tick that may have passed just before the wedge has sent its ping.
        target[0] = 2
        assert enough_failures.wait(5)
        manager.drain()
        with lock:
            target[0] = failed_checks[0] + 3
            enough_failures.clear()
        assert enough_failures.wait(5)  # three more checks ran while wedged...
        notifier.status("marker")
        assert manager.recv() == ["STATUS=marker"]  # ...and none of them pinged

        wedged.clear()
        assert manager.recv() == ["WATCHDOG=1"]
    finally:
        dog.stop()
