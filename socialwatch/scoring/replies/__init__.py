"""Suggested replies: templates per language, the choice of language, personal details and platform rules."""
