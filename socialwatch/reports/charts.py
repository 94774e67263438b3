"""Chart images for the digest and the report: PNG bytes from matplotlib's Agg backend.

matplotlib is optional (the ``charts`` extra): without it ``available()`` is False and the
digest goes out without images. Figures are built with the object API (no pyplot), so there
is no global state to share between the scheduler's threads.

``render(spec)`` draws a JSON chart spec in this process; ``render_in_child(spec)`` draws the same
spec in a short-lived ``python -m socialwatch.charts`` (JSON on stdin, base64 PNGs as JSON on
stdout), so a long-running daemon never imports matplotlib: importing it costs ~40 MB of RSS that
is never given back. The same spec gives the same PNG bytes either way.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import os
import random
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

#: A chart spec: ``{filename: {"kind": "sentiment" | "response", ...the function's arguments}}``,
#: JSON values only (datetimes as ISO 8601 strings with their offset, the zone by its IANA name).
Spec = Mapping[str, Mapping[str, Any]]

#: The child's wall-clock limit. Rendering both charts takes ~1 s including matplotlib's import
#: (a few seconds more the first time, when matplotlib builds its font cache); a minute means it hangs.
RENDER_TIMEOUT = 60.0
#: How much of a failed child's stderr goes into the error (the end: where the traceback says why).
STDERR_TAIL_CHARS = 2000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Label colours, the same in Slack, the HTML report and the charts.
COLOURS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9142", "unscored": "#b39ddb"}
PRIORITY_ORDER = ("urgent", "high", "normal", "low")


def available() -> bool:
    """Whether matplotlib is installed. Looked up, not imported: ``import matplotlib`` alone adds
    ~38 MB to the process, which is exactly what the daemon must not pay."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken install (e.g. a stray matplotlib module without a spec)
        return False


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def sentiment_png(
    buckets: Sequence[tuple[datetime, Mapping[str, int]]],
    bucket_hours: float,
    zone: ZoneInfo,
    title: str,
    baseline: Mapping[str, float] | None = None,
) -> bytes:
    """Stacked bars of items per label over time; ``baseline`` (items per bucket, by label) is drawn as
    a dashed line for the negatives, so a spike stands out against the previous days."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = _figure(8.0, 3.4)
    axes = figure.add_subplot()
    starts = [start.astimezone(zone).replace(tzinfo=None) for start, _ in buckets]
    width = bucket_hours / 24 * 0.9
    bottom = [0.0] * len(buckets)
    for label in ("negative", "neutral", "positive", "unscored"):
        values = [float(counts.get(label, 0)) for _, counts in buckets]
        if not any(values):
            continue
        axes.bar(starts, values, width=width, bottom=bottom, align="edge", color=COLOURS[label], label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if baseline and baseline.get("negative") and starts:
        axes.axhline(
            baseline["negative"],
            color=COLOURS["negative"],
            linestyle="--",
            linewidth=1,
            label="negative, previous 7 days' average",
        )
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_ylabel("items")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if any(bottom):
        axes.legend(fontsize=8, frameon=False, ncols=3)
    else:
        axes.text(0.5, 0.5, "no items in this period", transform=axes.transAxes, ha="center", color="#666")
    return _png(figure)


def response_png(samples: Sequence[tuple[str, float]], targets: Mapping[str, float], title: str) -> bytes:
    """Time to first reply per priority: a box and every reply as a dot (log scale, minutes), with the
    priority's SLA target as a red tick, so the share beyond it can be seen at a glance."""
    figure = _figure(8.0, 3.0)
    axes = figure.add_subplot()
    by_priority = {p: [m for q, m in samples if q == p] for p in PRIORITY_ORDER}
    shown = [p for p in PRIORITY_ORDER if by_priority[p]]
    if not shown:
        axes.text(0.5, 0.5, "no replies in this period", transform=axes.transAxes, ha="center", color="#666")
        axes.set_axis_off()
        axes.set_title(title, fontsize=10)
        return _png(figure)
    data = [[max(m, 0.1) for m in by_priority[p]] for p in shown]
    positions = list(range(1, len(shown) + 1))
    axes.boxplot(
        data,
        positions=positions,
        orientation="horizontal",
        widths=0.5,
        showfliers=False,
        medianprops={"color": "#1f4e79"},
    )
    jitter = random.Random(7)  # fixed seed: the same data draws the same picture
    for position, values in zip(positions, data, strict=True):
        axes.scatter(
            values, [position + jitter.uniform(-0.15, 0.15) for _ in values], s=9, alpha=0.55, color="#1f77b4", zorder=3
        )
        target = targets.get(shown[position - 1])
        if target:
            axes.plot([target, target], [position - 0.35, position + 0.35], color="#d64545", linewidth=2.2, zorder=4)
    axes.plot([], [], color="#d64545", linewidth=2.2, label="SLA target")
    axes.set_yticks(positions, [f"{p} ({len(by_priority[p])})" for p in shown])
    axes.set_xscale("log")
    ticks = [t for t in (1, 5, 15, 60, 240, 1440, 4320) if t <= max(max(v) for v in data) * 3]
    axes.set_xticks(ticks, [_minutes_label(t) for t in ticks])
    axes.set_xlabel("time to first reply (from the post)")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="lower right")
    return _png(figure)


def _minutes_label(minutes: float) -> str:
    if minutes < 60:
        return f"{minutes:g} min"
    if minutes < 1440:
        return f"{minutes / 60:g} h"
    return f"{minutes / 1440:g} d"


# --- rendering a spec, here or in a child process ---------------------------------------------------


class RenderError(Exception):
    """The chart process failed; the message says how, ending with the tail of its stderr."""


def render(spec: Spec) -> dict[str, bytes]:
    """Draw every chart of ``spec`` in this process: ``{filename: PNG bytes}``."""
    images: dict[str, bytes] = {}
    for name, chart in spec.items():
        kind = chart["kind"]
        if kind == "sentiment":
            buckets = [(datetime.fromisoformat(start), counts) for start, counts in chart["buckets"]]
            images[name] = sentiment_png(
                buckets, chart["bucket_hours"], ZoneInfo(chart["zone"]), chart["title"], baseline=chart.get("baseline")
            )
        elif kind == "response":
            samples = [(priority, minutes) for priority, minutes in chart["samples"]]
            images[name] = response_png(samples, chart["targets"], chart["title"])
        else:
            raise ValueError(f"{name}: unknown chart kind {kind!r}")
    return images


def render_in_child(spec: Spec, *, timeout: float = RENDER_TIMEOUT) -> dict[str, bytes]:
    """``render(spec)`` in a short-lived ``python -m socialwatch.charts``, so that matplotlib is imported
    (and its memory held) by that process only. Raises ``RenderError`` when the child cannot start,
    exits non-zero, outlives ``timeout`` seconds (it is killed) or writes anything but the PNGs."""
    if not sys.executable:
        raise RenderError("no Python interpreter to run the chart process with (sys.executable is empty)")
    # -P: do not put the working directory (the daemon's state directory) first on the child's sys.path.
    command = [sys.executable, "-P", "-m", "socialwatch.reports.charts"]
    try:
        done = subprocess.run(
            command,
            input=json.dumps(spec).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            env=child_env(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped it
        raise RenderError(
            f"the chart process did not finish within {timeout:g} s and was killed{_tail(exc.stderr)}"
        ) from None
    except OSError as exc:
        raise RenderError(f"the chart process could not start: {exc}") from None
    if done.returncode != 0:
        how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else f"exited with {done.returncode}"
        raise RenderError(f"the chart process {how}{_tail(done.stderr)}")
    try:
        payload = json.loads(done.stdout)
        images = {name: base64.b64decode(payload[name], validate=True) for name in spec}
    except (ValueError, KeyError, TypeError) as exc:  # binascii.Error is a ValueError
        raise RenderError(
            f"the chart process wrote no usable result ({type(exc).__name__}: {exc}; "
            f"{len(done.stdout)} bytes on stdout){_tail(done.stderr)}"
        ) from None
    not_png = sorted(name for name, data in images.items() if not data.startswith(PNG_SIGNATURE))
    if not_png:
        raise RenderError(f"the chart process returned non-PNG data for {', '.join(not_png)}{_tail(done.stderr)}")
    return images


def _tail(stderr: bytes | str | None) -> str:
    if not stderr:
        return " (nothing on stderr)"
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    text = text.strip()
    return f"; stderr: {'...' if len(text) > STDERR_TAIL_CHARS else ''}{text[-STDERR_TAIL_CHARS:]}"


def child_env() -> dict[str, str]:
    """The daemon's environment, plus what matplotlib needs in a service: the Agg backend (nothing to
    probe for a display), and a writable MPLCONFIGDIR when the default one is not. Under systemd's
    DynamicUser the home is ``/``, read-only: matplotlib would then make a temporary directory per
    process, warn, and rebuild its font cache at every digest."""
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    if not env.get("MPLCONFIGDIR") and not _default_dirs_writable(env):
        fallback = _fallback_config_dir(env)
        if fallback is not None:
            env["MPLCONFIGDIR"] = str(fallback)
    return env


def _default_dirs_writable(env: Mapping[str, str]) -> bool:
    """Whether matplotlib's own config and cache directories (XDG on Linux) exist writable or can be made."""
    try:
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    except (KeyError, RuntimeError):  # no HOME and no passwd entry (a dynamic user without NSS)
        return False
    dirs = [
        Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
        Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib",
    ]
    return all(_can_write(path) for path in dirs)


def _can_write(path: Path) -> bool:
    """``path`` is a writable directory, or its nearest existing ancestor is one (matplotlib makes parents)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK)
    return False


def _fallback_config_dir(env: Mapping[str, str]) -> Path | None:
    """One directory for every digest of this daemon, so matplotlib builds its font cache once: in
    systemd's CacheDirectory= when there is one, else ours in the temp dir (the unit's PrivateTmp).
    None when it cannot be made safely: matplotlib then falls back to a temporary directory of its own."""
    if env.get("CACHE_DIRECTORY"):  # may list several, colon-separated
        path = Path(env["CACHE_DIRECTORY"].split(":")[0]) / "matplotlib"
        try:
            path.mkdir(mode=0o700, exist_ok=True)
            return path
        except OSError as exc:
            log.debug("cannot use %s for matplotlib: %s", path, exc)
    path = Path(tempfile.gettempdir()) / f"socialwatch-matplotlib-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        log.debug("cannot use %s for matplotlib: %s", path, exc)
        return None
    # In a shared /tmp someone else could have made it first: only ours, private and not a symlink will do.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        log.debug("not using %s for matplotlib: not a private directory of ours", path)
        return None
    return path


def main() -> int:
    """``python -m socialwatch.charts``: a chart spec (JSON) on stdin, ``{filename: base64 PNG}`` (JSON) on
    stdout. Any failure is a traceback on stderr and a non-zero exit, which the parent logs."""
    spec = json.loads(sys.stdin.buffer.read())
    result = sys.stdout
    sys.stdout = sys.stderr  # whatever a library prints while drawing must not corrupt the result
    images = render(spec)
    result.write(json.dumps({name: base64.b64encode(data).decode("ascii") for name, data in images.items()}))
    result.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
