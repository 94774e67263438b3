"""Logging setup: stderr for journald, optional JSON lines, and redaction of every secret.

Redaction happens when a record is created (a log record factory), so every handler sees
the redacted text, including records of library loggers at DEBUG (tweepy prints the bearer
header, urllib3 prints URLs with ``access_token=``, oauthlib prints the OAuth parameters,
slack_sdk prints request and response bodies) and handlers added by someone else. Known
secret values are replaced wherever they appear, and so are common token shapes, so a token
learned from an API response or typed into the wrong place does not leak either. Uncaught
exceptions (main thread and worker threads) are routed through logging for the same reason.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, TextIO
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
# Shorter "secrets" would shred ordinary words out of every log line.
MIN_SECRET_LENGTH = 4

_SENSITIVE_KEYS = (
    "access_token",
    "refresh_token",
    "oauth_token",
    "oauth_token_secret",
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_verifier",
    "oauth_nonce",
    "client_secret",
    "client_key",
    "consumer_key",
    "consumer_secret",
    "resource_owner_key",
    "resource_owner_secret",
    "access_token_secret",
    "appsecret_proof",
    "app_secret",
    "bearer_token",
    "page_token",
    "bot_token",
    "app_token",
    "fb_exchange_token",
    "input_token",
    "ticket",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "secret",
    "token",
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value, "key": "value", key: value, ('key', 'value') and the percent-encoded key%3Dvalue.
    (
        re.compile(
            r"(?P<key>(?<![A-Za-z0-9_])(?:" + "|".join(_SENSITIVE_KEYS) + r")(?![A-Za-z0-9_]))"
            r"(?P<sep>['\"]?\s*[:=]\s*['\"]?|['\"]\s*,\s*['\"]|%3[Dd])"
            r"(?P<value>(?!\[REDACTED\])[^\s'\"&,;)}\]<>%]+(?:%[0-9A-Fa-f]{2}[^\s'\"&,;)}\]<>%]*)*)",
            re.IGNORECASE,
        ),
        r"\g<key>\g<sep>" + REDACTED,
    ),
    # Authorization header values: Bearer and Basic carry the credential itself. The length floor
    # spares prose such as "bearer token".
    (
        re.compile(r"\b(?P<scheme>[Bb]earer|BEARER)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=%-]{12,}"),
        r"\g<scheme> " + REDACTED,
    ),
    (re.compile(r"\bBasic\s+(?!\[REDACTED\])[A-Za-z0-9+/=]{12,}"), "Basic " + REDACTED),
    # OAuth 1.0a header: the whole parameter list (consumer key, token, signature, nonce).
    (re.compile(r"\bOAuth\s+(?:[a-z_]+=\"[^\"]*\"(?:,\s*)?)+", re.IGNORECASE), "OAuth " + REDACTED),
    # Slack tokens: bot, user, app-level, configuration and refresh tokens.
    (re.compile(r"\b(?:xox[abposer]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{4,}"), REDACTED),
    # Facebook access tokens start with EAA; X app-only bearer tokens with a run of A's.
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\bA{10,}[A-Za-z0-9%._-]{10,}"), REDACTED),
)


class Redactor:
    """Replaces known secret values and token-shaped strings with ``[REDACTED]``. Thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret:
            return
        secret = secret.strip()
        if len(secret) < MIN_SECRET_LENGTH:
            return
        # Secrets also show up URL-encoded (query strings, OAuth base strings encode twice) and
        # JSON-escaped (request bodies).
        variants = {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            quote(quote(secret, safe=""), safe=""),
            json.dumps(secret)[1:-1],
        }
        with self._lock:
            if variants <= self._secrets:
                return
            self._secrets |= variants
            # Longest first, so a secret containing another is replaced whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._known = re.compile("|".join(re.escape(s) for s in ordered))

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._known = None

    def redact(self, text: str) -> str:
        known = self._known  # a single read: safe against a concurrent add()
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


_redactor = Redactor()


def add_secret(value: str | None) -> None:
    """Redact ``value`` from now on (e.g. a token obtained at run time)."""
    _redactor.add(value)


def redact(text: str) -> str:
    """The text as it would appear in the log."""
    return _redactor.redact(text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact message, arguments, exception and stack text in place (idempotent)."""
    # The marker is the redacted message itself: logging.makeLogRecord() runs the factory on an
    # empty record and only then fills in msg and args, which must not count as redacted.
    if record.__dict__.get("_socialwatch_redacted") is record.msg and not record.args:
        return record
    try:
        message = record.getMessage()
    except Exception:
        # Bad %-arguments: keep what we have rather than lose the record.
        message = f"{record.msg!s} {record.args!r}"
    record.msg = _redactor.redact(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = _redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = _redactor.redact(record.stack_info)
    record._socialwatch_redacted = record.msg
    return record


class RedactingFilter(logging.Filter):
    """Handler filter: catches records made without the factory (e.g. ``logging.makeLogRecord``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, thread, and exc when present."""

    def format(self, record: logging.LogRecord) -> str:
        redact_record(record)
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class JournalFormatter(logging.Formatter):
    """Text for journald: no timestamp (journald adds one) and a ``<N>`` syslog priority prefix,
    which journald turns into the entry's priority so ``journalctl -p warning`` works."""

    _PRIORITY: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2,
        logging.ERROR: 3,
        logging.WARNING: 4,
        logging.INFO: 6,
        logging.DEBUG: 7,
    }

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        priority = self._PRIORITY.get(record.levelno, 7 if record.levelno < logging.INFO else 6)
        # Each line is a separate journal entry; prefix them all so a traceback keeps its priority.
        return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


_original_factory = logging.getLogRecordFactory()
_HANDLER_MARK = "_socialwatch_handler"


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    return redact_record(_original_factory(*args, **kwargs))


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("socialwatch").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("socialwatch").critical("uncaught exception in thread %s", name, exc_info=args.exc_value or True)


def under_journald(stream: TextIO) -> bool:
    """True when ``stream`` is connected to the journal (``$JOURNAL_STREAM`` names its device:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        device, inode = (int(part) for part in value.split(":", 1))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        # No real file descriptor (tests, wrappers): trust the variable.
        return True
    return (info.st_dev, info.st_ino) == (device, inode)


def setup_logging(
    level: str = "INFO",
    fmt: Literal["text", "json"] = "text",
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Configure the root logger once, at daemon/CLI start. Returns the installed handler.

    ``secrets`` replaces the set of known secret values; :func:`add_secret` adds more later.
    Calling it again replaces the previous configuration.
    """
    _redactor.clear()
    for secret in secrets:
        _redactor.add(secret)
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)

    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif under_journald(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    # apscheduler logs two INFO lines per job run; at INFO that drowns everything else.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)

    logging.captureWarnings(True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    return handler


def teardown_logging() -> None:
    """Undo :func:`setup_logging` (for tests and for embedding)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    if logging.getLogRecordFactory() is _redacting_factory:
        logging.setLogRecordFactory(_original_factory)
    logging.getLogger("apscheduler").setLevel(logging.NOTSET)
    logging.captureWarnings(False)
    if sys.excepthook is _excepthook:
        sys.excepthook = sys.__excepthook__
    if threading.excepthook is _thread_excepthook:
        threading.excepthook = threading.__excepthook__
    _redactor.clear()
