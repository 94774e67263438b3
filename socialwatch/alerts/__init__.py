"""Alerts: the alert outbox drained into a channel (Slack or the console), the alert card, and the clicks.

``cards`` is pure (Block Kit, escaping, limits); ``slack`` is the only place that speaks slack_sdk's Web
API and translates its errors; ``interactions`` receives clicks over Socket Mode and dispatches them by
action id through ``actions``, where each feature registers its own buttons."""
