"""Builders the tests share (as datasette's tests/fixtures.py): items, assessed batches, ingest, waiting.

One place builds an ``Item``, so a field the model gains has one default to give, not one per test file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.models import Author, Item, Kind, Processed
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import inbox
from socialwatch.store.db import Store
from socialwatch.store.inbox import IngestResult

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def item(
    text: str = "my order never arrived",
    *,
    platform: str = "x",
    kind: Kind = Kind.MENTION,
    native_id: str = "1",
    account: str = "acme",
    author_id: str = "9",
    handle: str | None = "cus",
    name: str | None = "Cus Tomer",
    followers: int | None = 50,
    created: datetime = T0,
    lang: str | None = None,
    public: bool | None = None,
    url: str | None = None,
    conversation: str | None = None,
    in_reply_to: str | None = None,
    raw: Mapping[str, Any] | None = None,
) -> Item:
    """An item as an adapter would make it; public unless it is a DM (or ``public`` says otherwise)."""
    return Item(
        platform=platform,
        kind=kind,
        native_id=native_id,
        account=account,
        author=Author(author_id, handle=handle, name=name, followers=followers),
        text=text,
        created_at=created,
        lang=lang,
        public=(kind is not Kind.DM) if public is None else public,
        url=url,
        conversation_id=conversation,
        in_reply_to=in_reply_to,
        raw=dict(raw or {}),
    )


def processed(
    pipeline: Pipeline, items: Sequence[Item], *, alert: bool | None = None, source: str = "x:acme:mentions"
) -> list[Processed]:
    """The items assessed as one page; ``alert`` None alerts what needs attention, True every item."""
    return [
        Processed(i, a, alert=a.needs_attention if alert is None else alert, source=source)
        for i, a in pipeline.assess_batch(list(items), {})
    ]


def ingest(
    store: Store,
    pipeline: Pipeline,
    items: Iterable[Item],
    *,
    source: str = "x:acme:mentions",
    alert: bool | None = None,
    cursor: str | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Assess and store ``items`` as one page of ``source``, the way a poll does."""
    return inbox.ingest(store, source, processed(pipeline, list(items), alert=alert, source=source), cursor, now=now)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """The predicate's first truthy result, polled every 20 ms; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout}s")


#: What the daemon's reply job does, in a process of its own (the crash tests kill it).
REPLY_JOB = """
import sys
from socialwatch.config.load import load_config
from socialwatch.replies import ReplySender, build_repliers
from socialwatch.store.db import Store
config = load_config(sys.argv[1])
print(ReplySender(Store(config.daemon.database), build_repliers(config)).send_due())
"""


def run_killed_sender(config_path: Any) -> None:
    """The daemon's reply job in its own process, SIGKILLed right after the platform accepted the reply."""
    import os
    import signal
    import subprocess
    import sys

    assert config_path is not None
    child = subprocess.run(
        [sys.executable, "-c", REPLY_JOB, str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SOCIALWATCH_CRASHPOINT": "replies.platform_called:1:kill"},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "crashpoint replies.platform_called reached" in child.stderr


@contextmanager
def running_daemon(config: Config) -> Iterator[Daemon]:
    """The daemon with its scheduler and Socket Mode, as in production; shut down on the way out."""
    daemon = Daemon(config, notifier=None)
    daemon.start()
    assert daemon.interactions is not None, "Socket Mode did not connect"
    try:
        yield daemon
    finally:
        daemon.shutdown()
