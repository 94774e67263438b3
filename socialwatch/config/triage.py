"""The ``[triage]`` section: categories with their keywords and priorities, escalation words, reach."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from socialwatch.config.section import Section


class CategoryRule(Section):
    keywords: list[str] = Field(min_length=1)
    needs_reply: bool = True


DEFAULT_CATEGORIES: dict[str, CategoryRule] = {
    "account_security": CategoryRule(
        keywords=[
            "hacked",
            "hack",
            "locked out",
            "can't log in",
            "cant log in",
            "cannot log in",
            "can't login",
            "password",
            "2fa",
            "two-factor",
            "verification code",
            "suspicious",
            "unauthorised",
            "unauthorized",
            "account locked",
            "account suspended",
            "compromised",
            "phishing",
        ]
    ),
    "billing": CategoryRule(
        keywords=[
            "charged",
            "charge",
            "refund",
            "invoice",
            "billing",
            "bill",
            "payment",
            "overcharged",
            "double charged",
            "subscription",
            "credit card",
            "debit",
            "money back",
            "price",
            "fee",
            "cancel my subscription",
        ]
    ),
    "outage": CategoryRule(
        keywords=[
            "down",
            "outage",
            "not working",
            "isn't working",
            "doesn't work",
            "does not work",
            "won't load",
            "wont load",
            "crash",
            "crashes",
            "crashing",
            "error",
            "502",
            "503",
            "500",
            "offline",
            "broken",
            "bug",
            "no service",
            "no signal",
            "can't connect",
            "cannot connect",
        ]
    ),
    "delivery": CategoryRule(
        keywords=[
            "delivery",
            "delivered",
            "package",
            "parcel",
            "shipping",
            "shipped",
            "tracking",
            "courier",
            "order",
            "arrived",
            "never arrived",
            "lost",
            "damaged",
            "late",
            "delayed",
            "delay",
        ]
    ),
    "question": CategoryRule(
        keywords=[
            "how do i",
            "how can i",
            "how to",
            "is there",
            "can i",
            "can you",
            "do you",
            "does it",
            "where can",
            "when will",
            "what is",
            "any update",
            "?",
        ]
    ),
    "praise": CategoryRule(
        needs_reply=False,
        keywords=[
            "thank you",
            "thanks",
            "love",
            "great service",
            "amazing",
            "awesome",
            "brilliant",
            "excellent",
            "best",
            "well done",
            "kudos",
            "fantastic",
            "appreciate",
        ],
    ),
    "abuse": CategoryRule(
        needs_reply=False,
        keywords=[
            "idiot",
            "idiots",
            "stupid",
            "moron",
            "morons",
            "scum",
            "garbage company",
            "f*** you",
            "fuck you",
        ],
    ),
    "spam": CategoryRule(
        needs_reply=False,
        keywords=[
            "follow back",
            "follow me",
            "check my profile",
            "dm for promo",
            "crypto",
            "giveaway",
            "free followers",
            "earn $",
            "click here",
            "onlyfans",
            "promo code",
        ],
    ),
}

DEFAULT_ESCALATION = [
    "lawyer",
    "attorney",
    "legal action",
    "sue",
    "suing",
    "lawsuit",
    "cancel my account",
    "closing my account",
    "cancelling my account",
    "canceling my account",
    "hacked",
    "fraud",
    "stolen",
    "ombudsman",
    "regulator",
    "trading standards",
    "bbb",
    "going to the press",
    "journalist",
    "unsafe",
    "injured",
    "injury",
    "fire",
    "data breach",
    "discriminate",
    "discriminated",
    "discrimination",
    "discriminating",
    "discriminatory",
]


class TriageConfig(Section):
    high_reach_followers: int = Field(10_000, ge=0, description="authors with this many followers raise priority")
    repeat_contact_threshold: int = Field(3, ge=1, description="this many earlier negative contacts raise priority")
    escalation_words: list[str] = Field(default_factory=lambda: list(DEFAULT_ESCALATION))
    categories: dict[str, CategoryRule] = Field(default_factory=dict)
    # Ordering matters: the first category whose keyword matches wins.
    category_order: list[str] = Field(
        default_factory=lambda: [
            "account_security",
            "abuse",
            "spam",
            "billing",
            "outage",
            "delivery",
            "question",
            "praise",
        ]
    )
    ignore_retweets: bool = True
    # Who goes to a person when no sentiment model reads the language (label "unscored"):
    # "complaints" = DMs, questions and complaint-looking posts; "all" = everything; "dms" = DMs only.
    unscored_policy: Literal["complaints", "all", "dms"] = "complaints"

    def effective_categories(self) -> dict[str, CategoryRule]:
        """Configured categories extend and override the built-in ones key by key."""
        merged = dict(DEFAULT_CATEGORIES)
        merged.update(self.categories)
        return merged

    def category_names(self) -> tuple[str, ...]:
        """Every category triage can give, in the configured order, then the rest by name, then "other"
        (what no keyword matched): the choices a manager's correction offers."""
        known = self.effective_categories()
        rest = sorted(set(known) - set(self.category_order) - {"other"})
        return (*[name for name in self.category_order if name != "other"], *rest, "other")

    @model_validator(mode="after")
    def _order_names_known(self) -> TriageConfig:
        known = set(self.effective_categories())
        unknown = [name for name in self.category_order if name not in known]
        if unknown:
            raise ValueError(f"category_order names {unknown} which are not categories; known: {sorted(known)}")
        return self
