"""The ``[instagram]`` section: Instagram professional accounts, each reached through its linked Facebook
Page and that Page's token, and which of its streams to watch.

An account's comments are read on its media of the last ``comment_window_days`` (Graph has no
account-wide comment stream); ``human_agent`` says the Meta app has the Human Agent permission,
which lets a person answer a DM for 7 days after the customer's last message instead of 24 hours.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from socialwatch.config.section import DAY_SECONDS, Section


class InstagramAccount(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ig_user_id: str = Field(
        pattern=r"^[0-9]{5,32}$",
        description="the Instagram professional account's id (GET /{page-id}?fields=instagram_business_account)",
    )
    page_id: str = Field(pattern=r"^[0-9]{1,32}$", description="the Facebook Page the account is linked to")
    page_token: SecretStr
    app_secret: SecretStr | None = None
    username: str | None = Field(None, pattern=r"^@?[A-Za-z0-9_.]{1,30}$")
    comments: bool = True
    mentions: bool = True
    dms: bool = True
    comment_window_days: float = Field(14, gt=0, le=90)
    human_agent: bool = False
    poll_interval: float | None = Field(None, ge=1, le=DAY_SECONDS)
    slack_channel: str | None = None


class InstagramConfig(Section):
    # Unset: the [facebook] section's (Instagram is the same Graph API).
    graph_base: str | None = None
    graph_version: str | None = Field(None, pattern=r"^v\d{1,2}\.\d$")
    accounts: list[InstagramAccount] = Field(default_factory=list)
