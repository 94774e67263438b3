"""Sources: one adapter per platform stream, each turning vendor payloads into Items.

The pipeline and the daemon see only ``socialwatch.sources.base``; tweepy and
facebook-sdk are imported by their adapters alone.
"""
