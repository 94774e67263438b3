"""Emulator of the X API v2 subset socialwatch uses, in the wire format of tweepy 4.17's spec (2.166).

Mentions timeline (newest 800 reachable), DM events, posting tweets/replies and DMs, recent
search (enough of the query language to find the brand's replies), per-endpoint budgets
with ``x-rate-limit-*`` headers, app-only vs user-context auth (OAuth 2.0 bearer and OAuth
1.0a with signature check), and API tiers without DM access.

``XEmulator`` is the brand's state (``state.py``, records and vocabulary in ``model.py``)
with the X API (``api.py``, ``tweets.py``, ``dms.py``; ``auth.py``, ``search.py``,
``params.py``, ``problems.py``) and the control API (``control.py``).
"""

from __future__ import annotations

from socialwatch.sandbox.x.api import XApi
from socialwatch.sandbox.x.control import XControl


class XEmulator(XApi, XControl):
    """The X API v2 emulator. All state sits behind one lock."""

    target = "x"
