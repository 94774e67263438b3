"""Emulator of the Facebook Graph API subset a Page inbox tool uses, under ``/vNN.N/``.

Page feed/tagged/posts with nested field expansion, comments with cursor paging,
Messenger conversations and the Send API (24-hour window), page replies to comments,
Graph error bodies (190 with subcodes, rate-limit codes 4/17/32/613), usage headers and
``appsecret_proof`` when an app secret is configured.

``GraphEmulator`` is the page's state (``state.py``, records in ``model.py``) with the
Graph API (``api.py``: ``auth.py``, field tables in ``nodes.py``, expansion and paging in
``render.py``, the ``fields=`` parser in ``fields.py``) and the control API (``control.py``).
Instagram's nodes and edges (the page's linked professional account) are mixins over the same
state: ``instagram_model.py``, ``instagram_state.py``, ``instagram_nodes.py``, ``instagram_api.py``,
``instagram_control.py``, and private replies to comments in ``private_replies.py``.
"""

from __future__ import annotations

from socialwatch.sandbox.graph.api import GraphApi
from socialwatch.sandbox.graph.control import GraphControl
from socialwatch.sandbox.graph.instagram_api import InstagramApi
from socialwatch.sandbox.graph.instagram_control import InstagramControl


class GraphEmulator(InstagramApi, InstagramControl, GraphApi, GraphControl):
    """The Graph API emulator. All state sits behind one lock."""

    target = "facebook"
