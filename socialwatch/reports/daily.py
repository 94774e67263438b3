"""The daily digest: posted once per scheduled period (the audit entry ``digest.posted`` is the record),
with its chart images uploaded through ``files_upload_v2``; without matplotlib, or if drawing fails, it
posts without them. Runs often and after restarts without posting twice, and never posts an empty one
(nothing came in, nobody waits). Each digest also anchors the audit log's head (SEQ:HASH) in the ops
channel, outside the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialwatch.alerts.outbox import Poster
from socialwatch.config.response_times import WEEKDAYS
from socialwatch.config.schema import Config
from socialwatch.models import iso, to_utc
from socialwatch.reports import charts
from socialwatch.reports.render import NO_CHARTS, drawn, render_blocks
from socialwatch.reports.summary import build
from socialwatch.store import audit_log, periods
from socialwatch.store.db import Store

log = logging.getLogger(__name__)


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
            return moment.astimezone(UTC)
    return None


def period_for(config: Config, scheduled: datetime) -> tuple[datetime, datetime]:
    zone = digest_zone(config)
    if config.digest.covers == "yesterday":
        day = to_utc(scheduled).astimezone(zone).date() - timedelta(days=1)
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        return start.astimezone(UTC), end.astimezone(UTC)
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
    if not force and digest.total == 0 and not digest.waiting_from_before:
        # Nothing came in and nobody waits: "0 items" in the channel at every start (a new install, the
        # demo, a restart after a quiet day) says nothing a manager needs. Not recorded: a late item of the
        # period (a backfill) still gets it posted by the next run.
        log.info("daily digest for %s: nothing came in and nothing waits; not posted", period)
        return None
    channel = config.digest.channel or (config.slack.channel if config.slack else "console")
    text, blocks = render_blocks(digest)
    try:
        ts = poster.post(
            channel,
            text,
            blocks=blocks,
            metadata={"event_type": "socialwatch_digest", "event_payload": {"period": period}},
        )
    except Exception as exc:  # not recorded: the next run tries again
        log.warning("daily digest for %s not posted (%s); will retry", period, exc)
        return None
    images: dict[str, bytes] = {}
    error = None
    if config.digest.charts and charts.available():
        images, error = drawn(digest)
    elif config.digest.charts:
        log.info(NO_CHARTS)
    uploaded: tuple[str, ...] = ()
    if images:
        try:
            poster.upload(
                channel, list(images.items()), comment="Sentiment over time and time to first reply", thread_ts=ts
            )
            uploaded = tuple(images)
        except Exception as exc:  # the summary is out; charts are a bonus, not a reason to post twice
            error = f"{type(exc).__name__}: {exc}"
            log.warning("digest charts not uploaded: %s", error)
    anchor = anchor_head(store, config, poster, channel)
    audit_log.append_audit(
        store,
        "digest.posted",
        details={
            **anchor,
            "period": period,
            "since": iso(since),
            "until": iso(until),
            "channel": channel,
            "ts": ts,
            "charts": list(uploaded),
            "charts_error": error,
            "items": digest.total,
        },
        now=now,
    )
    return Posted(period, channel, ts, uploaded)


#: The metadata of the ops-channel message that anchors the audit head outside the database.
ANCHOR_EVENT = "socialwatch_audit_anchor"


def anchor_channel(config: Config, digest_channel: str) -> str:
    """Where the audit head goes: the ops channel, else the alerts channel, else the digest's."""
    if config.slack is not None:
        return config.slack.ops_channel or config.slack.channel
    return digest_channel


def anchor_head(store: Store, config: Config, poster: Poster, digest_channel: str) -> dict[str, Any]:
    """Post the audit log's head (SEQ:HASH) to the ops channel, outside the database and out of reach of
    whoever can write the file: `audit verify --slack-anchors` (or ``--anchor``) then catches a rewritten
    entry, a cut tail or a rolled-back copy. Returns what the digest's audit entry records about it."""
    head = audit_log.audit_head(store)
    if head is None:
        return {"anchor": None, "anchor_error": "no audit head (run `socialwatch check` to migrate)"}
    channel = anchor_channel(config, digest_channel)
    text = (
        f":lock: socialwatch audit head {head.render()} (entry {head.seq}, {head.ts or 'time unknown'}). "
        f"Kept here, outside the database: `socialwatch audit verify --anchor {head.render()}` "
        "(or `--slack-anchors`) proves that no entry up to it was changed or cut."
    )
    metadata = {"event_type": ANCHOR_EVENT, "event_payload": {"seq": head.seq, "hash": head.hash}}
    try:
        ts = poster.post(channel, text, metadata=metadata)
    except Exception as exc:  # the digest is out; the next digest anchors a later head
        log.warning("audit head not anchored in Slack: %s", exc)
        return {"anchor": head.render(), "anchor_error": f"{type(exc).__name__}: {exc}"}
    return {"anchor": head.render(), "anchor_channel": channel, "anchor_ts": ts}


def trigger(config: Config) -> Any:
    """An apscheduler CronTrigger at ``[digest] time`` on ``days`` in the digest's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    hour, minute = config.digest.time.split(":")
    return CronTrigger(
        day_of_week=",".join(config.digest.days),
        hour=int(hour),
        minute=int(minute),
        timezone=config.digest.timezone or config.daemon.timezone,
    )
