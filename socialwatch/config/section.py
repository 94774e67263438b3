"""The base of every config section: unknown keys are errors, so a typo is reported, never ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A TOML table of the config."""

    # Unknown keys are almost always typos; silently ignoring them hides real mistakes.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)
