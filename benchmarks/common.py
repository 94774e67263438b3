"""What every benchmark shares: clocks, percentiles, RSS, the machine description and the result format.

A benchmark module has ``TITLE`` and ``run(mode) -> Result``; ``mode`` is "full", "quick" or
"tiny" (the smoke test's size: checks that the code runs, measures nothing worth quoting).
Each figure is printed next to a baseline measured in the same run, because the machines this
runs on are shared and noisy: ratios hold where absolute times do not.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODES = ("full", "quick", "tiny")

cpu = time.process_time  # CPU time of this process (all threads): what a shared core really gave us
wall = time.perf_counter


def size(mode: str, full: int, quick: int, tiny: int) -> int:
    return {"full": full, "quick": quick, "tiny": tiny}[mode]


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    baseline: str = ""  # what the value is compared with, measured in the same run
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None  # None: no target for this figure
    baseline_unit: str | None = None  # when it differs from ``unit``

    def cells(self) -> list[str]:
        return [
            self.name,
            fmt(self.value, self.unit),
            self.baseline
            + (f" {fmt(self.baseline_value, self.unit_of_baseline())}" if self.baseline_value is not None else ""),
            "" if self.ratio is None else f"{self.ratio:.2f}",
            self.target,
            "" if self.ok is None else ("yes" if self.ok else "NO"),
        ]

    def unit_of_baseline(self) -> str:
        return self.unit if self.baseline_unit is None else self.baseline_unit


@dataclass
class Result:
    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        figures = [Figure(**f) for f in data.get("figures", [])]
        return cls(
            data["name"],
            data["title"],
            figures,
            list(data.get("notes", [])),
            dict(data.get("details", {})),
            float(data.get("seconds", 0.0)),
        )


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit in ("items/s", "req", "B/item", "items", "errors", "/s") or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3f}"
    return f"{text} {unit}".rstrip()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size (VmRSS) in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/.../status")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, False
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": (commit + ("+changes" if dirty else "")) if commit else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def python_env() -> dict[str, str]:
    """Environment for child processes: this checkout first on the path, no inherited NOTIFY_SOCKET."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "SOCIALWATCH_CONFIG", "SOCIALWATCH_CRASHPOINT"):
        env.pop(name, None)
    return env


def control(base: str, path: str, body: Any = None) -> Any:
    """``socialwatch.sandbox.control`` with a benchmark's patience (big seeds take a while)."""
    from socialwatch.sandbox import control as sandbox_control  # here: the memory baseline imports this module

    return sandbox_control(base, path, body, timeout=30)


def lift_slack_limits(base: str) -> None:
    """Every Slack method's rate limit in the emulator out of the way: the emulator counts its windows in
    real time, which a simulated timeline (or a burst meant to measure socialwatch itself) outruns."""
    limits = control(base, "/_sandbox/slack/config").get("rate_limits") or {}
    control(
        base, "/_sandbox/slack/config", {"rate_limits": {name: {"limit": 10_000_000, "window": 60} for name in limits}}
    )


class LogCounter:
    """Counts socialwatch's log records by level and keeps them off the console (reported instead)."""

    def __init__(self) -> None:
        import logging

        self.counts: dict[str, int] = {}
        self.samples: list[str] = []
        counter = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                counter.counts[record.levelname] = counter.counts.get(record.levelname, 0) + 1
                if record.levelno >= logging.WARNING and len(counter.samples) < 5:
                    counter.samples.append(f"{record.levelname} {record.name}: {record.getMessage()[:200]}")

        logger = logging.getLogger("socialwatch")
        logger.addHandler(Handler(logging.INFO))
        logger.setLevel(logging.INFO)
        logger.propagate = False


def socialwatch_command() -> list[str]:
    """How to start the CLI of this checkout with this interpreter."""
    return [sys.executable, "-m", "socialwatch"]


def insert_item_rows(conn: Any, page: Sequence[Any], received: str) -> None:
    """The page's item rows alone (``store.Processed`` entries, written as ``Store.ingest`` writes them),
    one ``executemany`` in one transaction: the floor and baseline of the store's benchmarks."""
    from socialwatch.store.inbox import _INSERT_ITEM, _item_row

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(_INSERT_ITEM.replace(" RETURNING id", ""), [_item_row(entry, received) for entry in page])
    conn.execute("COMMIT")
