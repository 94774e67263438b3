"""The ``[suggestions]`` section: templates, the brand's words per language (``[suggestions.languages.<lang>]``),
which languages the brand answers in, and which ones its Slack team reads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from socialwatch.config.section import Section

_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
_CODE_HINT = "use ISO 639 codes such as 'en', 'sw', 'ms' (a region is allowed: 'pt-br')"


def _codes(value: list[str]) -> list[str]:
    codes = [code.strip().lower() for code in value]
    bad = [code for code in codes if not _CODE.match(code)]
    if bad:
        raise ValueError(f"{bad} are not language codes; {_CODE_HINT}")
    return list(dict.fromkeys(codes))


class LanguageSettings(Section):
    """What a reply in one language says for the brand; a key left out is taken from ``[suggestions]``."""

    brand_name: str | None = None
    help_url: str | None = None
    status_url: str | None = None
    signature: str | None = None


@dataclass(frozen=True)
class BrandWords:
    """The brand's name, help and status links and sign-off, resolved for one language."""

    brand_name: str
    help_url: str
    status_url: str
    signature: str


class SuggestionsConfig(Section):
    templates_dir: Path | None = Field(None, description="overrides for the built-in templates, file by file")
    # Empty: the templates say "our team" (or its translation) where the brand's name would go.
    brand_name: str = ""
    help_url: str = "https://example.com/help"
    status_url: str | None = None
    signature: str = ""
    case_prefix: str = Field("SW", pattern=r"^[A-Za-z0-9-]{1,8}$")
    max_suggestions: int = Field(3, ge=1, le=3)
    default_language: str = Field("en", description="the reply's language when neither message nor history tells")
    reply_languages: list[str] = Field(
        default_factory=list, description="the languages the brand answers in; empty: every language with templates"
    )
    other_languages: Literal["default", "none"] = Field(
        "default",
        description="a message in a language not answered: suggest in default_language, or none (a person writes)",
    )
    team_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="languages the Slack team reads; a suggestion in another shows its English meaning beside it",
    )
    languages: dict[str, LanguageSettings] = Field(default_factory=dict)

    @field_validator("default_language")
    @classmethod
    def _default_code(cls, value: str) -> str:
        return _codes([value])[0]

    @field_validator("reply_languages", "team_languages")
    @classmethod
    def _code_list(cls, value: list[str]) -> list[str]:
        return _codes(value)

    @field_validator("languages")
    @classmethod
    def _language_keys(cls, value: dict[str, LanguageSettings]) -> dict[str, LanguageSettings]:
        _codes(list(value))
        return {key.strip().lower(): settings for key, settings in value.items()}

    @model_validator(mode="after")
    def _default_is_answered(self) -> SuggestionsConfig:
        if self.reply_languages and self.default_language not in self.reply_languages:
            raise ValueError(
                f"default_language {self.default_language!r} is not in reply_languages {self.reply_languages}; "
                "add it there, or choose one of them"
            )
        return self

    def words_for(self, lang: str) -> BrandWords:
        """The brand's words in ``lang``: ``[suggestions.languages.<lang>]`` over ``[suggestions]``."""
        own = self.languages.get(lang) or LanguageSettings()
        help_url = own.help_url if own.help_url is not None else self.help_url
        status = own.status_url if own.status_url is not None else self.status_url
        return BrandWords(
            brand_name=own.brand_name if own.brand_name is not None else self.brand_name,
            help_url=help_url,
            status_url=status or help_url,
            signature=own.signature if own.signature is not None else self.signature,
        )
