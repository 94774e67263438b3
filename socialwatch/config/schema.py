"""The configuration's schema: one pydantic model per TOML section, with defaults, bounds and checks.

Every key a user can write is declared here, so validation reports the exact key of a mistake;
``config.load`` finds the file, parses it against these models, resolves secrets and explains errors.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

log = logging.getLogger(__name__)



class _Model(BaseModel):
    # Unknown keys are almost always typos; silently ignoring them hides real mistakes.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class DaemonConfig(_Model):
    database: Path = Path("socialwatch.db")
    poll_interval: float = Field(60.0, ge=1, description="seconds between polls of each source")
    jitter: float = Field(5.0, ge=0, description="random seconds added to each poll so sources don't align")
    backfill_hours: float = Field(24.0, ge=0, description="how far back the first poll of a new source reads")
    http_timeout: float = Field(10.0, gt=0, le=120, description="seconds; every platform call is bounded by it")
    secrets_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_port: int = Field(0, ge=0, le=65535)
    timezone: str = "UTC"
    max_workers: int = Field(4, ge=1, le=32)
    silent_after_minutes: float = Field(30, gt=0, description="a source without a successful poll this long is unhealthy")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _check_zone(value)
        return value


class SentimentConfig(_Model):
    negative_threshold: float = Field(-0.05, ge=-1, le=0)
    positive_threshold: float = Field(0.05, ge=0, le=1)
    lexicon: dict[str, float] = Field(default_factory=dict, description="brand terms and their VADER valence (-4..4)")
    # The customer-service layer (socialwatch/complaints.py): complaint evidence per language, on top of the
    # shipped lexicons (socialwatch/lexicons/*.toml). {lang: {term: weight}}, weight -1..1; "term*" = prefix.
    complaint_lexicon: dict[str, dict[str, float]] = Field(default_factory=dict)
    complaint_threshold: float = Field(0.5, gt=0, le=1, description="complaint score that makes an item negative")
    # Languages the brand's customers write (ISO 639-1); language detection favours them on short texts.
    languages: list[str] = Field(default_factory=list)

    @field_validator("lexicon")
    @classmethod
    def _valence_range(cls, value: dict[str, float]) -> dict[str, float]:
        for term, valence in value.items():
            if not -4.0 <= valence <= 4.0:
                raise ValueError(f"valence of {term!r} is {valence}; VADER valences lie between -4 and 4")
        return value

    @field_validator("complaint_lexicon")
    @classmethod
    def _weight_range(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for lang, terms in value.items():
            if not (2 <= len(lang) <= 3 and lang.isalpha()):
                raise ValueError(f"{lang!r} is not a language code; use ISO 639-1 such as 'sw' or 'lv'")
            for term, weight in terms.items():
                if not -1.0 <= weight <= 1.0:
                    raise ValueError(f"weight of {term!r} ({lang}) is {weight}; complaint weights lie between -1 and 1")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not (2 <= len(code) <= 3 and code.isalpha())]
        if bad:
            raise ValueError(f"{bad} are not language codes; use ISO 639-1 codes such as 'en', 'sw', 'ms'")
        return [code.lower() for code in value]


class CategoryRule(_Model):
    keywords: list[str] = Field(min_length=1)
    needs_reply: bool = True


DEFAULT_CATEGORIES: dict[str, CategoryRule] = {
    "account_security": CategoryRule(keywords=[
        "hacked", "hack", "locked out", "can't log in", "cant log in", "cannot log in", "can't login",
        "password", "2fa", "two-factor", "verification code", "suspicious", "unauthorised", "unauthorized",
        "account locked", "account suspended", "compromised", "phishing",
    ]),
    "billing": CategoryRule(keywords=[
        "charged", "charge", "refund", "invoice", "billing", "bill", "payment", "overcharged", "double charged",
        "subscription", "credit card", "debit", "money back", "price", "fee", "cancel my subscription",
    ]),
    "outage": CategoryRule(keywords=[
        "down", "outage", "not working", "isn't working", "doesn't work", "does not work", "won't load",
        "wont load", "crash", "crashes", "crashing", "error", "502", "503", "500", "offline", "broken", "bug",
        "no service", "no signal", "can't connect", "cannot connect",
    ]),
    "delivery": CategoryRule(keywords=[
        "delivery", "delivered", "package", "parcel", "shipping", "shipped", "tracking", "courier", "order",
        "arrived", "never arrived", "lost", "damaged", "late", "delayed", "delay",
    ]),
    "question": CategoryRule(keywords=[
        "how do i", "how can i", "how to", "is there", "can i", "can you", "do you", "does it", "where can",
        "when will", "what is", "any update", "?",
    ]),
    "praise": CategoryRule(needs_reply=False, keywords=[
        "thank you", "thanks", "love", "great service", "amazing", "awesome", "brilliant", "excellent",
        "best", "well done", "kudos", "fantastic", "appreciate",
    ]),
    "abuse": CategoryRule(needs_reply=False, keywords=[
        "idiot", "idiots", "stupid", "moron", "morons", "scum", "garbage company", "f*** you", "fuck you",
    ]),
    "spam": CategoryRule(needs_reply=False, keywords=[
        "follow back", "follow me", "check my profile", "dm for promo", "crypto", "giveaway", "free followers",
        "earn $", "click here", "onlyfans", "promo code",
    ]),
}

DEFAULT_ESCALATION = [
    "lawyer", "attorney", "legal action", "sue", "suing", "lawsuit", "cancel my account", "closing my account",
    "cancelling my account", "canceling my account", "hacked", "fraud", "stolen", "ombudsman", "regulator",
    "trading standards", "bbb", "going to the press", "journalist", "unsafe", "injured", "injury", "fire",
    "data breach", "discriminate", "discriminated", "discrimination", "discriminating", "discriminatory",
]


class TriageConfig(_Model):
    high_reach_followers: int = Field(10_000, ge=0, description="authors with this many followers raise priority")
    repeat_contact_threshold: int = Field(3, ge=1, description="this many earlier negative contacts raise priority")
    escalation_words: list[str] = Field(default_factory=lambda: list(DEFAULT_ESCALATION))
    categories: dict[str, CategoryRule] = Field(default_factory=dict)
    # Ordering matters: the first category whose keyword matches wins.
    category_order: list[str] = Field(default_factory=lambda: [
        "account_security", "abuse", "spam", "billing", "outage", "delivery", "question", "praise",
    ])
    ignore_retweets: bool = True
    # Who goes to a person when no sentiment model reads the language (label "unscored"):
    # "complaints" = DMs, questions and complaint-looking posts; "all" = everything; "dms" = DMs only.
    unscored_policy: Literal["complaints", "all", "dms"] = "complaints"

    def effective_categories(self) -> dict[str, CategoryRule]:
        """Configured categories extend and override the built-in ones key by key."""
        merged = dict(DEFAULT_CATEGORIES)
        merged.update(self.categories)
        return merged

    @model_validator(mode="after")
    def _order_names_known(self) -> TriageConfig:
        known = set(self.effective_categories())
        unknown = [name for name in self.category_order if name not in known]
        if unknown:
            raise ValueError(
                f"category_order names {unknown} which are not categories; known: {sorted(known)}"
            )
        return self


# --- response times ---------------------------------------------------------------------------

SLA_PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLA_PLATFORMS = ("x", "facebook", "replay")
_SLA_KINDS = ("mention", "dm", "comment", "post")


def _check_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'")
    return value


def _check_clock(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts) \
            or int(parts[0]) > 23 or int(parts[1]) > 59:
        raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. \"09:00\"")
    return value


def _check_weekdays(value: list[str]) -> list[str]:
    lowered = [d.strip().lower()[:3] for d in value]
    bad = [d for d, low in zip(value, lowered) if low not in WEEKDAYS]
    if bad:
        raise ValueError(f"{bad} are not weekdays; write e.g. [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]")
    if not lowered:
        raise ValueError("no open days: give at least one, or set enabled = false")
    return lowered


#: Checked field types shared by the sections with times of day, time zones and weekdays.
Clock = Annotated[str, AfterValidator(_check_clock)]
Zone = Annotated[str | None, AfterValidator(_check_zone)]
Weekdays = Annotated[list[str], AfterValidator(_check_weekdays)]


class SlaOverride(_Model):
    """Minutes per priority for one platform, kind or platform:kind; a priority left out keeps the default."""

    urgent: float | None = Field(None, gt=0, description="minutes to the first reply for urgent items")
    high: float | None = Field(None, gt=0, description="minutes to the first reply for high items")
    normal: float | None = Field(None, gt=0, description="minutes to the first reply for normal items")
    low: float | None = Field(None, gt=0, description="minutes to the first reply for low items")


class BusinessHours(_Model):
    """When the SLA clock runs. Off: it runs day and night."""

    enabled: bool = Field(False, description="count SLA minutes only inside the hours below")
    days: Weekdays = Field(default_factory=lambda: list(WEEKDAYS[:5]), description="open days, e.g. mon..fri")
    start: Clock = Field("09:00", description="opening time, HH:MM local")
    end: Clock = Field("17:00", description="closing time, HH:MM local, after start")
    timezone: Zone = Field(None, description="IANA zone of the hours; default [daemon] timezone")
    holidays: list[date] = Field(default_factory=list, description="closed dates, e.g. 2026-12-25")
    applies_to: list[str] = Field(default_factory=lambda: list(SLA_PRIORITIES),
                                  description="priorities whose clock stops outside business hours")

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


class SlaConfig(_Model):
    """Minutes to the first reply, per priority (optionally per platform/kind), and what happens near a breach."""

    urgent: float = Field(15, gt=0)
    high: float = Field(60, gt=0)
    normal: float = Field(360, gt=0)
    low: float = Field(1440, gt=0)
    overrides: dict[str, SlaOverride] = Field(
        default_factory=dict, description="per 'platform:kind', kind or platform (first match wins), e.g. 'x:dm'")
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    reminder_at: float = Field(0.8, ge=0, lt=1, description="share of the SLA time after which the thread is "
                                                              "reminded once; 0 turns reminders off")
    escalate: bool = Field(True, description="one escalation in the alert's thread when the SLA is breached")
    oncall_group: str | None = Field(None, pattern=r"^S[A-Z0-9]{2,20}$",
                                     description="Slack user group (S...) mentioned in reminders")
    escalation_group: str | None = Field(None, pattern=r"^S[A-Z0-9]{2,20}$",
                                         description="user group mentioned at a breach; default oncall_group")
    escalation_channel: str | None = Field(None, description="also announce breaches here (name or id)")
    stale_after_hours: float = Field(24, gt=0, description="breaches older than this when first seen are recorded, "
                                                            "not announced (e.g. after an upgrade or a long outage)")
    followup_after_hours: float = Field(0, ge=0, description="suggest a 'did this solve it?' follow-up this many "
                                                             "hours after a reply; 0 turns it off")
    reopen_window_hours: float = Field(72, gt=0, description="a customer's message this soon after our reply "
                                                             "reopens the alert in its thread")

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
            raise ValueError(f"{bad} are not platforms or kinds; write e.g. \"x:dm\", \"dm\" or \"facebook\" "
                             f"(platforms {list(_SLA_PLATFORMS)}, kinds {list(_SLA_KINDS)})")
        return value


class AckConfig(_Model):
    """Automatic acknowledgement of private messages (DMs, Messenger): off by default."""

    enabled: bool = Field(False, description="send the acknowledgement template (_ack.j2) to new private messages")
    max_age_minutes: float = Field(60, gt=0, description="messages older than this when seen get no acknowledgement")


class IncidentConfig(_Model):
    """A burst of negative items in one category becomes one incident alert instead of many."""

    enabled: bool = Field(True, description="group bursts into incident alerts")
    threshold: int = Field(10, ge=2, description="this many negative items in one category...")
    window_minutes: float = Field(10, gt=0, description="...arriving within this many minutes open an incident")
    quiet_minutes: float = Field(30, gt=0, description="an incident closes after this long without a new item")
    update_seconds: float = Field(60, ge=0, description="the incident alert is edited at most this often")
    labels: list[str] = Field(default_factory=lambda: ["negative"], description="sentiment labels that count")
    categories: list[str] = Field(default_factory=list, description="categories that can form incidents; [] = all")
    channel: str | None = Field(None, description="where incident alerts go; default [slack] channel")
    list_size: int = Field(5, ge=1, le=20, description="items listed in the incident alert")


class DigestConfig(_Model):
    """The daily digest in Slack (and `socialwatch report`)."""

    enabled: bool = Field(True, description="post a digest each day when Slack is configured")
    time: Clock = Field("09:00", description="local time of day the digest is posted, HH:MM")
    timezone: Zone = Field(None, description="IANA zone of `time` and of the charts; default [daemon] timezone")
    days: Weekdays = Field(default_factory=lambda: list(WEEKDAYS), description="weekdays a digest is posted")
    covers: Literal["last_24_hours", "yesterday"] = Field("last_24_hours", description="the period a digest covers")
    channel: str | None = Field(None, description="where the digest goes; default [slack] channel")
    charts: bool = Field(True, description="upload chart images (needs the socialwatch[charts] extra)")
    top: int = Field(5, ge=1, le=50, description="rows per list (categories, unanswered items, repeat authors)")


# --- end of response times -------------------------------------------------------------------


class SuggestionsConfig(_Model):
    templates_dir: Path | None = Field(None, description="overrides for the built-in templates, file by file")
    brand_name: str = "our team"
    help_url: str = "https://example.com/help"
    status_url: str | None = None
    signature: str = ""
    case_prefix: str = Field("SW", pattern=r"^[A-Za-z0-9-]{1,8}$")
    max_suggestions: int = Field(3, ge=1, le=3)


class ReplaySource(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    path: Path
    poll_interval: float | None = Field(None, ge=1)
    slack_channel: str | None = None


class XAccount(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    bearer_token: SecretStr
    # OAuth 1.0a user context; when present, DMs and replies use it instead of the bearer token.
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    user_id: str | None = None
    handle: str | None = None
    mentions: bool = True
    dms: bool = True
    ignore_retweets: bool | None = None
    poll_interval: float | None = Field(None, ge=1)
    slack_channel: str | None = None


class XConfig(_Model):
    api_base: str = "https://api.twitter.com"
    accounts: list[XAccount] = Field(default_factory=list)


class FacebookPage(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    page_id: str = Field(pattern=r"^[0-9]{1,32}$")
    page_token: SecretStr
    app_secret: SecretStr | None = None
    posts: bool = True
    tagged: bool = True
    comments: bool = True
    messenger: bool = True
    # Graph has no "new comments anywhere" edge: comments are read on posts of the last N days.
    comment_window_days: float = Field(14, gt=0, le=90)
    poll_interval: float | None = Field(None, ge=1)
    slack_channel: str | None = None


class FacebookConfig(_Model):
    graph_base: str = "https://graph.facebook.com"
    graph_version: str = Field("v21.0", pattern=r"^v\d{1,2}\.\d$")
    pages: list[FacebookPage] = Field(default_factory=list)


class SlackConfig(_Model):
    bot_token: SecretStr
    app_token: SecretStr | None = None  # Socket Mode; without it alerts are posted but clicks are not received
    api_base: str = "https://slack.com/api/"
    channel: str
    ops_channel: str | None = None
    routing: dict[str, str] = Field(
        default_factory=dict, description="priority, platform or account name -> channel; first match wins"
    )
    approvers: list[str] = Field(default_factory=list)
    approver_group: str | None = None
    two_person_rule: bool = False
    alerts_only: bool = False


class RetentionConfig(_Model):
    """How long personal data is kept; 0 keeps it for ever. The audit chain survives a purge."""

    purge_texts_after_days: float = Field(
        0, ge=0, description="days after which texts, names and raw payloads are purged (audit hashes stay)")
    purge_raw_after_days: float = Field(0, ge=0, description="days after which raw platform payloads are dropped")


class Config(_Model):
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    suggestions: SuggestionsConfig = Field(default_factory=SuggestionsConfig)
    replay: list[ReplaySource] = Field(default_factory=list)
    x: XConfig = Field(default_factory=XConfig)
    facebook: FacebookConfig = Field(default_factory=FacebookConfig)
    slack: SlackConfig | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    ack: AckConfig = Field(default_factory=AckConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)

    # Where it came from; not part of the TOML.
    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @model_validator(mode="after")
    def _inherit_timezone(self) -> Config:
        # Business hours and the digest default to [daemon] timezone; resolved here because triage
        # computes due times from SlaConfig alone.
        if self.sla.business_hours.timezone is None:
            self.sla.business_hours.timezone = self.daemon.timezone
        if self.digest.timezone is None:
            self.digest.timezone = self.daemon.timezone
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for label, names in (
            ("x.accounts", [a.name for a in self.x.accounts]),
            ("facebook.pages", [p.name for p in self.facebook.pages]),
            ("replay", [r.name for r in self.replay]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: names must be unique, {dupes} appear more than once")
        return self

    def secret_values(self) -> list[str]:
        """Every resolved secret, for the log redaction filter."""
        return [value for _, value in secret_fields(self) if value]

    def fingerprint(self) -> str:
        """SHA-256 of the effective config with secrets left out: recorded in the audit log at start."""
        dumped = self.model_dump(mode="json")
        text = json.dumps(dumped, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def secret_fields(config: BaseModel) -> list[tuple[str, str]]:
    """(dotted key, value) of every secret field that is set."""
    found: list[tuple[str, str]] = []

    def visit(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, SecretStr):
                found.append((key, value.get_secret_value()))
            elif isinstance(value, BaseModel):
                visit(value, key + ".")
            elif isinstance(value, list):
                for index, element in enumerate(value):
                    if isinstance(element, BaseModel):
                        visit(element, f"{key}[{index}].")

    visit(config, "")
    return found
