"""The base of every config section: unknown keys are errors, so a typo is reported, never ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A TOML table of the config."""

    # Unknown keys are almost always typos; silently ignoring them hides real mistakes.
    # inf and nan are valid TOML floats, but no duration or threshold means them: a scheduler or a timedelta
    # would fail at run time on them, so they are refused here, with the key.
    model_config = ConfigDict(extra="forbid", validate_assignment=False, allow_inf_nan=False)


#: Upper bounds of durations, far above any sensible value and well inside what a timedelta or the
#: scheduler takes (``poll_interval = 1e308`` passed the schema and failed when the job was planned).
DAY_SECONDS = 86_400
YEAR_MINUTES = 525_600
YEAR_HOURS = 8_760
CENTURY_DAYS = 36_500
