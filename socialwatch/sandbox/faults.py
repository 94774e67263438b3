"""Fault injection: "the next N requests to this path get that failure".

Rules are matched by target platform and path prefix, in the order they were added;
each match spends one of the rule's ``count`` and the rule disappears when spent.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

TARGETS = ("x", "facebook", "slack")
STATUS_FAULTS = ("429", "500", "503", "401", "403", "400")
#: The request is carried out (a post is written), then its answer is lost or replaced by a 5xx.
AFTER_WRITE_FAULTS = ("disconnect_after_write", "500_after_write", "503_after_write")
FAULT_KINDS = (*STATUS_FAULTS, "malformed", "timeout", "disconnect", *AFTER_WRITE_FAULTS)
DEFAULT_TIMEOUT_SECONDS = 5.0


class FaultSpecError(ValueError):
    """A fault request the sandbox cannot honour; the message says why."""


@dataclass
class FaultRule:
    id: int
    target: str
    fault: str
    path: str = ""
    count: int = 1
    seconds: float | None = None
    method: str | None = None
    #: Platform-specific extras, e.g. {"code": 32} to pick a Graph rate-limit code, or for a Graph "400"
    #: {"code": 100, "is_transient": false, "error_user_msg": "..."}.
    options: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def matches(self, target: str, method: str, paths: list[str]) -> bool:
        if self.target != target or self.count <= 0:
            return False
        if self.method and self.method != method.upper():
            return False
        return any(candidate.startswith(self.path) for candidate in paths)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(body: Any, rule_id: int) -> FaultRule:
    """Validate a ``POST /_sandbox/faults`` body."""
    if not isinstance(body, dict):
        raise FaultSpecError("body must be a JSON object")
    target = body.get("target")
    if target not in TARGETS:
        raise FaultSpecError(f"target must be one of {list(TARGETS)}, got {target!r}")
    fault = str(body.get("fault", ""))
    if fault not in FAULT_KINDS:
        raise FaultSpecError(f"fault must be one of {list(FAULT_KINDS)}, got {body.get('fault')!r}")
    path = body.get("path") or ""
    if not isinstance(path, str):
        raise FaultSpecError("path must be a string prefix")
    if path and not path.startswith("/"):
        path = "/" + path
    try:
        count = int(body.get("count", 1))
    except (TypeError, ValueError):
        raise FaultSpecError("count must be an integer") from None
    if count < 1:
        raise FaultSpecError("count must be >= 1")
    seconds = body.get("seconds")
    if seconds is not None:
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise FaultSpecError("seconds must be a number") from None
        if seconds < 0:
            raise FaultSpecError("seconds must be >= 0")
    method = body.get("method")
    known = {"target", "fault", "path", "count", "seconds", "method"}
    options = {key: value for key, value in body.items() if key not in known}
    return FaultRule(rule_id, target, fault, path, count, seconds, method.upper() if method else None, options)


class FaultInjector:
    """The active rules. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, body: Any) -> FaultRule:
        with self._lock:
            rule = parse_rule(body, next(self._ids))
            self._rules.append(rule)
            return rule

    def take(self, target: str, method: str, paths: list[str]) -> FaultRule | None:
        """The first matching rule, with one use spent (a copy, so callers see a stable view)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(target, method, paths):
                    rule.count -= 1
                    rule.hits += 1
                    spent = FaultRule(**{**asdict(rule), "options": dict(rule.options)})
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return spent
            return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
