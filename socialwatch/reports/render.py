"""A ``Digest`` presented: text, JSON, one self-contained HTML page (charts inlined as base64 PNG) and Slack
blocks; the charts are drawn in a child process (``reports.charts``), so the daemon never imports matplotlib.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.alerts.cards import KIND_WORDS, PLATFORM_WORDS, escape
from socialwatch.models import LABELS, parse_time, to_utc
from socialwatch.reports import charts
from socialwatch.reports.summary import Digest, Waiting
from socialwatch.sla.wording import short_duration

log = logging.getLogger(__name__)


# --- charts ---------------------------------------------------------------------------------------


def chart_spec(digest: Digest) -> dict[str, dict[str, Any]]:
    """The digest's two charts as a ``charts`` spec: JSON values only, so a child process can draw them."""
    buckets = [[(parse_time(start) or digest.since).isoformat(), dict(counts)] for start, counts in digest.timeline]
    period = _period_text(digest)
    return {
        "sentiment.png": {
            "kind": "sentiment",
            "buckets": buckets,
            "bucket_hours": digest.bucket_hours,
            "zone": digest.timezone,
            "title": f"Items by sentiment, {period} ({_bucket_text(digest)})",
            "baseline": dict(digest.baseline_per_bucket),
        },
        "response-times.png": {
            "kind": "response",
            "samples": [list(sample) for sample in digest.response_samples],
            "targets": dict(digest.targets),
            "title": f"Time to first reply, {period}: median {_fmt_minutes(digest.sla.median_minutes)}, "
            f"p90 {_fmt_minutes(digest.sla.p90_minutes)}",
        },
    }


NO_CHARTS = "matplotlib is not installed (pip install 'socialwatch[charts]'): the digest has no charts"


def render_charts(digest: Digest, *, in_process: bool = False) -> dict[str, bytes]:
    """``{"sentiment.png": ..., "response-times.png": ...}``; empty (and logged) without matplotlib.

    By default they are drawn in a child process (``charts.render_in_child``): the daemon posts a digest
    a day and must not keep matplotlib's ~40 MB for the rest of its life. If the child fails, the
    digest goes out without charts and the log says why. ``in_process=True`` draws them here: for
    short-lived processes (``socialwatch report``), where any failure should show as it is."""
    if not charts.available():
        log.info(NO_CHARTS)
        return {}
    if in_process:
        return charts.render(chart_spec(digest))
    return drawn(digest)[0]


def drawn(digest: Digest) -> tuple[dict[str, bytes], str | None]:
    """The charts drawn in a child process, or none and why (for the audit entry of the post)."""
    try:
        return charts.render_in_child(chart_spec(digest)), None
    except charts.RenderError as exc:
        log.warning("digest charts not rendered, the digest goes out without them: %s", exc)
        return {}, f"not drawn: {exc}"[:500]


# --- presenting -----------------------------------------------------------------------------------


def _fmt_minutes(value: float | None) -> str:
    return "n/a" if value is None else short_duration(timedelta(minutes=value))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _trend(points: float | None) -> str:
    if points is None:
        return ""
    return f" ({'+' if points > 0 else ''}{points:.1f} pts vs previous 7 days)"


def _bucket_text(digest: Digest) -> str:
    hours = digest.bucket_hours
    return (
        "per hour" if hours == 1 else f"per {hours:g} hours" if hours < 24 else "per day" if hours == 24 else "per week"
    )


def _local(value: str | datetime, zone: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    moment = parse_time(value) if isinstance(value, str) else value
    return to_utc(moment).astimezone(zone).strftime(fmt) if moment else ""


def _period_text(digest: Digest) -> str:
    zone = ZoneInfo(digest.timezone)
    return f"{_local(digest.since, zone)} – {_local(digest.until, zone)} ({digest.timezone})"


def _sections(digest: Digest) -> list[tuple[str, list[str]]]:
    """The digest as titled lines: shared by the text, HTML and Slack renderings."""
    zone = ZoneInfo(digest.timezone)
    s = digest.sla
    volume = [
        f"{digest.total} items: " + ", ".join(f"{k} {v}" for k, v in digest.by_platform_kind.items())
        if digest.total
        else "no items"
    ]
    mix = [
        f"{label}: {digest.sentiment[label]} ({digest.sentiment_share[label] * 100:.0f}%)"
        + _trend(digest.trend_points.get(label))
        for label in LABELS
        if digest.sentiment[label] or digest.previous_share.get(label)
    ]
    sla = [
        f"within target: {_pct(s.compliance)} ({s.met} met, {s.breached} breached, {s.pending} not yet due)",
        f"time to first reply: median {_fmt_minutes(s.median_minutes)}, p90 {_fmt_minutes(s.p90_minutes)} "
        f"(from the alert: median {_fmt_minutes(s.median_from_alert_minutes)}, "
        f"p90 {_fmt_minutes(s.p90_from_alert_minutes)})",
    ] + [
        f"{p}: {_pct(v['compliance'])} within {_fmt_minutes(digest.targets[p])} "
        f"({v['met']}/{v['met'] + v['breached']}), median {_fmt_minutes(v['median_minutes'])}"
        for p, v in s.by_priority.items()
    ]
    categories = [f"{c.name}: {c.count} ({c.negative} negative)" for c in digest.categories] or ["none"]
    spikes = [
        (
            f"incident: {sp.negative} {sp.category} items from {_local(sp.start, zone)}"
            if sp.kind == "incident"
            else f"{sp.negative} negative items in the hour from {_local(sp.start, zone)} (mostly {sp.category})"
        )
        for sp in digest.spikes
    ] or ["none"]
    waiting = [
        f"{w.author} on {_where(w)}, {w.priority}: “{w.excerpt}” (posted {_local(w.created_at, zone)}"
        + (f", due {_local(w.due_at, zone)}" if w.due_at else "")
        + (", overdue)" if w.overdue else ")")
        for w in digest.unanswered
    ]
    waiting_head = f"{digest.unanswered_total} of this period's items wait for a reply ({digest.overdue_total} overdue)"
    if digest.waiting_from_before:
        waiting_head += f"; {digest.waiting_from_before} more from before"
    repeat = [
        f"{a.author} ({a.platform}): {a.negative} negative of {a.items} items" for a in digest.repeat_authors
    ] or ["none"]
    return [
        ("Volume", volume),
        ("Sentiment", mix or ["no items"]),
        ("Response times (SLA)", sla),
        ("Top categories", categories),
        ("Negative spikes", spikes),
        ("Unanswered", [waiting_head] + waiting),
        ("Repeated complaints", repeat),
    ]


def render_text(digest: Digest) -> str:
    lines = [f"socialwatch report: {_period_text(digest)}", ""]
    for title, body in _sections(digest):
        lines.append(title)
        lines.extend(f"  {line}" for line in body)
        lines.append("")
    return "\n".join(lines)


def render_json(digest: Digest) -> str:
    return json.dumps(digest.to_json(), indent=2, ensure_ascii=False)


HTML_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1c2733;max-width:960px;margin:2em auto;
padding:0 1em}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #dde3ea}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:.25em .8em;text-align:left;border-bottom:1px solid #eef1f4}
th{font-weight:600;color:#52606d}.num{text-align:right}.neg{color:#d64545}.muted{color:#7b8794}
img{max-width:100%;border:1px solid #eef1f4;margin:.5em 0}ul{padding-left:1.2em}
"""


def render_html(digest: Digest, images: dict[str, bytes] | None = None) -> str:
    """One self-contained page: inline CSS, charts as data: URIs, no scripts, nothing fetched."""
    # In process: this page is `socialwatch report --format html`, a command that exits when it is
    # written, so matplotlib's memory goes with it; a child would only add an interpreter start and a
    # second way to fail. The daemon's digest (post_daily) draws in a child instead.
    images = render_charts(digest, in_process=True) if images is None else images
    e = html.escape
    zone = ZoneInfo(digest.timezone)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>socialwatch report {e(_period_text(digest))}</title><style>{HTML_STYLE}</style></head><body>",
        f"<h1>socialwatch report</h1><p class='muted'>{e(_period_text(digest))} · generated "
        f"{e(_local(digest.generated_at, zone))}</p>",
    ]
    s = digest.sla
    parts.append("<h2>Summary</h2><table>")
    for label, value in (
        ("items", str(digest.total)),
        (
            "negative",
            f"{digest.sentiment['negative']} "
            f"({digest.sentiment_share['negative'] * 100:.0f}%){_trend(digest.trend_points.get('negative'))}",
        ),
        ("within SLA", f"{_pct(s.compliance)} ({s.met} met, {s.breached} breached)"),
        ("median / p90 first reply", f"{_fmt_minutes(s.median_minutes)} / {_fmt_minutes(s.p90_minutes)}"),
        ("waiting for a reply", f"{digest.unanswered_total} ({digest.overdue_total} overdue)"),
    ):
        parts.append(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>")
    parts.append("</table>")
    for name, alt in (
        ("sentiment.png", "Items by sentiment over time"),
        ("response-times.png", "Time to first reply per priority"),
    ):
        if name in images:
            encoded = base64.b64encode(images[name]).decode("ascii")
            parts.append(f"<img alt='{e(alt)}' src='data:image/png;base64,{encoded}'>")
    if not images:
        parts.append("<p class='muted'>Charts need matplotlib: pip install 'socialwatch[charts]'.</p>")
    parts.append("<h2>Volume</h2><table><tr><th>platform and kind</th><th class='num'>items</th></tr>")
    parts.extend(f"<tr><td>{e(k)}</td><td class='num'>{v}</td></tr>" for k, v in digest.by_platform_kind.items())
    parts.append(
        "</table><h2>Response times by priority</h2><table><tr><th>priority</th><th>target</th>"
        "<th class='num'>within</th><th class='num'>met</th><th class='num'>breached</th>"
        "<th class='num'>median</th><th class='num'>p90</th></tr>"
    )
    for priority, v in s.by_priority.items():
        parts.append(
            f"<tr><td>{e(priority)}</td><td>{e(_fmt_minutes(digest.targets[priority]))}</td>"
            f"<td class='num'>{e(_pct(v['compliance']))}</td><td class='num'>{v['met']}</td>"
            f"<td class='num'>{v['breached']}</td><td class='num'>{e(_fmt_minutes(v['median_minutes']))}</td>"
            f"<td class='num'>{e(_fmt_minutes(v['p90_minutes']))}</td></tr>"
        )
    parts.append("</table>")
    for title, body in _sections(digest)[3:]:
        if title == "Unanswered" and digest.unanswered:
            parts.append(f"<h2>{e(title)}</h2><p>{e(body[0])}</p>" + _waiting_table(digest, zone))
            continue
        parts.append(f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in body) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _where(w: Waiting) -> str:
    """ "X mention", "Facebook direct message"."""
    return f"{PLATFORM_WORDS.get(w.platform, w.platform)} {KIND_WORDS.get(w.kind, w.kind)}"


def _waiting_table(digest: Digest, zone: ZoneInfo) -> str:
    """Who wrote what, where, and by when we owe them an answer (the item key stays in the link's title)."""
    e = html.escape
    rows = [
        "<table><tr><th>from</th><th>on</th><th>what they wrote</th><th>priority</th><th>posted</th><th>due</th></tr>"
    ]
    for w in digest.unanswered:
        said = e(w.excerpt) or "<span class=muted>(no text)</span>"
        if w.url and w.url.startswith("https://"):
            said = f"<a href='{e(w.url)}' title='{e(w.item_key)}'>{said}</a>"
        due = e(_local(w.due_at, zone)) if w.due_at else ""
        rows.append(
            f"<tr><td>{e(w.author)}</td><td>{e(_where(w))}</td><td>{said}</td><td>{e(w.priority)}</td>"
            f"<td>{e(_local(w.created_at, zone))}</td><td{' class=neg' if w.overdue else ''}>{due}</td></tr>"
        )
    return "".join(rows) + "</table>"


def render_blocks(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """Block Kit summary for Slack and its fallback text."""
    zone = ZoneInfo(digest.timezone)
    s = digest.sla
    headline = (
        f"{digest.total} items, {digest.sentiment['negative']} negative "
        f"({digest.sentiment_share['negative'] * 100:.0f}%), {_pct(s.compliance)} answered within target"
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Social digest: {_local(digest.until, zone, '%a %d %b')}"},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(_period_text(digest))}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(headline)}},
    ]
    for title, body in _sections(digest):
        text = f"*{escape(title)}*\n" + "\n".join(f"• {escape(line)}" for line in body)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
    return f"Social digest: {headline}", blocks
