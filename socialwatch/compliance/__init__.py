"""Compliance: retention of personal data and the read-only review UI."""
