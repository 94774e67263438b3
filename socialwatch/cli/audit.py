"""The compliance commands: `socialwatch audit verify|head|export|purge` and `socialwatch review`.

A thin shell over ``audit``, ``store.audit_log``, ``compliance.retention`` and ``compliance.review``;
``cli`` registers ``audit`` and ``review`` on the main group.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from socialwatch import audit
from socialwatch.cli.options import store_options
from socialwatch.config.load import ConfigError, load_config
from socialwatch.models import iso, parse_time
from socialwatch.ops import files
from socialwatch.store import audit_log

#: Exit status when the log could not be checked at all (no database, bad config); 1 means "broken".
CANNOT_CHECK = 2


class CannotCheck(click.ClickException):
    exit_code = CANNOT_CHECK


def _database(config_path: str | None, database: Path | None) -> Path:
    if database is None:
        try:
            database = Path(load_config(config_path, required=False).daemon.database)
        except ConfigError as exc:
            raise CannotCheck(str(exc)) from None
    if not database.is_file():
        raise CannotCheck(f"no database at {database}; has the daemon run yet? (or pass --database)")
    return database


def _store(config_path: str | None, database: Path | None, *, migrate: bool = False) -> Any:
    from socialwatch.store.db import Store

    return Store(_database(config_path, database), migrate=migrate)


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date or time; write e.g. 2026-01-31 or 2026-01-31T09:00:00Z", param_hint=option
        ) from None


@click.group("audit")
def audit_group() -> None:
    """The audit log: verify it, print its head, export it, purge old personal data."""


@audit_group.command("verify")
@store_options
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="SEQ:HASH",
    help="A head recorded earlier outside the database (`audit head`, the journal); repeatable.",
)
@click.option(
    "--slack-anchors",
    is_flag=True,
    help="Also check every head the daily digests anchored in the ops channel (needs the Slack config).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_command(
    config_path: str | None, database: Path | None, anchors: tuple[str, ...], slack_anchors: bool, as_json: bool
) -> None:
    """Recompute the audit chain and check its texts and head.

    Exit status 0 when intact; 1 when broken, naming the first bad sequence number (an altered,
    deleted, inserted or reordered entry, a cut-off tail, a changed text, a mismatch with an
    --anchor, or a log that ends before a head anchored in Slack: a cut tail or a rolled-back copy);
    2 when the log could not be checked.
    """
    try:
        parsed = [audit.Head.parse(a) for a in anchors]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None
    if slack_anchors:
        from_slack = _slack_anchors(config_path)
        if not as_json:
            newest = f", newest {from_slack[0].render()}" if from_slack else ""
            click.echo(f"{len(from_slack)} audit head(s) anchored in Slack{newest}", err=True)
        parsed += from_slack
    store = _store(config_path, database)
    result = audit_log.verify_audit(store, parsed)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "checked": result.checked,
                    "first_bad_seq": result.first_bad_seq,
                    "problem": result.problem,
                    "head": result.head.render() if result.head else None,
                    "warnings": list(result.warnings),
                }
            )
        )
    elif result.ok:
        head = f"; head {result.head.render()}" if result.head else ""
        click.echo(f"audit log intact: {result.checked} entries{head}")
    elif result.first_bad_seq is None:  # the chain holds, a table it covers does not (the reply outbox)
        click.echo(f"audit log BROKEN: {result.problem}", err=True)
    else:
        click.echo(f"audit log BROKEN at entry {result.first_bad_seq}: {result.problem}", err=True)
        if result.head:
            click.echo(f"last good entry: {result.head.render()}", err=True)
    for warning in result.warnings:
        if not as_json:
            click.echo(f"warning: {warning}", err=True)
    sys.exit(0 if result.ok else 1)


def _slack_anchors(config_path: str | None) -> list[audit.Head]:
    """The heads the digests posted to the ops channel (``reports.daily.anchor_head``)."""
    from socialwatch.alerts import slack
    from socialwatch.alerts.outbox import DeliveryError
    from socialwatch.reports import daily

    try:
        config = load_config(config_path, required=True)
    except ConfigError as exc:
        raise CannotCheck(str(exc)) from None
    if config.slack is None:
        raise CannotCheck("--slack-anchors needs a [slack] section in the config (the ops channel to read)")
    channel = daily.anchor_channel(config, config.digest.channel or config.slack.channel)
    try:
        return slack.posted_anchors(config, channel, daily.ANCHOR_EVENT)
    except DeliveryError as exc:
        raise CannotCheck(f"could not read the audit anchors in Slack channel {channel}: {exc}") from None


@audit_group.command("head")
@store_options
def head_command(config_path: str | None, database: Path | None) -> None:
    """Print the log's last entry as SEQ:HASH, to record outside the machine (see `verify --anchor`)."""
    head = audit_log.audit_head(_store(config_path, database))
    if head is None:
        raise CannotCheck("this database has no audit head yet; run `socialwatch check` to migrate it")
    click.echo(f"{head.render()} {head.ts or '-'}")


@audit_group.command("export")
@store_options
@click.option("--since", default=None, help="From this date or time (UTC, inclusive), e.g. 2026-01-01.")
@click.option("--until", default=None, help="Up to this date or time (UTC, exclusive).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.option(
    "--events", is_flag=True, help="Every audit entry (details with their texts) instead of one row per reply."
)
def export_command(
    config_path: str | None,
    database: Path | None,
    since: str | None,
    until: str | None,
    fmt: str,
    output: Path | None,
    events: bool,
) -> None:
    """Export replies (or with --events every audit entry) as CSV or JSONL.

    One row per reply: the customer's post, the suggested text, the final text, the approver,
    when it was posted, received, alerted, approved and replied, the response time and the SLA.
    Replies are selected by approval time, events by their time. Columns: docs/compliance.md.
    """
    start, end = _when(since, "--since"), _when(until, "--until")
    store = _store(config_path, database)
    columns: Sequence[str]
    if events:
        rows: Any = (audit.event_row(e) for e in audit_log.audit_events(store, start, end))
        columns = audit.EVENT_COLUMNS
    else:
        # Rows as the audit chain records them (a forged outbox or items row shows the chained values, marked
        # in chain_check), and the period judged on the chained approval time: a moved approved_at can
        # neither hide a row nor add one. Streamed, in the outbox's approval order.
        since_iso, until_iso = iso(start), iso(end)
        rows = (
            audit.reply_row(r)
            for r in audit_log.chained_reply_records(store)
            if (since_iso is None or str(r["approved_at"]) >= since_iso)
            and (until_iso is None or str(r["approved_at"]) < until_iso)
        )
        columns = audit.REPLY_COLUMNS
    # Owner-only (0600) whatever the umask: an export holds customers' words and names.
    target: Any = files.open_private(output, newline="") if output else nullcontext(sys.stdout)
    with target as out:
        count = audit.write_rows(rows, columns, fmt, out)
    if output:
        click.echo(f"{count} {'entries' if events else 'replies'} written to {output}", err=True)


@audit_group.command("purge")
@store_options
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="DAYS",
    help="Purge what is older than this many days (default: [retention] purge_texts_after_days).",
)
@click.option("--raw-only", is_flag=True, help="Drop only raw platform payloads, keep texts and names.")
def purge_command(config_path: str | None, database: Path | None, days: float | None, raw_only: bool) -> None:
    """Purge texts, names and raw payloads older than DAYS; the audit chain keeps their hashes.

    Recorded in the audit log as `retention.purged`; `audit verify` stays green afterwards.
    """
    from socialwatch.compliance import retention

    if days is None:
        try:
            config = load_config(config_path, required=False).retention
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        days = config.purge_raw_after_days if raw_only else config.purge_texts_after_days
        if not days:
            raise click.UsageError("give --older-than DAYS (no retention period is configured in [retention])")
    store = _store(config_path, database, migrate=True)
    report = retention.purge(store, days, texts=not raw_only)
    click.echo(report.render() if report.total else f"nothing older than {days:g} days to purge")


@click.command("review")
@store_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind (127.0.0.1 or ::1).")
@click.option(
    "--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one)."
)
def review_command(config_path: str | None, database: Path | None, host: str, port: int) -> None:
    """Open the database read-only in Datasette for compliance review (needs socialwatch[review]).

    Binds loopback only. Every table and column is described; canned queries: replies by
    approver, response times, edits vs suggestions, refused attempts, unanswered items, and
    the audit trail of one item. The daemon may keep running: new data shows on reload.
    """
    from socialwatch.compliance import review

    path = _database(config_path, database)
    try:
        review.check_loopback(host)
        review.serve(
            path,
            host=host,
            port=port,
            ready=lambda url: click.echo(f"Review UI (read-only) at {url}  - Ctrl+C to stop"),
        )
    except review.ReviewError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":  # `python -m socialwatch.audit_cli audit verify ...` before cli.py registers us
    cli = click.Group(commands=[audit_group, review_command])
    cli()
