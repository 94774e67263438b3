"""The Graph emulator's page and what happens on it: profiles, posts, comments, Messenger threads.

Plain records with Graph's own id shapes (``<page>_<post>``, ``<post>_<comment>``,
``t_<thread>``, ``m_<message>``); the state that holds them is ``state.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_VERSION = "v21.0"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
RESPONSE_WINDOW = 24 * 3600  # Messenger's standard messaging window
HUMAN_AGENT_WINDOW = 7 * 24 * 3600
DEFAULT_BUDGET = (4800, 3600.0)  # calls per window for the page (Graph's BUC budgets are per 24 h, scaled)
#: A Graph API path: ``/vNN.N`` and the rest.
VERSION_PATH = re.compile(r"^/(v\d{1,2}\.\d{1,2})(/.*)?$")


def graph_time(ts: float) -> str:
    """Graph's timestamp format: 2021-06-30T21:21:18+0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FbProfile:
    id: str
    name: str
    is_page: bool = False


@dataclass
class FbPost:
    id: str
    author_id: str
    message: str
    created: float
    kind: str  # "page" (the brand's own), "visitor" (on the page), "tagged" (elsewhere, tagging the page)
    from_hidden: bool = False  # Graph withholds ``from`` for this author
    attachments: list[dict[str, Any]] = field(default_factory=list)  # control-API specs (attachments.py)


@dataclass
class FbComment:
    id: str
    post_id: str
    parent_id: str | None
    author_id: str
    message: str
    created: float
    like_count: int = 0
    is_hidden: bool = False
    from_hidden: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)
    by_admin: bool = False  # the page's own, typed by a page admin (Graph then sets ``admin_creator``)


@dataclass
class FbMessage:
    id: str
    thread_id: str
    from_id: str
    to_id: str
    text: str
    created: float
    from_hidden: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FbThread:
    id: str
    user_id: str
    number: int
    messages: list[FbMessage] = field(default_factory=list)
    unread: int = 0

    @property
    def updated(self) -> float:
        return max((m.created for m in self.messages), default=0.0)
