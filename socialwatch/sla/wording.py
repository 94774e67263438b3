"""How response times read: durations for managers and for customers, local times, due and overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from socialwatch.config.schema import Config
from socialwatch.models import to_utc


def short_duration(delta: timedelta) -> str:
    """'45 min', '2 h 5 min', '3 d 4 h': for managers."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def customer_duration(minutes: float) -> str:
    """'15 minutes', '1 hour', '6 hours', '2 days': for customers (rounded, never to zero)."""
    if minutes < 90:
        value = max(1, round(minutes))
        return "1 hour" if value == 60 else f"{value} minutes"
    if minutes < 48 * 60:
        hours = round(minutes / 30) / 2
        return f"{hours:g} hours"
    return f"{round(minutes / 1440):g} days"


def local_time(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """'14:30' today, 'Mon 09:50' within a week, 'Mon 12 Jan 09:50' further away."""
    local, today = to_utc(at).astimezone(zone), to_utc(now).astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%a %d %b %H:%M")


def describe_due(due: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'due 14:30 (in 12 min)' or 'was due 14:30 (12 min ago)': for the alert and the thread pings."""
    when = local_time(due, zone, now)
    if due >= now:
        return f"due {when} (in {short_duration(due - now)})"
    return f"was due {when} ({short_duration(now - due)} ago)"


def zone_of(config: Config) -> ZoneInfo:
    return ZoneInfo(config.sla.business_hours.timezone or config.daemon.timezone)
