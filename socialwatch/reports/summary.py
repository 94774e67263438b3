"""The daily digest and `socialwatch report` (issue 9): what came in, how it felt, how fast we answered.

``build`` reads one period on a read-only connection and summarises it (``summarise`` is pure);
``render_text``, ``render_json``, ``render_html`` (one self-contained file, charts inlined as
base64 PNG) and ``render_blocks`` (Slack) present it. ``post_daily`` posts the digest once per
period, with chart images uploaded through ``files_upload_v2``; the charts are drawn in a child
process, so the daemon never imports matplotlib; without matplotlib, or if that process fails, it
posts without them.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.reports import charts
from socialwatch.alerts.cards import escape, item_key

from socialwatch.config.schema import SLA_PRIORITIES, WEEKDAYS, Config
from socialwatch.models import LABELS, iso, parse_time, to_utc, utcnow
from socialwatch.alerts.outbox import Poster
from socialwatch.sla.wording import short_duration
from socialwatch.store.db import Store
from socialwatch.store import periods
from socialwatch.store import audit_log

log = logging.getLogger(__name__)

PREVIOUS_DAYS = 7
#: An hour is a negative spike when it has at least this many negatives and this multiple of the usual rate.
SPIKE_MIN, SPIKE_FACTOR = 5, 3.0


@dataclass(frozen=True)
class Count:
    name: str
    count: int
    negative: int = 0


@dataclass(frozen=True)
class SlaSummary:
    """First-reply times of the period's items that needed one. ``compliance`` = met / (met + breached);
    items not yet due and not answered are ``pending``; dismissed ones are not counted."""

    needing_reply: int
    replied: int
    met: int
    breached: int
    pending: int
    compliance: float | None
    median_minutes: float | None
    p90_minutes: float | None
    median_from_alert_minutes: float | None
    p90_from_alert_minutes: float | None
    by_priority: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Waiting:
    item_key: str
    platform: str
    kind: str
    priority: str
    category: str
    author: str
    created_at: str
    due_at: str | None
    overdue: bool
    url: str | None


@dataclass(frozen=True)
class RepeatAuthor:
    author: str
    platform: str
    negative: int
    items: int


@dataclass(frozen=True)
class Spike:
    start: str
    end: str
    negative: int
    category: str | None
    kind: str  # "incident" or "hour"


@dataclass(frozen=True)
class Digest:
    since: datetime
    until: datetime
    timezone: str
    generated_at: datetime
    total: int
    by_platform: dict[str, int]
    by_kind: dict[str, int]
    by_platform_kind: dict[str, int]
    sentiment: dict[str, int]
    sentiment_share: dict[str, float]
    previous_share: dict[str, float]
    previous_total: int
    trend_points: dict[str, float]  # share now minus share over the previous 7 days, in percentage points
    categories: list[Count]
    spikes: list[Spike]
    sla: SlaSummary
    unanswered: list[Waiting]
    unanswered_total: int
    overdue_total: int
    waiting_from_before: int
    repeat_authors: list[RepeatAuthor]
    bucket_hours: float
    timeline: list[tuple[str, dict[str, int]]]  # (bucket start, counts per label)
    baseline_per_bucket: dict[str, float]  # label -> average items per bucket over the previous 7 days
    response_samples: list[tuple[str, float]]  # (priority, minutes from post)
    targets: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("since", "until", "generated_at"):
            data[name] = iso(getattr(self, name))
        return data


# --- building -------------------------------------------------------------------------------------

def build(store: Store, config: Config, since: datetime, until: datetime, tz: str | ZoneInfo | None = None, *,
          now: datetime | None = None, top: int | None = None) -> Digest:
    """Read [since, until) (by post time) and the 7 days before it on a read-only connection."""
    zone = _zone(tz or config.digest.timezone or config.daemon.timezone)
    period = periods.read_period(store, since, until, since - timedelta(days=PREVIOUS_DAYS))
    return summarise(period.rows, since=since, until=until, zone=zone, now=now or utcnow(), previous=period.previous,
                     incidents=period.incidents, waiting_from_before=period.waiting_before, config=config,
                     top=top or config.digest.top)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def bucket_hours_for(span: timedelta) -> float:
    days = span.total_seconds() / 86400
    return 1 if days <= 2 else 6 if days <= 10 else 24 if days <= 62 else 168


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default); None without data."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _minutes(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds() / 60)


def _author(row: dict[str, Any]) -> str:
    if row.get("author_handle"):
        return "@" + row["author_handle"]
    return row.get("author_name") or row["author_key"]


def summarise(rows: Sequence[dict[str, Any]], *, since: datetime, until: datetime, zone: ZoneInfo, now: datetime,
              previous: dict[str, int], incidents: Sequence[dict[str, Any]], waiting_from_before: int,
              config: Config, top: int) -> Digest:
    """The digest of the period's item rows (``sla_store.period_items``); pure. An unanswered item counts
    as breached once its due time is before ``now``, whatever the period."""
    if until <= since:
        raise ValueError(f"the period ends ({iso(until)}) before it starts ({iso(since)})")
    as_of = now
    labels = Counter(row["label"] or "unscored" for row in rows)
    sentiment = {label: labels.get(label, 0) for label in LABELS}
    total = len(rows)
    share = {label: (n / total if total else 0.0) for label, n in sentiment.items()}
    previous_total = sum(previous.values())
    previous_share = {label: (previous.get(label, 0) / previous_total if previous_total else 0.0) for label in LABELS}
    trend = {label: round((share[label] - previous_share[label]) * 100, 1) for label in LABELS} \
        if total and previous_total else {}

    categories: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        entry = categories[row["category"] or "other"]
        entry[0] += 1
        entry[1] += row["label"] == "negative"
    ranked = sorted(categories.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    top_categories = [Count(name, n, neg) for name, (n, neg) in ranked if name not in ("spam",)][:top]

    # Time buckets, aligned to local midnight so days read naturally.
    span = until - since
    hours = bucket_hours_for(span)
    step = timedelta(hours=hours)
    local_start = to_utc(since).astimezone(zone)
    origin = datetime.combine(local_start.date(), time(0), zone).astimezone(timezone.utc)
    first = origin + step * int((to_utc(since) - origin) / step)
    starts: list[datetime] = []
    cursor = first
    while cursor < until:
        starts.append(cursor)
        cursor += step
    timeline: list[dict[str, int]] = [dict.fromkeys(LABELS, 0) for _ in starts]
    for row in rows:
        created = parse_time(row["created_at"])
        assert created is not None
        index = min(int((created - first) / step), len(starts) - 1)
        timeline[index][row["label"] or "unscored"] += 1
    previous_buckets = PREVIOUS_DAYS * 24 / hours
    baseline = {label: previous.get(label, 0) / previous_buckets for label in LABELS}

    spikes = [Spike(n["opened_at"], n["closed_at"] or iso(as_of) or "", int(n["item_count"]), n["category"],
                    "incident") for n in incidents]
    usual = previous.get("negative", 0) / (PREVIOUS_DAYS * 24)
    hourly: Counter[datetime] = Counter()
    hourly_category: dict[datetime, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row["label"] == "negative":
            created = parse_time(row["created_at"])
            assert created is not None
            hour = created.replace(minute=0, second=0, microsecond=0)
            hourly[hour] += 1
            hourly_category[hour][row["category"] or "other"] += 1
    for hour, count in sorted(hourly.items()):
        if count >= SPIKE_MIN and count >= SPIKE_FACTOR * max(usual, 1.0):
            spikes.append(Spike(iso(hour) or "", iso(hour + timedelta(hours=1)) or "", count,
                                hourly_category[hour].most_common(1)[0][0], "hour"))

    sla = _sla_summary(rows, as_of)
    waiting = [row for row in rows if row["needs_reply"] and not row["handled"]]
    waiting.sort(key=lambda r: (r["sla_due_at"] or "9999", r["created_at"]))
    unanswered = [Waiting(item_key(r), r["platform"], r["kind"], r["priority"],
                          r["category"], _author(r), r["created_at"], r["sla_due_at"],
                          bool(r["sla_due_at"] and (parse_time(r["sla_due_at"]) or as_of) <= as_of),
                          r["url"] if r["kind"] != "dm" else None) for r in waiting]

    negatives: dict[str, list[dict[str, Any]]] = defaultdict(list)
    per_author: Counter[str] = Counter()
    for row in rows:
        per_author[row["author_key"]] += 1
        if row["label"] == "negative":
            negatives[row["author_key"]].append(row)
    repeat = sorted(((key, found) for key, found in negatives.items() if len(found) >= 2),
                    key=lambda kv: (-len(kv[1]), kv[0]))
    repeat_authors = [RepeatAuthor(_author(found[-1]), found[-1]["platform"], len(found), per_author[key])
                      for key, found in repeat[:top]]

    samples = [(row["priority"], minutes) for row in rows
               if row["needs_reply"] and (minutes := _minutes(parse_time(row["first_reply_at"]),
                                                               parse_time(row["created_at"]))) is not None]
    return Digest(
        since=since, until=until, timezone=str(zone.key), generated_at=now, total=total,
        by_platform=dict(Counter(r["platform"] for r in rows).most_common()),
        by_kind=dict(Counter(r["kind"] for r in rows).most_common()),
        by_platform_kind=dict(Counter(f"{r['platform']} {r['kind']}" for r in rows).most_common()),
        sentiment=sentiment, sentiment_share=share, previous_share=previous_share, previous_total=previous_total,
        trend_points=trend, categories=top_categories, spikes=spikes, sla=sla,
        unanswered=unanswered[:top], unanswered_total=len(unanswered),
        overdue_total=sum(1 for w in unanswered if w.overdue), waiting_from_before=waiting_from_before,
        repeat_authors=repeat_authors, bucket_hours=hours,
        timeline=[(iso(start) or "", counts) for start, counts in zip(starts, timeline)],
        baseline_per_bucket=baseline, response_samples=samples,
        targets={p: float(getattr(config.sla, p)) for p in SLA_PRIORITIES},
    )


def _sla_summary(rows: Sequence[dict[str, Any]], as_of: datetime) -> SlaSummary:
    counted = [r for r in rows if r["needs_reply"] and r["sla_due_at"] and r["status"] not in ("dismissed", "no_action")]
    outcome: dict[str, list[str]] = defaultdict(list)
    from_post: dict[str, list[float]] = defaultdict(list)
    from_alert: list[float] = []
    for row in counted:
        due = parse_time(row["sla_due_at"])
        replied = parse_time(row["first_reply_at"])
        assert due is not None
        if replied is not None:
            verdict = "met" if replied <= due else "breached"
            from_post[row["priority"]].append(_minutes(replied, parse_time(row["created_at"])) or 0.0)
            alerted = _minutes(replied, parse_time(row["alerted_at"]))
            if alerted is not None:
                from_alert.append(alerted)
        else:
            verdict = "breached" if due <= as_of else "pending"
        outcome[row["priority"]].append(verdict)
    every = [v for verdicts in outcome.values() for v in verdicts]
    all_post = [m for values in from_post.values() for m in values]
    met, breached = every.count("met"), every.count("breached")
    by_priority = {}
    for priority in SLA_PRIORITIES:
        verdicts = outcome.get(priority, [])
        if not verdicts:
            continue
        p_met, p_breached = verdicts.count("met"), verdicts.count("breached")
        by_priority[priority] = {
            "items": len(verdicts), "met": p_met, "breached": p_breached, "pending": verdicts.count("pending"),
            "compliance": p_met / (p_met + p_breached) if p_met + p_breached else None,
            "median_minutes": _percentile(from_post.get(priority, []), 0.5),
            "p90_minutes": _percentile(from_post.get(priority, []), 0.9),
        }
    return SlaSummary(
        needing_reply=len(counted), replied=len(all_post), met=met, breached=breached,
        pending=every.count("pending"), compliance=met / (met + breached) if met + breached else None,
        median_minutes=_percentile(all_post, 0.5), p90_minutes=_percentile(all_post, 0.9),
        median_from_alert_minutes=_percentile(from_alert, 0.5), p90_from_alert_minutes=_percentile(from_alert, 0.9),
        by_priority=by_priority,
    )


# --- charts ---------------------------------------------------------------------------------------

def chart_spec(digest: Digest) -> dict[str, dict[str, Any]]:
    """The digest's two charts as a ``charts`` spec: JSON values only, so a child process can draw them."""
    buckets = [[(parse_time(start) or digest.since).isoformat(), dict(counts)] for start, counts in digest.timeline]
    period = _period_text(digest)
    return {
        "sentiment.png": {
            "kind": "sentiment", "buckets": buckets, "bucket_hours": digest.bucket_hours, "zone": digest.timezone,
            "title": f"Items by sentiment, {period} ({_bucket_text(digest)})",
            "baseline": dict(digest.baseline_per_bucket)},
        "response-times.png": {
            "kind": "response", "samples": [list(sample) for sample in digest.response_samples],
            "targets": dict(digest.targets),
            "title": f"Time to first reply, {period}: median {_fmt_minutes(digest.sla.median_minutes)}, "
                     f"p90 {_fmt_minutes(digest.sla.p90_minutes)}"},
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
    return _drawn(digest)[0]


def _drawn(digest: Digest) -> tuple[dict[str, bytes], str | None]:
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
    return "per hour" if hours == 1 else f"per {hours:g} hours" if hours < 24 else \
        "per day" if hours == 24 else "per week"


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
    volume = [f"{digest.total} items: " + ", ".join(f"{k} {v}" for k, v in digest.by_platform_kind.items())
              if digest.total else "no items"]
    mix = [f"{label}: {digest.sentiment[label]} ({digest.sentiment_share[label] * 100:.0f}%)"
           + _trend(digest.trend_points.get(label)) for label in LABELS if digest.sentiment[label]
           or digest.previous_share.get(label)]
    sla = [
        f"within target: {_pct(s.compliance)} ({s.met} met, {s.breached} breached, {s.pending} not yet due)",
        f"time to first reply: median {_fmt_minutes(s.median_minutes)}, p90 {_fmt_minutes(s.p90_minutes)} "
        f"(from the alert: median {_fmt_minutes(s.median_from_alert_minutes)}, "
        f"p90 {_fmt_minutes(s.p90_from_alert_minutes)})",
    ] + [f"{p}: {_pct(v['compliance'])} within {_fmt_minutes(digest.targets[p])} "
         f"({v['met']}/{v['met'] + v['breached']}), median {_fmt_minutes(v['median_minutes'])}"
         for p, v in s.by_priority.items()]
    categories = [f"{c.name}: {c.count} ({c.negative} negative)" for c in digest.categories] or ["none"]
    spikes = [(f"incident: {sp.negative} {sp.category} items from {_local(sp.start, zone)}" if sp.kind == "incident"
               else f"{sp.negative} negative items in the hour from {_local(sp.start, zone)} (mostly {sp.category})")
              for sp in digest.spikes] or ["none"]
    waiting = [f"{w.priority} {w.category} {w.platform} {w.kind} from {w.author}, posted "
               f"{_local(w.created_at, zone)}" + (", overdue" if w.overdue else "") for w in digest.unanswered]
    waiting_head = f"{digest.unanswered_total} of this period's items wait for a reply ({digest.overdue_total} overdue)"
    if digest.waiting_from_before:
        waiting_head += f"; {digest.waiting_from_before} more from before"
    repeat = [f"{a.author} ({a.platform}): {a.negative} negative of {a.items} items" for a in digest.repeat_authors] \
        or ["none"]
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
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>socialwatch report {e(_period_text(digest))}</title><style>{HTML_STYLE}</style></head><body>",
             f"<h1>socialwatch report</h1><p class='muted'>{e(_period_text(digest))} · generated "
             f"{e(_local(digest.generated_at, zone))}</p>"]
    s = digest.sla
    parts.append("<h2>Summary</h2><table>")
    for label, value in (("items", str(digest.total)), ("negative", f"{digest.sentiment['negative']} "
                         f"({digest.sentiment_share['negative'] * 100:.0f}%){_trend(digest.trend_points.get('negative'))}"),
                         ("within SLA", f"{_pct(s.compliance)} ({s.met} met, {s.breached} breached)"),
                         ("median / p90 first reply", f"{_fmt_minutes(s.median_minutes)} / {_fmt_minutes(s.p90_minutes)}"),
                         ("waiting for a reply", f"{digest.unanswered_total} ({digest.overdue_total} overdue)")):
        parts.append(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>")
    parts.append("</table>")
    for name, alt in (("sentiment.png", "Items by sentiment over time"),
                      ("response-times.png", "Time to first reply per priority")):
        if name in images:
            encoded = base64.b64encode(images[name]).decode("ascii")
            parts.append(f"<img alt='{e(alt)}' src='data:image/png;base64,{encoded}'>")
    if not images:
        parts.append("<p class='muted'>Charts need matplotlib: pip install 'socialwatch[charts]'.</p>")
    parts.append("<h2>Volume</h2><table><tr><th>platform and kind</th><th class='num'>items</th></tr>")
    parts.extend(f"<tr><td>{e(k)}</td><td class='num'>{v}</td></tr>" for k, v in digest.by_platform_kind.items())
    parts.append("</table><h2>Response times by priority</h2><table><tr><th>priority</th><th>target</th>"
                 "<th class='num'>within</th><th class='num'>met</th><th class='num'>breached</th>"
                 "<th class='num'>median</th><th class='num'>p90</th></tr>")
    for priority, v in s.by_priority.items():
        parts.append(f"<tr><td>{e(priority)}</td><td>{e(_fmt_minutes(digest.targets[priority]))}</td>"
                     f"<td class='num'>{e(_pct(v['compliance']))}</td><td class='num'>{v['met']}</td>"
                     f"<td class='num'>{v['breached']}</td><td class='num'>{e(_fmt_minutes(v['median_minutes']))}</td>"
                     f"<td class='num'>{e(_fmt_minutes(v['p90_minutes']))}</td></tr>")
    parts.append("</table>")
    for title, body in _sections(digest)[3:]:
        if title == "Unanswered" and digest.unanswered:
            parts.append(f"<h2>{e(title)}</h2><p>{e(body[0])}</p>" + _waiting_table(digest, zone))
            continue
        parts.append(f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in body) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _waiting_table(digest: Digest, zone: ZoneInfo) -> str:
    e = html.escape
    rows = ["<table><tr><th>item</th><th>priority</th><th>category</th><th>from</th><th>posted</th><th>due</th></tr>"]
    for w in digest.unanswered:
        label = e(w.item_key)
        cell = f"<a href='{e(w.url)}'>{label}</a>" if w.url and w.url.startswith("https://") else label
        due = e(_local(w.due_at, zone)) if w.due_at else ""
        rows.append(f"<tr><td>{cell}</td><td>{e(w.priority)}</td><td>{e(w.category)}</td><td>{e(w.author)}</td>"
                    f"<td>{e(_local(w.created_at, zone))}</td><td{' class=neg' if w.overdue else ''}>{due}</td></tr>")
    return "".join(rows) + "</table>"


def render_blocks(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """Block Kit summary for Slack and its fallback text."""
    zone = ZoneInfo(digest.timezone)
    s = digest.sla
    headline = (f"{digest.total} items, {digest.sentiment['negative']} negative "
                f"({digest.sentiment_share['negative'] * 100:.0f}%), {_pct(s.compliance)} answered within target")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Social digest: {_local(digest.until, zone, '%a %d %b')}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(_period_text(digest))}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(headline)}},
    ]
    for title, body in _sections(digest):
        text = f"*{escape(title)}*\n" + "\n".join(f"• {escape(line)}" for line in body)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
    return f"Social digest: {headline}", blocks


# --- the daily job --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Posted:
    period: str
    channel: str
    ts: str
    charts: tuple[str, ...]


def digest_zone(config: Config) -> ZoneInfo:
    """The digest's time zone: [digest] timezone, which defaults to [daemon] timezone."""
    return ZoneInfo(config.digest.timezone or config.daemon.timezone)


def scheduled_before(config: Config, now: datetime) -> datetime | None:
    """The latest scheduled digest time at or before ``now`` (on an allowed weekday), UTC."""
    zone = digest_zone(config)
    at = time.fromisoformat(config.digest.time)
    local_now = to_utc(now).astimezone(zone)
    allowed = {WEEKDAYS.index(d) for d in config.digest.days}
    for back in range(8):
        day = local_now.date() - timedelta(days=back)
        moment = datetime.combine(day, at, zone)
        if day.weekday() in allowed and moment <= local_now:
            return moment.astimezone(timezone.utc)
    return None


def period_for(config: Config, scheduled: datetime) -> tuple[datetime, datetime]:
    zone = digest_zone(config)
    if config.digest.covers == "yesterday":
        day = to_utc(scheduled).astimezone(zone).date() - timedelta(days=1)
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    return scheduled - timedelta(hours=24), scheduled


def post_daily(store: Store, config: Config, poster: Poster, now: datetime, *, force: bool = False) -> Posted | None:
    """Post the digest for the latest scheduled time if it was not posted yet (the audit entry
    ``digest.posted`` is the record), so it can run often, after a restart too. Returns what it posted."""
    if not config.digest.enabled and not force:
        return None
    scheduled = scheduled_before(config, now)
    if scheduled is None:
        return None
    zone = digest_zone(config)
    period = to_utc(scheduled).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    if not force and periods.digest_posted(store, period):
        return None
    since, until = period_for(config, scheduled)
    digest = build(store, config, since, until, zone, now=now)
    channel = config.digest.channel or (config.slack.channel if config.slack else "console")
    text, blocks = render_blocks(digest)
    try:
        ts = poster.post(channel, text, blocks=blocks,
                         metadata={"event_type": "socialwatch_digest", "event_payload": {"period": period}})
    except Exception as exc:  # not recorded: the next run tries again
        log.warning("daily digest for %s not posted (%s); will retry", period, exc)
        return None
    images: dict[str, bytes] = {}
    error = None
    if config.digest.charts and charts.available():
        images, error = _drawn(digest)
    elif config.digest.charts:
        log.info(NO_CHARTS)
    uploaded: tuple[str, ...] = ()
    if images:
        try:
            poster.upload(channel, list(images.items()), comment="Sentiment over time and time to first reply",
                          thread_ts=ts)
            uploaded = tuple(images)
        except Exception as exc:  # the summary is out; charts are a bonus, not a reason to post twice
            error = f"{type(exc).__name__}: {exc}"
            log.warning("digest charts not uploaded: %s", error)
    audit_log.append_audit(store, "digest.posted", details={
        "period": period, "since": iso(since), "until": iso(until), "channel": channel, "ts": ts,
        "charts": list(uploaded), "charts_error": error, "items": digest.total}, now=now)
    return Posted(period, channel, ts, uploaded)


def trigger(config: Config) -> Any:
    """An apscheduler CronTrigger at ``[digest] time`` on ``days`` in the digest's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    hour, minute = config.digest.time.split(":")
    return CronTrigger(day_of_week=",".join(config.digest.days), hour=int(hour), minute=int(minute),
                       timezone=config.digest.timezone or config.daemon.timezone)
