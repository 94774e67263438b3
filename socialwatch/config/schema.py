"""The configuration's schema: one pydantic model per TOML section, with defaults, bounds and checks.

Every key a user can write is declared here, so validation reports the exact key of a mistake;
``config.load`` finds the file, parses it against these models, resolves secrets and explains errors.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from socialwatch.config.customers import CustomersConfig, check_brands
from socialwatch.config.instagram import InstagramConfig
from socialwatch.config.response_times import (
    AckConfig,
    DigestConfig,
    IncidentConfig,
    SlaConfig,
    check_zone,
)
from socialwatch.config.section import CENTURY_DAYS, DAY_SECONDS, YEAR_HOURS, YEAR_MINUTES, Section
from socialwatch.config.suggestions import SuggestionsConfig
from socialwatch.config.triage import TriageConfig

log = logging.getLogger(__name__)


class DaemonConfig(Section):
    database: Path = Path("socialwatch.db")
    poll_interval: float = Field(60.0, ge=1, le=DAY_SECONDS, description="seconds between polls of each source")
    jitter: float = Field(
        5.0, ge=0, le=DAY_SECONDS, description="random seconds added to each poll so sources don't align"
    )
    backfill_hours: float = Field(
        24.0, ge=0, le=YEAR_HOURS, description="how far back the first poll of a new source reads"
    )
    http_timeout: float = Field(10.0, gt=0, le=120, description="seconds; every platform call is bounded by it")
    secrets_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_port: int = Field(0, ge=0, le=65535)
    timezone: str = "UTC"
    max_workers: int = Field(4, ge=1, le=32)
    silent_after_minutes: float = Field(
        30, gt=0, le=YEAR_MINUTES, description="a source without a successful poll this long is unhealthy"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        check_zone(value)
        return value


class SentimentConfig(Section):
    negative_threshold: float = Field(-0.05, ge=-1, le=0)
    positive_threshold: float = Field(0.05, ge=0, le=1)
    lexicon: dict[str, float] = Field(default_factory=dict, description="brand terms and their VADER valence (-4..4)")
    # The customer-service layer (scoring/complaints.py): complaint evidence per language, on top of the
    # shipped lexicons (scoring/lexicons/*.toml). {lang: {term: weight}}, weight -1..1; "term*" = prefix.
    complaint_lexicon: dict[str, dict[str, float]] = Field(default_factory=dict)
    complaint_threshold: float = Field(0.5, gt=0, le=1, description="complaint score that makes an item negative")
    # Languages the brand's customers write (ISO 639-1); language detection favours them on short texts.
    languages: list[str] = Field(default_factory=list)
    # The learned model (socialwatch/learning): "auto" = the one installed in the data dir (the database's
    # folder) if any, else the one shipped in the package; "none" = VADER and the rules only; or a file.
    model: str = "auto"
    # P(negative) at or above which the model labels a language's text negative, overriding the model
    # file's thresholds per language: {lang: 0..1}.
    model_thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("model_thresholds")
    @classmethod
    def _threshold_range(cls, value: dict[str, float]) -> dict[str, float]:
        for lang, cut in value.items():
            if not (2 <= len(lang) <= 3 and lang.isalpha()):
                raise ValueError(f"{lang!r} is not a language code; use ISO 639-1 such as 'sw' or 'lv'")
            if not 0.0 < cut < 1.0:
                raise ValueError(
                    f"threshold for {lang!r} is {cut}; it is a probability of 'negative', strictly between 0 and 1"
                )
        return {lang.lower(): cut for lang, cut in value.items()}

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


class ReplaySource(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    path: Path
    poll_interval: float | None = Field(None, ge=1, le=DAY_SECONDS)
    slack_channel: str | None = None


class XAccount(Section):
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
    poll_interval: float | None = Field(None, ge=1, le=DAY_SECONDS)
    slack_channel: str | None = None


class XConfig(Section):
    api_base: str = "https://api.twitter.com"
    # A reply with a link costs far more on X than one without: false gives the templates' link-free variants.
    reply_links: bool = True
    accounts: list[XAccount] = Field(default_factory=list)


class FacebookPage(Section):
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
    poll_interval: float | None = Field(None, ge=1, le=DAY_SECONDS)
    slack_channel: str | None = None


class FacebookConfig(Section):
    graph_base: str = "https://graph.facebook.com"
    graph_version: str = Field("v21.0", pattern=r"^v\d{1,2}\.\d$")
    pages: list[FacebookPage] = Field(default_factory=list)


class SlackConfig(Section):
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


class RetentionConfig(Section):
    """How long personal data is kept; 0 keeps it for ever. The audit chain survives a purge."""

    purge_texts_after_days: float = Field(
        0,
        ge=0,
        le=CENTURY_DAYS,
        description="days after which texts, names and raw payloads are purged (audit hashes stay)",
    )
    purge_raw_after_days: float = Field(
        0, ge=0, le=CENTURY_DAYS, description="days after which raw platform payloads are dropped"
    )


class Config(Section):
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    suggestions: SuggestionsConfig = Field(default_factory=SuggestionsConfig)
    replay: list[ReplaySource] = Field(default_factory=list)
    x: XConfig = Field(default_factory=XConfig)
    facebook: FacebookConfig = Field(default_factory=FacebookConfig)
    instagram: InstagramConfig = Field(default_factory=InstagramConfig)
    slack: SlackConfig | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    ack: AckConfig = Field(default_factory=AckConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    customers: CustomersConfig = Field(default_factory=CustomersConfig)

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
            ("instagram.accounts", [a.name for a in self.instagram.accounts]),
            ("replay", [r.name for r in self.replay]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: names must be unique, {dupes} appear more than once")
        check_brands(self, self.customers)
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
