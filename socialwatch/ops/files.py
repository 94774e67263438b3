"""Private files: what socialwatch writes for people (exports, reports, backups) holds customers' words and
names, so it is created owner-only (0600) whatever the umask, never world-readable for a moment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600


def create_private(path: Path, *, exclusive: bool = False) -> int:
    """Open ``path`` for writing (truncated; ``exclusive``: it must not exist) as 0600, and return the fd.
    ``os.open``'s mode is masked by the umask, so the mode is set again on the open file (``fchmod``):
    an existing file's wider mode is narrowed too."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(path: Path, *, encoding: str = "utf-8", newline: str | None = None) -> IO[Any]:
    """A text file for writing, created (or truncated) 0600."""
    return os.fdopen(create_private(path), "w", encoding=encoding, newline=newline)
