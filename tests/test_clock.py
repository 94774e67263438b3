"""Clock steps: a wall clock stepped back an hour or forward two hours is noticed, logged and followed
gradually; jobs keep running on steady time and no SLA breaches in a burst. The wall clock is injected (no real
clock changes); the scheduler is the real APScheduler and Slack the sandbox's, through slack_sdk."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import builders
import pytest

from socialwatch.alerts.console import ConsoleChannel
from socialwatch.config.load import load_config
from socialwatch.daemon import Daemon
from socialwatch.models import utcnow
from socialwatch.ops import clock as steady
from socialwatch.ops.clock import SteadyClock
from socialwatch.sandbox import Sandbox
from socialwatch.sources.replay import ReplaySource
from socialwatch.store import audit_log, inbox

HOUR = 3600.0


class SteppedWall:
    """A wall clock a test can step, running at the pace of ``mono`` (fake or real) in between."""

    def __init__(self, mono: FakeMono | None = None) -> None:
        self._mono = mono
        self.offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        base = self._mono() + 1_780_000_000.0 if self._mono is not None else time.time()
        with self._lock:
            return base + self.offset

    def step(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


class FakeMono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def _clock() -> tuple[SteadyClock, SteppedWall, FakeMono]:
    mono = FakeMono()
    wall = SteppedWall(mono)
    return SteadyClock(wall, mono), wall, mono


def test_steady_clock_follows_small_corrections_at_once_and_never_runs_back():
    clock, wall, mono = _clock()
    start = clock.timestamp()
    mono.advance(10)
    wall.step(-2)  # an NTP step within the tolerance
    assert clock.timestamp() == pytest.approx(start + 10, abs=2.01)
    assert clock.jumps() == []
    mono.advance(10)
    assert clock.timestamp() == pytest.approx(wall(), abs=1e-6)


def test_a_step_back_of_an_hour_is_one_jump_and_time_keeps_going():
    clock, wall, mono = _clock()
    before = clock.timestamp()
    wall.step(-HOUR)
    mono.advance(60)
    after = clock.timestamp()
    assert after > before  # a backward step never stops time
    assert after - before == pytest.approx(60 * 0.9)  # slewing back at 10 %
    [jump] = clock.jumps()
    assert jump.seconds == pytest.approx(-HOUR, abs=60)
    readings = []
    for _ in range(20):  # it keeps slewing, and that is not taken for further jumps
        mono.advance(600)
        readings.append(clock.timestamp())
    assert readings == sorted(readings) and clock.jumps() == []
    # The wall clock corrected again: a second jump, and steady time meets it without ever going back.
    wall.step(HOUR)
    mono.advance(1)
    clock.timestamp()
    [back] = clock.jumps()
    assert back.seconds == pytest.approx(HOUR, abs=60)
    for _ in range(300):
        mono.advance(60)
        clock.timestamp()
    assert clock.offset == pytest.approx(0, abs=1e-6)


def test_a_step_forward_of_two_hours_is_followed_at_a_tenth_faster():
    clock, wall, mono = _clock()
    before = clock.timestamp()
    wall.step(2 * HOUR)
    mono.advance(60)
    assert clock.timestamp() - before == pytest.approx(66)
    assert clock.offset == pytest.approx(2 * HOUR - 6)
    [jump] = clock.jumps()
    assert jump.seconds == pytest.approx(2 * HOUR, abs=60)


# --- the daemon on a stepped wall clock ------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def _replay_line(n: int, created: datetime) -> str:
    return (
        json.dumps(
            {
                "id": f"c{n}",
                "kind": "dm",
                "text": "you charged my card twice and nobody answers, awful",
                "author": {"handle": f"cust{n}"},
                "created_at": created.isoformat(),
            }
        )
        + "\n"
    )


def _breaches(daemon: Daemon) -> list[dict]:
    return [row for row in audit_log.audit_rows(daemon.store) if row["action"] == "sla.escalated"]


def _sla_daemon(sandbox: Sandbox, tmp_path: Path, clock: object, name: str) -> Daemon:
    config = load_config(sandbox.write_config(tmp_path / f"{name}.toml", poll_interval=1))
    config.daemon.database = tmp_path / f"{name}.db"
    path = tmp_path / f"{name}.jsonl"
    now = utcnow()
    path.write_text("".join(_replay_line(n, now) for n in range(5)))
    daemon = Daemon(config, sources=[ReplaySource("r", path)], clock=clock)  # type: ignore[arg-type]
    assert daemon.poll_source(daemon.sources[0]) is not None  # type: ignore[index]
    daemon.dispatch()
    return daemon


def test_a_forward_step_posts_no_burst_of_breaches(sandbox, tmp_path):
    """Seconds-old items are not "SLA breached" because the wall clock jumped two hours ahead."""
    sandbox.reset()
    wall = SteppedWall()
    clock = SteadyClock(wall)
    daemon = _sla_daemon(sandbox, tmp_path, clock, "steady")
    baseline = _sla_daemon(sandbox, tmp_path, wall.now, "wall")  # the same on the raw wall clock
    wall.step(2 * HOUR)
    daemon.sla_tick()
    baseline.sla_tick()
    assert len(_breaches(baseline)) == 5  # what the wall clock alone does: a burst
    assert _breaches(daemon) == []
    daemon.heartbeat()
    [jumped] = [r for r in audit_log.audit_rows(daemon.store) if r["action"] == "clock.jumped"]
    assert jumped["data"]["seconds"] == pytest.approx(2 * HOUR, abs=5)


def test_jobs_keep_running_after_the_wall_clock_steps_back_an_hour(tmp_path, monkeypatch):
    """The real scheduler on a stepped wall clock: items written after the step are still stored."""
    path = tmp_path / "replay.jsonl"
    path.write_text("")
    config_path = tmp_path / "socialwatch.toml"
    config_path.write_text(
        f'[daemon]\ndatabase = "{tmp_path / "sw.db"}"\npoll_interval = 1\njitter = 0\n'
        f'[[replay]]\nname = "r"\npath = "{path}"\n'
    )
    config = load_config(config_path)
    wall = SteppedWall()  # real monotonic pace, steppable offset
    clock = SteadyClock(wall)
    daemon = Daemon(config, channel=ConsoleChannel(io.StringIO()), clock=clock, scheduler_clock=clock)
    try:
        daemon.start()
        with path.open("a") as out:
            out.write(_replay_line(0, utcnow()))
        builders.wait_until(lambda: inbox.count_items(daemon.store) == 1, 20, "the first item stored")
        wall.step(-HOUR)
        with path.open("a") as out:
            out.writelines(_replay_line(n, utcnow()) for n in range(1, 41))
        builders.wait_until(lambda: inbox.count_items(daemon.store) == 41, 30, "items after the step stored")
        builders.wait_until(
            lambda: [r for r in audit_log.audit_rows(daemon.store) if r["action"] == "clock.jumped"],
            30,
            "the jump recorded",
        )
        wall.step(HOUR)  # corrected: still running
        with path.open("a") as out:
            out.write(_replay_line(41, utcnow()))
        builders.wait_until(lambda: inbox.count_items(daemon.store) == 42, 30, "items after the correction stored")
    finally:
        daemon.shutdown()
        steady.run_apscheduler_on(steady.STEADY)
