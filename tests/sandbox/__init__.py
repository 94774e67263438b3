"""Tests of the sandbox's emulators (X, Graph, Slack and Socket Mode), its server and its web view.

A package, so that its modules' names (``sandbox.test_slack``) do not clash with the product tests'
(``test_slack``); helpers still come from ``tests/`` (``conftest``, ``sandbox_support``).
"""
