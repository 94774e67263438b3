"""Slack, emulated: the Web API methods socialwatch uses (under ``/api/``), Socket Mode and a control API.

Interactivity goes over Socket Mode (``socketmode.py``): ``POST /_sandbox/slack/actions``
clicks a button of a posted message and delivers Slack's ``block_actions`` payload to a
connected client. ``SlackEmulator`` is the workspace (``state.py``) with its Web API
(``api.py``) and its control API (``control.py``, with the interactive flows in
``interactions.py``); ids and records are in ``model.py``, Block Kit checks in ``blocks.py``.
"""

from __future__ import annotations

from socialwatch.sandbox.slack.api import SlackApi
from socialwatch.sandbox.slack.control import SlackControl


class SlackEmulator(SlackApi, SlackControl):
    """The Slack workspace of the sandbox: channels, messages, views, files, Socket Mode."""

    target = "slack"
