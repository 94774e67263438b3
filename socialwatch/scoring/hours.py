"""Business hours and SLA due times: pure time arithmetic, in UTC so DST changes cost no minutes.

``due_at`` is when the first reply to an item is due; ``remind_at`` when its reminder is. Both count
only open time for the priorities ``[sla.business_hours] applies_to`` names, and wall time otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from socialwatch.config.response_times import WEEKDAYS, BusinessHours, SlaConfig
from socialwatch.models import to_utc

#: How far ahead business-hours arithmetic looks before giving up (a config with no open day at all).
MAX_DAYS = 800


@dataclass(frozen=True)
class Hours:
    """Opening hours in a time zone. Arithmetic is done in UTC, so DST changes cost no minutes."""

    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, hours: BusinessHours) -> Hours | None:
        if not hours.enabled:
            return None
        return cls(
            ZoneInfo(hours.timezone or "UTC"),
            frozenset(WEEKDAYS.index(d) for d in hours.days),
            time.fromisoformat(hours.start),
            time.fromisoformat(hours.end),
            frozenset(hours.holidays),
        )

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening and closing instants (UTC), or None on a closed day."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        return (
            datetime.combine(day, self.opens, self.zone).astimezone(UTC),
            datetime.combine(day, self.closes, self.zone).astimezone(UTC),
        )

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of open time after ``start`` (``minutes`` 0: the next opening)."""
        remaining = timedelta(minutes=minutes)
        cursor = to_utc(start)
        day = cursor.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None:
                begin, end = max(cursor, window[0]), window[1]
                if begin < end:
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += timedelta(days=1)
        raise ValueError("no open business hours in the next two years; check [sla.business_hours]")

    def is_open(self, at: datetime) -> bool:
        window = self.window(to_utc(at).astimezone(self.zone).date())
        return window is not None and window[0] <= to_utc(at) < window[1]


def hours_for(sla: SlaConfig, priority: str) -> Hours | None:
    """The business hours whose clock applies to ``priority``; None: the clock runs day and night."""
    if not sla.business_hours.enabled or priority not in sla.business_hours.applies_to:
        return None
    return Hours.from_config(sla.business_hours)


def _advance(start: datetime, minutes: float, priority: str, sla: SlaConfig) -> datetime:
    hours = hours_for(sla, priority)
    return to_utc(start) + timedelta(minutes=minutes) if hours is None else hours.add(start, minutes)


def due_at(start: datetime, priority: str, platform: str | None, kind: str | None, sla: SlaConfig) -> datetime | None:
    """When the first reply is due for an item posted at ``start``; None for priorities without an SLA."""
    minutes = sla.minutes(priority, platform, kind)
    return None if minutes is None else _advance(start, minutes, priority, sla)


def remind_at(
    start: datetime, priority: str, platform: str | None, kind: str | None, sla: SlaConfig
) -> datetime | None:
    """When the reminder is due (``reminder_at`` of the SLA time, in business time); None when off."""
    minutes = sla.minutes(priority, platform, kind)
    if minutes is None or not sla.reminder_at:
        return None
    return _advance(start, minutes * sla.reminder_at, priority, sla)
