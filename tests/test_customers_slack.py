"""One customer across channels in Slack, end to end through the sandbox (real tweepy, facebook-sdk and
slack_sdk, Web API and Socket Mode, against the emulators): "Same customer as…" links through its modal,
a follow-up on another channel threads under the customer's alert with the history of both channels,
and a forgotten customer's alerts are redacted in Slack while `audit verify` stays green."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import builders
import pytest
from click.testing import CliRunner
from sandbox_support import control

from socialwatch.alerts import cards, customer_links
from socialwatch.cli import main
from socialwatch.config.load import load_config
from socialwatch.config.schema import Config
from socialwatch.daemon import Daemon
from socialwatch.sandbox import Sandbox
from socialwatch.store import audit_log, customers, inbox

WAIT = 10.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def config_path(sandbox: Sandbox, tmp_path: Path) -> Path:
    sandbox.reset()
    return sandbox.write_config(tmp_path / "socialwatch.toml", poll_interval=1)


@pytest.fixture
def running(config_path: Path, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon with X, Facebook and Slack (Socket Mode), polling every second."""
    config: Config = load_config(config_path)
    config.daemon.http_timeout = 2.0
    config.daemon.database = tmp_path / "sw.db"
    with builders.running_daemon(config) as daemon:
        yield daemon


def messages(sandbox: Sandbox) -> list[dict[str, Any]]:
    return control(sandbox, "/_sandbox/slack/messages")[1]["messages"]


def alert_of(sandbox: Sandbox, key: str) -> dict[str, Any]:
    def find() -> list[dict[str, Any]]:
        return [
            m
            for m in messages(sandbox)
            if not m.get("ephemeral") and ((m.get("metadata") or {}).get("event_payload") or {}).get("item_key") == key
        ]

    return builders.wait_until(find, WAIT, f"the alert of {key}")[0]


def fb_key(daemon: Daemon, text: str) -> tuple[str, str]:
    """(item key, author key) of the Facebook item with ``text``, once it is stored."""

    def find() -> Any:
        with daemon.store.db() as db:
            return db.execute(
                "SELECT platform || ':' || native_id, author_key FROM items WHERE platform = 'facebook' AND text = ?",
                [text],
            ).fetchone()

    row = builders.wait_until(find, WAIT, "the Facebook item")
    return str(row[0]), str(row[1])


def click(sandbox: Sandbox, message: dict[str, Any], action_id: str, user: dict[str, str] | None = None) -> Any:
    body: dict[str, Any] = {"channel": message["channel"], "ts": message["ts"], "action_id": action_id, "wait": 3}
    if user:
        body["user"] = user
    status, answer = control(sandbox, "/_sandbox/slack/actions", body)
    assert status == 200, answer
    return answer


def view_for(sandbox: Sandbox, trigger_id: str) -> dict[str, Any]:
    return builders.wait_until(
        lambda: [v for v in control(sandbox, "/_sandbox/slack/views")[1]["views"] if v.get("trigger_id") == trigger_id],
        WAIT,
        "the modal",
    )[0]


def submit(sandbox: Sandbox, view: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    """Submit the modal; the errors it answers with ({} when it closed: the link is made)."""
    status, answer = control(
        sandbox, "/_sandbox/slack/views/submit", {"view_id": view["id"], "values": values, "wait": 3}
    )
    assert status == 200, answer
    for v in control(sandbox, "/_sandbox/slack/views")[1]["views"]:
        if v["id"] == view["id"] and v["status"] != "closed":
            return dict(v.get("errors") or {})
    return {}


def test_same_customer_as_links_through_the_modal_with_the_suggestion_and_rerenders_the_alert(sandbox, running):
    dm = "my order 77123456 never arrived, write to sam.smith@example.com"
    # Graph's times have whole seconds: each message a minute apart keeps their order unambiguous.
    sandbox.add_dm(dm, handle="samsmith", name="Sam Smith", created_at=time.time() - 60)
    x_item = alert_of(sandbox, "x:" + builders.wait_until(lambda: _x_native(running, dm), WAIT, "X DM"))
    fb_text = "Hello? Order 77123456 is still missing. sam.smith@example.com"
    sandbox.add_message(fb_text, name="Sam S")
    fb_item, fb_author = fb_key(running, fb_text)
    fb_alert = alert_of(sandbox, fb_item)
    x_author = inbox.item_by_key(running.store, x_item["metadata"]["event_payload"]["item_key"])["author_key"]
    assert customer_links.cards.SAME_CUSTOMER in json.dumps(fb_alert["blocks"])

    # Not an approver: refused before any modal, on the record.
    viewer = sandbox.info()["slack"]["non_approver"]
    click(sandbox, fb_alert, cards.SAME_CUSTOMER, user=viewer)
    refused = builders.wait_until(
        lambda: [r for r in audit_log.audit_rows(running.store, fb_item) if r["action"] == "action.refused"],
        WAIT,
        "the refusal",
    )
    assert refused[0]["data"]["attempted"] == "link_customer" and refused[0]["actor_id"] == viewer["id"]

    view = view_for(sandbox, click(sandbox, fb_alert, cards.SAME_CUSTOMER)["trigger_id"])
    options = next(b for b in view["blocks"] if b.get("block_id") == customer_links.PICK_BLOCK)["element"]["options"]
    assert [o["value"] for o in options] == [x_author]
    assert "same e-mail address" in options[0]["text"]["text"] and "@samsmith" in options[0]["text"]["text"]

    # Bad input is said in the modal; nothing is linked.
    other = customer_links.OTHER_BLOCK, customer_links.OTHER_INPUT
    for values, error in (
        ({other[0]: {other[1]: "x:99999999999"}}, "unknown identity x:99999999999"),
        ({other[0]: {other[1]: fb_author}}, "are the same identity"),
        ({other[0]: {other[1]: "sam"}}, "is not an identity"),
        (
            {customer_links.PICK_BLOCK: {customer_links.PICK_INPUT: x_author}, other[0]: {other[1]: "x:@samsmith"}},
            "not both",
        ),
    ):
        errors = submit(sandbox, view, values)
        assert error in errors.get(customer_links.OTHER_BLOCK, ""), (values, errors)
    assert customers.identity_keys(running.store, fb_author) == [fb_author]

    assert submit(sandbox, view, {customer_links.PICK_BLOCK: {customer_links.PICK_INPUT: x_author}}) == {}
    builders.wait_until(
        lambda: customers.identity_keys(running.store, fb_author) == [fb_author, x_author], WAIT, "the link"
    )
    linked = [r for r in audit_log.audit_rows(running.store) if r["action"] == "customer.linked"]
    approver = sandbox.info()["slack"]["approver"]["id"]
    assert [(r["actor_id"], r["data"]["evidence"]) for r in linked] == [(approver, "suggested: email,reference")]
    # The alert now counts the X contact, and says where the last one was.
    updated = builders.wait_until(
        lambda: [
            m
            for m in messages(sandbox)
            if m["ts"] == fb_alert["ts"] and "1 earlier contact, last negative on X" in json.dumps(m["blocks"])
        ],
        WAIT,
        "the re-rendered alert",
    )
    assert "may also be" not in json.dumps(updated[0]["blocks"])  # no longer a suggestion: linked
    note = builders.wait_until(
        lambda: [m for m in messages(sandbox) if m.get("ephemeral") and "one customer now" in m.get("text", "")],
        WAIT,
        "the confirmation",
    )
    assert f"socialwatch customers unlink {x_author}" in note[0]["text"]


def _x_native(daemon: Daemon, text: str) -> str | None:
    with daemon.store.db() as db:
        row = db.execute("SELECT native_id FROM items WHERE platform = 'x' AND text = ?", [text]).fetchone()
    return None if row is None else str(row[0])


def test_a_follow_up_on_another_channel_threads_under_the_customers_alert(sandbox, running, tmp_path):
    first = "hi, how do I change my delivery address?"
    sandbox.add_message(first, name="Rita Row", created_time=time.time() - 120)
    _, fb_author = fb_key(running, first)
    tweet = sandbox.add_mention(
        "@brand my parcel is lost, awful service", handle="ritarow", name="Rita Row", created_at=time.time() - 60
    )
    parent = alert_of(sandbox, f"x:{tweet}")
    linked = CliRunner().invoke(
        main, ["customers", "link", "x:@ritarow", fb_author, "--database", str(running.store.path), "--by", "ops"]
    )
    assert linked.exit_code == 0, linked.output

    follow_up = "still no parcel, this is a joke"
    sandbox.add_message(follow_up, name="Rita Row")
    child_key, _ = fb_key(running, follow_up)
    child = alert_of(sandbox, child_key)
    assert child["thread_ts"] == parent["ts"] and child["channel"] == parent["channel"]
    shown = json.dumps(child["blocks"])
    assert "2 earlier contacts: Facebook 1, X 1; last negative on X" in shown and "not answered" in shown


def test_forget_redacts_the_customers_alerts_in_slack_and_audit_verify_stays_green(
    sandbox, running, config_path, tmp_path
):
    complaint = "@brand you lost my parcel, order 66012345, awful"
    tweet = sandbox.add_mention(complaint, handle="forgetme", name="Fern Getty")
    x_alert = alert_of(sandbox, f"x:{tweet}")
    message = "Fern here, order 66012345 never came"
    sandbox.add_message(message, name="Fern Getty")
    fb_item, fb_author = fb_key(running, message)
    fb_alert = alert_of(sandbox, fb_item)
    database = str(running.store.path)
    runner = CliRunner()
    assert runner.invoke(main, ["customers", "link", "x:@forgetme", fb_author, "--database", database]).exit_code == 0

    result = runner.invoke(
        main,
        [
            "customers",
            "forget",
            fb_author,
            "--config",
            str(config_path),
            "--database",
            database,
            "--requested-by",
            "privacy request PR-88",
            "--yes",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Slack: " in result.output and "messages redacted" in result.output, result.output
    # Redacted at once, or (an alert still on its way when the customer was forgotten) by the dispatcher.
    for alert in (x_alert, fb_alert):
        now = builders.wait_until(
            lambda alert=alert: [
                m
                for m in messages(sandbox)
                if m["ts"] == alert["ts"] and m["text"] == "Erased at the customer's request"
            ],
            WAIT,
            "the redaction",
        )[0]
        assert "actions" not in json.dumps(now["blocks"]) and "Fern" not in json.dumps(now["blocks"])
    # What the channel shows now (the emulator also keeps each message's edit history, as Slack's admins see it).
    everything = json.dumps([(m["text"], m["blocks"]) for m in messages(sandbox)])
    assert "Fern" not in everything and "66012345" not in everything and "forgetme" not in everything
    verified = runner.invoke(main, ["audit", "verify", "--database", database])
    assert verified.exit_code == 0, verified.output
    redacted = [r for r in audit_log.audit_rows(running.store) if r["action"] == "customer.redacted_in_slack"]
    assert sum(r["data"]["redacted"] for r in redacted) == 2

    # The same person writes again: a stranger, a new alert, a new history.
    again = sandbox.add_mention("@brand hello, a question about sizes?", handle="forgetme", name="Fern Getty")
    fresh = alert_of(sandbox, f"x:{again}")
    assert fresh.get("thread_ts") in (None, fresh["ts"]) and "first contact" in json.dumps(fresh["blocks"])
    shown = runner.invoke(main, ["customers", "show", "x:@forgetme", "--json", "--database", database])
    data = json.loads(shown.output)
    assert [i["native_id"] for i in data["items"]] == [again] and data["earlier_erasures"][0]["erasure"] == 1


def test_a_redaction_slack_refuses_is_retried_by_the_daemon_until_done(sandbox, config_path, tmp_path):
    config: Config = load_config(config_path)
    config.daemon.database = tmp_path / "sw.db"
    daemon = Daemon(config, notifier=None)  # not started: each step below runs when the test says
    tweet = sandbox.add_mention("@brand refund me now, order 44012345", handle="retryme", name="Rhea Tries")
    assert daemon.sources is not None
    for source in daemon.sources:
        daemon.poll_source(source)
    daemon.dispatch()
    alert = alert_of(sandbox, f"x:{tweet}")
    sandbox.fault("slack", 500, path="/api/chat.update", count=1)
    result = CliRunner().invoke(
        main,
        ["customers", "forget", "x:@retryme", "--config", str(config_path), "--database", str(daemon.store.path)]
        + ["--requested-by", "ticket 9", "--yes"],
    )
    assert result.exit_code == 0, result.output
    assert "1 pending (the daemon retries them)" in result.output, result.output
    still = next(m for m in messages(sandbox) if m["ts"] == alert["ts"])
    assert "Rhea" in json.dumps(still["blocks"])  # Slack refused: not redacted yet, and not forgotten about
    with daemon.store.db() as db:
        row = db.execute("SELECT status, attempts, last_error FROM slack_redactions").fetchone()
        assert (row["status"], row["attempts"]) == ("pending", 1) and "fatal_error" in row["last_error"]
    daemon.dispatch()  # within the backoff: not tried again yet
    assert "Rhea" in json.dumps(next(m for m in messages(sandbox) if m["ts"] == alert["ts"])["blocks"])
    with daemon.store.db() as db:
        db.execute("UPDATE slack_redactions SET next_attempt_at = '2000-01-01T00:00:00Z'")  # the backoff is over
    daemon.dispatch()
    now = next(m for m in messages(sandbox) if m["ts"] == alert["ts"])
    assert now["text"] == "Erased at the customer's request" and "Rhea" not in json.dumps(now["blocks"])
    with daemon.store.db() as db:
        assert db.execute("SELECT status, attempts FROM slack_redactions").fetchone()[:] == ("done", 2)
