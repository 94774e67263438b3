"""The response-time sections: ``[sla]`` (targets, business hours, overrides), ``[ack]``, ``[incidents]``
and ``[digest]``, with the checked field types they share (time zones, clock times, weekdays).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from socialwatch.config.section import DAY_SECONDS, YEAR_HOURS, YEAR_MINUTES, Section

SLA_PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLA_PLATFORMS = ("x", "facebook", "instagram", "replay")
_SLA_KINDS = ("mention", "dm", "comment", "post")


def check_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'") from None
    return value


def check_clock(value: str) -> str:
    parts = value.split(":")
    if (
        len(parts) != 2
        or not all(p.isdigit() and len(p) == 2 for p in parts)
        or int(parts[0]) > 23
        or int(parts[1]) > 59
    ):
        raise ValueError(f'{value!r} is not a time of day; write HH:MM, e.g. "09:00"')
    return value


def check_weekdays(value: list[str]) -> list[str]:
    lowered = [d.strip().lower()[:3] for d in value]
    bad = [d for d, low in zip(value, lowered, strict=True) if low not in WEEKDAYS]
    if bad:
        raise ValueError(f'{bad} are not weekdays; write e.g. ["mon", "tue", "wed", "thu", "fri"]')
    if not lowered:
        raise ValueError("no open days: give at least one, or set enabled = false")
    return lowered


#: Checked field types shared by the sections with times of day, time zones and weekdays.
Clock = Annotated[str, AfterValidator(check_clock)]
Zone = Annotated[str | None, AfterValidator(check_zone)]
Weekdays = Annotated[list[str], AfterValidator(check_weekdays)]


class SlaOverride(Section):
    """Minutes per priority for one platform, kind or platform:kind; a priority left out keeps the default."""

    urgent: float | None = Field(None, gt=0, le=YEAR_MINUTES, description="minutes to the first reply for urgent items")
    high: float | None = Field(None, gt=0, le=YEAR_MINUTES, description="minutes to the first reply for high items")
    normal: float | None = Field(None, gt=0, le=YEAR_MINUTES, description="minutes to the first reply for normal items")
    low: float | None = Field(None, gt=0, le=YEAR_MINUTES, description="minutes to the first reply for low items")


class BusinessHours(Section):
    """When the SLA clock runs. Off: it runs day and night."""

    enabled: bool = Field(False, description="count SLA minutes only inside the hours below")
    days: Weekdays = Field(default_factory=lambda: list(WEEKDAYS[:5]), description="open days, e.g. mon..fri")
    start: Clock = Field("09:00", description="opening time, HH:MM local")
    end: Clock = Field("17:00", description="closing time, HH:MM local, after start")
    timezone: Zone = Field(None, description="IANA zone of the hours; default [daemon] timezone")
    holidays: list[date] = Field(default_factory=list, description="closed dates, e.g. 2026-12-25")
    applies_to: list[str] = Field(
        default_factory=lambda: list(SLA_PRIORITIES), description="priorities whose clock stops outside business hours"
    )

    @field_validator("applies_to")
    @classmethod
    def _priorities(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if p not in SLA_PRIORITIES]
        if bad:
            raise ValueError(f"{bad} are not priorities; use {list(SLA_PRIORITIES)}")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.end <= self.start:  # HH:MM strings compare like times
            raise ValueError(f"end {self.end} is not after start {self.start}; overnight hours are not supported")
        return self


class SlaConfig(Section):
    """Minutes to the first reply, per priority (optionally per platform/kind), and what happens near a breach."""

    urgent: float = Field(15, gt=0, le=YEAR_MINUTES)
    high: float = Field(60, gt=0, le=YEAR_MINUTES)
    normal: float = Field(360, gt=0, le=YEAR_MINUTES)
    low: float = Field(1440, gt=0, le=YEAR_MINUTES)
    overrides: dict[str, SlaOverride] = Field(
        default_factory=dict, description="per 'platform:kind', kind or platform (first match wins), e.g. 'x:dm'"
    )
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    reminder_at: float = Field(
        0.8,
        ge=0,
        lt=1,
        description="share of the SLA time after which the thread is reminded once; 0 turns reminders off",
    )
    escalate: bool = Field(True, description="one escalation in the alert's thread when the SLA is breached")
    oncall_group: str | None = Field(
        None, pattern=r"^S[A-Z0-9]{2,20}$", description="Slack user group (S...) mentioned in reminders"
    )
    escalation_group: str | None = Field(
        None, pattern=r"^S[A-Z0-9]{2,20}$", description="user group mentioned at a breach; default oncall_group"
    )
    escalation_channel: str | None = Field(None, description="also announce breaches here (name or id)")
    stale_after_hours: float = Field(
        24,
        gt=0,
        le=YEAR_HOURS,
        description="breaches older than this when first seen are recorded, "
        "not announced (e.g. after an upgrade or a long outage)",
    )
    followup_after_hours: float = Field(
        0,
        ge=0,
        le=YEAR_HOURS,
        description="suggest a 'did this solve it?' follow-up this many hours after a reply; 0 turns it off",
    )
    reopen_window_hours: float = Field(
        72,
        gt=0,
        le=YEAR_HOURS,
        description="a customer's message this soon after our reply reopens the alert in its thread",
    )

    def minutes(self, priority: str, platform: str | None = None, kind: str | None = None) -> float | None:
        """The SLA for a priority, after the most specific matching override."""
        if priority not in SLA_PRIORITIES:
            return None
        for key in (f"{platform}:{kind}", kind, platform):
            override = self.overrides.get(key) if key else None
            if override is not None and getattr(override, priority) is not None:
                return float(getattr(override, priority))
        return float(getattr(self, priority))

    @field_validator("overrides")
    @classmethod
    def _override_keys(cls, value: dict[str, SlaOverride]) -> dict[str, SlaOverride]:
        valid = set(_SLA_PLATFORMS) | set(_SLA_KINDS) | {f"{p}:{k}" for p in _SLA_PLATFORMS for k in _SLA_KINDS}
        bad = sorted(set(value) - valid)
        if bad:
            raise ValueError(
                f'{bad} are not platforms or kinds; write e.g. "x:dm", "dm" or "facebook" '
                f"(platforms {list(_SLA_PLATFORMS)}, kinds {list(_SLA_KINDS)})"
            )
        return value


class AckConfig(Section):
    """Automatic acknowledgement of private messages (DMs, Messenger): off by default."""

    enabled: bool = Field(False, description="send the acknowledgement template (_ack.j2) to new private messages")
    max_age_minutes: float = Field(
        60, gt=0, le=YEAR_MINUTES, description="messages older than this when seen get no acknowledgement"
    )


class IncidentConfig(Section):
    """A burst of negative items in one category becomes one incident alert instead of many."""

    enabled: bool = Field(True, description="group bursts into incident alerts")
    threshold: int = Field(10, ge=2, description="this many negative items in one category...")
    window_minutes: float = Field(
        10, gt=0, le=YEAR_MINUTES, description="...arriving within this many minutes open an incident"
    )
    quiet_minutes: float = Field(
        30, gt=0, le=YEAR_MINUTES, description="an incident closes after this long without a new item"
    )
    update_seconds: float = Field(
        60, ge=0, le=DAY_SECONDS, description="the incident alert is edited at most this often"
    )
    labels: list[str] = Field(default_factory=lambda: ["negative"], description="sentiment labels that count")
    categories: list[str] = Field(default_factory=list, description="categories that can form incidents; [] = all")
    channel: str | None = Field(None, description="where incident alerts go; default [slack] channel")
    list_size: int = Field(5, ge=1, le=20, description="items listed in the incident alert")


class DigestConfig(Section):
    """The daily digest in Slack (and `socialwatch report`)."""

    enabled: bool = Field(True, description="post a digest each day when Slack is configured")
    time: Clock = Field("09:00", description="local time of day the digest is posted, HH:MM")
    timezone: Zone = Field(None, description="IANA zone of `time` and of the charts; default [daemon] timezone")
    days: Weekdays = Field(default_factory=lambda: list(WEEKDAYS), description="weekdays a digest is posted")
    covers: Literal["last_24_hours", "yesterday"] = Field("last_24_hours", description="the period a digest covers")
    channel: str | None = Field(None, description="where the digest goes; default [slack] channel")
    charts: bool = Field(True, description="upload chart images (needs the socialwatch[charts] extra)")
    top: int = Field(5, ge=1, le=50, description="rows per list (categories, unanswered items, repeat authors)")
