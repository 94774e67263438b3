"""`socialwatch customers link|unlink|show|suggestions|forget`: one customer across channels, and erasure.

A thin shell over ``store.customers`` (links, history, suggestions), ``store.erasure`` and
``compliance.forget`` (erasure on request). Identities are written ``platform:id`` or
``platform:@handle``; every change is audited under the person running the command (``--by``).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import click

from socialwatch.cli.options import store_options
from socialwatch.config.load import ConfigError, load_config
from socialwatch.config.schema import Config
from socialwatch.models import platform_name

by_option = click.option(
    "--by",
    "by",
    default=None,
    metavar="NAME",
    help="Who is doing this, for the audit log (default: the login name, or $SUDO_USER under sudo).",
)


def _config(config_path: str | None, *, secrets: bool = False) -> Config:
    try:
        return load_config(config_path, required=False, secrets=secrets)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store(config: Config, database: Path | None) -> Any:
    from socialwatch.store.db import Store

    path = Path(database or config.daemon.database)
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; has the daemon run yet? (or pass --database)")
    return Store(path)


def _actor(by: str | None) -> tuple[str, str]:
    name = by or os.environ.get("SUDO_USER") or getpass.getuser()
    return f"cli:{name}", name


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("customers")
def customers_group() -> None:
    """One customer across channels: link identities, show a history, forget a customer.

    An identity is written platform:id (x:1234567890, facebook:5551234) or platform:@handle (x:@jane).
    """


@customers_group.command("link")
@click.argument("key")
@click.argument("other")
@store_options
@by_option
def link_command(key: str, other: str, config_path: str | None, database: Path | None, by: str | None) -> None:
    """Make KEY and OTHER one customer (their customers merge): one history, one thread in Slack.

    Refused, with nothing changed, for an unknown identity, an identity and itself, or identities
    of two brands that [customers] brands keeps apart. Audited as customer.linked.
    """
    from socialwatch.store import customers

    config = _config(config_path)
    store = _store(config, database)
    actor_id, actor_name = _actor(by)
    try:
        result = customers.link(
            store, key, other, actor_id=actor_id, actor_name=actor_name, brand_of=config.customers.brand_of
        )
    except customers.CustomerError as exc:
        raise _fail(exc) from None
    names = ", ".join(result.identities)
    if result.changed:
        click.echo(f"linked: customer {result.customer_id} is now {names}")
    else:
        click.echo(f"already one customer ({names}); nothing changed")


@customers_group.command("unlink")
@click.argument("key")
@store_options
@by_option
def unlink_command(key: str, config_path: str | None, database: Path | None, by: str | None) -> None:
    """Take KEY out of its customer; its history is its own again, and it is not suggested for the
    identities it leaves. Audited as customer.unlinked."""
    from socialwatch.store import customers

    store = _store(_config(config_path), database)
    actor_id, actor_name = _actor(by)
    try:
        left = customers.unlink(store, key, actor_id=actor_id, actor_name=actor_name)
    except customers.CustomerError as exc:
        raise _fail(exc) from None
    click.echo(f"unlinked {customers.resolve(store, key)} from {', '.join(left)}")


@customers_group.command("show")
@click.argument("key")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: identities and items.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many items (newest).")
def show_command(key: str, config_path: str | None, database: Path | None, as_json: bool, limit: int | None) -> None:
    """Print the customer behind KEY: every linked identity, and their items newest first (platform,
    kind, time, text, label, reply). Says so when the customer was forgotten."""
    from socialwatch.store import customers

    config = _config(config_path)
    store = _store(config, database)
    resolved = _resolve_or_forgotten(store, key, as_json)
    if resolved is None:
        return
    identities = customers.identities(store, resolved)
    keys = [i.key for i in identities]
    items = customers.items_of(store, keys, limit)
    suggested = customers.suggestions(store, resolved, config.customers.brand_of)
    earlier = [g for k in keys if (g := customers.forgotten(store, k))]
    if as_json:
        click.echo(json.dumps(_show_json(resolved, identities, items, suggested, earlier), ensure_ascii=False))
        return
    from socialwatch.alerts.console import terminal_line

    click.echo(f"customer {resolved}: {len(identities)} identit{'y' if len(identities) == 1 else 'ies'}")
    for identity in identities:
        linked = f" · linked {identity.linked_at} by {identity.linked_by}" if identity.linked_at else ""
        evidence = f" ({identity.evidence})" if identity.evidence else ""
        click.echo(
            f"  {terminal_line(identity.display, 80)} [{identity.key}] · {identity.contacts} contacts · "
            f"last seen {identity.last_seen or '-'}{linked}{evidence}"
        )
    for gone in earlier:
        click.echo(f"  an earlier history was forgotten on {gone['requested_at']} (erasure {gone['id']})")
    for suggestion in suggested:
        click.echo(
            f"  suggested: {suggestion.key} ({suggestion.why}): `socialwatch customers link {resolved} "
            f"{suggestion.key}` if it is the same person"
        )
    click.echo(f"items, newest first ({len(items)}):")
    for row in items:
        text = terminal_line(row["text"] or ("(erased)" if row["purged_at"] else ""), 200)
        click.echo(
            f"  {row['created_at']}  {platform_name(row['platform'])} {row['kind']}  {row['label']}  "
            f"{row['status']}  {text}"
        )
        if row["reply_status"]:
            reply, sent = terminal_line(row["reply_text"] or "", 200), row["reply_sent_at"]
            click.echo(f"      reply {row['reply_status']}{' ' + sent if sent else ''}: {reply}")


def _resolve_or_forgotten(store: Any, key: str, as_json: bool) -> str | None:
    """The author key ``key`` names; None (having said when it was forgotten) for a forgotten identity;
    a click error for anything else."""
    from socialwatch.store import customers

    try:
        return customers.resolve(store, key)
    except customers.CustomerError as exc:
        gone = customers.forgotten(store, key.strip())
        if gone is None:
            raise _fail(exc) from None
        _echo_forgotten(key.strip(), gone, as_json)
        return None


def _show_json(
    key: str, identities: list[Any], items: list[dict[str, Any]], suggested: list[Any], earlier: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "key": key,
        "forgotten": None,
        "earlier_erasures": [_erasure_json(g) for g in earlier],
        "identities": [
            {
                "key": i.key,
                "platform": i.platform,
                "platform_name": platform_name(i.platform),
                "handle": i.handle,
                "name": i.name,
                "contacts": i.contacts,
                "first_seen": i.first_seen,
                "last_seen": i.last_seen,
                "linked_at": i.linked_at,
                "linked_by": i.linked_by,
                "evidence": i.evidence,
            }
            for i in identities
        ],
        "items": [
            {
                "platform": r["platform"],
                "native_id": r["native_id"],
                "kind": r["kind"],
                "account": r["account"],
                "author_key": r["author_key"],
                "created_at": r["created_at"],
                "text": r["text"],
                "label": r["label"],
                "category": r["category"],
                "priority": r["priority"],
                "status": r["status"],
                "reply": None
                if r["reply_status"] is None
                else {"text": r["reply_text"], "status": r["reply_status"], "sent_at": r["reply_sent_at"]},
            }
            for r in items
        ],
        "suggestions": [{"key": s.key, "platform": s.platform, "why": list(s.reasons)} for s in suggested],
    }


def _erasure_json(gone: dict[str, Any]) -> dict[str, Any]:
    return {
        "erasure": gone["id"],
        "requested_at": gone["requested_at"],
        "requested_by": gone["requested_by"],
        "done_by": gone["actor_name"],
        "audit_seq": gone["audit_seq"],
    }


def _echo_forgotten(key: str, gone: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"key": key, "forgotten": _erasure_json(gone), "identities": [], "items": []}))
        return
    click.echo(
        f"{key} was forgotten on {gone['requested_at']} (erasure {gone['id']}, asked by {gone['requested_by']}, "
        f"done by {gone['actor_name']}, audit entry {gone['audit_seq']}); nothing else about it is kept"
    )


@customers_group.command("suggestions")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def suggestions_command(config_path: str | None, database: Path | None, as_json: bool) -> None:
    """List identities on two platforms that may be one customer (the same e-mail address, phone or
    order number, or a handle named in a message). Never linked until someone runs `customers link`."""
    from socialwatch.store import customers

    config = _config(config_path)
    found = customers.open_suggestions(_store(config, database), config.customers.brand_of)
    if as_json:
        click.echo(json.dumps([{"key": a, "other": b, "why": list(kinds)} for a, b, kinds in found]))
        return
    if not found:
        click.echo("no suggested links")
    for a, b, kinds in found:
        why = ", ".join(customers.EVIDENCE_WORDS.get(k, k) for k in kinds)
        click.echo(f"{a}  {b}  ({why}): socialwatch customers link {a} {b}")


@customers_group.command("forget")
@click.argument("key")
@store_options
@click.option(
    "--requested-by",
    required=True,
    metavar="TEXT",
    help="Who asked and how: a request or ticket reference (kept in the audit log for ever: no personal data).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@by_option
def forget_command(
    key: str, config_path: str | None, database: Path | None, requested_by: str, yes: bool, by: str | None
) -> None:
    """Erase the customer behind KEY (every linked identity): texts, names, links, raw payloads,
    replies' texts, rejects and the audit log's texts about them; their Slack alerts are redacted.

    Counts, times and decisions stay for the reports; `audit verify` stays green (the audit entry
    customer.forgotten names what went, who asked and who did it). A new message from the same
    identity starts a new history.
    """
    from socialwatch.compliance import forget
    from socialwatch.store import customers, erasure

    if not requested_by.strip():
        raise click.BadParameter("say who asked (a request or ticket reference)", param_hint="--requested-by")
    config = _config(config_path)
    store = _store(config, database)
    resolved = _resolve_or_forgotten(store, key, False)
    if resolved is None:  # forgotten already: said so, nothing to do
        return
    keys = customers.identity_keys(store, resolved)
    if not yes:
        count = len(customers.items_of(store, keys))
        click.confirm(
            f"Erase {count} items and everything else about {', '.join(keys)}? This cannot be undone", abort=True
        )
    actor_id, actor_name = _actor(by)
    try:
        done = erasure.forget_customer(
            store, key, requested_by=requested_by.strip(), actor_id=actor_id, actor_name=actor_name
        )
    except customers.CustomerError as exc:
        raise _fail(exc) from None
    counts = done.counts
    click.echo(
        f"forgot {', '.join(done.identities)}: {counts['items']} items, {counts['replies']} reply texts "
        f"({counts['cancelled_replies']} unsent replies cancelled), {counts['rejects']} rejects, "
        f"{counts['audit_texts']} audit texts; audit entry {done.audit_seq} (customer.forgotten)"
    )
    if counts["slack_messages"]:
        _redact(store, config_path, done.erasure_id, forget)


def _redact(store: Any, config_path: str | None, erasure_id: int, forget: Any) -> None:
    from socialwatch.store import erasure

    try:
        config = _config(config_path, secrets=True)
    except click.ClickException as exc:
        config, reason = None, str(exc)
    else:
        reason = "no [slack] section"
    if config is not None and config.slack is not None:
        from socialwatch.alerts.slack import SlackPoster, make_client

        forget.redact_in_slack(store, config, SlackPoster(make_client(config.slack, config.daemon.http_timeout)))
    left = erasure.redaction_counts(store, erasure_id)
    pending = left.get("pending", 0)
    click.echo(
        f"Slack: {left.get('done', 0)} messages redacted, {left.get('gone', 0)} no longer there"
        + (f", {pending} pending (the daemon retries them)" if pending else "")
        + ("" if config is not None and config.slack is not None else f" ({reason}: the daemon redacts them)")
    )
