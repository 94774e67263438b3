"""Configuration: the TOML schema (pydantic sections) and loading it (find, parse, secrets, explain mistakes)."""
