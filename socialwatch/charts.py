"""Chart images for the digest and the report: PNG bytes from matplotlib's Agg backend.

matplotlib is optional (the ``charts`` extra): without it ``available()`` is False and the
digest goes out without images. Figures are built with the object API (no pyplot), so there
is no global state to share between the scheduler's threads.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

#: Label colours, the same in Slack, the HTML report and the charts.
COLOURS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9142", "unscored": "#b39ddb"}
PRIORITY_ORDER = ("urgent", "high", "normal", "low")


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


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


def sentiment_png(buckets: Sequence[tuple[datetime, Mapping[str, int]]], bucket_hours: float, zone: ZoneInfo,
                  title: str, baseline: Mapping[str, float] | None = None) -> bytes:
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
        bottom = [b + v for b, v in zip(bottom, values)]
    if baseline and baseline.get("negative") and starts:
        axes.axhline(baseline["negative"], color=COLOURS["negative"], linestyle="--", linewidth=1,
                     label="negative, previous 7 days' average")
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
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
    axes.boxplot(data, positions=positions, orientation="horizontal", widths=0.5, showfliers=False,
                 medianprops={"color": "#1f4e79"})
    jitter = random.Random(7)  # fixed seed: the same data draws the same picture
    for position, values in zip(positions, data):
        axes.scatter(values, [position + jitter.uniform(-0.15, 0.15) for _ in values], s=9, alpha=0.55,
                     color="#1f77b4", zorder=3)
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
