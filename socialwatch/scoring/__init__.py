"""Scoring, pure: sentiment, language, complaint signals, exposed personal data, triage and suggested replies.

Nothing here does I/O or reaches the store, the sources, the alerts or the response-time jobs; it imports
the models and the config only, so every decision can be replayed from an item and a config."""
