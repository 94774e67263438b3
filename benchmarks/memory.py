"""Memory: the daemon's RSS after start and after 24 simulated hours of 50 mentions a minute.

This process is the daemon: the real ``Daemon`` built from a sandbox config (six streams: X
mentions and DMs, four Facebook streams; alerts to the Slack emulator through ``SlackChannel``).
The sandbox runs in another process (``socialwatch sandbox``), so its own memory (it keeps every
tweet and Slack message) is not counted. Time is simulated: the daemon's clock is a fake one,
``Daemon.start`` registers its jobs on a scheduler that is kept paused, and the benchmark runs
every registered job itself along a simulated timeline, one simulated minute per step: jobs
with intervals of a minute or less (polls, dispatch, reply sender, heartbeat) once per step,
longer ones (retention) when due. Each step first adds 50 mentions (created in that minute) to
the X emulator, and simulated operators answer (or dismiss) what has waited 30 minutes, so the open
backlog stays what a staffed team has. RSS is VmRSS from /proc/self/status.
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import subprocess
import sys
import tempfile
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import synth
from benchmarks.common import (
    LogCounter,
    Result,
    control,
    lift_slack_limits,
    python_env,
    rss_mb,
    size,
    socialwatch_command,
    wall,
)

TITLE = "Memory (daemon RSS after start and over simulated hours at 50 mentions/min; full run: 24 h)"
PER_MINUTE = 50
OPERATOR_DELAY = timedelta(minutes=30)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _start_sandbox(tmp: Path) -> tuple[subprocess.Popen[str], str, Path]:
    config = tmp / "socialwatch.toml"
    proc = subprocess.Popen(
        [*socialwatch_command(), "sandbox", "--port", "0", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=python_env(),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            url = found.group(1)
            break
    else:
        raise RuntimeError("the sandbox did not start")
    while not config.exists():  # written right after the URL is printed
        line = proc.stdout.readline()
        if not line:
            break
    # Drain its output from now on, so a full pipe never blocks it.
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return proc, url, config


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap() -> tuple[float, ...]:
    """Python's allocated blocks, and glibc's bytes in use / free in its arenas (MB), where available:
    tells a leak (in use grows) from fragmentation (free grows) and Python objects from C allocations."""
    blocks = float(sys.getallocatedblocks())
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        return blocks, (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20
    except (OSError, AttributeError):
        return (blocks,)


def _operators(store: Any, now: datetime) -> int:
    """People at work: whatever waited OPERATOR_DELAY is answered (needs a reply) or dismissed, as the
    reply flow would leave it (status and first reply time; the platform reply itself is not simulated)."""
    from socialwatch.models import iso

    cutoff, stamp = iso(now - OPERATOR_DELAY), iso(now)
    with store.transaction() as db:
        replied = db.conn.execute(
            "UPDATE items SET status = 'replied', first_reply_at = ? WHERE status IN ('open', 'alerted') "
            "AND needs_reply = 1 AND received_at <= ?",
            [stamp, cutoff],
        ).rowcount
        dismissed = db.conn.execute(
            "UPDATE items SET status = 'dismissed' WHERE status IN ('open', 'alerted') AND needs_reply = 0 "
            "AND received_at <= ?",
            [cutoff],
        ).rowcount
    return replied + dismissed


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _interval(job: Any) -> timedelta | None:
    return getattr(job.trigger, "interval", None)


def run(mode: str) -> Result:
    import socialwatch.daemon as daemon_module
    from socialwatch.config.load import load_config

    minutes_total = int(os.environ.get("SOCIALWATCH_BENCH_MEMORY_MINUTES") or size(mode, 24 * 60, 2 * 60, 5))
    hours = round(minutes_total / 60, 2)
    result = Result("memory", TITLE)
    logs = LogCounter()
    rss_imports = rss_mb()
    # The database on tmpfs when there is one: RSS does not count file pages, and the simulated day then
    # takes minutes instead of waiting for an fsync per transaction (durability is not measured here).
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="sw-bench-mem-", dir=shm) as tmp_name:
        tmp = Path(tmp_name)
        sandbox, url, config_path = _start_sandbox(tmp)
        try:
            control(url, "/_sandbox/x/ratelimits", {"endpoint": "*", "limit": 10_000_000, "window": 900})
            lift_slack_limits(url)
            control(url, "/_sandbox/facebook/ratelimit", {"limit": 10_000_000, "window": 3600})
            config = load_config(config_path)
            config.daemon.database = tmp / "memory.db"
            config.daemon.log_level = "WARNING"
            if os.environ.get("SOCIALWATCH_BENCH_NO_INCIDENTS"):  # diagnostic what-if: incident grouping off
                config.incidents.enabled = False
            clock = FakeClock(START)

            class PausedScheduler(daemon_module.BackgroundScheduler):  # type: ignore[misc,name-defined]
                def start(self, paused: bool = False) -> None:
                    super().start(paused=True)

            daemon_module.BackgroundScheduler = PausedScheduler  # this process only
            daemon = daemon_module.Daemon(config, clock=clock)
            scheduler = daemon.start()
            jobs = scheduler.get_jobs()
            # When each job is next due on the simulated timeline. Interval jobs start at once; other
            # triggers (a daily digest's cron, a one-off date) say themselves, asked with simulated time.
            due: dict[str, datetime | None] = {
                job.id: START if _interval(job) is not None else job.trigger.get_next_fire_time(None, START)
                for job in jobs
            }
            rng = random.Random(24)
            authors = 20_000  # a day's customers: a long tail, the most active writing a few dozen times
            samples: list[tuple[float, float]] = []
            rss_start: float | None = None
            heap: list[tuple[float, ...]] = []  # (hour, Python blocks, malloc in use MB, malloc free MB)
            # SOCIALWATCH_BENCH_TRACEMALLOC=1: where memory grew between hour 1 and the end (slow: ~2x).
            trace = bool(os.environ.get("SOCIALWATCH_BENCH_TRACEMALLOC"))
            # SOCIALWATCH_BENCH_MALLOC_TRIM=1: what-if, glibc's malloc_trim(0) once a simulated hour.
            trim = bool(os.environ.get("SOCIALWATCH_BENCH_MALLOC_TRIM"))
            baseline_snapshot = None
            if trace:
                tracemalloc.start(8)
            job_seconds = {job.id: 0.0 for job in jobs}
            operators_seconds, handled = 0.0, 0
            feeding = 0.0
            started = wall()
            for minute in range(minutes_total + 1):
                if minute:
                    specs = []
                    for i in range(PER_MINUTE):
                        text, lang = synth.text(rng)
                        at = clock.now + timedelta(seconds=60 * i / PER_MINUTE)
                        specs.append(
                            {
                                "text": text,
                                "lang": lang,
                                "created_at": at.isoformat(),
                                "author": {"handle": f"m{int(authors * rng.random() ** 1.5)}"},
                            }
                        )
                    fed = wall()
                    control(url, "/_sandbox/x/mentions", specs)
                    feeding += wall() - fed
                    clock.now += timedelta(minutes=1)
                if minute:
                    ran = wall()
                    handled += _operators(daemon.store, clock.now)
                    operators_seconds += wall() - ran
                for job in jobs:
                    when, interval = due[job.id], _interval(job)
                    if when is None or (clock.now < when and not (interval and interval <= timedelta(minutes=1))):
                        continue
                    ran = wall()
                    job.func(*job.args, **job.kwargs)
                    job_seconds[job.id] += wall() - ran
                    due[job.id] = (
                        clock.now + interval
                        if interval is not None
                        else job.trigger.get_next_fire_time(when, clock.now)
                    )
                if minute == 0:
                    rss_start = rss_mb()  # after start and the first run of every job (first polls: backfill)
                if trace and minute == 60:
                    baseline_snapshot = tracemalloc.take_snapshot()
                if minute % 60 == 0 or minute == minutes_total:
                    if trim and minute:
                        _malloc_trim()
                    samples.append((round(minute / 60, 2), rss_mb()))
                    heap.append((round(minute / 60, 2), *_heap()))
            elapsed = wall() - started
            growth_by_line: list[str] = []
            if trace and baseline_snapshot is not None:
                top = tracemalloc.take_snapshot().compare_to(baseline_snapshot, "traceback")[:8]
                for stat in top:
                    frames = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback[-6:]]
                    growth_by_line.append(
                        f"{stat.size_diff / 2**20:+.1f} MB in {stat.count_diff:+,} blocks: "
                        + " <- ".join(reversed(frames))
                    )
            with daemon.store.db() as db:
                stored = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
                alerted = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'posted'").fetchone()[0]
            # The digest's charts are drawn in a child process: the RSS above is only honest if they
            # were drawn and uploaded all the same, and matplotlib stayed out of this process.
            chart_files = [f["filename"] for f in control(url, "/_sandbox/slack/files")["files"]]
            matplotlib_here = "matplotlib" in sys.modules
            scheduler.shutdown(wait=False)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)
    assert rss_start is not None
    rss_end = samples[-1][1]
    peak = max(rss for _, rss in samples)
    after_first_hour = samples[1][1] if len(samples) > 2 else rss_start
    growth = rss_end / rss_start - 1
    result.add(
        "RSS after start",
        rss_start,
        "MB",
        "imports only",
        rss_imports,
        rss_start / rss_imports,
        "< 150 MB",
        rss_start < 150,
    )
    result.add(
        f"RSS after {hours:g} simulated hours",
        rss_end,
        "MB",
        "after start",
        rss_start,
        rss_end / rss_start,
        "< 150 MB",
        rss_end < 150,
    )
    result.add("growth from start", growth * 100, "%", target="<= 10 %", ok=growth <= 0.10)
    if len(samples) > 2:
        steady = rss_end / after_first_hour - 1
        result.add("growth after the first simulated hour", steady * 100, "%", target="<= 10 %", ok=steady <= 0.10)
    result.add("peak RSS", peak, "MB", target="< 150 MB", ok=peak < 150)
    if growth_by_line:
        result.notes.append("Growth by allocation site (tracemalloc, hour 1 to the end): " + "; ".join(growth_by_line))
    result.details = {
        "operators_seconds": operators_seconds,
        "handled_by_operators": handled,
        "heap_by_hour": heap,
        "growth_by_line": growth_by_line,
        "log_records": logs.counts,
        "log_samples": logs.samples,
        "database_dir": shm or tempfile.gettempdir(),
        "job_seconds": job_seconds,
        "feeding_seconds": feeding,
        "rss_by_hour": samples,
        "digest_chart_files": chart_files,
        "matplotlib_imported": matplotlib_here,
        "items": stored,
        "alerts_posted": alerted,
        "wall_s": elapsed,
        "jobs": [(job.id, str(job.trigger)) for job in jobs],
    }
    result.notes.append(
        f"{minutes_total * PER_MINUTE:,} mentions over {hours:g} simulated hours ({stored:,} stored, {alerted:,} "
        f"alerts posted to the Slack emulator, {handled:,} items answered or dismissed by the simulated operators "
        f"{OPERATOR_DELAY.seconds // 60} min after arrival) in {elapsed:.0f} s of wall time, database on "
        f"{'tmpfs' if shm else 'disk'}; jobs driven: " + ", ".join(job.id for job in jobs) + "."
    )
    result.notes.append(
        f"Digest charts uploaded to the Slack emulator: {', '.join(chart_files) or 'none'} (drawn in a "
        f"child process); matplotlib imported by this process: {'yes' if matplotlib_here else 'no'}."
    )
    result.notes.append("RSS by simulated hour: " + ", ".join(f"{h:g}h {r:.0f}" for h, r in samples) + " MB.")
    return result


if __name__ == "__main__":
    print(run(sys.argv[1] if len(sys.argv) > 1 else "tiny"))
