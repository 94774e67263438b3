"""One customer across channels, without Slack: evidence, links made and undone on the command line, one
history (AuthorHistory, the alert's history, threads), bad input refused with nothing changed, and a
customer forgotten on request with the audit chain still verifying. The Slack side is test_customers_slack."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import builders
import pytest
from builders import T0
from click.testing import CliRunner, Result

from socialwatch.alerts import cards, customer_links
from socialwatch.cli import main
from socialwatch.config.load import ConfigError, load_config
from socialwatch.config.schema import Config
from socialwatch.models import Kind, Reject, utcnow
from socialwatch.scoring import identity
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import alert_outbox, audit_log, author_history, customers, erasure, inbox, reply_outbox
from socialwatch.store.db import Store

X_JANE = "x:7001001"
FB_JANE = "facebook:8002002"
FB_OTHER = "facebook:8003003"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "sw.db")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Config())


def tweet(
    text: str, native_id: str, *, minutes: float = 0, author: str = "7001001", handle: str = "jane_d", **kw: Any
) -> Any:
    return builders.item(
        text,
        native_id=native_id,
        author_id=author,
        handle=handle,
        name="Jane Doe",
        created=T0 + timedelta(minutes=minutes),
        **kw,
    )


def messenger(text: str, native_id: str, *, minutes: float = 0, author: str = "8002002", **kw: Any) -> Any:
    return builders.item(
        text,
        platform="facebook",
        kind=Kind.DM,
        native_id=native_id,
        author_id=author,
        handle=None,
        name=kw.pop("name", "Jane Doe"),
        created=T0 + timedelta(minutes=minutes),
        **kw,
    )


def seed(store: Store, pipeline: Pipeline) -> None:
    """Jane on X (a complaint) and on Messenger (the same order number, naming her X handle), and
    someone else on Messenger."""
    builders.ingest(store, pipeline, [tweet("@acme order 55501234 never arrived, this is awful", "100")])
    builders.ingest(
        store,
        pipeline,
        [messenger("Hi, order 55501234 is still missing. I tweeted you from @jane_d", "m_1", minutes=60)],
        source="facebook:acme:messenger",
    )
    builders.ingest(
        store,
        pipeline,
        [messenger("hello, do you ship to Riga?", "m_9", minutes=61, author="8003003", name="Ed")],
        source="facebook:acme:messenger",
    )


def cli(*args: str, store: Store, config: Path | None = None) -> Result:
    argv = ["customers", *args, "--database", str(store.path)]
    if config is not None:
        argv += ["--config", str(config)]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def state(store: Store) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    with store.db() as db:
        tables = {
            t: [tuple(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()]
            for t in ("customers", "customer_identities", "customer_separations", "authors", "erasures")
        }
    return {**tables, "head": audit_log.audit_head(store)}


def author_line(store: Store, row: dict[str, Any]) -> str:
    """The alert's author line for an ``items`` row, as Slack shows it."""
    contacts = customers.contacts_before(store, row)
    return cards._author_line(row, {"words": customer_links.history_words(row, contacts)})


# --- evidence -----------------------------------------------------------------------------------


def test_evidence_is_digests_of_emails_phones_orders_and_handles_that_match_across_platforms():
    x = tweet("@acme my email is Jane.Doe@Example.com, call +44 7700 900123, order #A1234-567", "1")
    fb = messenger("it's jane.doe@example.com / 07700 900123, order A1234567; twitter: @JANE_D", "m")
    found_x = {(e.kind, e.digest) for e in identity.evidence(x)}
    found_fb = {(e.kind, e.digest) for e in identity.evidence(fb)}
    for kind in ("email", "phone", "reference"):
        assert {d for k, d in found_x if k == kind} == {d for k, d in found_fb if k == kind} != set(), kind
    # Jane's own X handle on X, and her X handle named on Facebook: one digest, two kinds.
    assert identity.handle_digest("x", "jane_d") in {d for k, d in found_x if k == "handle"}
    assert identity.handle_digest("x", "jane_d") in {d for k, d in found_fb if k == "handle_named"}
    assert all("jane" not in d.lower() and "@" not in d for _, d in found_x | found_fb)  # digests, never text
    # On X an @handle is X's own: a mention of someone else is no evidence of who wrote it.
    other = {(e.kind, e.digest) for e in identity.evidence(tweet("@acme @bob_smith help", "2"))}
    assert identity.handle_digest("x", "bob_smith") not in {d for _, d in other}
    assert identity.evidence(messenger("order 12 please", "m2")) == ()  # too short to be an order number
    # Elsewhere a handle counts when the words around it say whose it is.
    replayed = builders.item(
        "hi @jane_d! lovely weather in Riga today. My insta is @jane.d", platform="replay", handle=None
    )
    assert {(e.kind, e.digest) for e in identity.evidence(replayed)} == {
        ("handle_named", identity.handle_digest("instagram", "jane.d"))
    }


# --- linking on the command line ---------------------------------------------------------------------


def test_link_on_the_command_line_makes_one_customer_with_one_history(store, pipeline):
    seed(store, pipeline)
    result = cli("link", "x:@jane_d", FB_JANE, "--by", "alice", store=store)
    assert result.exit_code == 0, result.output
    assert f"is now {FB_JANE}, {X_JANE}" in result.output
    linked = [r for r in audit_log.audit_rows(store) if r["action"] == "customer.linked"]
    assert [(r["actor_name"], r["data"]["identities"]) for r in linked] == [("alice", [X_JANE, FB_JANE])]
    assert "7001001" not in linked[0]["details"]  # the identities live beside the chain, erasable

    shown = json.loads(cli("show", FB_JANE, "--json", store=store).output)
    assert [i["key"] for i in shown["identities"]] == [FB_JANE, X_JANE]
    assert [(i["platform"], i["native_id"]) for i in shown["items"]] == [("facebook", "m_1"), ("x", "100")]
    assert {"platform", "native_id", "created_at", "text", "label"} <= shown["items"][0].keys()
    assert shown["items"][1]["text"].startswith("@acme order 55501234") and shown["items"][1]["label"] == "negative"
    text = cli("show", X_JANE, store=store).output
    assert "2 identities" in text and text.index("Facebook dm") < text.index("X mention")  # newest first

    # One person, whatever the channel: each identity's history is the customer's.
    both = author_history.histories(store, [X_JANE, FB_JANE, FB_OTHER])
    assert both[X_JANE] == both[FB_JANE] and both[X_JANE].contacts == 2 and both[FB_OTHER].contacts == 1
    again = cli("link", FB_JANE, X_JANE, store=store)
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert len([r for r in audit_log.audit_rows(store) if r["action"] == "customer.linked"]) == 1


def test_linking_two_customers_merges_them_and_unlink_undoes_a_link(store, pipeline):
    seed(store, pipeline)
    builders.ingest(store, pipeline, [tweet("@acme hi", "101", author="7009009", handle="other")])
    assert cli("link", X_JANE, FB_JANE, store=store).exit_code == 0
    assert cli("link", "x:7009009", FB_OTHER, store=store).exit_code == 0
    assert cli("link", FB_JANE, FB_OTHER, store=store).exit_code == 0  # two customers become one
    assert customers.identity_keys(store, X_JANE) == [X_JANE, FB_JANE, FB_OTHER, "x:7009009"]
    with store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 1

    result = cli("unlink", FB_OTHER, "--by", "bob", store=store)
    assert result.exit_code == 0, result.output
    assert customers.identity_keys(store, FB_OTHER) == [FB_OTHER]
    assert customers.identity_keys(store, X_JANE) == [X_JANE, FB_JANE, "x:7009009"]
    unlinked = [r for r in audit_log.audit_rows(store) if r["action"] == "customer.unlinked"]
    assert [(r["actor_name"], r["data"]["identity"]) for r in unlinked] == [("bob", FB_OTHER)]
    assert author_history.histories(store, [FB_OTHER])[FB_OTHER].contacts == 1
    # Down to one identity, a customer is dissolved.
    assert cli("unlink", "x:7009009", store=store).exit_code == 0
    assert cli("unlink", FB_JANE, store=store).exit_code == 0
    with store.db() as db:
        assert db.execute("SELECT COUNT(*) FROM customer_identities").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0


def test_suggestions_come_from_matching_evidence_and_are_never_linked_by_themselves(store, pipeline):
    seed(store, pipeline)
    listed = cli("suggestions", "--json", store=store)
    assert json.loads(listed.output) == [{"key": FB_JANE, "other": X_JANE, "why": ["handle", "reference"]}]
    assert customers.identity_keys(store, X_JANE) == [X_JANE]  # suggested, not linked
    assert "same order or case number" in cli("show", X_JANE, store=store).output
    # The alert's author line offers it.
    row = inbox.item_by_key(store, "x:100")
    line = author_line(store, row)
    assert "may also be Facebook Jane Doe (handle named in a message, same order or case number)" in line
    # A link undone is a person's "not the same": never suggested again.
    assert cli("link", X_JANE, FB_JANE, store=store).exit_code == 0
    assert cli("unlink", FB_JANE, store=store).exit_code == 0
    assert json.loads(cli("suggestions", "--json", store=store).output) == []
    assert customers.suggestions(store, X_JANE) == []


def test_bad_input_is_refused_clearly_and_changes_nothing(store, pipeline, tmp_path):
    seed(store, pipeline)
    builders.ingest(
        store, pipeline, [tweet("@globex where is my parcel", "900", author="7005005", handle="gfan", account="globex")]
    )
    config = tmp_path / "socialwatch.toml"
    config.write_text(
        '[[replay]]\nname = "acme"\npath = "a.jsonl"\n\n[[replay]]\nname = "globex"\npath = "g.jsonl"\n\n'
        '[customers]\nbrands = { acme = ["acme"], globex = ["globex"] }\n'
    )
    before = state(store)
    cases = [
        (("link", X_JANE, "x:424242"), "unknown identity x:424242: no item from it is stored"),
        (("link", "x:@nobody", FB_JANE), "no X author with the handle @nobody"),
        (("link", "jane", FB_JANE), "'jane' is not an identity; write an identity as platform:id"),
        (("link", X_JANE, "x:@jane_d"), "are the same identity (x:7001001)"),
        (("link", X_JANE, "x:7005005"), "[customers] brands keeps these brands' customers apart"),
        (("unlink", X_JANE), "x:7001001 is not linked to another identity"),
        (("show", "facebook:0000"), "unknown identity facebook:0000"),
        (("forget", "x:424242", "--requested-by", "ticket 1", "--yes"), "unknown identity x:424242"),
        (("link", "forgotten:1", X_JANE), "stands for a forgotten customer's history"),
    ]
    for args, message in cases:
        result = cli(*args, store=store, config=config)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert state(store) == before
    # Without the brands, the same two are one brand: the link is allowed.
    assert cli("link", X_JANE, "x:7005005", store=store).exit_code == 0


def test_brands_must_name_configured_accounts_and_cover_them_all(tmp_path):
    base = '[[replay]]\nname = "acme"\npath = "a.jsonl"\n\n[[replay]]\nname = "globex"\npath = "g.jsonl"\n\n'
    for brands, message in (
        ('{ acme = ["acme", "acme-typo"], globex = ["globex"] }', "names ['acme-typo'], which no"),
        ('{ acme = ["acme"] }', "accounts ['globex'] belong to no brand"),
        ('{ acme = ["acme", "globex"], globex = ["globex"] }', "is in two brands"),
        ('{ acme = [] , globex = ["globex", "acme"]}', "lists no accounts"),
    ):
        path = tmp_path / "socialwatch.toml"
        path.write_text(base + f"[customers]\nbrands = {brands}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(path, required=True, secrets=False)
        assert message in str(caught.value) and "socialwatch.toml" in str(caught.value), str(caught.value)
    path.write_text(base + '[customers]\nbrands = { acme = ["acme"], globex = ["globex"] }\n')
    config = load_config(path, required=True, secrets=False)
    assert config.customers.brand_of("globex") == "globex" and config.customers.accounts_of("acme") == {"acme"}
    assert Config().customers.accounts_of("acme") is None  # by default every account is one brand


# --- one history -------------------------------------------------------------------------------------


def test_repeat_contact_priority_counts_contacts_on_every_linked_channel(store, pipeline):
    complaints = [tweet(f"@acme still broken, awful service {n}", f"20{n}", minutes=n) for n in range(3)]
    builders.ingest(store, pipeline, complaints)
    builders.ingest(store, pipeline, [messenger("hello", "m_0", minutes=5)], source="facebook:acme:messenger")
    after = messenger("this is terrible, nothing works and nobody answers", "m_1", minutes=90)

    def reasons() -> tuple[str, ...]:
        history = author_history.histories(store, [after.author_key])
        return pipeline.assess_batch([after], history)[0][1].reasons

    assert not any("repeat contact" in r for r in reasons())
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    assert "repeat contact: 3 earlier negative messages" in reasons()


def test_the_alert_counts_earlier_contacts_on_every_channel(store, pipeline):
    builders.ingest(
        store, pipeline, [messenger("hello, quick question about sizes", "m_0")], source="facebook:acme:messenger"
    )
    builders.ingest(store, pipeline, [tweet("@acme my parcel is lost, awful", "300", minutes=60)])
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    builders.ingest(
        store,
        pipeline,
        [messenger("still no parcel, this is a joke", "m_1", minutes=60 * 49)],
        source="facebook:acme:messenger",
    )
    row = inbox.item_by_key(store, "facebook:m_1")
    line = author_line(store, row)
    assert "2 earlier contacts: Facebook 1, X 1; last negative on X 2 days ago, not answered" in line
    first = inbox.item_by_key(store, "facebook:m_0")
    assert "first contact" in author_line(store, first)


def test_a_follow_up_on_another_channel_threads_under_the_customers_alert(store, pipeline):
    builders.ingest(store, pipeline, [messenger("hi", "m_0")], source="facebook:acme:messenger")
    builders.ingest(store, pipeline, [tweet("@acme refund please, charged twice", "400", minutes=10)], alert=True)
    parent = inbox.item_by_key(store, "x:400")
    outbox = next(a for a in alert_outbox.due_alerts(store) if a["id"] == parent["id"])
    alert_outbox.mark_alert_posted(store, outbox["outbox_id"], channel="C1", ts="1.0001")
    builders.ingest(
        store,
        pipeline,
        [messenger("any news on my refund?", "m_1", minutes=30, account="acme-page")],
        source="facebook:acme-page:messenger",
        alert=True,
    )
    child = inbox.item_by_key(store, "facebook:m_1")
    since = T0
    assert alert_outbox.thread_parent(store, child, since) is None  # two strangers until someone links them
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    found = alert_outbox.thread_parent(store, child, since)
    assert found == {"channel": "C1", "ts": "1.0001", "item_id": parent["id"]}
    assert alert_outbox.thread_parent(store, child, since, accounts={"acme", "acme-page"}) == found
    assert alert_outbox.thread_parent(store, child, since, accounts={"acme-page"}) is None  # another brand's alert


# --- forgetting --------------------------------------------------------------------------------------


def _verify(store: Store) -> Result:
    return CliRunner().invoke(main, ["audit", "verify", "--database", str(store.path)])


def test_forget_erases_every_linked_identity_and_the_audit_log_still_verifies(store, pipeline):
    seed(store, pipeline)
    store_reject(store, '{"from": {"id": "8002002", "name": "Jane Doe"}, "message": 42}')
    store_reject(store, '{"from": {"id": "1234567"}, "message": 7}')
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    x_item, fb_item = inbox.item_by_key(store, "x:100"), inbox.item_by_key(store, "facebook:m_1")
    sent = reply_outbox.queue_reply(store, x_item["id"], text="So sorry Jane, DM us", actor_id="U1", actor_name="a")
    assert reply_outbox.claim_reply(store, sent.reply["id"], now=utcnow())
    assert reply_outbox.record_reply_sent(store, sent.reply["id"], platform_reply_id="555", now=utcnow())
    waiting = reply_outbox.queue_reply(store, fb_item["id"], text="Hi Jane, on it", actor_id="U1", actor_name="a")
    assert _verify(store).exit_code == 0

    result = cli("forget", FB_JANE, "--requested-by", "DPO ticket 2026-17", "--yes", "--by", "dana", store=store)
    assert result.exit_code == 0, result.output
    assert f"forgot {FB_JANE}, {X_JANE}: 2 items" in result.output and "1 unsent replies cancelled" in result.output
    verified = _verify(store)
    assert verified.exit_code == 0, verified.output

    with store.db() as db:
        items = [dict(r) for r in db.execute("SELECT * FROM items WHERE native_id IN ('100', 'm_1')")]
        assert {(r["text"], r["author_name"], r["author_handle"], r["raw"], r["author_id"]) for r in items} == {
            ("", None, None, None, "")
        }
        assert {r["author_key"] for r in items} == {"forgotten:1"} and {r["status"] for r in items} <= {
            "dismissed",
            "replied",
        }
        replies = [dict(r) for r in db.execute("SELECT text, suggested_text, status FROM reply_outbox ORDER BY id")]
        assert replies == [
            {"text": "", "suggested_text": None, "status": "sent"},
            {"text": "", "suggested_text": None, "status": "cancelled"},
        ]
        assert [r[0] for r in db.execute("SELECT key FROM authors")] == [FB_OTHER]
        assert [r[0] for r in db.execute("SELECT payload FROM rejects")] == [
            '{"from": {"id": "1234567"}, "message": 7}'
        ]
        for table in ("customer_identities", "customers", "customer_evidence"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
        texts = " ".join(r[0] for r in db.execute("SELECT text FROM audit_content"))
    assert "Jane" not in texts and "55501234" not in texts and "7001001" not in texts
    assert waiting.reply is not None and reply_outbox.reply(store, waiting.reply["id"])["status"] == "cancelled"
    record = [r for r in audit_log.audit_rows(store) if r["action"] == "customer.forgotten"]
    assert len(record) == 1 and record[0]["actor_name"] == "dana"
    assert record[0]["data"]["requested_by"] == "DPO ticket 2026-17" and record[0]["data"]["erased_entries"]

    # `show` says so, and a new message starts a new history.
    gone = cli("show", X_JANE, store=store)
    assert gone.exit_code == 0 and "x:7001001 was forgotten on" in gone.output and "DPO ticket 2026-17" in gone.output
    assert json.loads(cli("show", FB_JANE, "--json", store=store).output)["forgotten"]["done_by"] == "dana"
    builders.ingest(store, pipeline, [tweet("@acme hello again, new order", "500", minutes=600)])
    assert author_history.histories(store, [X_JANE])[X_JANE].contacts == 1
    fresh = json.loads(cli("show", X_JANE, "--json", store=store).output)
    assert [i["native_id"] for i in fresh["items"]] == ["500"] and fresh["earlier_erasures"][0]["erasure"] == 1
    row = inbox.item_by_key(store, "x:500")
    assert "first contact" in author_line(store, row)
    again = cli("forget", FB_JANE, "--requested-by", "again", "--yes", store=store)
    assert again.exit_code == 0 and "was forgotten on" in again.output  # nothing left: says so, changes nothing
    assert _verify(store).exit_code == 0


def store_reject(store: Store, payload: str) -> None:
    inbox.ingest(store, "facebook:acme:messenger", [], None, rejects=[Reject("unreadable", payload)])


def test_forget_waits_for_a_reply_being_sent_and_changes_nothing(store, pipeline):
    seed(store, pipeline)
    x_item = inbox.item_by_key(store, "x:100")
    queued = reply_outbox.queue_reply(store, x_item["id"], text="On it, Jane", actor_id="U1", actor_name="a")
    assert reply_outbox.claim_reply(store, queued.reply["id"], now=utcnow())  # the sender is posting it right now
    before = state(store)
    result = cli("forget", X_JANE, "--requested-by", "ticket", "--yes", store=store)
    assert (
        result.exit_code == 1
        and "a reply to this customer is sending" in result.output
        and "settle it" in result.output
    )
    assert state(store) == before and inbox.item_by_key(store, "x:100")["text"].startswith("@acme order")


def test_verify_accepts_only_the_texts_an_erasure_names(store, pipeline):
    seed(store, pipeline)
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    assert cli("forget", X_JANE, "--requested-by", "ticket", "--yes", store=store).exit_code == 0
    # Someone deletes the other customer's text behind socialwatch's back: still caught.
    ed = [r["seq"] for r in audit_log.audit_rows(store, "facebook:m_9") if r["content"]]
    conn = sqlite3.connect(store.path)
    conn.execute("DELETE FROM audit_content WHERE seq = ?", [ed[0]])
    conn.commit()
    conn.close()
    result = _verify(store)
    assert result.exit_code == 1 and f"BROKEN at entry {ed[0]}" in result.output and "erasure" in result.output


def test_review_has_a_customer_view(store, pipeline):
    review = pytest.importorskip("socialwatch.compliance.review")
    if not review.available():
        pytest.skip("datasette is not installed: pip install -e '.[review]'")
    seed(store, pipeline)
    customers.link(store, X_JANE, FB_JANE, actor_id="cli:t", actor_name="t")
    ds = review.build(store.path)
    name = store.path.stem

    async def get(path: str) -> Any:
        response = await ds.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    rows = asyncio.run(get(f"/{name}/customer_history.json?_shape=array&author_key={FB_JANE}"))
    assert [(r["platform"], r["item_key"]) for r in rows] == [("facebook", "facebook:m_1"), ("x", "x:100")]
    linked = asyncio.run(get(f"/{name}/linked_customers.json?_shape=array"))
    assert [(r["identities"], r["items"]) for r in linked] == [(f"{FB_JANE}, {X_JANE}", 2)]


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


def test_an_alert_posted_while_its_customer_is_forgotten_is_queued_for_redaction(store, pipeline):
    builders.ingest(store, pipeline, [tweet("@acme refund now", "600")], alert=True)
    outbox = alert_outbox.due_alerts(store)[0]
    alert_outbox.mark_alert_attempt(store, outbox["outbox_id"])  # the dispatcher is posting it right now
    forgotten = erasure.forget_customer(store, X_JANE, requested_by="t", actor_id="cli:t", actor_name="t")
    assert forgotten.counts["unposted_alerts"] == 1 and alert_outbox.due_alerts(store) == []
    alert_outbox.mark_alert_posted(store, outbox["outbox_id"], channel="C1", ts="9.0001")  # Slack answered
    assert [(r["what"], r["channel"], r["ts"]) for r in erasure.due_redactions(store)] == [("alert", "C1", "9.0001")]
    assert alert_outbox.alert_message(store, outbox["id"]) is None  # never refreshed as a live alert
