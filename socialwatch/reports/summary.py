"""The summary of one period (``socialwatch report`` and the daily digest): what came in, how it felt,
how fast we answered, who waits.

``build`` reads one period in one snapshot (``store.periods``) and ``summarise`` (pure) turns its rows
into a ``Digest``: volume, labels and their trend against the week before, categories, negative spikes,
SLA compliance (median, p90), incidents, repeat authors and the items still waiting.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.alerts.cards import item_key
from socialwatch.config.response_times import SLA_PRIORITIES
from socialwatch.config.schema import Config
from socialwatch.models import ANONYMOUS, LABELS, Attachment, describe_attachments, iso, parse_time, to_utc, utcnow
from socialwatch.scoring import pii
from socialwatch.store import periods
from socialwatch.store.db import Store

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
    excerpt: str = ""  # what they wrote, short, with card numbers, e-mail addresses and phones masked


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


def build(
    store: Store,
    config: Config,
    since: datetime,
    until: datetime,
    tz: str | ZoneInfo | None = None,
    *,
    now: datetime | None = None,
    top: int | None = None,
) -> Digest:
    """Read [since, until) (by post time) and the 7 days before it on a read-only connection."""
    zone = _zone(tz or config.digest.timezone or config.daemon.timezone)
    period = periods.read_period(store, since, until, since - timedelta(days=PREVIOUS_DAYS))
    return summarise(
        period.rows,
        since=since,
        until=until,
        zone=zone,
        now=now or utcnow(),
        previous=period.previous,
        incidents=period.incidents,
        waiting_from_before=period.waiting_before,
        config=config,
        top=top or config.digest.top,
    )


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
        return "@" + str(row["author_handle"])
    if str(row.get("author_key") or "").startswith(f"{row.get('platform')}:{ANONYMOUS}"):
        return "someone unnamed"  # the platform did not say who (Graph withholds ``from``)
    return str(row.get("author_name") or row["author_key"])


EXCERPT_MAX = 80


def excerpt(row: dict[str, Any]) -> str:
    """What the item says, on one line, masked, at most EXCERPT_MAX characters (or what was attached)."""
    text = " ".join(pii.mask(str(row.get("excerpt") or "")).split())
    if not text and row.get("attachments"):
        try:
            found = [Attachment.from_json(a) for a in json.loads(row["attachments"])]
        except (ValueError, TypeError):
            found = []
        text = "(" + describe_attachments([a for a in found if a is not None]) + ")"
    return text if len(text) <= EXCERPT_MAX else text[: EXCERPT_MAX - 1].rstrip() + "…"


def summarise(
    rows: Sequence[dict[str, Any]],
    *,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
    now: datetime,
    previous: dict[str, int],
    incidents: Sequence[dict[str, Any]],
    waiting_from_before: int,
    config: Config,
    top: int,
) -> Digest:
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
    trend = (
        {label: round((share[label] - previous_share[label]) * 100, 1) for label in LABELS}
        if total and previous_total
        else {}
    )

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
    origin = datetime.combine(local_start.date(), time(0), zone).astimezone(UTC)
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

    spikes = [
        Spike(n["opened_at"], n["closed_at"] or iso(as_of) or "", int(n["item_count"]), n["category"], "incident")
        for n in incidents
    ]
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
            spikes.append(
                Spike(
                    iso(hour) or "",
                    iso(hour + timedelta(hours=1)) or "",
                    count,
                    hourly_category[hour].most_common(1)[0][0],
                    "hour",
                )
            )

    sla = _sla_summary(rows, as_of)
    waiting = [row for row in rows if row["needs_reply"] and not row["handled"]]
    waiting.sort(key=lambda r: (r["sla_due_at"] or "9999", r["created_at"]))
    unanswered = [
        Waiting(
            item_key(r),
            r["platform"],
            r["kind"],
            r["priority"],
            r["category"],
            _author(r),
            r["created_at"],
            r["sla_due_at"],
            bool(r["sla_due_at"] and (parse_time(r["sla_due_at"]) or as_of) <= as_of),
            r["url"] if r["kind"] != "dm" else None,
            excerpt(r),
        )
        for r in waiting
    ]

    negatives: dict[str, list[dict[str, Any]]] = defaultdict(list)
    per_author: Counter[str] = Counter()
    for row in rows:
        per_author[row["author_key"]] += 1
        if row["label"] == "negative":
            negatives[row["author_key"]].append(row)
    repeat = sorted(
        ((key, found) for key, found in negatives.items() if len(found) >= 2), key=lambda kv: (-len(kv[1]), kv[0])
    )
    repeat_authors = [
        RepeatAuthor(_author(found[-1]), found[-1]["platform"], len(found), per_author[key])
        for key, found in repeat[:top]
    ]

    samples = [
        (row["priority"], minutes)
        for row in rows
        if row["needs_reply"]
        and (minutes := _minutes(parse_time(row["first_reply_at"]), parse_time(row["created_at"]))) is not None
    ]
    return Digest(
        since=since,
        until=until,
        timezone=str(zone.key),
        generated_at=now,
        total=total,
        by_platform=dict(Counter(r["platform"] for r in rows).most_common()),
        by_kind=dict(Counter(r["kind"] for r in rows).most_common()),
        by_platform_kind=dict(Counter(f"{r['platform']} {r['kind']}" for r in rows).most_common()),
        sentiment=sentiment,
        sentiment_share=share,
        previous_share=previous_share,
        previous_total=previous_total,
        trend_points=trend,
        categories=top_categories,
        spikes=spikes,
        sla=sla,
        unanswered=unanswered[:top],
        unanswered_total=len(unanswered),
        overdue_total=sum(1 for w in unanswered if w.overdue),
        waiting_from_before=waiting_from_before,
        repeat_authors=repeat_authors,
        bucket_hours=hours,
        timeline=[(iso(start) or "", counts) for start, counts in zip(starts, timeline, strict=True)],
        baseline_per_bucket=baseline,
        response_samples=samples,
        targets={p: float(getattr(config.sla, p)) for p in SLA_PRIORITIES},
    )


def _sla_summary(rows: Sequence[dict[str, Any]], as_of: datetime) -> SlaSummary:
    counted = [
        r for r in rows if r["needs_reply"] and r["sla_due_at"] and r["status"] not in ("dismissed", "no_action")
    ]
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
            "items": len(verdicts),
            "met": p_met,
            "breached": p_breached,
            "pending": verdicts.count("pending"),
            "compliance": p_met / (p_met + p_breached) if p_met + p_breached else None,
            "median_minutes": _percentile(from_post.get(priority, []), 0.5),
            "p90_minutes": _percentile(from_post.get(priority, []), 0.9),
        }
    return SlaSummary(
        needing_reply=len(counted),
        replied=len(all_post),
        met=met,
        breached=breached,
        pending=every.count("pending"),
        compliance=met / (met + breached) if met + breached else None,
        median_minutes=_percentile(all_post, 0.5),
        p90_minutes=_percentile(all_post, 0.9),
        median_from_alert_minutes=_percentile(from_alert, 0.5),
        p90_from_alert_minutes=_percentile(from_alert, 0.9),
        by_priority=by_priority,
    )
