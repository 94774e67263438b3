"""Emulator of the Facebook Graph API subset a Page inbox tool uses, under ``/vNN.N/``.

Page feed/tagged/posts with nested field expansion, comments with cursor paging,
Messenger conversations and the Send API (24-hour window), page replies to comments,
Graph error bodies (190 with subcodes, rate-limit codes 4/17/32/613), usage headers and
``appsecret_proof`` when an app secret is configured.

``GraphEmulator`` is the page's state (``state.py``, records in ``model.py``) with the
Graph API (``api.py``: ``auth.py``, field tables in ``nodes.py``, expansion and paging in
``render.py``, the ``fields=`` parser in ``fields.py``) and the control API (``control.py``).
"""

from __future__ import annotations

from socialwatch.sandbox.graph.api import GraphApi
from socialwatch.sandbox.graph.control import GraphControl


class GraphEmulator(GraphApi, GraphControl):
    """The Graph API emulator. All state sits behind one lock."""

    target = "facebook"
