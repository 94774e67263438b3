"""Operator commands: status without credentials, silent sources, online backup."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from socialwatch.cli import main
from socialwatch.config.schema import Config
from socialwatch.models import Author, Item, Kind, Processed, utcnow
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import audit_log, inbox, streams
from socialwatch.store.db import Store

CONFIG = """
[daemon]
database = "sw.db"
silent_after_minutes = 10
[x]
[[x.accounts]]
name = "acme"
bearer_token = "secret:NOT_SET_ANYWHERE_TOKEN"
"""


def seed(store: Store, n: int, start: int = 0) -> None:
    pipeline = Pipeline(Config(), detect=lambda text: "en")
    items = [
        Item(
            "x",
            Kind.MENTION,
            str(start + i),
            "acme",
            Author(f"a{i}"),
            "worst service ever, awful",
            utcnow() - timedelta(hours=2),
        )
        for i in range(n)
    ]
    inbox.ingest(
        store, "x:acme:mentions", [Processed(i, a, alert=True) for i, a in pipeline.assess_batch(items, {})], None
    )


def test_status_needs_no_secrets_and_flags_silent_sources(tmp_path: Path):
    path = tmp_path / "socialwatch.toml"
    path.write_text(CONFIG)
    store = Store(tmp_path / "sw.db")
    seed(store, 3)
    streams.record_poll(store, "x:acme:mentions", "x", "acme", ok=True, now=utcnow() - timedelta(minutes=30))
    streams.record_poll(store, "x:acme:dms", "x", "acme", ok=True)
    result = CliRunner().invoke(main, ["status", "--config", str(path), "--json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    states = {s["source"]: s for s in report["sources"]}
    assert states["x:acme:mentions"]["silent"] and states["x:acme:mentions"]["state"] == "silent"
    assert states["x:acme:dms"]["healthy"]
    assert report["unhealthy"] == ["x:acme:mentions"]
    assert report["open_items"] == 3 and report["sla_breaches"] == 3  # urgent: 15 min, posted 2 h ago
    assert report["outbox"]["alerts"] == 3
    streams.record_poll(store, "x:acme:mentions", "x", "acme", ok=True)
    healthy = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert healthy.exit_code == 0 and "3 past their SLA" in healthy.output


def test_backup_while_writing_is_consistent(tmp_path: Path):
    path = tmp_path / "socialwatch.toml"
    path.write_text(CONFIG)
    store = Store(tmp_path / "sw.db")
    seed(store, 50)
    stop = threading.Event()

    def writer() -> None:
        n = 1000
        while not stop.is_set():
            seed(store, 20, start=n)
            n += 20

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db"), "--config", str(path)])
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    copy = Store(tmp_path / "copy.db", migrate=False)
    assert inbox.count_items(copy) >= 50
    from socialwatch.audit import verify_chain

    assert verify_chain(audit_log.audit_rows(copy)).ok
    again = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db"), "--config", str(path)])
    assert again.exit_code != 0 and "exists" in again.output


def test_exports_reports_and_backups_are_created_owner_only_whatever_the_umask(tmp_path: Path):
    import os
    import stat

    path = tmp_path / "socialwatch.toml"
    path.write_text(CONFIG)
    store = Store(tmp_path / "sw.db")
    seed(store, 3)
    widened = tmp_path / "old-export.csv"
    widened.write_text("an earlier export, world-readable\n")
    widened.chmod(0o644)
    runner = CliRunner()
    previous = os.umask(0)  # the loosest umask: only the mode socialwatch sets keeps these private
    try:
        commands = {
            "backup.db": ["backup", str(tmp_path / "backup.db"), "--config", str(path)],
            "replies.csv": [
                "audit",
                "export",
                "--database",
                str(store.path),
                "--output",
                str(tmp_path / "replies.csv"),
            ],
            "events.jsonl": [
                "audit",
                "export",
                "--events",
                "--format",
                "jsonl",
                "--database",
                str(store.path),
                "--output",
                str(tmp_path / "events.jsonl"),
            ],
            "report.json": [
                "report",
                "--database",
                str(store.path),
                "--format",
                "json",
                "--output",
                str(tmp_path / "report.json"),
            ],
            "old-export.csv": ["audit", "export", "--database", str(store.path), "--output", str(widened)],
        }
        for name, args in commands.items():
            result = runner.invoke(main, args)
            assert result.exit_code == 0, (name, result.output)
    finally:
        os.umask(previous)
    for name in commands:
        written = tmp_path / name
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, f"{name} is {oct(written.stat().st_mode)}"
        assert written.stat().st_size > 0
    assert "item.received" in (tmp_path / "events.jsonl").read_text()
    assert inbox.count_items(Store(tmp_path / "backup.db", migrate=False)) == 3
