"""Managers' corrections on the alert, end to end through the sandbox (real tweepy and slack_sdk, Web API
and Socket Mode, against the emulators): "Not negative" and "Complaint" both ways, "Needs a reply" putting
an item on the queue, the category select, each re-rendering the card with who said what; a double click
and a second person's stale screen change nothing; an unknown item or a category that is gone is refused;
the audit log has every correction, `audit verify` stays intact and `audit export` shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import builders
import pytest
from click.testing import CliRunner
from sandbox_support import control

from socialwatch.alerts import cards, corrections
from socialwatch.cli import main
from socialwatch.config.load import load_config
from socialwatch.config.triage import CategoryRule
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, inbox, streams
from socialwatch.store import corrections as store_corrections

WAIT = 10.0
MANAGER = {"id": "U0SBXMGR01", "name": "maria.manager"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def config_path(sandbox: Sandbox, tmp_path: Path) -> Path:
    sandbox.reset()
    return sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)


@pytest.fixture
def running(sandbox: Sandbox, config_path: Path, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon with X and Slack (Socket Mode), polling every second, with a brand category that
    triage says needs no reply (so an alert can be missing its reply)."""
    config = load_config(config_path)
    config.daemon.http_timeout = 2.0
    config.daemon.database = tmp_path / "sw.db"
    config.facebook.pages = []
    config.triage.categories["survey"] = CategoryRule(keywords=["survey"], needs_reply=False)
    with builders.running_daemon(config) as daemon:
        # Past the first poll, which alerts only what has a reply due (a backfill): a greeting moves the cursor.
        sandbox.add_mention("@brand hello there", handle="early")
        builders.wait_until(lambda: streams.cursor(daemon.store, "x:sandbox:mentions"), WAIT, "the first poll")
        yield daemon


def messages(sandbox: Sandbox) -> list[dict[str, Any]]:
    return control(sandbox, "/_sandbox/slack/messages")[1]["messages"]


def alert_of(sandbox: Sandbox, key: str, contains: str = "") -> dict[str, Any]:
    """The alert of ``key`` (once its blocks contain ``contains``)."""

    def find() -> list[dict[str, Any]]:
        return [
            m
            for m in messages(sandbox)
            if not m.get("ephemeral")
            and ((m.get("metadata") or {}).get("event_payload") or {}).get("item_key") == key
            and contains in json.dumps(m["blocks"], ensure_ascii=False)
        ]

    return builders.wait_until(find, WAIT, f"the alert of {key} with {contains!r}")[0]


def click(sandbox: Sandbox, message: dict[str, Any], action_id: str, **extra: Any) -> dict[str, Any]:
    body = {"channel": message["channel"], "ts": message["ts"], "action_id": action_id, "wait": 3, **extra}
    status, answer = control(sandbox, "/_sandbox/slack/actions", body)
    assert status == 200, answer
    return answer


def correction_row(message: dict[str, Any]) -> dict[str, Any]:
    """The card's corrections: action id -> element."""
    (row,) = [b for b in message["blocks"] if b.get("block_id") == corrections.BLOCK_ID]
    return {e["action_id"]: e for e in row["elements"]}


def ephemerals(sandbox: Sandbox, user: str) -> list[str]:
    return [m["text"] for m in messages(sandbox) if m.get("ephemeral") and m.get("ephemeral_user") == user]


def feedback(daemon: Daemon, key: str) -> list[tuple[str, Any, Any, str]]:
    return [
        (r["action"], r["data"]["old"], r["data"]["new"], r["actor_name"])
        for r in audit_log.audit_rows(daemon.store, key)
        if r["action"].startswith("feedback.")
    ]


def test_not_negative_and_complaint_both_ways_with_double_clicks_and_the_audit(sandbox, running, tmp_path):
    key = "x:" + sandbox.add_mention("@brand I hate how addictive your app is, can't stop playing 😭", handle="fan")
    alert = alert_of(sandbox, key)
    item = inbox.item_by_key(running.store, key)
    assert item is not None and item["label"] == "negative" and item["needs_reply"]
    row = correction_row(alert)
    assert set(row) == {cards.NOT_NEGATIVE, corrections.CATEGORY}  # no "Complaint", no "Needs a reply"
    assert row[corrections.CATEGORY]["initial_option"]["value"] == f"{item['id']}:other"
    assert [o["value"].split(":")[1] for o in row[corrections.CATEGORY]["options"]][-3:] == [
        "praise",
        "survey",
        "other",
    ]

    click(sandbox, alert, cards.NOT_NEGATIVE, user=MANAGER)
    marked = alert_of(sandbox, key, "marked it *not negative*")
    assert f"<@{MANAGER['id']}> marked it *not negative*" in json.dumps(marked["blocks"])
    assert set(correction_row(marked)) == {corrections.COMPLAINT, corrections.CATEGORY}
    # A double click (the card as first shown) and a second person's stale screen: nothing more.
    click(sandbox, alert, cards.NOT_NEGATIVE, user=MANAGER, version=0)
    click(sandbox, alert, cards.NOT_NEGATIVE, user={"id": "U0SBXMGR02", "name": "sam"}, version=0)
    builders.wait_until(lambda: len(ephemerals(sandbox, "U0SBXMGR02")) == 1, WAIT, "the second person told")
    assert ephemerals(sandbox, "U0SBXMGR02") == [f"Already marked not negative by <@{MANAGER['id']}>: nothing changed."]
    assert len(builders.wait_until(lambda: ephemerals(sandbox, MANAGER["id"]), WAIT, "the manager told")) == 1

    click(sandbox, marked, corrections.COMPLAINT, user=MANAGER)
    complaint = alert_of(sandbox, key, "marked it a *complaint*")
    assert set(correction_row(complaint)) == {cards.NOT_NEGATIVE, corrections.CATEGORY}
    assert feedback(running, key) == [
        ("feedback.not_negative", "negative", "not_negative", "maria.manager"),
        ("feedback.complaint", "not_negative", "negative", "maria.manager"),
    ]
    (example,) = store_corrections.training_examples(running.store)
    assert (example["item_key"], example["label"], example["corrected_by"]) == (key, "negative", MANAGER["id"])

    database = str(running.config.daemon.database)
    verify = CliRunner().invoke(main, ["audit", "verify", "--database", database])
    assert verify.exit_code == 0, verify.output
    export = CliRunner().invoke(main, ["audit", "export", "--events", "--format", "jsonl", "--database", database])
    assert export.exit_code == 0, export.output
    exported = [json.loads(line) for line in export.output.splitlines() if line.strip()]
    assert [e["action"] for e in exported if str(e["action"]).startswith("feedback.")] == [
        "feedback.not_negative",
        "feedback.complaint",
    ]


def test_needs_a_reply_puts_the_alert_on_the_queue_and_the_category_select_corrects(sandbox, running):
    key = "x:" + sandbox.add_mention("@brand your survey is terrible and annoying", handle="surveyed")
    alert = alert_of(sandbox, key)
    item = inbox.item_by_key(running.store, key)
    assert item is not None and (item["category"], item["needs_reply"], item["sla_due_at"]) == ("survey", 0, None)
    assert item["id"] not in {i["id"] for i in inbox.open_items(running.store)}
    assert corrections.NEEDS_REPLY in correction_row(alert)

    click(sandbox, alert, corrections.NEEDS_REPLY, user=MANAGER)
    queued = alert_of(sandbox, key, "said it *needs a reply*")
    assert corrections.NEEDS_REPLY not in correction_row(queued)
    item = inbox.item_by_key(running.store, key)
    assert item is not None and item["needs_reply"] == 1 and item["sla_due_at"] is not None
    assert item["id"] in {i["id"] for i in inbox.open_items(running.store)}
    assert "reply due" in json.dumps(queued["blocks"])  # the card shows the due time like any other

    click(sandbox, queued, corrections.CATEGORY, user=MANAGER, value=f"{item['id']}:question")
    recategorised = alert_of(sandbox, key, "set the category to *question* (was survey)")
    assert correction_row(recategorised)[corrections.CATEGORY]["initial_option"]["value"] == f"{item['id']}:question"
    click(sandbox, queued, corrections.CATEGORY, user=MANAGER, value=f"{item['id']}:question", version=1)
    builders.wait_until(lambda: ephemerals(sandbox, MANAGER["id"]), WAIT, "the double click answered")
    assert feedback(running, key) == [
        ("feedback.needs_reply", "false", "true", "maria.manager"),
        ("feedback.category", "survey", "question", "maria.manager"),
    ]
    (example,) = store_corrections.training_examples(running.store)
    assert (example["needs_reply"], example["category"], example["label"]) == (True, "question", None)
    assert audit_log.verify_audit(running.store).ok


def test_unknown_items_and_categories_that_are_gone_are_refused(sandbox, running):
    key = "x:" + sandbox.add_mention("@brand the survey link is broken and useless", handle="linky")
    alert = alert_of(sandbox, key)
    item = inbox.item_by_key(running.store, key)
    assert item is not None
    click(sandbox, alert, cards.NOT_NEGATIVE, user=MANAGER, value="987654")
    builders.wait_until(lambda: ephemerals(sandbox, MANAGER["id"]), WAIT, "the refusal")
    assert ephemerals(sandbox, MANAGER["id"]) == ["This alert is no longer in the database."]
    # The brand drops its category; the card posted before still offers it.
    del running.config.triage.categories["survey"]
    click(sandbox, alert, corrections.CATEGORY, user=MANAGER, value=f"{item['id']}:survey")
    builders.wait_until(lambda: len(ephemerals(sandbox, MANAGER["id"])) == 2, WAIT, "the second refusal")
    refusal = ephemerals(sandbox, MANAGER["id"])[1]
    assert refusal.startswith(":no_entry: there is no category survey any more; choose one of: account_security")
    refused = [r["data"] for r in audit_log.audit_rows(running.store, key) if r["action"] == "action.refused"]
    assert refused and refused[0]["attempted"] == "category"
    assert store_corrections.history(running.store) == [] and feedback(running, key) == []
