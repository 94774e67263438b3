"""systemd integration: sd_notify over ``$NOTIFY_SOCKET`` and a liveness-gated watchdog.

The protocol is a newline-separated ``KEY=value`` datagram sent to an AF_UNIX socket, so a few
lines of ``socket`` replace a dependency (python-systemd needs libsystemd headers to build).
Everything is a no-op when the process is not started by systemd with ``Type=notify``.

The watchdog only pings while a liveness check passes (typically: the scheduler's heartbeat job
ran recently). A wedged scheduler therefore stops the pings and systemd restarts the service,
which a plain timer thread pinging unconditionally would never allow.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends state notifications to the service manager; every method is safe to call anywhere."""

    def __init__(
        self,
        socket_address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address = _socket_address(socket_address)
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """A notifier for ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET") or None,
            watchdog_usec=_int_or_none(env.get("WATCHDOG_USEC")),
            watchdog_pid=_int_or_none(env.get("WATCHDOG_PID")),
        )

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify (i.e. we run under systemd ``Type=notify``)."""
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram. Returns whether it was sent; never raises."""
        if self._address is None or not fields:
            return False
        payload = "\n".join(fields).encode("utf-8", errors="replace")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, self._address)
            except OSError as exc:
                # A lost notification must never take the daemon down; systemd notices on its own
                # (start timeout, watchdog) if it really matters.
                if not self._warned:
                    log.warning("cannot notify systemd at %s: %s", _display(self._address), exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: config is valid and the database is usable; systemd considers us started."""
        return self.notify("READY=1", *([_status_field(status)] if status else []))

    def status(self, text: str) -> bool:
        """``STATUS=``: a one-line summary shown by ``systemctl status``."""
        return self.notify(_status_field(text))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: we are alive. Call through :class:`Watchdog`, not from a bare timer."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        return self.notify("STOPPING=1", *([_status_field(status)] if status else []))

    def reloading(self) -> bool:
        """``RELOADING=1`` (with the timestamp ``Type=notify-reload`` needs); send ``ready()`` after."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC=``: ask for more time during a slow start or stop."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half of ``WatchdogSec=``), or None when no watchdog is set for us."""
        if not self._watchdog_usec or self._watchdog_usec <= 0:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None  # the variables were inherited from a parent that is the real watched process
        return self._watchdog_usec / 1_000_000 / 2

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class Heartbeat:
    """Records when the scheduler last proved it runs jobs; the watchdog's liveness check."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: float | None = None

    def beat(self) -> None:
        """Call from a scheduled job (e.g. every 10 s): it only runs while the scheduler does."""
        self._last = self._clock()

    def age(self) -> float | None:
        """Seconds since the last beat, or None before the first one."""
        return None if self._last is None else self._clock() - self._last

    def fresh(self, max_age: float) -> bool:
        age = self.age()
        return age is not None and age <= max_age


class Watchdog:
    """A thread sending ``WATCHDOG=1`` every ``interval`` seconds while ``is_alive()`` returns True."""

    def __init__(
        self,
        notifier: Notifier,
        is_alive: Callable[[], bool],
        interval: float | None = None,
        *,
        stop_event: threading.Event | None = None,
    ) -> None:
        self._notifier = notifier
        self._is_alive = is_alive
        self.interval = interval if interval is not None else notifier.watchdog_interval()
        self._stop = stop_event or threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy = True

    def tick(self) -> bool:
        """One check: ping if alive. Returns whether a ping was sent."""
        try:
            alive = bool(self._is_alive())
        except Exception:
            # A broken liveness check is indistinguishable from a wedged daemon: let systemd decide.
            log.exception("watchdog liveness check failed")
            alive = False
        if not alive:
            if self._healthy:
                log.error("liveness check failing: withholding watchdog pings, systemd will restart us")
                self._healthy = False
            return False
        if not self._healthy:
            log.warning("liveness check passes again: resuming watchdog pings")
            self._healthy = True
        return self._notifier.watchdog()

    def start(self) -> bool:
        """Start the thread; False (and no thread) when systemd set no watchdog for us."""
        if self.interval is None or self.interval <= 0 or not self._notifier.enabled:
            return False
        if self._thread is not None:
            return True
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            self.tick()


def _socket_address(value: str | None) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # Linux abstract namespace
    if value.startswith("/"):
        return value
    # vsock:CID:PORT (VMs) and relative paths are not supported; say so rather than fail silently.
    log.warning("unsupported NOTIFY_SOCKET address %r: systemd notifications disabled", value)
    return None


def _display(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address


def _status_field(text: str) -> str:
    # A newline would start a new field: error text must not be able to smuggle in READY=1 etc.
    one_line = " ".join(text.split())
    return f"STATUS={one_line[:400]}"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
