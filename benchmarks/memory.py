"""Memory: the daemon's RSS after start and after 24 simulated hours of 50 mentions a minute.

This process is the daemon: the real ``Daemon`` built from a sandbox config (six streams: X
mentions and DMs, four Facebook streams; alerts to the Slack emulator through ``SlackChannel``).
The sandbox runs in another process (``socialwatch sandbox``), so its own memory (it keeps every
tweet and Slack message) is not counted. Time is simulated: the daemon's clock is a fake one,
``Daemon.start`` registers its jobs on a scheduler that is kept paused, and the benchmark runs
every registered job itself along a simulated timeline, one simulated minute per step: jobs
with intervals of a minute or less (polls, dispatch, reply sender, heartbeat) once per step,
longer ones (retention) when due. Each step first adds 50 mentions (created in that minute) to
the X emulator. RSS is VmRSS from /proc/self/status.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks import synth
from benchmarks.common import Result, python_env, rss_mb, size, socialwatch_command, wall

TITLE = "Memory (daemon RSS after start and after 24 simulated hours at 50 mentions/min)"
PER_MINUTE = 50
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _post(base: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _start_sandbox(tmp: Path) -> tuple[subprocess.Popen[str], str, Path]:
    config = tmp / "socialwatch.toml"
    proc = subprocess.Popen([*socialwatch_command(), "sandbox", "--port", "0", "--write-config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=python_env())
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


def _interval(job: Any) -> timedelta | None:
    return getattr(job.trigger, "interval", None)


def run(mode: str) -> Result:
    import socialwatch.daemon as daemon_module
    from socialwatch.config import load_config

    minutes_total = size(mode, 24 * 60, 4 * 60, 5)
    hours = round(minutes_total / 60, 2)
    result = Result("memory", TITLE)
    rss_imports = rss_mb()
    # The database on tmpfs when there is one: RSS does not count file pages, and the simulated day then
    # takes minutes instead of waiting for an fsync per transaction (durability is not measured here).
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="sw-bench-mem-", dir=shm) as tmp_name:
        tmp = Path(tmp_name)
        sandbox, url, config_path = _start_sandbox(tmp)
        try:
            _post(url, "/_sandbox/x/ratelimits", {"endpoint": "*", "limit": 10_000_000, "window": 900})
            _post(url, "/_sandbox/slack/config", {"rate_limits": {"chat.postMessage": {"limit": 10_000_000,
                                                                                        "window": 60}}})
            _post(url, "/_sandbox/facebook/ratelimit", {"limit": 10_000_000, "window": 3600})
            config = load_config(config_path)
            config.daemon.database = tmp / "memory.db"
            config.daemon.log_level = "WARNING"
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
                for job in jobs}
            rng = random.Random(24)
            authors = 2_000
            samples: list[tuple[float, float]] = []
            rss_start: float | None = None
            job_seconds = {job.id: 0.0 for job in jobs}
            feeding = 0.0
            started = wall()
            for minute in range(minutes_total + 1):
                if minute:
                    specs = []
                    for i in range(PER_MINUTE):
                        text, lang = synth.text(rng)
                        at = clock.now + timedelta(seconds=60 * i / PER_MINUTE)
                        specs.append({"text": text, "lang": lang, "created_at": at.isoformat(),
                                      "author": {"handle": f"m{int(authors * rng.random() ** 2)}"}})
                    fed = wall()
                    _post(url, "/_sandbox/x/mentions", specs)
                    feeding += wall() - fed
                    clock.now += timedelta(minutes=1)
                for job in jobs:
                    when, interval = due[job.id], _interval(job)
                    if when is None or (clock.now < when and not (interval and interval <= timedelta(minutes=1))):
                        continue
                    ran = wall()
                    job.func(*job.args, **job.kwargs)
                    job_seconds[job.id] += wall() - ran
                    due[job.id] = (clock.now + interval if interval is not None
                                   else job.trigger.get_next_fire_time(when, clock.now))
                if minute == 0:
                    rss_start = rss_mb()  # after start and the first run of every job (first polls: backfill)
                if minute % 60 == 0 or minute == minutes_total:
                    samples.append((round(minute / 60, 2), rss_mb()))
            elapsed = wall() - started
            with daemon.store.db() as db:
                stored = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
                alerted = db.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'posted'").fetchone()[0]
            scheduler.shutdown(wait=False)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)
    assert rss_start is not None
    rss_end = samples[-1][1]
    peak = max(rss for _, rss in samples)
    after_first_hour = samples[1][1] if len(samples) > 2 else rss_start
    growth = rss_end / rss_start - 1
    result.add("RSS after start", rss_start, "MB", "imports only", rss_imports, rss_start / rss_imports, "< 150 MB",
               rss_start < 150)
    result.add(f"RSS after {hours:g} simulated hours", rss_end, "MB", "after start", rss_start, rss_end / rss_start,
               "< 150 MB", rss_end < 150)
    result.add("growth from start", growth * 100, "%", target="<= 10 %", ok=growth <= 0.10)
    if len(samples) > 2:
        steady = rss_end / after_first_hour - 1
        result.add("growth after the first simulated hour", steady * 100, "%", target="<= 10 %", ok=steady <= 0.10)
    result.add("peak RSS", peak, "MB", target="< 150 MB", ok=peak < 150)
    result.details = {"database_dir": shm or tempfile.gettempdir(), "job_seconds": job_seconds, "feeding_seconds": feeding, "rss_by_hour": samples, "items": stored, "alerts_posted": alerted, "wall_s": elapsed,
                      "jobs": [(job.id, str(job.trigger)) for job in jobs]}
    result.notes.append(
        f"{minutes_total * PER_MINUTE:,} mentions over {hours:g} simulated hours ({stored:,} stored, {alerted:,} "
        f"alerts posted to the Slack emulator) in {elapsed:.0f} s of wall time, database on "
        f"{'tmpfs' if shm else 'disk'}; jobs driven: "
        + ", ".join(job.id for job in jobs) + ".")
    result.notes.append("RSS by simulated hour: " + ", ".join(f"{h:g}h {r:.0f}" for h, r in samples) + " MB.")
    return result


if __name__ == "__main__":
    print(run(sys.argv[1] if len(sys.argv) > 1 else "tiny"))
